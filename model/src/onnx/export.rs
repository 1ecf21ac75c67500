//! Writes a [`TrainedModel`] as an ONNX file (opset 13) that [`super::load_model`] imports back
//! into the same model: the same node and value names (so a Block-ReLU spec and its calibrated
//! windows name the same layers), the same shapes, and the weights as initializers. BatchNorms
//! and constant operands were folded at import, so the file holds the folded layers. This is
//! how `patchwork finetune` writes a fine-tuned network.

use patchwork_core::model::{
    CoordinateTransform, NearestRounding, Node, Op, ResizeMode, Shape, TrainedModel,
};
use prost::Message;

use super::build::{int, int64_tensor, ints, node, string, tensor, value};
use super::generated::{AttributeProto, GraphProto, ModelProto, OperatorSetIdProto, TensorProto};

/// The opset the exporter writes.
pub const EXPORT_OPSET: i64 = 13;

/// Why a model could not be written; names the node.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A node that ONNX cannot express as the importer would read it back.
    #[error("node '{node}' ({op}): {reason}")]
    Node {
        /// The node's name.
        node: String,
        /// Its operator.
        op: &'static str,
        /// What cannot be written.
        reason: String,
    },
}

/// The ONNX bytes of `trained` (see the module).
pub fn export_model(trained: &TrainedModel) -> Result<Vec<u8>, ExportError> {
    let model = trained.model();
    let name = |v: usize| model.values[v].name.as_str();
    let dims = |s: &Shape| s.0.iter().map(|&d| d as i64).collect::<Vec<_>>();
    let mut nodes = Vec::with_capacity(model.nodes.len());
    let mut initializer = Vec::new();
    for (index, n) in model.nodes.iter().enumerate() {
        let inputs: Vec<&str> = n.inputs.iter().map(|&v| name(v)).collect();
        let out = name(n.output);
        let in_shape = model.shape(n.inputs[0]);
        let out_shape = model.shape(n.output);
        let mut with = |extra: Vec<TensorProto>| -> Vec<String> {
            let names = extra.iter().map(|t| t.name().to_string()).collect();
            initializer.extend(extra);
            names
        };
        let weighted = |what: &str| {
            trained
                .weights()
                .layer(index)
                .ok_or_else(|| missing(n, what))
        };
        let proto = match &n.op {
            Op::Conv(c) => {
                let wb = weighted("weights")?;
                let shape = [
                    c.out_channels as i64,
                    (c.in_channels / c.groups) as i64,
                    c.kernel[0] as i64,
                    c.kernel[1] as i64,
                ];
                let names = with(vec![
                    tensor(&format!("{}::weight", n.name), &shape, wb.weight.clone()),
                    tensor(&format!("{}::bias", n.name), &[shape[0]], wb.bias.clone()),
                ]);
                let attrs = vec![
                    ints("kernel_shape", &to_i64(&c.kernel)),
                    ints("strides", &to_i64(&c.stride)),
                    ints("pads", &to_i64(&c.padding)),
                    ints("dilations", &to_i64(&c.dilation)),
                    int("group", c.groups as i64),
                ];
                node(
                    "Conv",
                    &n.name,
                    &[inputs[0], &names[0], &names[1]],
                    out,
                    attrs,
                )
            }
            Op::Linear(l) => {
                let wb = weighted("weights")?;
                let names = with(vec![
                    tensor(
                        &format!("{}::weight", n.name),
                        &[l.out_features as i64, l.in_features as i64],
                        wb.weight.clone(),
                    ),
                    tensor(
                        &format!("{}::bias", n.name),
                        &[l.out_features as i64],
                        wb.bias.clone(),
                    ),
                ]);
                let attrs = vec![int("transB", 1)];
                node(
                    "Gemm",
                    &n.name,
                    &[inputs[0], &names[0], &names[1]],
                    out,
                    attrs,
                )
            }
            Op::Relu => node("Relu", &n.name, &inputs, out, vec![]),
            Op::Relu6 => {
                let names = with(vec![
                    tensor(&format!("{}::min", n.name), &[], vec![0.0]),
                    tensor(&format!("{}::max", n.name), &[], vec![6.0]),
                ]);
                node(
                    "Clip",
                    &n.name,
                    &[inputs[0], &names[0], &names[1]],
                    out,
                    vec![],
                )
            }
            Op::Add => node("Add", &n.name, &inputs, out, vec![]),
            Op::AvgPool(p) | Op::MaxPool(p) => {
                let mut attrs = vec![
                    ints("kernel_shape", &to_i64(&p.kernel)),
                    ints("strides", &to_i64(&p.stride)),
                    ints("pads", &to_i64(&p.padding)),
                ];
                let op = if let Op::AvgPool(_) = n.op {
                    attrs.push(int("count_include_pad", i64::from(p.count_include_pad)));
                    "AveragePool"
                } else {
                    "MaxPool"
                };
                node(op, &n.name, &inputs, out, attrs)
            }
            Op::GlobalAvgPool => node("GlobalAveragePool", &n.name, &inputs, out, vec![]),
            Op::Reshape => {
                let names = with(vec![int64_tensor(
                    &format!("{}::shape", n.name),
                    dims(out_shape),
                )]);
                node("Reshape", &n.name, &[inputs[0], &names[0]], out, vec![])
            }
            Op::Concat => node("Concat", &n.name, &inputs, out, vec![int("axis", 1)]),
            Op::Resize(r) => {
                let sizes = dims(out_shape);
                let from_scales = [2, 3]
                    .map(|a| (in_shape.0[a] as f32 * r.scale[a - 2]).floor() as i64 == sizes[a]);
                if !from_scales.iter().all(|&b| b) {
                    return Err(ExportError::Node {
                        node: n.name.clone(),
                        op: n.op.kind(),
                        reason: format!(
                            "scales {:?} of the input {in_shape} do not give the output {out_shape}",
                            r.scale
                        ),
                    });
                }
                let names = with(vec![tensor(
                    &format!("{}::scales", n.name),
                    &[4],
                    vec![1.0, 1.0, r.scale[0], r.scale[1]],
                )]);
                node(
                    "Resize",
                    &n.name,
                    &[inputs[0], "", &names[0]],
                    out,
                    resize_attrs(r.mode, r.transform),
                )
            }
            Op::Identity => node("Identity", &n.name, &inputs, out, vec![]),
            Op::Softmax => node("Softmax", &n.name, &inputs, out, vec![int("axis", 1)]),
            Op::LogSoftmax => node("LogSoftmax", &n.name, &inputs, out, vec![int("axis", 1)]),
        };
        nodes.push(proto);
    }
    let proto = ModelProto {
        ir_version: Some(8),
        producer_name: Some("patchwork".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(EXPORT_OPSET),
        }],
        graph: Some(GraphProto {
            name: Some("patchwork".into()),
            node: nodes,
            initializer,
            input: vec![value(name(model.input), &dims(model.shape(model.input)))],
            output: vec![value(name(model.output), &dims(model.shape(model.output)))],
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(proto.encode_to_vec())
}

fn to_i64(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

fn missing(n: &Node, what: &str) -> ExportError {
    ExportError::Node {
        node: n.name.clone(),
        op: n.op.kind(),
        reason: format!("no {what}"),
    }
}

/// The Resize attributes that import back as `mode` and `transform`.
fn resize_attrs(mode: ResizeMode, transform: CoordinateTransform) -> Vec<AttributeProto> {
    let ct = match transform {
        CoordinateTransform::HalfPixel => "half_pixel",
        CoordinateTransform::PytorchHalfPixel => "pytorch_half_pixel",
        CoordinateTransform::AlignCorners => "align_corners",
        CoordinateTransform::Asymmetric => "asymmetric",
    };
    let mut attrs = vec![string("coordinate_transformation_mode", ct)];
    match mode {
        ResizeMode::Bilinear => attrs.push(string("mode", "linear")),
        ResizeMode::Nearest(r) => {
            attrs.push(string("mode", "nearest"));
            let nearest = match r {
                NearestRounding::RoundPreferFloor => "round_prefer_floor",
                NearestRounding::RoundPreferCeil => "round_prefer_ceil",
                NearestRounding::Floor => "floor",
                NearestRounding::Ceil => "ceil",
            };
            attrs.push(string("nearest_mode", nearest));
        }
    }
    attrs
}
