//! P1 (the server, holding the model) and P2 (the helper) for the P0 firmware under QEMU
//! (`firmware-examples/`).
//!
//! ```text
//! firmware_peers [--model M.onnx] [--spec S.json] [--port-p1 N] [--port-p2 N]
//!                [--ports-file F] [--timeout-s 120]
//! ```
//!
//! Listens on two TCP ports on 127.0.0.1 (0 picks free ones; `--ports-file` receives
//! "P1PORT P2PORT" once both listen) and waits for QEMU to connect its UART0 (to P1) and UART1
//! (to P2) with `-serial tcp:127.0.0.1:PORT`. P1 and P2 run in this process on two threads,
//! linked by a loopback TCP pair. Each session has fresh keys: P1 sends P0 k01 and P2 sends
//! P0 k02 in the clear (this example does not authenticate or encrypt the link), k12 never
//! leaves the process. Then both run the same `SecureModel` set-up and inference as the
//! firmware, and print their traffic. Exit code 0 when both finished, 1 otherwise.

mod peer_stream;
mod setup;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use patchwork_core::held::Held;
use patchwork_core::infer::{SecureModel, Settings};
use patchwork_core::model::{Model, Weights};
use patchwork_core::party::Party;
use patchwork_core::prg::{Key, KeySet};
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_core::transport::stream::StreamTransport;
use patchwork_core::transport::Transport;
use patchwork_model::commands;
use patchwork_model::onnx;

use peer_stream::PeerStream;

struct Args {
    model: PathBuf,
    spec: PathBuf,
    ports: [u16; 2],
    ports_file: Option<PathBuf>,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = Args {
        model: root.join("models/fashion_resnet.onnx"),
        spec: root.join("models/fashion_resnet.example_spec.json"),
        ports: [0, 0],
        ports_file: None,
        timeout: Duration::from_secs(120),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|_| format!("bad {flag} {v}"));
        match flag.as_str() {
            "--model" => args.model = value.into(),
            "--spec" => args.spec = value.into(),
            "--port-p1" => args.ports[0] = number(&value)? as u16,
            "--port-p2" => args.ports[1] = number(&value)? as u16,
            "--ports-file" => args.ports_file = Some(value.into()),
            "--timeout-s" => args.timeout = Duration::from_secs(number(&value)?),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(args)
}

/// What one party observed.
struct Summary {
    role: Role,
    setup_s: f64,
    infer_s: f64,
    payload_sent: [u64; 3],
    rounds: u32,
    /// Line bytes (frames and headers) sent and received, per peer in role order.
    line: Vec<(Role, u64, u64)>,
}

/// Runs P1 (with its weights) or P2: set-up and one inference, then flushes its streams.
fn run_party(
    keys: KeySet,
    streams: [PeerStream; 2],
    model: &Model,
    weights: Held<'_, Weights>,
    spec: &Spec,
) -> Result<Summary, String> {
    let role = keys.role();
    let [a, b] = streams;
    let mut party = Party::new(keys, StreamTransport::new(role, [Some(a), Some(b)]));
    let t0 = Instant::now();
    let secure = SecureModel::setup(&mut party, model, weights, spec, Settings::PAPER, 1)
        .map_err(|e| format!("{role} set-up: {e}"))?;
    let setup_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    secure
        .infer(&mut party, Held::NotMine, &mut |_, _| {})
        .map_err(|e| format!("{role} inference: {e}"))?;
    let infer_s = t1.elapsed().as_secs_f64();
    let t = party.transport();
    let payload_sent = Role::ALL.map(|r| t.bytes_sent(r));
    let rounds = t.rounds();
    let mut line = Vec::new();
    for (i, s) in party
        .into_transport()
        .into_streams()
        .into_iter()
        .enumerate()
    {
        if let Some(mut s) = s {
            s.finish()
                .map_err(|e| format!("{role} flushing to {}: {e}", Role::ALL[i]))?;
            line.push((Role::ALL[i], s.sent, s.received));
        }
    }
    Ok(Summary {
        role,
        setup_s,
        infer_s,
        payload_sent,
        rounds,
        line,
    })
}

fn print(s: &Summary) {
    println!(
        "{}: set-up {:.3} s, inference {:.3} s (mostly waiting for P0 under QEMU), {} rounds",
        s.role, s.setup_s, s.infer_s, s.rounds
    );
    for (peer, sent, received) in &s.line {
        println!(
            "{}: with {peer}: payload sent {} B; line sent {sent} B, received {received} B",
            s.role,
            s.payload_sent[peer.index()]
        );
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let (model, weights) = onnx::load_model(&args.model)
        .map_err(|e| e.to_string())?
        .into_parts();
    let spec = commands::load_checked_spec(&model, &args.spec).map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| e.to_string();
    let bind = |port: u16| TcpListener::bind(("127.0.0.1", port)).map_err(io);
    let (l1, l2) = (bind(args.ports[0])?, bind(args.ports[1])?);
    let (p1_port, p2_port) = (
        l1.local_addr().map_err(io)?.port(),
        l2.local_addr().map_err(io)?.port(),
    );
    println!("P1 listens on 127.0.0.1:{p1_port} (UART0), P2 on 127.0.0.1:{p2_port} (UART1)");
    if let Some(f) = &args.ports_file {
        let tmp = f.with_extension("tmp");
        std::fs::write(&tmp, format!("{p1_port} {p2_port}\n")).map_err(io)?;
        std::fs::rename(&tmp, f).map_err(io)?;
    }
    let mut to_p0_from_p1 = setup::accept(&l1, args.timeout, "P1 (UART0)").map_err(io)?;
    let mut to_p0_from_p2 = setup::accept(&l2, args.timeout, "P2 (UART1)").map_err(io)?;
    println!("P0 connected on both UARTs");
    let (p1_p2, p2_p1) = setup::loopback_pair(args.timeout).map_err(io)?;
    let key = || setup::fresh_key().map_err(io);
    let (k01, k02, k12): (Key, Key, Key) = (key()?, key()?, key()?);
    setup::send_key(&mut to_p0_from_p1, 1, &k01).map_err(io)?;
    setup::send_key(&mut to_p0_from_p2, 2, &k02).map_err(io)?;
    let keys1 = KeySet::new(Role::P1, key()?, [k01, k12]);
    let keys2 = KeySet::new(Role::P2, key()?, [k02, k12]);
    let wrap = |s| PeerStream::new(s, args.timeout).map_err(io);
    let streams1 = [wrap(to_p0_from_p1)?, wrap(p1_p2)?];
    let streams2 = [wrap(to_p0_from_p2)?, wrap(p2_p1)?];
    let started = Instant::now();
    let (r1, r2) = std::thread::scope(|s| {
        let h1 = s.spawn(|| run_party(keys1, streams1, &model, Held::Mine(&weights), &spec));
        let h2 = s.spawn(|| run_party(keys2, streams2, &model, Held::NotMine, &spec));
        let join = |h: std::thread::ScopedJoinHandle<'_, Result<Summary, String>>| {
            h.join()
                .unwrap_or_else(|_| Err("party thread panicked".into()))
        };
        (join(h1), join(h2))
    });
    let mut failed = Vec::new();
    for r in [&r1, &r2] {
        match r {
            Ok(s) => print(s),
            Err(e) => failed.push(e.clone()),
        }
    }
    println!("session wall time {:.1} s", started.elapsed().as_secs_f64());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("firmware_peers: {e}");
            ExitCode::FAILURE
        }
    }
}
