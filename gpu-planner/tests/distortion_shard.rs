//! Shards, merging and resuming of the distortion extraction (seed paper eq. 4).

use std::path::PathBuf;

use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::onnx::load_model;
use patchwork_planner::distortion::candidates::CandidateSides;
use patchwork_planner::distortion::extract::{extract_all, relu_layers, Options};
use patchwork_planner::distortion::reduce::CpuReducer;
use patchwork_planner::distortion::shard::{merge, Shard, ShardError, ShardFile};

/// Small candidate lists: sides 1 and 2, and the whole map.
const SIDES: CandidateSides = CandidateSides {
    max_side: 2,
    coarse_blocks: 1,
};

/// Calibration images of every run.
const IMAGES: usize = 6;

/// `run` on a rayon pool of `threads` threads.
fn run_on(threads: usize, shard: Shard) -> ShardFile {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(|| run(shard, None).0)
}

fn run(shard: Shard, state: Option<ShardFile>) -> (ShardFile, usize) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/fashion_resnet.onnx");
    let model = load_model(&path).expect("bundled model loads");
    let data = bundled_test64();
    let imgs: Vec<_> = (0..IMAGES).map(|i| data.input(i)).collect();
    let opts = Options {
        sides: SIDES,
        batch: 7,
        shard,
        ..Options::default()
    };
    let mut state = state.unwrap_or(ShardFile {
        model: "fashion_resnet.onnx".into(),
        model_digest: patchwork_model::digest::model_digest(&model),
        data_digest: patchwork_model::digest::data_digest(&imgs),
        samples: IMAGES,
        sides: SIDES,
        base_spec: None,
        base_spec_digest: None,
        shard: [shard.index, shard.count],
        layers: Vec::new(),
    });
    let mut saves = 0;
    let mut save = |_: &ShardFile| {
        saves += 1;
        Ok(())
    };
    extract_all(
        &model,
        &imgs,
        &opts,
        &CpuReducer,
        &mut state,
        &mut save,
        &|_| {},
    )
    .expect("extract");
    assert_eq!(
        relu_layers(model.model()).expect("relus").len(),
        state.layers.len()
    );
    (state, saves)
}

/// The table is the same bit for bit whatever the shard split and the thread count: a whole run
/// on one thread equals three shards measured on three threads, merged.
#[test]
fn shards_merge_to_the_whole_run_and_resume_skips_done_layers() {
    let whole = merge(&[("whole".into(), run_on(1, Shard::ALL))]).expect("merge one");
    let parts: Vec<(String, ShardFile)> = (0..3)
        .map(|i| (format!("s{i}"), run_on(3, Shard { index: i, count: 3 })))
        .collect();
    // Out of order on purpose.
    let merged = merge(&[parts[2].clone(), parts[0].clone(), parts[1].clone()]).expect("merge");
    assert_eq!(merged.layers.len(), whole.layers.len());
    for (a, b) in merged.layers.iter().zip(&whole.layers) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.patch_sizes, b.patch_sizes);
        assert_eq!(a.distortion, b.distortion, "{}", a.name);
    }
    // Missing shard, repeated shard, a shard of another split, an unfinished shard.
    let err = merge(&[parts[0].clone(), parts[2].clone()]).unwrap_err();
    assert_eq!(err.to_string(), "shard 1/3 is missing");
    let err = merge(&parts[..1]).unwrap_err();
    assert_eq!(err.to_string(), "shards 1/3, 2/3 are missing");
    let err = merge(&[
        parts[0].clone(),
        parts[0].clone(),
        parts[1].clone(),
        parts[2].clone(),
    ])
    .unwrap_err();
    assert_eq!(err.to_string(), "shard 0/3 is given twice: s0 and s0");
    let mut other = parts[1].clone();
    other.1.shard = [1, 4];
    let err = merge(&[parts[0].clone(), other, parts[2].clone()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "s1: a shard of 4, the first file is a shard of 3"
    );
    let mut unfinished = parts[1].clone();
    unfinished.1.layers.pop();
    let err = merge(&[parts[0].clone(), unfinished, parts[2].clone()]).unwrap_err();
    assert!(matches!(err, ShardError::Coverage { .. }), "{err}");
    // Inconsistent sample counts.
    let mut other = parts[1].clone();
    other.1.samples = 5;
    let err = merge(&[parts[0].clone(), other, parts[2].clone()]).unwrap_err();
    assert!(
        matches!(&err, ShardError::Inconsistent { what, .. } if what.starts_with("samples")),
        "{err}"
    );
    // A shard of another model (same file name, other weights) is refused by its digest.
    let mut other = parts[1].clone();
    other.1.model_digest = "0".repeat(64);
    let err = merge(&[parts[0].clone(), other, parts[2].clone()]).unwrap_err();
    assert!(
        err.to_string().contains("measured another run")
            && err.to_string().contains("model differs"),
        "{err}"
    );
    let mut other = parts[1].clone();
    other.1.data_digest = "1".repeat(64);
    let err = merge(&[parts[0].clone(), other, parts[2].clone()]).unwrap_err();
    assert!(
        err.to_string().contains("calibration data differs"),
        "{err}"
    );
    // Resume: a state with 3 layers done runs only the other 4.
    let mut partial = parts[0].1.clone();
    partial.layers.truncate(3);
    let (resumed, saves) = run(Shard { index: 0, count: 3 }, Some(partial));
    assert_eq!(saves, 4);
    assert_eq!(resumed, parts[0].1);
}

#[test]
fn shard_parse_rejects_bad_input() {
    assert_eq!(
        Shard::parse("1/4").expect("ok"),
        Shard { index: 1, count: 4 }
    );
    for bad in ["4/4", "1/0", "x/2", "3", "", "-1/2"] {
        assert!(
            matches!(Shard::parse(bad), Err(ShardError::BadShard(_))),
            "{bad}"
        );
    }
    let s = Shard { index: 2, count: 3 };
    assert_eq!(s.range(16), 10..16);
    assert_eq!(Shard { index: 0, count: 3 }.range(16), 0..5);
}
