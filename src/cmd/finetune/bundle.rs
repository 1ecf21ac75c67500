//! What `patchwork finetune` hands the PyTorch trainer, and reads back: a directory holding a
//! model's graph as Patchwork imported it (BatchNorms and constant operands folded, each
//! operator with its parameters, each ReLU and ReLU6 with its Block-ReLU patch per channel, each pooling
//! and resize with the windows, divisors and taps of the core's shared geometry), its weights as
//! `.npy` files, and data sets as `.npy` arrays already scaled and normalised by the data source.
//! The trainer builds its module from this graph alone, so it computes what `patchwork
//! reference` computes for every model Patchwork imports; `python/finetune.py` reads it.
//!
//! ```text
//! NAME.graph.json   {"input": [1, C, H, W], "nodes": [{"name", "op", "inputs", "output",
//!                   "shape", ...operator fields}], "output": value, "logits": value}
//! NAME.w<i>.npy     weight of node i (Conv: O x C/g x kh x kw; Linear: out x in), and
//! NAME.b<i>.npy     its bias
//! SPLIT.x.npy       N x C x H x W float32 images, SPLIT.y.npy N int64 labels
//! check.NAME.npy    the reference outputs of the first test images
//! config.json       the training settings
//! ```

use std::path::Path;

use patchwork_core::model::geometry::{pool_windows, resize_taps};
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::{LayerWeights, Op, TrainedModel, Weights};
use patchwork_core::patch::PatchSize;
use patchwork_model::data::npy::{encode_npy, read_npy, Npy, NpyData};
use patchwork_model::data::Dataset;
use patchwork_model::reference::forward;
use serde_json::{json, Value};

/// Images whose outputs the trainer checks against the reference before it trains.
pub const CHECK_IMAGES: usize = 8;

/// Writes `trained` as `dir/NAME.graph.json` and its weights, with the patches of `spec`.
pub fn write_model(
    dir: &Path,
    name: &str,
    trained: &TrainedModel,
    spec: &ResolvedSpec,
) -> Result<(), String> {
    let model = trained.model();
    let mut nodes = Vec::with_capacity(model.nodes.len());
    for (i, n) in model.nodes.iter().enumerate() {
        let in_shape = model.shape(n.inputs[0]);
        let out_shape = model.shape(n.output);
        let mut node = json!({"name": n.name, "op": n.op.kind(), "inputs": n.inputs,
            "output": n.output, "shape": out_shape.0});
        let (_, h, w) = in_shape.chw().unwrap_or_default();
        let (_, oh, ow) = out_shape.chw().unwrap_or_default();
        match &n.op {
            Op::Conv(c) => {
                node["kernel"] = json!(c.kernel);
                node["stride"] = json!(c.stride);
                node["padding"] = json!(c.padding);
                node["dilation"] = json!(c.dilation);
                node["groups"] = json!(c.groups);
            }
            Op::Relu | Op::Relu6 => {
                let (patches, _) = spec.layer(i).ok_or_else(|| {
                    format!("node '{}': the spec was not resolved for it", n.name)
                })?;
                node["patches"] = patches.iter().map(|&p| patch_json(p)).collect();
            }
            Op::AvgPool(p) | Op::MaxPool(p) => {
                let windows = pool_windows(p, h, w, oh, ow);
                node["kernel"] = json!(p.kernel);
                node["stride"] = json!(p.stride);
                node["padding"] = json!(p.padding);
                node["divisors"] = windows.iter().map(|(_, count)| *count).collect();
            }
            Op::Resize(r) => {
                node["taps_h"] = taps_json(&resize_taps(r, 0, h, oh));
                node["taps_w"] = taps_json(&resize_taps(r, 1, w, ow));
            }
            _ => {}
        }
        if let Some(wb) = trained.weights().layer(i) {
            let dims = match &n.op {
                Op::Conv(c) => vec![
                    c.out_channels,
                    c.in_channels / c.groups,
                    c.kernel[0],
                    c.kernel[1],
                ],
                _ => vec![wb.bias.len(), wb.weight.len() / wb.bias.len().max(1)],
            };
            write_f32(&dir.join(format!("{name}.w{i}.npy")), dims, &wb.weight)?;
            write_f32(
                &dir.join(format!("{name}.b{i}.npy")),
                vec![wb.bias.len()],
                &wb.bias,
            )?;
        }
        nodes.push(node);
    }
    // The trainer's loss reads the scores before a final Softmax or LogSoftmax.
    let last = model.nodes.last();
    let logits = match last.map(|n| n.op) {
        Some(Op::Softmax | Op::LogSoftmax) => last.map_or(model.output, |n| n.inputs[0]),
        _ => model.output,
    };
    let graph = json!({"input_value": model.input, "input": model.shape(model.input).0,
        "output": model.output, "logits": logits, "nodes": nodes});
    write(
        &dir.join(format!("{name}.graph.json")),
        graph.to_string().as_bytes(),
    )
}

