//! The LP relaxation of the multiple-choice knapsack (seed paper eq. 5 with `0 <= phi_ij <= 1`),
//! solved greedily: start every class at its lightest hull item, then take hull segments in
//! order of decreasing efficiency (cost saved per DReLU) until the budget runs out. The
//! efficiency of the first segment that does not fit is the optimal Lagrange multiplier
//! `lambda` of the budget constraint (Kellerer, Pferschy, Pisinger 2004, sec. 11.2).
//!
//! The same sorted segments give a first integer solution: keep going past that segment, taking
//! every later segment that still fits and continues its class's hull.

use rayon::prelude::*;

use super::hull::efficiency;
use super::problem::Problem;

/// Pareto items and lower hull of one class (see [`super::hull`]).
#[derive(Clone, Debug)]
pub(super) struct ClassHull {
    pub pareto: Vec<u32>,
    pub hull: Vec<u32>,
}

/// One step along a class's hull, from hull item `k - 1` to hull item `k`.
#[derive(Clone, Copy, Debug)]
struct Segment {
    class: u32,
    k: u32,
    dw: u64,
    efficiency: f64,
}

/// The LP relaxation's greedy solution.
#[derive(Clone, Debug)]
pub(super) struct Relaxation {
    /// Optimal multiplier of the budget constraint (0 when the budget is not binding).
    pub lambda: f64,
    /// Hull position (index into `ClassHull::hull`) of every class in the LP's integer part.
    pos: Vec<u32>,
    /// Budget left after the LP's integer part.
    residual: u64,
    /// Segments by decreasing efficiency, and where the LP stopped.
    segments: Vec<Segment>,
    split: usize,
}

/// Solves the LP relaxation; `Err(min_weight)` when even the lightest items exceed the budget.
pub(super) fn relax(
    problem: &Problem,
    hulls: &[ClassHull],
    budget: u64,
) -> Result<Relaxation, u64> {
    let min_weight: u64 = hulls
        .iter()
        .enumerate()
        .map(|(i, h)| problem.weights(i)[h.hull[0] as usize])
        .sum();
    if min_weight > budget {
        return Err(min_weight);
    }
    let mut segments: Vec<Segment> = hulls
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, h)| {
            let (w, c) = (problem.weights(i), problem.costs(i));
            h.hull.windows(2).enumerate().map(move |(k, ab)| Segment {
                class: i as u32,
                k: k as u32 + 1,
                dw: w[ab[1] as usize] - w[ab[0] as usize],
                efficiency: efficiency(w, c, ab[0], ab[1]),
            })
        })
        .collect();
    segments.par_sort_unstable_by(|a, b| {
        b.efficiency
            .total_cmp(&a.efficiency)
            .then(a.class.cmp(&b.class))
            .then(a.k.cmp(&b.k))
    });
    let mut pos = vec![0u32; hulls.len()];
    let mut residual = budget - min_weight;
    let mut split = segments.len();
    let mut lambda = 0.0;
    for (n, s) in segments.iter().enumerate() {
        if s.dw > residual {
            split = n;
            lambda = s.efficiency;
            break;
        }
        residual -= s.dw;
        pos[s.class as usize] = s.k;
    }
    Ok(Relaxation {
        lambda,
        pos,
        residual,
        segments,
        split,
    })
}

impl Relaxation {
    /// A feasible integer solution: the LP's integer part, then every later segment (in
    /// efficiency order) that fits and continues its class's hull. Returns item indices.
    pub(super) fn greedy_choice(&self, hulls: &[ClassHull]) -> Vec<u32> {
        let mut pos = self.pos.clone();
        let mut residual = self.residual;
        for s in &self.segments[self.split..] {
            let i = s.class as usize;
            if pos[i] + 1 == s.k && s.dw <= residual {
                residual -= s.dw;
                pos[i] = s.k;
            }
        }
        pos.iter()
            .zip(hulls)
            .map(|(&p, h)| h.hull[p as usize])
            .collect()
    }
}
