//! `plan calibrate` and `--approx` from the command line, on inputs whose activations the
//! paper's (43, 5) cannot hold: Fashion-MNIST images scaled by 256 through the bundled 6% model.
//! The calibrated spec runs (`auto`, the default) and follows the float reference; a fixed
//! `--approx 43,5` with it is refused naming the layer; without a calibration it warns; windows
//! counted at 12 fractional bits refuse a run at 16; windows of another model are refused;
//! `spec stats` lists the windows.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use patchwork_model::data::npy::{encode_npy, Npy, NpyData};

const MODEL: &str = "models/fashion_resnet_brelu6.onnx";
const SPEC: &str = "models/fashion_resnet_brelu6.spec.json";
const SCALE: f32 = 256.0;

fn patchwork(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Bundled test images `images`, times [`SCALE`], as one `N x 1 x 28 x 28` array.
fn scaled_images(dir: &Path, name: &str, images: std::ops::Range<usize>) -> PathBuf {
    let data = patchwork_model::data::fashion::bundled_test64();
    let n = images.len();
    let x: Vec<f32> = images
        .flat_map(|i| data.input(i).iter().map(|v| v * SCALE).collect::<Vec<_>>())
        .collect();
    let npy = Npy {
        shape: vec![n, 1, 28, 28],
        data: NpyData::F32(x),
    };
    let path = dir.join(name);
    std::fs::write(&path, encode_npy(&npy)).unwrap();
    path
}

fn class_of(o: &Output) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["class"].as_u64().unwrap()
}

#[test]
fn calibrated_specs_run_and_a_fixed_window_that_cannot_hold_them_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = scaled_images(dir.path(), "x.npy", 0..8);
    let cal = dir.path().join("cal.json");
    let out = patchwork(&[
        "plan",
        "calibrate",
        "--model",
        MODEL,
        "--spec",
        SPEC,
        "--data",
        data.to_str().unwrap(),
        "--samples",
        "8",
        "--out",
        cal.to_str().unwrap(),
    ]);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("WRAPS") && report.contains("refused"),
        "{report}"
    );
    let cal = cal.to_str().unwrap();

    let stats = patchwork(&["spec", "stats", "--model", MODEL, "--spec", cal]);
    assert!(stats.status.success(), "{}", text(&stats));
    assert!(
        text(&stats).contains("windows calibrated on 8 images"),
        "{}",
        text(&stats)
    );

    let input = scaled_images(dir.path(), "x9.npy", 9..10);
    let input = input.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "infer",
            "--model",
            MODEL,
            "--input",
            input,
            "--network",
            "memory",
            "--json",
        ];
        args.extend_from_slice(extra);
        patchwork(&args)
    };
    // auto by default: runs, and the class is the float reference's.
    let secure = run(&["--spec", cal]);
    assert!(secure.status.success(), "{}", text(&secure));
    let float = patchwork(&[
        "reference",
        "--model",
        MODEL,
        "--spec",
        cal,
        "--input",
        input,
        "--json",
    ]);
    let float: serde_json::Value = serde_json::from_slice(&float.stdout).unwrap();
    let scores: Vec<f64> = float["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let best = (0..scores.len())
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
        .unwrap() as u64;
    assert_eq!(class_of(&secure), best);

    // A fixed (43, 5) with recorded ranges it cannot hold: refused, naming the layer.
    let refused = run(&["--spec", cal, "--approx", "43,5"]);
    let msg = text(&refused);
    assert!(!refused.status.success(), "{msg}");
    assert!(
        msg.contains("layer '/") && msg.contains("43,5") && msg.contains("holds only"),
        "{msg}"
    );
    // Windows counted at 12 fractional bits, a run at 16: refused.
    let bits = run(&["--spec", cal, "--frac-bits", "16"]);
    assert!(!bits.status.success());
    assert!(
        text(&bits).contains("calibrated at 12 fractional bits"),
        "{}",
        text(&bits)
    );
    // No calibration (the bundled spec with its windows taken out): runs, with the warning.
    let mut bare: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(SPEC).unwrap()).unwrap();
    bare.as_object_mut().unwrap().remove("calibration");
    let bare_path = dir.path().join("bare.json");
    std::fs::write(&bare_path, bare.to_string()).unwrap();
    let bare = bare_path.to_str().unwrap();
    let warned = run(&["--spec", bare, "--approx", "43,5"]);
    assert!(warned.status.success(), "{}", text(&warned));
    assert!(
        text(&warned).contains("is not calibrated"),
        "{}",
        text(&warned)
    );
    // The windows on another model of the same architecture (other weights): refused.
    let other = patchwork(&[
        "infer",
        "--model",
        "models/fashion_resnet.onnx",
        "--spec",
        cal,
        "--input",
        input,
        "--network",
        "memory",
    ]);
    assert!(!other.status.success());
    assert!(
        text(&other).contains("calibrated on another model"),
        "{}",
        text(&other)
    );
    // `--approx auto` without windows: refused.
    let auto = run(&["--spec", bare, "--approx", "auto"]);
    assert!(!auto.status.success());
    assert!(text(&auto).contains("plan calibrate"), "{}", text(&auto));
}

#[test]
fn spec_uniform_writes_one_patch_for_every_channel_cut_to_small_maps() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("u.json");
    let spec = spec.to_str().unwrap();
    let plain = "models/fashion_resnet.onnx";
    let out = patchwork(&[
        "spec", "uniform", "--model", plain, "--patch", "4x4", "--out", spec,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stats = patchwork(&["spec", "stats", "--model", plain, "--spec", spec, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    // Every map of this model is a multiple of 4 wide except the 7x7 ones (2x2 patches of 4x4
    // with ragged edges): strictly fewer DReLUs than 1/16 of plain ReLU's cannot be.
    let ratio = v["ratio"].as_f64().unwrap();
    assert!((1.0 / 16.0..0.1).contains(&ratio), "{ratio}");
    let bad = patchwork(&[
        "spec", "uniform", "--model", plain, "--patch", "0x4", "--out", spec,
    ]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("'0x4'"), "{}", text(&bad));
}
