//! Exact solver of the seed paper's multiple-choice knapsack (eq. 5): pick one patch size per
//! channel, total DReLUs `sum W(i, j) <= B`, least total distortion `sum D(i, j)`.
//!
//! The paper fills the full DP table of eq. 6 (`m x B` cells, on a GPU). This solver reaches the
//! same optimum with far less work and returns a proof:
//! 1. per class, drop dominated items and take the lower convex hull ([`hull`]);
//! 2. solve the LP relaxation greedily, giving the multiplier `lambda` and the Lagrangian lower
//!    bound `L(lambda)` ([`relax`], [`fixing`]);
//! 3. build an incumbent from the LP and improve it ([`improve`]);
//! 4. remove every item whose reduced cost exceeds the gap ([`fixing`]);
//! 5. run eq. 6 with sparse Pareto states over the classes left with a choice ([`core_dp`]).
//!
//! The returned lower bound is `L(lambda)` when the search was not needed or did not finish, and
//! the search's own bound (the smallest bound of any state it pruned, capped by the solution's
//! cost) when it did. All costs are `f64` sums, so "optimal" holds up to their rounding.

mod core_dp;
mod fixing;
mod hull;
mod improve;
mod problem;
mod relax;

use std::fmt;
use std::time::Instant;

use rayon::prelude::*;

pub use problem::{Problem, ProblemError};

use core_dp::{Core, TooManyStates};
use relax::ClassHull;

/// Tuning of [`solve`].
#[derive(Clone, Copy, Debug)]
pub struct SolveOptions {
    /// Most DP states (stored plus candidates of one stage) the core search may hold before it
    /// gives up; a stored state takes 8 bytes, a candidate 24.
    pub max_states: usize,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            max_states: 50_000_000,
        }
    }
}

/// Counters and timings of one solve.
#[derive(Clone, Debug, Default)]
pub struct SolveStats {
    /// Optimal multiplier of the budget constraint in the LP relaxation.
    pub lambda: f64,
    /// `L(lambda)`, the LP relaxation's value.
    pub lp_bound: f64,
    /// Cost of the incumbent before the core search.
    pub heuristic_cost: f64,
    /// Classes left with more than one item after reduced-cost fixing.
    pub core_classes: usize,
    /// Items of those classes.
    pub core_items: usize,
    /// Largest number of DP states alive after one core class.
    pub peak_states: usize,
    /// DP states stored in all.
    pub total_states: usize,
    /// Seconds spent on hulls, LP and incumbent.
    pub relax_seconds: f64,
    /// Seconds spent on fixing and the core search.
    pub search_seconds: f64,
}

/// A solution with its proof.
#[derive(Clone, Debug)]
pub struct Solution {
    /// Item picked in every class.
    pub choice: Vec<u32>,
    /// Total weight (DReLUs) of the choice.
    pub weight: u64,
    /// Total cost (distortion) of the choice.
    pub cost: f64,
    /// No feasible choice costs less than this.
    pub lower_bound: f64,
    /// Whether the core search finished, proving `cost` optimal.
    pub proven_optimal: bool,
    /// How the search went.
    pub stats: SolveStats,
}

impl Solution {
    /// `cost - lower_bound`, never negative.
    pub fn gap(&self) -> f64 {
        (self.cost - self.lower_bound).max(0.0)
    }
}

/// Why [`solve`] found no solution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SolveError {
    /// Even the lightest item of every class exceeds the budget.
    Infeasible {
        /// The budget.
        budget: u64,
        /// The fewest DReLUs any choice needs.
        min_weight: u64,
    },
}

impl fmt::Display for SolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SolveError::Infeasible { budget, min_weight } => write!(
                f,
                "budget of {budget} DReLUs is too small: the cheapest choice needs {min_weight}"
            ),
        }
    }
}

impl std::error::Error for SolveError {}

/// Solves the multiple-choice knapsack exactly (see the module docs).
pub fn solve(problem: &Problem, budget: u64, opts: &SolveOptions) -> Result<Solution, SolveError> {
    let start = Instant::now();
    let hulls: Vec<ClassHull> = (0..problem.classes())
        .into_par_iter()
        .map(|i| {
            let (w, c) = (problem.weights(i), problem.costs(i));
            let pareto = hull::pareto(w, c);
            let hull = hull::lower_hull(w, c, &pareto);
            ClassHull { pareto, hull }
        })
        .collect();
    let lp = relax::relax(problem, &hulls, budget)
        .map_err(|min_weight| SolveError::Infeasible { budget, min_weight })?;
    let lambda = lp.lambda;
    let mut choice = lp.greedy_choice(&hulls);
    improve::fill(problem, &hulls, &mut choice, budget);
    let lp_bound = fixing::lagrangian_bound(problem, &hulls, lambda, budget);
    let (mut weight, mut cost) = evaluate(problem, &choice);
    let mut stats = SolveStats {
        lambda,
        lp_bound,
        heuristic_cost: cost,
        relax_seconds: start.elapsed().as_secs_f64(),
        ..SolveStats::default()
    };

    let start = Instant::now();
    let mut lower_bound = lp_bound;
    let mut proven_optimal = false;
    if cost <= lp_bound {
        // The incumbent meets the Lagrangian bound: nothing to search.
        lower_bound = cost;
        proven_optimal = true;
    } else {
        // Relative slack on the fixing threshold so rounding never removes a needed item.
        let scale = cost.abs() + lp_bound.abs() + lambda * budget as f64;
        let max_reduced = cost - lp_bound + 1e-10 * scale;
        let reduced = fixing::reduce(problem, &hulls, lambda, max_reduced);
        stats.core_classes = reduced.core.len();
        stats.core_items = reduced.core.iter().map(|(_, c)| c.len()).sum();
        match budget.checked_sub(reduced.fixed_weight) {
            // Forced items alone exceed the budget: nothing beats the incumbent.
            None => {
                lower_bound = cost;
                proven_optimal = true;
            }
            Some(capacity) => {
                let core = Core {
                    classes: reduced.core,
                    capacity,
                    fixed_cost: reduced.fixed_cost,
                    lambda,
                };
                match core_dp::search(&core, cost, opts.max_states) {
                    Ok(result) => {
                        stats.peak_states = result.peak_states;
                        stats.total_states = result.total_states;
                        if let Some(core_choice) = result.improved {
                            for (i, j) in reduced.fixed.iter().copied().chain(core_choice) {
                                choice[i] = j;
                            }
                            (weight, cost) = evaluate(problem, &choice);
                        }
                        lower_bound = lower_bound.max(result.min_pruned_bound.min(cost));
                        proven_optimal = true;
                    }
                    Err(TooManyStates) => stats.total_states = opts.max_states,
                }
            }
        }
    }
    stats.search_seconds = start.elapsed().as_secs_f64();
    Ok(Solution {
        choice,
        weight,
        cost,
        lower_bound,
        proven_optimal,
        stats,
    })
}

fn evaluate(problem: &Problem, choice: &[u32]) -> (u64, f64) {
    problem
        .evaluate(choice)
        .unwrap_or((u64::MAX, f64::INFINITY))
}
