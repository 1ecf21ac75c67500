//! The suffix of the network from one ReLU on, evaluated for a batch of hypotheses.
//!
//! Eq. 4 of the seed paper needs `F^{i,j}(X)`: the network with only channel `C_i` switched to a
//! Block-ReLU. Everything before that ReLU is the same as in `F(X)`, so the prefix is computed
//! once per image (`patchwork_model::reference::forward_all`) and only the nodes that depend on
//! the ReLU's output ("tainted" nodes) are evaluated again, for all hypotheses of a batch at
//! once, as changes of the prefix's values ([`ops`]): a value not tainted (a shortcut branch
//! computed before the ReLU) has none, and the output's change is `F^{i,j}(X) - F(X)` itself,
//! without subtracting two `f32` outputs. Later ReLUs (ReLU6s) are what the base spec makes
//! them: plain, or its Block-ReLUs (followed by the clamp at 6).

use patchwork_core::model::spec_check::{relu_layer_patches, LayerPatches};
use patchwork_core::model::{Model, Op, TrainedModel, ValueId};
use patchwork_core::spec::Spec;
use patchwork_model::reference::block_relu_layer;

use super::ops::{self, Chw};
use super::DistortionError;

/// Which nodes to re-evaluate after the ReLU at node index `relu`.
#[derive(Clone, Debug)]
pub struct SuffixPlan {
    /// Value written by the switched ReLU.
    start: ValueId,
    /// Indices of the tainted nodes, in model order.
    nodes: Vec<usize>,
    /// For each tainted ReLU the base spec names: its node index and patch sizes.
    blocks: Vec<(usize, LayerPatches)>,
    /// Whether the model output depends on the ReLU at all.
    reaches_output: bool,
}

impl SuffixPlan {
    /// Plans the suffix after the ReLU node `relu` (index into `model.nodes`), later ReLUs
    /// following `base`. Fails when a tainted node's values do not have the rank its batched
    /// operator needs.
    pub fn new(model: &Model, relu: usize, base: &Spec) -> Result<Self, DistortionError> {
        let start = model.nodes[relu].output;
        let mut tainted = vec![false; model.values.len()];
        tainted[start] = true;
        let mut nodes = Vec::new();
        let mut blocks = Vec::new();
        for (index, node) in model.nodes.iter().enumerate().skip(relu + 1) {
            if !node.inputs.iter().any(|&v| tainted[v]) {
                continue;
            }
            if !node_shapes_ok(model, index) {
                return Err(DistortionError::UnsupportedOp {
                    node: node.name.clone(),
                    op: node.op.kind(),
                });
            }
            tainted[node.output] = true;
            nodes.push(index);
            if node.op.takes_patches() && base.layer(&node.name).is_some() {
                let patches = relu_layer_patches(model, index, base)
                    .map_err(|e| DistortionError::Forward(e.into()))?;
                blocks.push((index, patches));
            }
        }
        Ok(SuffixPlan {
            start,
            nodes,
            blocks,
            reaches_output: tainted[model.output],
        })
    }

