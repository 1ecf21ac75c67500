//! `patchwork load-test`: P1 and P2 as `patchwork serve` processes, many concurrent P0 clients
//! (threads of this process) running the demo's model on the bundled images; every result is
//! checked against the float reference and a single-session run, and the services' memory and
//! the throughput are reported.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;
use patchwork_core::infer::argmax;
use patchwork_core::infer::Settings;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::Model;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::reference::forward;
use patchwork_net::secure::local::{infer_local, Network};
use patchwork_net::service::abuse::{abuse_once, Abuse, PublicProgram};
use patchwork_net::service::loopback::loopback_service;
use patchwork_net::service::{infer_remote, ServiceLimits};
use patchwork_net::tcp::SessionConfig;

use super::bundled::DEMO;
use super::models::LoadArgs;
use super::party::{proc_status_bytes, ModelArgs};
use super::secure::{seed, SettingsArgs};
use super::values::{comparison_text, parse_approx, ApproxArg};

/// `patchwork load-test`.
#[derive(Args, Debug, Clone)]
pub struct LoadTestArgs {
    /// Concurrent P0 clients (each with its own pinned certificate).
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Inferences in all.
    #[arg(long, default_value_t = 1000)]
    pub inferences: usize,
    /// Inferences per session: each client opens sessions of this many until the total is
    /// reached.
    #[arg(long, default_value_t = 25)]
    pub per_session: usize,
    /// DReLU comparison: `exact`, or K_MSB,K_LSB (ignore K_MSB high and K_LSB low bits).
    #[arg(long, value_name = "auto|exact|K_MSB,K_LSB", default_value = "43,5", value_parser = parse_approx)]
    pub approx: ApproxArg,
    /// Leave out images whose two best float logits differ by less than this: near ties that
    /// the protocol's rounding (fixed point, approximate DReLU) can flip either way. Decided
    /// from the float reference alone, before any secure run.
    #[arg(long, default_value_t = 0.1)]
    pub min_margin: f32,
    /// Abusive clients (each with its own pinned certificate) run beside the honest ones,
    /// cycling through half-open connections, a session announced to P1 only, a client that
    /// stops reading, one that trickles its messages, oversized and mislabelled frames and
    /// absurd inference counts. With abusers the honest load runs four times, without and
    /// with them in turn, and the report compares the two.
    #[arg(long, default_value_t = 0)]
    pub abusers: usize,
}

/// The service limits of the load test: a slot for every client, abusers included (each holds
/// one session at a time), short set-up and session deadlines.
fn service_limits(args: &LoadTestArgs) -> ServiceLimits {
    ServiceLimits {
        max_sessions: args.clients + args.abusers,
        handshake_timeout: Duration::from_secs(2),
        max_session: Duration::from_secs(30),
        ..ServiceLimits::default()
    }
}

/// Resident memory of the two services sampled every 100 ms while `work` runs: (start, peak,
/// end) in MB per service.
fn sampled<R>(
    services: &[ServiceProcess; 2],
    work: impl FnOnce() -> R,
) -> (R, [(f64, f64, f64); 2]) {
    let start = services.each_ref().map(|s| s.rss_mb().0);
    let peak = Mutex::new(start);
    let running = std::sync::atomic::AtomicBool::new(true);
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            while running.load(Ordering::Relaxed) {
                let now = services.each_ref().map(|s| s.rss_mb().0);
                let mut p = peak.lock().unwrap_or_else(|e| e.into_inner());
                for (p, n) in p.iter_mut().zip(now) {
                    *p = p.max(n);
                }
                drop(p);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let out = work();
        running.store(false, Ordering::Relaxed);
        out
    });
    let end = services.each_ref().map(|s| s.rss_mb().0);
    let peak = peak.into_inner().unwrap_or_else(|e| e.into_inner());
    (out, [0, 1].map(|k| (start[k], peak[k].max(end[k]), end[k])))
}

/// One abusive client: abuses in turn until `done` says the honest load is over; counts each
/// kind's attempts and what let an abuse through.
fn abuser(
    k: usize,
    config: &SessionConfig,
    program: &PublicProgram<'_>,
    done: &dyn Fn() -> bool,
    tally: &Mutex<Vec<(Abuse, Result<String, String>)>>,
) {
    let Ok(identity) = config.identity(Role::P0) else {
        return;
    };
    let mut round = k;
    while !done() {
        let kind = Abuse::ALL[round % Abuse::ALL.len()];
        let outcome = abuse_once(kind, config, &identity, program, Duration::from_secs(3));
        tally
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((kind, outcome));
        round += 1;
    }
}

/// A service process, killed when dropped.
struct ServiceProcess(Child);

impl ServiceProcess {
    fn spawn(role: &str, service: &Path, model: &ModelArgs, log: &Path) -> Result<Self, String> {
        let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut c = Command::new(exe);
        c.args(["serve", "--role", role, "--config"])
            .arg(service)
            .arg("--model")
            .arg(&model.model);
        if let Some(spec) = &model.spec {
            c.arg("--spec").arg(spec);
        }
        c.args(model.settings.to_flags());
        let child = c
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {role}: {e}"))?;
        Ok(ServiceProcess(child))
    }

