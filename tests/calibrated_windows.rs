//! Calibrated approximate-DReLU windows on a network whose activations the paper's fixed
//! (43, 5) cannot hold: the bundled 6% Fashion-MNIST model with its first convolution and
//! every bias scaled by 256. ReLU and Block-ReLU decisions are invariant to a positive scale, so
//! the scaled network's float classes are the original's, while every activation is 256 times
//! larger (up to about 160,000 where the original reaches 635).
//!
//! - With the windows `plan calibrate` chooses, the secure class equals the float class.
//! - With a fixed (43, 5) and the calibration's recorded ranges, set-up refuses, naming the layer.
//! - Controls: the fixed window with no record runs and gets classes wrong (what the refusal
//!   prevents); windows chosen with too small a margin get classes wrong too (the test can fail).

use std::convert::Infallible;

use patchwork::cmd::bundled::DEMO;
use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::infer::{argmax, DescribedModel, InferError, Settings};
use patchwork_core::model::spec_check::{ResolvedSpec, SpecError};
use patchwork_core::model::{Op, TrainedModel};
use patchwork_core::spec::Spec;
use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::reference::forward;
use patchwork_net::secure::local::{infer_local, Network};
use patchwork_planner::calibrate::{Calibrator, WindowRule};

const SCALE: f32 = 256.0;
const CALIBRATION_IMAGES: std::ops::Range<usize> = 0..8;
const TEST_IMAGES: std::ops::Range<usize> = 8..24;

/// The model with its first convolution's weights and every bias multiplied by `s`.
fn scaled(trained: &TrainedModel, s: f32) -> TrainedModel {
    let (model, mut weights) = trained.clone().into_parts();
    let first = model.nodes.iter().position(|n| matches!(n.op, Op::Conv(_)));
    for i in 0..model.nodes.len() {
        if let Some(layer) = weights.layer_mut(i) {
            if Some(i) == first {
                layer.weight.iter_mut().for_each(|w| *w *= s);
            }
            layer.bias.iter_mut().for_each(|b| *b *= s);
        }
    }
    TrainedModel::new(model, weights).expect("same architecture")
}

/// `spec` with windows calibrated on the calibration images with `margin`.
fn calibrated(trained: &TrainedModel, spec: &Spec, margin: f64) -> Spec {
    let resolved = ResolvedSpec::new(trained.model(), spec).unwrap();
    let data = bundled_test64();
    let mut c = Calibrator::new(trained, &resolved, FixedPoint::F12);
    for i in CALIBRATION_IMAGES {
        c.add_image(&data.input(i)).unwrap();
    }
    let rule = WindowRule {
        fp: FixedPoint::F12,
        margin,
        max_error: 1e-3,
    };
    Spec {
        calibration: Some(c.finish(rule).unwrap()),
        ..spec.clone()
    }
}

/// On the test images: how many secure classes differ from the float classes.
fn disagreements(trained: &TrainedModel, spec: &Spec, settings: Settings) -> usize {
    let data = bundled_test64();
    let inputs: Vec<Vec<f32>> = TEST_IMAGES
        .map(|i| data.input(i).iter().copied().collect())
        .collect();
    let refs: Vec<&[f32]> = inputs.iter().map(|v| v.as_slice()).collect();
    let reports = infer_local(Network::Memory { seed: 5 }, trained, spec, settings, &refs).unwrap();
    let resolved = ResolvedSpec::new(trained.model(), spec).unwrap();
    TEST_IMAGES
        .zip(&reports)
        .filter(|(i, r)| {
            let float = forward(trained, &data.input(*i), &resolved).unwrap();
            argmax(float.as_slice().unwrap()) != r.class
        })
        .count()
}

const AUTO: Settings = Settings {
    calibrated: true,
    cmp: patchwork_core::protocol::drelu::Comparison::Exact,
    ..Settings::PAPER
};

#[test]
fn calibrated_windows_follow_the_float_model_where_the_paper_window_wraps() {
    let (original, spec) = DEMO.load().unwrap();
    let model = scaled(&original, SCALE);
    let spec = calibrated(&model, &spec, 4.0);
    assert_eq!(disagreements(&model, &spec, AUTO), 0);
}

#[test]
fn a_fixed_window_that_cannot_hold_a_recorded_range_is_refused_naming_the_layer() {
    let (original, spec) = DEMO.load().unwrap();
    let model = scaled(&original, SCALE);
    let spec = calibrated(&model, &spec, 4.0);
    let err = DescribedModel::new::<Infallible>(model.model(), &spec, Settings::PAPER)
        .err()
        .expect("refused");
    let InferError::Spec(SpecError::WindowTooNarrow {
        layer,
        max_abs,
        covers,
        ..
    }) = &err
    else {
        panic!("expected WindowTooNarrow, got {err}");
    };
    assert!(max_abs > covers, "{max_abs} {covers}");
    let text = err.to_string();
    assert!(
        text.contains(layer.as_str()) && text.contains("43,5"),
        "{text}"
    );
    // The original model's ranges fit (43, 5): the same check lets it run.
    let fits = calibrated(&original, &DEMO.load().unwrap().1, 4.0);
    assert!(DescribedModel::new::<Infallible>(original.model(), &fits, Settings::PAPER).is_ok());
}

#[test]
fn controls_an_unrecorded_fixed_window_and_a_too_small_margin_get_classes_wrong() {
    let (original, spec) = DEMO.load().unwrap();
    let model = scaled(&original, SCALE);
    // What the refusal prevents: (43, 5) with nothing recorded runs, and is wrong.
    let wrong = disagreements(&model, &spec, Settings::PAPER);
    eprintln!(
        "(43, 5) without a record: {wrong} of {} classes wrong",
        TEST_IMAGES.len()
    );
    assert!(wrong >= TEST_IMAGES.len() / 4, "{wrong}");
    // Windows that hold 1/SCALE of the measured range wrap as (43, 5) does.
    let narrow = calibrated(&model, &spec, 1.0 / SCALE as f64);
    let wrong = disagreements(&model, &narrow, AUTO);
    eprintln!(
        "windows of 1/{SCALE} of the range: {wrong} of {} classes wrong",
        TEST_IMAGES.len()
    );
    assert!(wrong >= 1, "{wrong}");
}
