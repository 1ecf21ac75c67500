//! The import state: constants, runtime values and the model being built, plus the graph walk.

use std::collections::HashMap;

use patchwork_core::model::{
    infer_shape, LayerWeights, Model, Node, Op, Shape, TrainedModel, ValueId, ValueInfo, Weights,
};

use super::attrs::NodeCx;
use super::error::ImportError;
use super::external::ExternalFiles;
use super::generated::{type_proto, ModelProto};
use super::ops;
use super::tensor::{decode, ConstTensor};

/// The largest value (in elements) a model may have; larger ones are rejected at import so a
/// hostile file cannot make the reference engine allocate without bound (the same cap as
/// architecture files, [`Model::check`]).
pub(super) use patchwork_core::model::MAX_ELEMENTS;

/// State while converting one graph.
pub(super) struct Importer<'a> {
    pub path: &'a str,
    /// Default-domain opset version.
    pub opset: i64,
    /// Constant tensors by ONNX name (initializers, Constant nodes, folded shape plumbing).
    pub consts: HashMap<String, ConstTensor>,
    /// Runtime values by ONNX name.
    pub values: HashMap<String, ValueId>,
    /// How many nodes read each ONNX name (BatchNorm and bias folding need a single reader).
    pub readers: HashMap<String, usize>,
    /// The public architecture built so far.
    pub model: Model,
    /// P1's weights, one entry per node of `model` (`Some` for Conv and Linear nodes).
    pub weights: Vec<Option<LayerWeights>>,
}

impl<'a> Importer<'a> {
    /// Adds a runtime value.
    pub(super) fn add_value(&mut self, name: &str, shape: Shape) -> ValueId {
        let id = self.model.values.len();
        self.model.values.push(ValueInfo {
            name: name.to_string(),
            shape,
        });
        self.values.insert(name.to_string(), id);
        id
    }

    /// Appends a node without weights writing the node's first output; the shape is inferred
    /// unless given.
    pub(super) fn push(
        &mut self,
        cx: &NodeCx,
        op: Op,
        inputs: Vec<ValueId>,
        shape: Option<Shape>,
    ) -> Result<ValueId, ImportError> {
        self.push_node(cx, op, None, inputs, shape)
    }

    /// Appends a node computing an intermediate step of the ONNX node (which becomes several
    /// Patchwork nodes): named `<node>/<step>`, writing a value `<output>/<step>`.
    pub(super) fn push_step(
        &mut self,
        cx: &NodeCx,
        step: &str,
        op: Op,
        inputs: Vec<ValueId>,
    ) -> Result<ValueId, ImportError> {
        let ins: Vec<&Shape> = inputs.iter().map(|&v| self.model.shape(v)).collect();
        let shape = infer_shape(&op, &ins).map_err(|e| cx.graph_err(&e.to_string()))?;
        let output = self.add_value(&format!("{}/{step}", cx.output_name()?), shape);
        self.model.nodes.push(Node {
            name: format!("{}/{step}", cx.name),
            op,
            inputs,
            output,
        });
        self.weights.push(None);
        Ok(output)
    }

    /// Appends a Conv or Linear node with its weights, reading `input`.
    pub(super) fn push_layer(
        &mut self,
        cx: &NodeCx,
        op: Op,
        weights: LayerWeights,
        input: ValueId,
    ) -> Result<(), ImportError> {
        self.push_node(cx, op, Some(weights), vec![input], None)
            .map(drop)
    }

    fn push_node(
        &mut self,
        cx: &NodeCx,
        op: Op,
        weights: Option<LayerWeights>,
        inputs: Vec<ValueId>,
        shape: Option<Shape>,
    ) -> Result<ValueId, ImportError> {
        let shape = match shape {
            Some(s) => s,
            None => {
                let ins: Vec<&Shape> = inputs.iter().map(|&v| self.model.shape(v)).collect();
                infer_shape(&op, &ins).map_err(|e| cx.graph_err(&e.to_string()))?
            }
        };
        if shape.numel() > MAX_ELEMENTS {
            return Err(cx.graph_err(&format!(
                "output shape {shape} exceeds {MAX_ELEMENTS} elements"
            )));
        }
        let output = self.add_value(cx.output_name()?, shape);
        self.model.nodes.push(Node {
            name: cx.name.clone(),
            op,
            inputs,
            output,
        });
        self.weights.push(weights);
        Ok(output)
    }

