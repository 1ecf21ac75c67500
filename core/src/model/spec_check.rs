//! Checking a Block-ReLU [`Spec`] against a [`Model`], and counting its DReLUs.
//!
//! A spec names ReLU and ReLU6 nodes ([`super::Op::takes_patches`]; a ReLU6 layer is the Block-ReLU
//! followed by the clamp at 6); each named layer must give exactly one patch size per channel. A
//! `Block { h, w }` larger than the layer's `H x W` map (a spec planned at another image size)
//! is clamped to the map ([`clamped_patches`] lists where, for a note). A rank-2 ReLU input
//! `[1, F]` counts as `F` channels of size 1x1. Layers the spec does not name keep plain ReLU
//! (ReLU6).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::Model;
use crate::patch::PatchSize;
use crate::protocol::drelu::Comparison;
use crate::spec::{Calibration, Spec};

/// Why a spec does not fit a model.
#[derive(Clone, Debug, PartialEq)]
pub enum SpecError {
    /// The spec names a layer that is not a node of the model.
    UnknownLayer {
        /// The layer's name.
        layer: String,
    },
    /// The spec names a node that is not a ReLU or ReLU6.
    NotRelu {
        /// The layer's name.
        layer: String,
        /// The operator.
        op: &'static str,
    },
    /// The spec names the same layer twice.
    DuplicateLayer {
        /// The layer's name.
        layer: String,
    },
    /// The number of patch sizes differs from the layer's channel count.
    ChannelCount {
        /// The layer's name.
        layer: String,
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
    /// The ReLU's input has a rank other than 2 or 4.
    UnsupportedRank {
        /// The layer's name.
        layer: String,
        /// The rank found.
        rank: usize,
    },
    /// A calibrated window names a node that is missing, does not compare, or is named twice,
    /// or leaves fewer than 2 bits, or records a range that is not a magnitude.
    BadWindow {
        /// The node's name.
        layer: String,
        /// What is wrong.
        reason: String,
    },
    /// The windows were counted at other fractional bits than the run uses.
    WindowFracBits {
        /// The calibration's fractional bits.
        calibrated: u32,
        /// The run's.
        running: u32,
    },
    /// A fixed comparison cannot hold the range the calibration recorded for a layer: its
    /// comparisons would wrap.
    WindowTooNarrow {
        /// The node's name.
        layer: String,
        /// The largest magnitude measured (real units).
        max_abs: f64,
        /// The run's setting.
        setting: Comparison,
        /// The setting as the layer runs it (widened for a Block-ReLU's largest patch).
        window: Comparison,
        /// The largest magnitude that comparison reads right.
        covers: f64,
    },
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::UnknownLayer { layer } => {
                write!(f, "spec layer '{layer}': no node of that name in the model")
            }
            SpecError::NotRelu { layer, op } => {
                write!(
                    f,
                    "spec layer '{layer}': node is a {op}, expected Relu or Relu6"
                )
            }
            SpecError::DuplicateLayer { layer } => {
                write!(f, "spec layer '{layer}': named more than once")
            }
            SpecError::ChannelCount {
                layer,
                expected,
                found,
            } => write!(
                f,
                "spec layer '{layer}': {found} patch sizes, expected {expected} (one per channel)"
            ),
            SpecError::UnsupportedRank { layer, rank } => {
                write!(
                    f,
                    "spec layer '{layer}': ReLU input has rank {rank}, expected 2 or 4"
                )
            }
            SpecError::BadWindow { layer, reason } => {
                write!(f, "calibrated window of '{layer}': {reason}")
            }
            SpecError::WindowFracBits {
                calibrated,
                running,
            } => write!(
                f,
                "the spec's windows were calibrated at {calibrated} fractional bits, the run \
                 uses {running}: run with --frac-bits {calibrated}, or calibrate again at \
                 {running}"
            ),
            SpecError::WindowTooNarrow {
                layer,
                max_abs,
                setting,
                window,
                covers,
            } => {
                write!(
                    f,
                    "layer '{layer}': its comparisons reach |x| = {max_abs:.4} on the \
                     calibration data, but {setting}"
                )?;
                if window != setting {
                    write!(f, " (for this layer's patch sums: {window})")?;
                }
                write!(
                    f,
                    " holds only |x| <= {covers:.4} at these fractional bits; its results \
                     would be wrong. Use the calibrated windows (--approx auto), fewer high \
                     bits ignored, or exact DReLU"
                )
            }
        }
    }
}

impl core::error::Error for SpecError {}

/// DReLU counts of one ReLU or ReLU6 layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerDrelus {
    /// The ReLU node name.
    pub name: String,
    /// Channels of the layer.
    pub channels: usize,
    /// `[H, W]` of the map.
    pub map: [usize; 2],
    /// DReLUs of plain ReLU: `C * H * W` (ReLU6: twice that, for the clamp at 6).
    pub plain: usize,
    /// DReLUs under the spec.
    pub with_spec: usize,
    /// DReLUs of a ReLU6's clamp at 6 (one per element, whatever the patches; 0 for a ReLU),
    /// counted in `plain` and `with_spec`.
    pub clamp: usize,
    /// Channels set to identity / zero.
    pub identity_channels: usize,
    /// Channels the spec sets to zero.
    pub zero_channels: usize,
}

