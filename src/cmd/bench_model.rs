//! `patchwork bench model`: one secure inference of a whole model with the three parties as
//! three `patchwork party` processes over authenticated TLS on loopback, reporting seconds,
//! bytes per party, rounds and peak memory per party.
//!
//! With `--budget-ratio`, a valid Block-ReLU spec for that DReLU budget is planned first with
//! the knapsack over a *synthetic* distortion table of the model's ReLU layers (the planner's
//! `synth` tables: distortion grows with patch area). Its patch sizes are right for the cost,
//! not for accuracy: the benchmark measures speed and traffic, with random weights.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;
use patchwork_core::model::spec_check::relu_layer_patches;
use patchwork_core::model::{Model, Op};
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_model::data::npy::{encode_npy, Npy, NpyData};
use patchwork_planner::budget::Budget;
use patchwork_planner::mckp::SolveOptions;
use patchwork_planner::plan::plan;
use patchwork_planner::synth;

use super::launch::party_command;
use super::party_result::PartyResult;
use super::secure::SettingsArgs;
use super::values::{arg_name, comparison_arg, comparison_text, TruncationArg};

/// Arguments of `bench model`.
#[derive(Args, Debug, Clone)]
pub struct BenchModelArgs {
    /// ONNX model.
    #[arg(long)]
    pub model: PathBuf,
    /// Plan a Block-ReLU spec for this DReLU budget (ratio of all ReLUs) first.
    #[arg(long)]
    pub budget_ratio: Option<f64>,
    /// The fixed point, comparison, truncation and timeout.
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// How the model is loaded: the input shape of symbolic dimensions and the transforms (every party applies the same).
    #[command(flatten)]
    pub load: super::models::LoadArgs,
    /// Inferences in the one session (the first one is reported; with more, the steady
    /// state of a long-lived session is reported too: every inference's seconds and their
    /// median after the first).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A spec for `ratio` of the model's ReLUs from a synthetic distortion table.
fn budget_spec(model: &Model, ratio: f64) -> Result<(Spec, u64, u64), String> {
    let mut shapes = Vec::new();
    for (i, node) in model.nodes.iter().enumerate() {
        if matches!(node.op, Op::Relu) {
            let (_, (channels, height, width)) =
                relu_layer_patches(model, i, &Spec::default()).map_err(|e| e.to_string())?;
            shapes.push(synth::Shape {
                name: node.name.clone(),
                channels,
                height,
                width,
            });
        }
    }
    let table = synth::table(&shapes, 1);
    let (plan, _) =
        plan(&table, Budget::Ratio(ratio), &SolveOptions::default()).map_err(|e| e.to_string())?;
    Ok((plan.spec, plan.drelus, table.total_relus()))
}

/// Runs `bench model`.
pub fn run(args: &BenchModelArgs) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let model = patchwork_model::commands::load_public(&args.model, &args.load.options())
        .map_err(|e| e.to_string())?
        .model;
    // The transformed model is what the parties run: write it as the spec's reference by
    // passing the same transform flag to every party.
    let mut party_args: Vec<String> = Vec::new();
    let mut spec_note = String::from("plain ReLU");
    let mut spec = patchwork_core::spec::Spec::default();
    if let Some(r) = args.budget_ratio {
        let drelus;
        let relus;
        (spec, drelus, relus) = budget_spec(&model, r)?;
        let path = dir.path().join("spec.json");
        let json = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
        std::fs::write(&path, json).map_err(|e| e.to_string())?;
        party_args.extend(["--spec".into(), path.display().to_string()]);
        spec_note = format!(
            "Block-ReLU spec at {:.1}% ({drelus} of {relus} DReLUs)",
            100.0 * drelus as f64 / relus as f64
        );
    }
    party_args.extend(args.settings.to_flags());
    party_args.extend(["--repeat".into(), args.repeat.to_string()]);
    let settings = args.settings.settings(&spec)?;
    // P0 and P2 run from the public architecture, as in a deployment.
    let architecture = dir.path().join("model.arch.json");
    patchwork_model::architecture::write_architecture(&model, &architecture)
        .map_err(|e| e.to_string())?;
    party_args.extend(args.load.to_flags());
    let n = model.shape(model.input).numel();
    let x: Vec<f32> = (0..n)
        .map(|i| ((i as f32 * 0.618).fract() - 0.5) * 2.0)
        .collect();
    let input = dir.path().join("input.npy");
    let npy = Npy {
        shape: model.shape(model.input).0.clone(),
        data: NpyData::F32(x),
    };
    std::fs::write(&input, encode_npy(&npy)).map_err(|e| e.to_string())?;
    let status = Command::new(&exe)
        .args(["session", "loopback", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .status();
    if !status.map(|s| s.success()).unwrap_or(false) {
        return Err("could not write the loopback session".into());
    }
    let config = dir.path().join("session.toml");
    let spawn = |role| {
        let model = if role == Role::P1 {
            &args.model
        } else {
            &architecture
        };
        party_command(&exe, role, &config, model, &party_args, &input)
            .spawn()
            .map_err(|e| e.to_string())
    };
    let children = [spawn(Role::P0)?, spawn(Role::P1)?, spawn(Role::P2)?];
    let mut results = Vec::new();
    for (k, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "P{k} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        results.push(
            PartyResult::parse(&stdout)
                .and_then(PartyResult::ran)
                .map_err(|e| format!("P{k}: {e}"))?,
        );
    }
    // The client's latency: P0's clock runs from its first layer to the revealed output (P1
    // and P2 may start earlier and wait, so theirs include idle time).
    let seconds = results[0].seconds;
    let bytes = results.iter().map(|r| r.bytes_sent as f64).sum::<f64>();
    let rounds = results.iter().map(|r| r.rounds).max().unwrap_or(0);
    let sent = |from: usize, to: usize| results[from].sent_to[to] as f64;
    let edges = [(0, 1), (0, 2), (1, 2)].map(|(a, b)| sent(a, b) + sent(b, a));
    let repeats = results[0].repeat_seconds.clone();
    let steady = median(repeats.get(1..).unwrap_or(&[]));
    if args.json {
        let summary = serde_json::json!({"model": args.model, "spec": spec_note, "approx": comparison_arg(&settings), "frac_bits": settings.fp.frac_bits(), "truncation": arg_name(&TruncationArg::from(settings.trunc)),
            "seconds": seconds, "bytes": {"p0_p1": edges[0], "p0_p2": edges[1], "p1_p2": edges[2], "total": bytes},
            "rounds": rounds, "repeat_seconds": repeats, "steady_seconds": steady, "parties": results});
        outln!("{summary}");
        return Ok(());
    }
    outln!(
        "{} — {spec_note}, {}, {} fractional bits, {}",
        display(&args.model),
        comparison_text(&settings),
        settings.fp.frac_bits(),
        settings.trunc
    );
    outln!(
        "{:<6} {:>10} {:>14} {:>14} {:>16}",
        "party",
        "seconds",
        "sent MB",
        "set-up MB",
        "peak memory MB"
    );
    for r in &results {
        let peak = r
            .peak_rss_bytes
            .map_or("-".to_string(), |b| format!("{:.1}", b as f64 / 1e6));
        outln!(
            "{:<6} {:>10.3} {:>14.3} {:>14.3} {:>16}",
            arg_name(&r.role),
            r.seconds,
            r.bytes_sent as f64 / 1e6,
            r.setup_bytes_sent as f64 / 1e6,
            peak
        );
    }
    outln!(
        "inference: {seconds:.3} s, {:.3} MB on the wire (P0-P1 {:.3}, P0-P2 {:.3}, P1-P2 {:.3}), {rounds} rounds (set-up, once per session, not included)",
        bytes / 1e6,
        edges[0] / 1e6,
        edges[1] / 1e6,
        edges[2] / 1e6
    );
    if let Some(steady) = steady {
        let all: Vec<String> = repeats.iter().map(|s| format!("{s:.3}")).collect();
        outln!(
            "{} inferences in one session: {} s; median after the first: {steady:.3} s",
            repeats.len(),
            all.join(", ")
        );
    }
    Ok(())
}

/// The median of `v`, `None` when empty.
fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
