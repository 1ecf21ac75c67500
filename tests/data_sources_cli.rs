//! A user's own 3-channel network end to end through the CLI, as the README documents it:
//! exported with today's default `torch.onnx.export` (external weights), then
//! `plan distortion` on a folder of PNG images and on an `.npy` array, `plan knapsack` of each
//! table, `eval` on the folder, and `infer --spec --approx` on an RGB PNG with the folder's spec
//! and on an array with the array's. Needs the Python venv
//! (`patchwork_test_support::python`); without it the test prints why and passes.

use std::process::Command;

use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::data::npy::{encode_npy, Npy, NpyData};
use patchwork_model::data::Pixels;
use patchwork_test_support::python::export;

fn patchwork(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args(args)
        .output()
        .expect("patchwork runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_three_channel_network_plans_on_image_folders_and_arrays_then_runs_securely() {
    let Some(tmp) = export("small_rgb_dynamo") else {
        return;
    };
    let dir = tmp.path();
    let model = dir.join("small_rgb_dynamo.onnx");
    assert!(
        dir.join("small_rgb_dynamo.onnx.data").exists(),
        "weights beside the model"
    );
    let m = model.to_str().unwrap();
    // A folder of 28x28 grey PNGs in four classes (resized and coloured for the 16x16 RGB net).
    let data = bundled_test64();
    let Pixels::U8(bytes) = &data.images else {
        panic!("bytes")
    };
    let folder = dir.join("images");
    for i in 0..16 {
        let class = folder.join(format!("c{}", i % 4));
        std::fs::create_dir_all(&class).unwrap();
        let img = image::GrayImage::from_raw(28, 28, bytes[i * 784..(i + 1) * 784].to_vec());
        img.unwrap().save(class.join(format!("{i}.png"))).unwrap();
    }
    // The same count of images as an N x C x H x W array.
    let x: Vec<f32> = (0..8 * 3 * 16 * 16)
        .map(|k| ((k * 7919) % 255) as f32 / 255.0)
        .collect();
    let npy = dir.join("x.npy");
    let array = Npy {
        shape: vec![8, 3, 16, 16],
        data: NpyData::F32(x),
    };
    std::fs::write(&npy, encode_npy(&array)).unwrap();
    let (table_dir, table_npy) = (dir.join("t_dir.json"), dir.join("t_npy.json"));
    for (source, table) in [(&folder, &table_dir), (&npy, &table_npy)] {
        let (ok, out, err) = patchwork(&[
            "plan",
            "distortion",
            "--model",
            m,
            "--data",
            source.to_str().unwrap(),
            "--samples",
            "8",
            "--max-side",
            "2",
            "--coarse-blocks",
            "0",
            "--mean",
            "0.5",
            "--std",
            "0.25",
            "--out",
            table.to_str().unwrap(),
        ]);
        assert!(ok, "plan distortion on {}: {out}{err}", source.display());
        assert!(out.contains("2 ReLU layers"), "{out}");
    }
    // Each table through the knapsack: the folder's spec runs on a PNG, the array's on an array.
    let (spec, spec_npy) = (dir.join("spec.json"), dir.join("spec_npy.json"));
    for (table, out_spec) in [(&table_dir, &spec), (&table_npy, &spec_npy)] {
        let (ok, out, err) = patchwork(&[
            "plan",
            "knapsack",
            "--table",
            table.to_str().unwrap(),
            "--budget-ratio",
            "0.3",
            "--out",
            out_spec.to_str().unwrap(),
        ]);
        assert!(ok, "plan knapsack of {}: {out}{err}", table.display());
    }
    let (ok, out, err) = patchwork(&[
        "eval",
        "--model",
        m,
        "--data",
        folder.to_str().unwrap(),
        "--spec",
        spec.to_str().unwrap(),
    ]);
    assert!(
        ok && out.contains("(") && out.contains("/16)"),
        "eval: {out}{err}"
    );
    let png = dir.join("x.png");
    image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, 128]))
        .save(&png)
        .unwrap();
    let one = dir.join("one.npy");
    let first = Npy {
        shape: vec![1, 3, 16, 16],
        data: NpyData::F32(array.to_f32()[..3 * 16 * 16].to_vec()),
    };
    std::fs::write(&one, encode_npy(&first)).unwrap();
    // The folder's spec on a PNG, the array's on an array.
    for (spec, input) in [(&spec, &png), (&spec_npy, &one)] {
        let (ok, out, err) = patchwork(&[
            "infer",
            "--model",
            m,
            "--spec",
            spec.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--approx",
            "43,5",
            "--json",
        ]);
        assert!(ok, "infer with {}: {out}{err}", spec.display());
        let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(report["output"].as_array().map(Vec::len), Some(4), "{out}");
    }
    // A source that does not fit the model says which dimension differs.
    let (ok, _, err) = patchwork(&["eval", "--model", m, "--data", "fashion-mnist-64"]);
    assert!(!ok && err.contains("channels 1 vs 3"), "{err}");
}