impl LayerDrelus {
    /// `with_spec / plain` (1.0 for plain ReLU).
    pub fn ratio(&self) -> f64 {
        if self.plain == 0 {
            1.0
        } else {
            self.with_spec as f64 / self.plain as f64
        }
    }
}

/// Per-layer and total DReLU counts of a model under a spec.
#[derive(Clone, Debug, PartialEq)]
pub struct DreluSummary {
    /// Every ReLU and ReLU6 layer, in model order.
    pub layers: Vec<LayerDrelus>,
}

impl DreluSummary {
    /// Total DReLUs of plain ReLU.
    pub fn plain(&self) -> usize {
        self.layers.iter().map(|l| l.plain).sum()
    }

    /// Total DReLUs under the spec.
    pub fn with_spec(&self) -> usize {
        self.layers.iter().map(|l| l.with_spec).sum()
    }

    /// Total ratio `with_spec / plain`.
    pub fn ratio(&self) -> f64 {
        let plain = self.plain();
        if plain == 0 {
            1.0
        } else {
            self.with_spec() as f64 / plain as f64
        }
    }
}

/// Patch sizes per channel, with the layer's `(C, H, W)`.
pub type LayerPatches = (Vec<PatchSize>, (usize, usize, usize));

/// The patch sizes of every channel of a ReLU or ReLU6 node under `spec` (1x1 if unnamed), with
/// `(C, H, W)`. Fails if the node's input shape has an unsupported rank.
pub fn relu_layer_patches(
    model: &Model,
    node_index: usize,
    spec: &Spec,
) -> Result<LayerPatches, SpecError> {
    let node = &model.nodes[node_index];
    let shape = model.shape(node.output);
    let (c, h, w) = shape.channels_and_map().ok_or(SpecError::UnsupportedRank {
        layer: node.name.clone(),
        rank: shape.0.len(),
    })?;
    let patches = match spec.layer(&node.name) {
        Some(layer) => layer.patch_sizes.iter().map(|&p| clamp(p, h, w)).collect(),
        None => alloc::vec![PatchSize::RELU; c],
    };
    Ok((patches, (c, h, w)))
}

/// Whether a layer of `op` with these patches is a plain ReLU6, which the secure runner
/// evaluates in one step as `ReLU(x) - ReLU(x - 6)` (comparing `x` and `x - 6`) rather than as a
/// Block-ReLU and then the clamp at 6 (comparing patch sums, then `BlockReLU(x) - 6`).
pub fn plain_relu6(op: &super::Op, patches: &[PatchSize]) -> bool {
    op.cap().is_some() && patches.iter().all(|&p| p == PatchSize::RELU)
}

/// A patch cut to an `h x w` map: one patch covers at most the whole map.
fn clamp(p: PatchSize, h: usize, w: usize) -> PatchSize {
    match p {
        PatchSize::Block { h: ph, w: pw } => PatchSize::Block {
            h: ph.min(h.try_into().unwrap_or(u16::MAX)),
            w: pw.min(w.try_into().unwrap_or(u16::MAX)),
        },
        other => other,
    }
}

/// A spec layer some of whose patches were larger than its map and were clamped to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clamped {
    /// The layer's name.
    pub layer: String,
    /// How many channels' patches were clamped.
    pub channels: usize,
    /// The map `[H, W]`.
    pub map: [usize; 2],
}

impl fmt::Display for Clamped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spec layer '{}': {} channels' patches are larger than the {}x{} map and were \
             clamped to it (a spec planned at another image size?)",
            self.layer, self.channels, self.map[0], self.map[1]
        )
    }
}

/// The spec layers whose patches [`relu_layer_patches`] clamps to the map, for a note.
pub fn clamped_patches(model: &Model, spec: &Spec) -> Vec<Clamped> {
    let mut out = Vec::new();
    for layer in &spec.layers {
        let Some(node) = model.node(&layer.name) else {
            continue;
        };
        let Some((_, h, w)) = model.shape(node.output).channels_and_map() else {
            continue;
        };
        let channels = layer.patch_sizes.iter().filter(|p| !p.fits(h, w)).count();
        if channels > 0 {
            out.push(Clamped {
                layer: layer.name.clone(),
                channels,
                map: [h, w],
            });
        }
    }
    out
}

/// Checks every layer of `spec` against `model`: the name exists and is a ReLU or ReLU6, it appears
/// once, and it has one patch size per channel (patches larger than the map are clamped).
pub fn validate_spec(model: &Model, spec: &Spec) -> Result<(), SpecError> {
    for (i, layer) in spec.layers.iter().enumerate() {
        if spec.layers[..i].iter().any(|l| l.name == layer.name) {
            return Err(SpecError::DuplicateLayer {
                layer: layer.name.clone(),
            });
        }
        let Some(index) = model.nodes.iter().position(|n| n.name == layer.name) else {
            return Err(SpecError::UnknownLayer {
                layer: layer.name.clone(),
            });
        };
        let node = &model.nodes[index];
        if !node.op.takes_patches() {
            return Err(SpecError::NotRelu {
                layer: layer.name.clone(),
                op: node.op.kind(),
            });
        }
        let (patches, (c, _, _)) = relu_layer_patches(model, index, spec)?;
        if patches.len() != c {
            return Err(SpecError::ChannelCount {
                layer: layer.name.clone(),
                expected: c,
                found: patches.len(),
            });
        }
    }
    match &spec.calibration {
        Some(calibration) => validate_windows(model, calibration),
        None => Ok(()),
    }
}

