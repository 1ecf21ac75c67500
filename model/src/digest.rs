//! Content digests (SHA-256, hex) that key the planner's shard files to what was measured: the
//! model as loaded (architecture and weights, whatever files they came from), the calibration
//! images as the model saw them, and a base spec. A shard of another model, data selection or
//! base spec is refused by its digest, not trusted by its file name.

use ndarray::ArrayD;
use patchwork_core::model::TrainedModel;
use patchwork_core::spec::Spec;
use sha2::{Digest, Sha256};

fn hex(hash: impl AsRef<[u8]>) -> String {
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest of a trained model: its architecture file and every weight and bias in node
/// order (so a transform, which changes the architecture, changes it too).
pub fn model_digest(model: &TrainedModel) -> String {
    let mut h = Sha256::new();
    let architecture = crate::architecture::architecture_json(model.model()).unwrap_or_default();
    h.update(architecture.as_bytes());
    for index in 0..model.model().nodes.len() {
        if let Some(layer) = model.weights().layer(index) {
            h.update((index as u64).to_le_bytes());
            for v in layer.weight.iter().chain(&layer.bias) {
                h.update(v.to_le_bytes());
            }
        }
    }
    hex(h.finalize())
}

/// The digest of the calibration inputs, in order (shapes and values).
pub fn data_digest(images: &[ArrayD<f32>]) -> String {
    let mut h = Sha256::new();
    for image in images {
        for &d in image.shape() {
            h.update((d as u64).to_le_bytes());
        }
        for v in image.iter() {
            h.update(v.to_le_bytes());
        }
    }
    hex(h.finalize())
}

/// The digest of a spec's JSON.
pub fn spec_digest(spec: &Spec) -> String {
    hex(Sha256::digest(serde_json::to_vec(spec).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_change_with_the_content() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        let a = crate::onnx::load_model(&root.join("fashion_resnet.onnx")).unwrap();
        let b = crate::onnx::load_model(&root.join("fashion_resnet_brelu6.onnx")).unwrap();
        assert_eq!(model_digest(&a), model_digest(&a.clone()));
        assert_ne!(model_digest(&a), model_digest(&b));
        let (arch, mut weights) = a.clone().into_parts();
        weights.layer_mut(0).unwrap().bias[0] += 1e-6;
        let nudged = TrainedModel::new(arch, weights).unwrap();
        assert_ne!(model_digest(&a), model_digest(&nudged));
        let data = crate::data::fashion::bundled_test64();
        let first: Vec<_> = (0..2).map(|i| data.input(i)).collect();
        let other: Vec<_> = (1..3).map(|i| data.input(i)).collect();
        assert_ne!(data_digest(&first), data_digest(&other));
        assert_eq!(data_digest(&first), data_digest(&first.clone()));
        assert_ne!(
            spec_digest(&Spec::default()),
            spec_digest(
                &crate::spec_io::load_spec(&root.join("fashion_resnet_brelu6.spec.json")).unwrap()
            )
        );
    }
}