/// One model, many image sizes: a network exported with symbolic H and W is planned at 16x16,
/// and its spec applied at 48x80 and at 8x8 (`--input-shape`): `spec stats` counts at the size
/// used, patches larger than the 8x8 maps are clamped with a note, and secure inference runs
/// at the larger size.
#[test]
fn a_symbolic_size_model_runs_a_spec_planned_at_another_size() {
    let Some(tmp) = export("small_rgb_dynamic") else {
        return;
    };
    let dir = tmp.path();
    let m = dir.join("small_rgb_dynamic.onnx");
    let m = m.to_str().unwrap();
    let npy = dir.join("x.npy");
    let x: Vec<f32> = (0..4 * 3 * 16 * 16)
        .map(|k| ((k * 31) % 97) as f32 / 97.0)
        .collect();
    let array = Npy {
        shape: vec![4, 3, 16, 16],
        data: NpyData::F32(x),
    };
    std::fs::write(&npy, encode_npy(&array)).unwrap();
    let (table, spec) = (dir.join("t.json"), dir.join("s.json"));
    let (ok, out, err) = patchwork(&[
        "plan",
        "distortion",
        "--model",
        m,
        "--input-shape",
        "1,3,16,16",
        "--data",
        npy.to_str().unwrap(),
        "--samples",
        "4",
        "--out",
        table.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = patchwork(&[
        "plan",
        "knapsack",
        "--table",
        table.to_str().unwrap(),
        "--budget-ratio",
        "0.05",
        "--out",
        spec.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    let s = spec.to_str().unwrap();
    let stats = |shape: &str| {
        patchwork(&[
            "spec",
            "stats",
            "--model",
            m,
            "--input-shape",
            shape,
            "--spec",
            s,
            "--json",
        ])
    };
    let total = |out: &str| -> u64 {
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        v["relu_drelus"].as_u64().unwrap()
    };
    let (ok, at16, err) = stats("1,3,16,16");
    assert!(ok && !err.contains("clamped"), "{at16}{err}");
    let (ok, at48, _) = stats("1,3,48,80");
    assert!(ok, "{at48}");
    assert_eq!(
        total(&at48),
        total(&at16) * 15,
        "plain ReLUs scale with the map"
    );
    let (ok, at8, err) = stats("1,3,8,8");
    assert!(ok, "{at8}{err}");
    assert!(err.contains("note:") && err.contains("clamped"), "{err}");
    let input = dir.join("big.npy");
    let big = Npy {
        shape: vec![1, 3, 48, 80],
        data: NpyData::F32(vec![0.25; 3 * 48 * 80]),
    };
    std::fs::write(&input, encode_npy(&big)).unwrap();
    let (ok, out, err) = patchwork(&[
        "infer",
        "--model",
        m,
        "--input-shape",
        "1,3,48,80",
        "--spec",
        s,
        "--input",
        input.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "infer at 48x80: {out}{err}");
    // Without --input-shape the symbolic size is refused, saying what to give.
    let (ok, _, err) = patchwork(&["spec", "stats", "--model", m, "--spec", s]);
    assert!(!ok && err.contains("--input-shape"), "{err}");
}
