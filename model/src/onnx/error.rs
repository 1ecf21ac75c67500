//! Errors of ONNX import. Every variant names what the user needs to find the problem: the
//! file, the node and operator, the attribute or input, and what was expected versus found.

use patchwork_core::model::ModelError;

/// Why an ONNX file could not be turned into a [`patchwork_core::model::Model`].
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes are not an ONNX protobuf.
    #[error("{path}: not a valid ONNX protobuf (truncated or corrupt?): {source}")]
    Decode {
        /// The file.
        path: String,
        /// The underlying error.
        source: prost::DecodeError,
    },
    /// The model's opset is outside the supported range.
    #[error("{path}: ONNX opset {found} of the default domain is not supported (expected 7..=21)")]
    Opset {
        /// The file.
        path: String,
        /// The model's opset version.
        found: i64,
    },
    /// A node has an operator the importer does not support.
    #[error("{path}: node '{node}': operator {op} (domain '{domain}') is not supported")]
    UnsupportedOp {
        /// The file.
        path: String,
        /// The node's name.
        node: String,
        /// The operator.
        op: String,
        /// The operator's domain.
        domain: String,
    },
    /// A node has an attribute value the importer does not support.
    #[error(transparent)]
    Attribute(Box<AttributeError>),
    /// A node's input is not what the importer supports (e.g. a runtime weight).
    #[error(transparent)]
    Input(Box<InputError>),
    /// An initializer or constant tensor cannot be read.
    #[error("{path}: tensor '{tensor}': {detail}")]
    Tensor {
        /// The file.
        path: String,
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        detail: String,
    },
    /// The graph is malformed (names, inputs, outputs).
    #[error("{path}: graph: {detail}")]
    Graph {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The imported model is inconsistent.
    #[error("{path}: imported model is inconsistent: {source}")]
    Model {
        /// The file.
        path: String,
        /// The underlying error.
        source: ModelError,
    },
}

/// An unsupported or invalid attribute value.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: node '{node}' ({op}): attribute '{attribute}': expected {expected}, found {found}"
)]
pub struct AttributeError {
    /// The file.
    pub path: String,
    /// The node's name.
    pub node: String,
    /// The operator.
    pub op: String,
    /// The attribute's name.
    pub attribute: String,
    /// What the importer supports.
    pub expected: String,
    /// What the file has.
    pub found: String,
}

/// A missing or unusable node input.
#[derive(Debug, thiserror::Error)]
#[error("{path}: node '{node}' ({op}): input {index} ('{input}'): {detail}")]
pub struct InputError {
    /// The file.
    pub path: String,
    /// The node's name.
    pub node: String,
    /// The operator.
    pub op: String,
    /// Which input of the node.
    pub index: usize,
    /// The input's name.
    pub input: String,
    /// What is wrong.
    pub detail: String,
}
