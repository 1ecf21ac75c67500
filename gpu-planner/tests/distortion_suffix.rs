//! The batched suffix evaluator against the host's reference forward: `D(i, j)` of eq. 4
//! measured by `extract_layer` must equal the one obtained by running the whole network with a
//! one-channel Block-ReLU spec (`patchwork_host::reference::forward`).

use std::path::PathBuf;

use ndarray::ArrayD;
use patchwork_core::model::Model;
use patchwork_core::patch::PatchSize;
use patchwork_core::spec::{LayerSpec, Spec};
use patchwork_host::fashion::bundled_test64;
use patchwork_host::onnx::load_model;
use patchwork_host::reference::forward;
use patchwork_planner::distortion::extract::{extract_layer, relu_layers, Options};
use patchwork_planner::distortion::reduce::CpuReducer;
use patchwork_planner::distortion::shard::Shard;

fn fashion() -> Model {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/fashion_resnet.onnx");
    load_model(&path).expect("bundled model loads")
}

fn images(n: usize) -> Vec<ArrayD<f32>> {
    let data = bundled_test64();
    (0..n).map(|i| data.input(i)).collect()
}

/// Eq. 4 by brute force: whole forward passes with and without the one-channel spec.
fn oracle(
    model: &Model,
    layer: &str,
    c: usize,
    ch: usize,
    p: PatchSize,
    imgs: &[ArrayD<f32>],
) -> f64 {
    let mut patches = vec![PatchSize::RELU; c];
    patches[ch] = p;
    let spec = Spec {
        layers: vec![LayerSpec {
            name: layer.to_string(),
            patch_sizes: patches,
        }],
    };
    let mut sum = 0.0;
    for img in imgs {
        let a = forward(model, img, None).expect("forward");
        let b = forward(model, img, Some(&spec)).expect("forward with spec");
        sum += a
            .iter()
            .zip(b.iter())
            .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
            .sum::<f64>();
    }
    sum / imgs.len() as f64
}

#[test]
fn suffix_matches_full_forward_on_every_layer() {
    let model = fashion();
    let imgs = images(2);
    for layer in relu_layers(&model).expect("relu layers") {
        let (c, _, _) = layer.chw;
        // One channel per layer (the last one), every candidate with sides up to 3.
        let opts = Options {
            max_side: 3,
            batch: 5,
            shard: Shard {
                index: c - 1,
                count: c,
            },
        };
        let part =
            extract_layer(&model, &layer, &imgs, &opts, &CpuReducer, &|_| {}).expect("extract");
        assert_eq!(part.first_channel, c - 1);
        assert_eq!(part.distortion.len(), 1);
        for (j, &p) in part.patch_sizes.iter().enumerate() {
            let got = part.distortion[0][j];
            let want = oracle(&model, &layer.name, c, c - 1, p, &imgs);
            let tol = 1e-4 * want.abs() + 1e-7;
            assert!(
                (got - want).abs() <= tol,
                "{} ch {} {:?}: suffix {got} vs full {want}",
                layer.name,
                c - 1,
                p
            );
            if p == PatchSize::RELU {
                assert_eq!(got, 0.0, "plain ReLU must not distort");
            }
        }
    }
}
