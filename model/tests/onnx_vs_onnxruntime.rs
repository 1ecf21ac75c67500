//! Compares the float reference with onnxruntime on models exported by
//! `python/export_test_models.py` (random weights, random BatchNorm statistics), and checks
//! that each, written back by the exporter, imports as the same model.
//!
//! Needs the Python venv with torch, torchvision, onnx, onnxscript and onnxruntime at
//! `$PATCHWORK_VENV` (default `/root/.cache/patchwork-venv`); without it each test prints why
//! it is skipped and passes. Tolerance: max abs error <= 1e-4 * max |onnxruntime output|.

use ndarray::{ArrayD, IxDyn};
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::Shape;
use patchwork_model::data::npy::read_npy;
use patchwork_model::onnx::{export_model, import_bytes, load_model_for};
use patchwork_model::reference::forward;
use patchwork_test_support::python::export;

fn check(name: &str) {
    let Some(dir) = export(name) else { return };
    let dir = dir.path();
    let input = read_npy(&dir.join(format!("{name}.input.npy"))).unwrap();
    // A model with symbolic H and W runs at the input's size (`--input-shape`).
    let shape = name
        .ends_with("_dynamic")
        .then(|| Shape(input.shape.clone()));
    let model = load_model_for(&dir.join(format!("{name}.onnx")), shape.as_ref()).unwrap();
    let expected = read_npy(&dir.join(format!("{name}.output.npy"))).unwrap();
    let x = ArrayD::from_shape_vec(IxDyn(&input.shape), input.to_f32()).unwrap();
    let start = std::time::Instant::now();
    let y = forward(&model, &x, &ResolvedSpec::plain(model.model()).unwrap()).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(y.shape(), expected.shape.as_slice(), "{name}: output shape");
    let want = expected.to_f32();
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let err = y
        .iter()
        .zip(&want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    println!(
        "{name}: {} nodes, max abs error {err:.3e}, output scale {scale:.4}, relative {:.3e}, forward {elapsed:.2?}",
        model.model().nodes.len(),
        err / scale
    );
    assert!(
        err <= 1e-4 * scale,
        "{name}: max abs error {err} exceeds 1e-4 * {scale}"
    );
    // Written back as ONNX (what `patchwork finetune` does), it imports as the same model.
    let back = import_bytes(name, &export_model(&model).unwrap()).unwrap();
    assert_eq!(back.model(), model.model(), "{name}: exported architecture");
    assert_eq!(back.weights(), model.weights(), "{name}: exported weights");
}

#[test]
fn ops_mix_matches_onnxruntime() {
    check("ops_mix");
}

#[test]
fn deeplab_small_matches_onnxruntime() {
    check("deeplab_small");
}

#[test]
fn resnet18_cifar_matches_onnxruntime() {
    check("resnet18_cifar");
}

#[test]
fn mobilenet_v2_matches_onnxruntime() {
    check("mobilenet_v2");
}

#[test]
fn resnet50_matches_onnxruntime() {
    check("resnet50");
}

#[test]
fn deeplab_small_unfolded_matches_onnxruntime() {
    check("deeplab_small_unfolded");
}

#[test]
fn ops_mix_unfolded_matches_onnxruntime() {
    check("ops_mix_unfolded");
}

// What a plain `torch.onnx.export(model, (x,), path)` writes with the installed PyTorch (the
// dynamo exporter: opset 20, weights in `NAME.onnx.data`, ReduceMean for adaptive pooling).

#[test]
fn resnet18_cifar_default_export_matches_onnxruntime() {
    check("resnet18_cifar_dynamo");
}

#[test]
fn mobilenet_v2_default_export_matches_onnxruntime() {
    check("mobilenet_v2_dynamo");
}

#[test]
fn deeplab_small_default_export_matches_onnxruntime() {
    check("deeplab_small_dynamo");
}

#[test]
fn ops_mix_default_export_matches_onnxruntime() {
    check("ops_mix_dynamo");
}

// Symbolic H and W, run at 48x80 (exported at 64x64 and 16x16): `--input-shape`.

#[test]
fn deeplab_small_with_symbolic_size_matches_onnxruntime_at_another_size() {
    check("deeplab_small_dynamic");
}

#[test]
fn small_rgb_with_symbolic_size_matches_onnxruntime_at_another_size() {
    check("small_rgb_dynamic");
}

// Input normalisation and constant scales and shifts inside the graph (`(x - mean) / std`,
// `* 0.5` after a ReLU, `- 1` on the logits), from both exporters.

#[test]
fn normalisation_inside_the_graph_matches_onnxruntime() {
    check("normalized");
}

#[test]
fn normalisation_inside_the_graph_default_export_matches_onnxruntime() {
    check("normalized_dynamo");
}
