//! The secure forward pass (three parties on the in-memory network) against the float
//! reference, on a model built here that uses every operator the runner supports, with and
//! without a Block-ReLU spec, with exact and approximate DReLU.

use ndarray::{ArrayD, IxDyn};
use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::held::Held;
use patchwork_core::infer::{SecureModel, Settings};
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::{
    infer_shape, Conv2d, CoordinateTransform, LayerWeights, Linear, Model, Node, Op, Pool2d,
    Resize, ResizeMode, Shape, TrainedModel, ValueInfo, Weights,
};
use patchwork_core::net::memory;
use patchwork_core::patch::PatchSize;
use patchwork_core::protocol::drelu::Comparison;
use patchwork_core::protocol::sign::SignProtocol;
use patchwork_core::protocol::truncate::Truncation;
use patchwork_core::role::Role;
use patchwork_core::spec::{LayerSpec, Spec};
use patchwork_model::reference::forward;

/// A deterministic generator for weights and inputs.
struct Gen(u64);

impl Gen {
    fn f(&mut self, scale: f32) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
    }
    fn v(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.f(scale)).collect()
    }
}

struct Builder {
    model: Model,
    weights: Vec<Option<LayerWeights>>,
}

impl Builder {
    fn new(input: Shape) -> Builder {
        let values = vec![ValueInfo {
            name: "input".into(),
            shape: input,
        }];
        Builder {
            model: Model {
                values,
                nodes: vec![],
                input: 0,
                output: 0,
            },
            weights: vec![],
        }
    }
    /// Adds a Conv or Linear node with its weights.
    fn layer(&mut self, name: &str, (op, weights): (Op, LayerWeights), input: usize) -> usize {
        let id = self.add(name, op, &[input], None);
        *self.weights.last_mut().expect("just added") = Some(weights);
        id
    }
    fn add(&mut self, name: &str, op: Op, inputs: &[usize], shape: Option<Shape>) -> usize {
        let ins: Vec<&Shape> = inputs
            .iter()
            .map(|&i| &self.model.values[i].shape)
            .collect();
        let shape = shape.unwrap_or_else(|| infer_shape(&op, &ins).expect("valid test model"));
        let id = self.model.values.len();
        self.model.values.push(ValueInfo {
            name: format!("{name}_out"),
            shape,
        });
        self.model.nodes.push(Node {
            name: name.into(),
            op,
            inputs: inputs.to_vec(),
            output: id,
        });
        self.weights.push(None);
        self.model.output = id;
        id
    }
}

/// A convolution `[in, out, kernel, stride, pad, dilation, groups]` with random weights.
/// Both ways of deciding signs.
const SIGNS: [SignProtocol; 2] = [SignProtocol::PrivateCompare, SignProtocol::Fss];

fn conv(g: &mut Gen, [i, o, k, stride, pad, dil, groups]: [usize; 7]) -> (Op, LayerWeights) {
    let n = o * (i / groups) * k * k;
    let scale = 1.5 / ((i / groups) * k * k) as f32;
    let op = Op::Conv(Conv2d {
        out_channels: o,
        in_channels: i,
        kernel: [k, k],
        stride: [stride, stride],
        padding: [pad; 4],
        dilation: [dil, dil],
        groups,
    });
    let weights = LayerWeights {
        weight: g.v(n, scale.sqrt()),
        bias: g.v(o, 0.1),
    };
    (op, weights)
}

