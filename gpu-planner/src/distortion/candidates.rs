//! Candidate patch sizes `P_i` of a ReLU layer (seed paper, "Knapsack Optimization": "P_i as the
//! list of patch-sizes available for selection by C_i"; the seed's lists reach the map size).
//!
//! Along each map dimension of length `L` the sides tried are every side `1..=min(L, max_side)`
//! and, above `max_side`, the sides that cut the dimension into `k` even blocks for
//! `k = coarse_blocks, ..., 2, 1` (`ceil(L / k)`, the last being the whole dimension). The list is
//! every `[ph, pw]` over those sides (square and non-square, `[1, 1]` being the plain ReLU), then
//! the identity channel `[0, 1]` and the zero channel `[1, 0]`. With the defaults (`max_side` 8,
//! `coarse_blocks` 3) a 28x28 layer has sides `1..=8, 10, 14, 28` and 123 candidates, a 14x14
//! layer sides `1..=8, 14` and 83, a 7x7 layer 51.

use patchwork_core::patch::PatchSize;
use serde::{Deserialize, Serialize};

/// Which patch sides a distortion run tries (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateSides {
    /// Every side up to this one (0 is treated as 1).
    pub max_side: u16,
    /// Above `max_side`, the sides giving this many even blocks or fewer (0: none). Files
    /// written before this field existed had none.
    #[serde(default)]
    pub coarse_blocks: u16,
}

impl Default for CandidateSides {
    fn default() -> Self {
        CandidateSides {
            max_side: 8,
            coarse_blocks: 3,
        }
    }
}

impl CandidateSides {
    /// The sides tried along a dimension of `len`, ascending, without repeats.
    pub fn sides(&self, len: usize) -> Vec<u16> {
        let len = len.max(1);
        let dense = len.min(self.max_side.max(1) as usize);
        let mut out: Vec<u16> = (1..=dense as u16).collect();
        for blocks in (1..=self.coarse_blocks as usize).rev() {
            let side = len.div_ceil(blocks);
            if side > dense && out.last() != Some(&(side as u16)) {
                out.push(side as u16);
            }
        }
        out
    }

    /// The candidate patch sizes of an `height x width` map, blocks in row-major `(ph, pw)`
    /// order over [`Self::sides`], then identity, then zero.
    pub fn patch_sizes(&self, height: usize, width: usize) -> Vec<PatchSize> {
        let (hs, ws) = (self.sides(height), self.sides(width));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sides(max_side: u16, coarse_blocks: u16) -> CandidateSides {
        CandidateSides {
            max_side,
            coarse_blocks,
        }
    }

    #[test]
    fn sides_reach_the_map_with_even_blocks() {
        let d = CandidateSides::default();
        assert_eq!(d.sides(28), vec![1, 2, 3, 4, 5, 6, 7, 8, 10, 14, 28]);
        assert_eq!(d.sides(14), vec![1, 2, 3, 4, 5, 6, 7, 8, 14]);
        assert_eq!(d.sides(7), vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            sides(8, 6).sides(56),
            vec![1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 19, 28, 56]
        );
        assert_eq!(sides(2, 0).sides(28), vec![1, 2]);
        assert_eq!(sides(0, 1).sides(5), vec![1, 5]);
        for len in 1..80usize {
            for max in 1..10u16 {
                for coarse in 0..5u16 {
                    let s = sides(max, coarse).sides(len);
                    let dense = len.min(max as usize);
                    assert_eq!(s[..dense], (1..=dense as u16).collect::<Vec<_>>()[..]);
                    // Above the dense sides: fewer blocks each time, down to one block.
                    let counts: Vec<usize> = s[dense - 1..]
                        .iter()
                        .map(|&d| len.div_ceil(d as usize))
                        .collect();
                    assert!(counts.windows(2).all(|w| w[0] > w[1]), "{len} {max}: {s:?}");
                    assert!(s.iter().all(|&d| d as usize <= len));
                    if coarse > 0 {
                        assert_eq!(*s.last().unwrap() as usize, len);
                    }
                }
            }
        }
    }

    #[test]
    fn counts_and_order() {
        let d = CandidateSides::default();
        let c = d.patch_sizes(28, 28);
        assert_eq!(c.len(), 123);
        assert_eq!(c[0], PatchSize::RELU);
        assert_eq!(c[1], PatchSize::Block { h: 1, w: 2 });
        assert_eq!(c[120], PatchSize::Block { h: 28, w: 28 });
        assert_eq!(c[121], PatchSize::Identity);
        assert_eq!(c[122], PatchSize::Zero);
        assert_eq!(d.patch_sizes(14, 14).len(), 83);
        assert_eq!(d.patch_sizes(7, 7).len(), 51);
        assert_eq!(sides(8, 0).patch_sizes(28, 28).len(), 66);
        assert_eq!(d.patch_sizes(1, 3).len(), 5);
        assert!(d.patch_sizes(5, 3).iter().all(|p| p.fits(5, 3)));
    }
}
