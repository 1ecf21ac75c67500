//! Nearest and bilinear resize of an NCHW map (ONNX Resize semantics).

use patchwork_core::model::{CoordinateTransform, NearestRounding, Resize, ResizeMode, Shape};

/// The input coordinate of output coordinate `o` along one axis.
fn source(t: CoordinateTransform, o: usize, scale: f32, len_in: usize, len_out: usize) -> f32 {
    let o = o as f32;
    match t {
        CoordinateTransform::HalfPixel => (o + 0.5) / scale - 0.5,
        CoordinateTransform::PytorchHalfPixel if len_out > 1 => (o + 0.5) / scale - 0.5,
        CoordinateTransform::PytorchHalfPixel => 0.0,
        CoordinateTransform::AlignCorners if len_out > 1 => {
            o * (len_in as f32 - 1.0) / (len_out as f32 - 1.0)
        }
        CoordinateTransform::AlignCorners => 0.0,
        CoordinateTransform::Asymmetric => o / scale,
    }
}

fn round(r: NearestRounding, x: f32) -> f32 {
    let frac = x - x.floor();
    match r {
        NearestRounding::Floor => x.floor(),
        NearestRounding::Ceil => x.ceil(),
        NearestRounding::RoundPreferFloor if frac == 0.5 => x.floor(),
        NearestRounding::RoundPreferCeil if frac == 0.5 => x.ceil(),
        NearestRounding::RoundPreferFloor | NearestRounding::RoundPreferCeil => x.round(),
    }
}

/// Per output coordinate: the two source indices and the weight of the second.
fn taps(r: &Resize, axis: usize, len_in: usize, len_out: usize) -> Vec<(usize, usize, f32)> {
    let last = len_in.saturating_sub(1);
    (0..len_out)
        .map(|o| {
            let s = source(r.transform, o, r.scale[axis], len_in, len_out);
            match r.mode {
                ResizeMode::Nearest(rounding) => {
                    let i = (round(rounding, s).max(0.0) as usize).min(last);
                    (i, i, 0.0)
                }
                ResizeMode::Bilinear => {
                    let s = s.clamp(0.0, last as f32);
                    let i0 = (s.floor() as usize).min(last);
                    let i1 = (i0 + 1).min(last);
                    (i0, i1, s - i0 as f32)
                }
            }
        })
        .collect()
}

/// Resizes every channel from the input to the output spatial size.
pub fn resize(r: &Resize, x: &[f32], in_shape: &Shape, out_shape: &Shape) -> Vec<f32> {
    let (c, h, w) = in_shape.chw().unwrap_or_default();
    let (_, oh, ow) = out_shape.chw().unwrap_or_default();
    let ty = taps(r, 0, h, oh);
    let tx = taps(r, 1, w, ow);
    let mut out = vec![0.0; c * oh * ow];
    for ch in 0..c {
        let src = &x[ch * h * w..(ch + 1) * h * w];
        for (oy, &(y0, y1, fy)) in ty.iter().enumerate() {
            for (ox, &(x0, x1, fx)) in tx.iter().enumerate() {
                let top = src[y0 * w + x0] * (1.0 - fx) + src[y0 * w + x1] * fx;
                let bottom = src[y1 * w + x0] * (1.0 - fx) + src[y1 * w + x1] * fx;
                out[(ch * oh + oy) * ow + ox] = top * (1.0 - fy) + bottom * fy;
            }
        }
    }
    out
}
