//! `patchwork plan distortion` and `patchwork plan merge`: measure the seed paper's eq. 4
//! distortion table on a model (sharded over channels, resumable layer by layer) and merge
//! shard files into one table for `patchwork plan knapsack`.
//!
//! `patchwork plan distortion --model M.onnx --data fashion-mnist --samples N --out T.json
//!  [--shard i/n] [--max-side 8] [--coarse-blocks 3] [--batch 32] [--backend cpu|cuda]
//!  [--base-spec S.json]`
//!
//! With `--base-spec` the network measured has that spec's Block-ReLUs in place (a model
//! fine-tuned with them), so a smaller budget can be planned from it.
//!
//! While it runs, finished layers are kept in `T.json.partial`; a rerun with the same model,
//! samples, `--max-side` and shard skips them. Without `--shard` `T.json` is the table; with
//! `--shard i/n` (or `--shard slurm` in a Slurm array task; `0/1` and an array of one task
//! included) it is a shard file, and `patchwork plan merge` joins the shards.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::ArrayD;
use patchwork_core::spec::Spec;
use patchwork_model::commands;
use patchwork_model::data::DataSource;
use patchwork_model::digest;

use crate::cmd::data_args::DataArgs;
use crate::cmd::models::LoadArgs;
use patchwork_planner::distortion::candidates::CandidateSides;
use patchwork_planner::distortion::extract::{extract_all, layer_work, relu_layers, Options};
use patchwork_planner::distortion::reduce::{reducer, Backend};
use patchwork_planner::distortion::shard::ShardError;
use patchwork_planner::distortion::shard::{merge, parse_shard, write_atomic, Shard, ShardFile};

use crate::output;
use patchwork_planner::distortion::DistortionError;

/// Where the reduction runs.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BackendArg {
    Cpu,
    Cuda,
}

/// Arguments of `patchwork plan distortion`.
#[derive(Debug, Args)]
pub struct DistortionArgs {
    /// The trained model (ONNX).
    #[arg(long, value_name = "M.onnx")]
    pub model: PathBuf,
    /// Calibration data: its first N images (`fashion-mnist`: of the training split).
    #[command(flatten)]
    pub data: DataArgs,
    /// How the model is loaded: the input shape of symbolic dimensions and the transforms (plan the model the parties will run).
    #[command(flatten)]
    pub load: LoadArgs,
    /// Calibration images N (eq. 4 averages over them).
    #[arg(long, default_value_t = 128)]
    pub samples: usize,
    /// Where to write the table (or, with --shard, the shard file); `-` for stdout (the report
    /// then goes to stderr, and no partial file is kept to resume from).
    #[arg(long, value_name = "T.json", required_unless_present = "dry_run")]
    pub out: Option<PathBuf>,
    /// Print this run's work per layer (the shard's channels, map, candidate patch sizes,
    /// hypothesis-image pairs) and stop: no data is read, nothing measured or written.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the closing report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Measure only shard i of n (0-based): channels C*i/n .. C*(i+1)/n of every layer;
    /// `slurm`: the task's shard of a Slurm job array (`SLURM_ARRAY_TASK_ID` minus
    /// `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`). Writes a shard file for `plan
    /// merge` (even of `0/1`); a shard whose `--out` already holds it complete, from the same
    /// run, is not measured again.
    #[arg(long, value_name = "i/n|slurm")]
    pub shard: Option<String>,
    /// Every patch side up to this one is tried, in both directions.
    #[arg(long, default_value_t = CandidateSides::default().max_side)]
    pub max_side: u16,
    /// Above --max-side, the sides that cut the map into this many even blocks or fewer, down
    /// to the whole map (0: none).
    #[arg(long, default_value_t = CandidateSides::default().coarse_blocks)]
    pub coarse_blocks: u16,
    /// Measure the network with this spec's Block-ReLUs in place instead of the plain model
    /// (for a model fine-tuned with that spec, to plan a smaller budget from it).
    #[arg(long, value_name = "S.json")]
    pub base_spec: Option<PathBuf>,
    /// Hypotheses per batched suffix pass.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Where the squared-distance reduction runs (cuda needs the `cuda` feature and a GPU;
    /// otherwise the CPU is used with a message).
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendArg,
}

