//! Average, max and global average pooling. The windows (and the divisor of an average pool)
//! come from the core's shared geometry, which the secure runner uses too.

use patchwork_core::model::geometry::pool_windows;
use patchwork_core::model::{Pool2d, Real, Shape};

/// Calls `f(window, output index)` for every output pixel with the in-bounds input indices and
/// the average-pool divisor.
fn for_windows(
    p: &Pool2d,
    in_shape: &Shape,
    out_shape: &Shape,
    mut f: impl FnMut(&[usize], usize, usize),
) {
    let (c, h, w) = in_shape.chw().unwrap_or_default();
    let (_, oh, ow) = out_shape.chw().unwrap_or_default();
    let windows = pool_windows(p, h, w, oh, ow);
    let mut idx = Vec::with_capacity(p.kernel[0] * p.kernel[1]);
    for ch in 0..c {
        for (k, (win, count)) in windows.iter().enumerate() {
            idx.clear();
            idx.extend(win.iter().map(|&i| ch * h * w + i));
            f(&idx, *count, ch * oh * ow + k);
        }
    }
}

/// Average pooling.
pub(super) fn avg_pool<T: Real>(
    p: &Pool2d,
    x: &[T],
    in_shape: &Shape,
    out_shape: &Shape,
) -> Vec<T> {
    let mut out = vec![T::default(); out_shape.numel()];
    for_windows(p, in_shape, out_shape, |idx, n, o| {
        let sum: T = idx.iter().map(|&i| x[i]).sum();
        out[o] = if n == 0 {
            T::default()
        } else {
            sum / T::of(n as f32)
        };
    });
    out
}

/// Max pooling (padding never wins).
pub(super) fn max_pool<T: Real>(
    p: &Pool2d,
    x: &[T],
    in_shape: &Shape,
    out_shape: &Shape,
) -> Vec<T> {
    let mut out = vec![T::default(); out_shape.numel()];
    for_windows(p, in_shape, out_shape, |idx, _, o| {
        out[o] = idx.iter().map(|&i| x[i]).fold(T::NEG_INFINITY, T::max);
    });
    out
}

/// Mean of each channel.
pub(super) fn global_avg_pool<T: Real>(x: &[T], in_shape: &Shape) -> Vec<T> {
    let (c, h, w) = in_shape.chw().unwrap_or_default();
    let n = (h * w).max(1);
    (0..c)
        .map(|ch| x[ch * n..(ch + 1) * n].iter().copied().sum::<T>() / T::of(n as f32))
        .collect()
}
