//! Model subcommands of the `patchwork` CLI: `reference`, `spec stats`, `architecture` and `eval`.
//!
//! Each has a clap argument struct and a `run_*` function returning `Result`; `main.rs` wires
//! them in. The work itself lives in `patchwork_model::commands`.
//!
//! ```text
//! patchwork reference --model M.onnx --input X.npy|X.png [--spec S.json] [--json]
//! patchwork spec stats --model M.onnx --spec S.json [--json]
//! patchwork eval --model M.onnx [--spec S.json] --data fashion-mnist [--limit N]
//! ```

use std::path::PathBuf;

use crate::output;
use clap::{Args, Subcommand};
use patchwork_core::infer::argmax;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::TrainedModel;
use patchwork_model::commands::{self, CommandError};
use patchwork_model::data::DataSource;

use super::data_args::DataArgs;
use super::secure::list;
use super::windows_report::{mean_bits, window_rows, write_table};
use patchwork_core::model::Shape;
use patchwork_model::commands::LoadOptions;
use patchwork_model::transform::Transforms;

/// How every command loads a model: the input shape of symbolic dimensions, and opt-in
/// transforms applied after loading and reported on stderr.
#[derive(Args, Debug, Clone, Default)]
pub struct LoadArgs {
    /// The input shape `N,C,H,W` for a model whose input has symbolic dimensions (batch 1;
    /// fixed dimensions must agree). One model then runs at any image size.
    #[arg(long, value_name = "N,C,H,W", value_parser = parse_shape)]
    pub input_shape: Option<Shape>,
    /// Replace every MaxPool by an AvgPool with the same window.
    #[arg(long)]
    pub maxpool_to_avgpool: bool,
    /// Replace every ReLU6 (Clip 0..6) by a ReLU.
    #[arg(long)]
    pub relu6_to_relu: bool,
}

/// Parses `N,C,H,W` (positive integers).
fn parse_shape(s: &str) -> Result<Shape, String> {
    let dims = s
        .split(',')
        .map(|d| match d.trim().parse::<usize>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(format!("'{s}': expected positive integers N,C,H,W")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Shape(dims))
}

impl LoadArgs {
    /// The flags that load the model the same way (for party processes).
    pub fn to_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if let Some(shape) = &self.input_shape {
            let dims: Vec<String> = shape.0.iter().map(usize::to_string).collect();
            flags.extend(["--input-shape".to_string(), dims.join(",")]);
        }
        if self.maxpool_to_avgpool {
            flags.push("--maxpool-to-avgpool".to_string());
        }
        if self.relu6_to_relu {
            flags.push("--relu6-to-relu".to_string());
        }
        flags
    }

    /// The selected options.
    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            input_shape: self.input_shape.clone(),
            transforms: Transforms {
                maxpool_to_avgpool: self.maxpool_to_avgpool,
                relu6_to_relu: self.relu6_to_relu,
            },
        }
    }
}

