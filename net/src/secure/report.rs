//! The report of one secure inference: output, class, time, bytes per edge and rounds, and a
//! per-layer table with the cost model's prediction beside what was measured.

use patchwork_core::cost::Cost;
use patchwork_core::infer::{classes, DescribedModel};
use patchwork_core::model::Model;
use patchwork_core::role::Role;
use std::fmt;

use serde::Serialize;

use super::run::{Mark, OfflineRun, PartyRun};

/// Payload bytes per undirected edge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Edges {
    /// Bytes between P0 and P1 (both directions).
    pub p0_p1: u64,
    /// Bytes between P0 and P2 (both directions).
    pub p0_p2: u64,
    /// Bytes between P1 and P2 (both directions).
    pub p1_p2: u64,
    /// All bytes.
    pub total: u64,
}

impl Edges {
    fn from_directed(b: [[u64; 3]; 3]) -> Edges {
        let e = |a: usize, c: usize| b[a][c] + b[c][a];
        let (p0_p1, p0_p2, p1_p2) = (e(0, 1), e(0, 2), e(1, 2));
        Edges {
            p0_p1,
            p0_p2,
            p1_p2,
            total: p0_p1 + p0_p2 + p1_p2,
        }
    }

    fn of_cost(c: &Cost) -> Edges {
        Edges::from_directed(c.bytes)
    }
}

/// One row of the per-layer table.
#[derive(Clone, Debug, Serialize)]
pub struct LayerRow {
    /// The node's index.
    pub index: usize,
    /// The node's name.
    pub name: String,
    /// The operator.
    pub op: &'static str,
    /// Wall seconds of the layer (the slowest party).
    pub seconds: f64,
    /// Bytes measured on the wire.
    pub bytes: Edges,
    /// Bytes the cost model predicts.
    pub predicted_bytes: Edges,
    /// Rounds of the layer's protocol steps by the cost model.
    pub predicted_rounds: u32,
    /// Rounds of the layer's protocol steps as measured: the deepest chain of dependent
    /// messages within each step, summed over the layer's steps. Consecutive layers overlap on
    /// the wire, so the inference's rounds (`Report::rounds`) can be below the sum.
    pub rounds: u32,
    /// With preprocessing: the layer's bytes in the offline walk (then `bytes` are its online
    /// bytes), measured and by the cost model; zero without.
    pub offline_bytes: Edges,
    /// The cost model's offline bytes of the layer (zero without preprocessing).
    pub predicted_offline_bytes: Edges,
}

/// The offline phase of one preprocessed inference.
#[derive(Clone, Debug, Serialize)]
pub struct OfflineReport {
    /// Wall seconds of its offline walk (the slowest party).
    pub seconds: f64,
    /// Bytes measured on the wire.
    pub bytes: Edges,
    /// Bytes the cost model predicts.
    pub predicted_bytes: Edges,
    /// Measured rounds (deepest message chain).
    pub rounds: u32,
    /// The most bytes one party keeps for the inference until its online phase.
    pub kept_bytes: usize,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// P0's output (logits; for a batch, each image's one after another).
    pub output: Vec<f32>,
    /// The class the output names (the first image's, for a batch).
    pub class: usize,
    /// Images in the inference.
    pub images: usize,
    /// The class of each image.
    pub classes: Vec<usize>,
    /// P0's wall time from its first layer to the revealed output.
    pub seconds: f64,
    /// Bytes measured on the wire during the inference.
    pub bytes: Edges,
    /// Bytes the cost model predicts.
    pub predicted_bytes: Edges,
    /// Measured rounds of the inference (deepest message chain).
    pub rounds: u32,
    /// The once-per-session set-up (weight masks), not included above.
    pub setup_bytes: Edges,
    /// Seconds of the session's set-up (once per session).
    pub setup_seconds: f64,
    /// One row per node.
    pub layers: Vec<LayerRow>,
    /// With preprocessing, the inference's offline phase (and everything above but the
    /// set-up is its online phase).
    pub offline: Option<OfflineReport>,
}

fn directed(
    runs: &[PartyRun; 3],
    before: impl Fn(&PartyRun) -> Mark,
    after: impl Fn(&PartyRun) -> Mark,
) -> [[u64; 3]; 3] {
    let mut b = [[0u64; 3]; 3];
    for r in runs {
        let (x, y) = (before(r), after(r));
        for to in Role::ALL {
            b[r.role.index()][to.index()] = y.sent[to.index()] - x.sent[to.index()];
        }
    }
    b
}

/// A mark of a party's offline walk (none without preprocessing).
fn walk_mark(r: &PartyRun, at: impl Fn(&OfflineRun) -> Mark) -> Mark {
    r.offline.as_ref().map(at).unwrap_or_default()
}

