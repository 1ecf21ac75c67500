//! Bilinear maps over Z_2^64 that Beaver products (SecureNN Alg. 1) evaluate: elementwise
//! multiplication, matrix multiplication and 2-D convolution. Every product protocol is written
//! once over this trait.

use crate::gemm::gemm_acc;
use alloc::vec;
use alloc::vec::Vec;

/// A bilinear map `out = op(lhs, rhs)` over Z_2^64 with fixed sizes.
pub trait Bilinear {
    /// Elements of the left operand (the activations).
    fn lhs_len(&self) -> usize;
    /// Elements of the right operand (the weights, or a second activation).
    fn rhs_len(&self) -> usize;
    /// Elements of the output.
    fn out_len(&self) -> usize;
    /// `out += op(lhs, rhs)`, wrapping.
    fn accumulate(&self, lhs: &[u64], rhs: &[u64], out: &mut [u64]);

    /// `out += op(lhs_i, rhs)` for each of the `lhs_len()`-element left operands `lhs_i` laid
    /// one after another in `lhs` (and outputs in `out`): a batch through the same right
    /// operand. By default one [`Bilinear::accumulate`] per image.
    fn accumulate_each(&self, lhs: &[u64], rhs: &[u64], out: &mut [u64]) {
        one_by_one(self, lhs, rhs, out);
    }

    /// `op(lhs, rhs)`.
    fn apply(&self, lhs: &[u64], rhs: &[u64]) -> Vec<u64> {
        let mut out = vec![0; self.out_len()];
        self.accumulate(lhs, rhs, &mut out);
        out
    }
}

/// `op` through each left operand of `lhs` (and output of `out`) in turn.
fn one_by_one<Op: Bilinear + ?Sized>(op: &Op, lhs: &[u64], rhs: &[u64], out: &mut [u64]) {
    let (l, o) = (op.lhs_len(), op.out_len());
    for (x, y) in lhs
        .chunks_exact(l.max(1))
        .zip(out.chunks_exact_mut(o.max(1)))
    {
        op.accumulate(x, rhs, y);
    }
}

/// Elementwise multiplication of two vectors of `n` elements.
#[derive(Clone, Copy, Debug)]
pub struct Elementwise(pub usize);

impl Bilinear for Elementwise {
    fn lhs_len(&self) -> usize {
        self.0
    }
    fn rhs_len(&self) -> usize {
        self.0
    }
    fn out_len(&self) -> usize {
        self.0
    }
    fn accumulate(&self, lhs: &[u64], rhs: &[u64], out: &mut [u64]) {
        for ((o, a), b) in out.iter_mut().zip(lhs).zip(rhs) {
            *o = o.wrapping_add(a.wrapping_mul(*b));
        }
    }
}

/// `(m x k) * (k x n)`, row-major.
#[derive(Clone, Copy, Debug)]
pub struct MatMul {
    /// Rows of the left operand.
    pub m: usize,
    /// Columns of the left operand, rows of the right one.
    pub k: usize,
    /// Columns of the right operand.
    pub n: usize,
}

impl Bilinear for MatMul {
    fn lhs_len(&self) -> usize {
        self.m * self.k
    }
    fn rhs_len(&self) -> usize {
        self.k * self.n
    }
    fn out_len(&self) -> usize {
        self.m * self.n
    }
    fn accumulate(&self, lhs: &[u64], rhs: &[u64], out: &mut [u64]) {
        gemm_acc(self.m, self.k, self.n, lhs, rhs, out);
    }
}

/// A 2-D convolution of one `in_c x in_h x in_w` image with `out_c x (in_c/groups) x kh x kw`
/// weights (ONNX `Conv` semantics, no bias: a bias is a public-free addition done by its owner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    /// Input channels.
    pub in_c: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Output channels.
    pub out_c: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride `[vertical, horizontal]`.
    pub stride: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub pad: [usize; 4],
    /// Dilation `[vertical, horizontal]`.
    pub dilation: [usize; 2],
    /// Channel groups (`in_channels` for a depthwise convolution).
    pub groups: usize,
}

