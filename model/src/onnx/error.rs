//! Errors of ONNX import. Every variant names what the user needs to find the problem: the
//! file, the node and operator, the attribute or input, and what was expected versus found.

use patchwork_core::model::ModelError;

/// Why an ONNX file could not be turned into a [`patchwork_core::model::Model`].
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid ONNX protobuf (truncated or corrupt?): {source}")]
    Decode {
        path: String,
        source: prost::DecodeError,
    },
    #[error("{path}: ONNX opset {found} of the default domain is not supported (expected 7..=18)")]
    Opset { path: String, found: i64 },
    #[error("{path}: node '{node}': operator {op} (domain '{domain}') is not supported")]
    UnsupportedOp {
        path: String,
        node: String,
        op: String,
        domain: String,
    },
    #[error(transparent)]
    Attribute(Box<AttributeError>),
    #[error(transparent)]
    Input(Box<InputError>),
    #[error("{path}: tensor '{tensor}': {detail}")]
    Tensor {
        path: String,
        tensor: String,
        detail: String,
    },
    #[error("{path}: graph: {detail}")]
    Graph { path: String, detail: String },
    #[error("{path}: imported model is inconsistent: {source}")]
    Model { path: String, source: ModelError },
}

/// An unsupported or invalid attribute value.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: node '{node}' ({op}): attribute '{attribute}': expected {expected}, found {found}"
)]
pub struct AttributeError {
    pub path: String,
    pub node: String,
    pub op: String,
    pub attribute: String,
    pub expected: String,
    pub found: String,
}

/// A missing or unusable node input.
#[derive(Debug, thiserror::Error)]
#[error("{path}: node '{node}' ({op}): input {index} ('{input}'): {detail}")]
pub struct InputError {
    pub path: String,
    pub node: String,
    pub op: String,
    pub index: usize,
    pub input: String,
    pub detail: String,
}
