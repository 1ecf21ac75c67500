//! Errors of ONNX import. Every variant names what the user needs to find the problem: the
//! file, the node and operator, the attribute or input, and what was expected versus found.

use patchwork_core::model::ModelError;

/// Why an ONNX file could not be turned into a [`patchwork_core::model::Model`].
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: cannot read: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a valid ONNX protobuf (truncated or corrupt?): {source}")]
    Decode { path: String, source: prost::DecodeError },
    #[error("{path}: ONNX opset {found} of the default domain is not supported (expected 7..=18)")]
    Opset { path: String, found: i64 },
    #[error("{path}: node '{node}': operator {op} (domain '{domain}') is not supported")]
    UnsupportedOp { path: String, node: String, op: String, domain: String },
    #[error("{path}: node '{node}' ({op}): attribute '{attribute}': expected {expected}, found {found}")]
    Attribute {
        path: String,
        node: String,
        op: String,
        attribute: String,
        expected: String,
        found: String,
    },
    #[error("{path}: node '{node}' ({op}): input {index} ('{input}'): {detail}")]
    Input { path: String, node: String, op: String, index: usize, input: String, detail: String },
    #[error("{path}: tensor '{tensor}': {detail}")]
    Tensor { path: String, tensor: String, detail: String },
    #[error("{path}: graph: {detail}")]
    Graph { path: String, detail: String },
    #[error("{path}: imported model is inconsistent: {source}")]
    Model { path: String, source: ModelError },
}
