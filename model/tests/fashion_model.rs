//! The bundled Fashion-MNIST model (`models/fashion_resnet.onnx`): loads, classifies the 64
//! bundled test images, and (with the Python venv) matches onnxruntime's logits.

use std::path::Path;
use std::process::Command;

use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_model::commands::evaluate;
use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::data::npy::read_npy;
use patchwork_model::data::DataSource;
use patchwork_model::onnx::load_model;
use patchwork_model::reference::forward;

fn model_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fashion_resnet.onnx")
}

#[test]
fn bundled_model_classifies_bundled_images() {
    let model = load_model(&model_path()).unwrap();
    let data = bundled_test64();
    let acc = evaluate(&model, None, &data, None).unwrap();
    println!(
        "fashion_resnet on the 64 bundled images: {}/{}",
        acc.correct, acc.total
    );
    assert!(
        acc.ratio() >= 0.85,
        "accuracy {} on the bundled images",
        acc.ratio()
    );
}

#[test]
fn bundled_model_matches_onnxruntime() {
    let venv =
        std::env::var("PATCHWORK_VENV").unwrap_or_else(|_| "/root/.cache/patchwork-venv".into());
    let py = Path::new(&venv).join("bin/python");
    if !py.exists() {
        println!("SKIPPED bundled_model_matches_onnxruntime: no Python venv at {venv}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out =
        std::env::temp_dir().join(format!("patchwork-fashion-ort-{}.npy", std::process::id()));
    let status = Command::new(py)
        .arg(root.join("python/ort_run.py"))
        .arg(model_path())
        .arg(root.join("data/fashion_test64_images.npy"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let want = read_npy(&out).unwrap().to_f32();
    let _ = std::fs::remove_file(&out);
    let model = load_model(&model_path()).unwrap();
    let data = bundled_test64();
    let mut err = 0.0f32;
    let mut scale = 0.0f32;
    for i in 0..data.len() {
        let y = forward(
            &model,
            &data.input(i),
            &ResolvedSpec::plain(model.model()).unwrap(),
        )
        .unwrap();
        for (a, b) in y.iter().zip(&want[i * 10..(i + 1) * 10]) {
            err = err.max((a - b).abs());
            scale = scale.max(b.abs());
        }
    }
    println!(
        "fashion_resnet vs onnxruntime on 64 images: max abs error {err:.3e}, scale {scale:.3}"
    );
    assert!(err <= 1e-4 * scale);
}

#[test]
fn data_set_names_pick_the_split() {
    let dir = Path::new(patchwork_model::data::fashion::DEFAULT_DIR);
    let input = patchwork_core::model::Shape::nchw(1, 28, 28);
    let load = |source: DataSource| source.load(dir, &input, Default::default(), None);
    assert_eq!(load(DataSource::FashionMnist64).unwrap().len(), 64);
    if !dir.exists() {
        println!("SKIPPED the Debian splits: {} missing", dir.display());
        return;
    }
    let train = load(DataSource::FashionMnistTrain).unwrap();
    let test = load(DataSource::FashionMnistTest).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_ne!(train.input(0), test.input(0));
    // The images of another model's input are refused, naming what differs.
    let rgb = patchwork_core::model::Shape::nchw(3, 32, 32);
    let e = DataSource::FashionMnist64
        .load(dir, &rgb, Default::default(), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("channels 1 vs 3, height 28 vs 32, width 28 vs 32"),
        "{e}"
    );
}