/// `patchwork reference`: float reference forward pass on one input.
#[derive(Args, Debug, Clone)]
pub struct ReferenceArgs {
    /// ONNX model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Input: `.npy` (float32 or float64 as they are, uint8 divided by 255) or a grey or RGB
    /// `.png`/`.jpg` (divided by 255).
    #[arg(long)]
    pub input: PathBuf,
    /// Block-ReLU spec (JSON, see model/SPEC_FORMAT.md).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Print `{"output": [...], "shape": [...]}` instead of text.
    #[arg(long)]
    pub json: bool,
    /// How the model is loaded: the input shape of symbolic dimensions and the transforms.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// `patchwork architecture`: the public part of a model for P0 and P2.
#[derive(Args, Debug, Clone)]
pub struct ArchitectureArgs {
    /// ONNX model file (P1's, with weights).
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the architecture (`.json`: graph, shapes, operator parameters; no
    /// weights); `-` for stdout (the report then goes to stderr).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// How the model is loaded: the input shape of symbolic dimensions and the transforms.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// Runs `patchwork architecture`.
pub fn run_architecture(args: &ArchitectureArgs) -> Result<(), String> {
    if !output::is_stdout(&args.out)
        && !patchwork_model::architecture::is_architecture_path(&args.out)
    {
        return Err(format!(
            "{}: the architecture file must end in .json",
            args.out.display()
        ));
    }
    let loaded = commands::load(&args.model, &args.load.options()).map_err(|e| e.to_string())?;
    let (model, _weights) = loaded.model.into_parts();
    let json = patchwork_model::architecture::architecture_json(&model)
        .map_err(|e| format!("{}: {e}", output::display(&args.out)))?;
    let stdout = &mut std::io::stdout().lock();
    output::write_data(&args.out, &json, stdout).map_err(|e| match e.kind() {
        std::io::ErrorKind::BrokenPipe => crate::out::exit_on(e),
        _ => format!("{}: {e}", output::display(&args.out)),
    })?;
    let (nodes, values) = (model.nodes.len(), model.values.len());
    let report = if args.json {
        serde_json::json!({"out": output::display(&args.out), "nodes": nodes, "values": values,
            "transforms": loaded.transforms})
        .to_string()
    } else {
        format!(
            "wrote {}: {nodes} nodes, {values} values, no weights (give it to P0 and P2; P1 keeps {})",
            output::display(&args.out),
            args.model.display()
        )
    };
    if output::is_stdout(&args.out) {
        eprintln!("{report}");
    } else {
        outln!("{report}");
    }
    Ok(())
}

/// `patchwork spec ...`.
#[derive(Args, Debug, Clone)]
pub struct SpecArgs {
    /// Which spec tool.
    #[command(subcommand)]
    pub command: SpecCommand,
}

/// Subcommands of `patchwork spec`.
#[derive(Subcommand, Debug, Clone)]
pub enum SpecCommand {
    /// Validate a spec against a model and print DReLU counts per ReLU layer.
    Stats(SpecStatsArgs),
    /// Write a spec with one patch size for every channel of every ReLU layer.
    Uniform(super::spec_uniform::SpecUniformArgs),
}

/// `patchwork spec stats`.
#[derive(Args, Debug, Clone)]
pub struct SpecStatsArgs {
    /// ONNX model file, or its architecture file (`.json`: the counts need no weights).
    #[arg(long)]
    pub model: PathBuf,
    /// Block-ReLU spec (JSON).
    #[arg(long)]
    pub spec: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// How the model is loaded: the input shape of symbolic dimensions and the transforms.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// `patchwork eval`: plaintext float accuracy.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// ONNX model file (10 class scores out).
    #[arg(long)]
    pub model: PathBuf,
    /// Block-ReLU spec (JSON).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// The labelled images to evaluate on (`fashion-mnist`: the test split).
    #[command(flatten)]
    pub data: DataArgs,
    /// Evaluate only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// How the model is loaded: the input shape of symbolic dimensions and the transforms.
    #[command(flatten)]
    pub load: LoadArgs,
    /// Run every image through secure inference (three parties on this machine) and compare
    /// with the float reference.
    #[arg(long)]
    pub secure: bool,
    /// The settings and network of `--secure`.
    #[command(flatten)]
    pub protocol: super::secure::ProtocolArgs,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Loads a spec checked against `model`, with a note on stderr for every layer whose patches
/// are larger than its map at this model's size and were clamped.
pub fn load_spec(
    model: &patchwork_core::model::Model,
    path: &std::path::Path,
) -> Result<patchwork_core::spec::Spec, CommandError> {
    let spec = commands::load_checked_spec(model, path)?;
    for note in patchwork_core::model::spec_check::clamped_patches(model, &spec) {
        eprintln!("note: {}: {note}", path.display());
    }
    Ok(spec)
}

/// Prints the transforms applied to a loaded model on stderr.
fn reported<M>(loaded: commands::Loaded<M>) -> M {
    for line in &loaded.transforms {
        eprintln!("transform: {line}");
    }
    loaded.model
}

/// The ONNX model with its weights, transforms applied and reported.
pub(crate) fn load(model: &std::path::Path, t: &LoadArgs) -> Result<TrainedModel, CommandError> {
    Ok(reported(commands::load(model, &t.options())?))
}

/// Runs `patchwork reference`.
pub fn run_reference(args: &ReferenceArgs) -> Result<(), CommandError> {
    let m = load(&args.model, &args.load)?;
    let spec = args
        .spec
        .as_deref()
        .map(|p| load_spec(m.model(), p))
        .transpose()?;
    let y = commands::reference(&m, &args.input, spec.as_ref())?;
    if args.json {
        outln!("{}", commands::output_json(&y));
    } else {
        outln!("shape {}", list(y.shape()));
        let values: Vec<f32> = y.iter().copied().collect();
        if values.len() <= 1000 {
            outln!("{}", list(&values));
        } else {
            outln!(
                "{} ... ({} values; use --json for all)",
                list(&values[..16]),
                values.len()
            );
        }
        if values.len() > 1 && values.len() == y.shape().iter().product::<usize>() {
            outln!("argmax {}", argmax(&values));
        }
    }
    Ok(())
}

/// Runs `patchwork spec ...`.
pub fn run_spec(args: &SpecArgs) -> Result<(), CommandError> {
    match &args.command {
        SpecCommand::Stats(a) => run_spec_stats(a),
        SpecCommand::Uniform(a) => super::spec_uniform::run(a).map_err(CommandError::Usage),
    }
}

/// Runs `patchwork spec stats`.
pub fn run_spec_stats(args: &SpecStatsArgs) -> Result<(), CommandError> {
    let m = reported(commands::load_public(&args.model, &args.load.options())?);
    let spec = load_spec(&m, &args.spec)?;
    let s = commands::spec_stats(&m, &spec).map_err(|source| CommandError::SpecFit {
        path: args.spec.display().to_string(),
        source,
    })?;
    let windows = match &spec.calibration {
        Some(c) => {
            let resolved =
                ResolvedSpec::new(&m, &spec).map_err(|source| CommandError::SpecFit {
                    path: args.spec.display().to_string(),
                    source,
                })?;
            Some((c, window_rows(&m, &resolved, c)))
        }
        None => None,
    };
    if args.json {
        let layers: Vec<_> = s
            .layers
            .iter()
            .map(|l| {
                serde_json::json!({"name": l.name, "channels": l.channels, "map": l.map, "relu_drelus": l.plain,
                    "spec_drelus": l.with_spec, "clamp_drelus": l.clamp, "ratio": l.ratio(), "identity_channels": l.identity_channels,
                    "zero_channels": l.zero_channels})
            })
            .collect();
        let mut out = serde_json::json!({"layers": layers, "relu_drelus": s.plain(), "spec_drelus": s.with_spec(), "ratio": s.ratio()});
        if let Some((c, rows)) = &windows {
            out["windows"] = serde_json::json!({"frac_bits": c.frac_bits, "margin": c.margin,
                "max_error": c.max_error, "images": c.images, "layers": rows, "mean_bits": mean_bits(rows)});
        }
        outln!("{out}");
    } else {
        out!("{}", commands::format_summary(&s));
        match &windows {
            Some((c, rows)) => {
                outln!(
                    "\napproximate-DReLU windows calibrated on {} images at {} fractional bits \
                     (margin {}x, error budget {:e} per layer):",
                    c.images,
                    c.frac_bits,
                    c.margin,
                    c.max_error
                );
                let mut text = Vec::new();
                write_table(rows, &mut text).map_err(|e| CommandError::Usage(e.to_string()))?;
                out!("{}", String::from_utf8_lossy(&text));
            }
            None => outln!(
                "\nno calibrated approximate-DReLU windows (`patchwork plan calibrate` adds them)"
            ),
        }
    }
    Ok(())
}

/// Runs `patchwork eval`.
pub fn run_eval(args: &EvalArgs) -> Result<(), CommandError> {
    let m = load(&args.model, &args.load)?;
    let spec = args
        .spec
        .as_deref()
        .map(|p| load_spec(m.model(), p))
        .transpose()?;
    let input = m.model().shape(m.model().input);
    let source = args.data.source(DataSource::FashionMnistTest);
    let normalize = args.data.normalize().map_err(CommandError::Usage)?;
    let data = source.map_err(CommandError::Usage)?.load(
        &args.data.data_dir,
        input,
        normalize,
        args.limit,
    )?;
    if args.secure {
        let empty = patchwork_core::spec::Spec::default();
        let spec = spec.as_ref().unwrap_or(&empty);
        return super::secure::secure_eval(&m, spec, &args.protocol, &data, args.limit, args.json)
            .map_err(CommandError::Usage);
    }
    let start = std::time::Instant::now();
    let acc = commands::evaluate(&m, spec.as_ref(), &data, args.limit)?;
    let seconds = start.elapsed().as_secs_f64();
    if args.json {
        let out = serde_json::json!({"data": args.data.name(), "spec": spec.is_some(),
            "accuracy": acc.ratio(), "correct": acc.correct, "total": acc.total, "seconds": seconds});
        outln!("{out}");
        return Ok(());
    }
    outln!(
        "accuracy {:.4} ({}/{}) on {}{} in {seconds:.1} s",
        acc.ratio(),
        acc.correct,
        acc.total,
        args.data.name(),
        if spec.is_some() {
            " with Block-ReLU spec"
        } else {
            ""
        },
    );
    Ok(())
}
