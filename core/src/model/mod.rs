//! A plain, importer-independent description of a CNN: a DAG of nodes in topological order.
//!
//! * Values (tensors) are numbered by [`ValueId`]; value 0..n are listed in [`Model::values`]
//!   with a name and an NCHW shape for batch 1 (rank-2 `[1, features]` after Flatten/Linear).
//! * Each [`Node`] reads one or more values and writes exactly one new value. Nodes are stored
//!   in topological order, so walking [`Model::nodes`] front to back evaluates the model.
//! * A [`Model`] is the public architecture, which all three parties hold: operators with
//!   their public parameters, no weights. P1's trained weights are a separate [`Weights`]
//!   table (one [`LayerWeights`] per Conv and Linear node, `f32`, BatchNormalization folded
//!   into convolutions by the importer); a [`TrainedModel`] pairs the two, checked to fit, for
//!   P1 and for the plaintext tools (float reference, planner). P0 and P2 never have one.
//! * ReLU nodes keep their ONNX node name: a Block-ReLU [`crate::spec::Spec`] refers to it.
//!
//! [`Model::check`] verifies the structural invariants (ids, order, shapes, sizes);
//! [`Weights::check`] that a weight table fits an architecture; [`spec_check`] validates a
//! Block-ReLU spec against a model and counts DReLUs.
//!
//! # Walking the graph
//!
//! An evaluator (the float reference in `patchwork-model`, or a secure protocol) keeps one
//! buffer per [`ValueId`], fills `values[model.input]`, then for each node in order reads
//! `node.inputs`, applies `node.op` and writes `values[node.output]`; the result is
//! `values[model.output]`. Buffers are row-major in the value's [`Shape`]. Linear layers
//! (Conv, Linear, AvgPool, GlobalAvgPool, Add, Reshape, Concat, Resize, Identity) need no
//! DReLU; Relu needs DReLUs as [`spec_check::relu_layer_patches`] says; MaxPool and Relu6 need
//! comparisons too (the host's opt-in transforms replace them by AvgPool and Relu).

pub mod geometry;
mod op;
mod real;
mod shape;
pub mod spec_check;
mod trained;
mod weights;
pub mod windows;

pub use op::{
    softmax, Conv2d, CoordinateTransform, Linear, NearestRounding, Op, Pool2d, Resize, ResizeMode,
    RELU6_CAP,
};
pub use real::Real;
pub use shape::{check_shape, infer_shape, Shape, ShapeError};
pub use trained::TrainedModel;
pub use weights::{LayerWeights, Weights};

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Index of a value in [`Model::values`].
pub type ValueId = usize;

/// A named value (tensor) of the graph.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueInfo {
    /// The ONNX value name.
    pub name: String,
    /// Its shape (batch 1).
    pub shape: Shape,
}

/// One operator application.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The ONNX node name (or a generated `op_index` name when the file had none).
    pub name: String,
    /// The operator with its parameters (and, for P1, its weights).
    pub op: Op,
    /// Values read, in operator order (`Add`: two, `Concat`: several, others: one).
    pub inputs: Vec<ValueId>,
    /// The value written; always a fresh id greater than every input id.
    pub output: ValueId,
}

/// A whole model: one input, one output, nodes in topological order.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Every value of the graph, by [`ValueId`].
    pub values: Vec<ValueInfo>,
    /// The operators, in topological order.
    pub nodes: Vec<Node>,
    /// The graph input (the image).
    pub input: ValueId,
    /// The graph output (the logits or the segmentation map).
    pub output: ValueId,
}

/// A structural defect found by [`Model::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelError {
    /// A node refers to a value id outside [`Model::values`].
    UnknownValue {
        /// The node's name.
        node: String,
        /// The value.
        value: ValueId,
    },
    /// A node reads a value that no earlier node (nor the input) wrote.
    NotTopological {
        /// The node's name.
        node: String,
        /// The value.
        value: String,
    },
    /// A value is written twice.
    WrittenTwice {
        /// The node's name.
        node: String,
        /// The value.
        value: String,
    },
    /// A node's declared output shape disagrees with its operator and inputs.
    Shape {
        /// The node's name.
        node: String,
        /// The operator.
        op: &'static str,
        /// The underlying error.
        error: ShapeError,
    },
    /// A weight or bias buffer has the wrong length.
    WeightLength {
        /// The node's name.
        node: String,
        /// What it is about.
        what: &'static str,
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
    /// A Conv or Linear node has no weights in the table.
    MissingWeights {
        /// The node's name.
        node: String,
    },
    /// The weight table has an entry for a node that takes no weights.
    UnexpectedWeights {
        /// The node's name.
        node: String,
        /// The node's operator.
        op: &'static str,
    },
    /// The weight table was made for a model with another number of nodes.
    WeightsForOtherModel {
        /// Nodes of the architecture.
        nodes: usize,
        /// Node entries of the weight table.
        entries: usize,
    },
    /// A Softmax or LogSoftmax that is not the node writing the graph output.
    SoftmaxNotLast {
        /// The node's name.
        node: String,
    },
    /// The graph output is never written.
    OutputNotWritten {
        /// The value.
        value: String,
    },
    /// The dimensions call for more weights than [`MAX_WEIGHTS`] (or overflow).
    TooManyWeights {
        /// The node's name.
        node: String,
    },
    /// A value has more than [`MAX_ELEMENTS`] elements.
    ValueTooLarge {
        /// The value.
        value: String,
        /// The shape.
        shape: Shape,
    },
}

/// The most weights and biases a model may declare in all (2^28 values, 1 GiB of `f32`; VGG16
/// has 138 million); checked before anything that size is allocated. P2 deals a mask of as
/// many ring elements (8 bytes each) per session.
pub const MAX_WEIGHTS: usize = 1 << 28;

