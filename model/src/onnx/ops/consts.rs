//! Constant folding of the shape plumbing torch emits (Constant, Shape, Gather, Unsqueeze,
//! Squeeze, Slice, Cast, Concat, Identity, and Add/Sub/Mul/Div of constants, which the
//! dynamo exporter writes for sizes computed from a symbolic input) when all data inputs are
//! known at import time.

use crate::onnx::attrs::NodeCx;
use crate::onnx::error::ImportError;
use crate::onnx::import::Importer;
use crate::onnx::tensor::{decode, ConstData, ConstTensor};

/// Folds the node if it is constant plumbing; returns whether it did.
pub(super) fn try_fold(imp: &mut Importer, cx: &NodeCx) -> Result<bool, ImportError> {
    let all_const = !cx.node.input.is_empty()
        && cx
            .node
            .input
            .iter()
            .all(|i| i.is_empty() || imp.consts.contains_key(i));
    let t = match cx.op() {
        "Constant" => constant(cx)?,
        "Shape" => shape(imp, cx)?,
        "Gather" if all_const => gather(imp, cx)?,
        "Unsqueeze" | "Squeeze" if all_const => squeeze(imp, cx)?,
        "Slice" if all_const => slice(imp, cx)?,
        "Cast" if all_const => cast(imp, cx)?,
        "Concat" if all_const => concat(imp, cx)?,
        "Add" | "Sub" | "Mul" | "Div" if all_const => arithmetic(imp, cx)?,
        "Reshape" if all_const => reshape(imp, cx)?,
        "Identity" if all_const => imp.constant(cx, 0)?.clone(),
        _ => return Ok(false),
    };
    imp.set_const(cx, t)?;
    Ok(true)
}

fn ints(imp: &Importer, cx: &NodeCx, index: usize) -> Result<Vec<i64>, ImportError> {
    imp.constant(cx, index)?
        .as_i64()
        .map(<[i64]>::to_vec)
        .ok_or_else(|| cx.input_err(index, "expected integer data"))
}

fn constant(cx: &NodeCx) -> Result<ConstTensor, ImportError> {
    if let Some(t) = cx.tensor("value")? {
        return decode(t, None).map_err(|d| cx.attr_err("value", "a supported tensor", d));
    }
    if let Some(v) = cx.ints("value_ints")? {
        return Ok(ConstTensor {
            dims: vec![v.len()],
            data: ConstData::I64(v),
        });
    }
    let i = cx.int("value_int", i64::MIN)?;
    if i != i64::MIN {
        return Ok(ConstTensor {
            dims: vec![],
            data: ConstData::I64(vec![i]),
        });
    }
    Err(cx.attr_err("value", "a tensor, value_ints or value_int", "none of them"))
}

/// Element-wise arithmetic of two constants of the same length, or of one with a scalar;
/// integers stay integers (division truncates, as ONNX's does).
fn arithmetic(imp: &Importer, cx: &NodeCx) -> Result<ConstTensor, ImportError> {
    cx.only_attrs(&[])?;
    let (a, b) = (imp.constant(cx, 0)?, imp.constant(cx, 1)?);
    let (n, dims) = match (a.len(), b.len()) {
        (x, y) if x == y => (x, a.dims.clone()),
        (x, 1) => (x, a.dims.clone()),
        (1, y) => (y, b.dims.clone()),
        (x, y) => {
            return Err(cx.input_err(
                1,
                format!("{y} values cannot combine with {x} (same length or a scalar)"),
            ))
        }
    };
    let pick = |v: usize, i: usize| if v == 1 { 0 } else { i };
    let op = cx.op();
    let data = match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => {
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                let (p, q) = (x[pick(x.len(), i)], y[pick(y.len(), i)]);
                out.push(
                    match op {
                        "Add" => p.checked_add(q),
                        "Sub" => p.checked_sub(q),
                        "Mul" => p.checked_mul(q),
                        _ => p.checked_div(q),
                    }
                    .ok_or_else(|| {
                        cx.input_err(1, format!("{op} of {p} and {q} overflows or divides by 0"))
                    })?,
                );
            }
            ConstData::I64(out)
        }
        _ => {
            let (x, y) = (a.to_f32(), b.to_f32());
            ConstData::F32(
                (0..n)
                    .map(|i| {
                        let (p, q) = (x[pick(x.len(), i)], y[pick(y.len(), i)]);
                        match op {
                            "Add" => p + q,
                            "Sub" => p - q,
                            "Mul" => p * q,
                            _ => p / q,
                        }
                    })
                    .collect(),
            )
        }
    };
    Ok(ConstTensor { dims, data })
}

