//! Opt-in model transforms that make a model cheaper under secure inference. Each returns a
//! report line per node it changed, so the caller can show exactly what was applied.

use patchwork_core::model::{Model, Op};

/// Which transforms to apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transforms {
    /// Replace every MaxPool by an AvgPool with the same window (padding not counted).
    pub maxpool_to_avgpool: bool,
    /// Replace every ReLU6 (Clip(0, 6)) by a ReLU.
    pub relu6_to_relu: bool,
}

/// Applies the selected transforms in place; returns one line per changed node.
pub fn apply(model: &mut Model, t: Transforms) -> Vec<String> {
    let mut report = Vec::new();
    for node in &mut model.nodes {
        match node.op {
            Op::MaxPool(p) if t.maxpool_to_avgpool => {
                let mut p = p;
                p.count_include_pad = false;
                node.op = Op::AvgPool(p);
                report.push(format!(
                    "node '{}': MaxPool -> AvgPool (kernel {:?}, stride {:?}, padding {:?}, padding not counted)",
                    node.name, p.kernel, p.stride, p.padding
                ));
            }
            Op::Relu6 if t.relu6_to_relu => {
                node.op = Op::Relu;
                report.push(format!("node '{}': ReLU6 -> ReLU", node.name));
            }
            _ => {}
        }
    }
    report
}
