//! Distortion tables from JSON: every rejection names what is wrong; a good table plans into a
//! spec that the core `Spec` type reads back.

use patchwork_core::patch::PatchSize;
use patchwork_core::spec::Spec;
use patchwork_planner::budget::Budget;
use patchwork_planner::mckp::SolveOptions;
use patchwork_planner::plan::{plan, Plan, PlanError};
use patchwork_planner::table::{DistortionTable, TableError};

const GOOD: &str = r#"{"layers": [
  {"name": "relu_1", "channels": 2, "height": 4, "width": 4,
   "patch_sizes": [[1, 1], [2, 2], [0, 1]], "distortion": [[0, 1, 5], [0, 2, 3]]},
  {"name": "relu_2", "channels": 1, "height": 2, "width": 3,
   "patch_sizes": [[1, 1], [1, 3], [1, 0]], "distortion": [[0, 0.5, 9]]}
]}"#;

fn err(text: &str) -> String {
    let e = DistortionTable::from_json(text).unwrap_err();
    e.to_string()
}

fn with(old: &str, new: &str) -> String {
    assert!(GOOD.contains(old), "{old}");
    GOOD.replacen(old, new, 1)
}

#[test]
fn good_table_parses() {
    let t = DistortionTable::from_json(GOOD).unwrap();
    assert_eq!(t.total_relus(), 2 * 16 + 6);
    assert_eq!(t.total_channels(), 3);
    assert_eq!(t.layers[1].patch_sizes[2], PatchSize::Zero);
}

#[test]
fn rejections_name_the_problem() {
    let cases = [
        (
            with(r#""channels": 2"#, r#""channels": 3"#),
            "relu_1': distortion has 2 rows, expected one per channel (3)",
        ),
        (
            with("[0, 2, 3]", "[0, 2]"),
            "relu_1', channel 1: distortion row has 2 values, expected one per patch size (3)",
        ),
        (
            with(r#"[[1, 1], [1, 3]"#, r#"[[1, 1], [1, 4]"#),
            "relu_2': patch size [1, 4] is larger than the 2x3 map",
        ),
        (
            with(r#""name": "relu_2""#, r#""name": "relu_1""#),
            "'relu_1' appears more than once",
        ),
        (
            with(r#""name": "relu_2""#, r#""name": """#),
            "layer #1 has an empty name",
        ),
        (
            with(r#""height": 4"#, r#""height": 0"#),
            "relu_1': height must be at least 1",
        ),
        (
            with("[1, 3], [1, 0]", "[1, 1], [1, 0]"),
            "relu_2': patch size [1, 1] is listed twice",
        ),
        (
            with("[[1, 1], [2, 2], [0, 1]]", "[]"),
            "relu_1' lists no patch sizes",
        ),
        (with("[0, 2, 3]", "[0, 2, 1e999]"), "not valid JSON"),
        (with("[0, 1]]", "[0, 0]]"), "invalid patch size [0, 0]"),
        (r#"{"layers": []}"#.to_string(), "no layers"),
        ("not json".to_string(), "not valid JSON"),
    ];
    for (text, want) in cases {
        let got = err(&text);
        assert!(got.contains(want), "expected '{want}' in '{got}'");
    }
}

#[test]
fn relu_totals_that_overflow_are_rejected() {
    let layer = |name: &str| {
        format!(
            r#"{{"name": "{name}", "channels": 1, "height": 4294967295, "width": 4294967295, "patch_sizes": [[0, 1]], "distortion": [[0]]}}"#
        )
    };
    let text = format!(r#"{{"layers": [{}, {}]}}"#, layer("a"), layer("b"));
    assert!(
        err(&text).contains("layer 'b': the ReLU count"),
        "{}",
        err(&text)
    );
}

#[test]
fn non_finite_values_are_rejected_with_their_place() {
    let mut t = DistortionTable::from_json(GOOD).unwrap();
    t.layers[0].distortion[1][2] = f64::NAN;
    let e = t.validate().unwrap_err();
    assert!(
        matches!(
            e,
            TableError::NonFinite {
                channel: 1,
                patch: [0, 1],
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e
        .to_string()
        .contains("relu_1', channel 1, patch size [0, 1]: distortion NaN is not finite"));
}

#[test]
fn plans_a_spec_that_core_reads_back() {
    let t = DistortionTable::from_json(GOOD).unwrap();
    let (p, s) = plan(&t, Budget::DRelus(10), &SolveOptions::default()).unwrap();
    // Best within 10 DReLUs: 2x2 (4) + 2x2 (4) + 1x3 (2) = 10, distortion 1 + 2 + 0.5.
    assert_eq!(p.drelus, 10);
    assert!((p.distortion - 3.5).abs() < 1e-12);
    assert!(p.proven_optimal && p.gap == 0.0);
    assert_eq!(s.choice, vec![1, 1, 1]);
    let json = serde_json::to_string(&p).unwrap();
    for field in [
        "\"layers\"",
        "\"drelus\":10",
        "\"lower_bound\"",
        "\"gap\"",
        "[2,2]",
    ] {
        assert!(json.contains(field), "{field} missing in {json}");
    }
    let spec: Spec = serde_json::from_str(&json).unwrap();
    assert_eq!(spec, p.spec);
    assert_eq!(
        spec.layer("relu_2").unwrap().patch_sizes,
        vec![PatchSize::Block { h: 1, w: 3 }]
    );
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
}

#[test]
fn budget_errors_are_reported() {
    let t = DistortionTable::from_json(GOOD).unwrap();
    let e = plan(&t, Budget::Ratio(1.5), &SolveOptions::default()).unwrap_err();
    assert!(matches!(e, PlanError::Budget(_)), "{e}");
    // The zero and identity options make every budget feasible; this table has none for relu_2.
    let mut t2 = t.clone();
    t2.layers[1].patch_sizes = vec![PatchSize::RELU];
    t2.layers[1].distortion = vec![vec![0.0]];
    let e = plan(&t2, Budget::DRelus(5), &SolveOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("budget of 5 DReLUs is too small: the cheapest choice needs 6"),
        "{e}"
    );
}
