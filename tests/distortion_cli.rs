//! `patchwork plan distortion` / `plan merge` / `plan knapsack` end to end on the bundled model
//! (`patchwork::plan_cmd`, as in `tests/plan_cmd.rs`). Needs the
//! Fashion-MNIST training split; without it the test prints why and passes.

use patchwork::plan_cmd;

use std::path::{Path, PathBuf};

use patchwork_core::spec::Spec;
use patchwork_planner::table::DistortionTable;

fn run(args: &[&str]) -> Result<String, String> {
    let p = patchwork::parse_plan(args).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    plan_cmd::run_to(&p, &mut out).map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

#[test]
fn shards_merge_and_plan() {
    let train =
        Path::new(patchwork_model::data::fashion::DEFAULT_DIR).join("train-images-idx3-ubyte.gz");
    if !train.exists() {
        eprintln!(
            "skipping: Fashion-MNIST training split not installed ({})",
            train.display()
        );
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("distortion_cli");
    // A shard file of an earlier run would be complete, and not measured again.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/fashion_resnet.onnx");
    let common = [
        "--samples",
        "1",
        "--max-side",
        "2",
        "--coarse-blocks",
        "0",
        "--model",
        s(&model),
    ];
    let mut shards = Vec::new();
    for i in 0..2 {
        let out = dir.join(format!("shard{i}.json"));
        let shard = format!("{i}/2");
        let mut args = vec!["distortion", "--out", s(&out), "--shard", &shard];
        args.extend(common);
        // A dry run counts the pairs the run then measures, and writes nothing.
        let dry = run(&[args.as_slice(), &["--dry-run"]].concat()).expect("dry run");
        assert!(!out.exists(), "a dry run wrote {}", out.display());
        let dry_pairs = dry.lines().last().and_then(|l| l.split_whitespace().last());
        let printed = run(&args).expect("distortion shard");
        assert!(printed.contains("7 ReLU layers"), "{printed}");
        let pairs = printed
            .split(" hypothesis-image pairs")
            .next()
            .and_then(|l| l.split_whitespace().last());
        assert_eq!(dry_pairs, pairs, "{dry}\n{printed}");
        assert!(pairs.is_some_and(|p| p != "0"), "{printed}");
        assert!(!dir.join(format!("shard{i}.json.partial")).exists());
        shards.push(out);
    }
    let table = dir.join("table.json");
    let printed = run(&["merge", s(&shards[0]), s(&shards[1]), "--out", s(&table)]).expect("merge");
    assert!(printed.contains("176 channels"), "{printed}");
    // One shard of one (a job array of one task): a shard file that merges alone to the same
    // table, byte for byte, and is not measured again.
    let one = dir.join("one.json");
    let mut args = vec!["distortion", "--out", s(&one), "--shard", "0/1"];
    args.extend(common);
    run(&args).expect("shard 0/1");
    let one_table = dir.join("one.table.json");
    run(&["merge", s(&one), "--out", s(&one_table)]).expect("a 0/1 shard merges alone");
    assert_eq!(
        std::fs::read(&one_table).expect("one table"),
        std::fs::read(&table).expect("table")
    );
    assert!(run(&args).expect("rerun").contains("already complete"));
    let t = DistortionTable::from_json(&std::fs::read_to_string(&table).expect("table"))
        .expect("valid");
    assert_eq!(t.layers[0].patch_sizes.len(), 6);
    let spec = dir.join("spec.json");
    run(&[
        "knapsack",
        "--table",
        s(&table),
        "--budget-ratio",
        "0.1",
        "--out",
        s(&spec),
    ])
    .expect("knapsack");
    let spec: Spec =
        serde_json::from_str(&std::fs::read_to_string(&spec).expect("spec")).expect("spec json");
    assert_eq!(spec.layers.len(), 7);
    // Bad inputs give clear errors, not panics.
    let err = run(&["merge", s(&shards[0]), "--out", s(&table)]).unwrap_err();
    assert!(err.contains("missing") || err.contains("cover"), "{err}");
    let mut args = vec!["distortion", "--out", s(&table), "--shard", "2/2"];
    args.extend(common);
    assert!(run(&args).unwrap_err().contains("expected i/n"));
    let bad_base = dir.join("bad_base.spec.json");
    std::fs::write(
        &bad_base,
        r#"{"layers": [{"name": "/layer9/Relu", "patch_sizes": [[2, 2]]}]}"#,
    )
    .expect("write");
    let mut args = vec![
        "distortion",
        "--out",
        s(&table),
        "--base-spec",
        s(&bad_base),
    ];
    args.extend(common);
    let err = run(&args).unwrap_err();
    assert!(
        err.contains("--base-spec") && err.contains("/layer9/Relu"),
        "{err}"
    );
    let not_json = dir.join("bad.json");
    std::fs::write(&not_json, "{").expect("write");
    assert!(run(&["merge", s(&not_json), "--out", s(&table)])
        .unwrap_err()
        .contains("not a distortion shard file"));
}

fn argv(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The issue's case: the model file was replaced by another model (same name) after a run was
/// interrupted. The partial file is refused by the model's digest, kept as it is, and no table
/// is written; with the model it was made for, the run resumes from it.
#[test]
fn a_partial_file_of_another_model_is_refused_not_resumed() {
    let train =
        Path::new(patchwork_model::data::fashion::DEFAULT_DIR).join("train-images-idx3-ubyte.gz");
    if !train.exists() {
        eprintln!("skipping: Fashion-MNIST training split not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp dir");
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let model = dir.path().join("m.onnx");
    std::fs::copy(models.join("fashion_resnet.onnx"), &model).expect("copy");
    let (out, done) = (dir.path().join("t.json"), dir.path().join("done.json"));
    let args = |out: &Path| {
        [
            "distortion",
            "--samples",
            "1",
            "--max-side",
            "1",
            "--coarse-blocks",
            "0",
            "--shard",
            "0/16",
            "--model",
            s(&model),
            "--out",
        ]
        .into_iter()
        .map(String::from)
        .chain([s(out).to_string()])
        .collect::<Vec<_>>()
    };
    run(&argv(&args(&done))).expect("a whole shard");
    // An interrupted run of the same shard: its partial file holds every layer but the last.
    let mut partial: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&done).expect("shard")).expect("json");
    partial["layers"].as_array_mut().expect("layers").pop();
    let partial_path = dir.path().join("t.json.partial");
    let partial_text = partial.to_string();
    std::fs::write(&partial_path, &partial_text).expect("write partial");
    // The model file is replaced by another model.
    std::fs::copy(models.join("fashion_resnet_brelu6.onnx"), &model).expect("copy");
    let err = run(&argv(&args(&out))).unwrap_err();
    assert!(
        err.contains("t.json.partial") && err.contains("model differs"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&partial_path).expect("kept"),
        partial_text
    );
    assert!(!out.exists(), "no table from a refused run");
    // With the model it was made for, the run resumes from the partial file.
    std::fs::copy(models.join("fashion_resnet.onnx"), &model).expect("copy");
    let printed = run(&argv(&args(&out))).expect("resumed");
    assert!(printed.contains("(6 already done)"), "{printed}");
    assert_eq!(
        std::fs::read_to_string(&out).expect("table"),
        std::fs::read_to_string(&done).expect("shard")
    );
}
