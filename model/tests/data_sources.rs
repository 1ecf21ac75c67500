//! The data sources beside Fashion-MNIST's IDX files: an ImageFolder directory of PNG and JPEG
//! images (made here from the bundled Fashion-MNIST images) and NumPy arrays, with per-channel
//! normalisation, and the errors of sources that do not fit.

use std::path::Path;

use patchwork_core::model::Shape;
use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::data::npy::{encode_npy, Npy, NpyData};
use patchwork_model::data::{DataSource, Normalize, Pixels};

/// `DIR/<class name>/<i>.png` for the first `n` bundled images (grey, 28x28).
fn image_folder(dir: &Path, n: usize) {
    let data = bundled_test64();
    let Pixels::U8(bytes) = &data.images else {
        panic!("bytes")
    };
    for i in 0..n {
        let class = dir.join(format!("class_{}", data.labels[i]));
        std::fs::create_dir_all(&class).unwrap();
        let img = image::GrayImage::from_raw(28, 28, bytes[i * 784..(i + 1) * 784].to_vec());
        img.unwrap()
            .save(class.join(format!("{i:02}.png")))
            .unwrap();
    }
}

fn load(source: &DataSource, input: Shape) -> Result<patchwork_model::data::Dataset, String> {
    source
        .load(
            Path::new("/nonexistent"),
            &input,
            Normalize::default(),
            None,
        )
        .map_err(|e| e.to_string())
}

#[test]
fn an_image_folder_at_the_model_size_gives_the_same_inputs() {
    let dir = tempfile::tempdir().unwrap();
    image_folder(dir.path(), 12);
    let folder = load(
        &DataSource::ImageFolder(dir.path().to_path_buf()),
        Shape::nchw(1, 28, 28),
    )
    .unwrap();
    assert_eq!(folder.len(), 12);
    let bundled = bundled_test64();
    // Classes in name order, images in name order within a class.
    let mut order: Vec<usize> = (0..12).collect();
    order.sort_by_key(|&i| (bundled.labels[i], i));
    for (k, &i) in order.iter().enumerate() {
        assert_eq!(folder.input(k), bundled.input(i), "image {i}");
        let name = folder.class_name(folder.labels[k] as usize);
        assert_eq!(name, format!("class_{}", bundled.labels[i]));
    }
}

#[test]
fn an_image_folder_is_resized_and_coloured_for_the_model() {
    let dir = tempfile::tempdir().unwrap();
    image_folder(dir.path(), 4);
    // One JPEG in colour beside the PNGs.
    let rgb = image::RgbImage::from_fn(40, 20, |x, y| image::Rgb([x as u8 * 6, y as u8 * 12, 200]));
    rgb.save(dir.path().join("class_9").join("colour.jpg"))
        .unwrap();
    let source = DataSource::ImageFolder(dir.path().to_path_buf());
    let data = load(&source, Shape::nchw(3, 32, 32)).unwrap();
    assert_eq!(
        (data.len(), data.channels, data.rows, data.cols),
        (5, 3, 32, 32)
    );
    let x = data.input(4);
    assert_eq!(x.shape(), &[1, 3, 32, 32]);
    // A grey image has three equal channels; the JPEG's blue channel stays near 200/255.
    let grey = data.input(0);
    assert_eq!(
        grey.slice(ndarray::s![0, 0, .., ..]),
        grey.slice(ndarray::s![0, 2, .., ..])
    );
    let blue = x.slice(ndarray::s![0, 2, .., ..]);
    // (JPEG chroma subsampling blurs the ramps of the other channels into it by a few levels.)
    assert!(
        blue.iter().all(|&v| (v - 200.0 / 255.0).abs() < 0.05),
        "{blue}"
    );
    // Normalised per channel: (x - mean) / std.
    let norm = Normalize::new(vec![0.5, 0.5, 0.25], vec![0.5, 0.5, 0.25]).unwrap();
    let normalised = source
        .load(Path::new("/x"), &Shape::nchw(3, 32, 32), norm, Some(5))
        .unwrap();
    let b = normalised.input(4);
    let v = x[[0, 2, 3, 3]];
    assert!((b[[0, 2, 3, 3]] - (v - 0.25) / 0.25).abs() < 1e-6);
    // At most `limit` images are read.
    let two = source
        .load(
            Path::new("/x"),
            &Shape::nchw(3, 32, 32),
            Normalize::default(),
            Some(2),
        )
        .unwrap();
    assert_eq!(two.len(), 2);
}

#[test]
fn image_folders_that_do_not_fit_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let source = DataSource::ImageFolder(dir.path().to_path_buf());
    let e = load(&source, Shape::nchw(1, 28, 28)).unwrap_err();
    assert!(e.contains("no class folders"), "{e}");
    image_folder(dir.path(), 2);
    std::fs::write(dir.path().join("class_9").join("notes.txt"), "hi").unwrap();
    let e = load(&source, Shape::nchw(1, 28, 28)).unwrap_err();
    assert!(
        e.contains("notes.txt") && e.contains("not a .png or .jpg"),
        "{e}"
    );
    std::fs::remove_file(dir.path().join("class_9").join("notes.txt")).unwrap();
    std::fs::write(dir.path().join("class_9").join("broken.png"), "not a png").unwrap();
    let e = load(&source, Shape::nchw(1, 28, 28)).unwrap_err();
    assert!(e.contains("broken.png"), "{e}");
    std::fs::remove_file(dir.path().join("class_9").join("broken.png")).unwrap();
    let e = load(&source, Shape::nchw(2, 28, 28)).unwrap_err();
    assert!(e.contains("the model takes 2"), "{e}");
    // Hidden files are skipped.
    std::fs::write(dir.path().join("class_9").join(".DS_Store"), "x").unwrap();
    assert_eq!(load(&source, Shape::nchw(1, 28, 28)).unwrap().len(), 2);
}

