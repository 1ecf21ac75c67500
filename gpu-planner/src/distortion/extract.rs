//! The per-layer driver of eq. 4 (seed paper, "Knapsack Optimization"): for each calibration
//! image the unmodified forward pass runs once (`forward_all`, in `f64`); then, for every hypothesis
//! "channel `c` of this ReLU as a Block-ReLU of patch size `p`", the ReLU output is rebuilt
//! with that one channel changed and only the suffix runs, `batch` hypotheses at a time. A ReLU6
//! layer is planned the same way, its hypotheses being the Block-ReLU followed by the clamp at 6
//! (`min(BlockReLU(x), 6)`, what the secure runner computes for it).
//! Images and batches are spread over rayon's threads.
//!
//! With a base spec (`Options::base`) the network measured is the model with that spec's
//! Block-ReLUs in place: `F` is the base network and `F^{i,j}` the base network with channel `C_i`
//! switched to patch size `P_ij`. Re-measuring on a network already fine-tuned with Block-ReLUs
//! at a larger budget plans a smaller one from a closer starting point than the plain model.

use ndarray::ArrayD;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::{Model, TrainedModel};
use patchwork_core::patch::PatchSize;
use patchwork_core::spec::Spec;
use patchwork_model::reference::{block_relu_channel, forward_all, ForwardError};
use rayon::prelude::*;

use super::candidates::CandidateSides;
use super::reduce::Reducer;
use super::shard::{LayerPart, Shard, ShardFile};
use super::suffix::SuffixPlan;
use super::DistortionError;

/// The empty spec: every ReLU plain.
static PLAIN: Spec = Spec {
    layers: Vec::new(),
    calibration: None,
};

/// Settings of an extraction run.
#[derive(Clone, Copy, Debug)]
pub struct Options<'a> {
    /// Which patch sides are tried (see [`CandidateSides`]).
    pub sides: CandidateSides,
    /// Hypotheses evaluated together in one suffix pass.
    pub batch: usize,
    /// Which channels of each layer this run measures.
    pub shard: Shard,
    /// Block-ReLUs already in the network measured (empty: the plain model).
    pub base: &'a Spec,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            sides: CandidateSides::default(),
            batch: 32,
            shard: Shard::ALL,
            base: &PLAIN,
        }
    }
}

/// A layer of the model the planner measures: a ReLU or a ReLU6 ([`patchwork_core::model::Op::takes_patches`]).
#[derive(Clone, Debug)]
pub struct ReluLayer {
    /// Index in `model.nodes`.
    pub node: usize,
    /// The node's name.
    pub name: String,
    /// `(C, H, W)` of its output.
    pub chw: (usize, usize, usize),
    /// The clamp from above after the Block-ReLU (a ReLU6's 6, [`patchwork_core::model::Op::cap`]).
    pub cap: Option<f32>,
}

/// The model's ReLU and ReLU6 layers in evaluation order.
pub fn relu_layers(model: &Model) -> Result<Vec<ReluLayer>, DistortionError> {
    let mut out = Vec::new();
    for (node, n) in model.nodes.iter().enumerate() {
        if !n.op.takes_patches() {
            continue;
        }
        let chw =
            model
                .shape(n.output)
                .channels_and_map()
                .ok_or_else(|| DistortionError::ReluShape {
                    layer: n.name.clone(),
                })?;
        out.push(ReluLayer {
            node,
            name: n.name.clone(),
            chw,
            cap: n.op.cap(),
        });
    }
    if out.is_empty() {
        return Err(DistortionError::NoRelu);
    }
    Ok(out)
}

/// Units of work (hypotheses times images) of one layer, for progress bars.
pub fn layer_work(layer: &ReluLayer, opts: &Options, images: usize) -> u64 {
    let (c, h, w) = layer.chw;
    let channels = opts.shard.range(c).len();
    (channels * opts.sides.patch_sizes(h, w).len() * images) as u64
}

