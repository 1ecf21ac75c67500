//! `patchwork plan knapsack`: reads a distortion table, solves the seed paper's multiple-choice
//! knapsack (eq. 5, "Knapsack Optimization") exactly for a DReLU budget, and writes the
//! Block-ReLU spec with its DReLU count, distortion and optimality certificate.
//!
//! `patchwork plan knapsack --table T.json (--budget N | --budget-ratio R) --out S.json [--json]`
//!
//! `patchwork plan distortion` and `patchwork plan merge` (in [`distortion`]) measure the table
//! of eq. 4 that the knapsack reads; `patchwork plan calibrate` (in [`calibrate`]) writes the
//! approximate-DReLU window of every comparing layer into a spec.

mod calibrate;
mod distortion;
mod distortion_work;

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{ArgGroup, Args, Subcommand};
use patchwork_planner::budget::Budget;
use patchwork_planner::mckp::SolveOptions;
use patchwork_planner::plan::{plan, PlanError};
use patchwork_planner::table::{DistortionTable, TableError};
use serde::Serialize;

use crate::output;

/// The largest distortion table read (1 GiB).
const MAX_TABLE_BYTES: u64 = 1 << 30;

/// `patchwork plan ...`: offline planning.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Which planning step.
    #[command(subcommand)]
    pub command: PlanCommand,
}

/// Planning steps.
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Choose every channel's Block-ReLU patch size by the exact multiple-choice knapsack.
    Knapsack(KnapsackArgs),
    /// Measure the distortion table (eq. 4) of a model on calibration images.
    Distortion(distortion::DistortionArgs),
    /// Merge shard files of `plan distortion --shard i/n` into one table.
    Merge(distortion::MergeArgs),
    /// Calibrate approximate-DReLU windows per layer on data and write them into the spec.
    Calibrate(calibrate::CalibrateArgs),
}

/// Arguments of `patchwork plan knapsack`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("budget_choice").required(true).args(["budget", "budget_ratio"])))]
pub struct KnapsackArgs {
    /// Distortion table (JSON: layers with channels, height, width, patch_sizes, distortion);
    /// `-` for stdin.
    #[arg(long, value_name = "T.json")]
    pub table: PathBuf,
    /// DReLU budget as a count.
    #[arg(long, value_name = "N")]
    pub budget: Option<u64>,
    /// DReLU budget as a ratio of the table's ReLUs (sum of C*H*W), between 0 and 1.
    #[arg(long, value_name = "R")]
    pub budget_ratio: Option<f64>,
    /// Where to write the spec (core spec format plus drelus, distortion, lower_bound, gap);
    /// `-` for stdout (the summary then goes to stderr).
    #[arg(long, value_name = "S.json")]
    pub out: PathBuf,
    /// Print the summary as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Most DP states the exact search may hold before it stops with a gap (8-24 bytes each).
    #[arg(long, default_value_t = SolveOptions::default().max_states)]
    pub max_states: usize,
}

/// Why `patchwork plan` failed.
#[derive(Debug)]
pub enum PlanCmdError {
    /// Neither `--budget` nor `--budget-ratio` was given.
    NoBudget,
    /// The table cannot be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The table is not a valid distortion table.
    Table {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: TableError,
    },
    /// Planning failed.
    Plan(PlanError),
    /// The spec cannot be written.
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The summary cannot be printed.
    Output(io::Error),
    /// `plan distortion` or `plan merge` failed.
    Distortion(distortion::DistortionCmdError),
    /// `plan calibrate` failed.
    Calibrate(String),
}

impl fmt::Display for PlanCmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanCmdError::NoBudget => write!(f, "give a budget: --budget N or --budget-ratio R"),
            PlanCmdError::Read { path, source } => {
                write!(
                    f,
                    "cannot read distortion table {}: {source}",
                    path.display()
                )
            }
            PlanCmdError::Table { path, source } => write!(f, "{}: {source}", path.display()),
            PlanCmdError::Plan(e) => write!(f, "planning failed: {e}"),
            PlanCmdError::Write { path, source } => {
                write!(f, "cannot write spec {}: {source}", path.display())
            }
            PlanCmdError::Output(e) => write!(f, "cannot print the summary: {e}"),
            PlanCmdError::Distortion(e) => write!(f, "{e}"),
            PlanCmdError::Calibrate(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PlanCmdError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlanCmdError::NoBudget | PlanCmdError::Calibrate(_) => None,
            PlanCmdError::Read { source, .. } | PlanCmdError::Write { source, .. } => Some(source),
            PlanCmdError::Table { source, .. } => Some(source),
            PlanCmdError::Plan(e) => Some(e),
            PlanCmdError::Output(e) => Some(e),
            PlanCmdError::Distortion(e) => Some(e),
        }
    }
}