impl Conv2d {
    /// A 3x3 convolution with stride 1 and padding 1 from `in_c` to `out_c` channels on an
    /// `h x w` map (the body convolution of a ResNet).
    pub fn same_3x3(in_c: usize, out_c: usize, h: usize, w: usize) -> Conv2d {
        Conv2d {
            in_c,
            in_h: h,
            in_w: w,
            out_c,
            kh: 3,
            kw: 3,
            stride: [1, 1],
            pad: [1, 1, 1, 1],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2d {
    /// Output height and width.
    pub fn out_hw(&self) -> (usize, usize) {
        let span = |inp: usize, pa: usize, pb: usize, k: usize, d: usize, s: usize| {
            (inp + pa + pb).saturating_sub(d * (k - 1) + 1) / s + 1
        };
        (
            span(
                self.in_h,
                self.pad[0],
                self.pad[2],
                self.kh,
                self.dilation[0],
                self.stride[0],
            ),
            span(
                self.in_w,
                self.pad[1],
                self.pad[3],
                self.kw,
                self.dilation[1],
                self.stride[1],
            ),
        )
    }

    /// Rows of the im2col matrix of one group (`cg * kh * kw`).
    fn kdim(&self) -> usize {
        (self.in_c / self.groups) * self.kh * self.kw
    }

    /// Writes the im2col matrix of image `x`, group `g` (`kdim x (oh * ow)`) into the columns
    /// `at..at + oh * ow` of `cols`, a row-major matrix `width` columns wide (zeros already in
    /// place where the kernel reads padding).
    fn im2col_into(&self, x: &[u64], g: usize, cols: &mut [u64], width: usize, at: usize) {
        let cg = self.in_c / self.groups;
        let (oh, ow) = self.out_hw();
        let mut row = 0;
        for c in g * cg..(g + 1) * cg {
            let plane = &x[c * self.in_h * self.in_w..(c + 1) * self.in_h * self.in_w];
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let dst = &mut cols[row * width + at..row * width + at + oh * ow];
                    for oy in 0..oh {
                        let iy = (oy * self.stride[0] + ky * self.dilation[0]) as isize
                            - self.pad[0] as isize;
                        if iy < 0 || iy >= self.in_h as isize {
                            continue;
                        }
                        for ox in 0..ow {
                            let ix = (ox * self.stride[1] + kx * self.dilation[1]) as isize
                                - self.pad[1] as isize;
                            if ix >= 0 && ix < self.in_w as isize {
                                dst[oy * ow + ox] = plane[iy as usize * self.in_w + ix as usize];
                            }
                        }
                    }
                    row += 1;
                }
            }
        }
    }
}

/// Output columns that one product of [`Conv2d::accumulate_each`] aims for: on maps smaller
/// than this, images are put side by side so that the product runs in full register tiles
/// (a 3x3 map alone is nine columns; 28 of them are 252).
const BATCH_COLUMNS: usize = 256;

impl Bilinear for Conv2d {
    fn lhs_len(&self) -> usize {
        self.in_c * self.in_h * self.in_w
    }
    fn rhs_len(&self) -> usize {
        self.out_c * (self.in_c / self.groups) * self.kh * self.kw
    }
    fn out_len(&self) -> usize {
        let (oh, ow) = self.out_hw();
        self.out_c * oh * ow
    }
    fn accumulate(&self, lhs: &[u64], rhs: &[u64], out: &mut [u64]) {
        self.side_by_side(lhs, rhs, out);
    }

    /// On a small map, up to `BATCH_COLUMNS` (256) / `(oh * ow)` images per product (see
    /// `Conv2d::side_by_side`); on a large map one product per image.
    fn accumulate_each(&self, lhs: &[u64], rhs: &[u64], out: &mut [u64]) {
        let (oh, ow) = self.out_hw();
        let per = BATCH_COLUMNS / (oh * ow).max(1);
        let (l, o) = (self.lhs_len(), self.out_len());
        if per <= 1 || l == 0 || o == 0 {
            return one_by_one(self, lhs, rhs, out);
        }
        for (xs, ys) in lhs.chunks(per * l).zip(out.chunks_mut(per * o)) {
            self.side_by_side(xs, rhs, ys);
        }
    }
}

impl Conv2d {
    /// `ys += op(x_i, w)` for the images `x_i` of `xs` in one product per group: their im2col
    /// matrices side by side, each image's outputs then added back to its own place in `ys`
    /// (for one image, the product goes straight into `ys`).
    fn side_by_side(&self, xs: &[u64], rhs: &[u64], ys: &mut [u64]) {
        let (oh, ow) = self.out_hw();
        let ohw = oh * ow;
        let (l, o) = (self.lhs_len(), self.out_len());
        let (og, kdim) = (self.out_c / self.groups, self.kdim());
        let images = xs.len().checked_div(l).unwrap_or(1);
        let width = images * ohw;
        // Every group writes the same places of `cols`; those read as padding stay zero.
        let mut cols = vec![0u64; kdim * width];
        let mut prod = vec![0u64; if images > 1 { og * width } else { 0 }];
        for g in 0..self.groups {
            for (i, x) in xs.chunks_exact(l.max(1)).enumerate() {
                self.im2col_into(x, g, &mut cols, width, i * ohw);
            }
            let w = &rhs[g * og * kdim..(g + 1) * og * kdim];
            if images <= 1 {
                gemm_acc(
                    og,
                    kdim,
                    ohw,
                    w,
                    &cols,
                    &mut ys[g * og * ohw..(g + 1) * og * ohw],
                );
                continue;
            }
            prod.fill(0);
            gemm_acc(og, kdim, width, w, &cols, &mut prod);
            for (i, y) in ys.chunks_exact_mut(o).enumerate() {
                for oc in 0..og {
                    let dst = &mut y[(g * og + oc) * ohw..(g * og + oc + 1) * ohw];
                    let src = &prod[oc * width + i * ohw..oc * width + (i + 1) * ohw];
                    for (d, v) in dst.iter_mut().zip(src) {
                        *d = d.wrapping_add(*v);
                    }
                }
            }
        }
    }
}

/// `op` applied to each of `n` left operands laid one after another, all with the same right
/// operand: a batch of images through one layer's weights. The products of a batch are one
/// product protocol, so one round and one message for all `n` images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batched<Op> {
    /// The map applied to each image.
    pub op: Op,
    /// Images in the batch.
    pub n: usize,
}

