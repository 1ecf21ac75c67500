//! Convolution as im2col + GEMM, and the fully connected layer.

use ndarray::{ArrayView1, ArrayView2};
use patchwork_core::model::{Conv2d, LayerWeights, Linear, Shape};
use rayon::prelude::*;

use super::Float;

/// 2-D convolution of an NCHW (batch 1) map; returns the `[1, O, OH, OW]` output buffer.
pub(super) fn conv2d<T: Float>(
    c: &Conv2d,
    wb: &LayerWeights,
    x: &[T],
    in_shape: &Shape,
    out_shape: &Shape,
) -> Vec<T> {
    let (_, h, w) = in_shape.chw().unwrap_or_default();
    let (_, oh, ow) = out_shape.chw().unwrap_or_default();
    let [kh, kw] = c.kernel;
    let cg = c.in_channels / c.groups;
    let og = c.out_channels / c.groups;
    let k = cg * kh * kw;
    let n = oh * ow;
    let weight = T::weights(&wb.weight);
    let mut out = vec![T::default(); c.out_channels * n];
    out.par_chunks_mut(og * n)
        .enumerate()
        .for_each(|(g, out_g)| {
            let cols = im2col(
                c,
                &x[g * cg * h * w..(g + 1) * cg * h * w],
                cg,
                [h, w],
                [oh, ow],
            );
            let cols = ArrayView2::from_shape((k, n), &cols).expect("im2col buffer is k x n");
            let wg = ArrayView2::from_shape((og, k), &weight[g * og * k..(g + 1) * og * k])
                .expect("weight slice is og x k");
            let y = wg.dot(&cols);
            for (o, row) in y.outer_iter().enumerate() {
                let b = T::of(wb.bias[g * og + o]);
                out_g[o * n..(o + 1) * n]
                    .iter_mut()
                    .zip(row.iter())
                    .for_each(|(d, &v)| *d = v + b);
            }
        });
    out
}

/// Unfolds the `cg` input channels of one group into a `[cg*kh*kw, oh*ow]` matrix.
fn im2col<T: Float>(
    c: &Conv2d,
    x: &[T],
    cg: usize,
    [h, w]: [usize; 2],
    [oh, ow]: [usize; 2],
) -> Vec<T> {
    let [kh, kw] = c.kernel;
    let [sh, sw] = c.stride;
    let [dh, dw] = c.dilation;
    let (top, left) = (c.padding[0] as isize, c.padding[1] as isize);
    let mut cols = vec![T::default(); cg * kh * kw * oh * ow];
    for ci in 0..cg {
        for ky in 0..kh {
            for kx in 0..kw {
                let row = ((ci * kh + ky) * kw + kx) * oh * ow;
                for oy in 0..oh {
                    let iy = (oy * sh + ky * dh) as isize - top;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    let src = &x[ci * h * w + iy as usize * w..ci * h * w + (iy as usize + 1) * w];
                    let dst = &mut cols[row + oy * ow..row + (oy + 1) * ow];
                    for (ox, d) in dst.iter_mut().enumerate() {
                        let ix = (ox * sw + kx * dw) as isize - left;
                        if ix >= 0 && ix < w as isize {
                            *d = src[ix as usize];
                        }
                    }
                }
            }
        }
    }
    cols
}

/// `y = W x + b` for a `[1, in]` input.
pub(super) fn linear<T: Float>(l: &Linear, wb: &LayerWeights, x: &[T]) -> Vec<T> {
    let weight = T::weights(&wb.weight);
    let w = ArrayView2::from_shape((l.out_features, l.in_features), &weight)
        .expect("weight is out x in");
    let x = ArrayView1::from(x);
    w.dot(&x)
        .iter()
        .zip(&wb.bias)
        .map(|(&v, &b)| v + T::of(b))
        .collect()
}
