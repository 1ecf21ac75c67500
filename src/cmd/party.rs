//! `patchwork party`: one party as its own process, over an authenticated TCP session, and
//! `patchwork session loopback`: identities and a session file for three parties on 127.0.0.1.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use patchwork_core::party::Party;
use patchwork_core::role::Role;
use patchwork_host::input::load_input;
use patchwork_host::net::{connect, loopback_config, SessionConfig};
use patchwork_host::secure::report::argmax;
use patchwork_host::secure::run::run_party;

use super::secure::{load_model_and_spec, ProtocolArgs};

/// `patchwork party`.
#[derive(Args, Debug, Clone)]
pub struct PartyArgs {
    /// This party's role: p0 (client, holds the input), p1 (server, holds the model), p2 (helper).
    #[arg(long, value_parser = ["p0", "p1", "p2"])]
    pub role: String,
    /// Session file (TOML): the three parties' addresses and pinned certificates, and this
    /// party's own key (see `patchwork session loopback`).
    #[arg(long)]
    pub config: PathBuf,
    /// ONNX model. P1 uses its weights; P0 and P2 use only its architecture (public).
    #[arg(long)]
    pub model: PathBuf,
    /// Block-ReLU spec (public; all three parties must use the same one).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Input (`.npy` or `.png`; P0 only).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Approximate DReLU K_MSB,K_LSB (all three parties must agree).
    #[arg(long, value_name = "K_MSB,K_LSB")]
    pub approx: Option<String>,
    /// Fractional bits (all three parties must agree) [default: 14 exact, 12 approximate].
    #[arg(long)]
    pub frac_bits: Option<u32>,
    /// Print the result as JSON (P0: with the output).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub transforms: super::models::TransformArgs,
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
    let role = match args.role.as_str() {
        "p0" => Role::P0,
        "p1" => Role::P1,
        _ => Role::P2,
    };
    run_role(args, role).map_err(|f| {
        if args.json {
            let peer = f.peer.map(|p| format!("p{}", p.index()));
            let json = serde_json::json!({"role": args.role, "error": f.message, "peer": peer});
            println!("{json}");
        }
        f.message
    })
}

fn run_role(args: &PartyArgs, role: Role) -> Result<(), Failure> {
    let protocol = ProtocolArgs {
        approx: args.approx.clone(),
        frac_bits: args.frac_bits,
        network: "tcp".into(),
    };
    let settings = protocol.settings()?;
    let (model, spec) = load_model_and_spec(
        &args.model,
        args.spec.as_deref(),
        args.transforms.transforms(),
    )?;
    let input = match (role, &args.input) {
        (Role::P0, Some(path)) => {
            let x = load_input(path, model.shape(model.input)).map_err(|e| e.to_string())?;
            Some(x.iter().copied().collect::<Vec<f32>>())
        }
        (Role::P0, None) => return Err(String::from("P0 needs --input").into()),
        (_, Some(_)) => {
            return Err(format!("{role} does not take --input (only P0 holds it)").into())
        }
        (_, None) => None,
    };
    let config = SessionConfig::load(&args.config).map_err(|e| e.to_string())?;
    let identity = config.identity(role).map_err(|e| e.to_string())?;
    let (keys, transport) = connect(role, &config, &identity).map_err(|e| Failure {
        message: e.to_string(),
        peer: e.peer(),
    })?;
    let mut party = Party::new(keys, transport);
    let runs =
        run_party(&mut party, &model, &spec, settings, &[input.as_deref()]).map_err(|e| {
            Failure {
                message: format!("{role}: {e}"),
                peer: e.peer(),
            }
        })?;
    let run = &runs[0];
    let sent: u64 = run.end.sent.iter().sum::<u64>() - run.start.sent.iter().sum::<u64>();
    let peak = peak_rss_bytes();
    let sent_to = [0, 1, 2].map(|k| run.end.sent[k] - run.start.sent[k]);
    if args.json {
        let class = run.output.as_deref().map(argmax);
        let json = serde_json::json!({"role": args.role, "output": run.output, "class": class,
            "seconds": run.end.seconds, "setup_seconds": run.setup_seconds,
            "bytes_sent": sent, "sent_to": sent_to,
            "setup_bytes_sent": run.setup.sent.iter().sum::<u64>(),
            "rounds": run.end.rounds - run.start.rounds, "peak_rss_bytes": peak});
        println!("{json}");
    } else {
        let result = match &run.output {
            Some(out) => format!("class {} (output {out:?}); ", argmax(out)),
            None => String::new(),
        };
        println!(
            "{role}: {result}{:.3} s, sent {sent} bytes, peak memory {:.1} MB",
            run.end.seconds,
            peak.unwrap_or(0) as f64 / 1e6
        );
    }
    Ok(())
}

/// `patchwork session ...`.
#[derive(Args, Debug, Clone)]
pub struct SessionArgs {
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
}

/// Runs `patchwork session`.
pub fn run_session(args: &SessionArgs) -> Result<(), String> {
    match &args.command {
        SessionCommand::Loopback { dir, base_port } => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            loopback_config(dir, *base_port).map_err(|e| e.to_string())?;
            println!("wrote {}", dir.join("session.toml").display());
            Ok(())
        }
    }
}

/// This process's peak resident memory (`VmHWM` of /proc/self/status), where Linux tells it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
