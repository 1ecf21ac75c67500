//! The linear operators of a model on shares: every party applies them to its own share with
//! no communication (P2's zero shares stay zero). Multiplications by public fractions leave
//! `2f` fractional bits; the runner truncates them as the session's settings say.

use alloc::vec;
use alloc::vec::Vec;

use crate::fixed_point::FixedPoint;
use crate::model::geometry::{pool_windows, resize_taps};
use crate::model::{Pool2d, Resize};

/// Multiplies each share by the public fraction `weights[k]` (encoded with `fp`): `2f` bits.
fn scale(fp: FixedPoint, x: &[u64], weights: impl Iterator<Item = f32>) -> Vec<u64> {
    x.iter()
        .zip(weights)
        .map(|(v, w)| v.wrapping_mul(fp.encode(w).unwrap_or(0)))
        .collect()
}

/// Average pooling of a `c x h x w` map to `oh x ow` (`2f` fractional bits).
pub fn avg_pool(
    fp: FixedPoint,
    p: &Pool2d,
    x: &[u64],
    (c, h, w): (usize, usize, usize),
    oh: usize,
    ow: usize,
) -> Vec<u64> {
    let windows = pool_windows(p, h, w, oh, ow);
    let mut sums = Vec::with_capacity(c * oh * ow);
    let mut weights = Vec::with_capacity(c * oh * ow);
    for ch in 0..c {
        let plane = &x[ch * h * w..(ch + 1) * h * w];
        for (idx, count) in &windows {
            sums.push(idx.iter().fold(0u64, |a, &i| a.wrapping_add(plane[i])));
            weights.push(if *count == 0 {
                0.0
            } else {
                1.0 / *count as f32
            });
        }
    }
    scale(fp, &sums, weights.into_iter())
}

/// Mean over each channel of a `c x hw` map (`2f` fractional bits).
pub fn global_avg_pool(fp: FixedPoint, x: &[u64], c: usize, hw: usize) -> Vec<u64> {
    let sums: Vec<u64> = (0..c)
        .map(|ch| {
            x[ch * hw..(ch + 1) * hw]
                .iter()
                .fold(0u64, |a, v| a.wrapping_add(*v))
        })
        .collect();
    scale(fp, &sums, core::iter::repeat(1.0 / hw.max(1) as f32))
}

/// Nearest or bilinear resize of a `c x h x w` map to `oh x ow`. Nearest is a gather (exact,
/// `f` fractional bits); bilinear combines four taps with public weights (`2f` bits).
pub fn resize(
    fp: FixedPoint,
    r: &Resize,
    x: &[u64],
    (c, h, w): (usize, usize, usize),
    oh: usize,
    ow: usize,
) -> Vec<u64> {
    let ty = resize_taps(r, 0, h, oh);
    let tx = resize_taps(r, 1, w, ow);
    let nearest = r.is_nearest();
    let mut out = vec![0u64; c * oh * ow];
    for ch in 0..c {
        let src = &x[ch * h * w..(ch + 1) * h * w];
        for (oy, &(y0, y1, fy)) in ty.iter().enumerate() {
            for (ox, &(x0, x1, fx)) in tx.iter().enumerate() {
                let o = (ch * oh + oy) * ow + ox;
                if nearest {
                    out[o] = src[y0 * w + x0];
                    continue;
                }
                let taps = [
                    (y0 * w + x0, (1.0 - fy) * (1.0 - fx)),
                    (y0 * w + x1, (1.0 - fy) * fx),
                    (y1 * w + x0, fy * (1.0 - fx)),
                    (y1 * w + x1, fy * fx),
                ];
                out[o] = taps.iter().fold(0u64, |a, &(i, wt)| {
                    a.wrapping_add(src[i].wrapping_mul(fp.encode(wt).unwrap_or(0)))
                });
            }
        }
    }
    out
}
