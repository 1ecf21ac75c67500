//! Synthetic distortion tables with the layer shapes of the seed paper's networks (ResNet50 on
//! ImageNet, ResNet18 on CIFAR-100), for tests and benchmarks of the knapsack solver. The
//! distortions are made up: they grow with the patch area (roughly like its logarithm), vary by
//! channel sensitivity and carry multiplicative noise, so the hulls are not convex; a few channels
//! are "homogeneous" (seed paper, "Homogeneous Channels") and make the identity cheap.

use patchwork_core::patch::PatchSize;
use patchwork_core::splitmix::SplitMix64;

use crate::table::{DistortionTable, LayerTable};

/// A ReLU layer's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    /// The layer's name.
    pub name: String,
    /// Channels.
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
}

fn shape(name: String, channels: usize, side: usize) -> Shape {
    Shape {
        name,
        channels,
        height: side,
        width: side,
    }
}

/// The 49 ReLU layers of torchvision's ResNet50 on a 224x224 input: 22,720 channels,
/// 9,608,704 ReLUs.
pub fn resnet50_imagenet() -> Vec<Shape> {
    let mut out = vec![shape("stem_relu".into(), 64, 112)];
    // (blocks, width, input side, output side) per stage; the stride sits in conv2.
    let stages = [
        (3, 64, 56, 56),
        (4, 128, 56, 28),
        (6, 256, 28, 14),
        (3, 512, 14, 7),
    ];
    for (s, &(blocks, width, side_in, side)) in stages.iter().enumerate() {
        for b in 0..blocks {
            let first_side = if b == 0 { side_in } else { side };
            let p = format!("layer{}.{b}", s + 1);
            out.push(shape(format!("{p}.relu1"), width, first_side));
            out.push(shape(format!("{p}.relu2"), width, side));
            out.push(shape(format!("{p}.relu3"), 4 * width, side));
        }
    }
    out
}

/// The 17 ReLU layers of ResNet18 on a 32x32 CIFAR input: 3,904 channels, 557,056 ReLUs.
pub fn resnet18_cifar() -> Vec<Shape> {
    let mut out = vec![shape("stem_relu".into(), 64, 32)];
    for (s, &(width, side)) in [(64, 32), (128, 16), (256, 8), (512, 4)].iter().enumerate() {
        for b in 0..2 {
            for r in 1..=2 {
                out.push(shape(format!("layer{}.{b}.relu{r}", s + 1), width, side));
            }
        }
    }
    out
}

/// Candidate patch sizes of an `h x w` map: identity, zero, and every block `ph x pw` with
/// `ph, pw` in `{1..8, 10, 12}` with area at most 100 that fits (99 candidates on maps of 12x12
/// and larger).
pub fn candidate_patch_sizes(height: usize, width: usize) -> Vec<PatchSize> {
    const SIDES: [u16; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12];
    let mut out = vec![PatchSize::Identity, PatchSize::Zero];
    for &h in &SIDES {
        for &w in &SIDES {
            let p = PatchSize::Block { h, w };
            if h * w <= 100 && p.fits(height, width) {
                out.push(p);
            }
        }
    }
    out
}

/// A synthetic table for `shapes`, reproducible from `seed`, with 10% multiplicative noise.
pub fn table(shapes: &[Shape], seed: u64) -> DistortionTable {
    table_with_noise(shapes, seed, 0.1)
}

/// A synthetic table whose block distortions carry multiplicative noise of standard deviation
/// `noise` (larger noise: less convex hulls, a harder knapsack).
pub fn table_with_noise(shapes: &[Shape], seed: u64, noise: f64) -> DistortionTable {
    let mut rng = SplitMix64(seed);
    let layers = shapes
        .iter()
        .map(|s| {
            let patch_sizes = candidate_patch_sizes(s.height, s.width);
            let layer_scale = (0.5 * rng.normal()).exp();
            let map_log = ((s.height * s.width) as f64).ln();
            let distortion = (0..s.channels)
                .map(|_| {
                    let sens = layer_scale * (0.8 * rng.normal()).exp();
                    let homogeneous = rng.uniform() < 0.05;
                    patch_sizes
                        .iter()
                        .map(|p| match *p {
                            PatchSize::Identity if homogeneous => {
                                sens * map_log * rng.range(0.01, 0.3)
                            }
                            PatchSize::Identity => sens * map_log * rng.range(0.5, 3.0),
                            PatchSize::Zero => sens * map_log * rng.range(0.8, 4.0),
                            PatchSize::Block { h: 1, w: 1 } => 0.0,
                            PatchSize::Block { h, w } => {
                                let (h, w) = (h as f64, w as f64);
                                let aspect = 1.0 + 0.15 * (h - w).abs() / (h + w);
                                let factor = (1.0 + noise * rng.normal()).max(0.05);
                                sens * (h * w).ln() * aspect * factor
                            }
                        })
                        .collect()
                })
                .collect();
            LayerTable {
                name: s.name.clone(),
                channels: s.channels,
                height: s.height,
                width: s.width,
                patch_sizes,
                distortion,
            }
        })
        .collect();
    DistortionTable { layers }
}

/// A structure-free table for stress tests: plain ReLU costs 0, every other candidate a uniform
/// random distortion in `[0, sensitivity * ln(H W))`, so the per-channel curves are far from convex.
pub fn unstructured_table(shapes: &[Shape], seed: u64) -> DistortionTable {
    let mut rng = SplitMix64(seed);
    let layers = shapes
        .iter()
        .map(|s| {
            let patch_sizes = candidate_patch_sizes(s.height, s.width);
            let top = ((s.height * s.width) as f64).ln();
            let distortion = (0..s.channels)
                .map(|_| {
                    let sens = (0.8 * rng.normal()).exp();
                    patch_sizes
                        .iter()
                        .map(|p| match p {
                            &PatchSize::RELU => 0.0,
                            _ => sens * rng.range(0.0, top),
                        })
                        .collect()
                })
                .collect();
            LayerTable {
                name: s.name.clone(),
                channels: s.channels,
                height: s.height,
                width: s.width,
                patch_sizes,
                distortion,
            }
        })
        .collect();
    DistortionTable { layers }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet_shapes_match_the_brief() {
        let r50 = resnet50_imagenet();
        let relus: usize = r50.iter().map(|s| s.channels * s.height * s.width).sum();
        assert_eq!(relus, 9_608_704);
        assert_eq!(r50.iter().map(|s| s.channels).sum::<usize>(), 22_720);
        let r18 = resnet18_cifar();
        let relus: usize = r18.iter().map(|s| s.channels * s.height * s.width).sum();
        assert_eq!(relus, 557_056);
    }

    #[test]
    fn synthetic_tables_validate() {
        let t = table(&resnet18_cifar()[..3], 7);
        t.validate().unwrap();
        assert_eq!(t.layers[0].patch_sizes.len(), 99);
    }
}