    /// Makes the node's first output another name for `value` (folded or pass-through nodes).
    pub(super) fn alias(&mut self, cx: &NodeCx, value: ValueId) -> Result<(), ImportError> {
        self.values.insert(cx.output_name()?.to_string(), value);
        Ok(())
    }

    /// Records a constant as the node's first output.
    pub(super) fn set_const(&mut self, cx: &NodeCx, t: ConstTensor) -> Result<(), ImportError> {
        self.consts.insert(cx.output_name()?.to_string(), t);
        Ok(())
    }

    /// Input `index` as a runtime value.
    pub(super) fn runtime(&self, cx: &NodeCx, index: usize) -> Result<ValueId, ImportError> {
        let name = cx.input_name(index);
        if name.is_empty() {
            return Err(cx.input_err(index, "missing"));
        }
        if self.consts.contains_key(name) {
            return Err(cx.input_err(
                index,
                "is a constant, expected a runtime value (activation)",
            ));
        }
        self.values
            .get(name)
            .copied()
            .ok_or_else(|| cx.input_err(index, "no earlier node or graph input produces it"))
    }

    /// Input `index` as a constant, or `None` when the optional input is absent.
    pub(super) fn opt_const(
        &self,
        cx: &NodeCx,
        index: usize,
    ) -> Result<Option<&ConstTensor>, ImportError> {
        let name = cx.input_name(index);
        if name.is_empty() {
            return Ok(None);
        }
        match self.consts.get(name) {
            Some(t) => Ok(Some(t)),
            None => Err(cx.input_err(
                index,
                "expected a constant (initializer), found a runtime value",
            )),
        }
    }

    /// Input `index` as a constant that must be present.
    pub(super) fn constant(&self, cx: &NodeCx, index: usize) -> Result<&ConstTensor, ImportError> {
        self.opt_const(cx, index)?
            .ok_or_else(|| cx.input_err(index, "missing"))
    }

    /// Whether input `index` is a constant.
    pub(super) fn is_const(&self, cx: &NodeCx, index: usize) -> bool {
        self.consts.contains_key(cx.input_name(index))
    }

    /// The index of the node that writes input `input` of the node `cx`, if this node is that
    /// value's only reader, under its own name and under every name folding gave it before.
    /// BatchNormalization and constant operands fold into that node's weights.
    pub(super) fn sole_producer(&self, cx: &NodeCx, input: usize) -> Option<usize> {
        let value = *self.values.get(cx.input_name(input))?;
        let index = self.model.nodes.iter().position(|n| n.output == value)?;
        let mut names = self.values.iter().filter(|(_, &v)| v == value);
        names
            .all(|(name, _)| self.readers.get(name).copied() == Some(1))
            .then_some(index)
    }
}

/// The default-domain opsets the importer reads (torch's TorchScript exporter writes 13 to
/// 18 on request, its dynamo exporter, the default, 18 and later).
pub(super) const OPSETS: std::ops::RangeInclusive<i64> = 7..=21;

