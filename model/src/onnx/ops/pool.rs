//! Pooling (AveragePool, MaxPool, ReduceMean over the map) and Clip(0, 6).

use patchwork_core::model::{Op, Pool2d, Shape};

use super::{input_hw, pads_2d};
use crate::onnx::attrs::NodeCx;
use crate::onnx::error::ImportError;
use crate::onnx::import::Importer;

/// Reads kernel, strides and pads of a pooling node; `ceil_mode` must be 0.
fn window(imp: &Importer, cx: &NodeCx, x: usize) -> Result<Pool2d, ImportError> {
    let hw = input_hw(imp, cx, x)?;
    let k = cx
        .ints("kernel_shape")?
        .ok_or_else(|| cx.attr_err("kernel_shape", "2 positive integers", "absent"))?;
    let [kh, kw] = k[..] else {
        return Err(cx.attr_err("kernel_shape", "2 positive integers", format!("{k:?}")));
    };
    if kh < 1 || kw < 1 {
        return Err(cx.attr_err("kernel_shape", "2 positive integers", format!("{k:?}")));
    }
    let kernel = [kh as usize, kw as usize];
    if cx.int("ceil_mode", 0)? != 0 {
        return Err(cx.attr_err("ceil_mode", "0", "1"));
    }
    let s = cx.usizes("strides", 2, 1)?;
    let stride = [s[0], s[1]];
    if let Some(d) = cx.ints("dilations")? {
        if d.iter().any(|&v| v != 1) {
            return Err(cx.attr_err("dilations", "all 1", format!("{d:?}")));
        }
    }
    let padding = pads_2d(cx, hw, kernel, stride, [1, 1])?;
    Ok(Pool2d {
        kernel,
        stride,
        padding,
        count_include_pad: false,
    })
}

/// ONNX AveragePool.
pub(super) fn avg_pool(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&[
        "auto_pad",
        "ceil_mode",
        "count_include_pad",
        "dilations",
        "kernel_shape",
        "pads",
        "strides",
    ])?;
    let x = imp.runtime(cx, 0)?;
    let mut p = window(imp, cx, x)?;
    p.count_include_pad = cx.int("count_include_pad", 0)? != 0;
    imp.push(cx, Op::AvgPool(p), vec![x], None).map(drop)
}

/// ONNX MaxPool (no indices output).
pub(super) fn max_pool(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&[
        "auto_pad",
        "ceil_mode",
        "dilations",
        "kernel_shape",
        "pads",
        "storage_order",
        "strides",
    ])?;
    if cx.node.output.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(cx.graph_err("the Indices output of MaxPool is not supported"));
    }
    let x = imp.runtime(cx, 0)?;
    let p = window(imp, cx, x)?;
    imp.push(cx, Op::MaxPool(p), vec![x], None).map(drop)
}

/// ONNX Clip with min 0 and max 6 (ReLU6); bounds from inputs (opset 11+) or attributes.
pub(super) fn clip(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&["min", "max"])?;
    let x = imp.runtime(cx, 0)?;
    let bound = |index: usize, attr: &str| -> Result<Option<f32>, ImportError> {
        if imp.opset >= 11 {
            match imp.opt_const(cx, index)? {
                None => Ok(None),
                Some(t) if t.len() == 1 => Ok(Some(t.to_f32()[0])),
                Some(t) => {
                    Err(cx.input_err(index, format!("expected a scalar, found dims {:?}", t.dims)))
                }
            }
        } else {
            Ok(Some(cx.float(
                attr,
                if attr == "min" { f32::MIN } else { f32::MAX },
            )?))
        }
    };
    let (lo, hi) = (bound(1, "min")?, bound(2, "max")?);
    if lo != Some(0.0) || hi != Some(6.0) {
        return Err(cx.attr_err("min/max", "0 and 6 (ReLU6)", format!("{lo:?} and {hi:?}")));
    }
    imp.push(cx, Op::Relu6, vec![x], None).map(drop)
}

/// ONNX ReduceMean over the two spatial axes of an NCHW value (what adaptive average pooling to
/// 1x1 exports as): a global average pool, then a reshape to `[N, C]` when `keepdims` is 0.
/// The axes are an attribute before opset 18 and a constant input from 18 on.
pub(super) fn reduce_mean(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&["axes", "keepdims", "noop_with_empty_axes"])?;
    let x = imp.runtime(cx, 0)?;
    let dims = imp.model.shape(x).0.clone();
    let axes: Vec<i64> = if imp.opset >= 18 {
        match imp.opt_const(cx, 1)? {
            Some(t) => t
                .as_i64()
                .ok_or_else(|| cx.input_err(1, "expected INT64 axes"))?
                .to_vec(),
            None => Vec::new(),
        }
    } else {
        cx.ints("axes")?.unwrap_or_default()
    };
    let rank = dims.len() as i64;
    let mut spatial: Vec<i64> = axes
        .iter()
        .map(|&a| if a < 0 { a + rank } else { a })
        .collect();
    spatial.sort_unstable();
    if rank != 4 || spatial != [2, 3] {
        return Err(cx.attr_err(
            "axes",
            "the two spatial axes [2, 3] of an NCHW value",
            format!("{axes:?} of a rank-{rank} value"),
        ));
    }
    if cx.int("keepdims", 1)? != 0 {
        return imp.push(cx, Op::GlobalAvgPool, vec![x], None).map(drop);
    }
    let pooled = imp.push_step(cx, "pool", Op::GlobalAvgPool, vec![x])?;
    let shape = Shape(dims[..2].to_vec());
    imp.push(cx, Op::Reshape, vec![pooled], Some(shape))
        .map(drop)
}
