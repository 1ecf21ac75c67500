//! Budgets at the extremes and degenerate instances.

use patchwork_planner::mckp::{solve, Problem, SolveError, SolveOptions};

fn problem() -> Problem {
    Problem::from_classes(&[
        vec![(16, 0.0), (4, 1.0), (1, 3.0)],
        vec![(16, 0.0), (4, 2.0), (1, 2.5)],
    ])
    .unwrap()
}

#[test]
fn budget_below_the_lightest_choice_is_a_clear_error() {
    let err = solve(&problem(), 1, &SolveOptions::default()).unwrap_err();
    assert_eq!(
        err,
        SolveError::Infeasible {
            budget: 1,
            min_weight: 2
        }
    );
    assert!(err.to_string().contains("too small"), "{err}");
}

#[test]
fn budget_above_everything_picks_the_cheapest_items() {
    let s = solve(&problem(), 1_000, &SolveOptions::default()).unwrap();
    assert_eq!(s.choice, vec![0, 0]);
    assert_eq!((s.weight, s.cost), (32, 0.0));
    assert!(s.proven_optimal);
    assert_eq!(s.gap(), 0.0);
}

#[test]
fn exact_budget_is_used() {
    let s = solve(&problem(), 8, &SolveOptions::default()).unwrap();
    assert_eq!((s.weight, s.cost), (8, 3.0));
    let s = solve(&problem(), 5, &SolveOptions::default()).unwrap();
    assert_eq!((s.weight, s.cost), (5, 3.5));
}

#[test]
fn no_classes_is_the_empty_solution() {
    let s = solve(&Problem::new(), 0, &SolveOptions::default()).unwrap();
    assert!(s.choice.is_empty());
    assert_eq!((s.weight, s.cost), (0, 0.0));
}

#[test]
fn bad_classes_are_rejected() {
    assert!(Problem::from_classes(&[vec![]]).is_err());
    assert!(Problem::from_classes(&[vec![(1, f64::NAN)]]).is_err());
    let huge = vec![(u64::MAX / 2 + 1, 0.0)];
    let e = Problem::from_classes(&[huge.clone(), huge]).unwrap_err();
    assert!(e.to_string().contains("overflows"), "{e}");
}
