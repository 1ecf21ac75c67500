//! The calibrated approximate-DReLU windows of a spec as a report (`plan calibrate`, `spec
//! stats`): per comparing node, the measured range, the window and its bits against the
//! paper's fixed (43, 5) at 12 fractional bits, as the run would widen it for the node, and
//! exact DReLU.

use std::io::{self, Write};

use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::windows::covers;
use patchwork_core::model::Model;
use patchwork_core::protocol::brelu::{MapShape, PatchPlan};
use patchwork_core::protocol::drelu::Comparison;
use patchwork_core::spec::Calibration;

/// One comparing node in the report: its window against the paper's fixed (43, 5) as the
/// run would widen it for the node.
#[derive(serde::Serialize)]
pub struct WindowRow {
    /// The node's name.
    pub name: String,
    /// The operator.
    pub op: &'static str,
    /// Comparisons measured.
    pub count: u64,
    /// Largest magnitude compared.
    pub max_abs: f64,
    /// Its 99.9% quantile.
    pub q999: f64,
    /// The calibrated window `[k_msb, k_lsb]`.
    pub window: [u32; 2],
    /// Bits compared: calibrated, with (43, 5), exact.
    pub bits: [u32; 3],
    /// Expected error rate of the calibrated window.
    pub error_rate: f64,
    /// Whether (43, 5) holds the measured range.
    pub paper_holds: bool,
}

/// The rows of the report, in model order.
pub fn window_rows(
    model: &Model,
    spec: &ResolvedSpec,
    calibration: &Calibration,
) -> Vec<WindowRow> {
    model
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, node)| {
            let w = calibration.window(&node.name)?;
            let paper = match spec.layer(i) {
                Some((sizes, (c, h, wd))) => {
                    let shape = MapShape {
                        channels: *c,
                        height: *h,
                        width: *wd,
                    };
                    let plan = PatchPlan::new(shape, sizes);
                    Comparison::PAPER.for_patch(plan.max_area())
                }
                None => Comparison::PAPER,
            };
            // The paper's setting: (43, 5) at 12 fractional bits.
            let holds = w.max_abs <= covers(paper, FixedPoint::F12);
            Some(WindowRow {
                name: node.name.clone(),
                op: node.op.kind(),
                count: w.count,
                max_abs: w.max_abs,
                q999: w.q999,
                window: [w.k_msb, w.k_lsb],
                bits: [w.comparison().width(), paper.width(), 64],
                error_rate: w.error_rate,
                paper_holds: holds,
            })
        })
        .collect()
}

/// Mean bits per comparison, weighted by the comparisons measured: calibrated, (43, 5), exact.
pub fn mean_bits(rows: &[WindowRow]) -> [f64; 3] {
    let n: u64 = rows.iter().map(|r| r.count).sum();
    [0, 1, 2].map(|k| {
        let bits: f64 = rows.iter().map(|r| r.count as f64 * r.bits[k] as f64).sum();
        bits / n.max(1) as f64
    })
}

/// The report as a text table, with the mean bits and the nodes (43, 5) does not hold.
pub fn write_table(rows: &[WindowRow], out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{:<40} {:<8} {:>10} {:>11} {:>11} {:>8} {:>4} {:>11} {:>9}",
        "node", "op", "compared", "max |x|", "q99.9 |x|", "window", "l*", "l* (43,5)", "err rate"
    )?;
    for r in rows {
        let paper = format!("{}{}", r.bits[1], if r.paper_holds { "" } else { " WRAPS" });
        writeln!(
            out,
            "{:<40} {:<8} {:>10} {:>11.4} {:>11.4} {:>8} {:>4} {:>11} {:>9.2e}",
            r.name,
            r.op,
            r.count,
            r.max_abs,
            r.q999,
            format!("{},{}", r.window[0], r.window[1]),
            r.bits[0],
            paper,
            r.error_rate
        )?;
    }
    let [cal, paper, _] = mean_bits(rows);
    writeln!(
        out,
        "bits per comparison (mean over the comparisons measured): calibrated {cal:.2}, \
         (43, 5) {paper:.2}, exact 64"
    )?;
    let wraps = rows.iter().filter(|r| !r.paper_holds).count();
    if wraps > 0 {
        writeln!(
            out,
            "(43, 5) at 12 fractional bits does not hold the measured range of {wraps} nodes \
             (WRAPS): a run with --approx 43,5 and this spec is refused"
        )?;
    }
    Ok(())
}