impl<Op: Bilinear> Bilinear for Batched<Op> {
    fn lhs_len(&self) -> usize {
        self.n * self.op.lhs_len()
    }
    fn rhs_len(&self) -> usize {
        self.op.rhs_len()
    }
    fn out_len(&self) -> usize {
        self.n * self.op.out_len()
    }
    fn accumulate(&self, lhs: &[u64], rhs: &[u64], out: &mut [u64]) {
        self.op.accumulate_each(lhs, rhs, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution, the definition.
    fn direct(c: &Conv2d, x: &[u64], w: &[u64]) -> Vec<u64> {
        let (oh, ow) = c.out_hw();
        let cg = c.in_c / c.groups;
        let og = c.out_c / c.groups;
        let mut out = vec![0u64; c.out_c * oh * ow];
        for o in 0..c.out_c {
            let g = o / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0u64;
                    for ci in 0..cg {
                        for ky in 0..c.kh {
                            for kx in 0..c.kw {
                                let iy = (oy * c.stride[0] + ky * c.dilation[0]) as isize
                                    - c.pad[0] as isize;
                                let ix = (ox * c.stride[1] + kx * c.dilation[1]) as isize
                                    - c.pad[1] as isize;
                                if iy >= 0
                                    && ix >= 0
                                    && (iy as usize) < c.in_h
                                    && (ix as usize) < c.in_w
                                {
                                    let xv = x[(g * cg + ci) * c.in_h * c.in_w
                                        + iy as usize * c.in_w
                                        + ix as usize];
                                    let wv = w[((o * cg + ci) * c.kh + ky) * c.kw + kx];
                                    acc = acc.wrapping_add(xv.wrapping_mul(wv));
                                }
                            }
                        }
                    }
                    out[(o * oh + oy) * ow + ox] = acc;
                }
            }
        }
        out
    }

    /// Convolutions of every kind: same-size, strided and dilated depthwise, grouped with
    /// uneven padding, and maps of 1x1 and 3x3 outputs (as on the last layers of a network).
    fn shapes() -> Vec<Conv2d> {
        vec![
            Conv2d::same_3x3(3, 4, 7, 6),
            Conv2d::same_3x3(5, 3, 1, 1),
            Conv2d {
                kh: 5,
                kw: 5,
                ..Conv2d::same_3x3(4, 6, 5, 5)
            },
            Conv2d::same_3x3(3, 4, 7, 6),
            Conv2d {
                in_c: 4,
                in_h: 9,
                in_w: 9,
                out_c: 4,
                kh: 3,
                kw: 3,
                stride: [2, 2],
                pad: [2, 2, 2, 2],
                dilation: [2, 2],
                groups: 4,
            },
            Conv2d {
                in_c: 4,
                in_h: 5,
                in_w: 8,
                out_c: 6,
                kh: 1,
                kw: 2,
                stride: [1, 2],
                pad: [0, 1, 0, 0],
                dilation: [1, 1],
                groups: 2,
            },
        ]
    }

    #[test]
    fn im2col_conv_matches_direct_convolution() {
        for c in shapes() {
            let x: Vec<u64> = (0..c.lhs_len() as u64)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .collect();
            let w: Vec<u64> = (0..c.rhs_len() as u64)
                .map(|i| (i * 7 + 3).wrapping_neg())
                .collect();
            assert_eq!(c.apply(&x, &w), direct(&c, &x, &w), "{c:?}");
        }
    }

    /// Batches of 1, 3 and 40 images: on small maps several images share one product of
    /// [`BATCH_COLUMNS`] columns (28 images of a 3x3 map, so 40 of them take two products, the
    /// second one ragged).
    #[test]
    fn a_batch_is_each_image_through_the_same_weights() {
        for c in shapes() {
            for n in [1, 3, 40] {
                let b = Batched { op: c, n };
                let x: Vec<u64> = (0..b.lhs_len() as u64).map(|i| i * i + 1).collect();
                let w: Vec<u64> = (0..c.rhs_len() as u64).map(|i| i.wrapping_neg()).collect();
                let each: Vec<u64> = x
                    .chunks(c.lhs_len())
                    .flat_map(|img| direct(&c, img, &w))
                    .collect();
                assert_eq!(b.apply(&x, &w), each, "{c:?}, {n} images");
            }
        }
    }
}
