//! Accuracy of named variants side by side (seed paper, Table 3): per variant a float bar and,
//! when measured, a secure bar, each labelled with its value.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Deserialize;

use super::{drawing, extent, legend, Accuracy, FONT, SIZE};

/// x-axis units per variant.
const UNIT: i32 = 100;

/// Width of one bar in x-axis units.
const WIDTH: i32 = 42;

/// Smallest picture width per variant, in pixels (two value labels of five characters).
const PX_PER_VARIANT: u32 = 110;

/// Bars to draw; other fields of the file are ignored.
#[derive(Debug, Deserialize)]
pub(super) struct Bars {
    /// Figure caption.
    pub title: String,
    /// One group of bars per variant, left to right.
    pub rows: Vec<Bar>,
}

/// One variant.
#[derive(Debug, Deserialize)]
pub(super) struct Bar {
    /// Label under the group.
    pub name: String,
    /// What was measured for this variant.
    #[serde(flatten)]
    pub acc: Accuracy,
}

/// Draws `bars` into the PNG `out`.
pub(super) fn draw(bars: &Bars, out: &Path) -> Result<(), String> {
    let rows = &bars.rows;
    if rows.is_empty() {
        return Err("no rows to draw".into());
    }
    let (lo, _) = extent(rows.iter().flat_map(|r| r.acc.percents()));
    // Bars start 10 points below the lowest value, so that differences stay visible.
    let base = ((lo - 10.0) / 10.0).floor().max(0.0) * 10.0;
    // x in integer units, UNIT per variant (f64 axes with custom ticks cannot format labels).
    let n = rows.len() as i32;
    let centres: Vec<i32> = (0..n).map(|i| i * UNIT + UNIT / 2).collect();

    // At least PX_PER_VARIANT pixels per variant (plus 150 for the margins and the y labels),
    // so the value labels of many bars stay apart.
    let width = SIZE.0.max(PX_PER_VARIANT * n as u32 + 150);
    let root = BitMapBackend::new(out, (width, SIZE.1)).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&bars.title, (FONT, 24))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d((0..n * UNIT).with_key_points(centres), base..100.0)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc("test accuracy (%)")
        .label_style((FONT, 17))
        .axis_desc_style((FONT, 18))
        .x_label_formatter(&|x| {
            rows.get((x / UNIT) as usize)
                .map_or_else(String::new, |r| r.name.clone())
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(drawing)?;

    let series = [
        (
            "float reference",
            BLUE,
            8,
            rows.iter()
                .map(|r| Some(r.acc.float_acc))
                .collect::<Vec<_>>(),
        ),
        (
            "secure inference",
            RED,
            50,
            rows.iter().map(|r| r.acc.secure_acc).collect(),
        ),
    ];
    for (label, colour, offset, values) in series {
        let bars: Vec<(i32, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|a| (i as i32 * UNIT + offset, 100.0 * a)))
            .collect();
        if bars.is_empty() {
            continue;
        }
        let fill = colour.mix(0.7).filled();
        chart
            .draw_series(
                bars.iter()
                    .map(|&(x, a)| Rectangle::new([(x, base), (x + WIDTH, a)], fill)),
            )
            .map_err(drawing)?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], fill));
        chart
            .draw_series(bars.iter().map(|&(x, a)| {
                let style = TextStyle::from((FONT, 16).into_font())
                    .pos(Pos::new(HPos::Center, VPos::Bottom));
                Text::new(format!("{a:.2}"), (x + WIDTH / 2, a), style)
            }))
            .map_err(drawing)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(drawing)
}
