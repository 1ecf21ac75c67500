//! Block-ReLU on one channel (seed paper, equations 2-3).
//!
//! The `H x W` channel is cut into `ph x pw` patches from the top-left corner (the last row and
//! column of patches are smaller when the size does not divide the map). Each patch keeps its
//! values when the sum of the patch is `>= 0` (DReLU of the patch mean, as SecureNN's DReLU is 1
//! at 0) and is zeroed otherwise. `[1, 1]` is plain ReLU; identity channels pass unchanged and
//! zero channels become 0. A ReLU6 layer is the Block-ReLU followed by the clamp at 6
//! (`min(BlockReLU(x), 6)`, which with `[1, 1]` is `clamp(x, 0, 6)`).

use patchwork_core::model::Real;
use patchwork_core::patch::{block_relu_in_place, PatchSize};

/// Applies Block-ReLU in place to a `C x h x w` layer, one patch size per channel: the core's
/// plaintext Block-ReLU (the definition the secure protocol is tested against) on `f32` or
/// `f64`, then `min(., cap)` where the layer has a cap (a ReLU6's 6, `Op::cap`).
pub fn block_relu_layer<T: Real>(
    x: &mut [T],
    h: usize,
    w: usize,
    patches: &[PatchSize],
    cap: Option<f32>,
) {
    block_relu_in_place(x, h, w, patches, |sum| sum >= T::default());
    if let Some(cap) = cap.map(T::of) {
        x.iter_mut().for_each(|v| *v = v.min(cap));
    }
}

/// [`block_relu_layer`] on one `h x w` channel with patch size `p`.
pub fn block_relu_channel<T: Real>(
    x: &mut [T],
    h: usize,
    w: usize,
    p: PatchSize,
    cap: Option<f32>,
) {
    block_relu_layer(x, h, w, &[p], cap);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ragged_patches_decide_independently() {
        // 3x3 map, 2x2 patches: patches {0,1,3,4}, {2,5}, {6,7}, {8}.
        let mut x = vec![1.0, -3.0, -1.0, 1.0, 2.0, 0.5, -1.0, 0.5, 0.0];
        block_relu_channel(&mut x, 3, 3, PatchSize::Block { h: 2, w: 2 }, None);
        assert_eq!(x, vec![1.0, -3.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn one_by_one_is_relu_and_identity_zero() {
        let mut x = vec![-1.0, 2.0];
        block_relu_channel(&mut x, 1, 2, PatchSize::RELU, None);
        assert_eq!(x, vec![0.0, 2.0]);
        let mut y = vec![-1.0, 2.0];
        block_relu_channel(&mut y, 1, 2, PatchSize::Identity, None);
        assert_eq!(y, vec![-1.0, 2.0]);
        block_relu_channel(&mut y, 1, 2, PatchSize::Zero, None);
        assert_eq!(y, vec![0.0, 0.0]);
    }

    #[test]
    fn a_capped_layer_clamps_after_the_patch_decision() {
        // One 1x4 patch with sum 6 >= 0 passes, then the cap: 9 -> 6, and -2 stays (the patch
        // passed). 1x1 patches with the cap are ReLU6.
        let mut x = vec![9.0, -2.0, -2.0, 1.0];
        block_relu_channel(&mut x, 1, 4, PatchSize::Block { h: 1, w: 4 }, Some(6.0));
        assert_eq!(x, vec![6.0, -2.0, -2.0, 1.0]);
        let mut y = vec![9.0, -2.0, 3.0];
        block_relu_channel(&mut y, 1, 3, PatchSize::RELU, Some(6.0));
        assert_eq!(y, vec![6.0, 0.0, 3.0]);
        let mut z = vec![9.0, -2.0];
        block_relu_channel(&mut z, 1, 2, PatchSize::Identity, Some(6.0));
        assert_eq!(z, vec![6.0, -2.0]);
    }
}
