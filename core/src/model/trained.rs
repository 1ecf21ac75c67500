//! A trained model as P1 and the plaintext tools hold it: the public architecture and P1's
//! weights, checked once to fit each other.

use super::{Model, ModelError, Weights};
use crate::held::Held;
use crate::role::Role;

/// An architecture with weights that fit it ([`Model::check`] and [`Weights::check`] passed).
/// What the ONNX importer returns; P0 and P2 keep only [`TrainedModel::into_parts`]'s model.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainedModel {
    model: Model,
    weights: Weights,
}

impl TrainedModel {
    /// Pairs `model` with `weights` after checking both.
    pub fn new(model: Model, weights: Weights) -> Result<TrainedModel, ModelError> {
        model.check()?;
        weights.check(&model)?;
        Ok(TrainedModel { model, weights })
    }

    /// The public architecture.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// P1's weights.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// What `role` passes to set-up where one process plays all three parties (the local
    /// demo, tests): P1 the weights, the others [`Held::NotMine`].
    pub fn weights_for(&self, role: Role) -> Held<'_, Weights> {
        match role {
            Role::P1 => Held::Mine(&self.weights),
            _ => Held::NotMine,
        }
    }

    /// The architecture and the weights apart.
    pub fn into_parts(self) -> (Model, Weights) {
        (self.model, self.weights)
    }
}
