//! `patchwork finetune` on bad input: a spec for another model, a data source of the wrong
//! shape, an image folder without test images, a teacher that reads other inputs, a missing
//! Python environment, and a run killed or interrupted mid-training, which leaves the earlier
//! output and log untouched. Each error names what is wrong.

use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use patchwork_model::data::npy::{encode_npy, Npy, NpyData};

const MODEL: &str = "models/fashion_resnet.onnx";
const SPEC: &str = "models/fashion_resnet_brelu6.spec.json";

fn finetune(args: &[&str], venv: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_patchwork"));
    cmd.arg("finetune").args(args);
    if let Some(v) = venv {
        cmd.env("PATCHWORK_VENV", v);
    }
    cmd.output().unwrap()
}

/// `--model MODEL --spec SPEC --out OUT` and `extra`.
fn args<'a>(spec: &'a str, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "--model",
        MODEL,
        "--spec",
        spec,
        "--out",
        out.to_str().unwrap(),
    ];
    a.extend(extra);
    a
}

fn refused(o: &Output) -> String {
    assert!(!o.status.success(), "accepted:\n{}", stderr(o));
    stderr(o)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn npy(path: &Path, shape: Vec<usize>, data: NpyData) {
    std::fs::write(path, encode_npy(&Npy { shape, data })).unwrap();
}

#[test]
fn a_spec_for_another_model_is_refused_naming_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("other.json");
    std::fs::write(
        &spec,
        r#"{"layers": [{"name": "node_relu_7", "patch_sizes": [[2, 2]]}]}"#,
    )
    .unwrap();
    let out = dir.path().join("f.onnx");
    let e = refused(&finetune(&args(spec.to_str().unwrap(), &out, &[]), None));
    assert!(e.contains("node_relu_7") && e.contains("other.json"), "{e}");
}

#[test]
fn data_of_the_wrong_shape_is_refused_naming_the_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    npy(
        &x,
        vec![4, 3, 32, 32],
        NpyData::F32(vec![0.5; 4 * 3 * 32 * 32]),
    );
    npy(&y, vec![4], NpyData::I64(vec![0, 1, 2, 3]));
    let out = dir.path().join("f.onnx");
    let (xs, ys) = (x.to_str().unwrap(), y.to_str().unwrap());
    let a = args(SPEC, &out, &["--data", xs, "--labels", ys]);
    let test = ["--test-data", xs, "--test-labels", ys];
    let e = refused(&finetune(&[&a[..], &test].concat(), None));
    assert!(e.contains("channels 3 vs 1"), "{e}");
    // Arrays need held-out test images named.
    let e = refused(&finetune(&a, None));
    assert!(e.contains("--test-data is needed"), "{e}");
}

#[test]
fn a_teacher_with_another_input_is_refused() {
    let Some(export) = patchwork_test_support::python::export("small_rgb_dynamo") else {
        return;
    };
    let teacher = export.path().join("small_rgb_dynamo.onnx");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.onnx");
    let e = refused(&finetune(
        &args(SPEC, &out, &["--teacher", teacher.to_str().unwrap()]),
        None,
    ));
    assert!(e.contains("teacher") && e.contains("differ"), "{e}");
}

#[test]
fn a_missing_python_environment_says_how_to_make_one() {
    if patchwork_model::data::fashion::load(
        Path::new(patchwork_model::data::fashion::DEFAULT_DIR),
        patchwork_model::data::fashion::Split::Test,
    )
    .is_err()
    {
        println!("SKIPPED: needs Fashion-MNIST");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.onnx");
    let venv = dir.path().join("no-venv");
    let e = refused(&finetune(
        &args(SPEC, &out, &["--limit", "10"]),
        Some(venv.to_str().unwrap()),
    ));
    assert!(
        e.contains("python3 -m venv") && e.contains("no-venv") && e.contains("pip install torch"),
        "{e}"
    );
    assert!(!out.exists());
}

/// Starts a fine-tuning run over an existing output, stops it with `signal` once it trains,
/// and checks that the output and its log are as before, with no temporary file beside them.
fn interrupted(signal: &str) {
    if patchwork_test_support::python::venv_python().is_none() {
        println!("SKIPPED: no Python venv");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.onnx");
    let log = dir.path().join("f.log");
    std::fs::write(&out, b"an earlier output").unwrap();
    std::fs::write(&log, b"an earlier log").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_patchwork"));
    command
        .args([
            "finetune", "--model", MODEL, "--spec", SPEC, "--epochs", "50",
        ])
        .args([
            "--limit",
            "4000",
            "--test-limit",
            "200",
            "--threads",
            "1",
            "--out",
        ])
        .arg(&out)
        .env(
            "PATCHWORK_VENV",
            patchwork_test_support::python::venv_python()
                .unwrap()
                .parent()
                .and_then(Path::parent)
                .unwrap(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // A command started in the background by a non-interactive shell (`.ci/run &`) inherits
    // SIGINT ignored, as Ctrl-C cannot reach it; the child must see it as a terminal would
    // deliver it.
    // SAFETY: between fork and exec only `signal`, which is async-signal-safe, is called.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    // "fine-tuning ..." comes just before the trainer starts; stop it a few seconds into it.
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let started = lines.any(|l| l.is_ok_and(|l| l.starts_with("fine-tuning ")));
    assert!(started, "finetune did not start training");
    std::thread::spawn(move || lines.for_each(drop));
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        child.try_wait().unwrap().is_none(),
        "finetune ended before it was stopped"
    );
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{signal} did not stop finetune"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Give an orphaned trainer time to notice and stop; nothing may be written.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(std::fs::read(&out).unwrap(), b"an earlier output");
    assert_eq!(std::fs::read(&log).unwrap(), b"an earlier log");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn a_killed_run_leaves_the_earlier_output_untouched() {
    interrupted("-KILL");
}

#[test]
fn an_interrupted_run_leaves_the_earlier_output_untouched() {
    interrupted("-INT");
}
