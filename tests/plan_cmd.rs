//! `patchwork plan knapsack` (`patchwork::plan_cmd`), parsed through clap exactly as the
//! `patchwork` binary wires it.

use patchwork::plan_cmd;

use std::path::PathBuf;

use patchwork_core::spec::Spec;
use patchwork_planner::synth;

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plan_cmd");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn parse(args: &[&str]) -> Result<plan_cmd::PlanArgs, clap::Error> {
    patchwork::parse_plan(["knapsack"].iter().chain(args))
}

fn write_table(name: &str) -> PathBuf {
    let table = synth::table(&synth::resnet18_cifar()[..4], 3);
    let path = dir().join(name);
    std::fs::write(&path, serde_json::to_string(&table).unwrap()).unwrap();
    path
}

#[test]
fn writes_spec_and_prints_summary() {
    let table = write_table("t1.json");
    let out = dir().join("s1.json");
    let args = parse(&[
        "--table",
        table.to_str().unwrap(),
        "--budget-ratio",
        "0.06",
        "--out",
        out.to_str().unwrap(),
    ])
    .unwrap();
    let mut printed = Vec::new();
    plan_cmd::run_to(&args, &mut printed).unwrap();
    let printed = String::from_utf8(printed).unwrap();
    assert!(printed.contains("proven optimal"), "{printed}");
    assert!(printed.contains("budget       15728 DReLUs"), "{printed}");
    let text = std::fs::read_to_string(&out).unwrap();
    let spec: Spec = serde_json::from_str(&text).unwrap();
    assert_eq!(spec.layers.len(), 4);
    assert_eq!(spec.layers[0].patch_sizes.len(), 64);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["drelus"].as_u64().unwrap() <= 15728);
    assert_eq!(v["gap"].as_f64(), Some(0.0));
    assert!(v["lower_bound"].as_f64().unwrap() <= v["distortion"].as_f64().unwrap());
}

#[test]
fn json_summary() {
    let table = write_table("t2.json");
    let out = dir().join("s2.json");
    let args = parse(&[
        "--table",
        table.to_str().unwrap(),
        "--budget",
        "1000",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ])
    .unwrap();
    let mut printed = Vec::new();
    plan_cmd::run_to(&args, &mut printed).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&printed).unwrap();
    assert_eq!(v["budget"].as_u64(), Some(1000));
    assert_eq!(v["proven_optimal"].as_bool(), Some(true));
    assert_eq!(v["channels"].as_u64(), Some(4 * 64));
}

#[test]
fn budget_is_required_and_exclusive() {
    let e = parse(&["--table", "t.json", "--out", "s.json"])
        .err()
        .unwrap();
    assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    let e = parse(&[
        "--table",
        "t.json",
        "--out",
        "s.json",
        "--budget",
        "1",
        "--budget-ratio",
        "0.1",
    ])
    .err()
    .unwrap();
    assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
}

/// The error message of `plan knapsack --table TABLE BUDGET_FLAG BUDGET --out OUT`.
fn run_error(table: &std::path::Path, budget: [&str; 2], out: &str) -> String {
    let table = table.to_str().unwrap();
    let args = parse(&["--table", table, budget[0], budget[1], "--out", out]).unwrap();
    plan_cmd::run_to(&args, &mut Vec::new())
        .unwrap_err()
        .to_string()
}

#[test]
fn file_errors_are_clear() {
    let e = run_error(&dir().join("missing.json"), ["--budget", "1"], "x.json");
    assert!(e.starts_with("cannot read distortion table"), "{e}");

    let bad = dir().join("bad.json");
    std::fs::write(&bad, r#"{"layers": [{"name": "r", "channels": 1, "height": 2, "width": 2, "patch_sizes": [[3, 1]], "distortion": [[0]]}]}"#).unwrap();
    let e = run_error(&bad, ["--budget", "1"], "x.json");
    assert!(
        e.ends_with("layer 'r': patch size [3, 1] is larger than the 2x2 map"),
        "{e}"
    );

    let table = write_table("t3.json");
    let e = run_error(&table, ["--budget-ratio", "2"], "x.json");
    assert!(
        e.contains("budget ratio 2 must be a number between 0 and 1"),
        "{e}"
    );

    let e = run_error(&table, ["--budget", "1"], "/nonexistent/dir/s.json");
    assert!(
        e.starts_with("cannot write spec /nonexistent/dir/s.json"),
        "{e}"
    );
}

#[test]
fn run_prints_to_stdout() {
    let table = write_table("t4.json");
    let out = dir().join("s4.json");
    let args = parse(&[
        "--table",
        table.to_str().unwrap(),
        "--budget",
        "0",
        "--out",
        out.to_str().unwrap(),
    ])
    .unwrap();
    plan_cmd::run(&args).unwrap();
    assert!(out.exists());
}
