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

#[cfg(test)]
mod tests {
    use super::*;
    use patchwork_core::model::{Node, Pool2d, Shape, ValueInfo};

    #[test]
    fn transforms_apply_only_when_asked_and_report() {
        let v = |n: &str| ValueInfo {
            name: n.into(),
            shape: Shape::nchw(1, 4, 4),
        };
        let pool = Pool2d {
            kernel: [1, 1],
            stride: [1, 1],
            padding: [0; 4],
            count_include_pad: true,
        };
        let mut m = Model {
            values: vec![v("x"), v("a"), v("b")],
            nodes: vec![
                Node {
                    name: "mp".into(),
                    op: Op::MaxPool(pool),
                    inputs: vec![0],
                    output: 1,
                },
                Node {
                    name: "r6".into(),
                    op: Op::Relu6,
                    inputs: vec![1],
                    output: 2,
                },
            ],
            input: 0,
            output: 2,
        };
        assert!(apply(&mut m, Transforms::default()).is_empty());
        let report = apply(
            &mut m,
            Transforms {
                maxpool_to_avgpool: true,
                relu6_to_relu: true,
            },
        );
        assert_eq!(report.len(), 2);
        assert!(report[0].contains("'mp'") && report[1].contains("'r6'"));
        assert!(matches!(m.nodes[0].op, Op::AvgPool(p) if !p.count_include_pad));
        assert_eq!(m.nodes[1].op, Op::Relu);
    }
}