    /// Resident memory now (`VmRSS`) and at its peak (`VmHWM`), in MB.
    fn rss_mb(&self) -> (f64, f64) {
        let pid = self.0.id().to_string();
        let mb = |field| proc_status_bytes(&pid, field).unwrap_or(0) as f64 / 1e6;
        (mb("VmRSS"), mb("VmHWM"))
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the clients share.
struct Load<'a> {
    model: &'a Model,
    spec: &'a Spec,
    settings: Settings,
    images: &'a [Vec<f32>],
    /// Per image: the float reference class and the single-session secure class.
    expected: &'a [(usize, usize)],
    next: AtomicUsize,
    /// Inferences finished.
    done: AtomicUsize,
    total: usize,
    per_session: usize,
    failures: Mutex<Vec<String>>,
}

impl Load<'_> {
    /// Client `k`: sessions of `per_session` inferences until the total is handed out.
    fn client(&self, k: usize, config: &SessionConfig) {
        let identity = match config.identity(Role::P0) {
            Ok(i) => i,
            Err(e) => return self.fail(format!("client {k}: {e}")),
        };
        loop {
            let start = self.next.fetch_add(self.per_session, Ordering::Relaxed);
            if start >= self.total {
                return;
            }
            let ids: Vec<usize> = (start..(start + self.per_session).min(self.total)).collect();
            let xs: Vec<&[f32]> = ids
                .iter()
                .map(|i| self.images[i % self.images.len()].as_slice())
                .collect();
            match infer_remote(config, &identity, self.model, self.spec, self.settings, &xs) {
                Err(e) => {
                    for i in &ids {
                        self.fail(format!("client {k}, inference {i}: {e}"));
                    }
                }
                Ok(runs) => {
                    self.done.fetch_add(runs.len(), Ordering::Relaxed);
                    for (i, run) in ids.iter().zip(&runs) {
                        let class = run.output.as_deref().map(argmax);
                        let (float, single) = self.expected[i % self.images.len()];
                        if class != Some(float) || class != Some(single) {
                            self.fail(format!("inference {i} (input {}): class {}, float {float}, single session {single}", i % self.images.len(), class.map_or("none".to_string(), |c| c.to_string())));
                        }
                    }
                }
            }
        }
    }

    fn fail(&self, what: String) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what);
    }
}

