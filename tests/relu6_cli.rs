//! A ReLU6 network planned with its ReLU6s, through the CLI as the README documents it: the
//! small operator mix (a ReLU, a ReLU6, a ReLU; 3 x 16 x 16, exported with today's default
//! `torch.onnx.export`) gets `plan distortion` on an `.npy` array and `plan knapsack`, counted by
//! `spec stats` with the ReLU6's clamp; a spec with 2x2 Block-ReLU6 patches is calibrated, run
//! securely with `--approx auto` against `patchwork reference`, and accepted by the fine-tuning
//! trainer, whose module must equal the reference before it trains. Needs the Python venv
//! (`patchwork_test_support::python`); without it the test prints why and passes.

use std::path::Path;
use std::process::Command;

use patchwork_model::data::npy::{encode_npy, Npy, NpyData};
use patchwork_test_support::python::export;

fn patchwork(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args(args)
        .output()
        .expect("patchwork runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// Runs `patchwork` and returns its standard output, failing the test with both streams.
fn ok(args: &[&str]) -> String {
    let (ok, out, err) = patchwork(args);
    assert!(ok, "patchwork {}: {out}{err}", args.join(" "));
    out
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `n` images `N x 3 x 16 x 16` with values up to about 12, so that the ReLU6 clamps.
fn write_images(path: &Path, n: usize, first: usize) {
    let x: Vec<f32> = (first * 768..(first + n) * 768)
        .map(|k| (((k * 7919) % 1013) as f32 / 1013.0 - 0.5) * 24.0)
        .collect();
    let npy = Npy {
        shape: vec![n, 3, 16, 16],
        data: NpyData::F32(x),
    };
    std::fs::write(path, encode_npy(&npy)).expect("write npy");
}

#[test]
fn a_relu6_network_is_planned_calibrated_run_and_fine_tuned_with_block_relu6() {
    let Some(tmp) = export("ops_mix_dynamo") else {
        return;
    };
    let dir = tmp.path();
    let m = dir.join("ops_mix_dynamo.onnx");
    let (x, one, labels) = (dir.join("x.npy"), dir.join("one.npy"), dir.join("y.npy"));
    write_images(&x, 16, 0);
    write_images(&one, 1, 40);
    let y = Npy {
        shape: vec![16],
        data: NpyData::I64((0..16).map(|i| i % 10).collect()),
    };
    std::fs::write(&labels, encode_npy(&y)).unwrap();

    let table = dir.join("t.json");
    let out = ok(&[
        "plan",
        "distortion",
        "--model",
        s(&m),
        "--data",
        s(&x),
        "--samples",
        "8",
        "--max-side",
        "2",
        "--coarse-blocks",
        "0",
        "--out",
        s(&table),
    ]);
    assert!(out.contains("3 ReLU layers (1 of them ReLU6"), "{out}");
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
    assert!(
        t.to_string().contains("\"node_relu6\""),
        "the table measures the ReLU6 layer"
    );
    let planned = dir.join("s.json");
    ok(&[
        "plan",
        "knapsack",
        "--table",
        s(&table),
        "--budget-ratio",
        "0.3",
        "--out",
        s(&planned),
    ]);

    // Every channel of every layer 2x2: the ReLU6 is a Block-ReLU6, 8 x 8 x 8 elements.
    let uniform = dir.join("u.json");
    ok(&[
        "spec",
        "uniform",
        "--model",
        s(&m),
        "--patch",
        "2x2",
        "--out",
        s(&uniform),
    ]);
    for spec in [&planned, &uniform] {
        let stats = ok(&[
            "spec",
            "stats",
            "--model",
            s(&m),
            "--spec",
            s(spec),
            "--json",
        ]);
        let stats: serde_json::Value = serde_json::from_str(stats.trim()).unwrap();
        let layer = stats["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "node_relu6")
            .cloned()
            .expect("spec stats lists the ReLU6 layer");
        assert_eq!(layer["clamp_drelus"], 512, "{layer}");
        assert_eq!(layer["relu_drelus"], 1024, "{layer}");
    }
    let text = ok(&["spec", "stats", "--model", s(&m), "--spec", s(&uniform)]);
    assert!(text.contains("clamp at 6"), "{text}");

    let calibrated = dir.join("c.json");
    ok(&[
        "plan",
        "calibrate",
        "--model",
        s(&m),
        "--spec",
        s(&uniform),
        "--data",
        s(&x),
        "--samples",
        "16",
        "--out",
        s(&calibrated),
    ]);
    let reference = ok(&[
        "reference",
        "--model",
        s(&m),
        "--spec",
        s(&uniform),
        "--input",
        s(&one),
    ]);
    let plain = ok(&["reference", "--model", s(&m), "--input", s(&one)]);
    let scores = |text: &str| -> Vec<f32> {
        let line = text.lines().nth(1).expect("the output line");
        line.split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let (want, plain) = (scores(&reference), scores(&plain));
    assert_ne!(want, plain, "the Block-ReLU6s change the output");
    let report = ok(&[
        "infer",
        "--model",
        s(&m),
        "--spec",
        s(&calibrated),
        "--input",
        s(&one),
        "--approx",
        "auto",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    let got: Vec<f32> = report["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(err < 5e-3, "secure {got:?} vs reference {want:?}");
    assert_eq!(report["bytes"], report["predicted_bytes"], "the cost model");

    // The trainer refuses to train a module that differs from the reference.
    let tuned = dir.join("ft.onnx");
    let (done, out, err) = patchwork(&[
        "finetune",
        "--model",
        s(&m),
        "--spec",
        s(&uniform),
        "--out",
        s(&tuned),
        "--epochs",
        "1",
        "--data",
        s(&x),
        "--labels",
        s(&labels),
        "--test-data",
        s(&x),
        "--test-labels",
        s(&labels),
        "--batch",
        "8",
        "--threads",
        "1",
    ]);
    assert!(done && tuned.exists(), "finetune: {out}{err}");
}
