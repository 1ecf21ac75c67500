//! The three parties check at set-up that they run the same program (`patchwork_core::program`):
//! parties given different specs, settings, architectures or inference counts stop before any
//! secret is used, every one of them with an error that names the peer and what differs.
//! Reproduces the silent failure found with a transposed spec (same byte counts: P0 printed
//! class 0 with logits near 4e11).

use std::path::Path;

use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::held::Held;
use patchwork_core::infer::{InferError, SecureModel, Settings};
use patchwork_core::model::{Model, Weights};
use patchwork_core::net::memory;
use patchwork_core::party::Error;
use patchwork_core::patch::PatchSize;
use patchwork_core::protocol::drelu::Comparison;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_model::onnx::load_model;
use patchwork_model::spec_io::load_spec;

/// The bundled Block-ReLU model's architecture, P1's weights and the spec.
fn bundled() -> (Model, Weights, Spec) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let trained = load_model(&root.join("models/fashion_resnet_brelu6.onnx")).unwrap();
    let spec = load_spec(&root.join("models/fashion_resnet_brelu6.spec.json")).unwrap();
    let (model, weights) = trained.into_parts();
    (model, weights, spec)
}

/// The spec with every non-square patch of `layer` transposed: the same DReLU count on its
/// square maps, so the same message lengths.
fn transposed(spec: &Spec, layer: &str) -> Spec {
    let mut s = spec.clone();
    let l = s.layers.iter_mut().find(|l| l.name == layer).unwrap();
    for p in &mut l.patch_sizes {
        if let PatchSize::Block { h, w } = *p {
            *p = PatchSize::Block { h: w, w: h };
        }
    }
    s
}

const SETTINGS: Settings = Settings {
    fp: FixedPoint::F12,
    cmp: Comparison::PAPER,
    trunc: patchwork_core::protocol::truncate::Truncation::Local,
    calibrated: false,
    batch: 1,
    preprocess: false,
    sign: patchwork_core::protocol::sign::SignProtocol::PrivateCompare,
};

/// Runs set-up and one inference with each party's own program (P1 with the bundled
/// `weights`); returns each party's mismatch (peer, message) or `None` when it ran through.
fn run(
    weights: &Weights,
    program: impl Fn(Role) -> (Model, Spec, Settings, u64) + Sync,
) -> [Option<(Role, String)>; 3] {
    let x = vec![0.5f32; 28 * 28];
    memory::run(5, |p| {
        let (model, spec, settings, n) = program(p.role());
        let w = Held::from_option((p.role() == Role::P1).then_some(weights));
        let result = SecureModel::setup(p, &model, w, &spec, settings, n).and_then(|m| {
            let input = (p.role() == Role::P0).then_some(&x[..]);
            m.infer(p, Held::from_option(input), &mut |_, _| {})
        });
        match result {
            Ok(_) => None,
            Err(InferError::Protocol {
                error: Error::Mismatch { peer, what },
                ..
            }) => Some((peer, what)),
            Err(e) => panic!("{}: not a program mismatch: {e}", p.role()),
        }
    })
    .0
}

fn assert_all_refuse(found: &[Option<(Role, String)>; 3], p0_says: &str) {
    for (role, f) in Role::ALL.iter().zip(found) {
        assert!(f.is_some(), "{role} ran a program its peers do not run");
    }
    let (peer, what) = found[0].as_ref().unwrap();
    assert_eq!(*peer, Role::P1, "P0 names P1 first: {what}");
    assert!(
        what.contains(p0_says),
        "P0 says '{what}', expected '{p0_says}'"
    );
}

