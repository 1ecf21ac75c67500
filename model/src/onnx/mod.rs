//! ONNX loading: protobuf decoding (prost, code generated from `proto/onnx.proto`) and
//! conversion into a [`TrainedModel`]: the public architecture and P1's weights apart, with
//! BatchNormalization folded.

mod attrs;
mod error;
#[allow(clippy::all, clippy::pedantic, missing_docs)]
mod generated;
mod import;
mod ops;
mod tensor;

use std::path::Path;

use patchwork_core::model::TrainedModel;
use prost::Message;

pub use error::{AttributeError, ImportError, InputError};

/// Reads and converts an ONNX file.
pub fn load_model(path: &Path) -> Result<TrainedModel, ImportError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: name.clone(),
        source,
    })?;
    import_bytes(&name, &bytes)
}

/// Converts ONNX bytes; `source` names them in errors. Never panics on malformed input.
pub fn import_bytes(source: &str, bytes: &[u8]) -> Result<TrainedModel, ImportError> {
    let proto = generated::ModelProto::decode(bytes).map_err(|e| ImportError::Decode {
        path: source.to_string(),
        source: e,
    })?;
    import::import(source, &proto)
}

#[cfg(test)]
mod tests;
