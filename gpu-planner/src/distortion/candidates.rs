//! Candidate patch sizes `P_i` of a ReLU layer (seed paper, "Knapsack Optimization": "P_i as the
//! list of patch-sizes available for selection by C_i").
//!
//! For an `H x W` map the list is every block `[ph, pw]` with `1 <= ph <= min(H, max)` and
//! `1 <= pw <= min(W, max)` (square and non-square, `[1, 1]` being the plain ReLU), followed by
//! the identity channel `[0, 1]` and the zero channel `[1, 0]`. With the default `max = 8` a
//! 28x28 or 14x14 layer has 66 candidates and a 7x7 layer 51.

use patchwork_core::patch::PatchSize;

/// Default largest patch side.
pub const DEFAULT_MAX_SIDE: u16 = 8;

/// The candidate patch sizes of an `height x width` map, blocks in row-major `(ph, pw)` order,
/// then identity, then zero. `max_side` 0 is treated as 1.
pub fn candidates(height: usize, width: usize, max_side: u16) -> Vec<PatchSize> {
    let max_side = max_side.max(1) as usize;
    let hmax = height.min(max_side).max(1) as u16;
    let wmax = width.min(max_side).max(1) as u16;
    let mut out = Vec::with_capacity(hmax as usize * wmax as usize + 2);
    for h in 1..=hmax {
        for w in 1..=wmax {
            out.push(PatchSize::Block { h, w });
        }
    }
    out.push(PatchSize::Identity);
    out.push(PatchSize::Zero);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_order() {
        let c = candidates(28, 28, 8);
        assert_eq!(c.len(), 66);
        assert_eq!(c[0], PatchSize::RELU);
        assert_eq!(c[1], PatchSize::Block { h: 1, w: 2 });
        assert_eq!(c[64], PatchSize::Identity);
        assert_eq!(c[65], PatchSize::Zero);
        assert_eq!(candidates(7, 7, 8).len(), 51);
        assert_eq!(candidates(1, 3, 8).len(), 5);
        assert!(candidates(5, 3, 8).iter().all(|p| p.fits(5, 3)));
    }
}
