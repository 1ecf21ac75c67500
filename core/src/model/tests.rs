//! Tests of the model checks and the spec validation on a hand-built two-layer model.

use alloc::string::String;
use alloc::vec;

use super::spec_check::{drelu_summary, validate_spec, SpecError};
use super::*;
use crate::patch::PatchSize;
use crate::spec::{LayerSpec, Spec};

fn value(name: &str, dims: &[usize]) -> ValueInfo {
    ValueInfo {
        name: String::from(name),
        shape: Shape(dims.to_vec()),
    }
}

/// x [1,1,6,5] -> conv 3x3 pad 1 (2 channels) -> relu "r" -> gap -> reshape -> linear(2->3).
fn model() -> Model {
    let conv = Conv2d {
        out_channels: 2,
        in_channels: 1,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1, 1, 1],
        dilation: [1, 1],
        groups: 1,
    };
    let node = |name: &str, op, inputs: Vec<usize>, output| Node {
        name: String::from(name),
        op,
        inputs,
        output,
    };
    Model {
        values: vec![
            value("x", &[1, 1, 6, 5]),
            value("c", &[1, 2, 6, 5]),
            value("r", &[1, 2, 6, 5]),
            value("g", &[1, 2, 1, 1]),
            value("f", &[1, 2]),
            value("y", &[1, 3]),
        ],
        nodes: vec![
            node("conv", Op::Conv(conv), vec![0], 1),
            node("r", Op::Relu, vec![1], 2),
            node("gap", Op::GlobalAvgPool, vec![2], 3),
            node("flat", Op::Reshape, vec![3], 4),
            node(
                "fc",
                Op::Linear(Linear {
                    in_features: 2,
                    out_features: 3,
                }),
                vec![4],
                5,
            ),
        ],
        input: 0,
        output: 5,
    }
}

fn spec(name: &str, p: &[PatchSize]) -> Spec {
    Spec {
        layers: vec![LayerSpec {
            name: String::from(name),
            patch_sizes: p.to_vec(),
        }],
        calibration: None,
    }
}

#[test]
fn check_accepts_model_and_rejects_bad_shape_and_order() {
    let m = model();
    assert_eq!(m.check(), Ok(()));
    let mut bad = model();
    bad.values[1].shape = Shape::nchw(2, 5, 5);
    assert!(matches!(bad.check(), Err(ModelError::Shape { ref node, .. }) if node == "conv"));
    let mut bad = model();
    bad.nodes.swap(0, 1);
    assert!(matches!(
        bad.check(),
        Err(ModelError::NotTopological { .. })
    ));
}

/// The weight table of [`model`]: the conv (node 0) and the linear layer (node 4).
fn weights() -> Vec<Option<LayerWeights>> {
    let layer = |w: usize, b: usize| {
        Some(LayerWeights {
            weight: vec![0.1; w],
            bias: vec![0.0; b],
        })
    };
    vec![layer(18, 2), None, None, None, layer(6, 3)]
}

#[test]
fn weights_must_fit_the_architecture() {
    let m = model();
    assert_eq!(Weights::new(weights()).check(&m), Ok(()));
    assert!(TrainedModel::new(m.clone(), Weights::new(weights())).is_ok());
    let mut short = weights();
    short[4].as_mut().unwrap().weight.pop();
    assert_eq!(
        Weights::new(short).check(&m),
        Err(ModelError::WeightLength {
            node: String::from("fc"),
            what: "weight",
            expected: 6,
            found: 5
        })
    );
    let mut no_bias = weights();
    no_bias[0].as_mut().unwrap().bias.clear();
    assert!(matches!(
        Weights::new(no_bias).check(&m),
        Err(ModelError::WeightLength { what: "bias", .. })
    ));
    let mut missing = weights();
    missing[0] = None;
    assert_eq!(
        Weights::new(missing.clone()).check(&m),
        Err(ModelError::MissingWeights {
            node: String::from("conv")
        })
    );
    assert!(TrainedModel::new(m.clone(), Weights::new(missing)).is_err());
    let mut extra = weights();
    extra[1] = extra[0].clone();
    assert_eq!(
        Weights::new(extra).check(&m),
        Err(ModelError::UnexpectedWeights {
            node: String::from("r"),
            op: "Relu"
        })
    );
    let mut other = weights();
    other.pop();
    assert_eq!(
        Weights::new(other).check(&m),
        Err(ModelError::WeightsForOtherModel {
            nodes: 5,
            entries: 4
        })
    );
}

#[test]
fn spec_errors_are_typed() {
    let m = model();
    let b = |h, w| PatchSize::Block { h, w };
    assert_eq!(
        validate_spec(&m, &spec("r", &[b(2, 2), PatchSize::Zero])),
        Ok(())
    );
    assert_eq!(
        validate_spec(&m, &spec("nope", &[])),
        Err(SpecError::UnknownLayer {
            layer: String::from("nope")
        })
    );
    assert_eq!(
        validate_spec(&m, &spec("conv", &[])),
        Err(SpecError::NotRelu {
            layer: String::from("conv"),
            op: "Conv"
        })
    );
    assert_eq!(
        validate_spec(&m, &spec("r", &[b(1, 1)])),
        Err(SpecError::ChannelCount {
            layer: String::from("r"),
            expected: 2,
            found: 1
        })
    );
}

#[test]
fn patches_larger_than_the_map_are_clamped_with_a_note() {
    let m = model();
    let b = |h, w| PatchSize::Block { h, w };
    // Planned at a larger size: 7x1 and 9x9 on the 6x5 map.
    let s = spec("r", &[b(9, 9), b(7, 1)]);
    assert_eq!(validate_spec(&m, &s), Ok(()));
    let resolved = spec_check::ResolvedSpec::new(&m, &s).unwrap();
    let (patches, _) = resolved.layer(1).unwrap();
    assert_eq!(patches, &[b(6, 5), b(6, 1)]);
    let notes = spec_check::clamped_patches(&m, &s);
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0].to_string(),
        "spec layer 'r': 2 channels' patches are larger than the 6x5 map and were clamped to it \
         (a spec planned at another image size?)"
    );
    // The DReLU count is the clamped one: the whole map, then five 6x1 columns.
    assert_eq!(drelu_summary(&m, &s).unwrap().with_spec(), 1 + 5);
    assert!(spec_check::clamped_patches(&m, &spec("r", &[b(6, 5), b(1, 1)])).is_empty());
}

#[test]
fn drelu_summary_counts_ragged_patches() {
    let m = model();
    let s = drelu_summary(
        &m,
        &spec("r", &[PatchSize::Block { h: 4, w: 2 }, PatchSize::Identity]),
    )
    .unwrap();
    // Channel 0: ceil(6/4) * ceil(5/2) = 2 * 3 = 6; channel 1: identity, 0. Plain: 2 * 30.
    assert_eq!((s.plain(), s.with_spec()), (60, 6));
    assert_eq!(s.layers[0].identity_channels, 1);
    assert!((s.ratio() - 0.1).abs() < 1e-12);
    let plain = drelu_summary(&m, &Spec::default()).unwrap();
    assert_eq!(plain.with_spec(), 60);
}
