//! Block-ReLU patch sizes and the patch layout of one channel (seed paper, "Block-ReLU (bReLU)").
//!
//! A channel of an `H x W` activation map is cut into `ph x pw` patches starting at the top-left
//! corner; the last patch of a row or column is smaller when `ph` or `pw` does not divide the map
//! ("ragged edge patches"). One DReLU decides the whole patch.

/// The Block-ReLU setting of one channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchSize {
    /// No DReLU: the channel passes through unchanged (the seed writes it `[0, 1]`).
    Identity,
    /// No DReLU: the channel is set to zero (the seed writes it `[1, 0]`).
    Zero,
    /// One DReLU per `h x w` patch; `(1, 1)` is a plain ReLU.
    Block {
        /// Patch height.
        h: u16,
        /// Patch width.
        w: u16,
    },
}

impl PatchSize {
    /// Plain ReLU, one DReLU per element.
    pub const RELU: PatchSize = PatchSize::Block { h: 1, w: 1 };

    /// Parses the `[ph, pw]` pair of the spec format: `[0, 1]` identity, `[1, 0]` zero,
    /// otherwise both must be at least 1.
    pub fn from_pair(ph: u32, pw: u32) -> Option<PatchSize> {
        match (ph, pw) {
            (0, 1) => Some(PatchSize::Identity),
            (1, 0) => Some(PatchSize::Zero),
            (h, w) if h >= 1 && w >= 1 && h <= u16::MAX as u32 && w <= u16::MAX as u32 => {
                Some(PatchSize::Block {
                    h: h as u16,
                    w: w as u16,
                })
            }
            _ => None,
        }
    }

    /// The `[ph, pw]` pair of the spec format.
    pub fn to_pair(self) -> [u32; 2] {
        match self {
            PatchSize::Identity => [0, 1],
            PatchSize::Zero => [1, 0],
            PatchSize::Block { h, w } => [h as u32, w as u32],
        }
    }

    /// DReLUs this setting costs on an `height x width` map: `ceil(H/ph) * ceil(W/pw)`, and 0
    /// for identity and zero channels.
    pub fn drelu_count(self, height: usize, width: usize) -> usize {
        match self {
            PatchSize::Identity | PatchSize::Zero => 0,
            PatchSize::Block { h, w } => height.div_ceil(h as usize) * width.div_ceil(w as usize),
        }
    }

    /// Whether the patch fits in an `height x width` map.
    pub fn fits(self, height: usize, width: usize) -> bool {
        match self {
            PatchSize::Identity | PatchSize::Zero => true,
            PatchSize::Block { h, w } => h as usize <= height && w as usize <= width,
        }
    }
}

/// Plaintext Block-ReLU of one image, in place: `x` is `C x height x width` (channel-major) and
/// `patches` has one entry per channel. For each patch, the sign of the patch sum decides
/// whether the whole patch passes (sum >= 0) or becomes zero; identity channels pass, zero
/// channels become zero. This is the reference the secure [`crate::protocol::brelu`] step and the
/// float engine follow.
pub fn block_relu_in_place<T>(
    x: &mut [T],
    height: usize,
    width: usize,
    patches: &[PatchSize],
    nonneg: impl Fn(T) -> bool,
) where
    T: Copy + Default + core::ops::Add<Output = T>,
{
    let hw = height * width;
    for (channel, &ps) in x.chunks_mut(hw).zip(patches) {
        match ps {
            PatchSize::Identity => {}
            PatchSize::Zero => channel.fill(T::default()),
            PatchSize::Block { h, w } => {
                let (h, w) = (h as usize, w as usize);
                for py in (0..height).step_by(h) {
                    for px in (0..width).step_by(w) {
                        let rows = py..(py + h).min(height);
                        let cols = px..(px + w).min(width);
                        let mut sum = T::default();
                        for y in rows.clone() {
                            for xx in cols.clone() {
                                sum = sum + channel[y * width + xx];
                            }
                        }
                        if !nonneg(sum) {
                            for y in rows.clone() {
                                channel[y * width + cols.start..y * width + cols.end]
                                    .fill(T::default());
                            }
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
    fn drelu_counts_with_ragged_edges() {
        assert_eq!(PatchSize::RELU.drelu_count(5, 7), 35);
        assert_eq!(PatchSize::Block { h: 2, w: 3 }.drelu_count(5, 7), 3 * 3);
        assert_eq!(PatchSize::Identity.drelu_count(5, 7), 0);
        assert_eq!(PatchSize::Zero.drelu_count(5, 7), 0);
        assert_eq!(PatchSize::from_pair(0, 1), Some(PatchSize::Identity));
        assert_eq!(PatchSize::from_pair(1, 0), Some(PatchSize::Zero));
        assert_eq!(PatchSize::from_pair(0, 0), None);
    }

    #[test]
    fn plaintext_block_relu_decides_per_patch() {
        // One 3x3 channel, 2x2 patches: sums are (1-5+2+1)=-1 | (3+4)=7 | (-1+2)=1 | (-9)=-9.
        let mut x = [1i64, -5, 3, 2, 1, 4, -1, 2, -9];
        block_relu_in_place(&mut x, 3, 3, &[PatchSize::Block { h: 2, w: 2 }], |s| s >= 0);
        assert_eq!(x, [0, 0, 3, 0, 0, 4, -1, 2, 0]);
        let mut y = [1i64, -2, 3, 4];
        block_relu_in_place(&mut y, 1, 2, &[PatchSize::Identity, PatchSize::Zero], |s| {
            s >= 0
        });
        assert_eq!(y, [1, -2, 0, 0]);
    }
}
