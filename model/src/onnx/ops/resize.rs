//! ONNX Resize (opset 10+) and Upsample (opset 7-9) on the two spatial axes.

use patchwork_core::model::{CoordinateTransform, NearestRounding, Op, Resize, ResizeMode, Shape};

use super::input_hw;
use crate::onnx::attrs::NodeCx;
use crate::onnx::error::ImportError;
use crate::onnx::import::Importer;

/// Converts Resize/Upsample into [`Op::Resize`], computing the output shape.
pub(super) fn resize(imp: &mut Importer, cx: &NodeCx) -> Result<(), ImportError> {
    cx.only_attrs(&[
        "mode",
        "coordinate_transformation_mode",
        "nearest_mode",
        "cubic_coeff_a",
        "exclude_outside",
        "extrapolation_value",
        "antialias",
        "keep_aspect_ratio_policy",
        "scales",
        "axes",
    ])?;
    let x = imp.runtime(cx, 0)?;
    let [h, w] = input_hw(imp, cx, x)?;
    let (n, c) = {
        let s = &imp.model.shape(x).0;
        (s[0], s[1])
    };
    let upsample = cx.op() == "Upsample";
    let mode = match cx.string("mode", "nearest")?.as_str() {
        "nearest" => {
            let r = match cx.string("nearest_mode", "round_prefer_floor")?.as_str() {
                _ if upsample => NearestRounding::Floor,
                "round_prefer_floor" => NearestRounding::RoundPreferFloor,
                "round_prefer_ceil" => NearestRounding::RoundPreferCeil,
                "floor" => NearestRounding::Floor,
                "ceil" => NearestRounding::Ceil,
                other => {
                    return Err(cx.attr_err(
                        "nearest_mode",
                        "round_prefer_floor, round_prefer_ceil, floor or ceil",
                        other,
                    ))
                }
            };
            ResizeMode::Nearest(r)
        }
        "linear" | "bilinear" => ResizeMode::Bilinear,
        other => return Err(cx.attr_err("mode", "nearest or linear", other)),
    };
    let transform = if upsample {
        CoordinateTransform::Asymmetric
    } else {
        match cx
            .string("coordinate_transformation_mode", "half_pixel")?
            .as_str()
        {
            "half_pixel" => CoordinateTransform::HalfPixel,
            "pytorch_half_pixel" => CoordinateTransform::PytorchHalfPixel,
            "align_corners" => CoordinateTransform::AlignCorners,
            "asymmetric" => CoordinateTransform::Asymmetric,
            other => {
                return Err(cx.attr_err(
                    "coordinate_transformation_mode",
                    "half_pixel, pytorch_half_pixel, align_corners or asymmetric",
                    other,
                ))
            }
        }
    };
    if cx.int("exclude_outside", 0)? != 0 {
        return Err(cx.attr_err("exclude_outside", "0", "1"));
    }
    if cx.int("antialias", 0)? != 0 {
        return Err(cx.attr_err("antialias", "0", "1"));
    }
    if cx.ints("axes")?.is_some() {
        return Err(cx.attr_err("axes", "absent (all axes)", "present"));
    }
    // Scales: Upsample input 1 (opset 9) or attribute (opset 7); Resize input 2 (opset 11+) or
    // input 1 (opset 10); sizes: Resize input 3.
    let scales_index = if upsample || imp.opset == 10 { 1 } else { 2 };
    let mut scales = match imp.opt_const(cx, scales_index)? {
        Some(t) if !t.is_empty() => Some((scales_index, t.to_f32())),
        _ => None,
    };
    if scales.is_none() {
        if let Some(a) = cx.node.attribute.iter().find(|a| a.name() == "scales") {
            scales = Some((usize::MAX, a.floats.clone()));
        }
    }
    let sizes = if upsample {
        None
    } else {
        imp.opt_const(cx, 3)?
            .filter(|t| !t.is_empty())
            .map(|t| t.to_f32())
    };
    let (out_hw, scale) = match (scales, sizes) {
        (Some((i, s)), None) => {
            if s.len() != 4 || s[0] != 1.0 || s[1] != 1.0 || s[2] <= 0.0 || s[3] <= 0.0 {
                let e = format!("expected 4 scales [1, 1, sh, sw] with sh, sw > 0, found {s:?}");
                return Err(if i == usize::MAX {
                    cx.attr_err("scales", "[1, 1, sh, sw]", format!("{s:?}"))
                } else {
                    cx.input_err(i, e)
                });
            }
            let oh = (h as f32 * s[2]).floor() as usize;
            let ow = (w as f32 * s[3]).floor() as usize;
            ([oh, ow], [s[2], s[3]])
        }
        (None, Some(s)) => {
            if s.len() != 4 || s[0] != n as f32 || s[1] != c as f32 || s[2] < 1.0 || s[3] < 1.0 {
                return Err(cx.input_err(
                    3,
                    format!("expected sizes [{n}, {c}, H, W] with H, W >= 1, found {s:?}"),
                ));
            }
            let (oh, ow) = (s[2] as usize, s[3] as usize);
            ([oh, ow], [oh as f32 / h as f32, ow as f32 / w as f32])
        }
        (Some(_), Some(_)) => return Err(cx.graph_err("both scales and sizes are given")),
        (None, None) => return Err(cx.graph_err("neither scales nor sizes is given")),
    };
    if out_hw[0] == 0 || out_hw[1] == 0 {
        return Err(cx.graph_err(&format!("output size {out_hw:?} is empty")));
    }
    let op = Op::Resize(Resize {
        mode,
        transform,
        scale,
    });
    imp.push(
        cx,
        op,
        vec![x],
        Some(Shape(vec![n, c, out_hw[0], out_hw[1]])),
    )
    .map(drop)
}