    /// Runs the suffix for `batch` hypotheses on perturbations (see [`ops`]). `prefix` holds
    /// every value of the unmodified forward pass of the image, in `f64`; `start` holds `batch` changes
    /// of the ReLU's output, back to back. Returns `batch` changes of the model output, back to
    /// back: `F^{i,j}(X) - F(X)` of eq. 4 for each hypothesis.
    pub fn run(
        &self,
        trained: &TrainedModel,
        prefix: &[Option<Vec<f64>>],
        start: Vec<f32>,
        batch: usize,
    ) -> Vec<f32> {
        let model = trained.model();
        let out_size = model.shape(model.output).numel();
        if !self.reaches_output {
            return vec![0.0; batch * out_size];
        }
        let mut vals: Vec<Option<Vec<f32>>> = vec![None; model.values.len()];
        vals[self.start] = Some(start);
        for &index in &self.nodes {
            let node = &model.nodes[index];
            let change = |v: ValueId| vals[v].as_deref();
            let unmodified = |v: ValueId| prefix[v].as_deref().unwrap_or(&[]);
            let in_shape = model.shape(node.inputs[0]);
            let out_shape = model.shape(node.output);
            let size = in_shape.numel();
            let chw = |s: &patchwork_core::model::Shape| -> Chw { s.chw().unwrap_or((0, 0, 0)) };
            let d = change(node.inputs[0]).unwrap_or(&[]);
            let weight = || {
                let layer = trained.weights().layer(index);
                let layer = layer.unwrap_or_else(|| {
                    unreachable!("a trained model's Conv and Linear have weights")
                });
                layer.weight.as_slice()
            };
            let out = match &node.op {
                Op::Conv(c) => ops::conv(c, weight(), d, batch, chw(in_shape), chw(out_shape)),
                Op::Linear(l) => ops::linear(l, weight(), d, batch),
                Op::Relu | Op::Relu6 => {
                    let base = unmodified(node.inputs[0]);
                    let cap = node.op.cap();
                    match self.blocks.iter().find(|(i, _)| *i == index) {
                        Some((_, (patches, (_, h, w)))) => {
                            // The unmodified output is the prefix's (the same Block-ReLU,
                            // clamped); only the moved inputs are rectified here.
                            let mut moved: Vec<f64> = d
                                .chunks(size)
                                .flat_map(|dh| {
                                    base.iter().zip(dh).map(|(b, &dk)| b + f64::from(dk))
                                })
                                .collect();
                            for item in moved.chunks_mut(size) {
                                block_relu_layer(item, *h, *w, patches, None);
                            }
                            let outs = (unmodified(node.output), moved.as_slice());
                            ops::rectifier_change(base, d, Some(outs), cap)
                        }
                        None => ops::rectifier_change(base, d, None, cap),
                    }
                }
                Op::Reshape | Op::Identity => d.to_vec(),
                Op::Softmax | Op::LogSoftmax => ops::softmax_change(
                    unmodified(node.inputs[0]),
                    d,
                    matches!(node.op, Op::LogSoftmax),
                ),
                Op::Add => ops::add(change(node.inputs[0]), change(node.inputs[1]), batch * size),
                Op::AvgPool(p) => ops::avg_pool(p, d, batch, chw(in_shape), chw(out_shape)),
                Op::MaxPool(p) => ops::max_pool(
                    p,
                    d,
                    (unmodified(node.inputs[0]), unmodified(node.output)),
                    batch,
                    chw(in_shape),
                    chw(out_shape),
                ),
                Op::GlobalAvgPool => ops::global_avg_pool(d, batch, chw(in_shape)),
                Op::Concat => {
                    let ins: Vec<(Option<&[f32]>, usize)> = node
                        .inputs
                        .iter()
                        .map(|&v| (change(v), model.shape(v).numel()))
                        .collect();
                    ops::concat(&ins, batch)
                }
                Op::Resize(r) => ops::resize(r, d, batch, in_shape, out_shape),
            };
            vals[node.output] = Some(out);
        }
        let mut out = vals[model.output].take().unwrap_or_default();
        out.truncate(batch * out_size);
        out
    }
}

/// Whether the operator's NCHW inputs are rank 4 where the batched operator needs it.
fn node_shapes_ok(model: &Model, index: usize) -> bool {
    let node = &model.nodes[index];
    let rank4 = |v: ValueId| model.shape(v).chw().is_some();
    match node.op {
        Op::Conv(_) | Op::AvgPool(_) | Op::MaxPool(_) => {
            rank4(node.inputs[0]) && rank4(node.output)
        }
        Op::GlobalAvgPool => rank4(node.inputs[0]),
        Op::Resize(_) => rank4(node.inputs[0]) && rank4(node.output),
        _ => true,
    }
}
