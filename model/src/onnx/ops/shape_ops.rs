//! Flatten, Reshape, Squeeze, Unsqueeze and Concat of runtime values (the first four only
//! change the shape).

use patchwork_core::model::{Op, Shape};

use crate::onnx::attrs::NodeCx;
use crate::onnx::error::ImportError;
use crate::onnx::import::Importer;

/// ONNX Flatten: `[d0, .., dn] -> [d0 * .. * d(axis-1), d(axis) * .. * dn]`.
pub(super) fn flatten(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&["axis"])?;
    let x = imp.runtime(cx, 0)?;
    let dims = imp.model.shape(x).0.clone();
    let rank = dims.len() as i64;
    let axis = cx.int("axis", 1)?;
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..=rank).contains(&axis) {
        return Err(cx.attr_err("axis", format!("in -{rank}..={rank}"), axis.to_string()));
    }
    let (a, b) = dims.split_at(axis as usize);
    let shape = Shape(vec![Shape(a.to_vec()).numel(), Shape(b.to_vec()).numel()]);
    imp.push(cx, Op::Reshape, vec![x], Some(shape)).map(drop)
}

/// ONNX Reshape with a constant target (0 copies a dimension, -1 is inferred).
pub(super) fn reshape(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&["allowzero"])?;
    let x = imp.runtime(cx, 0)?;
    let dims = imp.model.shape(x).0.clone();
    let target = imp.constant(cx, 1)?;
    let Some(target) = target.as_i64() else {
        return Err(cx.input_err(1, "expected an INT64 shape"));
    };
    let allow_zero = cx.int("allowzero", 0)? != 0;
    let numel = Shape(dims.clone()).numel();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            0 if !allow_zero => out.push(*dims.get(i).ok_or_else(|| {
                cx.input_err(
                    1,
                    format!("0 at position {i} has no input dimension to copy"),
                )
            })?),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            t if t >= 0 => out.push(t as usize),
            t => return Err(cx.input_err(1, format!("invalid target dimension {t} in {target:?}"))),
        }
    }
    let known = Shape(out.clone()).numel();
    if let Some(i) = infer {
        if known == 0 || numel / known * known != numel {
            return Err(cx.input_err(1, format!("cannot reshape {numel} elements to {target:?}")));
        }
        out[i] = numel / known;
    }
    if Shape(out.clone()).numel() != numel {
        return Err(cx.input_err(
            1,
            format!("cannot reshape {dims:?} ({numel} elements) to {target:?}"),
        ));
    }
    imp.push(cx, Op::Reshape, vec![x], Some(Shape(out)))
        .map(drop)
}

/// ONNX Concat of runtime NCHW values along the channel axis.
pub(super) fn concat(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&["axis"])?;
    let axis = cx.int("axis", 1)?;
    if axis != 1 && axis != -3 {
        return Err(cx.attr_err("axis", "1 (channels of NCHW)", axis.to_string()));
    }
    let inputs = (0..cx.node.input.len())
        .map(|i| imp.runtime(cx, i))
        .collect::<Result<Vec<_>, _>>()?;
    imp.push(cx, Op::Concat, inputs, None).map(drop)
}

/// The dimensions after ONNX Squeeze or Unsqueeze of `dims`, the axes from the attribute
/// (before opset 13) or the constant input 1; Squeeze without axes drops every 1.
pub(super) fn squeezed_dims(
    imp: &Importer,
    cx: &NodeCx,
    dims: &[usize],
) -> Result<Vec<usize>, ImportError> {
    let axes = match cx.ints("axes")? {
        Some(a) => a,
        None if !cx.input_name(1).is_empty() => imp
            .constant(cx, 1)?
            .as_i64()
            .map(<[i64]>::to_vec)
            .ok_or_else(|| cx.input_err(1, "expected INT64 axes"))?,
        None => vec![],
    };
    let unsqueeze = cx.op() == "Unsqueeze";
    let rank = (dims.len() + if unsqueeze { axes.len() } else { 0 }) as i64;
    let mut norm = Vec::with_capacity(axes.len());
    for &a in &axes {
        let n = if a < 0 { a + rank } else { a };
        if !(0..rank).contains(&n) {
            return Err(cx.attr_err("axes", format!("within rank {rank}"), format!("{axes:?}")));
        }
        norm.push(n as usize);
    }
    norm.sort_unstable();
    let mut out = dims.to_vec();
    if unsqueeze {
        for a in norm {
            out.insert(a, 1);
        }
    } else if norm.is_empty() {
        out.retain(|&d| d != 1);
    } else {
        for &a in norm.iter().rev() {
            if out[a] != 1 {
                return Err(cx.attr_err("axes", "axes of size 1", format!("axis {a} of {dims:?}")));
            }
            out.remove(a);
        }
    }
    Ok(out)
}

/// ONNX Squeeze or Unsqueeze of a runtime value: a reshape.
pub(super) fn squeeze(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&["axes"])?;
    let x = imp.runtime(cx, 0)?;
    let dims = squeezed_dims(imp, cx, &imp.model.shape(x).0)?;
    imp.push(cx, Op::Reshape, vec![x], Some(Shape(dims)))
        .map(drop)
}
