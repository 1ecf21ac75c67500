//! Compares the float reference with a Block-ReLU spec against an independent PyTorch
//! Block-ReLU (average pooling with ceil mode, `python/block_relu_check.py`) on the small
//! DeepLab-style model with a random spec (patches, ragged edges, identity and zero channels).
//! Skips with a printed reason when the Python venv is missing.

use std::path::Path;
use std::process::Command;

use ndarray::{ArrayD, IxDyn};
use patchwork_core::model::spec_check::drelu_summary;
use patchwork_host::npy::read_npy;
use patchwork_host::onnx::load_model;
use patchwork_host::reference::forward;
use patchwork_host::spec_io::load_spec;

#[test]
fn block_relu_matches_torch() {
    let venv =
        std::env::var("PATCHWORK_VENV").unwrap_or_else(|_| "/root/.cache/patchwork-venv".into());
    let py = Path::new(&venv).join("bin/python");
    if !py.exists() {
        println!("SKIPPED block_relu_matches_torch: no Python venv at {venv} (torch, onnx needed)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("patchwork-block-relu-{}", std::process::id()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/block_relu_check.py");
    let out = Command::new(py).arg(script).arg(&dir).output().unwrap();
    assert!(
        out.status.success(),
        "block_relu_check.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let model = load_model(&dir.join("block_relu.onnx")).unwrap();
    let spec = load_spec(&dir.join("block_relu.spec.json")).unwrap();
    let summary = drelu_summary(&model, &spec).unwrap();
    let input = read_npy(&dir.join("block_relu.input.npy")).unwrap();
    let want = read_npy(&dir.join("block_relu.output.npy"))
        .unwrap()
        .to_f32();
    let x = ArrayD::from_shape_vec(IxDyn(&input.shape), input.to_f32()).unwrap();
    let y = forward(&model, &x, Some(&spec)).unwrap();
    let plain = forward(&model, &x, None).unwrap();
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let err = y
        .iter()
        .zip(&want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    let diff_plain = plain
        .iter()
        .zip(&want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    println!(
        "block_relu: DReLU ratio {:.4}, max abs error {err:.3e} (scale {scale:.4}); plain ReLU differs by {diff_plain:.3e}",
        summary.ratio()
    );
    assert!(
        diff_plain > 1e-3 * scale,
        "the spec should change the output"
    );
    assert!(
        err <= 1e-4 * scale,
        "max abs error {err} exceeds 1e-4 * {scale}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
