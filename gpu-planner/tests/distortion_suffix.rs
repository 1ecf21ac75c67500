//! The batched suffix evaluator against the host's reference forward: `D(i, j)` of eq. 4
//! measured by `extract_layer` must equal the one obtained by running the whole network with a
//! one-channel Block-ReLU spec (`patchwork_model::reference::forward`), on the plain model and
//! with a base spec's Block-ReLUs in place.

use std::path::PathBuf;

use ndarray::ArrayD;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::TrainedModel;
use patchwork_core::patch::PatchSize;
use patchwork_core::spec::{LayerSpec, Spec};
use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::onnx::load_model;
use patchwork_model::reference::forward;
use patchwork_model::spec_io::load_spec;
use patchwork_planner::distortion::candidates::CandidateSides;
use patchwork_planner::distortion::extract::{extract_layer, relu_layers, Options};
use patchwork_planner::distortion::reduce::CpuReducer;
use patchwork_planner::distortion::shard::Shard;

fn fashion() -> TrainedModel {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/fashion_resnet.onnx");
    load_model(&path).expect("bundled model loads")
}

fn images(n: usize) -> Vec<ArrayD<f32>> {
    let data = bundled_test64();
    (0..n).map(|i| data.input(i)).collect()
}

/// Eq. 4 by brute force: whole forward passes with `base` and with `base` where channel `ch`
/// of `layer` has patch size `p`.
fn oracle(
    model: &TrainedModel,
    base: &Spec,
    (layer, c): (&str, usize),
    ch: usize,
    p: PatchSize,
    imgs: &[ArrayD<f32>],
) -> f64 {
    let mut spec = base.clone();
    if spec.layer(layer).is_none() {
        spec.layers.push(LayerSpec {
            name: layer.to_string(),
            patch_sizes: vec![PatchSize::RELU; c],
        });
    }
    let named = spec.layers.iter_mut().find(|l| l.name == layer);
    named.expect("layer just added").patch_sizes[ch] = p;
    let mut sum = 0.0;
    for img in imgs {
        let base = ResolvedSpec::new(model.model(), base).unwrap();
        let a = forward(model, img, &base).expect("forward");
        let b = forward(
            model,
            img,
            &ResolvedSpec::new(model.model(), &spec).unwrap(),
        )
        .expect("forward with spec");
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
    check_every_layer(&fashion(), &Spec::default());
}

#[test]
fn suffix_matches_full_forward_with_a_base_spec() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    let model = load_model(&root.join("fashion_resnet_brelu6.onnx")).expect("bundled model");
    let base = load_spec(&root.join("fashion_resnet_brelu6.spec.json")).expect("bundled spec");
    check_every_layer(&model, &base);
}

/// One channel per layer (the last one), every candidate with sides up to 3 and the sides of
/// two blocks and of the whole map, against [`oracle`]; the channel's own base patch size must
/// measure exactly 0.
fn check_every_layer(model: &TrainedModel, base: &Spec) {
    let imgs = images(2);
    for layer in relu_layers(model.model()).expect("relu layers") {
        let (c, _, _) = layer.chw;
        let opts = Options {
            sides: CandidateSides {
                max_side: 3,
                coarse_blocks: 2,
            },
            batch: 5,
            shard: Shard {
                index: c - 1,
                count: c,
            },
            base,
        };
        let own = base
            .layer(&layer.name)
            .map_or(PatchSize::RELU, |l| l.patch_sizes[c - 1]);
        let part =
            extract_layer(model, &layer, &imgs, &opts, &CpuReducer, &|_| {}).expect("extract");
        assert_eq!(part.first_channel, c - 1);
        assert_eq!(part.distortion.len(), 1);
        for (j, &p) in part.patch_sizes.iter().enumerate() {
            let got = part.distortion[0][j];
            let want = oracle(model, base, (&layer.name, c), c - 1, p, &imgs);
            let tol = 1e-4 * want.abs() + 1e-7;
            assert!(
                (got - want).abs() <= tol,
                "{} ch {} {:?}: suffix {got} vs full {want}",
                layer.name,
                c - 1,
                p
            );
            if p == own {
                assert_eq!(got, 0.0, "the base's own patch size must not distort");
            }
        }
    }
}
