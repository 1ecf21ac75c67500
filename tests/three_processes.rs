//! End to end: the three parties as three `patchwork party` processes over authenticated TLS
//! on loopback agree with the float reference on bundled Fashion-MNIST images, with and without
//! a Block-ReLU spec, with exact and approximate DReLU, and with the assisted truncation. P1
//! holds the ONNX model; P0 and P2 get only its architecture file (no weights). A batch of
//! images runs as one inference in the rounds of one image, and parties given different
//! batches refuse each other.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use patchwork::cmd::party_result::{PartyResult, PartyRun};
use patchwork_core::infer::argmax;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::reference::forward;

mod support;
use support::bundled_npy;

const MODEL: &str = "models/fashion_resnet.onnx";
const SPEC: &str = "models/fashion_resnet.example_spec.json";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_patchwork")
}

/// Runs the three parties on the `images` (one batch, in one `.npy` file) with `extra` flags
/// for every party, and returns P0's, P1's and P2's outputs.
fn three_parties(dir: &Path, images: &[usize], extra: &[&str]) -> [Output; 3] {
    let status = Command::new(bin())
        .args(["session", "loopback", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let input = bundled_npy(dir, "images.npy", images);
    let config = dir.join("session.toml");
    let architecture = dir.join("model.arch.json");
    let status = Command::new(bin())
        .args(["architecture", "--model", MODEL, "--out"])
        .arg(&architecture)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let party = |role: &str| {
        let mut c = Command::new(bin());
        c.args(["party", "--role", role, "--json", "--model"]);
        if role == "p1" {
            c.arg(MODEL);
        } else {
            c.arg(&architecture);
        }
        c.arg("--config").arg(&config).args(extra);
        if role == "p0" {
            c.arg("--input").arg(&input);
        }
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (p1, p2, p0) = (party("p1"), party("p2"), party("p0"));
    [p0, p1, p2].map(|c| c.wait_with_output().unwrap())
}

/// P0's result of three parties that all succeeded.
fn ran(outs: &[Output; 3]) -> PartyRun {
    for (k, o) in outs.iter().enumerate() {
        assert!(
            o.status.success(),
            "P{k} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    PartyResult::parse(&String::from_utf8_lossy(&outs[0].stdout))
        .and_then(PartyResult::ran)
        .expect("P0 prints its result")
}

/// Image `i` through the three processes with `spec` and the protocol `settings` flags;
/// returns P0's result.
fn check(i: usize, spec: Option<&str>, settings: &[&str], tolerance: f32) -> PartyRun {
    let dir = tempfile::tempdir().unwrap();
    let mut extra = settings.to_vec();
    if let Some(s) = spec {
        extra.extend(["--spec", s]);
    }
    let got = ran(&three_parties(dir.path(), &[i], &extra));
    let spec = spec.map(|s| patchwork_model::spec_io::load_spec(Path::new(s)).unwrap());
    let float = float(i, spec.as_ref());
    let secure = got.output.clone().expect("P0 has the output");
    assert_eq!(got.class, Some(argmax(&float)), "top-1, image {i}");
    let err = secure
        .iter()
        .zip(&float)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        err < tolerance,
        "image {i}: max logit error {err}: {secure:?} vs {float:?}"
    );
    got
}

/// The float reference's output for bundled image `i` with `spec`.
fn float(i: usize, spec: Option<&patchwork_core::spec::Spec>) -> Vec<f32> {
    let model = patchwork_model::onnx::load_model(Path::new(MODEL)).unwrap();
    forward(
        &model,
        &bundled_test64().input(i),
        &ResolvedSpec::of(model.model(), spec).unwrap(),
    )
    .unwrap()
    .iter()
    .copied()
    .collect()
}

#[test]
fn a_batch_runs_as_one_inference_in_the_rounds_of_one_image() {
    let dir = tempfile::tempdir().unwrap();
    let images = [5, 6, 7];
    let flags = ["--spec", SPEC, "--approx", "43,5", "--batch", "3"];
    let got = ran(&three_parties(dir.path(), &images, &flags));
    let spec = patchwork_model::spec_io::load_spec(Path::new(SPEC)).unwrap();
    let want: Vec<usize> = images
        .iter()
        .map(|&i| argmax(&float(i, Some(&spec))))
        .collect();
    assert_eq!(got.images, 3);
    assert_eq!(got.classes.as_deref(), Some(&want[..]));
    assert_eq!(got.output.as_ref().map(Vec::len), Some(30));
    let one = check(5, Some(SPEC), &["--approx", "43,5"], 0.5);
    assert_eq!(
        got.rounds, one.rounds,
        "a batch pays the rounds of one image"
    );
}

/// Three processes that all pass `--preprocess` run every inference of the session offline
/// first: P0 gets the float class, its online rounds are those of one joint inference, and its
/// result reports the offline phase (P0 sends nothing in it and keeps its shares).
#[test]
fn a_preprocessed_session_gives_the_float_class_with_both_phases_reported() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--spec",
        SPEC,
        "--approx",
        "43,5",
        "--preprocess",
        "--repeat",
        "2",
    ];
    let got = ran(&three_parties(dir.path(), &[5], &flags));
    let spec = patchwork_model::spec_io::load_spec(Path::new(SPEC)).unwrap();
    assert_eq!(got.class, Some(argmax(&float(5, Some(&spec)))));
    assert_eq!(got.repeat_seconds.len(), 2);
    let offline = got
        .offline
        .as_deref()
        .expect("P0 reports its offline phase");
    assert_eq!(offline.sent_to, [0, 0, 0], "P0 sends nothing offline");
    assert_eq!(
        offline.rounds, 2,
        "P2's dealt shares, then P1's acknowledgement"
    );
    assert!(offline.kept_bytes > 0);
    let joint = check(5, Some(SPEC), &["--approx", "43,5"], 0.5);
    assert_eq!(got.rounds, joint.rounds);
    assert_eq!(
        got.sent_to, joint.sent_to,
        "P0's own messages all depend on its input"
    );
}

/// Three processes that all pass `--sign fss` decide signs with the keys P2 deals: P0 gets the
/// float class in fewer rounds than with PrivateCompare (2 per Block-ReLU layer instead of 3).
#[test]
fn fss_sign_decisions_give_the_float_class_in_fewer_rounds() {
    let approx = ["--approx", "43,5"];
    let compare = check(6, Some(SPEC), &approx, 0.5);
    let fss = check(
        6,
        Some(SPEC),
        &[&approx[..], &["--sign", "fss"]].concat(),
        0.5,
    );
    assert!(
        fss.rounds + 6 <= compare.rounds,
        "{} rounds with FSS vs {} with PrivateCompare",
        fss.rounds,
        compare.rounds
    );
}

#[test]
fn parties_given_different_batches_refuse_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // P0's input holds three images; P1 and P2 were not told of a batch.
    let outs = three_parties(dir.path(), &[0, 1, 2], &[]);
    for (k, o) in outs.iter().enumerate() {
        assert!(!o.status.success(), "P{k} ran a program its peers do not");
    }
    let p0 = PartyResult::parse(&String::from_utf8_lossy(&outs[0].stdout)).unwrap();
    let PartyResult::Failed(f) = p0 else {
        panic!("P0 did not fail")
    };
    assert!(
        f.error
            .contains("images per inference differs from P1's: 3 vs 1"),
        "{}",
        f.error
    );
}

#[test]
fn plain_relu_exact() {
    check(0, None, &[], 0.2);
}

#[test]
fn block_relu_spec_exact() {
    check(1, Some(SPEC), &[], 0.2);
}

#[test]
fn block_relu_spec_approximate() {
    check(2, Some(SPEC), &["--approx", "43,5"], 0.5);
}

#[test]
fn assisted_truncation_at_20_fractional_bits_is_close() {
    check(
        3,
        None,
        &["--truncation", "assisted", "--frac-bits", "20"],
        1e-3,
    );
}

#[test]
fn repeated_inferences_in_one_session() {
    // `--repeat 3` on all three: one set-up, three inferences; the first one's output is
    // reported (checked against the float reference) and every inference's seconds.
    let got = check(4, Some(SPEC), &["--approx", "43,5", "--repeat", "3"], 0.5);
    assert_eq!(got.repeat_seconds.len(), 3);
    assert!(got.repeat_seconds.iter().all(|&s| s > 0.0));
}

#[test]
fn p1_refuses_an_architecture_file() {
    let dir = tempfile::tempdir().unwrap();
    let architecture = dir.path().join("m.arch.json");
    let run = |args: &[&std::ffi::OsStr]| Command::new(bin()).args(args).output().unwrap();
    let made = run(&[
        "architecture".as_ref(),
        "--model".as_ref(),
        MODEL.as_ref(),
        "--out".as_ref(),
        architecture.as_os_str(),
    ]);
    assert!(made.status.success());
    let config = dir.path().join("session.toml");
    let refused = run(&[
        "party".as_ref(),
        "--role".as_ref(),
        "p1".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--model".as_ref(),
        architecture.as_os_str(),
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("m.arch.json: an architecture file has no weights"),
        "{err}"
    );
}
