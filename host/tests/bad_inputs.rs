//! Bad inputs give clear, typed errors (issue 7's table in README.md): non-finite input values
//! and a port already in use. (Corrupt ONNX, unsupported operators, spec mismatches and bad
//! configs are tested beside their parsers.)

use patchwork_core::infer::{InferError, SecureModel, Settings};
use patchwork_core::net::memory;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_host::net::{connect, loopback_config, SessionError};

#[test]
fn non_finite_input_is_refused_by_p0_naming_the_value() {
    let model = patchwork_host::onnx::load_model(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/fashion_resnet.onnx"
    )))
    .unwrap();
    let mut x = vec![0.5f32; 28 * 28];
    x[100] = f32::NAN;
    let (out, _) = memory::run(1, |p| {
        let m = SecureModel::setup(p, &model, &Spec::default(), Settings::default(), 1).unwrap();
        let input = (p.role() == Role::P0).then_some(&x[..]);
        m.infer(p, input, &mut |_, _| {}).map(|_| ())
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

#[test]
fn an_input_of_the_wrong_shape_names_both_shapes() {
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/fashion_test64_images.npy"
    ));
    let expected = patchwork_core::model::Shape::nchw(1, 28, 28);
    let err = patchwork_host::input::load_input(path, &expected).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, patchwork_host::input::InputError::Shape { .. }),
        "{text}"
    );
    assert!(
        text.contains("[64, 28, 28]") && text.contains("[1, 1, 28, 28]"),
        "{text}"
    );
}

#[test]
fn a_png_declaring_a_huge_image_is_refused_from_its_header() {
    // A header declaring 60,000 x 60,000 grey pixels (3.6 GB once decoded) and two bytes of
    // image data.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.png");
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut enc = png::Encoder::new(file, 60_000, 60_000);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        w.write_chunk(png::chunk::IDAT, &[0x78, 0x9c]).unwrap();
    }
    assert!(std::fs::metadata(&path).unwrap().len() < 100);
    let expected = patchwork_core::model::Shape::nchw(1, 28, 28);
    let err = patchwork_host::input::load_input(&path, &expected)
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with(
            "input shape [1, 1, 60000, 60000] does not fit the model input [1, 1, 28, 28]"
        ),
        "{err}"
    );
}
