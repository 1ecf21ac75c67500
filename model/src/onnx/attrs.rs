//! A node being imported ([`NodeCx`]): typed attribute access with defaults, and error
//! constructors that name the file, node, operator and attribute or input.

use super::error::{AttributeError, ImportError, InputError};
use super::generated::{attribute_proto::AttributeType, AttributeProto, NodeProto};

/// A node of the ONNX graph under conversion.
pub(super) struct NodeCx<'a> {
    /// The model file (for messages).
    pub path: &'a str,
    pub node: &'a NodeProto,
    /// The node name, or `<op>_<index>` when the file gives none.
    pub name: String,
}

impl<'a> NodeCx<'a> {
    /// Wraps a node; `index` numbers unnamed nodes.
    pub(super) fn new(path: &'a str, node: &'a NodeProto, index: usize) -> Self {
        let name = match node.name() {
            "" => format!("{}_{index}", node.op_type()),
            n => n.to_string(),
        };
        NodeCx { path, node, name }
    }

    /// The operator type, e.g. `Conv`.
    pub(super) fn op(&self) -> &str {
        self.node.op_type()
    }

    /// The name of input `index`, or `""` when absent (optional inputs).
    pub(super) fn input_name(&self, index: usize) -> &str {
        self.node.input.get(index).map(String::as_str).unwrap_or("")
    }

    /// The first output's name.
    pub(super) fn output_name(&self) -> Result<&str, ImportError> {
        match self.node.output.first().map(String::as_str) {
            Some(n) if !n.is_empty() => Ok(n),
            _ => Err(self.graph_err("node has no output")),
        }
    }

    /// An attribute error: `expected` versus `found`.
    pub(super) fn attr_err(
        &self,
        attribute: &str,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> ImportError {
        ImportError::Attribute(Box::new(AttributeError {
            path: self.path.to_string(),
            node: self.name.clone(),
            op: self.op().to_string(),
            attribute: attribute.to_string(),
            expected: expected.into(),
            found: found.into(),
        }))
    }

    /// An input error.
    pub(super) fn input_err(&self, index: usize, detail: impl Into<String>) -> ImportError {
        ImportError::Input(Box::new(InputError {
            path: self.path.to_string(),
            node: self.name.clone(),
            op: self.op().to_string(),
            index,
            input: self.input_name(index).to_string(),
            detail: detail.into(),
        }))
    }

    /// A structural error about this node.
    pub(super) fn graph_err(&self, detail: &str) -> ImportError {
        ImportError::Graph {
            path: self.path.to_string(),
            detail: format!("node '{}' ({}): {detail}", self.name, self.op()),
        }
    }

    /// Fails on any attribute not in `known` (so no attribute is silently ignored).
    pub(super) fn only_attrs(&self, known: &[&str]) -> Result<(), ImportError> {
        for a in &self.node.attribute {
            if !known.contains(&a.name()) {
                return Err(self.attr_err(
                    a.name(),
                    format!("one of {known:?}"),
                    "an unsupported attribute",
                ));
            }
        }
        Ok(())
    }

    fn attr(
        &self,
        name: &str,
        ty: AttributeType,
    ) -> Result<Option<&'a AttributeProto>, ImportError> {
        match self.node.attribute.iter().find(|a| a.name() == name) {
            None => Ok(None),
            Some(a) if a.r#type() == ty => Ok(Some(a)),
            Some(a) => Err(self.attr_err(name, ty.as_str_name(), a.r#type().as_str_name())),
        }
    }

    /// An INT attribute, or `default`.
    pub(super) fn int(&self, name: &str, default: i64) -> Result<i64, ImportError> {
        Ok(self
            .attr(name, AttributeType::Int)?
            .map_or(default, |a| a.i()))
    }

    /// A FLOAT attribute, or `default`.
    pub(super) fn float(&self, name: &str, default: f32) -> Result<f32, ImportError> {
        Ok(self
            .attr(name, AttributeType::Float)?
            .map_or(default, |a| a.f()))
    }

    /// A STRING attribute, or `default`.
    pub(super) fn string(&self, name: &str, default: &str) -> Result<String, ImportError> {
        match self.attr(name, AttributeType::String)? {
            None => Ok(default.to_string()),
            Some(a) => String::from_utf8(a.s().to_vec())
                .map_err(|_| self.attr_err(name, "a UTF-8 string", "invalid UTF-8")),
        }
    }

    /// An INTS attribute, if present.
    pub(super) fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, ImportError> {
        Ok(self
            .attr(name, AttributeType::Ints)?
            .map(|a| a.ints.clone()))
    }

    /// An INTS attribute of exactly `len` non-negative values, or `default`.
    pub(super) fn usizes(
        &self,
        name: &str,
        len: usize,
        default: usize,
    ) -> Result<Vec<usize>, ImportError> {
        match self.ints(name)? {
            None => Ok(vec![default; len]),
            Some(v) if v.len() == len && v.iter().all(|&x| x >= 0) => {
                Ok(v.iter().map(|&x| x as usize).collect())
            }
            Some(v) => Err(self.attr_err(
                name,
                format!("{len} non-negative integers"),
                format!("{v:?}"),
            )),
        }
    }

    /// The TENSOR attribute `name`, if present.
    pub(super) fn tensor(
        &self,
        name: &str,
    ) -> Result<Option<&'a super::generated::TensorProto>, ImportError> {
        Ok(self
            .attr(name, AttributeType::Tensor)?
            .and_then(|a| a.t.as_ref()))
    }
}
