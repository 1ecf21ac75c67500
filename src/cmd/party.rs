//! `patchwork party`: one party as its own process, over an authenticated TCP session (or, for
//! P0, a session with a running service), and `patchwork session loopback`: identities and a
//! session file for three parties on 127.0.0.1.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use patchwork_core::held::Held;
use patchwork_core::infer::classes;
use patchwork_core::infer::Settings;
use patchwork_core::model::{Model, Weights};
use patchwork_core::party::Party;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_model::commands;
use patchwork_net::secure::run::run_party;
use patchwork_net::service::loopback::loopback_service;
use patchwork_net::service::ServiceLimits;
use patchwork_net::service::{infer_remote, DEFAULT_MAX_SESSIONS};
use patchwork_net::tcp::{connect, loopback_config, SessionConfig};

use super::party_result::{OfflinePhase, PartyFailure, PartyResult, PartyRun};
use super::secure::{batch_input, load_spec_for, SettingsArgs};
use super::values::RoleArg;

/// What every party must agree on: the model's architecture, the spec and the settings.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// The model. P1: the ONNX file (its weights are P1's secret). P0 and P2: the public
    /// architecture file written by `patchwork architecture` (`.json`, no weights), or the ONNX
    /// file, whose weights they never read.
    #[arg(long)]
    pub model: PathBuf,
    /// Block-ReLU spec (public; all three parties must use the same one).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// The fixed point, comparison, truncation and timeout.
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// How the model is loaded: the input shape of symbolic dimensions and the transforms.
    #[command(flatten)]
    pub load: super::models::LoadArgs,
}

impl ModelArgs {
    /// Loads the model as `role` needs it: the architecture, and for P1 alone the weights
    /// (P0 and P2 drop an ONNX file's at once); the spec and the settings.
    pub fn load(&self, role: Role) -> Result<(Model, Option<Weights>, Spec, Settings), String> {
        let transforms = self.load.options();
        let (model, weights, spec) = match role {
            Role::P1 => {
                let trained = commands::load(&self.model, &transforms)
                    .map_err(|e| e.to_string())?
                    .model;
                let spec = load_spec_for(trained.model(), self.spec.as_deref())?;
                // P1 alone has the weights its spec's windows were calibrated on.
                commands::check_calibration(&trained, &spec).map_err(|e| e.to_string())?;
                let (model, weights) = trained.into_parts();
                (model, Some(weights), spec)
            }
            _ => {
                let loaded =
                    commands::load_public(&self.model, &transforms).map_err(|e| e.to_string())?;
                let spec = load_spec_for(&loaded.model, self.spec.as_deref())?;
                (loaded.model, None, spec)
            }
        };
        let settings = self.settings.settings(&spec)?;
        Ok((model, weights, spec, settings))
    }
}

/// `patchwork party`.
#[derive(Args, Debug, Clone)]
pub struct PartyArgs {
    /// This party's role.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Session file (TOML): the three parties' addresses and pinned certificates, and this
    /// party's own key (see `patchwork session loopback`).
    #[arg(long)]
    pub config: PathBuf,
    /// The model, spec and settings every party must agree on.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Input (`.npy`, `.png` or `.jpg`; P0 only). An `.npy` of `N x C x H x W` holds N
    /// images, and `--input` may be repeated: all the images run as one batch, in one
    /// inference (P1 and P2 pass `--batch` with their number).
    #[arg(long)]
    pub input: Vec<PathBuf>,
    /// P0 only: open a session with a running service (`patchwork serve`) at the P1 and P2 of
    /// the session file instead of a one-off session.
    #[arg(long)]
    pub service: bool,
    /// Run this many inferences of the input one after the other in the one session (all
    /// three parties must pass the same number): the first pays for fresh memory and caches,
    /// the later ones show the steady state of a long-lived session. The report is the first
    /// inference's, plus every inference's seconds (`repeat_seconds` in JSON).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Print the result as JSON (P0: with the output).
    #[arg(long)]
    pub json: bool,
}

/// Why a party failed: the message, and the peer that caused it when one did.
struct Failure {
    message: String,
    peer: Option<Role>,
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            message,
            peer: None,
        }
    }
}

/// Runs `patchwork party`. With `--json`, a failure is also printed as JSON on standard output:
/// `{"role", "error", "peer"}`, `peer` naming the party that caused it (or null), and never an
/// output or a class.
pub fn run_party_command(args: &PartyArgs) -> Result<(), String> {
    run_role(args, args.role.into()).map_err(|f| {
        if args.json {
            let failure = PartyResult::Failed(PartyFailure {
                role: args.role,
                error: f.message.clone(),
                peer: f.peer.map(RoleArg::from),
            });
            outln!("{failure}");
        }
        f.message
    })
}

