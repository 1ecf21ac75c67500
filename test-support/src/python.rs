//! Test models exported by `python/export_test_models.py` with the Python venv
//! (`$PATCHWORK_VENV`, default `/root/.cache/patchwork-venv`, with torch, torchvision, onnx,
//! onnxscript and onnxruntime; `.ci/run` creates it). Without the venv a test prints why it
//! skips.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv's Python, if there is one.
pub fn venv_python() -> Option<PathBuf> {
    let venv =
        std::env::var("PATCHWORK_VENV").unwrap_or_else(|_| "/root/.cache/patchwork-venv".into());
    let py = Path::new(&venv).join("bin/python");
    py.exists().then_some(py)
}

/// Exports model `name` into a fresh directory: `NAME.onnx` (and its external data),
/// `NAME.input.npy` and onnxruntime's `NAME.output.npy`. `None`, with a line saying why, when
/// there is no venv; a failed export panics with Python's error.
pub fn export(name: &str) -> Option<tempfile::TempDir> {
    let Some(py) = venv_python() else {
        println!(
            "SKIPPED {name}: no Python venv (set PATCHWORK_VENV or create \
             /root/.cache/patchwork-venv with torch torchvision onnx onnxscript onnxruntime)"
        );
        return None;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/export_test_models.py");
    let out = Command::new(py)
        .arg(script)
        .arg(dir.path())
        .arg(name)
        .output()
        .expect("the venv's python runs");
    assert!(
        out.status.success(),
        "export of {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(dir)
}
