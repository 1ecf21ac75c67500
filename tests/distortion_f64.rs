//! Distortion extraction (eq. 4 of the seed paper) against an independent `f64` oracle:
//! `plan distortion`'s `extract_layer` (`f32`, the suffix on perturbations,
//! gpu-planner/src/distortion/ops.rs) against whole forward passes of the same network in `f64`
//! by PyTorch (`python/distortion_oracle.py`, the trainer's module built from the graph
//! `patchwork finetune` writes), for pseudo-random channels of the first, a middle and the last
//! ReLU layer of ResNet18-CIFAR, MobileNetV2 (ReLU6s: the Block-ReLU then the clamp) and a
//! DeepLabV3-style net (dilation, ASPP, Concat, bilinear Resize), each exported with today's
//! default `torch.onnx.export` and random weights, every candidate with sides up to 2 and the
//! whole map.
//!
//! The bound is 1e-5 relative on every hypothesis. The oracle also measures each `D` on the
//! image moved by about one `f32` rounding (1e-7 relative), and prints how far that moves `D`:
//! on MobileNetV2 (52 convolutions deep) by 1.8e-5, more than the bound. That is why the
//! planner's unmodified pass, whose values the rectifiers compare the changes against, runs in
//! `f64`: with it in `f32`, rounded at every layer, MobileNetV2's `D`s were 6.2e-5 off.
//! Subtracting two `f32` outputs instead of carrying the perturbation would miss the bound by
//! orders of magnitude wherever a hypothesis moves the output by little
//! (`tests/distortion_suffix.rs`).
//!
//! Needs the Python venv (`$PATCHWORK_VENV`); without it each test says why it skips.

use std::path::Path;
use std::process::Command;

use ndarray::{ArrayD, IxDyn};
use patchwork::cmd::finetune::bundle;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::TrainedModel;
use patchwork_core::spec::Spec;
use patchwork_model::commands::{load, LoadOptions};
use patchwork_model::data::npy::{encode_npy, read_npy, Npy, NpyData};
use patchwork_planner::distortion::candidates::CandidateSides;
use patchwork_planner::distortion::extract::{extract_layer, relu_layers, Options};
use patchwork_planner::distortion::reduce::CpuReducer;
use patchwork_planner::distortion::shard::Shard;
use patchwork_test_support::python::{export, venv_python};
use serde_json::json;

/// The bound: `|D_planner - D_oracle| <= REL * D_oracle` for every hypothesis.
const REL: f64 = 1e-5;

/// Channels checked per layer.
const CHANNELS: usize = 2;

/// A hypothesis: what it is, the planner's `D`, the oracle's, the oracle's on the moved image.
type Row = (String, f64, f64, f64);

/// Every (layer, channel, candidate) of the picked layers.
fn measure(name: &str) -> Option<Vec<Row>> {
    let dir = export(name)?;
    let loaded = load(
        &dir.path().join(format!("{name}.onnx")),
        &LoadOptions::default(),
    )
    .expect("the export loads");
    let model: TrainedModel = loaded.model;
    let input = read_npy(&dir.path().join(format!("{name}.input.npy"))).expect("input");
    let x = ArrayD::from_shape_vec(IxDyn(&input.shape), input.to_f32()).expect("shape");
    let layers = relu_layers(model.model()).expect("relu layers");
    let n = layers.len();
    let sides = CandidateSides {
        max_side: 2,
        coarse_blocks: 1,
    };
    let mut planner = Vec::new();
    let mut hyps = Vec::new();
    for k in [0, n / 2, n - 1] {
        let layer = &layers[k];
        let c = layer.chw.0;
        for pick in 0..CHANNELS {
            let ch = (k * 7919 + pick * 104_729 + 13) % c;
            let opts = Options {
                sides,
                batch: 4,
                shard: Shard {
                    index: ch,
                    count: c,
                },
                ..Options::default()
            };
            let part = extract_layer(
                &model,
                layer,
                std::slice::from_ref(&x),
                &opts,
                &CpuReducer,
                &|_| {},
            )
            .expect("extract");
            for (j, &p) in part.patch_sizes.iter().enumerate() {
                planner.push((
                    format!("{} ch {ch} {p:?}", layer.name),
                    part.distortion[0][j],
                ));
                hyps.push(
                    json!({"node": layer.node, "channel": ch, "patch": bundle::patch_json(p)}),
                );
            }
        }
    }
    let oracle = oracle(&model, &input, &hyps)?;
    Some(
        planner
            .into_iter()
            .zip(oracle.d.into_iter().zip(oracle.jittered))
            .map(|((what, got), (want, moved))| (what, got, want, moved))
            .collect(),
    )
}

