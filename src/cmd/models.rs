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

use clap::{Args, Subcommand};
use patchwork_model::commands::{self, CommandError};
use patchwork_model::data::fashion::CLASSES;
use patchwork_model::transform::Transforms;

/// Opt-in model transforms, applied after loading and reported on stderr.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct TransformArgs {
    /// Replace every MaxPool by an AvgPool with the same window.
    #[arg(long)]
    pub maxpool_to_avgpool: bool,
    /// Replace every ReLU6 (Clip 0..6) by a ReLU.
    #[arg(long)]
    pub relu6_to_relu: bool,
}

impl TransformArgs {
    /// The selected transforms.
    pub fn transforms(self) -> Transforms {
        Transforms {
            maxpool_to_avgpool: self.maxpool_to_avgpool,
            relu6_to_relu: self.relu6_to_relu,
        }
    }
}

/// `patchwork reference`: float reference forward pass on one input.
#[derive(Args, Debug, Clone)]
pub struct ReferenceArgs {
    /// ONNX model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Input: `.npy` (f32 as is, u8 divided by 255) or `.png` (divided by 255).
    #[arg(long)]
    pub input: PathBuf,
    /// Block-ReLU spec (JSON, see model/SPEC_FORMAT.md).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Print `{"output": [...], "shape": [...]}` instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub transforms: TransformArgs,
}

/// `patchwork architecture`: the public part of a model for P0 and P2.
#[derive(Args, Debug, Clone)]
pub struct ArchitectureArgs {
    /// ONNX model file (P1's, with weights).
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the architecture (`.json`: graph, shapes, operator parameters; no
    /// weights).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub transforms: TransformArgs,
}

/// Runs `patchwork architecture`.
pub fn run_architecture(args: &ArchitectureArgs) -> Result<(), String> {
    if !patchwork_model::architecture::is_architecture_path(&args.out) {
        return Err(format!(
            "{}: the architecture file must end in .json",
            args.out.display()
        ));
    }
    let loaded =
        commands::load(&args.model, args.transforms.transforms()).map_err(|e| e.to_string())?;
    patchwork_model::architecture::write_architecture(&loaded.model, &args.out)
        .map_err(|e| e.to_string())?;
    println!(
        "wrote {}: {} nodes, {} values, no weights (give it to P0 and P2; P1 keeps {})",
        args.out.display(),
        loaded.model.nodes.len(),
        loaded.model.values.len(),
        args.model.display()
    );
    Ok(())
}

/// `patchwork spec ...`.
#[derive(Args, Debug, Clone)]
pub struct SpecArgs {
    #[command(subcommand)]
    pub command: SpecCommand,
}

/// Subcommands of `patchwork spec`.
#[derive(Subcommand, Debug, Clone)]
pub enum SpecCommand {
    /// Validate a spec against a model and print DReLU counts per ReLU layer.
    Stats(SpecStatsArgs),
}

/// `patchwork spec stats`.
#[derive(Args, Debug, Clone)]
pub struct SpecStatsArgs {
    /// ONNX model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Block-ReLU spec (JSON).
    #[arg(long)]
    pub spec: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub transforms: TransformArgs,
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
    /// `fashion-mnist` (10,000 test images), `fashion-mnist-train` (60,000 training images) or
    /// `fashion-mnist-64` (the bundled 64).
    #[arg(long, default_value = "fashion-mnist")]
    pub data: String,
    /// Directory of the Fashion-MNIST IDX files.
    #[arg(long, default_value = patchwork_model::data::fashion::DEFAULT_DIR)]
    pub data_dir: PathBuf,
    /// Evaluate only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub transforms: TransformArgs,
    /// Run every image through secure inference (three parties on this machine) and compare
    /// with the float reference.
    #[arg(long)]
    pub secure: bool,
    #[command(flatten)]
    pub protocol: super::secure::ProtocolArgs,
}

fn load(model: &std::path::Path, t: TransformArgs) -> Result<commands::LoadedModel, CommandError> {
    let loaded = commands::load(model, t.transforms())?;
    for line in &loaded.transforms {
        eprintln!("transform: {line}");
    }
    Ok(loaded)
}

/// Runs `patchwork reference`.
pub fn run_reference(args: &ReferenceArgs) -> Result<(), CommandError> {
    let m = load(&args.model, args.transforms)?.model;
    let spec = args
        .spec
        .as_deref()
        .map(|p| commands::load_checked_spec(&m, p))
        .transpose()?;
    let y = commands::reference(&m, &args.input, spec.as_ref())?;
    if args.json {
        println!("{}", commands::output_json(&y));
    } else {
        println!("shape {:?}", y.shape());
        let values: Vec<f32> = y.iter().copied().collect();
        if values.len() <= 1000 {
            println!("{values:?}");
        } else {
            println!(
                "{:?} ... ({} values; use --json for all)",
                &values[..16],
                values.len()
            );
        }
        if values.len() == 10 {
            let best = (0..10).fold(0, |b, j| if values[j] > values[b] { j } else { b });
            println!("argmax {best} ({} for Fashion-MNIST)", CLASSES[best]);
        }
    }
    Ok(())
}

/// Runs `patchwork spec ...`.
pub fn run_spec(args: &SpecArgs) -> Result<(), CommandError> {
    match &args.command {
        SpecCommand::Stats(a) => run_spec_stats(a),
    }
}

/// Runs `patchwork spec stats`.
pub fn run_spec_stats(args: &SpecStatsArgs) -> Result<(), CommandError> {
    let m = load(&args.model, args.transforms)?.model;
    let spec = commands::load_checked_spec(&m, &args.spec)?;
    let s = commands::spec_stats(&m, &spec).map_err(|source| CommandError::SpecFit {
        path: args.spec.display().to_string(),
        source,
    })?;
    if args.json {
        let layers: Vec<_> = s
            .layers
            .iter()
            .map(|l| {
                serde_json::json!({"name": l.name, "channels": l.channels, "map": l.map, "relu_drelus": l.plain,
                    "spec_drelus": l.with_spec, "ratio": l.ratio(), "identity_channels": l.identity_channels,
                    "zero_channels": l.zero_channels})
            })
            .collect();
        let out = serde_json::json!({"layers": layers, "relu_drelus": s.plain(), "spec_drelus": s.with_spec(), "ratio": s.ratio()});
        println!("{out}");
    } else {
        print!("{}", commands::format_summary(&s));
    }
    Ok(())
}

/// Runs `patchwork eval`.
pub fn run_eval(args: &EvalArgs) -> Result<(), CommandError> {
    let m = load(&args.model, args.transforms)?.model;
    let spec = args
        .spec
        .as_deref()
        .map(|p| commands::load_checked_spec(&m, p))
        .transpose()?;
    let data = commands::load_data(&args.data, &args.data_dir)?;
    if args.secure {
        let empty = patchwork_core::spec::Spec::default();
        let spec = spec.as_ref().unwrap_or(&empty);
        return super::secure::secure_eval(&m, spec, &args.protocol, &data, args.limit)
            .map_err(CommandError::Usage);
    }
    let start = std::time::Instant::now();
    let acc = commands::evaluate(&m, spec.as_ref(), &data, args.limit)?;
    println!(
        "accuracy {:.4} ({}/{}) on {}{} in {:.1?}",
        acc.ratio(),
        acc.correct,
        acc.total,
        args.data,
        if spec.is_some() {
            " with Block-ReLU spec"
        } else {
            ""
        },
        start.elapsed()
    );
    Ok(())
}
