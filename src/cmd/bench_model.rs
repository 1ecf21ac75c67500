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
use patchwork_core::model::spec_check::{drelu_summary, relu_layer_patches};
use patchwork_core::model::Model;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_model::data::npy::{encode_npy, Npy, NpyData};
use patchwork_planner::budget::Budget;
use patchwork_planner::mckp::SolveOptions;
use patchwork_planner::plan::plan;
use patchwork_planner::synth;

use patchwork_net::tcp::session_reaching_via;

use super::launch::{first_failure, party_command, PartyExit};
use super::party_result::PartyRun;
use super::secure::SettingsArgs;
use super::values::{arg_name, comparison_arg, comparison_text, TruncationArg};
use super::wan_link::{parse_link, Link, Relay};

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
    /// Also run over an emulated wide-area link between every pair of parties, e.g.
    /// `rtt=50ms,rate=1gbit` (repeatable; rtt in us/ms/s, rate in kbit/mbit/gbit per second
    /// each way): a relay on loopback that delays and paces every byte, no netem needed. Prints
    /// one row per setting, LAN first, with the estimate LAN compute + rounds x one-way delay +
    /// busiest direction's bytes / rate.
    #[arg(long, value_parser = parse_link, value_name = "rtt=50ms,rate=1gbit")]
    pub link: Vec<Link>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A spec for `ratio` of the model's ReLUs and ReLU6s from a synthetic distortion table (the