/// Combines the three parties' runs of one inference.
pub fn combine(model: &Model, secure: &DescribedModel, runs: &[PartyRun; 3]) -> Report {
    let output = runs[0].output.clone().unwrap_or_default();
    let mut layers = Vec::with_capacity(model.nodes.len());
    let mut predicted = Cost::default();
    let offline: Option<[&OfflineRun; 3]> = match runs.each_ref().map(|r| r.offline.as_ref()) {
        [Some(a), Some(b), Some(c)] => Some([a, b, c]),
        _ => None,
    };
    for (i, node) in model.nodes.iter().enumerate() {
        let prev = |r: &PartyRun| if i == 0 { r.start } else { r.nodes[i - 1] };
        let bytes = Edges::from_directed(directed(runs, prev, |r| r.nodes[i]));
        let full = secure.node_cost(i);
        let (cost, offline_bytes, predicted_offline_bytes) = match offline {
            Some(_) => (
                full.online(),
                Edges::from_directed(directed(
                    runs,
                    |r| walk_mark(r, |w| if i == 0 { w.start } else { w.nodes[i - 1] }),
                    |r| walk_mark(r, |w| w.nodes[i]),
                )),
                Edges::of_cost(&full.offline_part()),
            ),
            None => (full, Edges::default(), Edges::default()),
        };
        predicted = predicted.then(cost);
        let step_rounds = runs
            .iter()
            .map(|r| r.nodes[i].step_rounds - prev(r).step_rounds)
            .max()
            .unwrap_or(0);
        let seconds = runs
            .iter()
            .map(|r| r.nodes[i].seconds - prev(r).seconds)
            .fold(0.0, f64::max);
        layers.push(LayerRow {
            index: i,
            name: node.name.clone(),
            op: node.op.kind(),
            seconds,
            bytes,
            predicted_bytes: Edges::of_cost(&cost),
            predicted_rounds: cost.rounds,
            rounds: step_rounds as u32,
            offline_bytes,
            predicted_offline_bytes,
        });
    }
    let offline = offline.map(|walks| {
        let most = |f: &dyn Fn(&OfflineRun) -> u32| walks.iter().map(|w| f(w)).max().unwrap_or(0);
        OfflineReport {
            seconds: walks.iter().map(|w| w.end.seconds).fold(0.0, f64::max),
            bytes: Edges::from_directed(directed(
                runs,
                |r| walk_mark(r, |w| w.start),
                |r| walk_mark(r, |w| w.end),
            )),
            predicted_bytes: Edges::of_cost(&secure.offline_cost()),
            rounds: most(&|w| w.end.rounds) - most(&|w| w.start.rounds),
            kept_bytes: walks.iter().map(|w| w.kept_bytes).max().unwrap_or(0),
        }
    });
    predicted = predicted.then(secure.reveal_cost());
    let rounds = runs.iter().map(|r| r.end.rounds).max().unwrap_or(0)
        - runs.iter().map(|r| r.start.rounds).max().unwrap_or(0);
    let images = secure.settings().batch;
    let classes = classes(&output, images);
    Report {
        class: classes.first().copied().unwrap_or(0),
        images,
        classes,
        output,
        // The client's latency: P0 starts after the set-up and ends with the output. (P1 and P2
        // may start waiting earlier, so their clocks include idle time.)
        seconds: runs[0].end.seconds,
        bytes: Edges::from_directed(directed(runs, |r| r.start, |r| r.end)),
        predicted_bytes: Edges::of_cost(&predicted),
        rounds,
        setup_bytes: Edges::from_directed(directed(runs, |_| Mark::default(), |r| r.setup)),
        setup_seconds: runs.iter().map(|r| r.setup_seconds).fold(0.0, f64::max),
        layers,
        offline,
    }
}

fn mb(b: u64) -> f64 {
    b as f64 / 1e6
}

/// The per-layer table (layers that moved or were predicted to move bytes) and the totals.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        writeln!(
            f,
            "{:>4} {:<28} {:<14} {:>9} {:>12} {:>12} {:>12} {:>12} {:>6} {:>6}",
            "#",
            "layer",
            "op",
            "ms",
            "P0-P1 MB",
            "P0-P2 MB",
            "P1-P2 MB",
            "model MB",
            "rounds",
            "model"
        )?;
        for l in report
            .layers
            .iter()
            .filter(|l| l.bytes.total > 0 || l.predicted_bytes.total > 0)
        {
            writeln!(
                f,
                "{:>4} {:<28} {:<14} {:>9.2} {:>12.3} {:>12.3} {:>12.3} {:>12.3} {:>6} {:>6}",
                l.index,
                truncate(&l.name, 28),
                l.op,
                l.seconds * 1e3,
                mb(l.bytes.p0_p1),
                mb(l.bytes.p0_p2),
                mb(l.bytes.p1_p2),
                mb(l.predicted_bytes.total),
                l.rounds,
                l.predicted_rounds
            )?;
        }
        writeln!(
        f,
        "total: {:.3} s, {:.3} MB (P0-P1 {:.3}, P0-P2 {:.3}, P1-P2 {:.3}; model {:.3}), {} rounds; set-up once per session: {:.3} MB, {:.3} s",
        report.seconds,
        mb(report.bytes.total),
        mb(report.bytes.p0_p1),
        mb(report.bytes.p0_p2),
        mb(report.bytes.p1_p2),
        mb(report.predicted_bytes.total),
        report.rounds,
        mb(report.setup_bytes.total),
        report.setup_seconds
    )?;
        if let Some(o) = &report.offline {
            writeln!(
                f,
                "(online phase above) offline phase: {:.3} s, {:.3} MB (P1-P2; model {:.3}), {} rounds, {:.3} MB kept per party at most",
                o.seconds,
                mb(o.bytes.total),
                mb(o.predicted_bytes.total),
                o.rounds,
                mb(o.kept_bytes as u64)
            )?;
        }
        Ok(())
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(std::iter::once('~')).collect()
    }
}
