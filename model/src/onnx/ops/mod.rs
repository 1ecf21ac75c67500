//! Conversion of each supported ONNX operator into [`patchwork_core::model::Op`] nodes.
//!
//! Supported (default domain, opsets 7-21, tested with 13, 17 and the dynamo exporter's 20):
//! Conv, BatchNormalization (folded into the preceding Conv), Relu, Clip(0, 6), Add, and
//! Add/Sub/Mul/Div by a constant (folded, or a depthwise 1x1 Conv: input normalisation),
//! AveragePool, GlobalAveragePool, ReduceMean over H and W, MaxPool,
//! Gemm, MatMul, Flatten, Reshape, Squeeze, Unsqueeze, Concat, Resize, Upsample, Identity,
//! Dropout (inference),
//! Softmax and LogSoftmax as the last node, and
//! the constant plumbing torch emits around Reshape/Resize: Constant, Shape, Gather, Unsqueeze,
//! Squeeze, Slice, Cast, and Concat of constants. Anything else is an error naming the node.

mod affine;
mod consts;
mod layers;
mod pool;
mod resize;
mod shape_ops;

use patchwork_core::model::Op;

use super::attrs::NodeCx;
use super::error::ImportError;
use super::import::Importer;

/// Converts one ONNX node, appending to the model or recording a constant.
pub(super) fn convert(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    let domain = cx.node.domain();
    if !(domain.is_empty() || domain == "ai.onnx") {
        return Err(unsupported(imp, cx));
    }
    // Pure constant plumbing: evaluate it now.
    if consts::try_fold(imp, cx)? {
        return Ok(());
    }
    match cx.op() {
        "Conv" => layers::conv(imp, cx),
        "BatchNormalization" => layers::batch_norm(imp, cx),
        "Gemm" => layers::gemm(imp, cx),
        "MatMul" => layers::matmul(imp, cx),
        "Add" | "Sub" | "Mul" | "Div" if imp.is_const(cx, 0) || imp.is_const(cx, 1) => {
            affine::affine(imp, cx)
        }
        "Add" => layers::add(imp, cx),
        "Relu" => {
            cx.only_attrs(&[])?;
            let x = imp.runtime(cx, 0)?;
            imp.push(cx, Op::Relu, vec![x], None).map(drop)
        }
        "Clip" => pool::clip(imp, cx),
        "AveragePool" => pool::avg_pool(imp, cx),
        "MaxPool" => pool::max_pool(imp, cx),
        "ReduceMean" => pool::reduce_mean(imp, cx),
        "GlobalAveragePool" => {
            cx.only_attrs(&[])?;
            let x = imp.runtime(cx, 0)?;
            imp.push(cx, Op::GlobalAvgPool, vec![x], None).map(drop)
        }
        "Flatten" => shape_ops::flatten(imp, cx),
        "Reshape" => shape_ops::reshape(imp, cx),
        "Squeeze" | "Unsqueeze" => shape_ops::squeeze(imp, cx),
        "Concat" => shape_ops::concat(imp, cx),
        "Resize" | "Upsample" => resize::resize(imp, cx),
        "Softmax" | "LogSoftmax" => softmax(imp, cx),
        "Identity" => {
            let x = imp.runtime(cx, 0)?;
            imp.push(cx, Op::Identity, vec![x], None).map(drop)
        }
        "Dropout" => {
            if cx.int("training_mode", 0)? != 0 || !cx.input_name(2).is_empty() {
                return Err(cx.attr_err("training_mode", "inference (absent or 0)", "set"));
            }
            let x = imp.runtime(cx, 0)?;
            imp.push(cx, Op::Identity, vec![x], None).map(drop)
        }
        _ => Err(unsupported(imp, cx)),
    }
}

/// ONNX Softmax / LogSoftmax over the features of a `[1, F]` value, as the last node (the
/// model check refuses it elsewhere): P0 applies it to the revealed scores.
fn softmax(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&["axis"])?;
    let x = imp.runtime(cx, 0)?;
    let rank = imp.model.shape(x).0.len() as i64;
    let axis = cx.int("axis", if imp.opset >= 13 { -1 } else { 1 })?;
    if rank != 2 || !(axis == 1 || axis == -1) {
        return Err(cx.attr_err(
            "axis",
            "the features of a [1, F] value (1 or -1)",
            format!("{axis} of a rank-{rank} value"),
        ));
    }
    let op = if cx.op() == "Softmax" {
        Op::Softmax
    } else {
        Op::LogSoftmax
    };
    imp.push(cx, op, vec![x], None).map(drop)
}

fn unsupported(imp: &Importer, cx: &NodeCx) -> ImportError {
    ImportError::UnsupportedOp {
        path: imp.path.to_string(),
        node: cx.name.clone(),
        op: cx.op().to_string(),
        domain: cx.node.domain().to_string(),
    }
}

/// Reads `auto_pad` and `pads` of a 2-D window into `[top, left, bottom, right]`.
pub(crate) fn pads_2d(
    cx: &NodeCx,
    input_hw: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<[usize; 4], ImportError> {
    let auto_pad = cx.string("auto_pad", "NOTSET")?;
    match auto_pad.as_str() {
        "NOTSET" => {
            let p = cx.usizes("pads", 4, 0)?;
            Ok([p[0], p[1], p[2], p[3]])
        }
        "VALID" => Ok([0; 4]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut begin = [0; 2];
            let mut end = [0; 2];
            for a in 0..2 {
                let out = input_hw[a].div_ceil(stride[a].max(1));
                let window = dilation[a] * (kernel[a].max(1) - 1) + 1;
                let total =
                    ((out.saturating_sub(1)) * stride[a] + window).saturating_sub(input_hw[a]);
                let small = total / 2;
                (begin[a], end[a]) = if auto_pad == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
            }
            Ok([begin[0], begin[1], end[0], end[1]])
        }
        other => Err(cx.attr_err("auto_pad", "NOTSET, VALID, SAME_UPPER or SAME_LOWER", other)),
    }
}

/// The `[H, W]` of a runtime rank-4 input.
pub(crate) fn input_hw(
    imp: &Importer,
    cx: &NodeCx,
    value: patchwork_core::model::ValueId,
) -> Result<[usize; 2], ImportError> {
    match imp.model.shape(value).chw() {
        Some((_, h, w)) => Ok([h, w]),
        None => Err(cx.input_err(
            0,
            format!(
                "expected an NCHW tensor, found shape {}",
                imp.model.shape(value)
            ),
        )),
    }
}