/// Arguments of `patchwork plan merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard files written by `plan distortion --shard i/n`.
    #[arg(required = true, value_name = "SHARD.json")]
    pub shards: Vec<PathBuf>,
    /// Where to write the merged table; `-` for stdout (the report then goes to stderr).
    #[arg(long, value_name = "T.json")]
    pub out: PathBuf,
}

/// Why `plan distortion` or `plan merge` failed.
#[derive(Debug)]
pub enum DistortionCmdError {
    Model(String),
    Data(String),
    TooFewImages { asked: usize, have: usize },
    Shard(ShardError),
    BaseSpec(String),
    Distortion(DistortionError),
    Read { path: PathBuf, source: io::Error },
    Resume { path: PathBuf, why: String },
    Write { path: PathBuf, source: io::Error },
    NoOut,
}

impl fmt::Display for DistortionCmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Model(e) => write!(f, "cannot load the model: {e}"),
            Self::Data(e) => write!(f, "{e}"),
            Self::TooFewImages { asked: 0, .. } => write!(f, "--samples must be at least 1"),
            Self::TooFewImages { asked, have } => {
                write!(
                    f,
                    "--samples {asked}, but the calibration data has {have} images"
                )
            }
            Self::Shard(e) => write!(f, "{e}"),
            Self::BaseSpec(e) => write!(f, "--base-spec: {e}"),
            Self::Distortion(e) => write!(f, "distortion extraction failed: {e}"),
            Self::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Resume { path, why } => write!(
                f,
                "{}: a partial file of another run, not resumed ({why}); delete it to start over",
                path.display()
            ),
            Self::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
            Self::NoOut => write!(f, "--out is required (or --dry-run)"),
        }
    }
}

impl std::error::Error for DistortionCmdError {}