/// Measures `D(i, j)` for this shard's channels of one layer, averaged over `images`.
/// `progress` is called with the number of hypothesis-image pairs just finished.
pub fn extract_layer(
    trained: &TrainedModel,
    layer: &ReluLayer,
    images: &[ArrayD<f32>],
    opts: &Options,
    reducer: &dyn Reducer,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<LayerPart, DistortionError> {
    if images.is_empty() {
        return Err(DistortionError::NoImages);
    }
    let model = trained.model();
    let (c, h, w) = layer.chw;
    let patches = opts.sides.patch_sizes(h, w);
    let channels = opts.shard.range(c);
    let hyps: Vec<(usize, PatchSize)> = channels
        .clone()
        .flat_map(|ch| patches.iter().map(move |&p| (ch, p)))
        .collect();
    let plan = SuffixPlan::new(model, layer.node, opts.base)?;
    let base = ResolvedSpec::new(model, opts.base)
        .map_err(|e| DistortionError::Forward(ForwardError::Spec(e)))?;
    let batch = opts.batch.max(1);
    let per_image = images
        .par_iter()
        .map(|img| {
            let prefix = forward_all::<f64>(trained, img, &base)?;
            image_sums(
                trained, layer, &plan, &prefix, &hyps, batch, reducer, progress,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Added in image order, not in rayon's (timing-dependent) reduction tree: the table is the
    // same bit for bit whatever the thread count, and merged shards equal an unsharded run.
    let mut sums = vec![0.0f64; hyps.len()];
    for image in &per_image {
        sums.iter_mut().zip(image).for_each(|(x, y)| *x += y);
    }
    let n = images.len() as f64;
    let distortion = sums
        .chunks(patches.len())
        .map(|row| row.iter().map(|s| s / n).collect())
        .collect();
    Ok(LayerPart {
        name: layer.name.clone(),
        channels: c,
        height: h,
        width: w,
        patch_sizes: patches,
        first_channel: channels.start,
        distortion,
    })
}

/// Squared distances of every hypothesis on one image.
#[allow(clippy::too_many_arguments)]
fn image_sums(
    trained: &TrainedModel,
    layer: &ReluLayer,
    plan: &SuffixPlan,
    prefix: &[Option<Vec<f64>>],
    hyps: &[(usize, PatchSize)],
    batch: usize,
    reducer: &dyn Reducer,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<f64>, DistortionError> {
    let node = &trained.model().nodes[layer.node];
    let pre = prefix[node.inputs[0]].as_deref().unwrap_or(&[]);
    let post = prefix[node.output].as_deref().unwrap_or(&[]);
    // The output's change is measured directly: eq. 4's squared distance is its squared norm.
    let out_size = trained.model().shape(trained.model().output).numel();
    let (_, h, w) = layer.chw;
    let hw = h * w;
    let chunks: Vec<Vec<f64>> = hyps
        .par_chunks(batch)
        .map(|chunk| {
            // Per hypothesis the change of the ReLU's output: 0 but in channel `ch`, where it
            // is the Block-ReLU of patch `p` minus the unmodified output.
            let mut start = vec![0.0f32; chunk.len() * post.len()];
            let mut moved = vec![0.0f64; hw];
            for (k, &(ch, p)) in chunk.iter().enumerate() {
                let at = k * post.len() + ch * hw;
                moved.copy_from_slice(&pre[ch * hw..(ch + 1) * hw]);
                block_relu_channel(&mut moved, h, w, p, layer.cap);
                start[at..at + hw]
                    .iter_mut()
                    .zip(moved.iter().zip(&post[ch * hw..(ch + 1) * hw]))
                    .for_each(|(y, (m, b))| *y = (m - b) as f32);
            }
            let outs = plan.run(trained, prefix, start, chunk.len());
            let d = reducer.squared_norms(&outs, out_size)?;
            progress(chunk.len() as u64);
            Ok(d)
        })
        .collect::<Result<_, DistortionError>>()?;
    Ok(chunks.concat())
}

/// Runs every layer not yet in `state` (same run, resumed), calling `save(state)` after each
/// finished layer. `progress` receives finished units, see [`layer_work`].
pub fn extract_all(
    trained: &TrainedModel,
    images: &[ArrayD<f32>],
    opts: &Options,
    reducer: &dyn Reducer,
    state: &mut ShardFile,
    save: &mut dyn FnMut(&ShardFile) -> Result<(), DistortionError>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), DistortionError> {
    for layer in relu_layers(trained.model())? {
        if state.layers.iter().any(|l| l.name == layer.name) {
            continue;
        }
        let part = extract_layer(trained, &layer, images, opts, reducer, progress)?;
        state.layers.push(part);
        save(state)?;
    }
    Ok(())
}