/// budget counts patch decisions; a ReLU6's clamp at 6 comes on top).
fn budget_spec(model: &Model, ratio: f64) -> Result<(Spec, u64, u64), String> {
    let mut shapes = Vec::new();
    for (i, node) in model.nodes.iter().enumerate() {
        if node.op.takes_patches() {
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

/// Where the three parties of one benchmark run find everything: the session, the party
/// arguments, P0's input.
struct Setup {
    exe: PathBuf,
    dir: tempfile::TempDir,
    /// P1's model; P0 and P2 run from `architecture`.
    model: PathBuf,
    architecture: PathBuf,
    party_args: Vec<String>,
    input: PathBuf,
}

impl Setup {
    /// Runs the parties once, directly over loopback or (with `link`) each pair through a
    /// relay emulating that link. Returns P0's, P1's and P2's results.
    fn run(&self, link: Option<Link>) -> Result<Vec<PartyRun>, String> {
        let session = self.dir.path().join("session.toml");
        let mut configs = [session.clone(), session.clone(), session.clone()];
        if let Some(link) = link {
            let config =
                patchwork_net::tcp::SessionConfig::load(&session).map_err(|e| e.to_string())?;
            // The lower role dials the higher (P0 dials P1 and P2, P1 dials P2): a relay in
            // front of each listener, and the dialler's session file points at it.
            for (a, b) in [
                (Role::P0, Role::P1),
                (Role::P0, Role::P2),
                (Role::P1, Role::P2),
            ] {
                let listener = config.parties[b.index()].address;
                let relay = Relay::start(listener, link, config.connect_timeout)
                    .map_err(|e| format!("cannot start the link relay: {e}"))?;
                let file = self.dir.path().join(format!("session.p{}.toml", a.index()));
                if configs[a.index()] == session {
                    std::fs::copy(&session, &file).map_err(|e| e.to_string())?;
                }
                session_reaching_via(&file, &file, &[(b, relay.address)])
                    .map_err(|e| e.to_string())?;
                configs[a.index()] = file;
            }
        }
        let spawn = |role: Role| {
            let model = if role == Role::P1 {
                &self.model
            } else {
                &self.architecture
            };
            let config = &configs[role.index()];
            party_command(
                &self.exe,
                role,
                config,
                model,
                &self.party_args,
                &self.input,
            )
            .spawn()
            .map_err(|e| e.to_string())
        };
        let children = [spawn(Role::P0)?, spawn(Role::P1)?, spawn(Role::P2)?];
        let mut exits = Vec::new();
        for child in children {
            exits.push(PartyExit::wait(child)?);
        }
        if let Some(failure) = first_failure(&exits) {
            return Err(failure);
        }
        exits
            .iter()
            .enumerate()
            .map(|(k, exit)| exit.ran().map_err(|e| format!("P{k}: {e}")))
            .collect()
    }
}

/// What one run measured, summed over the parties.
struct Measured {
    /// P0's seconds of the first inference (from its first layer to the revealed output; P1
    /// and P2 may start earlier and wait, so theirs include idle time).
    seconds: f64,
    /// Every inference's seconds, and their median after the first (with `--repeat`).
    repeats: Vec<f64>,
    steady: Option<f64>,
    rounds: u64,
    /// Bytes both ways on P0-P1, P0-P2, P1-P2.
    edges: [f64; 3],
    /// The most bytes sent one way on one link.
    busiest: f64,
    total: f64,
    /// With `--preprocess`, the first inference's offline phase (the rest is then online).
    offline: Option<Offline>,
}

/// An offline phase, over the parties: the slowest party's seconds, all bytes, the most rounds.
#[derive(serde::Serialize)]
struct Offline {
    seconds: f64,
    bytes: f64,
    rounds: u64,
}

impl Offline {
    fn of(results: &[PartyRun]) -> Option<Offline> {
        let phases: Vec<_> = results.iter().filter_map(|r| r.offline.as_ref()).collect();
        (phases.len() == results.len() && !phases.is_empty()).then(|| Offline {
            seconds: phases.iter().map(|o| o.seconds).fold(0.0, f64::max),
            bytes: phases
                .iter()
                .map(|o| o.sent_to.iter().sum::<u64>() as f64)
                .sum(),
            rounds: phases.iter().map(|o| o.rounds).max().unwrap_or(0),
        })
    }
}

impl Measured {
    fn of(results: &[PartyRun]) -> Measured {
        let sent = |from: usize, to: usize| results[from].sent_to[to] as f64;
        let repeats = results[0].repeat_seconds.clone();
        let steady = median(repeats.get(1..).unwrap_or(&[]));
        let directed = [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)];
        Measured {
            seconds: results[0].seconds,
            steady,
            repeats,
            rounds: results.iter().map(|r| r.rounds).max().unwrap_or(0),
            edges: [(0, 1), (0, 2), (1, 2)].map(|(a, b)| sent(a, b) + sent(b, a)),
            busiest: directed
                .iter()
                .map(|&(a, b)| sent(a, b))
                .fold(0.0, f64::max),
            total: results.iter().map(|r| r.bytes_sent as f64).sum(),
            offline: Offline::of(results),
        }
    }

    /// The seconds compared across links: the steady state with `--repeat`, else the first.
    fn typical(&self) -> f64 {
        self.steady.unwrap_or(self.seconds)
    }
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
            "Block-ReLU spec at {:.1}% ({drelus} of {relus} DReLUs",
            100.0 * drelus as f64 / relus as f64
        );
        let clamp: usize = drelu_summary(&model, &spec)
            .map_err(|e| e.to_string())?
            .layers
            .iter()
            .map(|l| l.clamp)
            .sum();
        if clamp > 0 {
            spec_note.push_str(&format!(", plus {clamp} of the ReLU6 clamps at 6"));
        }
        spec_note.push(')');
    }
    party_args.extend(args.settings.to_flags());
    party_args.extend(["--repeat".into(), args.repeat.to_string()]);
    let settings = args.settings.settings(&spec)?;
    // P0 and P2 run from the public architecture, as in a deployment.
    let architecture = dir.path().join("model.arch.json");
    patchwork_model::architecture::write_architecture(&model, &architecture)
        .map_err(|e| e.to_string())?;
    party_args.extend(args.load.to_flags());
    let batch = settings.batch;
    let n = model.shape(model.input).numel() * batch;
    let x: Vec<f32> = (0..n)
        .map(|i| ((i as f32 * 0.618).fract() - 0.5) * 2.0)
        .collect();
    let input = dir.path().join("input.npy");
    let mut shape = model.shape(model.input).0.clone();
    shape[0] = batch;
    let npy = Npy {
        shape,
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
    let setup = Setup {
        exe,
        dir,
        model: args.model.clone(),
        architecture,
        party_args,
        input,
    };
    let results = setup.run(None)?;
    let lan = Measured::of(&results);
    let mut links = Vec::with_capacity(args.link.len());
    for &link in &args.link {
        links.push((link, Measured::of(&setup.run(Some(link))?)));
    }
    let link_rows: Vec<serde_json::Value> = links
        .iter()
        .map(|(link, m)| {
            let (estimate, floor) = estimate(&lan, m, link);
            serde_json::json!({"link": link.to_string(), "rtt_secs": link.rtt.as_secs_f64(),
                "bits_per_sec": link.bits_per_sec, "seconds": m.seconds, "steady_seconds": m.steady,
                "repeat_seconds": m.repeats, "rounds": m.rounds,
                "bytes": {"p0_p1": m.edges[0], "p0_p2": m.edges[1], "p1_p2": m.edges[2], "total": m.total, "busiest_direction": m.busiest},
                "estimate_seconds": estimate, "floor_seconds": floor,
                "images_per_sec": batch as f64 / m.typical(), "offline": m.offline})
        })
        .collect();
    if args.json {
        let summary = serde_json::json!({"model": args.model, "spec": spec_note, "approx": comparison_arg(&settings), "frac_bits": settings.fp.frac_bits(), "truncation": arg_name(&TruncationArg::from(settings.trunc)), "sign": settings.sign.to_string(),
            "seconds": lan.seconds, "bytes": {"p0_p1": lan.edges[0], "p0_p2": lan.edges[1], "p1_p2": lan.edges[2], "total": lan.total},
            "rounds": lan.rounds, "repeat_seconds": lan.repeats, "steady_seconds": lan.steady, "batch": batch,
            "images_per_sec": batch as f64 / lan.typical(), "offline": lan.offline, "parties": results, "links": link_rows});
        outln!("{summary}");
        return Ok(());
    }
    outln!(
        "{} — {spec_note}, {}, {} fractional bits, {}, signs by {}",
        display(&args.model),
        comparison_text(&settings),
        settings.fp.frac_bits(),
        settings.trunc,
        settings.sign
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
        "inference: {:.3} s, {:.3} MB on the wire (P0-P1 {:.3}, P0-P2 {:.3}, P1-P2 {:.3}), {} rounds (set-up, once per session, not included)",
        lan.seconds,
        lan.total / 1e6,
        lan.edges[0] / 1e6,
        lan.edges[1] / 1e6,
        lan.edges[2] / 1e6,
        lan.rounds
    );
    if let Some(o) = &lan.offline {
        outln!(
            "with --preprocess the inference above is the online phase; offline phase (before the input): {:.3} s, {:.3} MB, {} rounds",
            o.seconds,
            o.bytes / 1e6,
            o.rounds
        );
    }
    if batch > 1 {
        outln!(
            "batch of {batch} images in the inference: {:.1} images/s ({:.4} s and {:.3} MB per image)",
            batch as f64 / lan.typical(),
            lan.typical() / batch as f64,
            lan.total / 1e6 / batch as f64
        );
    }
    if let Some(steady) = lan.steady {
        let all: Vec<String> = lan.repeats.iter().map(|s| format!("{s:.3}")).collect();
        outln!(
            "{} inferences in one session: {} s; median after the first: {steady:.3} s",
            lan.repeats.len(),
            all.join(", ")
        );
    }
    if !links.is_empty() {
        print_links(&lan, &links, args.repeat > 1, batch);
    }
    Ok(())
}

/// The estimate of a run over `link` (LAN compute + rounds x one-way delay + the busiest
/// direction's bytes at the rate) and its floor (rounds x one-way delay).
fn estimate(lan: &Measured, m: &Measured, link: &Link) -> (f64, f64) {
    let floor = m.rounds as f64 * link.one_way().as_secs_f64();
    (lan.typical() + floor + link.transfer_secs(m.busiest), floor)
}

/// One row per link setting, LAN first.
fn print_links(lan: &Measured, links: &[(Link, Measured)], steady: bool, batch: usize) {
    outln!(
        "per inference ({}); estimate = LAN compute + rounds x one-way delay + busiest direction's bytes / rate",
        if steady {
            "median after the first of the session"
        } else {
            "the first of the session"
        }
    );
    outln!(
        "{:<24} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "link",
        "seconds",
        "rounds",
        "P0-P1 MB",
        "P0-P2 MB",
        "P1-P2 MB",
        "estimate",
        "floor",
        "images/s",
        "offline s"
    );
    let row = |name: &str, m: &Measured, est: &str, floor: &str| {
        let offline = m
            .offline
            .as_ref()
            .map_or("-".to_string(), |o| format!("{:.3}", o.seconds));
        outln!(
            "{:<24} {:>9.3} {:>7} {:>9.3} {:>9.3} {:>9.3} {:>9} {:>9} {:>9.1} {:>10}",
            name,
            m.typical(),
            m.rounds,
            m.edges[0] / 1e6,
            m.edges[1] / 1e6,
            m.edges[2] / 1e6,
            est,
            floor,
            batch as f64 / m.typical(),
            offline
        )
    };
    row("LAN (loopback)", lan, "-", "-");
    for (link, m) in links {
        let (est, floor) = estimate(lan, m, link);
        row(
            &link.to_string(),
            m,
            &format!("{est:.3}"),
            &format!("{floor:.3}"),
        );
    }
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
