//! ONNX loading: protobuf decoding (prost, code generated from `proto/onnx.proto`) and
//! conversion into a [`TrainedModel`]: the public architecture and P1's weights apart, with
//! BatchNormalization folded; and the way back, a [`TrainedModel`] written as ONNX
//! ([`export_model`]).

mod attrs;
mod build;
mod error;
mod export;
mod external;
#[allow(clippy::all, clippy::pedantic, missing_docs)]
mod generated;
mod import;
mod ops;
mod tensor;

use std::path::Path;

use external::ExternalFiles;
use patchwork_core::model::{Shape, TrainedModel};
use prost::Message;

pub use error::{AttributeError, ImportError, InputError};
pub use export::{export_model, ExportError, EXPORT_OPSET};

/// Reads and converts an ONNX file, with its external data files (looked for beside it).
pub fn load_model(path: &Path) -> Result<TrainedModel, ImportError> {
    load_model_for(path, None)
}

/// As [`load_model`], with `input_shape` (`[N, C, H, W]`) giving the graph input's symbolic
/// dimensions (fixed ones must agree): one exported model, run at the size of this run.
pub fn load_model_for(
    path: &Path,
    input_shape: Option<&Shape>,
) -> Result<TrainedModel, ImportError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: name.clone(),
        source,
    })?;
    let dir = path.parent().map(|d| {
        if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        }
    });
    convert(&name, &bytes, &mut ExternalFiles::new(dir), input_shape)
}

/// Converts ONNX bytes; `source` names them in errors. Never panics on malformed input. A
/// model whose tensors are in external files needs [`load_model`].
pub fn import_bytes(source: &str, bytes: &[u8]) -> Result<TrainedModel, ImportError> {
    convert(source, bytes, &mut ExternalFiles::new(None), None)
}

fn convert(
    source: &str,
    bytes: &[u8],
    external: &mut ExternalFiles,
    input_shape: Option<&Shape>,
) -> Result<TrainedModel, ImportError> {
    let proto = generated::ModelProto::decode(bytes).map_err(|e| ImportError::Decode {
        path: source.to_string(),
        source: e,
    })?;
    import::import(source, &proto, external, input_shape)
}

#[cfg(test)]
mod tests;
