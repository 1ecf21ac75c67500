//! P1's trained parameters, kept apart from the public architecture ([`Model`]): one
//! [`LayerWeights`] per Conv and Linear node. P1 passes them to set-up; P0 and P2 have no
//! value of this type, so no step can be handed their weights by mistake.

use alloc::vec::Vec;

use super::{weight_lengths, Model, ModelError};

/// The weight and bias of one Conv or Linear node, `f32`, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerWeights {
    /// Conv: `out_channels * (in_channels / groups) * kh * kw` values; Linear:
    /// `out_features * in_features`.
    pub weight: Vec<f32>,
    /// One value per output channel or feature (zeros when the ONNX node had none).
    pub bias: Vec<f32>,
}

/// A weight table: for node `i` of the architecture, `Some` weights when it is a Conv or
/// Linear node, `None` otherwise. [`Weights::check`] says whether it fits a [`Model`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Weights {
    layers: Vec<Option<LayerWeights>>,
}

impl Weights {
    /// A table from one entry per node, in node order.
    pub fn new(layers: Vec<Option<LayerWeights>>) -> Weights {
        Weights { layers }
    }

    /// The weights of node `index`, if it has any.
    pub fn layer(&self, index: usize) -> Option<&LayerWeights> {
        self.layers.get(index).and_then(Option::as_ref)
    }

    /// The weights of node `index`, to fold constants into (BatchNormalization, a bias).
    pub fn layer_mut(&mut self, index: usize) -> Option<&mut LayerWeights> {
        self.layers.get_mut(index).and_then(Option::as_mut)
    }

    /// Checks that the table fits `model`: one entry per node, weights exactly for the Conv and
    /// Linear nodes, of the lengths their dimensions call for.
    pub fn check(&self, model: &Model) -> Result<(), ModelError> {
        if self.layers.len() != model.nodes.len() {
            return Err(ModelError::WeightsForOtherModel {
                nodes: model.nodes.len(),
                entries: self.layers.len(),
            });
        }
        for (node, entry) in model.nodes.iter().zip(&self.layers) {
            match (weight_lengths(node)?, entry) {
                (None, None) => {}
                (None, Some(_)) => {
                    return Err(ModelError::UnexpectedWeights {
                        node: node.name.clone(),
                        op: node.op.kind(),
                    })
                }
                (Some(_), None) => {
                    return Err(ModelError::MissingWeights {
                        node: node.name.clone(),
                    })
                }
                (Some((w, b)), Some(l)) => {
                    for (what, expected, found) in
                        [("weight", w, l.weight.len()), ("bias", b, l.bias.len())]
                    {
                        if expected != found {
                            return Err(ModelError::WeightLength {
                                node: node.name.clone(),
                                what,
                                expected,
                                found,
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
