//! Distortion extraction: the table `D(i, j)` of the seed paper's eq. 4,
//! `D(i, j) = E_X[ ||F^{i,j}(X) - F(X)||^2 ]`, where `F^{i,j}` is the network with only channel
//! `C_i` switched to a Block-ReLU of patch size `P_ij` and `F(X)` its last activation (the
//! logits), averaged over calibration images from the training split ("Knapsack Optimization").
//!
//! - [`candidates`]: the patch sizes `P_i` tried per layer;
//! - [`suffix`] and [`ops`]: the network from the switched ReLU on, batched over hypotheses;
//! - [`reduce`]: the squared-distance sums (CPU; CUDA in `cuda` behind the `cuda` feature);
//! - [`extract`]: the per-layer driver (rayon over images and hypothesis batches);
//! - [`shard`]: channel shards, resumable partial files and their merge into a table.

pub mod candidates;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod extract;
pub mod ops;
pub mod reduce;
pub mod shard;
pub mod suffix;

use std::fmt;

use patchwork_model::reference::ForwardError;

/// Why distortion extraction failed.
#[derive(Debug)]
pub enum DistortionError {
    /// No calibration images were given.
    NoImages,
    /// The model has no ReLU or ReLU6 layer.
    NoRelu,
    /// A ReLU's or ReLU6's output is not an NCHW map or `[1, F]` vector.
    ReluShape {
        /// The layer's name.
        layer: String,
    },
    /// The batched suffix evaluator does not implement this operator.
    UnsupportedOp {
        /// The node's name.
        node: String,
        /// The operator.
        op: &'static str,
    },
    /// The reference forward pass failed (wrong input shape, ...).
    Forward(ForwardError),
    /// The GPU reduction failed after it had started.
    Gpu(String),
}

impl fmt::Display for DistortionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistortionError::NoImages => {
                write!(f, "no calibration images (give --samples 1 or more)")
            }
            DistortionError::NoRelu => {
                write!(f, "the model has no ReLU or ReLU6 layer to plan")
            }
            DistortionError::ReluShape { layer } => {
                write!(
                    f,
                    "layer '{layer}': output is neither [1, C, H, W] nor [1, F]"
                )
            }
            DistortionError::UnsupportedOp { node, op } => write!(
                f,
                "node '{node}' ({op}) after a planned layer is not supported by the batched suffix evaluator"
            ),
            DistortionError::Forward(e) => write!(f, "reference forward pass failed: {e}"),
            DistortionError::Gpu(e) => write!(f, "CUDA reduction failed: {e}"),
        }
    }
}

impl std::error::Error for DistortionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DistortionError::Forward(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ForwardError> for DistortionError {
    fn from(e: ForwardError) -> Self {
        DistortionError::Forward(e)
    }
}
