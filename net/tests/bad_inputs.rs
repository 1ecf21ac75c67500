//! Bad inputs give clear, typed errors (the table in README.md): non-finite input values, P1's
//! weights that do not fit the architecture or a party passing weights that are not its own,
//! and a port already in use. (Input files are tested in `patchwork-model`'s `bad_inputs`; corrupt
//! ONNX, unsupported operators, spec mismatches and bad configs beside their parsers.)

use patchwork_core::held::Held;
use patchwork_core::infer::{InferError, SecureModel, Settings};
use patchwork_core::model::{ModelError, TrainedModel, Weights};
use patchwork_core::net::memory;
use patchwork_core::party::Error;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_net::tcp::{connect, loopback_config, SessionError};

fn bundled() -> TrainedModel {
    patchwork_model::onnx::load_model(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/fashion_resnet.onnx"
    )))
    .unwrap()
}

/// Set-up of the bundled architecture where each party passes what `weights` gives it.
fn setup_with<'w>(
    trained: &TrainedModel,
    weights: impl Fn(Role) -> Held<'w, Weights> + Sync,
) -> [Result<(), InferError<memory::Never>>; 3] {
    let (out, _) = memory::run(2, |p| {
        let w = weights(p.role());
        SecureModel::setup(
            p,
            trained.model(),
            w,
            &Spec::default(),
            Settings::default(),
            1,
        )
        .map(drop)
    });
    out
}

#[test]
fn weights_that_do_not_fit_are_refused_by_p1_naming_the_layer() {
    let trained = bundled();
    let mut short = trained.weights().clone();
    short.layer_mut(0).unwrap().bias.pop();
    let out = setup_with(&trained, |r| {
        Held::from_option((r == Role::P1).then_some(&short))
    });
    match &out[1] {
        Err(InferError::Weights(ModelError::WeightLength {
            node,
            what: "bias",
            expected: 16,
            found: 15,
        })) => assert_eq!(node, &trained.model().nodes[0].name),
        other => panic!("P1 got {other:?}"),
    }
    let message = out[1].as_ref().unwrap_err().to_string();
    assert!(message.starts_with("P1's weights: node '"), "{message}");
    // The weight table of another model (here: none of its layers) is refused as well.
    let other = Weights::new(Vec::new());
    let out = setup_with(&trained, |r| {
        Held::from_option((r == Role::P1).then_some(&other))
    });
    let nodes = trained.model().nodes.len();
    assert_eq!(
        out[1].as_ref().unwrap_err().to_string(),
        format!(
            "P1's weights: the weights are for a model of 0 nodes, this architecture has {nodes}"
        )
    );
    // P0 and P2 see P1 leave instead of hanging.
    assert!(out[0].is_err() && out[2].is_err());
}

#[test]
fn only_p1_may_pass_weights_to_set_up() {
    let trained = bundled();
    let not_held = |r: &Result<(), InferError<memory::Never>>| {
        matches!(
            r,
            Err(InferError::Protocol {
                error: Error::NotHeld {
                    what: "the weights",
                    holder: Role::P1
                },
                ..
            })
        )
    };
    let p0_too = setup_with(&trained, |r| match r {
        Role::P2 => Held::NotMine,
        _ => Held::Mine(trained.weights()),
    });
    assert!(not_held(&p0_too[0]), "P0 got {:?}", p0_too[0]);
    let none = setup_with(&trained, |_| Held::NotMine);
    assert!(not_held(&none[1]), "P1 got {:?}", none[1]);
    let ok = setup_with(&trained, |r| trained.weights_for(r));
    assert!(ok.iter().all(Result::is_ok), "{ok:?}");
}

#[test]
fn non_finite_input_is_refused_by_p0_naming_the_value() {
    let model = bundled();
    let mut x = vec![0.5f32; 28 * 28];
    x[100] = f32::NAN;
    let (out, _) = memory::run(1, |p| {
        let m = SecureModel::setup(
            p,
            model.model(),
            model.weights_for(p.role()),
            &Spec::default(),
            Settings::default(),
            1,
        )
        .unwrap();
        let input = (p.role() == Role::P0).then_some(&x[..]);
        m.infer(p, Held::from_option(input), &mut |_, _| {})
            .map(|_| ())
    });
    match &out[0] {
        Err(InferError::Encode {
            what: "input",
            value,
            ..
        }) => assert!(value.is_nan()),
        other => panic!("P0 got {other:?}"),
    }
    // The others see P0 leave instead of hanging.
    assert!(out[1].is_err() && out[2].is_err());
}

#[test]
fn a_port_in_use_is_a_typed_error_naming_the_party_and_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_config(dir.path(), 0).unwrap();
    let taken = std::net::TcpListener::bind(config.party(Role::P1).address).unwrap();
    let identity = config.identity(Role::P1).unwrap();
    match connect(Role::P1, &config, &identity) {
        Err(SessionError::Bind { role, address, .. }) => {
            assert_eq!(role, Role::P1);
            assert_eq!(address, taken.local_addr().unwrap());
        }
        Err(other) => panic!("expected Bind, got {other}"),
        Ok(_) => panic!("expected Bind, got a session"),
    }
}