/// Runs `patchwork plan distortion`.
pub(super) fn distortion(
    args: &DistortionArgs,
    out: &mut dyn Write,
) -> Result<(), DistortionCmdError> {
    let shard = match args.shard.as_deref() {
        Some("slurm") => slurm_shard(|k| std::env::var(k).ok())?,
        Some(s) => Shard::parse(s).map_err(DistortionCmdError::Shard)?,
        None => Shard::ALL,
    };
    let loaded = commands::load(&args.model, &args.load.options())
        .map_err(|e| DistortionCmdError::Model(e.to_string()))?;
    for line in &loaded.transforms {
        eprintln!("transform: {line}");
    }
    let model = loaded.model;
    let sides = CandidateSides {
        max_side: args.max_side,
        coarse_blocks: args.coarse_blocks,
    };
    let layers = relu_layers(model.model()).map_err(DistortionCmdError::Distortion)?;
    let out_path = match (&args.out, args.dry_run) {
        (_, true) => {
            return super::distortion_work::print(
                &layers,
                sides,
                shard,
                args.samples,
                args.json,
                out,
            )
            .map_err(|source| DistortionCmdError::Write {
                path: "-".into(),
                source,
            })
        }
        (Some(path), false) => path.as_path(),
        (None, false) => return Err(DistortionCmdError::NoOut),
    };
    let input = model.model().shape(model.model().input);
    let source = args.data.source(DataSource::FashionMnistTrain);
    let normalize = args.data.normalize().map_err(DistortionCmdError::Data)?;
    let data = source
        .map_err(DistortionCmdError::Data)?
        .load(&args.data.data_dir, input, normalize, Some(args.samples))
        .map_err(|e| DistortionCmdError::Data(e.to_string()))?;
    if args.samples == 0 || args.samples > data.len() {
        return Err(DistortionCmdError::TooFewImages {
            asked: args.samples,
            have: data.len(),
        });
    }
    let images: Vec<ArrayD<f32>> = (0..args.samples).map(|i| data.input(i)).collect();
    let base = match &args.base_spec {
        Some(path) => crate::cmd::models::load_spec(model.model(), path)
            .map_err(|e| DistortionCmdError::BaseSpec(e.to_string()))?,
        None => Spec::default(),
    };
    let opts = Options {
        sides,
        batch: args.batch,
        shard,
        base: &base,
    };
    let (red, note) = reducer(match args.backend {
        BackendArg::Cpu => Backend::Cpu,
        BackendArg::Cuda => Backend::Cuda,
    });
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    let model_name = args
        .model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fresh = ShardFile {
        model: model_name,
        model_digest: digest::model_digest(&model),
        data_digest: digest::data_digest(&images),
        samples: args.samples,
        sides,
        base_spec: args
            .base_spec
            .as_deref()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned()),
        base_spec_digest: args.base_spec.is_some().then(|| digest::spec_digest(&base)),
        shard: [shard.index, shard.count],
        layers: Vec::new(),
    };
    // A shard file (any --shard) of this run that is complete is not measured again.
    let sharded = args.shard.is_some();
    if sharded && complete(out_path, &fresh, layers.len()) {
        let line = format!(
            "{}: shard {}/{} is already complete for this run; nothing to do",
            out_path.display(),
            shard.index,
            shard.count
        );
        return writeln!(out, "{line}").map_err(|source| DistortionCmdError::Write {
            path: out_path.to_path_buf(),
            source,
        });
    }
    // Writing to stdout (`--out -`) keeps no partial file, so such a run cannot resume.
    let partial = (!output::is_stdout(out_path)).then(|| partial_path(out_path));
    let mut state = match partial.as_deref() {
        Some(p) => resume(p, &fresh)?.unwrap_or(fresh),
        None => fresh,
    };
    let total: u64 = layers
        .iter()
        .filter(|l| !state.layers.iter().any(|d| d.name == l.name))
        .map(|l| layer_work(l, &opts, images.len()))
        .sum();
    let wr = |e: io::Error| DistortionCmdError::Write {
        path: out_path.to_path_buf(),
        source: e,
    };
    let relu6 = layers.iter().filter(|l| l.cap.is_some()).count();
    let relu6 = match relu6 {
        0 => String::new(),
        n => format!(" ({n} of them ReLU6: the Block-ReLU, then the clamp at 6)"),
    };
    let opening = format!(
        "{} ReLU layers{relu6} ({} already done), {} images, backend {}, {} hypothesis-image \
         pairs to go",
        layers.len(),
        state.layers.len(),
        images.len(),
        red.name(),
        total
    );
    if output::is_stdout(out_path) {
        eprintln!("{opening}");
    } else {
        writeln!(out, "{opening}").map_err(wr)?;
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {percent}% eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let start = Instant::now();
    let mut save = |s: &ShardFile| -> Result<(), DistortionError> {
        // A failed partial save only costs resumability; report it and go on.
        if let Some(partial) = &partial {
            let text = serde_json::to_string(s).unwrap_or_default();
            if let Err(e) = write_atomic(partial, &text) {
                bar.suspend(|| eprintln!("warning: cannot save {}: {e}", partial.display()));
            }
        }
        if let Some(l) = s.layers.last() {
            bar.suspend(|| {
                eprintln!(
                    "layer {} done at {:.1} s",
                    l.name,
                    start.elapsed().as_secs_f64()
                )
            });
        }
        Ok(())
    };
    let progress = |n: u64| bar.inc(n);
    extract_all(
        &model,
        &images,
        &opts,
        red.as_ref(),
        &mut state,
        &mut save,
        &progress,
    )
    .map_err(DistortionCmdError::Distortion)?;
    bar.finish_and_clear();
    let text = if !sharded {
        let table =
            merge(&[(out_path.display().to_string(), state)]).map_err(DistortionCmdError::Shard)?;
        serde_json::to_string(&table)
    } else {
        serde_json::to_string(&state)
    }
    .unwrap_or_default();
    output::write_data(out_path, &text, out).map_err(wr)?;
    if let Some(partial) = &partial {
        let _ = std::fs::remove_file(partial);
    }
    let mut stderr = io::stderr();
    let report = output::report_to(out_path, out, &mut stderr);
    let seconds = start.elapsed().as_secs_f64();
    if args.json {
        let summary = serde_json::json!({"out": output::display(out_path),
            "layers": layers.len(), "images": images.len(), "backend": red.name(),
            "shard": [shard.index, shard.count], "seconds": seconds});
        writeln!(report, "{summary}")
    } else {
        writeln!(
            report,
            "wrote {} in {seconds:.1} s",
            output::display(out_path)
        )
    }
    .map_err(wr)
}