/// ONNX Reshape of a constant (`-1` inferred, `0` copies the input's dimension).
fn reshape(imp: &Importer, cx: &NodeCx) -> Result<ConstTensor, ImportError> {
    cx.only_attrs(&["allowzero"])?;
    let t = imp.constant(cx, 0)?.clone();
    let target = ints(imp, cx, 1)?;
    let known: i64 = target
        .iter()
        .enumerate()
        .map(|(i, &d)| match d {
            0 => t.dims.get(i).map_or(1, |&v| v as i64),
            -1 => 1,
            d => d,
        })
        .product();
    let dims = target
        .iter()
        .enumerate()
        .map(|(i, &d)| match d {
            0 => Ok(t.dims.get(i).copied().unwrap_or(1)),
            -1 if known > 0 => Ok(t.len() / known as usize),
            d if d > 0 => Ok(d as usize),
            d => Err(cx.input_err(1, format!("invalid target dimension {d} in {target:?}"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if dims.iter().product::<usize>() != t.len() {
        return Err(cx.input_err(
            1,
            format!("cannot reshape {} values to {target:?}", t.len()),
        ));
    }
    Ok(ConstTensor { dims, data: t.data })
}

/// ONNX Shape, with the `start`/`end` slice of opset 15 (negative from the end, clamped).
fn shape(imp: &Importer, cx: &NodeCx) -> Result<ConstTensor, ImportError> {
    cx.only_attrs(&["start", "end"])?;
    let dims: Vec<i64> = if imp.is_const(cx, 0) {
        imp.constant(cx, 0)?
            .dims
            .iter()
            .map(|&d| d as i64)
            .collect()
    } else {
        let x = imp.runtime(cx, 0)?;
        imp.model.shape(x).0.iter().map(|&d| d as i64).collect()
    };
    let rank = dims.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
    let (start, end) = (clamp(cx.int("start", 0)?), clamp(cx.int("end", rank)?));
    let dims = dims[start..end.max(start)].to_vec();
    Ok(ConstTensor {
        dims: vec![dims.len()],
        data: ConstData::I64(dims),
    })
}

fn gather(imp: &Importer, cx: &NodeCx) -> Result<ConstTensor, ImportError> {
    if cx.int("axis", 0)? != 0 {
        return Err(cx.attr_err(
            "axis",
            "0 (constant folding)",
            cx.int("axis", 0)?.to_string(),
        ));
    }
    let data = ints(imp, cx, 0)?;
    let indices = imp.constant(cx, 1)?;
    let idx = indices
        .as_i64()
        .ok_or_else(|| cx.input_err(1, "expected integer indices"))?;
    let n = data.len() as i64;
    let mut out = Vec::with_capacity(idx.len());
    for &i in idx {
        let j = if i < 0 { i + n } else { i };
        if !(0..n).contains(&j) {
            return Err(cx.input_err(1, format!("index {i} out of range for {n} values")));
        }
        out.push(data[j as usize]);
    }
    Ok(ConstTensor {
        dims: indices.dims.clone(),
        data: ConstData::I64(out),
    })
}

fn squeeze(imp: &Importer, cx: &NodeCx) -> Result<ConstTensor, ImportError> {
    let t = imp.constant(cx, 0)?.clone();
    let dims = super::shape_ops::squeezed_dims(imp, cx, &t.dims)?;
    Ok(ConstTensor { dims, data: t.data })
}

fn slice(imp: &Importer, cx: &NodeCx) -> Result<ConstTensor, ImportError> {
    let data = ints(imp, cx, 0)?;
    let t = imp.constant(cx, 0)?;
    if t.dims.len() != 1 || !cx.input_name(3).is_empty() && ints(imp, cx, 3)? != [0] {
        return Err(cx.input_err(0, "constant folding supports Slice of a 1-D tensor only"));
    }
    let n = data.len() as i64;
    let step = if cx.input_name(4).is_empty() {
        1
    } else {
        ints(imp, cx, 4)?.first().copied().unwrap_or(1)
    };
    if step != 1 {
        return Err(cx.input_err(4, format!("constant folding supports step 1, found {step}")));
    }
    let clamp = |v: i64| (if v < 0 { v + n } else { v }).clamp(0, n) as usize;
    let start = clamp(ints(imp, cx, 1)?.first().copied().unwrap_or(0));
    let end = clamp(ints(imp, cx, 2)?.first().copied().unwrap_or(n));
    let out: Vec<i64> = data.get(start..end.max(start)).unwrap_or(&[]).to_vec();
    Ok(ConstTensor {
        dims: vec![out.len()],
        data: ConstData::I64(out),
    })
}

fn cast(imp: &Importer, cx: &NodeCx) -> Result<ConstTensor, ImportError> {
    let t = imp.constant(cx, 0)?;
    let data = match cx.int("to", 0)? {
        1 | 11 => ConstData::F32(t.to_f32()),
        6 | 7 => match &t.data {
            ConstData::I64(v) => ConstData::I64(v.clone()),
            ConstData::F32(v) => ConstData::I64(v.iter().map(|&x| x as i64).collect()),
        },
        other => {
            return Err(cx.attr_err(
                "to",
                "FLOAT (1), DOUBLE (11), INT32 (6) or INT64 (7)",
                other.to_string(),
            ))
        }
    };
    Ok(ConstTensor {
        dims: t.dims.clone(),
        data,
    })
}

fn concat(imp: &Importer, cx: &NodeCx) -> Result<ConstTensor, ImportError> {
    let mut out = Vec::new();
    for i in 0..cx.node.input.len() {
        let t = imp.constant(cx, i)?;
        if t.dims.len() > 1 {
            return Err(cx.input_err(i, "constant folding supports Concat of 1-D tensors only"));
        }
        match &t.data {
            ConstData::I64(v) => out.extend(v.iter().map(|&x| x as f64)),
            ConstData::F32(v) => out.extend(v.iter().map(|&x| x as f64)),
        }
    }
    let any_float = (0..cx.node.input.len())
        .any(|i| matches!(imp.consts[cx.input_name(i)].data, ConstData::F32(_)));
    let data = if any_float {
        ConstData::F32(out.iter().map(|&x| x as f32).collect())
    } else {
        ConstData::I64(out.iter().map(|&x| x as i64).collect())
    };
    Ok(ConstTensor {
        dims: vec![out.len()],
        data,
    })
}
