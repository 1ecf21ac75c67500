//! The Block-ReLU spec: for each ReLU layer (named by its ONNX node), the patch size of every
//! channel (seed paper, "Block-ReLU (bReLU)"; the planner's knapsack output).
//!
//! JSON form (with the `serde` feature):
//! `{"layers": [{"name": "relu_3", "patch_sizes": [[1, 1], [2, 2], [0, 1], [1, 0], ...]}]}`
//! where `[1, 1]` is plain ReLU, `[0, 1]` an identity channel and `[1, 0]` a zero channel.
//! Checking a spec against a model (layer names, channel counts, map sizes) is the model
//! loader's job, which knows the shapes. A spec may also carry calibrated approximate-DReLU
//! windows per comparing layer ([`Calibration`]).

use alloc::string::String;
use alloc::vec::Vec;

use crate::patch::PatchSize;
use crate::protocol::drelu::Comparison;

/// Patch sizes of every channel of one ReLU layer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LayerSpec {
    /// The ONNX node name of the ReLU.
    pub name: String,
    /// One entry per channel.
    pub patch_sizes: Vec<PatchSize>,
}

/// A Block-ReLU spec for a whole model. Layers not named keep plain ReLU.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Spec {
    /// The ReLU layers it names; layers it does not name stay plain ReLU.
    pub layers: Vec<LayerSpec>,
    /// The approximate-DReLU windows calibrated on data for this model and these patches
    /// (`patchwork plan calibrate`), if any.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub calibration: Option<Calibration>,
}

/// Approximate-DReLU windows per comparing layer, measured on data (seed paper, "Approximate
/// DReLU": the comparison keeps bits `k_lsb .. 64 - k_msb`; the paper fixed (43, 5) for its
/// trained ResNet50, a window a user's network need not fit).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Calibration {
    /// Fractional bits of the fixed point the windows are counted in.
    pub frac_bits: u32,
    /// Headroom: the window holds `margin` times the largest magnitude measured.
    pub margin: f64,
    /// The error budget per layer: the expected fraction of comparisons the dropped low bits
    /// may flip, on the calibration data.
    pub max_error: f64,
    /// Images the ranges were measured on.
    pub images: usize,
    /// The digest of the model (architecture and weights) they were measured on, if recorded:
    /// a model's ranges are not another's, so the party with the weights refuses a mismatch.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub model_digest: Option<alloc::string::String>,
    /// One window per comparing node (ReLU or Block-ReLU, ReLU6, MaxPool).
    pub windows: Vec<LayerWindow>,
}

/// The window of one comparing node and the range it was chosen from.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LayerWindow {
    /// The ONNX node name (a Relu, Relu6 or MaxPool node).
    pub name: String,
    /// High bits ignored.
    pub k_msb: u32,
    /// Low bits ignored.
    pub k_lsb: u32,
    /// The largest magnitude the node's comparisons saw, in real units: for a Block-ReLU the
    /// patch sums, for ReLU6 `x` and `x - 6`, for MaxPool the differences it compares. This
    /// and the statistics below are P1's; a copy of the spec without them reads them as 0.
    #[cfg_attr(feature = "serde", serde(default))]
    pub max_abs: f64,
    /// The 99.9% quantile of those magnitudes.
    #[cfg_attr(feature = "serde", serde(default))]
    pub q999: f64,
    /// Comparisons measured.
    #[cfg_attr(feature = "serde", serde(default))]
    pub count: u64,
    /// The expected fraction of those comparisons that the window gets wrong (only values in
    /// `[0, 2^k_lsb)` can be, each with the probability of the carry the shares drop).
    #[cfg_attr(feature = "serde", serde(default))]
    pub error_rate: f64,
}

impl LayerWindow {
    /// The comparison this window runs.
    pub fn comparison(&self) -> Comparison {
        Comparison::Approx {
            k_msb: self.k_msb,
            k_lsb: self.k_lsb,
        }
    }
}

impl Calibration {
    /// The window of a node, if calibrated.
    pub fn window(&self, name: &str) -> Option<&LayerWindow> {
        self.windows.iter().find(|w| w.name == name)
    }
}

impl Spec {
    /// The layer spec for a ReLU node, if the spec names it.
    pub fn layer(&self, name: &str) -> Option<&LayerSpec> {
        self.layers.iter().find(|l| l.name == name)
    }
}

#[cfg(feature = "serde")]
mod pair_serde {
    use super::PatchSize;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    impl Serialize for PatchSize {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            self.to_pair().serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for PatchSize {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let [h, w] = <[u32; 2]>::deserialize(d)?;
            PatchSize::from_pair(h, w).ok_or_else(|| {
                D::Error::custom(alloc::format!(
                    "invalid patch size [{h}, {w}]: expected [ph, pw] with both >= 1, [0, 1] (identity) or [1, 0] (zero)"
                ))
            })
        }
    }
}
