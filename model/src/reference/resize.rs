//! Nearest and bilinear resize of an NCHW map (ONNX Resize semantics). Which pixels are
//! combined, and with which weights, comes from the core's shared geometry, so the secure
//! runner reads the same taps.

use patchwork_core::model::geometry::resize_taps;
use patchwork_core::model::{Resize, Shape};

/// Resizes every channel from the input to the output spatial size.
pub fn resize(r: &Resize, x: &[f32], in_shape: &Shape, out_shape: &Shape) -> Vec<f32> {
    let (c, h, w) = in_shape.chw().unwrap_or_default();
    let (_, oh, ow) = out_shape.chw().unwrap_or_default();
    let ty = resize_taps(r, 0, h, oh);
    let tx = resize_taps(r, 1, w, ow);
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
