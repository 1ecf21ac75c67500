//! Compares the float reference with a Block-ReLU spec against an independent PyTorch
//! Block-ReLU (average pooling with ceil mode, `python/block_relu_check.py`) on the small
//! DeepLab-style model with a random spec (patches, ragged edges, identity and zero channels).
//! Also checks the Block-ReLU layer that fine-tuning trains against that reference, forward and
//! gradient (`python/finetune_layer_check.py`). Skips with a printed reason when the Python venv
//! is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::{ArrayD, IxDyn};
use patchwork_core::model::spec_check::drelu_summary;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_model::data::npy::read_npy;
use patchwork_model::onnx::load_model;
use patchwork_model::reference::forward;
use patchwork_model::spec_io::load_spec;

/// The venv's Python, or `None` after printing why `test` skips.
fn venv_python(test: &str) -> Option<PathBuf> {
    let venv =
        std::env::var("PATCHWORK_VENV").unwrap_or_else(|_| "/root/.cache/patchwork-venv".into());
    let py = Path::new(&venv).join("bin/python");
    if !py.exists() {
        println!("SKIPPED {test}: no Python venv at {venv} (torch, onnx needed)");
        return None;
    }
    Some(py)
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../python")
        .join(name)
}

#[test]
fn block_relu_matches_torch() {
    let Some(py) = venv_python("block_relu_matches_torch") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("patchwork-block-relu-{}", std::process::id()));
    let out = Command::new(py)
        .arg(script("block_relu_check.py"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "block_relu_check.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let model = load_model(&dir.join("block_relu.onnx")).unwrap();
    let spec = load_spec(&dir.join("block_relu.spec.json")).unwrap();
    let summary = drelu_summary(model.model(), &spec).unwrap();
    let input = read_npy(&dir.join("block_relu.input.npy")).unwrap();
    let want = read_npy(&dir.join("block_relu.output.npy"))
        .unwrap()
        .to_f32();
    let x = ArrayD::from_shape_vec(IxDyn(&input.shape), input.to_f32()).unwrap();
    let y = forward(
        &model,
        &x,
        &ResolvedSpec::new(model.model(), &spec).unwrap(),
    )
    .unwrap();
    let plain = forward(&model, &x, &ResolvedSpec::plain(model.model()).unwrap()).unwrap();
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

/// The training layer of `python/finetune.py` (through `python/finetune_brelu.py`'s patch
/// encoding; with and without `--decision-grad`) equals the reference above in its forward
/// pass, and its gradient is the paper's (the mask) or, with the straight-through decisions,
/// the mask plus the box surrogate's term.
#[test]
fn finetune_block_relu_matches_reference() {
    let Some(py) = venv_python("finetune_block_relu_matches_reference") else {
        return;
    };
    let out = Command::new(py)
        .arg(script("finetune_layer_check.py"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "finetune_layer_check.py failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{}", String::from_utf8_lossy(&out.stdout).trim());
}
