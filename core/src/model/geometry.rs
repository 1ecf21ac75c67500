//! Where the linear operators read from: pooling windows and resize taps. Both the float
//! reference (host) and the secure runner ([`crate::infer`]) use these, so the two can only
//! differ in arithmetic, never in which pixels they combine.

use alloc::vec::Vec;

use super::op::{CoordinateTransform, NearestRounding, Pool2d, Resize, ResizeMode};

/// The in-bounds input indices (relative to the channel, row-major) of the window of output
/// pixel `(oy, ox)` on an `h x w` map: `kernel`, `stride` and padding `[top, left, ...]`. The one
/// definition of a pooling window, for average pools here and the secure MaxPool's tree.
pub fn window(
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 4],
    (h, w): (usize, usize),
    (oy, ox): (usize, usize),
) -> Vec<usize> {
    let mut idx = Vec::with_capacity(kernel[0] * kernel[1]);
    for ky in 0..kernel[0] {
        let iy = (oy * stride[0] + ky) as isize - pad[0] as isize;
        for kx in 0..kernel[1] {
            let ix = (ox * stride[1] + kx) as isize - pad[1] as isize;
            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                idx.push(iy as usize * w + ix as usize);
            }
        }
    }
    idx
}

/// For each output pixel of one channel, in row-major order: the in-bounds input indices
/// (relative to the channel) of its pooling window and the divisor of an average pool.
pub fn pool_windows(
    p: &Pool2d,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
) -> Vec<(Vec<usize>, usize)> {
    let mut out = Vec::with_capacity(oh * ow);
    for oy in 0..oh {
        for ox in 0..ow {
            let idx = window(p.kernel, p.stride, p.padding, (h, w), (oy, ox));
            let count = if p.count_include_pad {
                padded_count(p, h, w, oy, ox)
            } else {
                idx.len()
            };
            out.push((idx, count));
        }
    }
    out
}

/// The window size clipped to the padded map (ONNX `count_include_pad = 1`).
fn padded_count(p: &Pool2d, h: usize, w: usize, oy: usize, ox: usize) -> usize {
    let span = |o: usize, s: usize, k: usize, lo: usize, hi: usize, len: usize| {
        let start = o * s;
        (start + k).min(len + lo + hi).saturating_sub(start)
    };
    span(oy, p.stride[0], p.kernel[0], p.padding[0], p.padding[2], h)
        * span(ox, p.stride[1], p.kernel[1], p.padding[1], p.padding[3], w)
}

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
    let floor = libm::floorf(x);
    let frac = x - floor;
    match r {
        NearestRounding::Floor => floor,
        NearestRounding::Ceil => libm::ceilf(x),
        NearestRounding::RoundPreferFloor if frac == 0.5 => floor,
        NearestRounding::RoundPreferCeil if frac == 0.5 => libm::ceilf(x),
        NearestRounding::RoundPreferFloor | NearestRounding::RoundPreferCeil => libm::roundf(x),
    }
}

/// Per output coordinate along `axis` (0 = height, 1 = width): the two source indices and the
/// weight of the second (0 for nearest).
pub fn resize_taps(
    r: &Resize,
    axis: usize,
    len_in: usize,
    len_out: usize,
) -> Vec<(usize, usize, f32)> {
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
                    let i0 = (libm::floorf(s) as usize).min(last);
                    let i1 = (i0 + 1).min(last);
                    (i0, i1, s - i0 as f32)
                }
            }
        })
        .collect()
}
