//! `patchwork plan calibrate`: measures what every comparing node of a model compares on real
//! data (ReLU and Block-ReLU patch sums, ReLU6, MaxPool differences) and writes a window per
//! node into the spec ([`patchwork_planner::calibrate`]), so that approximate DReLU (seed paper,
//! "Approximate DReLU") holds each layer's range instead of the paper's fixed (43, 5).
//!
//! `patchwork plan calibrate --model M.onnx [--spec S.json] --data D --samples N
//!  [--frac-bits 12] [--margin 4] [--max-error 1e-4] --out C.json [--json]`

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::spec::{Calibration, Spec};
use patchwork_model::commands;
use patchwork_model::data::DataSource;
use patchwork_planner::calibrate::{Calibrator, WindowRule};

use crate::cmd::data_args::DataArgs;
use crate::cmd::models::LoadArgs;
use crate::cmd::windows_report::{mean_bits, window_rows, write_table, WindowRow};
use crate::output;

/// Arguments of `patchwork plan calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The trained model (ONNX), as the parties will run it.
    #[arg(long, value_name = "M.onnx")]
    pub model: PathBuf,
    /// The Block-ReLU spec the windows are for (its patch sums are what is compared); without
    /// one, plain ReLU. The output is this spec with the windows written in.
    #[arg(long, value_name = "S.json")]
    pub spec: Option<PathBuf>,
    /// Calibration data: its first N images (`fashion-mnist`: of the training split).
    #[command(flatten)]
    pub data: DataArgs,
    /// How the model is loaded: the input shape of symbolic dimensions and the transforms.
    #[command(flatten)]
    pub load: LoadArgs,
    /// Calibration images N.
    #[arg(long, default_value_t = 64)]
    pub samples: usize,
    /// Fractional bits of the runs the windows are for.
    #[arg(long, default_value_t = 12)]
    pub frac_bits: u32,
    /// Each window holds this many times the largest magnitude measured (headroom for
    /// inputs beyond the calibration data and for fixed-point error).
    #[arg(long, default_value_t = 4.0)]
    pub margin: f64,
    /// Per layer, the expected fraction of comparisons that dropping low bits may get wrong on
    /// the calibration data (0: no low bit dropped; a Block-ReLU decision flipped near zero
    /// can still move a whole patch, so a network with small class margins wants 0).
    #[arg(long, default_value_t = 1e-4)]
    pub max_error: f64,
    /// Where to write the spec with its windows; `-` for stdout (the report then goes to
    /// stderr).
    #[arg(long, value_name = "C.json")]
    pub out: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `patchwork plan calibrate`.
pub(super) fn calibrate(args: &CalibrateArgs, out: &mut dyn Write) -> Result<(), String> {
    let fp = FixedPoint::new(args.frac_bits).ok_or("--frac-bits must be at most 32")?;
    if !(args.margin.is_finite() && args.margin >= 1.0) {
        return Err(format!("--margin {}: must be at least 1", args.margin));
    }
    if !(0.0..1.0).contains(&args.max_error) {
        return Err(format!("--max-error {}: must be in [0, 1)", args.max_error));
    }
    let loaded = commands::load(&args.model, &args.load.options()).map_err(|e| e.to_string())?;
    for line in &loaded.transforms {
        eprintln!("transform: {line}");
    }
    let trained = loaded.model;
    let model = trained.model();
    // The spec as written (knapsack fields kept), and as checked against the model.
    let (mut doc, spec) = match &args.spec {
        Some(path) => {
            let spec = crate::cmd::models::load_spec(model, path).map_err(|e| e.to_string())?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let doc: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            (doc, spec)
        }
        None => (serde_json::json!({"layers": []}), Spec::default()),
    };
    let resolved = ResolvedSpec::new(model, &spec).map_err(|e| e.to_string())?;
    let source = args.data.source(DataSource::FashionMnistTrain)?;
    let data = source
        .load(
            &args.data.data_dir,
            model.shape(model.input),
            args.data.normalize()?,
            Some(args.samples),
        )
        .map_err(|e| e.to_string())?;
    if args.samples == 0 || args.samples > data.len() {
        return Err(format!(
            "--samples {}: the calibration data has {} images (at least 1 needed)",
            args.samples,
            data.len()
        ));
    }
    let bar = indicatif::ProgressBar::new(args.samples as u64);
    let mut calibrator = Calibrator::new(&trained, &resolved, fp);
    for i in 0..args.samples {
        calibrator
            .add_image(&data.input(i))
            .map_err(|e| format!("image {i}: {e}"))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let calibration = calibrator
        .finish(WindowRule {
            fp,
            margin: args.margin,
            max_error: args.max_error,
        })
        .map_err(|e| e.to_string())?;
    doc["calibration"] = serde_json::to_value(&calibration).map_err(|e| e.to_string())?;
    let text = serde_json::to_string(&doc).map_err(|e| e.to_string())?;
    output::write_data(&args.out, &text, out)
        .map_err(|e| format!("cannot write {}: {e}", output::display(&args.out)))?;
    let mut stderr = io::stderr();
    let report = output::report_to(&args.out, out, &mut stderr);
    let rows = window_rows(model, &resolved, &calibration);
    print_report(args, &calibration, &rows, report).map_err(|e| e.to_string())
}

fn print_report(
    args: &CalibrateArgs,
    c: &Calibration,
    rows: &[WindowRow],
    out: &mut dyn Write,
) -> io::Result<()> {
    if args.json {
        let v = serde_json::json!({"out": output::display(&args.out), "frac_bits": c.frac_bits,
            "margin": c.margin, "max_error": c.max_error, "images": c.images, "layers": rows,
            "mean_bits": mean_bits(rows)});
        return writeln!(out, "{v}");
    }
    writeln!(
        out,
        "windows for {} comparing nodes from {} images, {} fractional bits, margin {}x, \
         error budget {:e} per layer",
        rows.len(),
        c.images,
        c.frac_bits,
        c.margin,
        c.max_error
    )?;
    write_table(rows, out)?;
    writeln!(out, "wrote {}", output::display(&args.out))
}
