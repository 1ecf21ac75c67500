//! Nearest and bilinear resize of an NCHW map (ONNX Resize semantics). Which pixels are
//! combined, and with which weights, comes from the core's shared geometry, so the secure
//! runner reads the same taps.

use patchwork_core::model::geometry::resize_taps;
use patchwork_core::model::{Real, Resize, Shape};

/// Resizes every channel from the input to the output spatial size.
pub fn resize<T: Real>(r: &Resize, x: &[T], in_shape: &Shape, out_shape: &Shape) -> Vec<T> {
    let (c, h, w) = in_shape.chw().unwrap_or_default();
    let (_, oh, ow) = out_shape.chw().unwrap_or_default();
    let ty = resize_taps(r, 0, h, oh);
    let tx = resize_taps(r, 1, w, ow);
    let mut out = vec![T::default(); c * oh * ow];
    let one = T::of(1.0);
    for ch in 0..c {
        let src = &x[ch * h * w..(ch + 1) * h * w];
        for (oy, &(y0, y1, fy)) in ty.iter().enumerate() {
            let fy = T::of(fy);
            for (ox, &(x0, x1, fx)) in tx.iter().enumerate() {
                let fx = T::of(fx);
                let top = src[y0 * w + x0] * (one - fx) + src[y0 * w + x1] * fx;
                let bottom = src[y1 * w + x0] * (one - fx) + src[y1 * w + x1] * fx;
                out[(ch * oh + oy) * ow + ox] = top * (one - fy) + bottom * fy;
            }
        }
    }
    out
}