fn every_operator_model() -> TrainedModel {
    let mut g = Gen(42);
    let mut b = Builder::new(Shape::nchw(2, 12, 12));
    let c1 = b.layer("conv1", conv(&mut g, [2, 6, 3, 1, 1, 1, 1]), 0);
    let r1 = b.add("relu1", Op::Relu, &[c1], None);
    let pool = Pool2d {
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0; 4],
        count_include_pad: false,
    };
    let a1 = b.add("avg", Op::AvgPool(pool), &[r1], None);
    let c2 = b.layer("conv2_dw", conv(&mut g, [6, 6, 3, 1, 2, 2, 3]), a1);
    let s = b.add("add", Op::Add, &[c2, a1], None);
    let r2 = b.add("relu6", Op::Relu6, &[s], None);
    let mp = Pool2d {
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1; 4],
        count_include_pad: false,
    };
    let m = b.add("maxpool", Op::MaxPool(mp), &[r2], None);
    let up = Resize {
        mode: ResizeMode::Bilinear,
        transform: CoordinateTransform::HalfPixel,
        scale: [2.0, 2.0],
    };
    let u = b.add("resize", Op::Resize(up), &[m], Some(Shape::nchw(6, 12, 12)));
    let cat = b.add(
        "concat",
        Op::Concat,
        &[u, r1],
        Some(Shape::nchw(12, 12, 12)),
    );
    let r3 = b.add("relu3", Op::Relu, &[cat], None);
    let gp = b.add("gap", Op::GlobalAvgPool, &[r3], None);
    let fl = b.add("flatten", Op::Reshape, &[gp], Some(Shape(vec![1, 12])));
    let lin = Op::Linear(Linear {
        in_features: 12,
        out_features: 5,
    });
    let weights = LayerWeights {
        weight: g.v(60, 0.5),
        bias: g.v(5, 0.1),
    };
    b.layer("fc", (lin, weights), fl);
    TrainedModel::new(b.model, Weights::new(b.weights)).expect("the test model is well formed")
}

fn secure(model: &TrainedModel, spec: &Spec, settings: Settings, x: &[f32]) -> Vec<f32> {
    let (out, traffic) = memory::run(9, |p| {
        let weights = model.weights_for(p.role());
        let m = SecureModel::setup(p, model.model(), weights, spec, settings, 1).unwrap();
        let input = (p.role() == Role::P0).then_some(x);
        m.infer(p, Held::from_option(input), &mut |_, _| {})
            .unwrap()
    });
    assert!(
        out[1].is_none() && out[2].is_none(),
        "only P0 learns the output"
    );
    assert!(traffic.total_bytes() > 0);
    out[0].clone().unwrap()
}

