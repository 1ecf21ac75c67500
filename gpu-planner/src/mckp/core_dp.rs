//! Exact search over the *core*: the classes that still have more than one item after
//! reduced-cost fixing. It is the seed paper's dynamic programme (eq. 6) restricted to the core,
//! with sparse states: only Pareto-optimal `(weight, cost)` pairs are kept (a state that weighs
//! more and costs no less than another cannot lead to a better solution), and a state is dropped
//! when its Lagrangian bound (see [`super::fixing`]) shows it cannot beat the incumbent.

/// One core class: `(weight, cost, item index)` sorted by weight.
pub(super) type CoreClass = Vec<(u64, f64, u32)>;

/// Input of the core search.
pub(super) struct Core {
    /// Class indices of the core, with their remaining items.
    pub classes: Vec<(usize, CoreClass)>,
    /// Budget left for the core once the fixed classes are paid for.
    pub capacity: u64,
    /// Cost of the fixed classes.
    pub fixed_cost: f64,
    /// Multiplier used for the bound.
    pub lambda: f64,
}

/// What the search found.
pub(super) struct CoreResult {
    /// Best core choice (class index, item) if one costs less than the incumbent.
    pub improved: Option<Vec<(usize, u32)>>,
    /// Smallest bound of any pruned state (infinity if none was pruned).
    pub min_pruned_bound: f64,
    /// Largest number of states alive after one stage.
    pub peak_states: usize,
    /// States stored over all stages.
    pub total_states: usize,
}

/// The search stopped because it would hold more than `max_states` states or candidates.
#[derive(Clone, Copy, Debug)]
pub(super) struct TooManyStates;

struct Step {
    parent: u32,
    item: u32,
}

/// Minimum over states: finds a core choice costing less than `incumbent`, or proves none exists.
pub(super) fn search(
    core: &Core,
    incumbent: f64,
    max_states: usize,
) -> Result<CoreResult, TooManyStates> {
    let n = core.classes.len();
    let lambda = core.lambda;
    // Suffix sums over classes t.. of min item weight, max item weight, min penalized cost.
    let mut wmin = vec![0u64; n + 1];
    let mut wmax = vec![0u64; n + 1];
    let mut mpen = vec![0f64; n + 1];
    for t in (0..n).rev() {
        let items = &core.classes[t].1;
        wmin[t] = wmin[t + 1] + items.iter().map(|x| x.0).min().unwrap_or(0);
        wmax[t] = wmax[t + 1] + items.iter().map(|x| x.0).max().unwrap_or(0);
        let m = items
            .iter()
            .map(|x| x.1 + lambda * x.0 as f64)
            .fold(f64::INFINITY, f64::min);
        mpen[t] = mpen[t + 1] + m;
    }
    let cap = core.capacity;
    // Lower bound on the total cost of any completion of a state after `t` classes.
    let bound = |t: usize, w: u64, c: f64| -> f64 {
        let room = (cap - w).min(wmax[t]);
        core.fixed_cost + c + mpen[t] - lambda * room as f64
    };

    let mut ws: Vec<u64> = vec![0];
    let mut cs: Vec<f64> = vec![0.0];
    let mut steps: Vec<Vec<Step>> = Vec::with_capacity(n);
    let mut min_pruned = f64::INFINITY;
    let mut peak = 1usize;
    let mut total = 1usize;
    let mut cand: Vec<(u64, f64, u32, u32)> = Vec::new();
    for (t, (_, items)) in core.classes.iter().enumerate() {
        cand.clear();
        let Some(limit) = cap.checked_sub(wmin[t + 1]) else {
            ws.clear();
            break;
        };
        for (pos, &(wj, cj, _)) in items.iter().enumerate() {
            for s in 0..ws.len() {
                let w = ws[s] + wj;
                if w > limit {
                    break;
                }
                let c = cs[s] + cj;
                let b = bound(t + 1, w, c);
                if b >= incumbent {
                    min_pruned = min_pruned.min(b);
                    continue;
                }
                cand.push((w, c, s as u32, pos as u32));
            }
            if total + cand.len() > max_states {
                return Err(TooManyStates);
            }
        }
        cand.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        ws.clear();
        cs.clear();
        let mut stage = Vec::new();
        for &(w, c, parent, item) in &cand {
            if cs.last().is_some_and(|&best| c >= best) {
                continue;
            }
            ws.push(w);
            cs.push(c);
            stage.push(Step { parent, item });
        }
        peak = peak.max(ws.len());
        total += ws.len();
        if total > max_states {
            return Err(TooManyStates);
        }
        steps.push(stage);
        if ws.is_empty() {
            break;
        }
    }
    let improved = if steps.len() == n && !ws.is_empty() {
        // States are Pareto: the last one is the cheapest.
        let last = ws.len() - 1;
        let total_cost = core.fixed_cost + cs[last];
        (total_cost < incumbent).then(|| backtrack(core, &steps, last))
    } else {
        None
    };
    Ok(CoreResult {
        improved,
        min_pruned_bound: min_pruned,
        peak_states: peak,
        total_states: total,
    })
}

fn backtrack(core: &Core, steps: &[Vec<Step>], mut s: usize) -> Vec<(usize, u32)> {
    let mut out = Vec::with_capacity(steps.len());
    for (t, stage) in steps.iter().enumerate().rev() {
        let step = &stage[s];
        let (class, items) = &core.classes[t];
        out.push((*class, items[step.item as usize].2));
        s = step.parent as usize;
    }
    out
}