#[test]
fn a_transposed_spec_at_p1_is_refused_by_every_party_naming_the_channel() {
    let (model, weights, spec) = bundled();
    let wrong = transposed(&spec, "/layer1/Relu");
    let found = run(&weights, |r| {
        let s = if r == Role::P1 { &wrong } else { &spec };
        (model.clone(), s.clone(), SETTINGS, 1)
    });
    assert_all_refuse(
        &found,
        "spec differs from P1's: layer '/layer1/Relu' channel 0 patch 7x10 vs 10x7",
    );
    // P2 agrees with P0 and names P1 too; P1 names both.
    assert_eq!(found[2].as_ref().unwrap().0, Role::P1);
    assert!(found[1].as_ref().unwrap().1.contains("patch 10x7 vs 7x10"));
}

#[test]
fn settings_version_count_and_architecture_mismatches_name_what_differs() {
    let (model, weights, spec) = bundled();
    let other_bits = Settings {
        fp: FixedPoint::new(13).unwrap(),
        ..SETTINGS
    };
    let found = run(&weights, |r| {
        let s = if r == Role::P1 { other_bits } else { SETTINGS };
        (model.clone(), spec.clone(), s, 1)
    });
    assert_all_refuse(&found, "fractional bits differs from P1's: 12 vs 13");

    // P0 sends a batch of 4 to parties set up for one image each.
    let found = run(&weights, |r| {
        let batch = if r == Role::P0 { 4 } else { 1 };
        let s = Settings { batch, ..SETTINGS };
        (model.clone(), spec.clone(), s, 1)
    });
    assert_all_refuse(&found, "images per inference differs from P1's: 4 vs 1");

    // P1 would take its dealt shares before the input; the others run each inference whole.
    let found = run(&weights, |r| {
        let preprocess = r == Role::P1;
        let s = Settings {
            preprocess,
            ..SETTINGS
        };
        (model.clone(), spec.clone(), s, 1)
    });
    assert_all_refuse(&found, "preprocessed differs from P1's: false vs true");

    // P1 would wait for comparison keys while the others run PrivateCompare.
    let found = run(&weights, |r| {
        let sign = if r == Role::P1 {
            patchwork_core::protocol::sign::SignProtocol::Fss
        } else {
            SETTINGS.sign
        };
        (
            model.clone(),
            spec.clone(),
            Settings { sign, ..SETTINGS },
            1,
        )
    });
    assert_all_refuse(
        &found,
        "sign decisions differs from P1's: PrivateCompare vs FSS comparison",
    );

    let window = Settings {
        cmp: Comparison::Approx {
            k_msb: 40,
            k_lsb: 5,
        },
        ..SETTINGS
    };
    let found = run(&weights, |r| {
        let s = if r == Role::P0 { SETTINGS } else { window };
        (model.clone(), spec.clone(), s, 1)
    });
    assert_all_refuse(
        &found,
        "comparison differs from P1's: approximate, k_msb 43",
    );

    let found = run(&weights, |r| {
        (
            model.clone(),
            spec.clone(),
            SETTINGS,
            1 + (r == Role::P2) as u64,
        )
    });
    assert!(found[0].as_ref().unwrap().0 == Role::P2);
    assert!(found[0]
        .as_ref()
        .unwrap()
        .1
        .contains("inferences differs from P2's: 1 vs 2"));

    // P2 holds the architecture of another model (a conv with one more output channel
    // somewhere would change lengths; a stride change keeps the weight count).
    let mut other = model.clone();
    if let patchwork_core::model::Op::Conv(c) = &mut other.nodes[0].op {
        c.dilation = [2, 2];
    }
    let found = run(&weights, |r| {
        let m = if r == Role::P2 { &other } else { &model };
        (m.clone(), spec.clone(), SETTINGS, 1)
    });
    assert_eq!(found[0].as_ref().unwrap().0, Role::P2);
    assert!(
        found[0]
            .as_ref()
            .unwrap()
            .1
            .contains("node 0 differs from P2's"),
        "{:?}",
        found[0]
    );
}

#[test]
fn the_same_program_runs() {
    let (model, weights, spec) = bundled();
    let found = run(&weights, |_| (model.clone(), spec.clone(), SETTINGS, 1));
    assert_eq!(found, [None, None, None]);
}