/// Checks every calibrated window: it names a comparing node (Relu, Relu6 or MaxPool) once,
/// leaves at least 2 bits, and records a finite, non-negative range.
fn validate_windows(model: &Model, calibration: &Calibration) -> Result<(), SpecError> {
    for (i, window) in calibration.windows.iter().enumerate() {
        let bad = |reason: String| SpecError::BadWindow {
            layer: window.name.clone(),
            reason,
        };
        if calibration.windows[..i]
            .iter()
            .any(|w| w.name == window.name)
        {
            return Err(bad(String::from("named more than once")));
        }
        let node = model
            .node(&window.name)
            .ok_or_else(|| bad(String::from("no node of that name in the model")))?;
        if !node.op.compares() {
            return Err(bad(alloc::format!(
                "node is a {}, which makes no comparison (expected Relu, Relu6 or MaxPool)",
                node.op.kind()
            )));
        }
        if window.k_msb.saturating_add(window.k_lsb) > 62 {
            return Err(bad(alloc::format!(
                "k_msb {} + k_lsb {} leaves fewer than 2 bits",
                window.k_msb,
                window.k_lsb
            )));
        }
        if !(window.max_abs.is_finite() && window.max_abs >= 0.0) {
            return Err(bad(alloc::format!(
                "max_abs {} is not a magnitude",
                window.max_abs
            )));
        }
    }
    Ok(())
}

/// A spec checked against a model once ([`validate_spec`]) and resolved for every node: the
/// patch size of each channel of each ReLU and ReLU6 (1x1 where the spec is silent) with its map.
/// The float reference and the secure runner take this, so neither checks a spec per image.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedSpec {
    layers: Vec<Option<LayerPatches>>,
    calibration: Option<Calibration>,
}

impl ResolvedSpec {
    /// Checks `spec` against `model` and resolves every ReLU and ReLU6 node.
    pub fn new(model: &Model, spec: &Spec) -> Result<ResolvedSpec, SpecError> {
        validate_spec(model, spec)?;
        let layers = (0..model.nodes.len())
            .map(|i| {
                if model.nodes[i].op.takes_patches() {
                    relu_layer_patches(model, i, spec).map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(ResolvedSpec {
            layers,
            calibration: spec.calibration.clone(),
        })
    }

    /// The spec's calibrated windows (checked to name comparing nodes), if any.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// Plain ReLU everywhere (the empty spec).
    pub fn plain(model: &Model) -> Result<ResolvedSpec, SpecError> {
        ResolvedSpec::new(model, &Spec::default())
    }

    /// `spec` when there is one, else plain ReLU everywhere.
    pub fn of(model: &Model, spec: Option<&Spec>) -> Result<ResolvedSpec, SpecError> {
        match spec {
            Some(spec) => ResolvedSpec::new(model, spec),
            None => ResolvedSpec::plain(model),
        }
    }

    /// The patch sizes and `(C, H, W)` of node `index`, if it is a ReLU or ReLU6.
    pub fn layer(&self, index: usize) -> Option<&LayerPatches> {
        self.layers.get(index).and_then(Option::as_ref)
    }

    /// The patch sizes of every node (`None` for nodes that take none), for the program.
    pub fn patches(&self) -> impl Iterator<Item = Option<&[PatchSize]>> {
        self.layers
            .iter()
            .map(|l| l.as_ref().map(|(patches, _)| patches.as_slice()))
    }
}

/// Validates `spec` and counts DReLUs of every ReLU and ReLU6 layer with and without it. A
/// ReLU6 layer also counts its clamp at 6, one DReLU per element whatever its patches.
pub fn drelu_summary(model: &Model, spec: &Spec) -> Result<DreluSummary, SpecError> {
    validate_spec(model, spec)?;
    let mut layers = Vec::new();
    for (index, node) in model.nodes.iter().enumerate() {
        if !node.op.takes_patches() {
            continue;
        }
        let (patches, (c, h, w)) = relu_layer_patches(model, index, spec)?;
        let clamp = if node.op.cap().is_some() {
            c * h * w
        } else {
            0
        };
        layers.push(LayerDrelus {
            name: node.name.clone(),
            channels: c,
            map: [h, w],
            plain: c * h * w + clamp,
            with_spec: patches.iter().map(|p| p.drelu_count(h, w)).sum::<usize>() + clamp,
            clamp,
            identity_channels: patches
                .iter()
                .filter(|p| **p == PatchSize::Identity)
                .count(),
            zero_channels: patches.iter().filter(|p| **p == PatchSize::Zero).count(),
        });
    }
    Ok(DreluSummary { layers })
}
