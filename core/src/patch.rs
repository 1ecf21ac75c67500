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
    Block { h: u16, w: u16 },
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

/// Index of the patch that holds pixel `(y, x)` of a channel cut with `h x w` patches, in
/// row-major patch order.
pub fn patch_index(y: usize, x: usize, width: usize, h: usize, w: usize) -> usize {
    (y / h) * width.div_ceil(w) + x / w
}
