//! The `patchwork` binary behaves like a Unix tool: a closed stdout pipe ends it quietly, `-`
//! reads stdin and writes stdout, unknown names are refused listing the valid ones, `--approx
//! exact` works wherever `--approx` does, human output has no Rust debug formatting, shell
//! completions print, and the demo runs from any directory (its files are in the binary).

use std::io::Write;
use std::process::{Command, Output, Stdio};

mod support;
use support::bundled_npy;

const MODEL: &str = "models/fashion_resnet.onnx";

fn patchwork(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// One bundled test image as a `[1, 1, 28, 28]` float `.npy` file.
fn image(dir: &std::path::Path) -> std::path::PathBuf {
    bundled_npy(dir, "x.npy", &[0])
}

#[test]
fn a_closed_stdout_pipe_ends_the_command_quietly() {
    // The reader closes the pipe at once: before `completions bash` has printed its thousands
    // of lines, and before the dry run has loaded the model.
    for args in [
        &["completions", "bash"][..],
        &["plan", "distortion", "--model", MODEL, "--dry-run"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_patchwork"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let (_, err) = text(&out);
        assert!(
            out.status.success(),
            "{args:?}: status {:?}: {err}",
            out.status
        );
        assert!(
            !err.contains("panicked") && err.is_empty(),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn unknown_names_are_refused_listing_the_valid_ones() {
    for (args, valid) in [
        (
            &["eval", "--model", MODEL, "--data", "mnist"][..],
            "fashion-mnist-64",
        ),
        (&["bench", "protocols", "--only", "foo"][..], "brelu_4x4"),
        (
            &[
                "infer",
                "--model",
                MODEL,
                "--input",
                "x",
                "--network",
                "udp",
            ][..],
            "memory",
        ),
        (
            &[
                "infer",
                "--model",
                MODEL,
                "--input",
                "x",
                "--truncation",
                "no",
            ][..],
            "assisted",
        ),
        (
            &["party", "--role", "p3", "--config", "c", "--model", MODEL][..],
            "p2",
        ),
        (
            &["infer", "--model", MODEL, "--input", "x", "--approx", "43"][..],
            "exact",
        ),
    ] {
        let out = patchwork(args);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(valid), "{args:?}: {err}");
    }
}

#[test]
fn infer_takes_exact_and_reads_its_input_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let input = std::fs::read(image(dir.path())).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args([
            "infer", "--model", MODEL, "--input", "-", "--approx", "exact",
        ])
        .args(["--network", "memory"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{err}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("class 9; output "), "{last}");
    // People read values, not Rust debug output.
    assert!(
        !stdout.contains('[') && !stdout.contains("Approx {"),
        "{stdout}"
    );
}

#[test]
fn architecture_and_knapsack_write_to_stdout_with_the_report_on_stderr() {
    let out = patchwork(&["architecture", "--model", MODEL, "--out", "-"]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{err}");
    let file: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(file["patchwork_architecture"], 1);
    assert!(err.contains("wrote <stdout>"), "{err}");
    let out = patchwork(&[
        "plan",
        "knapsack",
        "--table",
        "models/fashion_resnet.distortion128.json",
        "--budget-ratio",
        "0.5",
        "--out",
        "-",
    ]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{err}");
    let spec: patchwork_core::spec::Spec = serde_json::from_str(&stdout).unwrap();
    assert!(!spec.layers.is_empty());
    assert!(err.contains("proven optimal"), "{err}");
}

#[test]
fn every_reporting_command_prints_json_on_request() {
    for args in [
        &[
            "eval",
            "--model",
            MODEL,
            "--data",
            "fashion-mnist-64",
            "--json",
        ][..],
        &["architecture", "--model", MODEL, "--out", "-", "--json"][..],
        &["demo", "--images", "1", "--network", "memory", "--json"][..],
    ] {
        let out = patchwork(args);
        let (stdout, err) = text(&out);
        assert!(out.status.success(), "{args:?}: {err}");
        let report = if args.contains(&"-") { err } else { stdout };
        let last = report.lines().last().unwrap_or_default();
        let v: Result<serde_json::Value, _> = serde_json::from_str(last);
        assert!(v.is_ok_and(|v| v.is_object()), "{args:?}: {last}");
    }
}

#[test]
fn the_demo_runs_from_any_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args(["demo", "--images", "2", "--network", "memory"])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(stdout.contains("secure accuracy"), "{stdout}");
    assert!(
        stdout.contains("approximate DReLU 43,5 (l* = 16)"),
        "{stdout}"
    );
}

#[test]
fn completions_print_for_the_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let out = patchwork(&["completions", shell]);
        assert!(out.status.success());
        assert!(text(&out).0.contains("knapsack"), "{shell}");
    }
}
