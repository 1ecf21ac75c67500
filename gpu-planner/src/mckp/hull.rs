//! Dominance and the lower convex hull of one class (Kellerer, Pferschy, Pisinger, "Knapsack
//! Problems", ch. 11, cited by the seed paper for eq. 5).
//!
//! An item is *dominated* when another item of its class weighs no more and costs no more; some
//! optimal solution avoids it. The *lower convex hull* of the remaining (Pareto) items is what the
//! LP relaxation of the multiple-choice knapsack uses: along it, cost falls with weight at an
//! ever slower rate.

/// Pareto items of a class: indices sorted by weight ascending with cost strictly decreasing.
/// Among equal items the lower index is kept.
pub(super) fn pareto(weights: &[u64], costs: &[f64]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..weights.len() as u32).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        weights[a]
            .cmp(&weights[b])
            .then(costs[a].total_cmp(&costs[b]))
            .then(a.cmp(&b))
    });
    let mut out: Vec<u32> = Vec::with_capacity(order.len());
    for j in order {
        let keep = match out.last() {
            None => true,
            Some(&last) => costs[j as usize] < costs[last as usize],
        };
        if keep {
            out.push(j);
        }
    }
    out
}

/// Cost saved per unit of weight when moving from item `a` to the heavier item `b`.
pub(super) fn efficiency(weights: &[u64], costs: &[f64], a: u32, b: u32) -> f64 {
    let (a, b) = (a as usize, b as usize);
    (costs[a] - costs[b]) / (weights[b] - weights[a]) as f64
}

/// Lower convex hull of a Pareto list (from [`pareto`]): a sub-list whose consecutive
/// [`efficiency`] values are strictly decreasing, computed with the same formula so callers can
/// rely on that order.
pub(super) fn lower_hull(weights: &[u64], costs: &[f64], pareto: &[u32]) -> Vec<u32> {
    let mut hull: Vec<u32> = Vec::with_capacity(pareto.len());
    for &c in pareto {
        while hull.len() >= 2 {
            let a = hull[hull.len() - 2];
            let b = hull[hull.len() - 1];
            if efficiency(weights, costs, a, b) <= efficiency(weights, costs, b, c) {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(c);
    }
    hull
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_drops_dominated_items() {
        let w = [4, 1, 2, 2, 3];
        let c = [1.0, 5.0, 3.0, 4.0, 3.0];
        assert_eq!(pareto(&w, &c), vec![1, 2, 0]);
    }

    #[test]
    fn hull_drops_points_above_the_chord() {
        // (0,10) (1,9.5) (2,4) (4,0): (1,9.5) lies above the chord from (0,10) to (2,4).
        let w = [0, 1, 2, 4];
        let c = [10.0, 9.5, 4.0, 0.0];
        let p = pareto(&w, &c);
        assert_eq!(lower_hull(&w, &c, &p), vec![0, 2, 3]);
    }

    #[test]
    fn hull_drops_collinear_points() {
        let w = [0, 1, 2];
        let c = [2.0, 1.0, 0.0];
        let p = pareto(&w, &c);
        assert_eq!(lower_hull(&w, &c, &p), vec![0, 2]);
    }
}
