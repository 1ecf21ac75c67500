//! The public architecture of a model: what P0 and P2 need to run their roles (the graph, the
//! value shapes and every operator's parameters). A [`Model`] has no weights (P1's are a
//! separate [`patchwork_core::model::Weights`] table), so neither has its file. P1 keeps the
//! ONNX file; P0 and P2 get this file, so the client never holds the server's model.
//!
//! JSON: `{"patchwork_architecture": 1, "model": {"values": [...], "nodes": [...], "input":
//! i, "output": o}}`. Loading checks the size, the format version, the dimensions (before
//! anything is allocated for them) and the graph.

use std::path::Path;

use patchwork_core::model::{Model, ModelError};
use serde::{Deserialize, Serialize};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Architecture files larger than this are refused before reading (64 MiB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

#[derive(Serialize, Deserialize)]
struct ArchitectureFile {
    patchwork_architecture: u32,
    model: Model,
}

/// Why an architecture file could not be written or read; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ArchitectureError {
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error(
        "{path}: {size} bytes is more than the {MAX_FILE_BYTES} an architecture file may have"
    )]
    TooLarge {
        /// The file.
        path: String,
        /// The file's size in bytes.
        size: u64,
    },
    /// The file is not the JSON of an architecture file.
    #[error("{path}: not a Patchwork architecture file: {source}")]
    Json {
        /// The file.
        path: String,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// The file has another format version.
    #[error("{path}: format version {found}, this build reads version {FORMAT_VERSION}")]
    Version {
        /// The file.
        path: String,
        /// The file's format version.
        found: u32,
    },
    /// The architecture is not a consistent model.
    #[error("{path}: {source}")]
    Model {
        /// The file.
        path: String,
        /// The underlying error.
        source: ModelError,
    },
}

/// Whether `path` names an architecture file (`.json`) rather than an ONNX model.
pub fn is_architecture_path(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

/// The architecture file of `model` (no weights), as JSON.
pub fn architecture_json(model: &Model) -> Result<String, serde_json::Error> {
    let file = ArchitectureFile {
        patchwork_architecture: FORMAT_VERSION,
        model: model.clone(),
    };
    serde_json::to_string(&file)
}

/// Writes the architecture of `model` (no weights) to `path`.
pub fn write_architecture(model: &Model, path: &Path) -> Result<(), ArchitectureError> {
    let json = architecture_json(model).map_err(|source| ArchitectureError::Json {
        path: path.display().to_string(),
        source,
    })?;
    std::fs::write(path, json).map_err(|source| ArchitectureError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads an architecture file: a checked model.
pub fn load_architecture(path: &Path) -> Result<Model, ArchitectureError> {
    let name = path.display().to_string();
    let io = |source| ArchitectureError::Io {
        path: name.clone(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ArchitectureError::TooLarge { path: name, size });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    parse_architecture(&name, &bytes)
}

/// Parses the bytes of an architecture file named `source` (for messages).
pub fn parse_architecture(source: &str, bytes: &[u8]) -> Result<Model, ArchitectureError> {
    let file: ArchitectureFile =
        serde_json::from_slice(bytes).map_err(|e| ArchitectureError::Json {
            path: source.to_string(),
            source: e,
        })?;
    if file.patchwork_architecture != FORMAT_VERSION {
        return Err(ArchitectureError::Version {
            path: source.to_string(),
            found: file.patchwork_architecture,
        });
    }
    let model = file.model;
    model.check().map_err(|e| ArchitectureError::Model {
        path: source.to_string(),
        source: e,
    })?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::load_model;

    fn bundled() -> Model {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let trained = load_model(&root.join("models/fashion_resnet.onnx")).expect("bundled model");
        trained.into_parts().0
    }

    #[test]
    fn round_trip_keeps_the_whole_architecture() {
        let model = bundled();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.arch.json");
        write_architecture(&model, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("weight") && !text.contains("bias"));
        assert_eq!(load_architecture(&path).unwrap(), model);
    }

    #[test]
    fn hostile_files_give_errors_naming_the_file() {
        let model = bundled();
        let good = serde_json::to_string(&ArchitectureFile {
            patchwork_architecture: FORMAT_VERSION,
            model,
        })
        .unwrap();
        let cases = [
            (
                good.replace("\"out_channels\":16", "\"out_channels\":1099511627776"),
                "more than",
            ),
            // The file: a 3.6e9-element map, which P2 would have filled with masks.
            (
                good.replace("[1,16,28,28]", "[1,16,3750,60000]"),
                "has more than 268435456 elements",
            ),
            // 2^28 weights and more, within the old 2^31 cap.
            (
                good.replace("\"out_channels\":16", "\"out_channels\":2000000"),
                "more than 268435456 weights",
            ),
            (
                good.replace(
                    "\"patchwork_architecture\":1",
                    "\"patchwork_architecture\":9",
                ),
                "version 9",
            ),
            (
                good[..good.len() / 2].to_string(),
                "not a Patchwork architecture",
            ),
            (
                good.replace("\"input\":0,\"output\":24", "\"input\":0,\"output\":99"),
                "never written",
            ),
            ("{}".to_string(), "missing field"),
        ];
        for (text, expected) in cases {
            let err = match parse_architecture("a.json", text.as_bytes()) {
                Ok(_) => panic!("accepted a file that should say {expected}"),
                Err(e) => e.to_string(),
            };
            assert!(err.starts_with("a.json: "), "{err}");
            assert!(err.contains(expected), "{err} should say {expected}");
        }
    }
}