/// Runs `patchwork load-test`.
pub fn run(args: &LoadTestArgs) -> Result<(), String> {
    if args.clients == 0 || args.inferences == 0 || args.per_session == 0 {
        return Err("--clients, --inferences and --per-session must be at least 1".into());
    }
    let files_dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let (model_file, spec_file) = DEMO.write_to(files_dir.path())?;
    let model_args = ModelArgs {
        model: model_file,
        spec: spec_file,
        settings: SettingsArgs {
            approx: Some(args.approx),
            ..SettingsArgs::default()
        },
        load: LoadArgs::default(),
    };
    // The float reference and the single-session check need P1's weights; the clients (P0)
    // use the architecture alone.
    let (trained, spec) = DEMO.load()?;
    let settings = model_args.settings.settings(&spec)?;
    let model = trained.model();
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let files = loopback_service(
        dir.path(),
        args.clients + args.abusers,
        &service_limits(args),
    )
    .map_err(|e| e.to_string())?;
    let log = |name: &str| -> PathBuf { dir.path().join(format!("{name}.log")) };
    let services = [
        ServiceProcess::spawn("p1", &files.service, &model_args, &log("p1"))?,
        ServiceProcess::spawn("p2", &files.service, &model_args, &log("p2"))?,
    ];
    let mut configs = files
        .clients
        .iter()
        .map(|f| SessionConfig::load(f).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let abusers = configs.split_off(args.clients);
    let data = bundled_test64();
    let (mut images, mut float, mut left_out) = (Vec::new(), Vec::new(), Vec::new());
    let resolved = ResolvedSpec::new(model, &spec).map_err(|e| e.to_string())?;
    for i in 0..data.len() {
        let y = forward(&trained, &data.input(i), &resolved).map_err(|e| e.to_string())?;
        let y = y.as_slice().unwrap_or(&[]);
        if margin(y) < args.min_margin {
            left_out.push(i);
            continue;
        }
        float.push(argmax(y));
        images.push(data.input(i).iter().copied().collect::<Vec<f32>>());
    }
    let refs: Vec<&[f32]> = images.iter().map(|x| x.as_slice()).collect();
    let network = Network::Memory { seed: seed() };
    let single = infer_local(network, &trained, &spec, settings, &refs)?;
    let expected: Vec<(usize, usize)> = float
        .iter()
        .zip(&single)
        .map(|(f, r)| (*f, r.class))
        .collect();
    let inputs = refs.len();
    let load = |total, per_session| Load {
        model,
        spec: &spec,
        settings,
        images: &images,
        expected: &expected,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        total,
        per_session,
        failures: Mutex::new(Vec::new()),
    };
    // Warm-up: one inference (waits for the services to listen) before memory is read.
    let warm = load(1, 1);
    warm.client(0, &configs[0]);
    let warm = warm.failures.into_inner().unwrap_or_default();
    if !warm.is_empty() {
        return Err(format!("warm-up failed: {}", warm.join("; ")));
    }
    let phase = |with_abusers: bool| {
        let load = load(args.inferences, args.per_session);
        let tally = Mutex::new(Vec::new());
        let program = PublicProgram {
            model,
            spec: &spec,
            settings,
        };
        let honest_done = AtomicUsize::new(0);
        let all_done = || honest_done.load(Ordering::Relaxed) == configs.len();
        // The honest clients' wall time: until the last of them is done (abusers may still be
        // holding what they hold).
        let honest_wall = Mutex::new(0.0f64);
        let (_, rss) = sampled(&services, || {
            let t0 = Instant::now();
            std::thread::scope(|s| {
                for (k, config) in configs.iter().enumerate() {
                    let (load, honest_done, honest_wall) = (&load, &honest_done, &honest_wall);
                    s.spawn(move || {
                        load.client(k, config);
                        let mut w = honest_wall.lock().unwrap_or_else(|e| e.into_inner());
                        *w = w.max(t0.elapsed().as_secs_f64());
                        honest_done.fetch_add(1, Ordering::Relaxed);
                    });
                }
                if with_abusers {
                    for (k, config) in abusers.iter().enumerate() {
                        let (program, tally, done) = (&program, &tally, &all_done);
                        s.spawn(move || abuser(k, config, program, done, tally));
                    }
                }
            });
        });
        let wall = honest_wall.into_inner().unwrap_or_else(|e| e.into_inner());
        let failures = load
            .failures
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        let tally = tally.into_inner().unwrap_or_else(|e| e.into_inner());
        (wall, rss, failures, tally)
    };
    outln!(
        "load test: {} concurrent clients, {} inferences in sessions of {}, {} with {}, {}, {} fractional bits",
        args.clients, args.inferences, args.per_session, DEMO.name, DEMO.spec_name().unwrap_or("no spec"), comparison_text(&settings), settings.fp.frac_bits()
    );
    outln!(
        "inputs: the {} bundled test images with a float margin of at least {} (left out: {}), cycled",
        inputs,
        args.min_margin,
        super::secure::list(&left_out)
    );
    let mut all_failures = 0;
    let mut throughput = Vec::new();
    // Interleaved (the machine is shared and noisy): without, with, without, with.
    let phases: &[bool] = if args.abusers > 0 {
        &[false, true, false, true]
    } else {
        &[false]
    };
    for &with_abusers in phases {
        let (wall, rss, failures, tally) = phase(with_abusers);
        let rate = args.inferences as f64 / wall;
        throughput.push((with_abusers, rate));
        let name = if with_abusers {
            format!("with {} abusers", args.abusers)
        } else {
            "honest clients only".to_string()
        };
        outln!("{name}:");
        outln!(
            "  honest failures: {} (a failure: an error, or a class other than the float reference's or the single-session run's)",
            failures.len()
        );
        for f in failures.iter().take(10) {
            outln!("    {f}");
        }
        outln!("  honest throughput: {rate:.1} inferences/s ({wall:.1} s wall)");
        for (k, role) in ["P1", "P2"].iter().enumerate() {
            let (start, peak, end) = rss[k];
            outln!("  {role} RSS: {start:.1} MB at start, {peak:.1} MB peak, {end:.1} MB at end");
        }
        for kind in Abuse::ALL.iter().filter(|_| with_abusers) {
            let runs: Vec<_> = tally.iter().filter(|(k, _)| k == kind).collect();
            let through: Vec<&String> = runs.iter().filter_map(|(_, o)| o.as_ref().err()).collect();
            let example = runs
                .iter()
                .find_map(|(_, o)| o.as_ref().ok())
                .map_or(String::new(), |o| format!(" (e.g. {o})"));
            outln!(
                "  abuse '{}': {} attempts, {} let through{example}",
                kind.name(),
                runs.len(),
                through.len()
            );
            all_failures += through.len();
        }
        all_failures += failures.len();
    }
    let mean = |with: bool| {
        let r: Vec<f64> = throughput
            .iter()
            .filter(|t| t.0 == with)
            .map(|t| t.1)
            .collect();
        r.iter().sum::<f64>() / r.len().max(1) as f64
    };
    if args.abusers > 0 {
        outln!(
            "honest throughput with abusers: {:.0}% of the runs without (means of two runs each)",
            100.0 * mean(true) / mean(false)
        );
    }
    if all_failures == 0 {
        Ok(())
    } else {
        Err(format!("{all_failures} failures"))
    }
}

/// The gap between the two largest values.
fn margin(y: &[f32]) -> f32 {
    let mut best = [f32::NEG_INFINITY; 2];
    for &v in y {
        if v > best[0] {
            best = [v, best[0]];
        } else if v > best[1] {
            best[1] = v;
        }
    }
    best[0] - best[1]
}
