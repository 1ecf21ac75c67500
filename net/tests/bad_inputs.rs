//! Bad inputs give clear, typed errors (the table in README.md): non-finite input values and a
//! port already in use. (Input files are tested in `patchwork-model`'s `bad_inputs`; corrupt
//! ONNX, unsupported operators, spec mismatches and bad configs beside their parsers.)

use patchwork_core::held::Held;
use patchwork_core::infer::{InferError, SecureModel, Settings};
use patchwork_core::net::memory;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_net::tcp::{connect, loopback_config, SessionError};

#[test]
fn non_finite_input_is_refused_by_p0_naming_the_value() {
    let model = patchwork_model::onnx::load_model(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/fashion_resnet.onnx"
    )))
    .unwrap();
    let mut x = vec![0.5f32; 28 * 28];
    x[100] = f32::NAN;
    let (out, _) = memory::run(1, |p| {
        let m = SecureModel::setup(p, &model, &Spec::default(), Settings::default(), 1).unwrap();
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
