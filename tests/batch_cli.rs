//! `patchwork infer` takes a batch: several `--input` files, `.npy` arrays of N images and
//! images, in file order, as one inference; a `--batch` that says otherwise and a batch above
//! the limit are refused with the numbers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use patchwork_core::infer::argmax;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::reference::forward;

mod support;
use support::bundled_npy;

const MODEL: &str = "models/fashion_resnet.onnx";

fn patchwork(args: &[&str], inputs: &[&Path]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_patchwork"));
    c.args(args);
    for i in inputs {
        c.arg("--input").arg(i);
    }
    c.output().unwrap()
}

/// Bundled image `i` as a grey PNG (its values are bytes / 255, so the PNG holds it exactly).
fn png(dir: &Path, i: usize) -> PathBuf {
    let x = bundled_test64().input(i);
    let bytes: Vec<u8> = x.iter().map(|v| (v * 255.0).round() as u8).collect();
    let path = dir.join(format!("image{i}.png"));
    image::GrayImage::from_raw(28, 28, bytes)
        .unwrap()
        .save(&path)
        .unwrap();
    path
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn files_arrays_and_images_run_as_one_batch_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let (three, four) = (
        bundled_npy(dir.path(), "x3.npy", &[0, 1, 2]),
        png(dir.path(), 3),
    );
    let args = ["infer", "--model", MODEL, "--json"];
    let batch = json(&patchwork(&args, &[&three, &four]));
    let model = patchwork_model::onnx::load_model(Path::new(MODEL)).unwrap();
    let resolved = ResolvedSpec::of(model.model(), None).unwrap();
    let want: Vec<usize> = (0..4)
        .map(|i| {
            let y = forward(&model, &bundled_test64().input(i), &resolved).unwrap();
            argmax(y.as_slice().unwrap())
        })
        .collect();
    let classes: Vec<usize> = serde_json::from_value(batch["classes"].clone()).unwrap();
    assert_eq!(batch["images"], 4);
    assert_eq!(classes, want);
    let one = json(&patchwork(&args, &[&four]));
    assert_eq!(one["classes"][0], want[3]);
    assert_eq!(
        batch["rounds"], one["rounds"],
        "rounds are paid once per batch"
    );
}

#[test]
fn a_batch_flag_that_disagrees_and_an_oversized_batch_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let three = bundled_npy(dir.path(), "x3.npy", &[0, 1, 2]);
    let o = patchwork(&["infer", "--model", MODEL, "--batch", "2"], &[&three]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("--batch 2 but the inputs hold 3 images"),
        "{err}"
    );
    // A one-channel array may leave out its channel axis: N x H x W is N images.
    let shipped = Path::new("data/fashion_test64_images.npy");
    let o = patchwork(&["infer", "--model", MODEL, "--batch", "2"], &[shipped]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("--batch 2 but the inputs hold 64 images"),
        "{err}"
    );
    let many: Vec<usize> = (0..1025).map(|i| i % 64).collect();
    let big = bundled_npy(dir.path(), "x1025.npy", &many);
    let o = patchwork(&["infer", "--model", MODEL], &[&big]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains(
            "x1025.npy: the inputs hold 1025 images up to this file; a batch takes 1 to 1024"
        ),
        "{err}"
    );
}
