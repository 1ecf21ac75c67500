//! The models the binary carries, so that `patchwork demo`, `load-test` and `fault-harness` run
//! from an installed binary anywhere (`cargo install --path .`): compiled in with
//! `include_bytes!`, loaded from memory, and written to a temporary directory where party
//! processes need files.

use std::path::{Path, PathBuf};

use patchwork_core::model::spec_check::validate_spec;
use patchwork_core::model::TrainedModel;
use patchwork_core::spec::Spec;
use patchwork_model::onnx::import_bytes;
use patchwork_model::spec_io::parse_spec;

/// A bundled model file (and its Block-ReLU spec, if it has one).
pub struct Bundled {
    /// The path it has in the repository, for messages.
    pub name: &'static str,
    onnx: &'static [u8],
    /// The spec's repository path and bytes.
    spec: Option<(&'static str, &'static [u8])>,
}

/// The demo's model, trained with Block-ReLUs of the knapsack's spec (models/README.md).
pub const DEMO: Bundled = Bundled {
    name: "models/fashion_resnet_brelu6.onnx",
    onnx: include_bytes!("../../models/fashion_resnet_brelu6.onnx"),
    spec: Some((
        "models/fashion_resnet_brelu6.spec.json",
        include_bytes!("../../models/fashion_resnet_brelu6.spec.json"),
    )),
};

/// The plain-ReLU Fashion-MNIST model (the fault harness's).
pub const PLAIN: Bundled = Bundled {
    name: "models/fashion_resnet.onnx",
    onnx: include_bytes!("../../models/fashion_resnet.onnx"),
    spec: None,
};

impl Bundled {
    /// The spec's repository path, if the model has a spec.
    pub fn spec_name(&self) -> Option<&'static str> {
        self.spec.map(|(name, _)| name)
    }

    /// The model (with weights: P1's) and its spec, checked against each other.
    pub fn load(&self) -> Result<(TrainedModel, Spec), String> {
        let model = import_bytes(self.name, self.onnx).map_err(|e| e.to_string())?;
        let spec = match self.spec {
            Some((name, bytes)) => {
                let spec = parse_spec(name, bytes).map_err(|e| e.to_string())?;
                validate_spec(model.model(), &spec).map_err(|e| format!("{name}: {e}"))?;
                spec
            }
            None => Spec::default(),
        };
        Ok((model, spec))
    }

    /// Writes the model (and spec) into `dir`; returns their paths.
    pub fn write_to(&self, dir: &Path) -> Result<(PathBuf, Option<PathBuf>), String> {
        let write = |name: &str, bytes: &[u8]| {
            let file = Path::new(name).file_name().unwrap_or_default();
            let path = dir.join(file);
            std::fs::write(&path, bytes)
                .map(|()| path.clone())
                .map_err(|e| format!("{}: {e}", path.display()))
        };
        let model = write(self.name, self.onnx)?;
        let spec = match self.spec {
            Some((name, bytes)) => Some(write(name, bytes)?),
            None => None,
        };
        Ok((model, spec))
    }
}