/// Runs `patchwork plan merge`.
pub(super) fn merge_cmd(args: &MergeArgs, out: &mut dyn Write) -> Result<(), DistortionCmdError> {
    let mut files = Vec::new();
    for path in &args.shards {
        let text = std::fs::read_to_string(path).map_err(|source| DistortionCmdError::Read {
            path: path.clone(),
            source,
        })?;
        let name = path.display().to_string();
        let shard = parse_shard(&name, &text).map_err(DistortionCmdError::Shard)?;
        files.push((name, shard));
    }
    let table = merge(&files).map_err(DistortionCmdError::Shard)?;
    let wr = |e: io::Error| DistortionCmdError::Write {
        path: args.out.clone(),
        source: e,
    };
    let text = serde_json::to_string(&table).unwrap_or_default();
    output::write_data(&args.out, &text, out).map_err(wr)?;
    let mut stderr = io::stderr();
    writeln!(
        output::report_to(&args.out, out, &mut stderr),
        "merged {} shard files: {} layers, {} channels; wrote {}",
        files.len(),
        table.layers.len(),
        table.total_channels(),
        output::display(&args.out)
    )
    .map_err(wr)
}

/// The shard of this Slurm array task, from the variables `var` reads.
fn slurm_shard(var: impl Fn(&str) -> Option<String>) -> Result<Shard, DistortionCmdError> {
    let read = |name: &str| -> Result<usize, DistortionCmdError> {
        let bad = |what: String| {
            DistortionCmdError::Shard(ShardError::BadShard(format!(
                "slurm: {name} {what} (run it as a task of `sbatch --array=0-N`)"
            )))
        };
        let value = var(name).ok_or_else(|| bad("is not set".into()))?;
        value
            .trim()
            .parse()
            .map_err(|_| bad(format!("is '{value}', not a number")))
    };
    let (id, count) = (
        read("SLURM_ARRAY_TASK_ID")?,
        read("SLURM_ARRAY_TASK_COUNT")?,
    );
    let min = if var("SLURM_ARRAY_TASK_MIN").is_some() {
        read("SLURM_ARRAY_TASK_MIN")?
    } else {
        0
    };
    Shard::parse(&format!("{}/{count}", id.wrapping_sub(min))).map_err(DistortionCmdError::Shard)
}

/// Whether `out` holds this shard of this run with all `layers` layers (a rerun of a task
/// that already finished, e.g. the whole array submitted again).
fn complete(out: &Path, fresh: &ShardFile, layers: usize) -> bool {
    let Ok(text) = std::fs::read_to_string(out) else {
        return false;
    };
    parse_shard(&out.display().to_string(), &text).is_ok_and(|done| {
        done.differs_from(fresh).is_none()
            && done.shard == fresh.shard
            && done.layers.len() == layers
    })
}

/// `T.json.partial`.
fn partial_path(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

/// The partial state of this run, if one was saved. A partial file of another run (another
/// model, data, candidate sides, base spec or shard) is refused with the reason, so that no
/// layer measured on something else is reused; it is left as it is.
fn resume(partial: &Path, fresh: &ShardFile) -> Result<Option<ShardFile>, DistortionCmdError> {
    let text = match std::fs::read_to_string(partial) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(DistortionCmdError::Read {
                path: partial.to_path_buf(),
                source,
            })
        }
    };
    let refuse = |why: String| DistortionCmdError::Resume {
        path: partial.to_path_buf(),
        why,
    };
    let state =
        parse_shard(&partial.display().to_string(), &text).map_err(|e| refuse(e.to_string()))?;
    if let Some(why) = state.differs_from(fresh) {
        return Err(refuse(why));
    }
    if state.shard != fresh.shard {
        let [i, n] = state.shard;
        return Err(refuse(format!("it is shard {i}/{n}")));
    }
    Ok(Some(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = list
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn slurm_shards_come_from_the_array_variables() {
        let s = slurm_shard(vars(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .unwrap();
        assert_eq!((s.index, s.count), (3, 4));
        // An array 1-4 is shards 0..3.
        let s = slurm_shard(vars(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .unwrap();
        assert_eq!((s.index, s.count), (0, 4));
        let e = slurm_shard(vars(&[("SLURM_ARRAY_TASK_COUNT", "4")])).unwrap_err();
        assert!(
            e.to_string().contains("SLURM_ARRAY_TASK_ID is not set"),
            "{e}"
        );
        let e = slurm_shard(vars(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("4/4"), "{e}");
    }
}
