//! Bad input files give clear, typed errors (the table in README.md): an array of the wrong
//! shape and a PNG whose header declares a huge image.

#[test]
fn an_input_of_the_wrong_shape_names_both_shapes() {
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/fashion_test64_images.npy"
    ));
    let expected = patchwork_core::model::Shape::nchw(1, 28, 28);
    let err = patchwork_model::data::input::load_input(path, &expected).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, patchwork_model::data::input::InputError::Shape { .. }),
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
    let err = patchwork_model::data::input::load_input(&path, &expected)
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with(
            "input shape [1, 1, 60000, 60000] does not fit the model input [1, 1, 28, 28]"
        ),
        "{err}"
    );
}
