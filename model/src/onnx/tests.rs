//! Import tests on small graphs built in code: BatchNorm folding, error messages for
//! unsupported operators and attributes, and no panics on truncated or corrupted bytes.

use prost::Message;

use super::build::{int, ints, node, string, tensor, value};
use super::generated::{
    tensor_proto::DataType, tensor_shape_proto, type_proto, AttributeProto, GraphProto, ModelProto,
    NodeProto, OperatorSetIdProto, TensorProto,
};
use super::{import_bytes, ImportError};
use patchwork_core::model::Op;

/// Conv(1->2, 3x3, pad 1) -> BN -> Relu -> GlobalAveragePool -> Flatten -> Gemm(2->3).
fn small_model(extra: Option<NodeProto>) -> ModelProto {
    let mut nodes = vec![
        node(
            "Conv",
            "conv",
            &["x", "w", "b"],
            "c",
            vec![ints("pads", &[1, 1, 1, 1])],
        ),
        node(
            "BatchNormalization",
            "bn",
            &["c", "g", "beta", "mean", "var"],
            "n",
            vec![],
        ),
        node("Relu", "relu1", &["n"], "r", vec![]),
        node("GlobalAveragePool", "gap", &["r"], "p", vec![]),
        node("Flatten", "flat", &["p"], "f", vec![]),
        node("Gemm", "fc", &["f", "fw", "fb"], "y", vec![]),
    ];
    if let Some(n) = extra {
        nodes.insert(3, n);
    }
    ModelProto {
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(GraphProto {
            node: nodes,
            initializer: vec![
                tensor(
                    "w",
                    &[2, 1, 3, 3],
                    (0..18).map(|i| i as f32 * 0.1 - 0.9).collect(),
                ),
                tensor("b", &[2], vec![0.5, -0.5]),
                tensor("g", &[2], vec![2.0, 0.5]),
                tensor("beta", &[2], vec![0.1, 0.2]),
                tensor("mean", &[2], vec![1.0, -1.0]),
                tensor("var", &[2], vec![4.0, 0.25]),
                tensor("fw", &[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
                tensor("fb", &[3], vec![0.0, 1.0, 2.0]),
            ],
            input: vec![value("x", &[1, 1, 5, 5])],
            output: vec![value("y", &[1, 3])],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn imports_and_folds_batch_norm() {
    let bytes = small_model(None).encode_to_vec();
    let trained = import_bytes("small.onnx", &bytes).unwrap();
    let m = trained.model();
    let kinds: Vec<_> = m.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(
        kinds,
        ["Conv", "Relu", "GlobalAvgPool", "Reshape", "Linear"]
    );
    assert!(matches!(m.nodes[0].op, Op::Conv(_)));
    let conv = trained.weights().layer(0).unwrap();
    // scale = g / sqrt(var + eps): 2/2 = 1 and 0.5/0.5 = 1 (eps 1e-5 aside).
    assert!((conv.bias[0] - ((0.5 - 1.0) * 2.0 / (4.0f32 + 1e-5).sqrt() + 0.1)).abs() < 1e-6);
    assert_eq!(m.nodes[1].name, "relu1");
    assert_eq!(m.shape(m.output).0, vec![1, 3]);
}

#[test]
fn unsupported_op_names_node_and_op() {
    let bytes = small_model(Some(node("Sigmoid", "sig", &["r"], "r2", vec![]))).encode_to_vec();
    let e = import_bytes("small.onnx", &bytes).unwrap_err();
    assert!(matches!(e, ImportError::UnsupportedOp { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("small.onnx") && msg.contains("'sig'") && msg.contains("Sigmoid"),
        "{msg}"
    );
}

#[test]
fn unsupported_attribute_names_attribute() {
    let mp = node(
        "MaxPool",
        "mp",
        &["r"],
        "r2",
        vec![ints("kernel_shape", &[2, 2]), int("ceil_mode", 1)],
    );
    let e = import_bytes("small.onnx", &small_model(Some(mp)).encode_to_vec())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'mp'") && e.contains("ceil_mode") && e.contains("expected 0, found 1"),
        "{e}"
    );
    let ap = node(
        "AveragePool",
        "ap",
        &["r"],
        "r2",
        vec![ints("kernel_shape", &[2, 2]), string("auto_pad", "WEIRD")],
    );
    let e = import_bytes("small.onnx", &small_model(Some(ap)).encode_to_vec())
        .unwrap_err()
        .to_string();
    assert!(e.contains("auto_pad") && e.contains("WEIRD"), "{e}");
    let bad = node("Relu", "r_bad", &["r"], "r2", vec![ints("alpha", &[1])]);
    let e = import_bytes("small.onnx", &small_model(Some(bad)).encode_to_vec())
        .unwrap_err()
        .to_string();
    assert!(e.contains("'r_bad'") && e.contains("alpha"), "{e}");
}

#[test]
fn truncated_or_corrupted_bytes_never_panic() {
    let bytes = small_model(None).encode_to_vec();
    for cut in 0..bytes.len() {
        let _ = import_bytes("t.onnx", &bytes[..cut]);
    }
    let mut state = 0x1234_5678_9abc_def0u64;
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = (state % b.len() as u64) as usize;
            b[i] = (state >> 32) as u8;
        }
        let _ = import_bytes("c.onnx", &b);
    }
    assert!(import_bytes("t.onnx", &bytes[..bytes.len() / 2]).is_err());
}

/// The small model with its Conv weight `w` moved to `data_file` at byte `offset` (raw
/// little-endian floats), as the dynamo exporter stores weights; written into `dir`.
fn with_external_weight(dir: &std::path::Path, location: &str, offset: usize) -> ModelProto {
    let mut m = small_model(None);
    let graph = m.graph.as_mut().unwrap();
    let w = graph
        .initializer
        .iter_mut()
        .find(|t| t.name() == "w")
        .unwrap();
    let mut bytes = vec![0xAB; offset];
    bytes.extend(w.float_data.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(dir.join("m.onnx.data"), &bytes).unwrap();
    let entry = |k: &str, v: String| super::generated::StringStringEntryProto {
        key: Some(k.into()),
        value: Some(v),
    };
    w.float_data.clear();
    w.data_location = Some(1);
    w.external_data = vec![
        entry("location", location.into()),
        entry("offset", offset.to_string()),
        entry("length", (18 * 4).to_string()),
    ];
    m
}

#[test]
fn external_weights_load_from_beside_the_model_and_bad_locations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    let inline = import_bytes("small.onnx", &small_model(None).encode_to_vec()).unwrap();
    std::fs::write(
        &path,
        with_external_weight(dir.path(), "m.onnx.data", 24).encode_to_vec(),
    )
    .unwrap();
    let external = super::load_model(&path).unwrap();
    assert_eq!(external.weights(), inline.weights());
    // From bytes alone there is no directory to look in.
    let bytes = std::fs::read(&path).unwrap();
    let e = import_bytes("m.onnx", &bytes).unwrap_err().to_string();
    assert!(
        e.contains("tensor 'w'") && e.contains("external file 'm.onnx.data'"),
        "{e}"
    );
    for (location, says) in [
        ("../m.onnx.data", "inside the model's directory"),
        ("/etc/passwd", "inside the model's directory"),
        ("missing.data", "No such file"),
    ] {
        let m = with_external_weight(dir.path(), location, 0);
        std::fs::write(&path, m.encode_to_vec()).unwrap();
        let e = super::load_model(&path).unwrap_err().to_string();
        assert!(
            e.contains("tensor 'w'") && e.contains(says),
            "{location}: {e}"
        );
    }
    let mut m = with_external_weight(dir.path(), "m.onnx.data", 0);
    let w = &mut m.graph.as_mut().unwrap().initializer[0];
    w.external_data[1].value = Some("70".into());
    std::fs::write(&path, m.encode_to_vec()).unwrap();
    let e = super::load_model(&path).unwrap_err().to_string();
    assert!(e.contains("bytes 70..142 are outside the file's 72"), "{e}");
}

#[test]
fn reduce_mean_over_the_map_is_a_global_average_pool() {
    // Opset 18: axes are an input; keepdims 0 needs no Flatten afterwards.
    let mut m = small_model(None);
    m.opset_import[0].version = Some(18);
    let graph = m.graph.as_mut().unwrap();
    graph.node[3] = node("ReduceMean", "mean", &["r", "axes"], "f", vec![keepdims(0)]);
    graph.node.remove(4);
    graph.initializer.push(TensorProto {
        name: Some("axes".into()),
        dims: vec![2],
        data_type: Some(DataType::Int64 as i32),
        int64_data: vec![-1, 2],
        ..Default::default()
    });
    let plain = import_bytes("small.onnx", &small_model(None).encode_to_vec()).unwrap();
    let mean = import_bytes("mean.onnx", &m.encode_to_vec()).unwrap();
    let kinds: Vec<_> = mean.model().nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(
        kinds,
        ["Conv", "Relu", "GlobalAvgPool", "Reshape", "Linear"]
    );
    assert_eq!(mean.model().nodes[2].name, "mean/pool");
    assert_eq!(mean.weights(), plain.weights());
    // Over the channels it is refused, naming the axes.
    let graph = m.graph.as_mut().unwrap();
    let axes = graph.initializer.last_mut().unwrap();
    (axes.dims, axes.int64_data) = (vec![1], vec![1]);
    let e = import_bytes("mean.onnx", &m.encode_to_vec())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'mean'") && e.contains("axes") && e.contains("[1]"),
        "{e}"
    );
}

fn keepdims(v: i64) -> AttributeProto {
    int("keepdims", v)
}

#[test]
fn a_final_softmax_is_imported_and_one_elsewhere_refused() {
    let mut m = small_model(None);
    let graph = m.graph.as_mut().unwrap();
    graph.node.last_mut().unwrap().output = vec!["logits".into()];
    graph
        .node
        .push(node("LogSoftmax", "logsoftmax", &["logits"], "y", vec![]));
    let trained = import_bytes("s.onnx", &m.encode_to_vec()).unwrap();
    let last = trained.model().nodes.last().unwrap();
    assert_eq!(last.op, Op::LogSoftmax);
    // Not as the last node: refused naming it.
    let graph = m.graph.as_mut().unwrap();
    let n = graph.node.len();
    graph.node[n - 1].output = vec!["p".into()];
    graph.node.push(node("Relu", "after", &["p"], "y", vec![]));
    let e = import_bytes("s.onnx", &m.encode_to_vec())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'logsoftmax'") && e.contains("only as the last node"),
        "{e}"
    );
}

#[test]
fn symbolic_input_dimensions_take_the_given_shape() {
    let mut m = small_model(None);
    let input = &mut m.graph.as_mut().unwrap().input[0];
    let Some(type_proto::Value::TensorType(t)) = input.r#type.as_mut().unwrap().value.as_mut()
    else {
        panic!("tensor type")
    };
    for (i, name) in [(2, "h"), (3, "w")] {
        t.shape.as_mut().unwrap().dim[i].value =
            Some(tensor_shape_proto::dimension::Value::DimParam(name.into()));
    }
    let bytes = m.encode_to_vec();
    let e = import_bytes("s.onnx", &bytes).unwrap_err().to_string();
    assert!(
        e.contains("dimension 2 is symbolic ('h')") && e.contains("--input-shape"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.onnx");
    std::fs::write(&path, &bytes).unwrap();
    let at = |dims: &[usize]| {
        super::load_model_for(&path, Some(&patchwork_core::model::Shape(dims.to_vec())))
    };
    let big = at(&[1, 1, 9, 7]).unwrap();
    assert_eq!(big.model().shape(1).0, vec![1, 2, 9, 7]);
    let e = at(&[1, 2, 9, 7]).unwrap_err().to_string();
    assert!(
        e.contains("dimension 1 is fixed at 1, --input-shape gives 2"),
        "{e}"
    );
    let e = at(&[1, 1, 9]).unwrap_err().to_string();
    assert!(e.contains("has 3 dimensions, the model input has 4"), "{e}");
}

#[test]
fn constant_operands_that_are_not_linear_or_do_not_broadcast_are_refused() {
    let with = |n: NodeProto, c: TensorProto| {
        let mut m = small_model(Some(n));
        m.graph.as_mut().unwrap().initializer.push(c);
        import_bytes("c.onnx", &m.encode_to_vec()).map(|_| ())
    };
    let e = with(
        node("Div", "inv", &["k", "r"], "r2", vec![]),
        tensor("k", &[1], vec![2.0]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("'inv'") && e.contains("not a linear operator"),
        "{e}"
    );
    let e = with(
        node("Div", "zero", &["r", "k"], "r2", vec![]),
        tensor("k", &[1], vec![0.0]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("'zero'") && e.contains("divides by 0"), "{e}");
    // Three values for the two channels of `r`.
    let e = with(
        node("Mul", "odd", &["r", "k"], "r2", vec![]),
        tensor("k", &[3, 1, 1], vec![1.0; 3]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("'odd'") && e.contains("do not broadcast"), "{e}");
    // One value per channel is a depthwise 1x1 convolution after the (weightless) ReLU.
    assert!(with(
        node("Mul", "scale", &["r", "k"], "r2", vec![]),
        tensor("k", &[1, 2, 1, 1], vec![0.5, 2.0]),
    )
    .is_ok());
}

#[test]
fn a_constant_operand_folds_only_into_a_layer_nothing_else_reads() {
    // conv -> Sub k (folds: the conv's output has one reader) -> s; s is read by Div k2 and
    // by Add(s, d): the Div must not fold into the conv, or the Add would see it too.
    let mut m = small_model(None);
    let graph = m.graph.as_mut().unwrap();
    // The small model's BatchNormalization and Relu give way to the chain, which writes `r`.
    graph.node.splice(
        1..3,
        [
            node("Sub", "sub", &["c", "k"], "s", vec![]),
            node("Div", "div", &["s", "k2"], "d", vec![]),
            node("Add", "add", &["s", "d"], "r", vec![]),
        ],
    );
    graph.initializer.push(tensor("k", &[1], vec![0.5]));
    graph.initializer.push(tensor("k2", &[1], vec![4.0]));
    let trained = import_bytes("fold.onnx", &m.encode_to_vec()).unwrap();
    let kinds: Vec<_> = trained.model().nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(
        kinds,
        ["Conv", "Conv", "Add", "GlobalAvgPool", "Reshape", "Linear"]
    );
    // The Sub folded into the first conv's bias; the Div is the depthwise 1x1 conv.
    let (first, div) = (
        trained.weights().layer(0).unwrap(),
        trained.weights().layer(1).unwrap(),
    );
    assert_eq!(first.bias, vec![0.5 - 0.5, -0.5 - 0.5]);
    assert_eq!(
        (div.weight.clone(), div.bias.clone()),
        (vec![0.25; 2], vec![0.0; 2])
    );
}

#[test]
fn an_exported_model_imports_back_to_the_same_model() {
    let original = import_bytes("small.onnx", &small_model(None).encode_to_vec()).unwrap();
    let bytes = super::export_model(&original).unwrap();
    let back = import_bytes("exported.onnx", &bytes).unwrap();
    assert_eq!(back.model(), original.model());
    assert_eq!(back.weights(), original.weights());
}
