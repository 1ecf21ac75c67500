//! Layers with weights: Conv, BatchNormalization (folded into Conv), Gemm, MatMul, and Add of
//! two activations.

use patchwork_core::model::{Conv2d, LayerWeights, Linear, Op};

use super::{input_hw, pads_2d};
use crate::onnx::attrs::NodeCx;
use crate::onnx::error::ImportError;
use crate::onnx::import::Importer;

/// ONNX Conv (2-D only).
pub(super) fn conv(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&[
        "auto_pad",
        "dilations",
        "group",
        "kernel_shape",
        "pads",
        "strides",
    ])?;
    let x = imp.runtime(cx, 0)?;
    let hw = input_hw(imp, cx, x)?;
    let w = imp.constant(cx, 1)?;
    let [o, ig, kh, kw] = w.dims[..] else {
        return Err(cx.input_err(
            1,
            format!(
                "expected a 4-D weight [O, I/groups, kh, kw], found dims {:?}",
                w.dims
            ),
        ));
    };
    if let Some(k) = cx.ints("kernel_shape")? {
        if k != [kh as i64, kw as i64] {
            return Err(cx.attr_err(
                "kernel_shape",
                format!("[{kh}, {kw}] (the weight's)"),
                format!("{k:?}"),
            ));
        }
    }
    let groups = cx.int("group", 1)?;
    if groups < 1 {
        return Err(cx.attr_err("group", "at least 1", groups.to_string()));
    }
    let stride = cx.usizes("strides", 2, 1)?;
    let dilation = cx.usizes("dilations", 2, 1)?;
    let (stride, dilation) = ([stride[0], stride[1]], [dilation[0], dilation[1]]);
    let padding = pads_2d(cx, hw, [kh, kw], stride, dilation)?;
    let weight = w.to_f32();
    let bias = match imp.opt_const(cx, 2)? {
        None => vec![0.0; o],
        Some(b) if b.len() == o => b.to_f32(),
        Some(b) => {
            return Err(cx.input_err(2, format!("bias has {} values, expected {o}", b.len())))
        }
    };
    let op = Op::Conv(Conv2d {
        out_channels: o,
        in_channels: ig * groups as usize,
        kernel: [kh, kw],
        stride,
        padding,
        dilation,
        groups: groups as usize,
    });
    imp.push_layer(cx, op, LayerWeights { weight, bias }, x)
}

/// ONNX BatchNormalization (inference), folded into the Conv that produces its input.
pub(super) fn batch_norm(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&["epsilon", "momentum", "training_mode", "spatial"])?;
    if cx.int("training_mode", 0)? != 0 {
        return Err(cx.attr_err("training_mode", "0 (inference)", "1"));
    }
    if cx.int("spatial", 1)? != 1 {
        return Err(cx.attr_err("spatial", "1", "0"));
    }
    if cx.node.output.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(cx.graph_err("training outputs (running mean/var) are not supported"));
    }
    let eps = cx.float("epsilon", 1e-5)?;
    let x = imp.runtime(cx, 0)?;
    let params: Vec<Vec<f32>> = (1..5)
        .map(|i| imp.constant(cx, i).map(|t| t.to_f32()))
        .collect::<Result<_, _>>()?;
    let Some(index) = imp.sole_producer(cx, 0) else {
        return Err(cx.graph_err(
            "can only fold a BatchNormalization whose input is a Conv read by nothing else",
        ));
    };
    let (Op::Conv(_), Some(conv)) = (&imp.model.nodes[index].op, imp.weights[index].as_mut())
    else {
        return Err(cx.graph_err("can only fold a BatchNormalization that directly follows a Conv"));
    };
    let c = conv.bias.len();
    for (i, p) in params.iter().enumerate() {
        if p.len() != c {
            return Err(cx.input_err(
                i + 1,
                format!("has {} values, expected {c} (the Conv's channels)", p.len()),
            ));
        }
    }
    let (gamma, beta, mean, var) = (&params[0], &params[1], &params[2], &params[3]);
    let per_out = conv.weight.len() / c.max(1);
    for o in 0..c {
        let scale = gamma[o] / (var[o] + eps).sqrt();
        conv.weight[o * per_out..(o + 1) * per_out]
            .iter_mut()
            .for_each(|w| *w *= scale);
        conv.bias[o] = (conv.bias[o] - mean[o]) * scale + beta[o];
    }
    imp.alias(cx, x)
}

/// ONNX Gemm with a runtime `A` of shape `[1, K]` and constant `B` (and `C`).
pub(super) fn gemm(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&["alpha", "beta", "transA", "transB"])?;
    if cx.int("transA", 0)? != 0 {
        return Err(cx.attr_err("transA", "0", "1"));
    }
    let trans_b = cx.int("transB", 0)? != 0;
    let (alpha, beta) = (cx.float("alpha", 1.0)?, cx.float("beta", 1.0)?);
    let x = imp.runtime(cx, 0)?;
    let b = imp.constant(cx, 1)?;
    let [r, c] = b.dims[..] else {
        return Err(cx.input_err(1, format!("expected a 2-D weight, found dims {:?}", b.dims)));
    };
    let (k, n) = if trans_b { (c, r) } else { (r, c) };
    let data = b.to_f32();
    let mut weight = vec![0.0; n * k];
    for o in 0..n {
        for i in 0..k {
            let v = if trans_b {
                data[o * k + i]
            } else {
                data[i * n + o]
            };
            weight[o * k + i] = alpha * v;
        }
    }
    let bias = match imp.opt_const(cx, 2)? {
        None => vec![0.0; n],
        Some(t) if t.len() == n => t.to_f32().iter().map(|v| beta * v).collect(),
        Some(t) if t.len() == 1 => vec![beta * t.to_f32()[0]; n],
        Some(t) => {
            return Err(cx.input_err(
                2,
                format!("expected {n} or 1 values, found dims {:?}", t.dims),
            ))
        }
    };
    let op = Op::Linear(Linear {
        in_features: k,
        out_features: n,
    });
    imp.push_layer(cx, op, LayerWeights { weight, bias }, x)
}

/// ONNX MatMul of a runtime `[1, K]` by a constant `[K, N]`.
pub(super) fn matmul(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&[])?;
    let x = imp.runtime(cx, 0)?;
    let b = imp.constant(cx, 1)?;
    let [k, n] = b.dims[..] else {
        return Err(cx.input_err(
            1,
            format!("expected a 2-D constant [K, N], found dims {:?}", b.dims),
        ));
    };
    let data = b.to_f32();
    let mut weight = vec![0.0; n * k];
    for i in 0..k {
        for o in 0..n {
            weight[o * k + i] = data[i * n + o];
        }
    }
    let op = Op::Linear(Linear {
        in_features: k,
        out_features: n,
    });
    let bias = vec![0.0; n];
    imp.push_layer(cx, op, LayerWeights { weight, bias }, x)
}

/// ONNX Add of two runtime values of the same shape (with a constant: [`super::affine`]).
pub(super) fn add(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&[])?;
    let (a, b) = (imp.runtime(cx, 0)?, imp.runtime(cx, 1)?);
    imp.push(cx, Op::Add, vec![a, b], None).map(drop)
}
