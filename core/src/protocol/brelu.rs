//! Block-ReLU (seed paper, "Block-ReLU (bReLU)"): one DReLU per patch of a channel, on the sign
//! of the patch sum (the sign of the mean, without a division), broadcast to every pixel of the
//! patch. Identity channels pass unchanged and zero channels become zero, both without a DReLU.
//!
//! The patch sums are local. The decision is never expanded to pixel size as shares: P2 holds
//! one `gamma` bit per patch and the multiplication of [`super::sign::multiply`] sends one
//! masked value per pixel and one share per patch, so pixel-sized traffic is `3 * 64` bits.

use alloc::vec;
use alloc::vec::Vec;

use super::drelu::{self, Comparison};
use super::sign;
use crate::party::{check_len, Error, Party};
use crate::patch::PatchSize;
use crate::role::Role;
use crate::transport::Transport;

/// Shape of one activation map: `channels x height x width` (batch 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapShape {
    /// Channels.
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
}

impl MapShape {
    /// Elements in the map.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where the DReLUs of a layer go: for each pixel of a block channel, the index of its patch
/// among all patches of the layer. Kept per block channel (its patch size and first patch), so
/// a plan takes a few words per channel, not per pixel: the secure runner holds the plans of
/// every layer for a whole session, on the firmware too.
pub struct PatchPlan {
    /// Number of patches (DReLUs) in the layer.
    pub patches: usize,
    height: usize,
    width: usize,
    /// `(channel, patch height, patch width, index of the channel's first patch)` for every
    /// block channel, in channel order.
    blocks: Vec<(usize, usize, usize, usize)>,
}

impl PatchPlan {
    /// The plan of a layer of shape `shape` with one patch size per channel.
    pub fn new(shape: MapShape, sizes: &[PatchSize]) -> PatchPlan {
        let (height, width) = (shape.height, shape.width);
        let mut patches = 0usize;
        let mut blocks = Vec::new();
        for (c, &ps) in sizes.iter().enumerate() {
            if let PatchSize::Block { h, w } = ps {
                blocks.push((c, h as usize, w as usize, patches));
                patches += ps.drelu_count(height, width);
            }
        }
        PatchPlan {
            patches,
            height,
            width,
            blocks,
        }
    }

    /// Pixels of the block channels (each belongs to one patch).
    pub fn pixel_count(&self) -> usize {
        self.blocks.len() * self.height * self.width
    }

    /// Calls `f(pixel index in the map, patch index)` for every pixel of a block channel,
    /// channel by channel, row by row; patches are numbered row-major within a channel. Walked
    /// patch column by patch column in plain loops, so no pixel costs a division.
    pub fn for_each_pixel(&self, mut f: impl FnMut(usize, usize)) {
        let (hgt, wid) = (self.height, self.width);
        for &(c, h, w, first) in &self.blocks {
            let across = wid.div_ceil(w);
            for y in 0..hgt {
                let (row, patch) = ((c * hgt + y) * wid, first + y / h * across);
                for j in 0..across {
                    let x0 = j * w;
                    for pix in row + x0..row + (x0 + w).min(wid) {
                        f(pix, patch + j);
                    }
                }
            }
        }
    }

