//! Rust source for a model's architecture and a Block-ReLU spec.
//!
//! The emitted code builds a [`patchwork_core::model::Model`], the public architecture: the
//! firmware (P0) needs the shapes but never the weights, which are P1's secret and not part of
//! a `Model`. Nothing but shapes and public hyper-parameters is written.

use std::fmt::Write;

use patchwork_core::model::{Model, Op, Pool2d, ResizeMode};
use patchwork_core::spec::Spec;

/// The `Pool2d { .. }` literal.
fn pool(p: &Pool2d) -> String {
    format!(
        "Pool2d {{ kernel: {:?}, stride: {:?}, padding: {:?}, count_include_pad: {} }}",
        p.kernel, p.stride, p.padding, p.count_include_pad
    )
}

/// The `Op::..` expression of one node.
fn op(op: &Op) -> String {
    match op {
        Op::Conv(c) => format!(
            "Op::Conv(Conv2d {{ out_channels: {}, in_channels: {}, kernel: {:?}, stride: {:?}, \
             padding: {:?}, dilation: {:?}, groups: {} }})",
            c.out_channels, c.in_channels, c.kernel, c.stride, c.padding, c.dilation, c.groups,
        ),
        Op::Linear(l) => format!(
            "Op::Linear(Linear {{ in_features: {}, out_features: {} }})",
            l.in_features, l.out_features,
        ),
        Op::AvgPool(p) => format!("Op::AvgPool({})", pool(p)),
        Op::MaxPool(p) => format!("Op::MaxPool({})", pool(p)),
        Op::Resize(r) => {
            let mode = match r.mode {
                ResizeMode::Nearest(n) => format!("ResizeMode::Nearest(NearestRounding::{n:?})"),
                ResizeMode::Bilinear => "ResizeMode::Bilinear".to_string(),
            };
            format!(
                "Op::Resize(Resize {{ mode: {mode}, transform: CoordinateTransform::{:?}, \
                 scale: [{:?}, {:?}] }})",
                r.transform, r.scale[0], r.scale[1]
            )
        }
        other => format!("Op::{}", other.kind()),
    }
}

/// `pub fn model() -> Model` building the architecture.
pub(crate) fn model_fn(model: &Model) -> String {
    let mut s = String::new();
    s.push_str("/// The model's architecture (P1 holds the weights).\n");
    s.push_str("pub fn model() -> Model {\n    let values = vec![\n");
    for v in &model.values {
        let _ = writeln!(
            s,
            "        ValueInfo {{ name: {:?}.into(), shape: Shape(vec!{:?}) }},",
            v.name, v.shape.0
        );
    }
    s.push_str("    ];\n    let nodes = vec![\n");
    for n in &model.nodes {
        let _ = writeln!(
            s,
            "        Node {{ name: {:?}.into(), op: {}, inputs: vec!{:?}, output: {} }},",
            n.name,
            op(&n.op),
            n.inputs,
            n.output
        );
    }
    let _ = write!(
        s,
        "    ];\n    Model {{ values, nodes, input: {}, output: {} }}\n}}\n",
        model.input, model.output
    );
    s
}

/// `pub const SPEC: &[(&str, &[[u32; 2]])]`: each layer's name and per-channel patch sizes.
pub(crate) fn spec_const(spec: &Spec) -> String {
    let mut s = String::new();
    s.push_str("/// The Block-ReLU spec: ReLU node name and `[ph, pw]` per channel.\n");
    s.push_str("pub const SPEC: &[(&str, &[[u32; 2]])] = &[\n");
    for layer in &spec.layers {
        let pairs: Vec<String> = layer
            .patch_sizes
            .iter()
            .map(|p| format!("{:?}", p.to_pair()))
            .collect();
        let _ = writeln!(s, "    ({:?}, &[{}]),", layer.name, pairs.join(", "));
    }
    s.push_str("];\n");
    s
}

/// `IMAGE` (row-major bytes; the input is `byte / 255`) and `LABEL`.
pub(crate) fn image_consts(pixels: &[u8], label: u32) -> String {
    let bytes: Vec<String> = pixels.iter().map(|b| b.to_string()).collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "/// The test image's pixels, row-major; the model input is `pixel / 255`."
    );
    let _ = writeln!(s, "pub const IMAGE: [u8; {}] = [", pixels.len());
    for chunk in bytes.chunks(28) {
        let _ = writeln!(s, "    {},", chunk.join(", "));
    }
    let _ = writeln!(s, "];");
    let _ = writeln!(s, "/// The image's label in the data set.");
    let _ = writeln!(s, "pub const LABEL: u8 = {label};");
    s
}
