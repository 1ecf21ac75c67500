//! The approximate DReLU error-rate grid (`patchwork approx-error --json`) as a heat map: rows
//! k_msb, columns k_lsb, colour log10 of the error rate, each cell labelled with its rate.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Deserialize;

use super::{drawing, FONT, SIZE};

/// The output of `patchwork approx-error --json`; other fields are ignored.
#[derive(Debug, Deserialize)]
pub(super) struct Grid {
    /// Where the activations came from (the figure's subtitle).
    pub activations: String,
    /// Fractional bits of the encoding.
    pub frac_bits: u32,
    /// One cell per (k_msb, k_lsb).
    pub grid: Vec<Cell>,
}

/// One grid point.
#[derive(Debug, Deserialize)]
pub(super) struct Cell {
    /// High bits ignored.
    pub k_msb: u32,
    /// Low bits ignored.
    pub k_lsb: u32,
    /// Fraction of wrong DReLU outcomes.
    pub error_rate: f64,
}

/// Rates at or below this are drawn with the colour of this rate (log10 of 0 is undefined).
const FLOOR: f64 = 1e-7;

/// White for rates at or below [`FLOOR`], through yellow, to red for a rate of 1.
fn colour(rate: f64) -> RGBColor {
    let t = (rate.max(FLOOR).log10() - FLOOR.log10()) / -FLOOR.log10();
    let t = t.clamp(0.0, 1.0);
    let (g, b) = if t < 0.5 {
        (255.0, 255.0 * (1.0 - 2.0 * t))
    } else {
        (255.0 * (2.0 - 2.0 * t), 0.0)
    };
    RGBColor(255, g as u8, b as u8)
}

/// The distinct values of `key` over the cells, ascending.
fn axis(cells: &[Cell], key: fn(&Cell) -> u32) -> Vec<u32> {
    let mut v: Vec<u32> = cells.iter().map(key).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Draws `grid` into the PNG `out`.
pub(super) fn draw(grid: &Grid, out: &Path) -> Result<(), String> {
    if grid.grid.is_empty() {
        return Err("the grid has no cells".into());
    }
    let msbs = axis(&grid.grid, |c| c.k_msb);
    let lsbs = axis(&grid.grid, |c| c.k_lsb);
    // Cells are 2 x 2 integer units with ticks at their centres (f64 axes with custom ticks
    // cannot format labels).
    let centres = |n: usize| (0..n as i32).map(|i| 2 * i + 1).collect::<Vec<_>>();

    let root = BitMapBackend::new(out, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let title = format!(
        "Approximate DReLU error rate, f = {} fractional bits",
        grid.frac_bits
    );
    let root = root.titled(&title, (FONT, 24)).map_err(drawing)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&grid.activations, (FONT, 15))
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(65)
        .build_cartesian_2d(
            (0..2 * lsbs.len() as i32).with_key_points(centres(lsbs.len())),
            (0..2 * msbs.len() as i32).with_key_points(centres(msbs.len())),
        )
        .map_err(drawing)?;
    let label = |values: &[u32], x: i32| {
        values
            .get((x / 2) as usize)
            .map_or_else(String::new, |v| v.to_string())
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("k_lsb (low bits ignored)")
        .y_desc("k_msb (high bits ignored)")
        .label_style((FONT, 17))
        .axis_desc_style((FONT, 18))
        .x_label_formatter(&|x| label(&lsbs, *x))
        .y_label_formatter(&|y| label(&msbs, *y))
        .draw()
        .map_err(drawing)?;

    let place = |c: &Cell| {
        let x = lsbs.iter().position(|&l| l == c.k_lsb).unwrap_or(0) as i32;
        let y = msbs.iter().position(|&m| m == c.k_msb).unwrap_or(0) as i32;
        (2 * x, 2 * y)
    };
    chart
        .draw_series(grid.grid.iter().map(|c| {
            let (x, y) = place(c);
            Rectangle::new([(x, y), (x + 2, y + 2)], colour(c.error_rate).filled())
        }))
        .map_err(drawing)?;
    chart
        .draw_series(grid.grid.iter().map(|c| {
            let (x, y) = place(c);
            let style =
                TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
            let text = if c.error_rate == 0.0 {
                "0".to_string()
            } else {
                format!("{:.1e}", c.error_rate)
            };
            Text::new(text, (x + 1, y + 1), style)
        }))
        .map_err(drawing)?;
    root.present().map_err(drawing)
}