/// The trainer's form of a patch size: `[h, w]`, `"identity"` or `"zero"`.
pub fn patch_json(p: PatchSize) -> Value {
    match p {
        PatchSize::Block { h, w } => json!([h, w]),
        PatchSize::Identity => json!("identity"),
        PatchSize::Zero => json!("zero"),
    }
}

fn taps_json(taps: &[(usize, usize, f32)]) -> Value {
    taps.iter().map(|&(a, b, f)| json!([a, b, f])).collect()
}

/// Writes the first `limit` images of `data` (all when `None`) and their labels as
/// `dir/SPLIT.x.npy` and `dir/SPLIT.y.npy`; returns how many.
pub fn write_dataset(
    dir: &Path,
    split: &str,
    data: &Dataset,
    limit: Option<usize>,
) -> Result<usize, String> {
    let labels = data.require_labels("finetune").map_err(|e| e.to_string())?;
    let n = limit.unwrap_or(data.len()).min(data.len());
    let per = data.channels * data.rows * data.cols;
    let mut x = Vec::with_capacity(n * per);
    for i in 0..n {
        x.extend(data.input(i).iter());
    }
    let dims = vec![n, data.channels, data.rows, data.cols];
    write_f32(&dir.join(format!("{split}.x.npy")), dims, &x)?;
    let y = Npy {
        shape: vec![n],
        data: NpyData::I64(labels[..n].iter().map(|&l| i64::from(l)).collect()),
    };
    write(&dir.join(format!("{split}.y.npy")), &encode_npy(&y))?;
    Ok(n)
}

/// `trained` with the weights the trainer wrote as `dir/NAME.w<i>.npy` and `.b<i>.npy`, each
/// checked to have the length of the weight it replaces.
pub fn read_weights(
    dir: &Path,
    name: &str,
    trained: &TrainedModel,
) -> Result<TrainedModel, String> {
    let model = trained.model();
    let mut layers = Vec::with_capacity(model.nodes.len());
    for (i, n) in model.nodes.iter().enumerate() {
        let Some(old) = trained.weights().layer(i) else {
            layers.push(None);
            continue;
        };
        let read = |kind: &str, len: usize| -> Result<Vec<f32>, String> {
            let path = dir.join(format!("{name}.{kind}{i}.npy"));
            let npy = read_npy(&path).map_err(|e| e.to_string())?;
            let NpyData::F32(v) = npy.data else {
                return Err(format!("{}: expected float32", path.display()));
            };
            if v.len() != len || v.iter().any(|x| !x.is_finite()) {
                return Err(format!(
                    "{}: node '{}' needs {len} finite values, the trainer wrote {} (finite: {})",
                    path.display(),
                    n.name,
                    v.len(),
                    v.iter().all(|x| x.is_finite())
                ));
            }
            Ok(v)
        };
        layers.push(Some(LayerWeights {
            weight: read("w", old.weight.len())?,
            bias: read("b", old.bias.len())?,
        }));
    }
    TrainedModel::new(model.clone(), Weights::new(layers)).map_err(|e| format!("{e:?}"))
}

/// `patchwork reference`'s outputs of `trained` with `spec` on the first test images (at most
/// [`CHECK_IMAGES`] of `n_test`), as `dir/check.NAME.npy`: the trainer's module must match them.
pub fn write_reference(
    dir: &Path,
    name: &str,
    trained: &TrainedModel,
    spec: &ResolvedSpec,
    test: &Dataset,
    n_test: usize,
) -> Result<(), String> {
    let k = CHECK_IMAGES.min(n_test);
    let mut values = Vec::new();
    let mut shape = vec![k];
    for i in 0..k {
        let y = forward(trained, &test.input(i), spec).map_err(|e| e.to_string())?;
        if i == 0 {
            shape.extend_from_slice(&y.shape()[1..]);
        }
        values.extend(y.iter().copied());
    }
    let npy = Npy {
        shape,
        data: NpyData::F32(values),
    };
    write(&dir.join(format!("check.{name}.npy")), &encode_npy(&npy))
}

/// The trainer's settings, `dir/config.json`: `epochs` (0: check only), `batch`, `lr`,
/// `weight_decay`, `clip`, `warmup`, `kd_alpha`, `kd_temp`, `decision_grad`, `augment`, `seed`,
/// `threads`.
pub fn write_config(dir: &Path, config: &Value) -> Result<(), String> {
    write(&dir.join("config.json"), config.to_string().as_bytes())
}

fn write_f32(path: &Path, shape: Vec<usize>, values: &[f32]) -> Result<(), String> {
    let npy = Npy {
        shape,
        data: NpyData::F32(values.to_vec()),
    };
    write(path, &encode_npy(&npy))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
