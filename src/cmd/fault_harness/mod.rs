//! `patchwork fault-harness`: kills (SIGKILL) or stalls (SIGSTOP, then SIGCONT) one party of a
//! whole secure inference at a random time, many times over, with the three parties as
//! separate `patchwork party` processes on loopback, and checks that every other party exits
//! with a typed error naming a peer within the session timeout plus a slack, that none hangs,
//! and that P0 never prints a result unless it is the right one (the fault came too late to
//! matter). Runs cycle through kill/stall x P0/P1/P2; the fault time is uniform between the
//! start of the processes and the victim's exit in the shortest run seen so far (the
//! [`CLEAN_RUNS`] without a fault, and runs whose fault came after the victim had finished),
//! from a seeded generator, so it falls in the set-up or in the inference.

mod run;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use clap::Args;
use patchwork_core::prg::Prg;
use patchwork_core::role::Role;
use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::data::npy::{encode_npy, Npy, NpyData};

use run::{Fault, Harness, Report};

// The parties run the bundled plain-ReLU model (exact DReLU) on the first bundled test image.
use super::bundled::PLAIN;

/// Runs without a fault first: the right class and how long each party runs.
const CLEAN_RUNS: usize = 3;

/// Arguments of `patchwork fault-harness`.
#[derive(Args, Debug, Clone)]
pub struct FaultHarnessArgs {
    /// Number of runs with a fault.
    #[arg(long, default_value_t = 100)]
    pub runs: usize,
    /// Seed of the fault times.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Session timeout given to the parties, in seconds (per message and for the set-up).
    #[arg(long, default_value_t = 2.0)]
    pub timeout: f64,
    /// Seconds beyond the timeout a party may take to exit after the fault.
    #[arg(long, default_value_t = 2.0)]
    pub slack: f64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The tally of one (fault, victim) pair.
#[derive(Default)]
struct Row {
    runs: usize,
    passed: usize,
    landed: usize,
    errors: usize,
    completed: usize,
    max_to_error: Option<Duration>,
}

impl Row {
    fn add(&mut self, r: &Report) {
        self.runs += 1;
        self.passed += usize::from(r.failures.is_empty());
        self.landed += usize::from(r.landed);
        self.errors += r.errors;
        self.completed += r.completed;
        self.max_to_error = self.max_to_error.max(r.max_to_error);
    }
}

/// Runs `patchwork fault-harness`; fails if any run failed.
pub fn run(args: &FaultHarnessArgs) -> Result<(), String> {
    let seconds = |s: f64, what: &str| {
        Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or(format!("--{what} must be a positive number of seconds"))
    };
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let harness = Harness {
        exe: std::env::current_exe().map_err(|e| e.to_string())?,
        model: PLAIN.write_to(dir.path())?.0,
        input: write_input(dir.path())?,
        dir: dir.path().to_path_buf(),
        timeout: seconds(args.timeout, "timeout")?,
        slack: seconds(args.slack, "slack")?,
    };
    let (class, mut lengths) = harness.clean(0)?;
    for n in 1..CLEAN_RUNS {
        let (again, l) = harness.clean(n)?;
        if again != class {
            return Err(format!(
                "runs without a fault disagree: class {class} and {again}"
            ));
        }
        for (a, b) in lengths.iter_mut().zip(l) {
            *a = (*a).min(b);
        }
    }
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&args.seed.to_le_bytes());
    let mut rng = Prg::new(&key, 0, 0);
    let mut rows: BTreeMap<(Fault, Role), Row> = BTreeMap::new();
    let mut failures = Vec::new();
    for n in 0..args.runs {
        let fault = [Fault::Kill, Fault::Stall][n % 2];
        let victim = Role::ALL[(n / 2) % 3];
        let length = lengths[victim.index()];
        let delay = length.mul_f64((rng.u64() >> 11) as f64 / (1u64 << 53) as f64);
        let report = harness.faulty(CLEAN_RUNS + n, fault, victim, delay, class)?;
        for f in &report.failures {
            failures.push(format!(
                "run {} ({fault:?} {victim} at {delay:?}): {f}",
                n + 1
            ));
        }
        if let Some(ran) = report.victim_ran {
            lengths[victim.index()] = lengths[victim.index()].min(ran);
        }
        rows.entry((fault, victim)).or_default().add(&report);
    }
    print_summary(args, lengths, &rows);
    for f in &failures {
        eprintln!("{f}");
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} failures in {} runs", failures.len(), args.runs))
    }
}

/// Writes the first bundled test image as P0's input.
fn write_input(dir: &Path) -> Result<std::path::PathBuf, String> {
    let npy = Npy {
        shape: vec![1, 1, 28, 28],
        data: NpyData::F32(bundled_test64().input(0).iter().copied().collect()),
    };
    let path = dir.join("input.npy");
    std::fs::write(&path, encode_npy(&npy)).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn print_summary(
    args: &FaultHarnessArgs,
    lengths: [Duration; 3],
    rows: &BTreeMap<(Fault, Role), Row>,
) {
    let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
    if args.json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|((fault, victim), r)| {
                serde_json::json!({"fault": format!("{fault:?}").to_lowercase(),
                    "victim": format!("p{}", victim.index()), "runs": r.runs, "passed": r.passed,
                    "landed": r.landed, "typed_errors": r.errors, "completed": r.completed,
                    "max_seconds_to_error": secs(r.max_to_error)})
            })
            .collect();
        let json = serde_json::json!({"runs": args.runs, "seed": args.seed,
            "timeout_seconds": args.timeout, "slack_seconds": args.slack,
            "clean_run_seconds": lengths.map(|l| l.as_secs_f64()), "rows": rows});
        outln!("{json}");
        return;
    }
    outln!(
        "{} runs, seed {}, session timeout {} s (+{} s slack); without a fault P0, P1, P2 run \
         {:.2}, {:.2}, {:.2} s",
        args.runs,
        args.seed,
        args.timeout,
        args.slack,
        lengths[0].as_secs_f64(),
        lengths[1].as_secs_f64(),
        lengths[2].as_secs_f64()
    );
    outln!(
        "{:<6} {:<6} {:>5} {:>6} {:>6} {:>13} {:>10} {:>16}",
        "fault",
        "victim",
        "runs",
        "passed",
        "landed",
        "typed errors",
        "completed",
        "max s to error"
    );
    for ((fault, victim), r) in rows {
        outln!(
            "{:<6} {:<6} {:>5} {:>6} {:>6} {:>13} {:>10} {:>16}",
            format!("{fault:?}").to_lowercase(),
            victim.to_string(),
            r.runs,
            r.passed,
            r.landed,
            r.errors,
            r.completed,
            secs(r.max_to_error).map_or("-".into(), |s| format!("{s:.2}"))
        );
    }
}
