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
use crate::patch::{patch_index, PatchSize};
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
/// among all patches of the layer.
pub struct PatchPlan {
    /// Number of patches (DReLUs) in the layer.
    pub patches: usize,
    /// `(pixel index in the map, patch index)` for every pixel of a block channel.
    pub pixels: Vec<(u32, u32)>,
}

impl PatchPlan {
    /// The largest patch of the layer, in pixels (1 when it has none).
    pub fn max_area(&self) -> usize {
        let mut area = vec![0usize; self.patches];
        self.pixels.iter().for_each(|&(_, k)| area[k as usize] += 1);
        area.into_iter().max().unwrap_or(1)
    }

    /// The plan of a layer of shape `shape` with one patch size per channel.
    pub fn new(shape: MapShape, sizes: &[PatchSize]) -> PatchPlan {
        let (hgt, wid) = (shape.height, shape.width);
        let mut patches = 0usize;
        let mut pixels = Vec::new();
        for (c, &ps) in sizes.iter().enumerate() {
            if let PatchSize::Block { h, w } = ps {
                let base = c * hgt * wid;
                for y in 0..hgt {
                    for x in 0..wid {
                        let k = patches + patch_index(y, x, wid, h as usize, w as usize);
                        pixels.push(((base + y * wid + x) as u32, k as u32));
                    }
                }
                patches += ps.drelu_count(hgt, wid);
            }
        }
        PatchPlan { patches, pixels }
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

    /// Shares of Block-ReLU of the map `x` (`shape.len()` shares; P2 passes zeros). 3 rounds
    /// when any channel is a block channel, none otherwise.
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
        let mut values = Vec::with_capacity(if holder { plan.pixels.len() } else { 0 });
        if holder {
            for &(pix, k) in &plan.pixels {
                let v = x[pix as usize];
                sums[k as usize] = sums[k as usize].wrapping_add(v);
                values.push(v);
            }
        }
        let split = drelu::split(p, step, &sums, cmp.for_patch(plan.max_area()))?;
        let decision: Vec<u32> = plan.pixels.iter().map(|&(_, k)| k).collect();
        let product = sign::multiply(p, step, &split, &values, &decision)?;
        if holder {
            for (&(pix, _), v) in plan.pixels.iter().zip(product) {
                out[pix as usize] = v;
            }
        }
        Ok(out)
    }
}

/// Shares of Block-ReLU of the map `x` (`shape.len()` shares; P2 passes zeros) with one patch
/// size per channel, resolving the layer for this call (see [`BlockReluLayer`]).
pub fn block_relu<T: Transport>(
    p: &mut Party<T>,
    x: &[u64],
    shape: MapShape,
    sizes: &[PatchSize],
    cmp: Comparison,
) -> Result<Vec<u64>, Error<T::Error>> {
    cmp.check()?;
    check_len("Block-ReLU input", shape.len(), x.len())?;
    BlockReluLayer::new(shape, sizes)?.apply(p, x, cmp)
}