fn write(dir: &Path, name: &str, npy: Npy) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, encode_npy(&npy)).unwrap();
    path
}

#[test]
fn arrays_with_labels_load_and_mismatches_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f32> = (0..4 * 3 * 8 * 8).map(|i| (i % 17) as f32 / 17.0).collect();
    let images = write(
        dir.path(),
        "x.npy",
        Npy {
            shape: vec![4, 3, 8, 8],
            data: NpyData::F32(values.clone()),
        },
    );
    let labels = write(
        dir.path(),
        "y.npy",
        Npy {
            shape: vec![4],
            data: NpyData::I64(vec![3, 0, 2, 1]),
        },
    );
    let source = DataSource::Arrays {
        images: images.clone(),
        labels: Some(labels),
    };
    let data = load(&source, Shape::nchw(3, 8, 8)).unwrap();
    assert_eq!((data.len(), data.labels.clone()), (4, vec![3, 0, 2, 1]));
    assert_eq!(
        data.input(1).iter().copied().collect::<Vec<_>>(),
        values[192..384]
    );
    // Another model's input: the dimension that differs is named.
    let e = load(&source, Shape::nchw(3, 8, 9)).unwrap_err();
    assert!(e.contains("width 8 vs 9"), "{e}");
    // Labels of another length, or floats.
    let three = write(
        dir.path(),
        "y3.npy",
        Npy {
            shape: vec![3],
            data: NpyData::I64(vec![0, 1, 2]),
        },
    );
    let e = load(
        &DataSource::Arrays {
            images: images.clone(),
            labels: Some(three),
        },
        Shape::nchw(3, 8, 8),
    )
    .unwrap_err();
    assert!(
        e.contains("y3.npy") && e.contains("expected 4 labels"),
        "{e}"
    );
    let floats = write(
        dir.path(),
        "yf.npy",
        Npy {
            shape: vec![4],
            data: NpyData::F32(vec![0.0; 4]),
        },
    );
    let e = load(
        &DataSource::Arrays {
            images: images.clone(),
            labels: Some(floats),
        },
        Shape::nchw(3, 8, 8),
    )
    .unwrap_err();
    assert!(e.contains("labels must be integers"), "{e}");
    // Images that are not N x C x H x W.
    let flat = write(
        dir.path(),
        "flat.npy",
        Npy {
            shape: vec![4, 192],
            data: NpyData::F32(vec![0.0; 768]),
        },
    );
    let e = load(
        &DataSource::Arrays {
            images: flat,
            labels: None,
        },
        Shape::nchw(3, 8, 8),
    )
    .unwrap_err();
    assert!(e.contains("flat.npy") && e.contains("N x C x H x W"), "{e}");
    // Without labels the images load, and whoever needs labels says so.
    let unlabelled = load(
        &DataSource::Arrays {
            images,
            labels: None,
        },
        Shape::nchw(3, 8, 8),
    )
    .unwrap();
    let e = unlabelled
        .require_labels("accuracy")
        .unwrap_err()
        .to_string();
    assert!(e.contains("accuracy needs labels"), "{e}");
}

#[test]
fn normalisation_must_fit_the_channels() {
    assert!(Normalize::new(vec![0.5], vec![0.0]).is_err());
    let norm = Normalize::new(vec![0.1, 0.2], vec![1.0]).unwrap();
    let e = DataSource::FashionMnist64
        .load(Path::new("/x"), &Shape::nchw(1, 28, 28), norm, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--mean has 2 values") && e.contains("1 channels"),
        "{e}"
    );
}

#[test]
fn a_jpeg_input_of_the_model_size_loads_and_others_are_refused() {
    use patchwork_model::data::input::load_input;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.jpg");
    image::RgbImage::from_pixel(16, 12, image::Rgb([10, 128, 250]))
        .save(&path)
        .unwrap();
    let x = load_input(&path, &Shape::nchw(3, 12, 16)).unwrap();
    assert_eq!(x.shape(), &[1, 3, 12, 16]);
    assert!((x[[0, 1, 5, 5]] - 128.0 / 255.0).abs() < 0.02);
    let grey = load_input(&path, &Shape::nchw(1, 12, 16)).unwrap();
    assert_eq!(grey.shape(), &[1, 1, 12, 16]);
    let e = load_input(&path, &Shape::nchw(3, 16, 16))
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.jpg") && e.contains("does not fit"), "{e}");
    std::fs::write(&path, b"not a jpeg").unwrap();
    let e = load_input(&path, &Shape::nchw(3, 12, 16))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot decode the image"), "{e}");
}
