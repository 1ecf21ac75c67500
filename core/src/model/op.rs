//! The operators a [`super::Model`] node can hold, with their parameters.
//!
//! Every operator has already been normalised by the importer: BatchNormalization is folded
//! into the preceding convolution, Gemm/MatMul transposes are resolved, and attribute defaults
//! are filled in. An operator holds its public parameters only: the weights of a Conv or
//! Linear node are P1's and live apart, in [`super::Weights`].

use super::Real;

/// One operator of the model graph.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// 2-D convolution over an NCHW map.
    Conv(Conv2d),
    /// Fully connected layer `y = W x + b` on a rank-2 `[1, in]` value.
    Linear(Linear),
    /// Element-wise `max(x, 0)`: the layer a Block-ReLU spec refers to by node name.
    Relu,
    /// Element-wise `min(max(x, 0), 6)` (ONNX `Clip(0, 6)`).
    Relu6,
    /// Element-wise sum of two values of the same shape.
    Add,
    /// Average pooling.
    AvgPool(Pool2d),
    /// Mean over each channel's whole map: `[1, C, H, W] -> [1, C, 1, 1]`.
    GlobalAvgPool,
    /// Max pooling (`count_include_pad` is unused).
    MaxPool(Pool2d),
    /// Changes only the shape (ONNX Flatten or Reshape); the data order is unchanged.
    Reshape,
    /// Concatenation of several NCHW values along the channel axis.
    Concat,
    /// Spatial up- or down-sampling of an NCHW map.
    Resize(Resize),
    /// Passes its input through unchanged.
    Identity,
    /// `exp(x_i) / sum_j exp(x_j)` over the features of a `[1, F]` value: only as the node that
    /// writes the graph output, applied by P0 to the revealed scores ([`softmax`]).
    Softmax,
    /// `x_i - log(sum_j exp(x_j))`, likewise the last node ([`softmax`]).
    LogSoftmax,
}

/// Applies a final [`Op::Softmax`] (`log` false) or [`Op::LogSoftmax`] (`log` true) to the
/// scores `x` in place (the maximum subtracted first, so no `exp` overflows).
pub fn softmax<T: Real>(x: &mut [T], log: bool) {
    let max = x.iter().copied().fold(T::NEG_INFINITY, T::max);
    let sum: T = x.iter().map(|&v| (v - max).exp()).sum();
    for v in x.iter_mut() {
        *v = if log {
            *v - max - sum.ln()
        } else {
            (*v - max).exp() / sum
        };
    }
}

impl Op {
    /// A short name for messages and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv(_) => "Conv",
            Op::Linear(_) => "Linear",
            Op::Relu => "Relu",
            Op::Relu6 => "Relu6",
            Op::Add => "Add",
            Op::AvgPool(_) => "AvgPool",
            Op::GlobalAvgPool => "GlobalAvgPool",
            Op::MaxPool(_) => "MaxPool",
            Op::Reshape => "Reshape",
            Op::Concat => "Concat",
            Op::Resize(_) => "Resize",
            Op::Identity => "Identity",
            Op::Softmax => "Softmax",
            Op::LogSoftmax => "LogSoftmax",
        }
    }

    /// Whether the secure runner evaluates it with DReLU comparisons (ReLU or Block-ReLU,
    /// ReLU6, MaxPool), so that it has an approximate-DReLU window.
    pub fn compares(&self) -> bool {
        matches!(self, Op::Relu | Op::Relu6 | Op::MaxPool(_))
    }

    /// Whether a Block-ReLU spec may give it patch sizes (the layers the planner measures): a
    /// ReLU, and a ReLU6, whose Block-ReLU form is the Block-ReLU followed by the clamp at
    /// [`RELU6_CAP`] ([`Op::cap`]).
    pub fn takes_patches(&self) -> bool {
        matches!(self, Op::Relu | Op::Relu6)
    }

    /// The bound a Block-ReLU layer of this operator clamps its output to from above: 6 for a
    /// ReLU6, none for a ReLU. `min(BlockReLU(x), 6)` is `clamp(x, 0, 6)` with 1x1 patches.
    pub fn cap(&self) -> Option<f32> {
        match self {
            Op::Relu6 => Some(RELU6_CAP),
            _ => None,
        }
    }
}

/// The upper bound of a ReLU6 (ONNX `Clip(0, 6)`).
pub const RELU6_CAP: f32 = 6.0;

/// A 2-D convolution; its weight ([`super::LayerWeights`]) has shape
/// `[out_channels, in_channels / groups, kh, kw]` and its bias `out_channels` values.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    /// Output channels.
    pub out_channels: usize,
    /// Input channels.
    pub in_channels: usize,
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[sh, sw]`.
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]` zero padding (ONNX `pads` order is begin..., end...).
    pub padding: [usize; 4],
    /// `[dh, dw]`.
    pub dilation: [usize; 2],
    /// Channel groups (`in_channels` for a depthwise convolution).
    pub groups: usize,
}

/// A fully connected layer `y = W x + b`; its weight ([`super::LayerWeights`]) has shape
/// `[out_features, in_features]` and its bias `out_features` values.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linear {
    /// Input features.
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
}

/// Window of an average or max pooling.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[sh, sw]`.
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub padding: [usize; 4],
    /// Average pooling only: whether padded zeros count in the divisor.
    pub count_include_pad: bool,
}

/// How a [`Resize`] picks or blends input pixels.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeMode {
    /// Nearest neighbour, rounding the source coordinate as given.
    Nearest(NearestRounding),
    /// Bilinear interpolation (ONNX `linear` on the two spatial axes).
    Bilinear,
}

/// ONNX `nearest_mode`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NearestRounding {
    /// Round to the nearest, halves down (ONNX `round_prefer_floor`).
    RoundPreferFloor,
    /// Round to the nearest, halves up (ONNX `round_prefer_ceil`).
    RoundPreferCeil,
    /// Round down.
    Floor,
    /// Round up.
    Ceil,
}

/// ONNX `coordinate_transformation_mode`: how an output coordinate maps to an input one.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordinateTransform {
    /// `x_in = (x_out + 0.5) / scale - 0.5`.
    HalfPixel,
    /// As `HalfPixel`, but `0` when the output length is 1.
    PytorchHalfPixel,
    /// `x_in = x_out * (len_in - 1) / (len_out - 1)`.
    AlignCorners,
    /// `x_in = x_out / scale`.
    Asymmetric,
}

/// Spatial resize of an NCHW map; the output size is the node's output shape.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resize {
    /// Nearest or linear interpolation.
    pub mode: ResizeMode,
    /// How output coordinates map to input coordinates.
    pub transform: CoordinateTransform,
    /// `[scale_h, scale_w]` (output length over input length unless given explicitly).
    pub scale: [f32; 2],
}

impl Resize {
    /// Nearest-neighbour resizing: a gather, no arithmetic on the values.
    pub fn is_nearest(&self) -> bool {
        matches!(self.mode, ResizeMode::Nearest(_))
    }
}
