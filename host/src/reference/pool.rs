//! Average, max and global average pooling.

use patchwork_core::model::{Pool2d, Shape};

/// Calls `f(channel, oy, ox, window)` with the in-bounds input indices of each output pixel.
fn for_windows(
    p: &Pool2d,
    in_shape: &Shape,
    out_shape: &Shape,
    mut f: impl FnMut(usize, &[usize], usize),
) {
    let (c, h, w) = in_shape.chw().unwrap_or_default();
    let (_, oh, ow) = out_shape.chw().unwrap_or_default();
    let mut idx = Vec::with_capacity(p.kernel[0] * p.kernel[1]);
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                idx.clear();
                for ky in 0..p.kernel[0] {
                    let iy = (oy * p.stride[0] + ky) as isize - p.padding[0] as isize;
                    for kx in 0..p.kernel[1] {
                        let ix = (ox * p.stride[1] + kx) as isize - p.padding[1] as isize;
                        if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                            idx.push(ch * h * w + iy as usize * w + ix as usize);
                        }
                    }
                }
                f(ch, &idx, (ch * oh + oy) * ow + ox);
            }
        }
    }
}

/// Padded-window count for `count_include_pad`: the window clipped to the padded map.
fn padded_count(p: &Pool2d, h: usize, w: usize, oy: usize, ox: usize) -> usize {
    let span = |o: usize, s: usize, k: usize, pad_lo: usize, pad_hi: usize, len: usize| {
        let start = o * s;
        let end = (start + k).min(len + pad_lo + pad_hi);
        end - start
    };
    span(oy, p.stride[0], p.kernel[0], p.padding[0], p.padding[2], h)
        * span(ox, p.stride[1], p.kernel[1], p.padding[1], p.padding[3], w)
}

/// Average pooling.
pub fn avg_pool(p: &Pool2d, x: &[f32], in_shape: &Shape, out_shape: &Shape) -> Vec<f32> {
    let (_, h, w) = in_shape.chw().unwrap_or_default();
    let (_, oh, ow) = out_shape.chw().unwrap_or_default();
    let mut out = vec![0.0; out_shape.numel()];
    for_windows(p, in_shape, out_shape, |_, idx, o| {
        let sum: f32 = idx.iter().map(|&i| x[i]).sum();
        let n = if p.count_include_pad {
            padded_count(p, h, w, (o / ow) % oh, o % ow)
        } else {
            idx.len()
        };
        out[o] = if n == 0 { 0.0 } else { sum / n as f32 };
    });
    out
}

/// Max pooling (padding never wins).
pub fn max_pool(p: &Pool2d, x: &[f32], in_shape: &Shape, out_shape: &Shape) -> Vec<f32> {
    let mut out = vec![0.0; out_shape.numel()];
    for_windows(p, in_shape, out_shape, |_, idx, o| {
        out[o] = idx.iter().map(|&i| x[i]).fold(f32::NEG_INFINITY, f32::max);
    });
    out
}

/// Mean of each channel.
pub fn global_avg_pool(x: &[f32], in_shape: &Shape) -> Vec<f32> {
    let (c, h, w) = in_shape.chw().unwrap_or_default();
    let n = (h * w).max(1);
    (0..c)
        .map(|ch| x[ch * n..(ch + 1) * n].iter().sum::<f32>() / n as f32)
        .collect()
}
