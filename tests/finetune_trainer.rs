//! The PyTorch module that `patchwork finetune` trains is built from Patchwork's own graph
//! (src/cmd/finetune/bundle.rs, python/finetune.py). Before it trains it must equal `patchwork
//! reference` within 1e-5 relative, with the spec's Block-ReLUs in place and as the plain
//! teacher. Checked here on exports of the paper's architectures (random weights): ResNet18
//! (dynamo exporter), MobileNetV2 (ReLU6, depthwise convolutions), a DeepLabV3-style net
//! (dilation, ASPP, Concat, bilinear Resize; dynamo) and a mix of pooling and shape operators.
//! A control shows the check fails when the reference differs.
//!
//! Needs the Python venv (`$PATCHWORK_VENV`); without it each test says why it skips.

use patchwork::cmd::finetune::{bundle, trainer};
use patchwork::cmd::spec_uniform::uniform_spec;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::TrainedModel;
use patchwork_core::patch::PatchSize;
use patchwork_model::data::npy::{encode_npy, read_npy, NpyData};
use patchwork_model::data::{Dataset, Normalize, Pixels};
use patchwork_model::onnx::load_model;

/// A bundle for `name` with a uniform 2x2 spec and its exported input as the one image,
/// trained for 0 epochs (the check only).
fn bundle_for(name: &str) -> Option<(tempfile::TempDir, tempfile::TempDir)> {
    let export = patchwork_test_support::python::export(name)?;
    let model = load_model(&export.path().join(format!("{name}.onnx"))).unwrap();
    let input = read_npy(&export.path().join(format!("{name}.input.npy"))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &model, &input.to_f32());
    Some((export, dir))
}

fn write(dir: &std::path::Path, model: &TrainedModel, x: &[f32]) {
    let m = model.model();
    let spec = uniform_spec(m, PatchSize::Block { h: 2, w: 2 }).unwrap();
    let resolved = ResolvedSpec::new(m, &spec).unwrap();
    let (c, h, w) = m.shape(m.input).chw().unwrap();
    let data = Dataset::new(
        [c, h, w],
        Pixels::F32(x.to_vec()),
        vec![0],
        vec![],
        Normalize::new(vec![], vec![]).unwrap(),
    )
    .unwrap();
    bundle::write_model(dir, "student", model, &resolved).unwrap();
    bundle::write_model(dir, "teacher", model, &ResolvedSpec::plain(m).unwrap()).unwrap();
    for split in ["train", "test"] {
        bundle::write_dataset(dir, split, &data, None).unwrap();
    }
    bundle::write_reference(dir, "student", model, &resolved, &data, 1).unwrap();
    bundle::write_reference(
        dir,
        "teacher",
        model,
        &ResolvedSpec::plain(m).unwrap(),
        &data,
        1,
    )
    .unwrap();
    let config = serde_json::json!({"epochs": 0, "batch": 1, "lr": 0.0, "weight_decay": 0.0,
        "clip": 0.0, "warmup": 0.0, "kd_alpha": 0.0, "kd_temp": 1.0, "decision_grad": 0.0,
        "augment": "none", "seed": 0, "threads": 1});
    bundle::write_config(dir, &config).unwrap();
}

fn check(name: &str) {
    let Some((_export, dir)) = bundle_for(name) else {
        return;
    };
    let py = trainer::python().unwrap();
    let report = trainer::run(&py, dir.path(), 0, |_| {}).unwrap();
    let err = report.start["reference_error"].as_f64().unwrap();
    println!("{name}: the trainer's module differs from the reference by {err:.2e} relative");
    assert!(err <= 1e-5, "{name}: {err}");
}

#[test]
fn resnet18_dynamo_module_equals_the_reference() {
    check("resnet18_cifar_dynamo");
}

#[test]
fn mobilenet_v2_module_equals_the_reference() {
    check("mobilenet_v2");
}

#[test]
fn deeplab_dynamo_module_equals_the_reference() {
    check("deeplab_small_dynamo");
}

#[test]
fn ops_mix_module_equals_the_reference() {
    check("ops_mix");
}

/// Control: a reference output moved by 1e-4 of the output's scale is refused, naming the check.
#[test]
fn a_module_that_differs_from_the_reference_is_refused() {
    let Some((_export, dir)) = bundle_for("ops_mix") else {
        return;
    };
    let path = dir.path().join("check.student.npy");
    let mut npy = read_npy(&path).unwrap();
    let NpyData::F32(v) = &mut npy.data else {
        panic!("float32 check values")
    };
    let scale = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    v[0] += 1e-4 * scale;
    std::fs::write(&path, encode_npy(&npy)).unwrap();
    let py = trainer::python().unwrap();
    let err = trainer::run(&py, dir.path(), 0, |_| {}).unwrap_err();
    assert!(err.contains("differs from patchwork reference"), "{err}");
}
