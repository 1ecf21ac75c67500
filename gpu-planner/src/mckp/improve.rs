//! Local improvement of an integer solution: spend the unused budget on the single item swap
//! that saves the most cost, and repeat. A better incumbent shrinks the gap that reduced-cost
//! fixing ([`super::fixing`]) works with.

use rayon::prelude::*;

use super::problem::Problem;
use super::relax::ClassHull;

/// Most passes; each pass costs one scan of all Pareto items.
const MAX_PASSES: usize = 64;

/// Improves `choice` in place while it stays within `budget`; returns its weight.
pub(super) fn fill(problem: &Problem, hulls: &[ClassHull], choice: &mut [u32], budget: u64) -> u64 {
    let mut weight: u64 = choice
        .iter()
        .enumerate()
        .map(|(i, &j)| problem.weights(i)[j as usize])
        .sum();
    for _ in 0..MAX_PASSES {
        let residual = budget.saturating_sub(weight);
        let best = choice
            .par_iter()
            .zip(hulls.par_iter())
            .enumerate()
            .filter_map(|(i, (&cur, h))| {
                let (w, c) = (problem.weights(i), problem.costs(i));
                let (cw, cc) = (w[cur as usize], c[cur as usize]);
                h.pareto
                    .iter()
                    .filter(|&&j| w[j as usize] <= cw + residual && c[j as usize] < cc)
                    .map(|&j| (cc - c[j as usize], i, j))
                    .max_by(|a, b| a.0.total_cmp(&b.0))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let Some((_, i, j)) = best else { break };
        let w = problem.weights(i);
        weight = weight - w[choice[i] as usize] + w[j as usize];
        choice[i] = j;
    }
    weight
}
