//! The Lagrangian lower bound and reduced-cost fixing.
//!
//! For a multiplier `lambda >= 0` let `m_i = min_j (D(i,j) + lambda W(i,j))` and
//! `L(lambda) = sum_i m_i - lambda B`. For every feasible choice `x` (total weight `W(x) <= B`)
//!
//! `D(x) = L(lambda) + sum_i r_i(x_i) + lambda (B - W(x))`, with `r_i(j) = D(i,j) + lambda W(i,j) - m_i >= 0`,
//!
//! so `L(lambda)` is a lower bound, and a choice costing less than an incumbent `U` uses only
//! items whose *reduced cost* `r_i(j)` is at most the gap `U - L(lambda)`. Every other item can be
//! removed without losing any solution better than `U`.

use rayon::prelude::*;

use super::core_dp::CoreClass;
use super::problem::Problem;
use super::relax::ClassHull;

/// `L(lambda)`; only Pareto items matter for the minimum.
pub(super) fn lagrangian_bound(
    problem: &Problem,
    hulls: &[ClassHull],
    lambda: f64,
    budget: u64,
) -> f64 {
    let sum_m: f64 = hulls
        .par_iter()
        .enumerate()
        .map(|(i, h)| min_penalized(problem, i, &h.pareto, lambda))
        .sum();
    sum_m - lambda * budget as f64
}

/// `min_j (D(i,j) + lambda W(i,j))` over `items` of class `i`.
pub(super) fn min_penalized(problem: &Problem, i: usize, items: &[u32], lambda: f64) -> f64 {
    let (w, c) = (problem.weights(i), problem.costs(i));
    items
        .iter()
        .map(|&j| c[j as usize] + lambda * w[j as usize] as f64)
        .fold(f64::INFINITY, f64::min)
}

/// Pareto items of every class whose reduced cost is at most `max_reduced` (sorted by weight,
/// never empty: the minimizing item has reduced cost 0).
fn keep_items(
    problem: &Problem,
    hulls: &[ClassHull],
    lambda: f64,
    max_reduced: f64,
) -> Vec<Vec<u32>> {
    hulls
        .par_iter()
        .enumerate()
        .map(|(i, h)| {
            let m = min_penalized(problem, i, &h.pareto, lambda);
            let (w, c) = (problem.weights(i), problem.costs(i));
            h.pareto
                .iter()
                .copied()
                .filter(|&j| c[j as usize] + lambda * w[j as usize] as f64 - m <= max_reduced)
                .collect()
        })
        .collect()
}

/// The problem after reduced-cost fixing.
pub(super) struct Reduced {
    /// Classes left with a single item, and that item.
    pub fixed: Vec<(usize, u32)>,
    /// Their total weight and cost.
    pub fixed_weight: u64,
    pub fixed_cost: f64,
    /// Classes left with a choice, in search order: widest weight range first, as those
    /// shape the DP states the most.
    pub core: Vec<(usize, CoreClass)>,
}

/// Removes every item whose reduced cost exceeds `max_reduced` and splits the classes into
/// fixed ones and the core.
pub(super) fn reduce(
    problem: &Problem,
    hulls: &[ClassHull],
    lambda: f64,
    max_reduced: f64,
) -> Reduced {
    let keep = keep_items(problem, hulls, lambda, max_reduced);
    let mut out = Reduced {
        fixed: Vec::new(),
        fixed_weight: 0,
        fixed_cost: 0.0,
        core: Vec::new(),
    };
    for (i, items) in keep.iter().enumerate() {
        let (w, c) = (problem.weights(i), problem.costs(i));
        if let [j] = items[..] {
            out.fixed.push((i, j));
            out.fixed_weight += w[j as usize];
            out.fixed_cost += c[j as usize];
        } else {
            let class = items
                .iter()
                .map(|&j| (w[j as usize], c[j as usize], j))
                .collect();
            out.core.push((i, class));
        }
    }
    out.core.sort_by_key(|(i, items): &(usize, CoreClass)| {
        let spread = items.last().map_or(0, |x| x.0) - items.first().map_or(0, |x| x.0);
        (std::cmp::Reverse(spread), *i)
    });
    out
}
