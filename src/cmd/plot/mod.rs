//! `patchwork plot`: PNG figures drawn from measured result files (JSON) with `plotters`.
//!
//! - `plot budget`: accuracy against DReLU budget (seed paper, Figure 1), float and secure.
//! - `plot bars`: accuracy of named variants side by side (seed paper, Table 3).
//! - `plot approx-error`: the approximate DReLU error-rate grid of `patchwork approx-error
//!   --json` as a heat map over (k_msb, k_lsb).
//!
//! Text is drawn by plotters' pure-Rust `ab_glyph` backend from a TrueType file read at run time
//! (`--font`), so no fontconfig or freetype is needed.

mod approx;
mod bars;
mod budget;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use plotters::chart::{ChartContext, SeriesLabelPosition};
use plotters::coord::CoordTranslate;
use plotters::prelude::{DrawingBackend, BLACK, WHITE};
use plotters::style::FontStyle;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::output;

/// Width and height of every figure, in pixels.
pub const SIZE: (u32, u32) = (900, 600);

/// Font family name under which `--font` is registered.
pub const FONT: &str = "sans-serif";

/// `patchwork plot ...`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Which figure.
    #[command(subcommand)]
    pub figure: Figure,
    /// TrueType font for the labels.
    #[arg(
        long,
        global = true,
        default_value = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    )]
    pub font: PathBuf,
}

/// The figures.
#[derive(Subcommand, Debug)]
pub enum Figure {
    /// Accuracy against DReLU budget from a budget-sweep JSON (`python/budget_sweep.py`).
    Budget(InOut),
    /// Accuracy bars of named variants from a JSON `{"title", "rows": [{"name", "float_acc",
    /// "secure_acc"}]}` (`secure_acc` optional).
    Bars(InOut),
    /// Error-rate heat map from the JSON of `patchwork approx-error --json`.
    ApproxError(InOut),
}

/// Input JSON and output PNG of one figure.
#[derive(Args, Debug)]
pub struct InOut {
    /// Result file (JSON); `-` for stdin.
    #[arg(long = "in", value_name = "R.json")]
    pub input: PathBuf,
    /// PNG to write; `-` for stdout (the report then goes to stderr).
    #[arg(long, value_name = "F.png")]
    pub out: PathBuf,
}

/// Float and secure accuracy of one measured row (fields of the row in the result file).
#[derive(Debug, Deserialize)]
pub struct Accuracy {
    /// Float reference accuracy, 0..1.
    pub float_acc: f64,
    /// Secure inference accuracy, 0..1, when measured.
    pub secure_acc: Option<f64>,
}

impl Accuracy {
    /// The measured accuracies, in percent.
    pub fn percents(&self) -> impl Iterator<Item = f64> {
        std::iter::once(self.float_acc)
            .chain(self.secure_acc)
            .map(|a| 100.0 * a)
    }
}

/// Smallest and largest of `values` (`(MAX, MIN)` when there are none).
pub fn extent(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// Draws the legend of `chart`'s labelled series at `position`.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 18))
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .map_err(drawing)
}

/// Reads and parses a result file.
/// Reads a result file (`-`: standard input), at most 64 MiB.
fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
    let name = patchwork_model::file::display(path);
    let bytes = patchwork_model::file::read(path, 64 << 20).map_err(|e| format!("{name}: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{name}: {e}"))
}

/// Registers the TrueType file at `path` as [`FONT`] (the bytes live for the whole process).
fn register_font(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("font {}: {e}", path.display()))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(FONT, FontStyle::Normal, bytes)
        .map_err(|_| format!("font {}: not a TrueType/OpenType font", path.display()))
}

/// Turns any drawing error into a message.
fn drawing<E: std::fmt::Display>(e: E) -> String {
    format!("drawing failed: {e}")
}

/// Runs `patchwork plot`. With `--out -` the PNG goes to stdout (drawn into a temporary file
/// first: the bitmap backend writes files) and the report to stderr.
pub fn run(args: &PlotArgs) -> Result<(), String> {
    register_font(&args.font)?;
    let (Figure::Budget(io) | Figure::Bars(io) | Figure::ApproxError(io)) = &args.figure;
    let tmp = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let target = if output::is_stdout(&io.out) {
        tmp.path().join("figure.png")
    } else {
        io.out.clone()
    };
    match &args.figure {
        Figure::Budget(io) => budget::draw(&read_json(&io.input)?, &target)?,
        Figure::Bars(io) => bars::draw(&read_json(&io.input)?, &target)?,
        Figure::ApproxError(io) => approx::draw(&read_json(&io.input)?, &target)?,
    }
    let report = format!(
        "wrote {} from {}",
        output::display(&io.out),
        patchwork_model::file::display(&io.input)
    );
    if output::is_stdout(&io.out) {
        let png = std::fs::read(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout.write_all(&png).and_then(|()| stdout.flush()) {
            crate::out::exit_on(e)
        }
        eprintln!("{report}");
    } else {
        outln!("{report}");
    }
    Ok(())
}
