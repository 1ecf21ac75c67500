//! Element-wise Add, Sub, Mul and Div of a runtime value and a constant (a scalar, or one value
//! per channel): `y = scale * x + shift` per channel. Folded into the Conv or Gemm/MatMul that
//! produces the value when nothing else reads it (a bias, a scaled output); otherwise, on an
//! NCHW value (input normalisation `(x - mean) / std` on the graph input), a depthwise 1x1
//! convolution whose scale and shift are P1's weights, so the secure runner needs nothing new.

use patchwork_core::model::{Conv2d, LayerWeights, Op};

use crate::onnx::attrs::NodeCx;
use crate::onnx::error::ImportError;
use crate::onnx::import::Importer;

/// ONNX Add, Sub, Mul or Div with one constant input.
pub(super) fn affine(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&[])?;
    let ci = if imp.is_const(cx, 0) { 0 } else { 1 };
    let x = imp.runtime(cx, 1 - ci)?;
    let constant = imp.constant(cx, ci)?;
    let dims = imp.model.shape(x).0.clone();
    let channels = match dims.len() {
        4 | 2 => dims[1],
        r => {
            return Err(cx.input_err(
                1 - ci,
                format!("a constant operand needs an NCHW or [1, F] value, found rank {r}"),
            ))
        }
    };
    // The constant broadcasts over the channel axis (and the map): [C], [C, 1, 1],
    // [1, C, 1, 1], [1, C] or a scalar.
    let axis_from_end = dims.len() - 2;
    let per_channel = constant.len() == channels
        && constant
            .dims
            .iter()
            .rev()
            .enumerate()
            .all(|(i, &d)| d == 1 || (i == axis_from_end && d == channels));
    if constant.len() != 1 && !per_channel {
        return Err(cx.input_err(
            ci,
            format!(
                "dims {:?} do not broadcast as one value per channel of {channels} (or a scalar)",
                constant.dims
            ),
        ));
    }
    let c = constant.to_f32();
    let at = |k: usize| c[if c.len() == 1 { 0 } else { k }];
    let (mut scale, mut shift) = (vec![1.0f32; channels], vec![0.0f32; channels]);
    for k in 0..channels {
        let v = at(k);
        (scale[k], shift[k]) = match (cx.op(), ci) {
            ("Add", _) => (1.0, v),
            ("Sub", 1) => (1.0, -v),
            ("Sub", _) => (-1.0, v),
            ("Mul", _) => (v, 0.0),
            ("Div", 1) if v != 0.0 => (1.0 / v, 0.0),
            ("Div", 1) => return Err(cx.input_err(ci, "divides by 0")),
            _ => {
                return Err(cx.input_err(
                    ci,
                    "a constant divided by an activation is not a linear operator",
                ))
            }
        };
    }
    let producer = imp
        .sole_producer(cx, 1 - ci)
        .filter(|&i| imp.weights[i].is_some());
    if let Some(index) = producer {
        let Some(layer) = imp.weights[index].as_mut() else {
            unreachable!("filtered on Some")
        };
        let per_out = layer.weight.len() / channels.max(1);
        for (o, (s, t)) in scale.iter().zip(&shift).enumerate() {
            layer.weight[o * per_out..(o + 1) * per_out]
                .iter_mut()
                .for_each(|w| *w *= s);
            layer.bias[o] = layer.bias[o] * s + t;
        }
        return imp.alias(cx, x);
    }
    if dims.len() != 4 {
        return Err(cx.input_err(
            ci,
            "a constant operand of a [1, F] value must follow a Gemm/MatMul read by nothing else",
        ));
    }
    let op = Op::Conv(Conv2d {
        out_channels: channels,
        in_channels: channels,
        kernel: [1, 1],
        stride: [1, 1],
        padding: [0; 4],
        dilation: [1, 1],
        groups: channels,
    });
    let weights = LayerWeights {
        weight: scale,
        bias: shift,
    };
    imp.push_layer(cx, op, weights, x)
}
