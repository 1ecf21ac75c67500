//! Candidate patch sizes `P_i` of a ReLU layer (seed paper, "Knapsack Optimization": "P_i as the
//! list of patch-sizes available for selection by C_i"; the seed's lists reach the map size).
//!
//! For an `H x W` map the sides tried in each direction are every side `1..=min(H, max)` and,
//! above `max`, the smallest side giving each smaller number of blocks (`ceil(H / k)` for the
//! block counts `k` no side up to `max` reaches, so the blocks stay as even as they can and the
//! whole map is one of them). The list is every `[ph, pw]` over those sides (square and
//! non-square, `[1, 1]` being the plain ReLU), then the identity channel `[0, 1]` and the zero
//! channel `[1, 0]`. With the default `max = 8` a 28x28 layer has sides `1..=8, 10, 14, 28` and
//! 123 candidates, a 14x14 layer sides `1..=8, 14` and 83, a 7x7 layer 51.

use patchwork_core::patch::PatchSize;

/// Default largest side below which every side is tried.
pub const DEFAULT_MAX_SIDE: u16 = 8;

/// The sides tried along one map dimension of `len`, ascending: `1..=min(len, max_side)`, then
/// `ceil(len / k)` for every block count `k < ceil(len / max_side)` (the map side itself last).
fn sides(len: usize, max_side: usize) -> Vec<u16> {
    let len = len.max(1);
    let dense = len.min(max_side);
    let mut out: Vec<u16> = (1..=dense as u16).collect();
    for blocks in (1..len.div_ceil(dense)).rev() {
        let side = len.div_ceil(blocks) as u16;
        if out.last() != Some(&side) {
            out.push(side);
        }
    }
    out
}

/// The candidate patch sizes of an `height x width` map, blocks in row-major `(ph, pw)` order
/// over [`sides`], then identity, then zero. `max_side` 0 is treated as 1.
pub fn candidates(height: usize, width: usize, max_side: u16) -> Vec<PatchSize> {
    let max_side = max_side.max(1) as usize;
    let (hs, ws) = (sides(height, max_side), sides(width, max_side));
    let mut out = Vec::with_capacity(hs.len() * ws.len() + 2);
    for &h in &hs {
        for &w in &ws {
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
    fn sides_reach_the_map_with_even_blocks() {
        assert_eq!(sides(28, 8), vec![1, 2, 3, 4, 5, 6, 7, 8, 10, 14, 28]);
        assert_eq!(sides(14, 8), vec![1, 2, 3, 4, 5, 6, 7, 8, 14]);
        assert_eq!(sides(7, 8), vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            sides(56, 8),
            vec![1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 19, 28, 56]
        );
        assert_eq!(sides(5, 1), vec![1, 2, 3, 5]);
        // Above `max` each side gives fewer blocks than the one before, down to one block.
        for len in 1..80usize {
            for max in 1..10usize {
                let s = sides(len, max);
                assert_eq!(
                    s[..len.min(max)],
                    (1..=len.min(max) as u16).collect::<Vec<_>>()[..]
                );
                let above = &s[len.min(max) - 1..];
                let counts: Vec<usize> = above.iter().map(|&d| len.div_ceil(d as usize)).collect();
                assert!(counts.windows(2).all(|w| w[0] > w[1]), "{len} {max}: {s:?}");
                assert_eq!(*counts.last().unwrap(), 1, "{len} {max}");
                assert!(s.iter().all(|&d| d as usize <= len));
            }
        }
    }

    #[test]
    fn counts_and_order() {
        let c = candidates(28, 28, 8);
        assert_eq!(c.len(), 123);
        assert_eq!(c[0], PatchSize::RELU);
        assert_eq!(c[1], PatchSize::Block { h: 1, w: 2 });
        assert_eq!(c[120], PatchSize::Block { h: 28, w: 28 });
        assert_eq!(c[121], PatchSize::Identity);
        assert_eq!(c[122], PatchSize::Zero);
        assert_eq!(candidates(14, 14, 8).len(), 83);
        assert_eq!(candidates(7, 7, 8).len(), 51);
        assert_eq!(candidates(1, 3, 8).len(), 5);
        assert!(candidates(5, 3, 8).iter().all(|p| p.fits(5, 3)));
    }
}
