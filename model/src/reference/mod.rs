//! Float reference forward pass over a [`TrainedModel`], with the ReLUs a Block-ReLU spec names
//! as Block-ReLUs.
//!
//! This is the plaintext ground truth the secure protocol is compared against. Convolutions
//! run as im2col + GEMM (ndarray); every other operator is a direct loop. Values are kept as
//! flat row-major buffers laid out by the model's shapes (NCHW, batch 1), of `f32` as a network
//! runs, or of `f64` ([`forward_all`] in either width): the distortion planner's base pass,
//! whose values must not carry roundings of their own into eq. 4's small changes.

mod block_relu;
mod conv;
mod pool;
mod resize;

use std::borrow::Cow;

use ndarray::{ArrayD, IxDyn, LinalgScalar};
use patchwork_core::model::spec_check::{ResolvedSpec, SpecError};
use patchwork_core::model::{softmax, Op, Real, Shape, TrainedModel};

pub use block_relu::{block_relu_channel, block_relu_layer};
pub use resize::resize;

/// The width the forward pass computes in: `f32` or `f64`.
pub trait Float: Real + LinalgScalar + Send + Sync {
    /// A layer's `f32` weights in this width (borrowed when it is `f32`).
    fn weights(w: &[f32]) -> Cow<'_, [Self]>;
}

impl Float for f32 {
    fn weights(w: &[f32]) -> Cow<'_, [f32]> {
        Cow::Borrowed(w)
    }
}

impl Float for f64 {
    fn weights(w: &[f32]) -> Cow<'_, [f64]> {
        Cow::Owned(w.iter().map(|&v| f64::from(v)).collect())
    }
}

/// Why a forward pass could not run.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The input does not have the model's input shape.
    #[error("input shape: expected {expected}, found {found}")]
    InputShape {
        /// What was expected.
        expected: Shape,
        /// What was found.
        found: Shape,
    },
    /// The spec does not fit the model.
    #[error("Block-ReLU spec does not fit the model: {0}")]
    Spec(#[from] SpecError),
    /// A node read a value no earlier node wrote (the graph is not topological).
    #[error("node '{node}' reads a value that was not computed (graph not topological)")]
    NotComputed {
        /// The node's name.
        node: String,
    },
    /// A Conv or Linear node without weights (never for a checked [`TrainedModel`]).
    #[error("node '{node}' has no weights")]
    NoWeights {
        /// The node's name.
        node: String,
    },
    /// A ReLU the resolved spec does not cover.
    #[error("ReLU '{node}' is not in the resolved spec (a spec resolved for another model?)")]
    Unresolved {
        /// The node's name.
        node: String,
    },
}

/// Runs the model on `input` (shape must equal the model input's) and returns the output.
/// Every ReLU the spec names is a Block-ReLU; other ReLUs stay plain. The spec was checked
/// against the model once, when it was resolved ([`ResolvedSpec::new`]).
pub fn forward(
    trained: &TrainedModel,
    input: &ArrayD<f32>,
    spec: &ResolvedSpec,
) -> Result<ArrayD<f32>, ForwardError> {
    let mut values = forward_all::<f32>(trained, input, spec)?;
    let model = trained.model();
    let out = values[model.output]
        .take()
        .ok_or(ForwardError::NotComputed {
            node: String::from("<output>"),
        })?;
    Ok(to_array(model.shape(model.output), out))
}

/// Runs the model and returns every value (by [`patchwork_core::model::ValueId`]) as a flat
/// buffer of `T`; values never written (there are none in a checked model) are `None`.
pub fn forward_all<T: Float>(
    trained: &TrainedModel,
    input: &ArrayD<f32>,
    spec: &ResolvedSpec,
) -> Result<Vec<Option<Vec<T>>>, ForwardError> {
    let model = trained.model();
    let expected = model.shape(model.input);
    if input.shape() != expected.0.as_slice() {
        return Err(ForwardError::InputShape {
            expected: expected.clone(),
            found: Shape(input.shape().to_vec()),
        });
    }
    let mut values: Vec<Option<Vec<T>>> = vec![None; model.values.len()];
    values[model.input] = Some(input.iter().map(|&v| T::of(v)).collect());
    for (index, node) in model.nodes.iter().enumerate() {
        // A checked model is topological, so every input was computed; never read as empty.
        let ins: Vec<&[T]> = node
            .inputs
            .iter()
            .map(|&v| {
                values[v].as_deref().ok_or(ForwardError::NotComputed {
                    node: node.name.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        let in_shape = model.shape(node.inputs[0]);
        let out_shape = model.shape(node.output);
        // A trained model's weights were checked to fit it: Conv and Linear nodes have theirs.
        let weights = || {
            trained
                .weights()
                .layer(index)
                .ok_or(ForwardError::NoWeights {
                    node: node.name.clone(),
                })
        };
        let out = match &node.op {
            Op::Conv(c) => conv::conv2d(c, weights()?, ins[0], in_shape, out_shape),
            Op::Linear(l) => conv::linear(l, weights()?, ins[0]),
            Op::Relu | Op::Relu6 => {
                let (patches, (_, h, w)) = spec.layer(index).ok_or(ForwardError::Unresolved {
                    node: node.name.clone(),
                })?;
                let mut out = ins[0].to_vec();
                block_relu_layer(&mut out, *h, *w, patches, node.op.cap());
                out
            }
            Op::Add => ins[0].iter().zip(ins[1]).map(|(&a, &b)| a + b).collect(),
            Op::AvgPool(p) => pool::avg_pool(p, ins[0], in_shape, out_shape),
            Op::MaxPool(p) => pool::max_pool(p, ins[0], in_shape, out_shape),
            Op::GlobalAvgPool => pool::global_avg_pool(ins[0], in_shape),
            Op::Reshape | Op::Identity => ins[0].to_vec(),
            Op::Softmax | Op::LogSoftmax => {
                let mut y = ins[0].to_vec();
                softmax(&mut y, matches!(node.op, Op::LogSoftmax));
                y
            }
            Op::Concat => ins.concat(),
            Op::Resize(r) => resize::resize(r, ins[0], in_shape, out_shape),
        };
        values[node.output] = Some(out);
    }
    Ok(values)
}

/// Wraps a flat buffer as an array of the given shape.
pub fn to_array(shape: &Shape, data: Vec<f32>) -> ArrayD<f32> {
    ArrayD::from_shape_vec(IxDyn(&shape.0), data).unwrap_or_else(|e| {
        // Unreachable for buffers produced by `forward_all` on a checked model.
        unreachable!("reference buffer does not match shape {shape}: {e}")
    })
}
