//! Batched operators of the suffix evaluator ([`super::suffix`]): every value holds `batch`
//! images (one per patch-size hypothesis) back to back, or is shared by all of them (a value
//! computed before the switched ReLU, such as a residual shortcut).
//!
//! These are the plain float operators the model graph defines (see
//! `patchwork_core::model::Op`); the convolution runs as one im2col matrix for the whole batch
//! times the weight matrix, which is what makes batching hypotheses pay. The host's reference
//! forward is the oracle they are tested against (`tests/distortion_suffix.rs`).

use ndarray::{Array2, ArrayView2};
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

/// Convolution of `batch` maps: im2col into one `K x (batch * OH * OW)` matrix per group, then
/// one matrix product with the `C_out/g x K` weights.
pub fn conv(
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

/// One im2col row: the input pixel under kernel tap `(ky, kx)` for every output pixel.
fn fill_row(
    dst: &mut [f32],
    plane: &[f32],
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    (ky, kx): (usize, usize),
    c: &Conv2d,
) {
    for oy in 0..oh {
        let iy = (oy * c.stride[0] + ky * c.dilation[0]) as isize - c.padding[0] as isize;
        if iy < 0 || iy as usize >= h {
            continue;
        }
        let src = &plane[iy as usize * w..(iy as usize + 1) * w];
        for ox in 0..ow {
            let ix = (ox * c.stride[1] + kx * c.dilation[1]) as isize - c.padding[1] as isize;
            if ix >= 0 && (ix as usize) < w {
                dst[oy * ow + ox] = src[ix as usize];
            }
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
    (0..batch)
        .flat_map(|b| x.get(b, size).iter().map(|&v| f(v)))
        .collect()
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