/// What `python/distortion_oracle.py` writes.
#[derive(serde::Deserialize)]
struct Oracle {
    /// `D` per hypothesis.
    d: Vec<f64>,
    /// `D` per hypothesis on the image moved by about one `f32` rounding.
    jittered: Vec<f64>,
}

/// `python/distortion_oracle.py` on a bundle of `model` (plain ReLUs), the image `input` and
/// the hypotheses `hyps`.
fn oracle(model: &TrainedModel, input: &Npy, hyps: &[serde_json::Value]) -> Option<Oracle> {
    let py = venv_python()?;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plain = ResolvedSpec::new(model.model(), &Spec::default()).expect("the plain spec");
    bundle::write_model(dir.path(), "net", model, &plain).expect("bundle");
    let x = Npy {
        shape: input.shape.clone(),
        data: NpyData::F32(input.to_f32()),
    };
    std::fs::write(dir.path().join("x.npy"), encode_npy(&x)).expect("x.npy");
    std::fs::write(dir.path().join("hyps.json"), json!(hyps).to_string()).expect("hyps.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/distortion_oracle.py");
    let out = Command::new(py)
        .arg(script)
        .arg(dir.path())
        .output()
        .expect("the venv's python runs");
    assert!(
        out.status.success(),
        "the oracle failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("distortion.json")).expect("its output");
    Some(serde_json::from_str(&text).expect("d and jittered"))
}

/// Every hypothesis within [`REL`]; a hypothesis that changes
/// nothing (the channel's own 1x1 patch) measures exactly 0; each layer has a hypothesis that
/// changes the output. The largest relative difference and the stability are printed.
fn check(name: &str) {
    let Some(rows) = measure(name) else { return };
    let relative = |a: f64, b: f64| (a - b).abs() / b.max(f64::MIN_POSITIVE);
    let moving = rows.iter().filter(|r| r.2 > 0.0);
    let stability = moving.map(|r| relative(r.3, r.2)).fold(0.0, f64::max);
    let mut worst = (0.0f64, String::new());
    for (what, got, want, _) in &rows {
        let diff = (got - want).abs();
        assert!(
            diff <= REL * want,
            "{name}: {what}: planner {got:e} vs f64 full forward {want:e} (relative {:.2e}, \
             bound {REL:.0e})",
            relative(*got, *want)
        );
        if *want > 0.0 && diff / want > worst.0 {
            worst = (diff / want, what.clone());
        }
    }
    for layer in rows
        .iter()
        .map(|r| r.0.split(' ').next().unwrap_or_default())
    {
        assert!(
            rows.iter()
                .any(|r| r.0.starts_with(&format!("{layer} ")) && r.2 > 0.0),
            "{name}: no hypothesis of layer {layer} changes the output"
        );
    }
    println!(
        "{name}: {} hypotheses, largest relative difference {:.2e} ({}); D moves by up to \
         {stability:.2e} under one rounding of the input; bound {REL:.0e}",
        rows.len(),
        worst.0,
        worst.1
    );
}

#[test]
fn distortion_equals_f64_forward_passes_on_resnet18_cifar() {
    check("resnet18_cifar_dynamo");
}

#[test]
fn distortion_equals_f64_forward_passes_on_mobilenet_v2() {
    check("mobilenet_v2_dynamo");
}

#[test]
fn distortion_equals_f64_forward_passes_on_deeplab() {
    check("deeplab_small_dynamo");
}
