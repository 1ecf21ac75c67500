//! Block-ReLU on one channel (seed paper, equations 2-3).
//!
//! The `H x W` channel is cut into `ph x pw` patches from the top-left corner (the last row and
//! column of patches are smaller when the size does not divide the map). Each patch keeps its
//! values when the sum of the patch is `>= 0` (DReLU of the patch mean, as SecureNN's DReLU is 1
//! at 0) and is zeroed otherwise. `[1, 1]` is plain ReLU; identity channels pass unchanged and
//! zero channels become 0.

use patchwork_core::patch::{block_relu_in_place, PatchSize};

/// Applies Block-ReLU with patch size `p` in place to one `h x w` channel: the core's
/// plaintext Block-ReLU (the definition the secure protocol is tested against) on `f32`.
pub fn block_relu_channel(x: &mut [f32], h: usize, w: usize, p: PatchSize) {
    block_relu_in_place(x, h, w, &[p], |sum| sum >= 0.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ragged_patches_decide_independently() {
        // 3x3 map, 2x2 patches: patches {0,1,3,4}, {2,5}, {6,7}, {8}.
        let mut x = vec![1.0, -3.0, -1.0, 1.0, 2.0, 0.5, -1.0, 0.5, 0.0];
        block_relu_channel(&mut x, 3, 3, PatchSize::Block { h: 2, w: 2 });
        assert_eq!(x, vec![1.0, -3.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn one_by_one_is_relu_and_identity_zero() {
        let mut x = vec![-1.0, 2.0];
        block_relu_channel(&mut x, 1, 2, PatchSize::RELU);
        assert_eq!(x, vec![0.0, 2.0]);
        let mut y = vec![-1.0, 2.0];
        block_relu_channel(&mut y, 1, 2, PatchSize::Identity);
        assert_eq!(y, vec![-1.0, 2.0]);
        block_relu_channel(&mut y, 1, 2, PatchSize::Zero);
        assert_eq!(y, vec![0.0, 0.0]);
    }
}