/// Converts a decoded ONNX model into a checked architecture with its weights; tensors stored
/// externally are read through `external`.
pub(super) fn import(
    path: &str,
    proto: &ModelProto,
    external: &mut ExternalFiles,
    given: Option<&Shape>,
) -> Result<TrainedModel, ImportError> {
    let graph_err = |detail: String| ImportError::Graph {
        path: path.to_string(),
        detail,
    };
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
        .map(|o| o.version())
        .ok_or_else(|| graph_err("no opset for the default ONNX domain".into()))?;
    if !OPSETS.contains(&opset) {
        return Err(ImportError::Opset {
            path: path.to_string(),
            found: opset,
        });
    }
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| graph_err("the file has no graph".into()))?;
    let mut imp = Importer {
        path,
        opset,
        consts: HashMap::new(),
        values: HashMap::new(),
        readers: HashMap::new(),
        model: Model {
            values: Vec::new(),
            nodes: Vec::new(),
            input: 0,
            output: 0,
        },
        weights: Vec::new(),
    };
    for t in &graph.initializer {
        let tensor_err = |detail| ImportError::Tensor {
            path: path.to_string(),
            tensor: t.name().to_string(),
            detail,
        };
        let raw = external.raw_data(t).map_err(tensor_err)?;
        let tensor = decode(t, raw).map_err(tensor_err)?;
        imp.consts.insert(t.name().to_string(), tensor);
    }
    for n in &graph.node {
        for i in &n.input {
            *imp.readers.entry(i.clone()).or_default() += 1;
        }
    }
    for o in &graph.output {
        *imp.readers.entry(o.name().to_string()).or_default() += 1;
    }
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !imp.consts.contains_key(i.name()))
        .collect();
    let [input] = inputs.as_slice() else {
        return Err(graph_err(format!(
            "expected exactly one non-initializer graph input, found {}",
            inputs.len()
        )));
    };
    let shape = input_shape(input, given)
        .map_err(|d| graph_err(format!("input '{}': {d}", input.name())))?;
    imp.model.input = imp.add_value(input.name(), shape);

    for (index, node) in graph.node.iter().enumerate() {
        let cx = NodeCx::new(path, node, index);
        ops::convert(&mut imp, &cx)?;
    }

    let [output] = graph.output.as_slice() else {
        return Err(graph_err(format!(
            "expected exactly one graph output, found {}",
            graph.output.len()
        )));
    };
    imp.model.output = *imp
        .values
        .get(output.name())
        .ok_or_else(|| graph_err(format!("output '{}' is not a runtime value", output.name())))?;
    TrainedModel::new(imp.model, Weights::new(imp.weights)).map_err(|source| ImportError::Model {
        path: path.to_string(),
        source,
    })
}

/// The shape of the graph input: a float tensor whose dimensions are fixed, or given by
/// `given` (`--input-shape`) where they are symbolic; without `given`, a symbolic batch
/// dimension is 1 and other symbolic dimensions are an error saying so.
fn input_shape(
    input: &super::generated::ValueInfoProto,
    given: Option<&Shape>,
) -> Result<Shape, String> {
    let Some(type_proto::Value::TensorType(t)) =
        input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err("expected a tensor type".into());
    };
    if t.elem_type() != 1 {
        return Err(format!(
            "element type {} is not supported, expected FLOAT (1)",
            t.elem_type()
        ));
    }
    let dims = t.shape.as_ref().ok_or("has no shape")?;
    if let Some(g) = given {
        if g.0.len() != dims.dim.len() {
            return Err(format!(
                "--input-shape {g} has {} dimensions, the model input has {}",
                g.0.len(),
                dims.dim.len()
            ));
        }
    }
    let mut out = Vec::new();
    for (i, d) in dims.dim.iter().enumerate() {
        use super::generated::tensor_shape_proto::dimension::Value;
        let wanted = given.map(|g| g.0[i]);
        let name = match &d.value {
            Some(Value::DimParam(p)) => format!("'{p}'"),
            _ => "unnamed".to_string(),
        };
        match (&d.value, wanted, i) {
            (Some(Value::DimValue(v)), None, _) if *v > 0 => out.push(*v as usize),
            (Some(Value::DimValue(v)), Some(w), _) if *v > 0 => {
                if *v as usize != w {
                    return Err(format!(
                        "dimension {i} is fixed at {v}, --input-shape gives {w}"
                    ));
                }
                out.push(w);
            }
            (Some(Value::DimParam(_)) | None, Some(w), _) => out.push(w),
            (Some(Value::DimParam(_)) | None, None, 0) => out.push(1),
            (Some(Value::DimParam(_)) | None, None, _) => {
                return Err(format!(
                    "dimension {i} is symbolic ({name}): give the size to run at with \
                     --input-shape N,C,H,W"
                ))
            }
            (v, _, _) => {
                return Err(format!(
                    "dimension {i} must be a positive constant, found {v:?}"
                ))
            }
        }
    }
    if Shape(out.clone()).numel() > MAX_ELEMENTS {
        return Err(format!("shape {out:?} exceeds {MAX_ELEMENTS} elements"));
    }
    if out.first() != Some(&1) {
        return Err(format!("batch size must be 1, found shape {out:?}"));
    }
    Ok(Shape(out))
}