/// The largest value (in elements) a model may have, from an ONNX file or an architecture
/// file alike, so that no file makes a party allocate without bound.
pub const MAX_ELEMENTS: usize = 1 << 28;

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::UnknownValue { node, value } => {
                write!(f, "node '{node}': value id {value} does not exist")
            }
            ModelError::NotTopological { node, value } => {
                write!(
                    f,
                    "node '{node}': reads '{value}' before any node writes it"
                )
            }
            ModelError::WrittenTwice { node, value } => {
                write!(
                    f,
                    "node '{node}': writes '{value}', which was already written"
                )
            }
            ModelError::Shape { node, op, error } => write!(f, "node '{node}' ({op}): {error}"),
            ModelError::WeightLength {
                node,
                what,
                expected,
                found,
            } => write!(
                f,
                "node '{node}': {what} has {found} values, expected {expected}"
            ),
            ModelError::MissingWeights { node } => {
                write!(f, "node '{node}': no weights for this layer")
            }
            ModelError::UnexpectedWeights { node, op } => {
                write!(f, "node '{node}': has weights, but a {op} layer takes none")
            }
            ModelError::WeightsForOtherModel { nodes, entries } => write!(
                f,
                "the weights are for a model of {entries} nodes, this architecture has {nodes}"
            ),
            ModelError::SoftmaxNotLast { node } => write!(
                f,
                "node '{node}': a Softmax is supported only as the last node (P0 applies it to \
                 the revealed scores)"
            ),
            ModelError::OutputNotWritten { value } => {
                write!(f, "graph output '{value}' is never written")
            }
            ModelError::ValueTooLarge { value, shape } => write!(
                f,
                "value '{value}': shape {shape} has more than {MAX_ELEMENTS} elements"
            ),
            ModelError::TooManyWeights { node } => write!(
                f,
                "node '{node}': the model's dimensions call for more than {MAX_WEIGHTS} weights"
            ),
        }
    }
}

impl core::error::Error for ModelError {}

impl Model {
    /// The shape of a value.
    pub fn shape(&self, id: ValueId) -> &Shape {
        &self.values[id].shape
    }

    /// Finds a node by name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Checks ids, topological order, single assignment, shapes, and that the dimensions call
    /// for at most [`MAX_WEIGHTS`] weights (P1's weights are checked by [`Weights::check`]).
    pub fn check(&self) -> Result<(), ModelError> {
        let mut written = alloc::vec![false; self.values.len()];
        let name_of = |id: ValueId| self.values[id].name.clone();
        if self.input >= self.values.len() {
            return Err(ModelError::UnknownValue {
                node: String::from("<input>"),
                value: self.input,
            });
        }
        written[self.input] = true;
        for v in &self.values {
            if v.shape.numel() > MAX_ELEMENTS {
                return Err(ModelError::ValueTooLarge {
                    value: v.name.clone(),
                    shape: v.shape.clone(),
                });
            }
        }
        self.check_weight_total()?;
        for node in &self.nodes {
            for &v in node.inputs.iter().chain(core::iter::once(&node.output)) {
                if v >= self.values.len() {
                    return Err(ModelError::UnknownValue {
                        node: node.name.clone(),
                        value: v,
                    });
                }
            }
            for &v in &node.inputs {
                if !written[v] {
                    return Err(ModelError::NotTopological {
                        node: node.name.clone(),
                        value: name_of(v),
                    });
                }
            }
            if written[node.output] {
                return Err(ModelError::WrittenTwice {
                    node: node.name.clone(),
                    value: name_of(node.output),
                });
            }
            written[node.output] = true;
            if matches!(node.op, Op::Softmax | Op::LogSoftmax) && node.output != self.output {
                return Err(ModelError::SoftmaxNotLast {
                    node: node.name.clone(),
                });
            }
            let ins: Vec<&Shape> = node.inputs.iter().map(|&v| self.shape(v)).collect();
            check_shape(&node.op, &ins, self.shape(node.output)).map_err(|error| {
                ModelError::Shape {
                    node: node.name.clone(),
                    op: node.op.kind(),
                    error,
                }
            })?;
        }
        if self.output >= self.values.len() || !written[self.output] {
            let value = self
                .values
                .get(self.output)
                .map(|v| v.name.clone())
                .unwrap_or_default();
            return Err(ModelError::OutputNotWritten { value });
        }
        Ok(())
    }

    /// Checks that the dimensions call for at most [`MAX_WEIGHTS`] weights and biases in all
    /// (from the dimensions alone: nothing is allocated).
    fn check_weight_total(&self) -> Result<(), ModelError> {
        let mut total = 0usize;
        for node in &self.nodes {
            if let Some((w, b)) = weight_lengths(node)? {
                total = total.saturating_add(w).saturating_add(b);
                if total > MAX_WEIGHTS {
                    return Err(ModelError::TooManyWeights {
                        node: node.name.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The weight and bias lengths a Conv or Linear node's dimensions call for (`None` for other
/// operators), or an error when they overflow.
pub(crate) fn weight_lengths(node: &Node) -> Result<Option<(usize, usize)>, ModelError> {
    let too_many = || ModelError::TooManyWeights {
        node: node.name.clone(),
    };
    let product = |dims: &[usize]| {
        dims.iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(too_many)
    };
    Ok(match &node.op {
        Op::Conv(c) => {
            let per_group = c.in_channels / c.groups.max(1);
            let weights = product(&[c.out_channels, per_group, c.kernel[0], c.kernel[1]])?;
            Some((weights, c.out_channels))
        }
        Op::Linear(l) => Some((product(&[l.in_features, l.out_features])?, l.out_features)),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
