//! The Block-ReLU spec: for each ReLU layer (named by its ONNX node), the patch size of every
//! channel (seed paper, "Block-ReLU (bReLU)"; the planner's knapsack output).
//!
//! JSON form (with the `serde` feature):
//! `{"layers": [{"name": "relu_3", "patch_sizes": [[1, 1], [2, 2], [0, 1], [1, 0], ...]}]}`
//! where `[1, 1]` is plain ReLU, `[0, 1]` an identity channel and `[1, 0]` a zero channel.
//! Checking a spec against a model (layer names, channel counts, map sizes) is the model
//! loader's job, which knows the shapes.

use alloc::string::String;
use alloc::vec::Vec;

use crate::patch::PatchSize;

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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Spec {
    /// The ReLU layers it names; layers it does not name stay plain ReLU.
    pub layers: Vec<LayerSpec>,
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