/// Exact DReLU, local truncation, 16 fractional bits, one image, signs by `sign`.
fn exact_local(sign: SignProtocol) -> Settings {
    Settings {
        fp: FixedPoint::new(16).unwrap(),
        cmp: Comparison::Exact,
        trunc: Truncation::Local,
        calibrated: false,
        batch: 1,
        preprocess: false,
        sign,
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn spec_for(model: &Model) -> Spec {
    let layer = |name: &str, c: usize, pick: fn(usize) -> PatchSize| LayerSpec {
        name: name.into(),
        patch_sizes: (0..c).map(pick).collect(),
    };
    let _ = model;
    Spec {
        layers: vec![
            layer("relu1", 6, |c| {
                [
                    PatchSize::Block { h: 2, w: 2 },
                    PatchSize::Block { h: 3, w: 5 },
                    PatchSize::Identity,
                    PatchSize::Zero,
                ][c % 4]
            }),
            // A Block-ReLU6: the Block-ReLU, then the clamp at 6 as a second step.
            layer("relu6", 6, |c| {
                [
                    PatchSize::Block { h: 2, w: 2 },
                    PatchSize::RELU,
                    PatchSize::Block { h: 3, w: 3 },
                    PatchSize::Identity,
                    PatchSize::Zero,
                    PatchSize::Block { h: 6, w: 6 },
                ][c]
            }),
            layer("relu3", 12, |c| {
                if c % 2 == 0 {
                    PatchSize::Block { h: 4, w: 4 }
                } else {
                    PatchSize::RELU
                }
            }),
        ],
        calibration: None,
    }
}

#[test]
fn secure_matches_float_reference_on_every_operator() {
    let model = every_operator_model();
    let x = Gen(7).v(2 * 12 * 12, 1.0);
    let input = ArrayD::from_shape_vec(IxDyn(&[1, 2, 12, 12]), x.clone()).unwrap();
    let fp = FixedPoint::new(16).unwrap();
    let specs = [Spec::default(), spec_for(model.model())];
    for (spec, sign) in specs.iter().flat_map(|s| SIGNS.map(|g| (s.clone(), g))) {
        let reference = forward(
            &model,
            &input,
            &ResolvedSpec::new(model.model(), &spec).unwrap(),
        )
        .unwrap();
        let reference: Vec<f32> = reference.iter().copied().collect();
        let got = secure(
            &model,
            &spec,
            Settings {
                fp,
                cmp: Comparison::Exact,
                trunc: Truncation::Local,
                calibrated: false,
                batch: 1,
                preprocess: false,
                sign,
            },
            &x,
        );
        let err = max_abs_diff(&got, &reference);
        assert!(
            err < 2e-3,
            "{sign}, spec with {} layers: max abs error {err}: {got:?} vs {reference:?}",
            spec.layers.len()
        );
        // Truncation assisted by P2 at 24 fractional bits (products carry 48: local truncation
        // would fail on about one element in 2^14 here): a tolerance 256 times tighter.
        let assisted = secure(
            &model,
            &spec,
            Settings {
                fp: FixedPoint::new(24).unwrap(),
                cmp: Comparison::Exact,
                trunc: Truncation::Assisted,
                calibrated: false,
                batch: 1,
                preprocess: false,
                sign,
            },
            &x,
        );
        let err = max_abs_diff(&assisted, &reference);
        assert!(
            err < 2e-5,
            "{sign}, assisted truncation: max abs error {err}"
        );
        // Approximate DReLU (k_msb = 40, k_lsb = 4 at f = 16 leaves |x| < 2^3 exact): the same
        // network, a few sign decisions may flip near 0, so the tolerance is looser.
        let approx = secure(
            &model,
            &spec,
            Settings {
                fp,
                cmp: Comparison::Approx {
                    k_msb: 40,
                    k_lsb: 4,
                },
                trunc: Truncation::Local,
                calibrated: false,
                batch: 1,
                preprocess: false,
                sign,
            },
            &x,
        );
        assert!(
            max_abs_diff(&approx, &reference) < 5e-2,
            "{sign}, approx: {approx:?} vs {reference:?}"
        );
    }
}

#[test]
fn per_layer_bytes_equal_the_cost_model() {
    use patchwork_net::secure::local::{infer_local, Network};
    let model = every_operator_model();
    let x = Gen(8).v(2 * 12 * 12, 1.0);
    let spec = spec_for(model.model());
    let modes = [
        (Comparison::Exact, Truncation::Local),
        (Comparison::PAPER, Truncation::Local),
        (Comparison::Exact, Truncation::Assisted),
    ];
    for ((cmp, trunc), sign) in modes.into_iter().flat_map(|m| SIGNS.map(|g| (m, g))) {
        let settings = Settings {
            fp: FixedPoint::new(14).unwrap(),
            cmp,
            trunc,
            calibrated: false,
            batch: 1,
            preprocess: false,
            sign,
        };
        let reports = infer_local(
            Network::Memory { seed: 3 },
            &model,
            &spec,
            settings,
            &[&x, &x],
        )
        .unwrap();
        assert_eq!(reports.len(), 2);
        for r in &reports {
            for l in &r.layers {
                assert_eq!(l.bytes, l.predicted_bytes, "layer {} ({})", l.name, l.op);
                assert_eq!(l.rounds, l.predicted_rounds, "layer {} ({})", l.name, l.op);
            }
            assert_eq!(r.bytes, r.predicted_bytes);
            assert!(r.bytes.total > 0 && r.setup_bytes.total > 0);
            let step_rounds: u32 = r.layers.iter().map(|l| l.predicted_rounds).sum::<u32>() + 1;
            assert!(
                r.rounds >= 1 && r.rounds <= step_rounds,
                "{} rounds vs {step_rounds}",
                r.rounds
            );
        }
        // Fresh randomness per inference: truncation may differ in the last place only.
        assert!(max_abs_diff(&reports[0].output, &reports[1].output) < 1e-2);
    }
}

#[test]
fn a_final_softmax_is_applied_by_p0_to_the_revealed_scores() {
    let (mut model, weights) = every_operator_model().into_parts();
    let mut layers: Vec<Option<LayerWeights>> = (0..model.nodes.len())
        .map(|i| weights.layer(i).cloned())
        .collect();
    let logits = model.output;
    model.values.push(ValueInfo {
        name: "probabilities".into(),
        shape: Shape(vec![1, 5]),
    });
    model.output = model.values.len() - 1;
    model.nodes.push(Node {
        name: "softmax".into(),
        op: Op::Softmax,
        inputs: vec![logits],
        output: model.output,
    });
    layers.push(None);
    let model = TrainedModel::new(model, Weights::new(layers)).unwrap();
    let x = Gen(7).v(2 * 12 * 12, 1.0);
    let input = ArrayD::from_shape_vec(IxDyn(&[1, 2, 12, 12]), x.clone()).unwrap();
    let spec = Spec::default();
    let reference = forward(
        &model,
        &input,
        &ResolvedSpec::new(model.model(), &spec).unwrap(),
    );
    let reference: Vec<f32> = reference.unwrap().iter().copied().collect();
    let got = secure(&model, &spec, exact_local(Default::default()), &x);
    assert!((got.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{got:?}");
    assert!(
        max_abs_diff(&got, &reference) < 1e-3,
        "{got:?} vs {reference:?}"
    );
}

/// A batch is one inference of several images: each image's output is what the float
/// reference gives for it alone, the rounds are those of one image, and every layer's bytes are
/// the cost model's for the batch (the images' bytes added up, bit-packed messages rounded up
/// once).
#[test]
fn a_batch_is_each_image_alone_in_the_rounds_of_one() {
    use patchwork_net::secure::local::{infer_local, Network};
    let model = every_operator_model();
    let spec = spec_for(model.model());
    let images: Vec<Vec<f32>> = (0..3).map(|k| Gen(20 + k).v(2 * 12 * 12, 1.0)).collect();
    let single = Settings {
        fp: FixedPoint::new(24).unwrap(),
        cmp: Comparison::Exact,
        trunc: Truncation::Assisted,
        calibrated: false,
        batch: 1,
        preprocess: false,
        sign: Default::default(),
    };
    let batched = Settings { batch: 3, ..single };
    let resolved = ResolvedSpec::new(model.model(), &spec).unwrap();
    let net = Network::Memory { seed: 5 };
    let batch = infer_local(net, &model, &spec, batched, &[&images.concat()]).unwrap();
    let alone = infer_local(net, &model, &spec, single, &[&images[0]]).unwrap();
    let (b, one) = (&batch[0], &alone[0]);
    assert_eq!((b.images, b.classes.len(), b.output.len()), (3, 3, 15));
    for (k, x) in images.iter().enumerate() {
        let input = ArrayD::from_shape_vec(IxDyn(&[1, 2, 12, 12]), x.clone()).unwrap();
        let reference: Vec<f32> = forward(&model, &input, &resolved)
            .unwrap()
            .iter()
            .copied()
            .collect();
        let got = &b.output[k * 5..(k + 1) * 5];
        let err = max_abs_diff(got, &reference);
        assert!(err < 2e-5, "image {k} of the batch: max abs error {err}");
        assert_eq!(b.classes[k], patchwork_core::infer::argmax(&reference));
    }
    assert_eq!(b.rounds, one.rounds, "a batch pays the rounds of one image");
    for (l, l1) in b.layers.iter().zip(&one.layers) {
        assert_eq!(l.bytes, l.predicted_bytes, "layer {} ({})", l.name, l.op);
        assert_eq!(l.rounds, l1.rounds, "layer {} ({})", l.name, l.op);
        // Bit-packed messages (one bit per patch) round up to bytes once per message, so a
        // layer of 50 patches sends 19 bytes for three images where one image sends 7.
        let (batch, alone) = (l.bytes.total, 3 * l1.bytes.total);
        assert!(
            batch <= alone && alone - batch < 64,
            "layer {}: {batch} bytes for the batch, 3 x {} alone",
            l.name,
            l1.bytes.total
        );
    }
    assert!(b.bytes.total <= 3 * one.bytes.total);
}

/// Preprocessing moves what depends on no input before the input: a preprocessed inference
/// gives bit for bit the joint one's outputs (the same streams at the same step numbers), every
/// layer's online and offline bytes are the cost model's and add up
/// to the joint layer's, the offline phase is one round of P2's shares to P1 alone, and the
/// online rounds are no more than the joint ones.
#[test]
fn a_preprocessed_inference_is_the_joint_one_with_its_dealt_shares_sent_first() {
    use patchwork_net::secure::local::{infer_local, Network};
    let model = every_operator_model();
    let spec = spec_for(model.model());
    let images: Vec<Vec<f32>> = (0..2).map(|k| Gen(30 + k).v(2 * 12 * 12, 1.0)).collect();
    let inputs: Vec<&[f32]> = images.iter().map(|x| x.as_slice()).collect();
    let exact = Settings {
        fp: FixedPoint::new(20).unwrap(),
        cmp: Comparison::Exact,
        trunc: Truncation::Assisted,
        calibrated: false,
        batch: 1,
        preprocess: false,
        sign: Default::default(),
    };
    let approx = Settings {
        fp: FixedPoint::new(12).unwrap(),
        cmp: Comparison::PAPER,
        trunc: Truncation::Local,
        ..exact
    };
    let fss = |s: Settings| Settings {
        sign: SignProtocol::Fss,
        ..s
    };
    for joint_settings in [exact, approx, fss(exact), fss(approx)] {
        let net = Network::Memory { seed: 11 };
        let joint = infer_local(net, &model, &spec, joint_settings, &inputs).unwrap();
        let prepared_settings = Settings {
            preprocess: true,
            ..joint_settings
        };
        let prepared = infer_local(net, &model, &spec, prepared_settings, &inputs).unwrap();
        // The first inference draws the streams at the joint one's step numbers: the same
        // shares, bit for bit. Later ones are numbered after the acknowledgements of the offline
        // walks before them: other randomness, so only rounding differs.
        assert_eq!(joint[0].output, prepared[0].output, "{joint_settings:?}");
        for (j, p) in joint.iter().zip(&prepared) {
            // Rounding at 2^-f, and near-zero signs of an approximate window.
            let tolerance = match joint_settings.cmp {
                Comparison::Exact => 1e-4,
                _ => 5e-2,
            };
            let err = max_abs_diff(&j.output, &p.output);
            assert!(err < tolerance, "{joint_settings:?}: {err}");
            let offline = p.offline.as_ref().expect("an offline report");
            assert!(j.offline.is_none());
            assert_eq!(
                offline.rounds, 2,
                "the dealt shares, then P1's acknowledgement"
            );
            assert_eq!(offline.bytes, offline.predicted_bytes);
            // P2's shares to P1, and with FSS comparisons its keys to P0 and P1.
            let from_p2 = match joint_settings.sign {
                SignProtocol::PrivateCompare => offline.bytes.p1_p2,
                SignProtocol::Fss => offline.bytes.p1_p2 + offline.bytes.p0_p2,
            };
            assert_eq!(offline.bytes.total, from_p2);
            assert!(offline.bytes.total > 0 && offline.kept_bytes > 0);
            for (lj, lp) in j.layers.iter().zip(&p.layers) {
                let at = format!("layer {} ({}), {joint_settings:?}", lp.name, lp.op);
                assert_eq!(lp.bytes, lp.predicted_bytes, "online, {at}");
                assert_eq!(
                    lp.offline_bytes, lp.predicted_offline_bytes,
                    "offline, {at}"
                );
                assert_eq!(
                    lp.bytes.total + lp.offline_bytes.total,
                    lj.bytes.total,
                    "{at}"
                );
                assert_eq!(lp.rounds, lj.rounds, "{at}");
            }
            assert_eq!(p.bytes, p.predicted_bytes);
            assert_eq!(p.bytes.total + offline.bytes.total, j.bytes.total);
            assert!(p.bytes.p1_p2 < j.bytes.p1_p2);
            assert!(p.rounds <= j.rounds, "{} vs {}", p.rounds, j.rounds);
        }
    }
}

/// A session that would make a party keep more preprocessed material than
/// `MAX_PREPROCESSED_BYTES` is refused by every party with the numbers, before any dealing.
#[test]
fn preprocessing_more_than_a_party_may_keep_is_refused_with_the_numbers() {
    use patchwork_net::secure::run::run_each;
    let model = every_operator_model();
    let spec = spec_for(model.model());
    let settings = Settings {
        preprocess: true,
        ..Settings::default()
    };
    let (results, _) = memory::run(4, |p| {
        let weights = model.weights_for(p.role());
        run_each(
            p,
            model.model(),
            weights,
            &spec,
            settings,
            1 << 40,
            std::iter::empty(),
            |_| {},
        )
        .map_err(|e| e.to_string())
    });
    for r in results {
        let err = r.unwrap_err();
        assert!(
            err.contains("preprocessing 1099511627776 inferences keeps")
                && err.contains("more than the 4294967296 a party may keep"),
            "{err}"
        );
    }
}

/// A ReLU6 the spec names is the Block-ReLU followed by the clamp at 6: a patch whose sum is
/// negative becomes 0, one that passes keeps its negative values and is cut at 6 above (as is
/// an identity channel). Written out here by hand, then the reference and the secure runner.
#[test]
fn a_block_relu6_is_the_block_relu_then_the_clamp_at_6() {
    let mut b = Builder::new(Shape::nchw(3, 4, 4));
    b.add("relu6", Op::Relu6, &[0], None);
    let model = TrainedModel::new(b.model, Weights::new(b.weights)).expect("well formed");
    let x = Gen(11).v(3 * 16, 10.0);
    let patches = [
        PatchSize::Block { h: 2, w: 2 },
        PatchSize::Block { h: 4, w: 4 },
        PatchSize::Identity,
    ];
    let spec = Spec {
        layers: vec![LayerSpec {
            name: "relu6".into(),
            patch_sizes: patches.to_vec(),
        }],
        calibration: None,
    };
    let mut want = vec![0.0f32; x.len()];
    for (ch, p) in patches.iter().enumerate() {
        let [ph, pw] = match p {
            PatchSize::Block { h, w } => [*h as usize, *w as usize],
            _ => [4, 4],
        };
        for (py, px) in (0..4 / ph).flat_map(|py| (0..4 / pw).map(move |px| (py, px))) {
            let at: Vec<usize> = (0..ph * pw)
                .map(|k| ch * 16 + (py * ph + k / pw) * 4 + px * pw + k % pw)
                .collect();
            let pass = *p == PatchSize::Identity || at.iter().map(|&i| x[i]).sum::<f32>() >= 0.0;
            for i in at {
                want[i] = if pass { x[i].min(6.0) } else { 0.0 };
            }
        }
    }
    assert!(want.contains(&6.0), "the data reaches the cap: {want:?}");
    assert!(
        want.iter().any(|&v| v < 0.0),
        "a passing patch keeps negatives"
    );
    assert!(
        want.iter().zip(&x).any(|(w, x)| *w == 0.0 && *x > 0.0),
        "a negative patch zeroes a positive value"
    );
    let input = ArrayD::from_shape_vec(IxDyn(&[1, 3, 4, 4]), x.clone()).unwrap();
    let resolved = ResolvedSpec::new(model.model(), &spec).unwrap();
    let reference: Vec<f32> = forward(&model, &input, &resolved)
        .unwrap()
        .iter()
        .copied()
        .collect();
    assert_eq!(reference, want, "the float reference");
    for sign in SIGNS {
        let got = secure(&model, &spec, exact_local(sign), &x);
        let err = max_abs_diff(&got, &want);
        assert!(
            err < 1e-3,
            "{sign}: max abs error {err}: {got:?} vs {want:?}"
        );
    }
}
