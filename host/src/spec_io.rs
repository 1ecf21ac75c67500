//! Reading a Block-ReLU spec from JSON (format: `host/SPEC_FORMAT.md`).

use std::path::Path;

use patchwork_core::spec::Spec;

/// Why a spec file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SpecIoError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: invalid Block-ReLU spec JSON (expected {{\"layers\": [{{\"name\": ..., \"patch_sizes\": [[ph, pw], ...]}}]}}): {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
}

/// Reads a spec file.
pub fn load_spec(path: &Path) -> Result<Spec, SpecIoError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SpecIoError::Io {
        path: name.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| SpecIoError::Json { path: name, source })
}
