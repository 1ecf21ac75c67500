//! `patchwork load-test`: P1 and P2 as `patchwork serve` processes, many concurrent P0 clients
//! (threads of this process) running the demo's model on the bundled images; every result is
//! checked against the float reference and a single-session run, and the services' memory and
//! the throughput are reported.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use clap::Args;
use patchwork_core::infer::Settings;
use patchwork_core::model::Model;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_host::fashion::bundled_test64;
use patchwork_host::net::SessionConfig;
use patchwork_host::reference::forward;
use patchwork_host::secure::local::{infer_local, Network};
use patchwork_host::secure::report::argmax;
use patchwork_host::service::infer_remote;
use patchwork_host::service::loopback::loopback_service;

use super::models::TransformArgs;
use super::party::{proc_status_bytes, ModelArgs};
use super::secure::{seed, SettingsArgs, DEMO_MODEL, DEMO_SPEC};

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
    /// Approximate DReLU K_MSB,K_LSB, or "exact".
    #[arg(long, default_value = "43,5")]
    pub approx: String,
    /// Leave out images whose two best float logits differ by less than this: near ties that
    /// the protocol's rounding (fixed point, approximate DReLU) can flip either way. Decided
    /// from the float reference alone, before any secure run.
    #[arg(long, default_value_t = 0.1)]
    pub min_margin: f32,
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
    images: Vec<Vec<f32>>,
    /// Per image: the float reference class and the single-session secure class.
    expected: Vec<(usize, usize)>,
    /// The services, and their memory once a tenth of the inferences are under way.
    services: &'a [ServiceProcess; 2],
    tenth: Mutex<Option<[(f64, f64); 2]>>,
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
                    let before = self.done.fetch_add(runs.len(), Ordering::Relaxed);
                    if before < self.total / 10 && before + runs.len() >= self.total / 10 {
                        *self.tenth.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some(self.services.each_ref().map(|s| s.rss_mb()));
                    }
                    for (i, run) in ids.iter().zip(&runs) {
                        let class = run.output.as_deref().map(argmax);
                        let (float, single) = self.expected[i % self.images.len()];
                        if class != Some(float) || class != Some(single) {
                            self.fail(format!("inference {i} (input {}): class {class:?}, float {float}, single session {single}", i % self.images.len()));
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model_args = ModelArgs {
        model: root.join(DEMO_MODEL),
        spec: Some(root.join(DEMO_SPEC)),
        settings: SettingsArgs {
            approx: (args.approx != "exact").then(|| args.approx.clone()),
            ..SettingsArgs::default()
        },
        transforms: TransformArgs::default(),
    };
    let (model, spec, settings) = model_args.load(Role::P1)?;
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let files =
        loopback_service(dir.path(), args.clients, args.clients).map_err(|e| e.to_string())?;
    let log = |name: &str| -> PathBuf { dir.path().join(format!("{name}.log")) };
    let services = [
        ServiceProcess::spawn("p1", &files.service, &model_args, &log("p1"))?,
        ServiceProcess::spawn("p2", &files.service, &model_args, &log("p2"))?,
    ];
    let configs = files
        .clients
        .iter()
        .map(|f| SessionConfig::load(f).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let data = bundled_test64();
    let (mut images, mut float, mut left_out) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..data.len() {
        let y = forward(&model, &data.input(i), Some(&spec)).map_err(|e| e.to_string())?;
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
    let single = infer_local(network, &model, &spec, settings, &refs)?;
    let expected: Vec<(usize, usize)> = float
        .iter()
        .zip(&single)
        .map(|(f, r)| (*f, r.class))
        .collect();
    let inputs = refs.len();
    let load = Load {
        model: &model,
        spec: &spec,
        settings,
        images,
        expected,
        services: &services,
        tenth: Mutex::new(None),
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        total: 1,
        per_session: 1,
        failures: Mutex::new(Vec::new()),
    };
    // Warm-up: one inference (waits for the services to listen) before memory is read.
    load.client(0, &configs[0]);
    let warm = load.failures.lock().map(|f| f.clone()).unwrap_or_default();
    if !warm.is_empty() {
        return Err(format!("warm-up failed: {}", warm.join("; ")));
    }
    let before = services.each_ref().map(|s| s.rss_mb());
    let load = Load {
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        total: args.inferences,
        per_session: args.per_session,
        ..load
    };
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for (k, config) in configs.iter().enumerate() {
            let load = &load;
            s.spawn(move || load.client(k, config));
        }
    });
    let wall = t0.elapsed().as_secs_f64();
    let after = services.each_ref().map(|s| s.rss_mb());
    let failures = load
        .failures
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    let tenth = load.tenth.into_inner().unwrap_or_else(|e| e.into_inner());
    println!(
        "load test: {} concurrent clients, {} inferences in sessions of {}, {DEMO_MODEL} with {DEMO_SPEC}, {:?}, {} fractional bits",
        args.clients, args.inferences, args.per_session, settings.cmp, settings.fp.frac_bits
    );
    println!(
        "inputs: the {} bundled test images with a float margin of at least {} (left out: {left_out:?}), cycled",
        inputs,
        args.min_margin
    );
    println!(
        "failures: {} (a failure: an error, or a class other than the float reference's or the single-session run's)",
        failures.len()
    );
    for f in failures.iter().take(10) {
        println!("  {f}");
    }
    println!(
        "throughput: {:.1} inferences/s ({wall:.1} s wall)",
        args.inferences as f64 / wall
    );
    for (k, role) in ["P1", "P2"].iter().enumerate() {
        let tenth = tenth.map_or("?".into(), |t| format!("{:.1}", t[k].0));
        println!(
            "{role} RSS: {:.1} MB at start (after one warm-up session), {tenth} MB once a tenth of the inferences were done, {:.1} MB at end (peak {:.1} MB)",
            before[k].0, after[k].0, after[k].1
        );
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} failures", failures.len()))
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
