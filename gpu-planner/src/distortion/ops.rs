//! Batched operators of the suffix evaluator ([`super::suffix`]): every value holds `batch`
//! images (one per patch-size hypothesis) back to back, or is shared by all of them (a value
//! computed before the switched ReLU, such as a residual shortcut).
//!
//! These are the plain float operators the model graph defines (see
//! `patchwork_core::model::Op`); the convolution runs as one im2col matrix for the whole batch
//! times the weight matrix, which is what makes batching hypotheses pay. The host's reference
//! forward is the oracle they are tested against (`tests/distortion_suffix.rs`).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use patchwork_core::model::geometry::pool_windows;
use patchwork_core::model::{Conv2d, LayerWeights, Linear, Pool2d, Resize, Shape};

/// An operator input: one buffer per hypothesis, or one buffer shared by all.
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    /// `batch * size` values, hypothesis-major.
    Batched(&'a [f32]),
    /// `size` values used by every hypothesis.
    Shared(&'a [f32]),
}

impl<'a> Val<'a> {
    /// The buffer of hypothesis `b`, `size` values long.
    pub fn get(self, b: usize, size: usize) -> &'a [f32] {
        match self {
            Val::Batched(x) => &x[b * size..(b + 1) * size],
            Val::Shared(x) => &x[..size],
        }
    }
}

/// `(channels, height, width)` of an NCHW value.
pub type Chw = (usize, usize, usize);

/// Convolution of `batch` maps. A depthwise one (one input channel per group) adds up its taps'
/// shifted planes directly ([`depthwise`]), a 1x1 one of stride 1 without padding multiplies
/// each map in place ([`pointwise`]); any other runs im2col into one `K x (batch * OH * OW)`
/// matrix per group, then one matrix product with the `C_out/g x K` weights.
pub fn conv(
    c: &Conv2d,
    wb: &LayerWeights,
    x: Val,
    batch: usize,
    input: Chw,
    output: Chw,
) -> Vec<f32> {
    let groups = c.groups.max(1);
    if groups == input.0 {
        return depthwise(c, wb, x, batch, input, output);
    }
    if groups == 1 && c.kernel == [1, 1] && c.stride == [1, 1] && c.padding == [0; 4] {
        return pointwise(wb, x, batch, input, output.0);
    }
    im2col(c, wb, x, batch, input, output)
}

/// Any convolution as im2col and one matrix product per group.
fn im2col(
    c: &Conv2d,
    wb: &LayerWeights,
    x: Val,
    batch: usize,
    input: Chw,
    output: Chw,
) -> Vec<f32> {
    let (cin, h, w) = input;
    let (cout, oh, ow) = output;
    let groups = c.groups.max(1);
    let (cin_g, cout_g) = (cin / groups, cout / groups);
    let [kh, kw] = c.kernel;
    let k = cin_g * kh * kw;
    let ohw = oh * ow;
    let mut out = vec![0.0f32; batch * cout * ohw];
    for g in 0..groups {
        let mut cols = vec![0.0f32; k * batch * ohw];
        for b in 0..batch {
            let xb = x.get(b, cin * h * w);
            for ci in 0..cin_g {
                let plane = &xb[(g * cin_g + ci) * h * w..(g * cin_g + ci + 1) * h * w];
                for ky in 0..kh {
                    for kx in 0..kw {
                        let row = (ci * kh + ky) * kw + kx;
                        let dst = &mut cols[row * batch * ohw + b * ohw..][..ohw];
                        fill_row(dst, plane, (h, w), (oh, ow), (ky, kx), c);
                    }
                }
            }
        }
        let cols = Array2::from_shape_vec((k, batch * ohw), cols)
            .unwrap_or_else(|_| unreachable!("im2col buffer has k * batch * ohw values"));
        let wg = &wb.weight[g * cout_g * k..(g + 1) * cout_g * k];
        let wg = ArrayView2::from_shape((cout_g, k), wg)
            .unwrap_or_else(|_| unreachable!("checked model: weight length"));
        let prod = wg.dot(&cols);
        for b in 0..batch {
            for o in 0..cout_g {
                let oc = g * cout_g + o;
                let bias = wb.bias[oc];
                let dst = &mut out[(b * cout + oc) * ohw..][..ohw];
                let src = prod.row(o);
                for (p, d) in dst.iter_mut().enumerate() {
                    *d = src[b * ohw + p] + bias;
                }
            }
        }
    }
    out
}

