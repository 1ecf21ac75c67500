//! Batched operators of the suffix evaluator ([`super::suffix`]) on *perturbations*: every
//! buffer holds, for `batch` hypotheses back to back, the difference between a value of the
//! network with the hypothesis' Block-ReLU and the same value of the unmodified network (its
//! prefix forward pass). A value the switched ReLU does not reach has no perturbation.
//!
//! Linear operators (convolution and linear layer without their bias, average pooling, resize,
//! concatenation, addition) map perturbations to perturbations; the others (the rectifiers, max
//! pooling, softmax) read the unmodified value (of the prefix pass, in `f64`) beside the
//! perturbation and return the change of their output, computed in `f64` so that its rounding
//! error is relative to the change itself, not to the activation, and carries no rounding of
//! the unmodified values (on a deep network those alone would move small distortions by more
//! than 1e-5). Eq. 4's `||F^{i,j}(X) - F(X)||^2` is then the squared norm of the output
//! perturbation, free of the cancellation of subtracting two nearly equal `f32` outputs.
//! The convolution runs as one im2col matrix for the whole batch times the weight matrix, which
//! is what makes batching hypotheses pay. The host's reference forward is the oracle they are
//! tested against (`tests/distortion_suffix.rs`, and in `f64` `tests/distortion_f64.rs`).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use patchwork_core::model::geometry::pool_windows;
use patchwork_core::model::{Conv2d, Linear, Pool2d, Resize, Shape};

/// `(channels, height, width)` of an NCHW value.
pub type Chw = (usize, usize, usize);

/// Convolution without its bias (the bias cancels in a perturbation) of `batch` maps. A
/// depthwise one (one input channel per group) adds up its taps' shifted planes directly
/// ([`depthwise`]), a 1x1 one of stride 1 without padding multiplies each map in place
/// ([`pointwise`]); any other runs im2col into one `K x (batch * OH * OW)` matrix per group,
/// then one matrix product with the `C_out/g x K` weights.
pub fn conv(
    c: &Conv2d,
    weight: &[f32],
    x: &[f32],
    batch: usize,
    input: Chw,
    output: Chw,
) -> Vec<f32> {
    let groups = c.groups.max(1);
    if groups == input.0 {
        return depthwise(c, weight, x, batch, input, output);
    }
    if groups == 1 && c.kernel == [1, 1] && c.stride == [1, 1] && c.padding == [0; 4] {
        return pointwise(weight, x, batch, input, output.0);
    }
    im2col(c, weight, x, batch, input, output)
}

/// Any convolution as im2col and one matrix product per group.
fn im2col(
    c: &Conv2d,
    weight: &[f32],
    x: &[f32],
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
        for (b, xb) in x.chunks(cin * h * w).take(batch).enumerate() {
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
        let wg = &weight[g * cout_g * k..(g + 1) * cout_g * k];
        let wg = ArrayView2::from_shape((cout_g, k), wg)
            .unwrap_or_else(|_| unreachable!("checked model: weight length"));
        let prod = wg.dot(&cols);
        for b in 0..batch {
            for o in 0..cout_g {
                let dst = &mut out[(b * cout + g * cout_g + o) * ohw..][..ohw];
                dst.copy_from_slice(
                    &prod
                        .row(o)
                        .as_slice()
                        .unwrap_or_else(|| unreachable!("a row of a standard-layout product"))
                        [b * ohw..(b + 1) * ohw],
                );
            }
        }
    }
    out
}