    /// The largest patch of the layer, in pixels (1 when it has none): a channel's first patch
    /// is whole unless the map is smaller than the patch.
    pub fn max_area(&self) -> usize {
        let area =
            |&(_, h, w, _): &(usize, usize, usize, usize)| h.min(self.height) * w.min(self.width);
        self.blocks.iter().map(area).max().unwrap_or(1)
    }
}

/// A Block-ReLU layer resolved once: its map, one patch size per channel (each checked to fit)
/// and the plan of its patches. The secure runner resolves its layers at set-up; [`block_relu`]
/// resolves one per call.
pub struct BlockReluLayer {
    shape: MapShape,
    sizes: Vec<PatchSize>,
    plan: PatchPlan,
}

impl BlockReluLayer {
    /// Checks `sizes` (one per channel, each fitting the map) and plans the patches.
    pub fn new<E>(shape: MapShape, sizes: &[PatchSize]) -> Result<BlockReluLayer, Error<E>> {
        check_len(
            "Block-ReLU patch sizes (one per channel)",
            shape.channels,
            sizes.len(),
        )?;
        if let Some(channel) = sizes
            .iter()
            .position(|s| !s.fits(shape.height, shape.width))
        {
            let (height, width) = (shape.height, shape.width);
            return Err(Error::PatchTooLarge {
                channel,
                patch: sizes[channel].to_pair(),
                height,
                width,
            });
        }
        Ok(BlockReluLayer {
            shape,
            sizes: sizes.to_vec(),
            plan: PatchPlan::new(shape, sizes),
        })
    }

    /// The map the layer applies to.
    pub fn shape(&self) -> MapShape {
        self.shape
    }

    /// The patch size of each channel.
    pub fn sizes(&self) -> &[PatchSize] {
        &self.sizes
    }

    /// Where the layer's DReLUs go.
    pub fn plan(&self) -> &PatchPlan {
        &self.plan
    }

    /// Shares of Block-ReLU of the map `x` (`shape.len()` shares; P2 passes zeros), the patch
    /// sums compared with `cmp` (a pixel's setting widened for the largest patch,
    /// [`Comparison::for_patch`], or a window calibrated on the sums). 3 rounds when any
    /// channel is a block channel, none otherwise.
    pub fn apply<T: Transport>(
        &self,
        p: &mut Party<T>,
        x: &[u64],
        cmp: Comparison,
    ) -> Result<Vec<u64>, Error<T::Error>> {
        cmp.check()?;
        let (shape, plan) = (self.shape, &self.plan);
        check_len("Block-ReLU input", shape.len(), x.len())?;
        let hw = shape.height * shape.width;
        let mut out = vec![0u64; x.len()];
        if p.role() != Role::P2 {
            for (c, &ps) in self.sizes.iter().enumerate() {
                if ps == PatchSize::Identity {
                    out[c * hw..(c + 1) * hw].copy_from_slice(&x[c * hw..(c + 1) * hw]);
                }
            }
        }
        if plan.patches == 0 {
            return Ok(out);
        }
        let step = p.begin_step();
        let holder = p.role() != Role::P2;
        let mut sums = vec![0u64; plan.patches];
        let mut values = Vec::with_capacity(if holder { plan.pixel_count() } else { 0 });
        let mut decision = Vec::with_capacity(plan.pixel_count());
        plan.for_each_pixel(|pix, k| {
            decision.push(k as u32);
            if holder {
                sums[k] = sums[k].wrapping_add(x[pix]);
                values.push(x[pix]);
            }
        });
        let Some(split) = drelu::split(p, step, &sums, cmp)? else {
            return Ok(out);
        };
        let product = sign::multiply(p, step, &split, &values, &decision)?;
        if holder {
            let mut next = 0;
            plan.for_each_pixel(|pix, _| {
                out[pix] = product[next];
                next += 1;
            });
        }
        Ok(out)
    }
}

/// Shares of Block-ReLU of the map `x` (`shape.len()` shares; P2 passes zeros) with one patch
/// size per channel, resolving the layer for this call (see [`BlockReluLayer`]); `cmp` is the
/// pixel's setting, widened for the layer's largest patch.
pub fn block_relu<T: Transport>(
    p: &mut Party<T>,
    x: &[u64],
    shape: MapShape,
    sizes: &[PatchSize],
    cmp: Comparison,
) -> Result<Vec<u64>, Error<T::Error>> {
    cmp.check()?;
    check_len("Block-ReLU input", shape.len(), x.len())?;
    let layer = BlockReluLayer::new(shape, sizes)?;
    let sums = cmp.for_patch(layer.plan().max_area());
    layer.apply(p, x, sums)
}