fn run_role(args: &PartyArgs, role: Role) -> Result<(), Failure> {
    if args.service && role != Role::P0 {
        return Err(Failure::from(format!(
            "--service is for P0; {role} serves with `patchwork serve`"
        )));
    }
    let (model, weights, spec, settings) = args.model.load(role)?;
    let (input, settings) = match (role, args.input.is_empty()) {
        (Role::P0, false) => {
            let shape = model.shape(model.input);
            let requested = args.model.settings.batch;
            let (x, settings) = batch_input(&args.input, shape, requested, settings)?;
            (Some(x), settings)
        }
        (Role::P0, true) => return Err(String::from("P0 needs --input").into()),
        (_, false) => return Err(format!("{role} does not take --input (only P0 holds it)").into()),
        (_, true) => (None, settings),
    };
    let mut config = SessionConfig::load(&args.config).map_err(|e| e.to_string())?;
    if let Some(t) = args.model.settings.timeout() {
        config.timeout = t;
    }
    let identity = config.identity(role).map_err(|e| e.to_string())?;
    let repeat = args.repeat as usize;
    let runs = match (args.service, input.as_deref()) {
        (true, Some(x)) => infer_remote(
            &config,
            &identity,
            &model,
            &spec,
            settings,
            &vec![x; repeat],
        )
        .map_err(|e| Failure {
            message: e.to_string(),
            peer: e.peer(),
        })?,
        _ => {
            let (keys, transport) = connect(role, &config, &identity).map_err(|e| Failure {
                message: e.to_string(),
                peer: e.peer(),
            })?;
            let mut party = Party::new(keys, transport);
            run_party(
                &mut party,
                &model,
                Held::from_option(weights.as_ref()),
                &spec,
                settings,
                &vec![input.as_deref(); repeat],
            )
            .map_err(|e| Failure {
                message: format!("{role}: {e}"),
                peer: e.peer(),
            })?
        }
    };
    let run = &runs[0];
    let sent: u64 = run.end.sent.iter().sum::<u64>() - run.start.sent.iter().sum::<u64>();
    let peak = proc_status_bytes("self", "VmHWM");
    let sent_to = [0, 1, 2].map(|k| run.end.sent[k] - run.start.sent[k]);
    let repeat_seconds: Vec<f64> = runs.iter().map(|r| r.end.seconds).collect();
    let classes = run
        .output
        .as_deref()
        .map(|out| classes(out, settings.batch));
    if args.json {
        let result = PartyResult::Ran(PartyRun {
            role: args.role,
            output: run.output.clone(),
            class: classes.as_ref().and_then(|c| c.first().copied()),
            images: settings.batch,
            classes: classes.clone(),
            seconds: run.end.seconds,
            setup_seconds: run.setup_seconds,
            bytes_sent: sent,
            sent_to,
            setup_bytes_sent: run.setup.sent.iter().sum::<u64>(),
            rounds: u64::from(run.end.rounds - run.start.rounds),
            peak_rss_bytes: peak,
            repeat_seconds,
            offline: run.offline.as_ref().map(|o| {
                Box::new(OfflinePhase {
                    seconds: o.end.seconds,
                    sent_to: [0, 1, 2].map(|k| o.end.sent[k] - o.start.sent[k]),
                    rounds: u64::from(o.end.rounds - o.start.rounds),
                    kept_bytes: o.kept_bytes as u64,
                })
            }),
        });
        outln!("{result}");
    } else {
        let result = match (&run.output, &classes) {
            (Some(out), Some(c)) if c.len() == 1 => {
                format!("class {}; output {}; ", c[0], super::secure::list(out))
            }
            (Some(out), Some(c)) => format!(
                "classes {}; outputs {}; ",
                super::secure::list(c),
                super::secure::list(out)
            ),
            _ => String::new(),
        };
        let offline = run.offline.as_ref().map_or(String::new(), |o| {
            let sent: u64 = o.end.sent.iter().sum::<u64>() - o.start.sent.iter().sum::<u64>();
            format!(
                " (online); offline phase {:.3} s, sent {sent} bytes, kept {} bytes",
                o.end.seconds, o.kept_bytes
            )
        });
        outln!(
            "{role}: {result}{:.3} s, sent {sent} bytes{offline}, peak memory {:.1} MB",
            run.end.seconds,
            peak.unwrap_or(0) as f64 / 1e6
        );
    }
    Ok(())
}

/// `patchwork session ...`.
#[derive(Args, Debug, Clone)]
pub struct SessionArgs {
    /// Which helper.
    #[command(subcommand)]
    pub command: SessionCommand,
}

/// Session helpers.
#[derive(Subcommand, Debug, Clone)]
pub enum SessionCommand {
    /// Writes three fresh identities and `session.toml` for 127.0.0.1 into a directory.
    Loopback {
        /// Directory to write into (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// First of three consecutive ports; 0 picks free ports.
        #[arg(long, default_value_t = 0)]
        base_port: u16,
    },
    /// Writes identities for P1, P2 and N clients, `service.toml` (P1 and P2 on free ports of
    /// 127.0.0.1) and `clientK.toml` per client into a directory.
    LoopbackService {
        /// Directory to write into (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// Clients to pin.
        #[arg(long, default_value_t = 1)]
        clients: usize,
        /// Sessions the service runs at once.
        #[arg(long, default_value_t = DEFAULT_MAX_SESSIONS)]
        max_sessions: usize,
    },
}

/// Runs `patchwork session`.
pub fn run_session(args: &SessionArgs) -> Result<(), String> {
    match &args.command {
        SessionCommand::Loopback { dir, base_port } => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            loopback_config(dir, *base_port).map_err(|e| e.to_string())?;
            outln!("wrote {}", dir.join("session.toml").display());
            Ok(())
        }
        SessionCommand::LoopbackService {
            dir,
            clients,
            max_sessions,
        } => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let files = {
                let limits = ServiceLimits {
                    max_sessions: *max_sessions,
                    ..ServiceLimits::default()
                };
                loopback_service(dir, *clients, &limits).map_err(|e| e.to_string())?
            };
            outln!(
                "wrote {} and {} client files",
                files.service.display(),
                files.clients.len()
            );
            Ok(())
        }
    }
}

/// A memory field (`VmRSS`, `VmHWM`, in kB there) of /proc/PROCESS/status in bytes, where
/// Linux tells it; `process` is a pid or `self`.
pub fn proc_status_bytes(process: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