/// A convolution with one input channel per group (depthwise, any channel multiplier): each
/// output plane is its bias plus, tap by tap, the input plane under the tap times its weight.
/// An im2col matrix per group would be one row of products over a `K x (batch * OH * OW)`
/// buffer allocated per channel.
fn depthwise(
    c: &Conv2d,
    wb: &LayerWeights,
    x: Val,
    batch: usize,
    (cin, h, w): Chw,
    (cout, oh, ow): Chw,
) -> Vec<f32> {
    let per_input = cout / cin.max(1);
    let [kh, kw] = c.kernel;
    let ohw = oh * ow;
    let mut out = vec![0.0f32; batch * cout * ohw];
    let mut tap = vec![0.0f32; ohw];
    for (b, image) in out.chunks_mut(cout * ohw).enumerate() {
        let xb = x.get(b, cin * h * w);
        for (oc, dst) in image.chunks_mut(ohw).enumerate() {
            let ic = oc / per_input.max(1);
            let plane = &xb[ic * h * w..(ic + 1) * h * w];
            dst.fill(wb.bias[oc]);
            for ky in 0..kh {
                for kx in 0..kw {
                    let weight = wb.weight[(oc * kh + ky) * kw + kx];
                    tap.fill(0.0);
                    fill_row(&mut tap, plane, (h, w), (oh, ow), (ky, kx), c);
                    dst.iter_mut().zip(&tap).for_each(|(d, t)| *d += weight * t);
                }
            }
        }
    }
    out
}

/// A 1x1 convolution of stride 1 without padding: each map, a `C_in x HW` matrix as it lies,
/// times the `C_out x C_in` weights, written into the output (no im2col copy).
fn pointwise(wb: &LayerWeights, x: Val, batch: usize, (cin, h, w): Chw, cout: usize) -> Vec<f32> {
    let hw = h * w;
    let wv = ArrayView2::from_shape((cout, cin), &wb.weight)
        .unwrap_or_else(|_| unreachable!("checked model: weight length"));
    let mut out = vec![0.0f32; batch * cout * hw];
    for (b, dst) in out.chunks_mut(cout * hw).enumerate() {
        let xb = ArrayView2::from_shape((cin, hw), x.get(b, cin * hw))
            .unwrap_or_else(|_| unreachable!("a map of C_in x H x W values"));
        let mut y = ArrayViewMut2::from_shape((cout, hw), dst)
            .unwrap_or_else(|_| unreachable!("an output of C_out x H x W values"));
        general_mat_mul(1.0, &wv, &xb, 0.0, &mut y);
        for (mut row, bias) in y.rows_mut().into_iter().zip(&wb.bias) {
            row += *bias;
        }
    }
    out
}

/// One im2col row: the input pixel under kernel tap `(ky, kx)` for every output pixel.
fn fill_row(
    dst: &mut [f32],
    plane: &[f32],
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    (ky, kx): (usize, usize),
    c: &Conv2d,
) {
    // Output column `ox` reads input column `ox * sx + off`; those inside the map are `lo..hi`.
    let sx = c.stride[1].max(1);
    let off = (kx * c.dilation[1]) as isize - c.padding[1] as isize;
    let lo = if off >= 0 {
        0
    } else {
        (off.unsigned_abs()).div_ceil(sx)
    };
    let last = w as isize - 1 - off;
    let hi = if last < 0 {
        0
    } else {
        (last as usize / sx + 1).min(ow)
    };
    for oy in 0..oh {
        let iy = (oy * c.stride[0] + ky * c.dilation[0]) as isize - c.padding[0] as isize;
        if iy < 0 || iy as usize >= h || lo >= hi {
            continue;
        }
        let src = &plane[iy as usize * w..(iy as usize + 1) * w];
        let first = (lo * sx) as isize + off;
        let src = &src[first as usize..];
        let row = &mut dst[oy * ow + lo..oy * ow + hi];
        if sx == 1 {
            row.copy_from_slice(&src[..hi - lo]);
        } else {
            row.iter_mut()
                .zip(src.iter().step_by(sx))
                .for_each(|(d, s)| *d = *s);
        }
    }
}

/// Fully connected layer on `batch` rows: `Y = X W^T + b`.
pub fn linear(l: &Linear, wb: &LayerWeights, x: Val, batch: usize) -> Vec<f32> {
    let mut xs = Vec::with_capacity(batch * l.in_features);
    for b in 0..batch {
        xs.extend_from_slice(x.get(b, l.in_features));
    }
    let xs = Array2::from_shape_vec((batch, l.in_features), xs)
        .unwrap_or_else(|_| unreachable!("batch * in_features values"));
    let wv = ArrayView2::from_shape((l.out_features, l.in_features), &wb.weight)
        .unwrap_or_else(|_| unreachable!("checked model: weight length"));
    let y = xs.dot(&wv.t());
    let mut out = Vec::with_capacity(batch * l.out_features);
    for row in y.rows() {
        out.extend(row.iter().zip(&wb.bias).map(|(v, b)| v + b));
    }
    out
}

