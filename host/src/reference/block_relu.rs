//! Block-ReLU on one channel (seed paper, equations 2-3).
//!
//! The `H x W` channel is cut into `ph x pw` patches from the top-left corner (the last row and
//! column of patches are smaller when the size does not divide the map). Each patch keeps its
//! values when the sum of the patch is `>= 0` (DReLU of the patch mean, as SecureNN's DReLU is 1
//! at 0) and is zeroed otherwise. `[1, 1]` is plain ReLU; identity channels pass unchanged and
//! zero channels become 0.

use patchwork_core::patch::PatchSize;

/// Applies Block-ReLU with patch size `p` in place to one `h x w` channel.
pub fn block_relu_channel(x: &mut [f32], h: usize, w: usize, p: PatchSize) {
    match p {
        PatchSize::Identity => {}
        PatchSize::Zero => x.iter_mut().for_each(|v| *v = 0.0),
        PatchSize::Block { h: 1, w: 1 } => x.iter_mut().for_each(|v| *v = v.max(0.0)),
        PatchSize::Block { h: ph, w: pw } => {
            let (ph, pw) = (ph as usize, pw as usize);
            for y0 in (0..h).step_by(ph) {
                for x0 in (0..w).step_by(pw) {
                    let (y1, x1) = ((y0 + ph).min(h), (x0 + pw).min(w));
                    let sum: f32 = (y0..y1)
                        .map(|y| x[y * w + x0..y * w + x1].iter().sum::<f32>())
                        .sum();
                    if sum < 0.0 {
                        for y in y0..y1 {
                            x[y * w + x0..y * w + x1].iter_mut().for_each(|v| *v = 0.0);
                        }
                    }
                }
            }
        }
    }
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