/// The summary printed after planning (`--json` prints it as is).
#[derive(Debug, Serialize)]
struct Summary<'a> {
    table: &'a Path,
    out: &'a Path,
    layers: usize,
    channels: usize,
    relus: u64,
    budget: u64,
    drelus: u64,
    distortion: f64,
    lower_bound: f64,
    gap: f64,
    proven_optimal: bool,
    core_channels: usize,
    dp_states: usize,
    solve_seconds: f64,
}

/// Runs `patchwork plan`, printing the summary to stdout (quietly ending on a closed pipe).
pub fn run(args: &PlanArgs) -> Result<(), PlanCmdError> {
    match run_to(args, &mut io::stdout().lock()) {
        Err(PlanCmdError::Output(e)) => crate::out::exit_on(e),
        Err(PlanCmdError::Write { path, source }) if output::is_stdout(&path) => {
            crate::out::exit_on(source)
        }
        Err(PlanCmdError::Distortion(distortion::DistortionCmdError::Write { path, source }))
            if output::is_stdout(&path) =>
        {
            crate::out::exit_on(source)
        }
        other => other,
    }
}

/// Runs `patchwork plan`, printing the summary to `out`.
pub fn run_to(args: &PlanArgs, out: &mut dyn Write) -> Result<(), PlanCmdError> {
    match &args.command {
        PlanCommand::Knapsack(k) => knapsack(k, out),
        PlanCommand::Distortion(d) => {
            distortion::distortion(d, out).map_err(PlanCmdError::Distortion)
        }
        PlanCommand::Merge(m) => distortion::merge_cmd(m, out).map_err(PlanCmdError::Distortion),
        PlanCommand::Calibrate(c) => calibrate::calibrate(c, out).map_err(PlanCmdError::Calibrate),
    }
}

fn knapsack(args: &KnapsackArgs, out: &mut dyn Write) -> Result<(), PlanCmdError> {
    let text = patchwork_model::file::read(&args.table, MAX_TABLE_BYTES)
        .and_then(|b| {
            String::from_utf8(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        })
        .map_err(|source| PlanCmdError::Read {
            path: args.table.clone(),
            source,
        })?;
    let table = DistortionTable::from_json(&text).map_err(|source| PlanCmdError::Table {
        path: args.table.clone(),
        source,
    })?;
    let budget = match (args.budget, args.budget_ratio) {
        (Some(n), _) => Budget::DRelus(n),
        (None, Some(r)) => Budget::Ratio(r),
        (None, None) => return Err(PlanCmdError::NoBudget),
    };
    let opts = SolveOptions {
        max_states: args.max_states,
    };
    let start = Instant::now();
    let (plan, solution) = plan(&table, budget, &opts).map_err(PlanCmdError::Plan)?;
    let solve_seconds = start.elapsed().as_secs_f64();
    let json = serde_json::to_string(&plan).map_err(|e| PlanCmdError::Write {
        path: args.out.clone(),
        source: e.into(),
    })?;
    output::write_data(&args.out, &json, out).map_err(|source| PlanCmdError::Write {
        path: args.out.clone(),
        source,
    })?;
    let summary = Summary {
        table: &args.table,
        out: &args.out,
        layers: table.layers.len(),
        channels: table.total_channels(),
        relus: table.total_relus(),
        budget: plan.budget,
        drelus: plan.drelus,
        distortion: plan.distortion,
        lower_bound: plan.lower_bound,
        gap: plan.gap,
        proven_optimal: plan.proven_optimal,
        core_channels: solution.stats.core_classes,
        dp_states: solution.stats.total_states,
        solve_seconds,
    };
    let mut stderr = io::stderr();
    let report = output::report_to(&args.out, out, &mut stderr);
    print_summary(&summary, args.json, report).map_err(PlanCmdError::Output)
}

fn print_summary(s: &Summary, json: bool, out: &mut dyn Write) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, s)?;
        return writeln!(out);
    }
    let pct = |n: u64| 100.0 * n as f64 / s.relus.max(1) as f64;
    writeln!(
        out,
        "{} channels in {} ReLU layers, {} ReLUs",
        s.channels, s.layers, s.relus
    )?;
    writeln!(
        out,
        "budget       {} DReLUs ({:.3}%)",
        s.budget,
        pct(s.budget)
    )?;
    writeln!(out, "DReLUs       {} ({:.3}%)", s.drelus, pct(s.drelus))?;
    writeln!(out, "distortion   {}", s.distortion)?;
    let proof = if s.proven_optimal {
        "proven optimal"
    } else {
        "search stopped at --max-states: not proven optimal"
    };
    writeln!(
        out,
        "lower bound  {} (gap {:e}, {proof})",
        s.lower_bound, s.gap
    )?;
    writeln!(
        out,
        "solved in {:.3} s ({} channels searched, {} DP states)",
        s.solve_seconds, s.core_channels, s.dp_states
    )?;
    writeln!(out, "wrote {}", output::display(s.out))
}