/// Average (`max = false`) or max pooling of `batch` maps, over the windows the core geometry
/// defines (shared with the reference and the secure runner).
pub fn pool(p: &Pool2d, x: Val, batch: usize, input: Chw, output: Chw, max: bool) -> Vec<f32> {
    let (c, h, w) = input;
    let (_, oh, ow) = output;
    let windows = pool_windows(p, h, w, oh, ow);
    let mut out = Vec::with_capacity(batch * c * oh * ow);
    for b in 0..batch {
        let xb = x.get(b, c * h * w);
        for plane in xb.chunks(h * w) {
            for (idx, count) in &windows {
                let v = if max {
                    idx.iter()
                        .map(|&i| plane[i])
                        .fold(f32::NEG_INFINITY, f32::max)
                } else {
                    idx.iter().map(|&i| plane[i]).sum::<f32>() / (*count).max(1) as f32
                };
                out.push(v);
            }
        }
    }
    out
}

/// Mean of every channel of `batch` maps.
pub fn global_avg_pool(x: Val, batch: usize, input: Chw) -> Vec<f32> {
    let (c, h, w) = input;
    let mut out = Vec::with_capacity(batch * c);
    for b in 0..batch {
        for plane in x.get(b, c * h * w).chunks(h * w) {
            out.push(plane.iter().sum::<f32>() / (h * w) as f32);
        }
    }
    out
}

/// Resize of `batch` maps, each as the reference resizes one (the shared resize taps).
pub fn resize(r: &Resize, x: Val, batch: usize, input: &Shape, output: &Shape) -> Vec<f32> {
    (0..batch)
        .flat_map(|b| patchwork_model::reference::resize(r, x.get(b, input.numel()), input, output))
        .collect()
}

/// Element-wise map of `batch` buffers.
pub fn map(x: Val, batch: usize, size: usize, f: impl Fn(f32) -> f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(batch * size);
    for b in 0..batch {
        out.extend(x.get(b, size).iter().map(|&v| f(v)));
    }
    out
}

/// Element-wise sum of two values of `size` elements each.
pub fn add(a: Val, b: Val, batch: usize, size: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(batch * size);
    for i in 0..batch {
        out.extend(
            a.get(i, size)
                .iter()
                .zip(b.get(i, size))
                .map(|(x, y)| x + y),
        );
    }
    out
}

/// Channel concatenation: per hypothesis, the inputs back to back.
pub fn concat(ins: &[(Val, usize)], batch: usize) -> Vec<f32> {
    let total: usize = ins.iter().map(|(_, s)| s).sum();
    let mut out = Vec::with_capacity(batch * total);
    for b in 0..batch {
        for (v, size) in ins {
            out.extend_from_slice(v.get(b, *size));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in `[-1, 1)`.
    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.5 - 1.0)
            .collect()
    }

    /// The depthwise and pointwise paths give what im2col gives, on two hypotheses (one of them
    /// shared), with strides, dilations, asymmetric padding and a channel multiplier.
    #[test]
    fn the_direct_paths_equal_im2col() {
        let cases = [
            // [cin, cout, groups, k, stride, dilation], padding
            ([6, 6, 6, 3, 1, 1], [1, 1, 1, 1]),
            ([4, 8, 4, 3, 2, 1], [1, 0, 2, 1]),
            ([5, 5, 5, 3, 1, 2], [2, 2, 2, 2]),
            ([1, 3, 1, 3, 1, 1], [1, 1, 1, 1]),
            ([6, 4, 1, 1, 1, 1], [0, 0, 0, 0]),
        ];
        for (n, ([cin, cout, groups, k, stride, dil], padding)) in cases.into_iter().enumerate() {
            let c = Conv2d {
                out_channels: cout,
                in_channels: cin,
                kernel: [k, k],
                stride: [stride; 2],
                padding,
                dilation: [dil; 2],
                groups,
            };
            let (h, w) = (7, 9);
            let oh = (h + padding[0] + padding[2] - dil * (k - 1) - 1) / stride + 1;
            let ow = (w + padding[1] + padding[3] - dil * (k - 1) - 1) / stride + 1;
            let wb = LayerWeights {
                weight: values(cout * cin / groups * k * k, n),
                bias: values(cout, n + 7),
            };
            let x = values(2 * cin * h * w, n + 3);
            for val in [Val::Batched(&x), Val::Shared(&x)] {
                let (input, output) = ((cin, h, w), (cout, oh, ow));
                let want = im2col(&c, &wb, val, 2, input, output);
                let got = conv(&c, &wb, val, 2, input, output);
                assert_eq!(got.len(), want.len());
                for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - e).abs() <= 1e-5 * (1.0 + e.abs()),
                        "case {n} [{i}]: {g} vs {e}"
                    );
                }
            }
        }
    }
}
