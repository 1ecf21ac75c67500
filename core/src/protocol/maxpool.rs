//! MaxPool as a tree of comparisons (SecureNN, "MaxPool"): each level pairs the remaining
//! candidates of every window and keeps `max(u, v) = u + ReLU(v - u)`, one fused
//! DReLU-and-select per pair (3 rounds per level, `ceil(log2(k))` levels for k candidates).
//! Padding positions are not candidates (ONNX MaxPool pads with -infinity).

use alloc::vec;
use alloc::vec::Vec;

use super::brelu::MapShape;
use super::drelu::{relu, Comparison};
use crate::model::geometry::window;
use crate::party::{check_len, Error, Party};
use crate::role::Role;
use crate::transport::Transport;

/// A pooling window: kernel, stride and padding `[top, left, bottom, right]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    /// Window `[height, width]`.
    pub kernel: [usize; 2],
    /// Stride `[vertical, horizontal]`.
    pub stride: [usize; 2],
    /// Padding `[top, left, bottom, right]` (padding is never a candidate).
    pub pad: [usize; 4],
}

impl Pool {
    /// Output height and width on an `h x w` map.
    pub fn out_hw(&self, h: usize, w: usize) -> (usize, usize) {
        (
            (h + self.pad[0] + self.pad[2]).saturating_sub(self.kernel[0]) / self.stride[0] + 1,
            (w + self.pad[1] + self.pad[3]).saturating_sub(self.kernel[1]) / self.stride[1] + 1,
        )
    }

    /// For each output pixel, the input indices its window covers (inside the map).
    pub fn windows(&self, shape: MapShape) -> Vec<Vec<usize>> {
        let (oh, ow) = self.out_hw(shape.height, shape.width);
        let mut out = Vec::with_capacity(shape.channels * oh * ow);
        let (h, w) = (shape.height, shape.width);
        for c in 0..shape.channels {
            for oy in 0..oh {
                for ox in 0..ow {
                    let win = window(self.kernel, self.stride, self.pad, (h, w), (oy, ox));
                    out.push(win.into_iter().map(|i| c * h * w + i).collect());
                }
            }
        }
        out
    }
}

/// Shares of MaxPool of the map `x` (P2 passes zeros).
pub fn max_pool<T: Transport>(
    p: &mut Party<T>,
    x: &[u64],
    shape: MapShape,
    pool: Pool,
    cmp: Comparison,
) -> Result<Vec<u64>, Error<T::Error>> {
    check_len("MaxPool input", shape.len(), x.len())?;
    let windows = pool.windows(shape);
    if windows.iter().any(|w| w.is_empty()) {
        return Err(Error::Config(
            "a MaxPool window lies entirely in the padding",
        ));
    }
    let mut cands: Vec<Vec<u64>> = windows
        .iter()
        .map(|w| w.iter().map(|&i| x[i]).collect())
        .collect();
    while cands.iter().any(|c| c.len() > 1) {
        let mut diffs = Vec::new();
        for c in &cands {
            for pair in c.chunks_exact(2) {
                diffs.push(pair[1].wrapping_sub(pair[0]));
            }
        }
        let gains = relu(p, &diffs, cmp)?;
        let mut g = gains.into_iter();
        for c in cands.iter_mut() {
            let next: Vec<u64> = c
                .chunks(2)
                .map(|pair| {
                    if pair.len() == 2 {
                        pair[0].wrapping_add(g.next().unwrap_or(0))
                    } else {
                        pair[0]
                    }
                })
                .collect();
            *c = next;
        }
    }
    let out: Vec<u64> = cands.into_iter().map(|c| c[0]).collect();
    Ok(if p.role() == Role::P2 {
        vec![0; out.len()]
    } else {
        out
    })
}
