//! Privacy over the real transport: what each party receives over TLS/TCP does not depend on
//! the other parties' secrets. A tiny convolutional net built here runs in many sessions (fresh
//! TLS keys and shares each time) for a base case, for another input of P0 and for another
//! model of P1 (same shapes); every message each party receives is recorded by a wrapper around
//! its `TcpTransport`, and the byte distributions are compared with the two-sample chi-square
//! test of the in-memory privacy test (`core/tests/privacy.rs`, 1e-6 tail). P0 and P2 get the
//! architecture only (no weights). A control shows the statistic flags what does depend on
//! the secrets: the output P0 opens.

use patchwork_test_support::net as net_common;
use patchwork_test_support::view;

use std::sync::Mutex;

use net_common::{config, run_parties};
use patchwork_core::infer::Settings;
use patchwork_core::model::{
    Conv2d, LayerWeights, Linear, Model, Node, Op, Shape, TrainedModel, ValueInfo, Weights,
};
use patchwork_core::party::Party;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_net::secure::run::run_party;
use view::{assert_same_views, byte_histogram, distinguishable, Recording, View};

/// Sessions per case.
const SESSIONS: usize = 40;

/// Conv 1->2 (3x3, padding 1) on a 4x4 image, ReLU, flatten, linear 32->3; weights from `w`.
fn tiny_net(w: impl Fn(usize) -> f32) -> TrainedModel {
    let value = |name: &str, shape: Vec<usize>| ValueInfo {
        name: name.into(),
        shape: Shape(shape),
    };
    let node = |name: &str, op, input, output| Node {
        name: name.into(),
        op,
        inputs: vec![input],
        output,
    };
    let conv = Op::Conv(Conv2d {
        out_channels: 2,
        in_channels: 1,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1; 4],
        dilation: [1, 1],
        groups: 1,
    });
    let linear = Op::Linear(Linear {
        in_features: 32,
        out_features: 3,
    });
    let weights = |range: std::ops::Range<usize>, bias: std::ops::Range<usize>| {
        Some(LayerWeights {
            weight: range.map(&w).collect(),
            bias: bias.map(&w).collect(),
        })
    };
    let weights = Weights::new(vec![
        weights(0..18, 18..20),
        None,
        None,
        weights(20..116, 116..119),
    ]);
    let model = Model {
        values: vec![
            value("x", vec![1, 1, 4, 4]),
            value("conv", vec![1, 2, 4, 4]),
            value("relu", vec![1, 2, 4, 4]),
            value("flat", vec![1, 32]),
            value("y", vec![1, 3]),
        ],
        nodes: vec![
            node("conv", conv, 0, 1),
            node("relu", Op::Relu, 1, 2),
            node("flatten", Op::Reshape, 2, 3),
            node("fc", linear, 3, 4),
        ],
        input: 0,
        output: 4,
    };
    TrainedModel::new(model, weights).expect("the test model is well formed")
}

/// Runs `SESSIONS` sessions of P1's `model` on P0's `input`: everything received, and P0's
/// output of each session.
fn views(model: &TrainedModel, input: &[f32]) -> (View, Vec<Vec<f32>>) {
    let log = Mutex::new(View::new());
    let mut outputs = Vec::new();
    for _ in 0..SESSIONS {
        let (_dir, cfg) = config("privacy");
        let [out, _, _] = run_parties(&cfg, |role, session| {
            let (keys, inner) = session.unwrap();
            let recording = Recording {
                inner,
                log: &log,
                me: role,
            };
            let mut p = Party::new(keys, recording);
            let (arch, weights) = (model.model(), model.weights_for(role));
            let x = (role == Role::P0).then_some(input);
            let runs = run_party(
                &mut p,
                arch,
                weights,
                &Spec::default(),
                Settings::default(),
                &[x],
            );
            runs.unwrap().remove(0).output
        });
        outputs.push(out.unwrap());
    }
    (log.into_inner().unwrap(), outputs)
}

fn output_bytes(outputs: &[Vec<f32>]) -> Vec<Vec<u8>> {
    outputs
        .iter()
        .map(|o| o.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect()
}

#[test]
fn views_over_tls_do_not_depend_on_the_input_or_the_model() {
    let model_a = tiny_net(|i| ((i * 37 % 11) as f32 - 5.0) / 8.0);
    let model_b = tiny_net(|i| ((i * 13 % 7) as f32 - 2.0) / 3.0);
    let input_a: Vec<f32> = (0..16).map(|i| i as f32 / 8.0).collect();
    let input_b: Vec<f32> = (0..16).map(|i| -3.0 + (i % 5) as f32).collect();
    let (base, out_base) = views(&model_a, &input_a);
    let (other_input, out_input) = views(&model_a, &input_b);
    let (other_model, out_model) = views(&model_b, &input_a);
    for party in 0..3 {
        assert!(
            base.keys().any(|k| k.0 == party),
            "P{party} received nothing"
        );
    }
    // A party's view may depend on its own secret: P0's on its input, P1's on its model.
    assert_same_views("another input", &base, &other_input, &[Role::P1, Role::P2]);
    assert_same_views("another model", &base, &other_model, &[Role::P0, Role::P2]);
    // Control: the output P0 opens depends on both secrets, and the statistic says so.
    let opened = |o: &[Vec<f32>]| byte_histogram(&output_bytes(o));
    assert!(distinguishable(&opened(&out_base), &opened(&out_input)));
    assert!(distinguishable(&opened(&out_base), &opened(&out_model)));
}