/// A convolution with one input channel per group (depthwise, any channel multiplier): each
/// output plane is, tap by tap, the input plane under the tap times its weight. An im2col
/// matrix per group would be one row of products over a `K x (batch * OH * OW)` buffer
/// allocated per channel.
fn depthwise(
    c: &Conv2d,
    weight: &[f32],
    x: &[f32],
    batch: usize,
    (cin, h, w): Chw,
    (cout, oh, ow): Chw,
) -> Vec<f32> {
    let per_input = cout / cin.max(1);
    let [kh, kw] = c.kernel;
    let ohw = oh * ow;
    let mut out = vec![0.0f32; batch * cout * ohw];
    let mut tap = vec![0.0f32; ohw];
    for (image, xb) in out.chunks_mut(cout * ohw).zip(x.chunks(cin * h * w)) {
        for (oc, dst) in image.chunks_mut(ohw).enumerate() {
            let ic = oc / per_input.max(1);
            let plane = &xb[ic * h * w..(ic + 1) * h * w];
            for ky in 0..kh {
                for kx in 0..kw {
                    let weight = weight[(oc * kh + ky) * kw + kx];
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
fn pointwise(weight: &[f32], x: &[f32], batch: usize, (cin, h, w): Chw, cout: usize) -> Vec<f32> {
    let hw = h * w;
    let wv = ArrayView2::from_shape((cout, cin), weight)
        .unwrap_or_else(|_| unreachable!("checked model: weight length"));
    let mut out = vec![0.0f32; batch * cout * hw];
    for (dst, xb) in out.chunks_mut(cout * hw).zip(x.chunks(cin * hw)) {
        let xb = ArrayView2::from_shape((cin, hw), xb)
            .unwrap_or_else(|_| unreachable!("a map of C_in x H x W values"));
        let mut y = ArrayViewMut2::from_shape((cout, hw), dst)
            .unwrap_or_else(|_| unreachable!("an output of C_out x H x W values"));
        general_mat_mul(1.0, &wv, &xb, 0.0, &mut y);
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

/// Fully connected layer without its bias on `batch` rows: `Y = X W^T`.
pub fn linear(l: &Linear, weight: &[f32], x: &[f32], batch: usize) -> Vec<f32> {
    let xs = ArrayView2::from_shape((batch, l.in_features), &x[..batch * l.in_features])
        .unwrap_or_else(|_| unreachable!("batch * in_features values"));
    let wv = ArrayView2::from_shape((l.out_features, l.in_features), weight)
        .unwrap_or_else(|_| unreachable!("checked model: weight length"));
    xs.dot(&wv.t()).into_iter().collect()
}

/// Average pooling of `batch` maps, over the windows the core geometry defines (shared with
/// the reference and the secure runner).
pub fn avg_pool(p: &Pool2d, x: &[f32], batch: usize, input: Chw, output: Chw) -> Vec<f32> {
    let (c, h, w) = input;
    let (_, oh, ow) = output;
    let windows = pool_windows(p, h, w, oh, ow);
    let mut out = Vec::with_capacity(batch * c * oh * ow);
    for plane in x.chunks(h * w).take(batch * c) {
        for (idx, count) in &windows {
            out.push(idx.iter().map(|&i| plane[i]).sum::<f32>() / (*count).max(1) as f32);
        }
    }
    out
}

/// The change of a max pooling's output: per window, the perturbed winner `j` (the first
/// largest `base + d`) gives `(base[j] - max) + d[j]`, where `max` is the unmodified output
/// (`base_out`); when the winner stays, that is `d[j]` exactly.
pub fn max_pool(
    p: &Pool2d,
    d: &[f32],
    (base, base_out): (&[f64], &[f64]),
    batch: usize,
    input: Chw,
    output: Chw,
) -> Vec<f32> {
    let (c, h, w) = input;
    let (_, oh, ow) = output;
    let windows = pool_windows(p, h, w, oh, ow);
    let mut out = Vec::with_capacity(batch * c * oh * ow);
    for (k, plane) in d.chunks(h * w).take(batch * c).enumerate() {
        let ch = k % c;
        let xb = &base[ch * h * w..(ch + 1) * h * w];
        let yb = &base_out[ch * oh * ow..(ch + 1) * oh * ow];
        for ((idx, _), &max) in windows.iter().zip(yb) {
            let mut best: Option<(usize, f64)> = None;
            for &i in idx {
                let v = xb[i] + f64::from(plane[i]);
                if best.is_none_or(|(_, b)| v > b) {
                    best = Some((i, v));
                }
            }
            out.push(best.map_or(0.0, |(j, _)| ((xb[j] - max) + f64::from(plane[j])) as f32));
        }
    }
    out
}

/// Mean of every channel of `batch` maps.
pub fn global_avg_pool(x: &[f32], batch: usize, input: Chw) -> Vec<f32> {
    let (c, h, w) = input;
    x.chunks(h * w)
        .take(batch * c)
        .map(|plane| plane.iter().sum::<f32>() / (h * w) as f32)
        .collect()
}

/// Resize of `batch` maps, each as the reference resizes one (the shared resize taps).
pub fn resize(r: &Resize, x: &[f32], batch: usize, input: &Shape, output: &Shape) -> Vec<f32> {
    x.chunks(input.numel())
        .take(batch)
        .flat_map(|xb| patchwork_model::reference::resize(r, xb, input, output))
        .collect()
}

/// The change of a rectifier's output (ReLU, Block-ReLU, ReLU6 or Block-ReLU6) per element:
/// `base` is its unmodified input and `d` the perturbation of it; `raw`, for a Block-ReLU, holds
/// its unmodified output (before or after the clamp at `cap`: both give the same change) and
/// its output before the clamp on `base + d` (each element either its input, kept, or 0;
/// without `raw` an element is kept when it is not negative, a plain ReLU).
/// Where both keep the element below the cap the change is `d` exactly; elsewhere it is the
/// difference of the clamped outputs, which is then no larger than the perturbation (or one of
/// the outputs is 0), so its rounding stays relative to it.
pub fn rectifier_change(
    base: &[f64],
    d: &[f32],
    raw: Option<(&[f64], &[f64])>,
    cap: Option<f32>,
) -> Vec<f32> {
    // No branch per element (the select below), so the loops vectorise; without a cap the
    // clamp at +inf changes no finite value.
    let cap = cap.map_or(f64::INFINITY, f64::from);
    let change = |xb: f64, dk: f32, yb: f64, yp: f64| {
        let moved = xb + f64::from(dk);
        let kept = yb == xb && yp == moved && xb < cap && moved < cap;
        let clamped = (yp.min(cap) - yb.min(cap)) as f32;
        if kept {
            dk
        } else {
            clamped
        }
    };
    let mut out = vec![0.0f32; d.len()];
    let size = base.len().max(1);
    match raw {
        Some((base_out, moved_raw)) => {
            for ((o, dh), mh) in out
                .chunks_mut(size)
                .zip(d.chunks(size))
                .zip(moved_raw.chunks(size))
            {
                for ((o, (&xb, &yb)), (&dk, &yp)) in o
                    .iter_mut()
                    .zip(base.iter().zip(base_out))
                    .zip(dh.iter().zip(mh))
                {
                    *o = change(xb, dk, yb, yp);
                }
            }
        }
        None => {
            for (o, dh) in out.chunks_mut(size).zip(d.chunks(size)) {
                for ((o, &xb), &dk) in o.iter_mut().zip(base).zip(dh) {
                    *o = change(xb, dk, xb.max(0.0), (xb + f64::from(dk)).max(0.0));
                }
            }
        }
    }
    out
}

/// The change of a (log-)softmax over each row of `size` scores: with `p` the unmodified
/// probabilities (of `base`, the unmodified scores, in `f64`) and `d` the change of the
/// scores, `S = sum_j p_j e^{d_j}` gives `softmax` changes `p_k (e^{d_k} - S) / S` and
/// `log_softmax` changes `d_k - ln S`, with `e^d - 1` and `ln(1 + .)` taken directly so that
/// small changes keep their digits.
pub fn softmax_change(base: &[f64], d: &[f32], log: bool) -> Vec<f32> {
    let size = base.len();
    let max = base.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = base.iter().map(|&z| (z - max).exp()).collect();
    let total: f64 = e.iter().sum();
    let p: Vec<f64> = e.iter().map(|v| v / total).collect();
    let mut out = Vec::with_capacity(d.len());
    for row in d.chunks(size.max(1)) {
        let m1: Vec<f64> = row.iter().map(|&v| f64::from(v).exp_m1()).collect();
        let s_m1: f64 = p.iter().zip(&m1).map(|(p, m)| p * m).sum();
        out.extend(row.iter().zip(&m1).zip(&p).map(|((&dk, &mk), &pk)| {
            if log {
                (f64::from(dk) - s_m1.ln_1p()) as f32
            } else {
                (pk * (mk - s_m1) / (1.0 + s_m1)) as f32
            }
        }));
    }
    out
}

/// Element-wise sum of two perturbations of `batch * size` elements; `None` is no perturbation.
pub fn add(a: Option<&[f32]>, b: Option<&[f32]>, len: usize) -> Vec<f32> {
    match (a, b) {
        (Some(a), Some(b)) => a.iter().zip(b).map(|(x, y)| x + y).collect(),
        (Some(x), None) | (None, Some(x)) => x.to_vec(),
        (None, None) => vec![0.0; len],
    }
}

/// Channel concatenation: per hypothesis, the inputs' perturbations back to back (zeros for an
/// input without one).
pub fn concat(ins: &[(Option<&[f32]>, usize)], batch: usize) -> Vec<f32> {
    let total: usize = ins.iter().map(|(_, s)| s).sum();
    let mut out = Vec::with_capacity(batch * total);
    for b in 0..batch {
        for (v, size) in ins {
            match v {
                Some(x) => out.extend_from_slice(&x[b * size..(b + 1) * size]),
                None => out.resize(out.len() + size, 0.0),
            }
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

    /// The depthwise and pointwise paths give what im2col gives, on two hypotheses, with
    /// strides, dilations, asymmetric padding and a channel multiplier.
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
            let weight = values(cout * cin / groups * k * k, n);
            let x = values(2 * cin * h * w, n + 3);
            let (input, output) = ((cin, h, w), (cout, oh, ow));
            let want = im2col(&c, &weight, &x, 2, input, output);
            let got = conv(&c, &weight, &x, 2, input, output);
            assert_eq!(got.len(), want.len());
            for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - e).abs() <= 1e-5 * (1.0 + e.abs()),
                    "case {n} [{i}]: {g} vs {e}"
                );
            }
        }
    }

    /// The nonlinear changes equal the difference of the outputs where that difference is
    /// exact, and are the perturbation itself where the element stays kept.
    #[test]
    fn nonlinear_changes_are_output_differences() {
        // ReLU6: kept and below the cap; crossing 0 both ways; crossing the cap; both clamped.
        let base = [1.0f64, 0.5, -1.0, 5.5, 7.0, -2.0];
        let d = [0.25f32, -1.0, 3.0, 1.0, 1.0, 0.5];
        let raw = |x: &[f64]| x.iter().map(|v| v.max(0.0)).collect::<Vec<f64>>();
        let pert: Vec<f64> = base
            .iter()
            .zip(&d)
            .map(|(b, d)| b + f64::from(*d))
            .collect();
        let want = vec![0.25, -0.5, 2.0, 0.5, 0.0, 0.0];
        let raws = (raw(&base), raw(&pert));
        let got = rectifier_change(&base, &d, Some((&raws.0, &raws.1)), Some(6.0));
        assert_eq!(got, want);
        assert_eq!(rectifier_change(&base, &d, None, Some(6.0)), want);
        // Max pooling: the winner changes from 3 to 2 + 2 in one window of two.
        let p = Pool2d {
            kernel: [1, 2],
            stride: [1, 2],
            padding: [0; 4],
            count_include_pad: false,
        };
        let x = [3.0f64, 2.0, 1.0, 0.0];
        let got = max_pool(
            &p,
            &[0.0, 2.0, 0.5, 0.0],
            (&x, &[3.0, 1.0]),
            1,
            (1, 1, 4),
            (1, 1, 2),
        );
        assert_eq!(got, vec![1.0, 0.5]);
        // Softmax: the change equals the difference of the two softmaxes.
        let z = [0.5f64, -1.0, 2.0];
        let dz = [0.1f32, 0.0, -0.2];
        let sm = |v: &[f64]| {
            let e: Vec<f64> = v.iter().map(|&x| x.exp()).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().map(|x| x / s).collect::<Vec<f64>>()
        };
        let moved: Vec<f64> = z.iter().zip(&dz).map(|(a, b)| a + f64::from(*b)).collect();
        let (a, b) = (sm(&z), sm(&moved));
        for (k, g) in softmax_change(&z, &dz, false).iter().enumerate() {
            assert!(
                (f64::from(*g) - (b[k] - a[k])).abs() < 1e-6,
                "softmax [{k}]"
            );
        }
        for (k, g) in softmax_change(&z, &dz, true).iter().enumerate() {
            let want = b[k].ln() - a[k].ln();
            assert!((f64::from(*g) - want).abs() < 1e-6, "log_softmax [{k}]");
        }
    }
}
