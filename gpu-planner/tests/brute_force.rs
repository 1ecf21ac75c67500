//! The solver against exhaustive enumeration on many small random knapsacks.

use patchwork_planner::mckp::{solve, Problem, SolveError, SolveOptions};
use proptest::prelude::*;

/// Least cost over all choices within `budget` (None if none fits), by enumeration.
fn brute_force(classes: &[Vec<(u64, f64)>], budget: u64) -> Option<f64> {
    fn go(classes: &[Vec<(u64, f64)>], budget: u64, w: u64, c: f64, best: &mut Option<f64>) {
        let Some((first, rest)) = classes.split_first() else {
            if w <= budget && best.is_none_or(|b| c < b) {
                *best = Some(c);
            }
            return;
        };
        for &(wj, cj) in first {
            go(rest, budget, w + wj, c + cj, best);
        }
    }
    let mut best = None;
    go(classes, budget, 0, 0.0, &mut best);
    best
}

fn check(
    classes: &[Vec<(u64, f64)>],
    budget: u64,
    opts: &SolveOptions,
) -> Result<(), TestCaseError> {
    let problem = Problem::from_classes(classes).unwrap();
    let expected = brute_force(classes, budget);
    match (solve(&problem, budget, opts), expected) {
        (Err(SolveError::Infeasible { min_weight, .. }), None) => {
            let lightest: u64 = classes
                .iter()
                .map(|c| c.iter().map(|x| x.0).min().unwrap())
                .sum();
            prop_assert_eq!(min_weight, lightest);
        }
        (Ok(s), Some(opt)) => {
            let (w, c) = problem.evaluate(&s.choice).unwrap();
            prop_assert_eq!(w, s.weight);
            prop_assert!((c - s.cost).abs() <= 1e-9);
            prop_assert!(s.weight <= budget);
            prop_assert!(
                s.lower_bound <= opt + 1e-9,
                "bound {} above optimum {}",
                s.lower_bound,
                opt
            );
            if s.proven_optimal {
                prop_assert!(
                    (s.cost - opt).abs() <= 1e-9,
                    "cost {} optimum {}",
                    s.cost,
                    opt
                );
                prop_assert!(s.gap() <= 1e-9);
            }
        }
        (got, want) => prop_assert!(
            false,
            "solver {:?}, brute force {:?}",
            got.map(|s| s.cost),
            want
        ),
    }
    Ok(())
}

/// Classes with integer-grid costs (many ties) or continuous costs.
fn classes() -> impl Strategy<Value = Vec<Vec<(u64, f64)>>> {
    let item = prop_oneof![
        (0u64..12, (0u32..8).prop_map(|c| c as f64 * 0.5)),
        (0u64..40, 0.0f64..10.0),
    ];
    prop::collection::vec(prop::collection::vec(item, 1..5), 0..7)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn matches_brute_force((classes, frac) in (classes(), 0.0f64..1.1)) {
        let max: u64 = classes.iter().map(|c| c.iter().map(|x| x.0).max().unwrap()).sum();
        let budget = (max as f64 * frac) as u64;
        check(&classes, budget, &SolveOptions::default())?;
    }

    #[test]
    fn a_tiny_state_limit_still_gives_a_valid_bound((classes, frac) in (classes(), 0.0f64..1.1)) {
        let max: u64 = classes.iter().map(|c| c.iter().map(|x| x.0).max().unwrap()).sum();
        let budget = (max as f64 * frac) as u64;
        check(&classes, budget, &SolveOptions { max_states: 1 })?;
    }
}

#[test]
fn wider_random_instances_match_brute_force() {
    let mut rng = patchwork_core::splitmix::SplitMix64(42);
    for _ in 0..200 {
        let classes: Vec<Vec<(u64, f64)>> = (0..8)
            .map(|_| {
                (0..5)
                    .map(|_| (rng.next_u64() % 30, rng.range(0.0, 5.0)))
                    .collect()
            })
            .collect();
        for frac in [0.2, 0.4, 0.6, 0.8] {
            let max: u64 = classes
                .iter()
                .map(|c| c.iter().map(|x| x.0).max().unwrap())
                .sum();
            check(
                &classes,
                (max as f64 * frac) as u64,
                &SolveOptions::default(),
            )
            .unwrap();
        }
    }
}
