//! `patchwork plot` writes valid PNG files from small result files of each kind.

use std::path::Path;
use std::process::Command;

/// The default `--font` of `patchwork plot`.
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Runs `patchwork plot <figure>` on `json` and returns the PNG's bytes.
fn plot(dir: &Path, figure: &str, json: &str) -> Vec<u8> {
    let (input, out) = (
        dir.join(format!("{figure}.json")),
        dir.join(format!("{figure}.png")),
    );
    std::fs::write(&input, json).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args(["plot", figure, "--in"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    std::fs::read(&out).unwrap()
}

/// Checks the PNG signature and the image size in the IHDR chunk.
fn assert_png(bytes: &[u8], width: u32, height: u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!((be(16), be(20)), (width, height));
    assert!(bytes.ends_with(b"IEND\xae\x42\x60\x82"));
}

#[test]
fn every_figure_is_a_png() {
    if !Path::new(FONT).exists() {
        eprintln!("skipped: no font at {FONT} (Debian package fonts-dejavu-core)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let budget = r#"{"rows": [{"budget_ratio": 0.01, "float_acc": 0.7, "secure_acc": 0.69},
        {"budget_ratio": 0.06, "float_acc": 0.88, "secure_acc": null},
        {"budget_ratio": 1, "float_acc": 0.92, "secure_acc": 0.92}]}"#;
    let bars = r#"{"title": "t", "rows": [{"name": "a", "float_acc": 0.8},
        {"name": "b", "float_acc": 0.85, "secure_acc": 0.84}]}"#;
    let approx = r#"{"activations": "test", "frac_bits": 12, "grid": [
        {"k_msb": 43, "k_lsb": 0, "error_rate": 0.0}, {"k_msb": 43, "k_lsb": 5, "error_rate": 1e-3},
        {"k_msb": 45, "k_lsb": 0, "error_rate": 1.0}, {"k_msb": 45, "k_lsb": 5, "error_rate": 0.5}]}"#;
    for (figure, json) in [("budget", budget), ("bars", bars), ("approx-error", approx)] {
        assert_png(&plot(dir.path(), figure, json), 900, 600);
    }
}

#[test]
fn an_empty_result_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.json");
    std::fs::write(&input, r#"{"rows": []}"#).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args(["plot", "budget", "--font", FONT, "--in"])
        .arg(&input)
        .arg("--out")
        .arg(dir.path().join("x.png"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("error:"));
}

#[test]
fn a_figure_reads_stdin_and_writes_stdout_for_dash() {
    if !Path::new(FONT).exists() {
        println!("SKIPPED: {FONT} missing (apt-get install -y fonts-dejavu-core)");
        return;
    }
    let approx = r#"{"activations": "test", "frac_bits": 12, "grid": [
        {"k_msb": 43, "k_lsb": 0, "error_rate": 0.0}, {"k_msb": 43, "k_lsb": 5, "error_rate": 1e-3}]}"#;
    let mut child = Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args(["plot", "approx-error", "--in", "-", "--out", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), approx.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_png(&out.stdout, 900, 600);
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote <stdout> from <stdin>"));
}
