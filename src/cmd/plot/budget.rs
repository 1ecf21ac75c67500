//! Accuracy against DReLU budget (seed paper, Figure 1): float and secure accuracy per budget,
//! on a logarithmic budget axis whose ticks are the measured budgets.

use std::path::Path;

use plotters::prelude::*;
use serde::Deserialize;

use super::{drawing, extent, legend, Accuracy, FONT, SIZE};

/// A budget sweep (`python/budget_sweep.py`); other fields of the file are ignored.
#[derive(Debug, Deserialize)]
pub(super) struct Sweep {
    /// One row per budget.
    pub rows: Vec<Row>,
}

/// One budget of a sweep.
#[derive(Debug, Deserialize)]
pub(super) struct Row {
    /// DReLUs as a fraction of the plain model's ReLUs (1 = plain model).
    pub budget_ratio: f64,
    /// What was measured at this budget.
    #[serde(flatten)]
    pub acc: Accuracy,
}

/// Draws `sweep` into the PNG `out`.
pub(super) fn draw(sweep: &Sweep, out: &Path) -> Result<(), String> {
    let rows = &sweep.rows;
    if rows.is_empty()
        || rows
            .iter()
            .any(|r| r.budget_ratio.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater))
    {
        return Err("the sweep needs rows with budget_ratio > 0".into());
    }
    let budgets: Vec<f64> = rows.iter().map(|r| 100.0 * r.budget_ratio).collect();
    let (lo, hi) = extent(rows.iter().flat_map(|r| r.acc.percents()));
    let (x_lo, x_hi) = extent(budgets.iter().copied());

    let root = BitMapBackend::new(out, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Accuracy against DReLU budget", (FONT, 26))
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(65)
        .build_cartesian_2d(
            (x_lo / 1.25..x_hi * 1.25)
                .log_scale()
                .with_key_points(budgets.clone()),
            (lo - 2.0).floor()..(hi + 2.0).ceil().min(100.0),
        )
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("DReLU budget (% of the plain model's ReLUs, log scale)")
        .y_desc("test accuracy (%)")
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .x_label_formatter(&|x| format!("{x}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(drawing)?;

    let float: Vec<(f64, f64)> = budgets
        .iter()
        .zip(rows)
        .map(|(&b, r)| (b, 100.0 * r.acc.float_acc))
        .collect();
    let secure: Vec<(f64, f64)> = budgets
        .iter()
        .zip(rows)
        .filter_map(|(&b, r)| r.acc.secure_acc.map(|a| (b, 100.0 * a)))
        .collect();
    let blue = BLUE.stroke_width(2);
    chart
        .draw_series(LineSeries::new(float.iter().copied(), blue))
        .map_err(drawing)?
        .label("float reference")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], blue));
    chart
        .draw_series(float.iter().map(|&p| Circle::new(p, 5, BLUE.filled())))
        .map_err(drawing)?;
    if !secure.is_empty() {
        let red = RED.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(secure.iter().copied(), 8, 5, red))
            .map_err(drawing)?
            .label("secure inference")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], red));
        chart
            .draw_series(secure.iter().map(|&p| Cross::new(p, 7, red)))
            .map_err(drawing)?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present().map_err(drawing)
}
