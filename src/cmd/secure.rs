//! `patchwork infer` and `patchwork demo`: secure inference with all three parties.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::infer::Settings;
use patchwork_core::model::Model;
use patchwork_core::protocol::drelu::Comparison;
use patchwork_core::protocol::truncate::Truncation;
use patchwork_core::spec::Spec;
use patchwork_model::commands::{self, load_checked_spec};
use patchwork_model::data::fashion::{bundled_test64, Dataset, CLASSES};
use patchwork_model::data::input::load_input;
use patchwork_model::reference::forward;
use patchwork_model::transform::Transforms;
use patchwork_net::secure::local::{infer_local, Network};
use patchwork_net::secure::report::{self, argmax};

/// How the comparisons, fixed point and truncation are set (all three parties must agree).
/// The defaults: with exact DReLU, 20 fractional bits and the assisted truncation (the secure
/// result follows the float reference to about 1e-5); with approximate DReLU, 12 bits (its
/// l*-bit window must hold the activations) and the local truncation, as in the seed paper.
#[derive(Args, Debug, Clone, Default)]
pub struct SettingsArgs {
    /// Approximate DReLU: ignore K_MSB high and K_LSB low bits (the paper uses 43,5).
    #[arg(long, value_name = "K_MSB,K_LSB")]
    pub approx: Option<String>,
    /// Fractional bits of the fixed-point encoding [default: 20 with exact DReLU, 12 with
    /// approximate DReLU].
    #[arg(long)]
    pub frac_bits: Option<u32>,
    /// Truncation after products: `local` (SecureML: free, but wrong by about 2^(64-f) with
    /// probability |x|/2^64 per value) or `assisted` (P2 deals a mask: one round and 32 bytes
    /// per value, never wrong) [default: assisted with exact DReLU, local with approximate].
    #[arg(long, value_parser = ["local", "assisted"])]
    pub truncation: Option<String>,
    /// Seconds a party waits for one message, or for room to queue one, before it stops with
    /// an error naming the peer [default: the session file's `timeout_secs`, else 10].
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,
}

/// A timeout in seconds: finite, positive and at most a day.
fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t > 0.0 && t <= 86_400.0 => Ok(t),
        _ => Err(format!("'{s}' is not a number of seconds in (0, 86400]")),
    }
}

impl SettingsArgs {
    /// The fixed-point, comparison and truncation settings.
    pub fn settings(&self) -> Result<Settings, String> {
        let exact = self.approx.is_none();
        let fp = FixedPoint::new(self.frac_bits.unwrap_or(if exact { 20 } else { 12 }))
            .ok_or("--frac-bits must be at most 32")?;
        let cmp = match &self.approx {
            None => Comparison::Exact,
            Some(s) => {
                let parse = |v: &str| {
                    v.trim()
                        .parse::<u32>()
                        .map_err(|_| format!("--approx: '{v}' is not a bit count"))
                };
                let (a, b) = s
                    .split_once(',')
                    .ok_or("--approx expects K_MSB,K_LSB, e.g. 43,5")?;
                let cmp = Comparison::Approx {
                    k_msb: parse(a)?,
                    k_lsb: parse(b)?,
                };
                if cmp.width() < 2 || parse(a)? + parse(b)? > 62 {
                    return Err(
                        "--approx: K_MSB + K_LSB must leave at least 2 bits (at most 62)".into(),
                    );
                }
                cmp
            }
        };
        let trunc = match self.truncation.as_deref() {
            Some("assisted") => Truncation::Assisted,
            Some(_) => Truncation::Local,
            None if exact => Truncation::Assisted,
            None => Truncation::Local,
        };
        Ok(Settings { fp, cmp, trunc })
    }

    /// The per-message timeout given with `--timeout`, if any.
    pub fn timeout(&self) -> Option<std::time::Duration> {
        self.timeout.map(std::time::Duration::from_secs_f64)
    }

    /// The same settings as command-line flags, for party processes.
    pub fn to_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if let Some(a) = &self.approx {
            flags.extend(["--approx".to_string(), a.clone()]);
        }
        if let Some(f) = self.frac_bits {
            flags.extend(["--frac-bits".to_string(), f.to_string()]);
        }
        if let Some(t) = &self.truncation {
            flags.extend(["--truncation".to_string(), t.clone()]);
        }
        if let Some(t) = self.timeout {
            flags.extend(["--timeout".to_string(), t.to_string()]);
        }
        flags
    }
}

/// The settings and the network the three parties of this process talk over.
#[derive(Args, Debug, Clone)]
pub struct ProtocolArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// How the three parties talk: `tcp` (TLS over 127.0.0.1, keys from the handshakes) or
    /// `memory` (queues between threads).
    #[arg(long, default_value = "tcp", value_parser = ["tcp", "memory"])]
    pub network: String,
}

impl ProtocolArgs {
    /// The network to run the three parties over.
    pub fn network(&self) -> Network {
        match self.network.as_str() {
            "memory" => Network::Memory { seed: seed() },
            _ => Network::Tcp {
                timeout: self
                    .settings
                    .timeout()
                    .unwrap_or(std::time::Duration::from_secs(10)),
            },
        }
    }

    /// See [`SettingsArgs::settings`].
    pub fn settings(&self) -> Result<Settings, String> {
        self.settings.settings()
    }
}

/// `patchwork infer`: one secure inference, three parties on this machine.
#[derive(Args, Debug, Clone)]
pub struct InferArgs {
    /// ONNX model file (P1's model).
    #[arg(long)]
    pub model: PathBuf,
    /// Block-ReLU spec (JSON, see model/SPEC_FORMAT.md); plain ReLU where it is silent.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Input image: `.npy` (float32 NCHW) or `.png` (P0's secret).
    #[arg(long)]
    pub input: PathBuf,
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Loads P1's model (an ONNX file with weights) and its spec.
pub fn load_model_and_spec(
    model: &Path,
    spec: Option<&Path>,
    transforms: Transforms,
) -> Result<(Model, Spec), String> {
    let model = commands::load(model, transforms)
        .map_err(|e| e.to_string())?
        .model;
    let spec = load_spec_for(&model, spec)?;
    Ok((model, spec))
}

/// Loads a spec and checks it against the model (plain ReLU everywhere without one).
pub fn load_spec_for(model: &Model, spec: Option<&Path>) -> Result<Spec, String> {
    match spec {
        Some(p) => load_checked_spec(model, p).map_err(|e| e.to_string()),
        None => Ok(Spec::default()),
    }
}

/// Runs `patchwork infer`.
pub fn run_infer(args: &InferArgs) -> Result<(), String> {
    let settings = args.protocol.settings()?;
    let (model, spec) =
        load_model_and_spec(&args.model, args.spec.as_deref(), Transforms::default())?;
    let input = load_input(&args.input, model.shape(model.input)).map_err(|e| e.to_string())?;
    let x: Vec<f32> = input.iter().copied().collect();
    let reports = infer_local(args.protocol.network(), &model, &spec, settings, &[&x])?;
    let r = &reports[0];
    if args.json {
        println!("{}", serde_json::to_string(r).map_err(|e| e.to_string())?);
    } else {
        report::print(r);
        println!("class {} (output {:?})", r.class, r.output);
    }
    Ok(())
}

/// A fresh seed for the in-process session keys (the TCP session agrees keys in its handshake).
pub fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64 ^ (std::process::id() as u64) << 32
}

/// `patchwork demo`: the bundled model and spec on the bundled Fashion-MNIST images.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// How many of the 64 bundled images to run.
    #[arg(long, default_value_t = 64)]
    pub images: usize,
    /// Approximate DReLU setting (K_MSB,K_LSB), or "exact".
    #[arg(long, default_value = "43,5")]
    pub approx: String,
    /// Fractional bits of the fixed-point encoding [default: 20 exact, 12 approximate].
    #[arg(long)]
    pub frac_bits: Option<u32>,
    /// `tcp` (TLS over 127.0.0.1) or `memory`.
    #[arg(long, default_value = "tcp", value_parser = ["tcp", "memory"])]
    pub network: String,
    /// Seconds a party waits for one message [default: 10].
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,
}

/// The demo's model and spec, relative to the repository root.
pub const DEMO_MODEL: &str = "models/fashion_resnet_brelu6.onnx";
pub const DEMO_SPEC: &str = "models/fashion_resnet_brelu6.spec.json";

/// Runs `patchwork demo`.
pub fn run_demo(args: &DemoArgs) -> Result<(), String> {
    let protocol = ProtocolArgs {
        settings: SettingsArgs {
            approx: (args.approx != "exact").then(|| args.approx.clone()),
            frac_bits: args.frac_bits,
            truncation: None,
            timeout: args.timeout,
        },
        network: args.network.clone(),
    };
    let settings = protocol.settings()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (model, spec) = load_model_and_spec(
        &root.join(DEMO_MODEL),
        Some(&root.join(DEMO_SPEC)),
        Transforms::default(),
    )?;
    let data = bundled_test64();
    let n = args.images.min(data.len());
    if n == 0 {
        return Err("--images must be at least 1".into());
    }
    let inputs: Vec<Vec<f32>> = (0..n)
        .map(|i| data.input(i).iter().copied().collect())
        .collect();
    let refs: Vec<&[f32]> = inputs.iter().map(|v| v.as_slice()).collect();
    println!(
        "Patchwork demo: {DEMO_MODEL} with Block-ReLU spec {DEMO_SPEC}, {:?}, {} fractional bits, {:?} truncation",
        settings.cmp, settings.fp.frac_bits, settings.trunc
    );
    println!("P0 holds each image, P1 the model, P2 helps; only P0 learns the class.\n");
    let t0 = Instant::now();
    let reports = infer_local(protocol.network(), &model, &spec, settings, &refs)?;
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "{:>5} {:<14} {:<14} {:<14} {:>8} {:>9}",
        "image", "secure", "float", "label", "ms", "MB"
    );
    let (mut right, mut agree) = (0, 0);
    for (i, r) in reports.iter().enumerate() {
        let float = forward(&model, &data.input(i), Some(&spec)).map_err(|e| e.to_string())?;
        let float_class = argmax(float.as_slice().unwrap_or(&[]));
        let label = data.labels[i] as usize;
        right += (r.class == label) as usize;
        agree += (r.class == float_class) as usize;
        println!(
            "{:>5} {:<14} {:<14} {:<14} {:>8.1} {:>9.3}",
            i,
            CLASSES[r.class],
            CLASSES[float_class],
            CLASSES[label],
            r.seconds * 1e3,
            r.bytes.total as f64 / 1e6
        );
    }
    let total_bytes: u64 = reports.iter().map(|r| r.bytes.total).sum();
    let rounds = reports.iter().map(|r| r.rounds).max().unwrap_or(0);
    println!(
        "\nsecure accuracy {}/{n} ({:.1}%), secure class = float class on {agree}/{n}",
        right,
        100.0 * right as f64 / n as f64
    );
    println!(
        "per image: {:.3} MB on the wire, {rounds} rounds, {:.1} ms; session set-up (weight masks, once): {:.3} MB; wall {wall:.2} s for {n} images",
        total_bytes as f64 / n as f64 / 1e6,
        reports.iter().map(|r| r.seconds).sum::<f64>() / n as f64 * 1e3,
        reports[0].setup_bytes.total as f64 / 1e6
    );
    Ok(())
}

/// The test set through secure inference, compared image by image with the float reference
/// (same spec). Sessions of 100 images each; a progress bar on stderr.
pub fn secure_eval(
    model: &Model,
    spec: &Spec,
    protocol: &ProtocolArgs,
    data: &Dataset,
    limit: Option<usize>,
) -> Result<(), String> {
    let settings = protocol.settings()?;
    let n = limit.unwrap_or(data.len()).min(data.len());
    let expected = patchwork_core::model::Shape(vec![1, 1, data.rows, data.cols]);
    if model.shape(model.input) != &expected {
        return Err(format!(
            "model input is {}, the data set has {}x{} images",
            model.shape(model.input),
            data.rows,
            data.cols
        ));
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} images, {elapsed} elapsed, ETA {eta} {msg}",
        )
        .map_err(|e| e.to_string())?,
    );
    let (mut secure_right, mut float_right, mut agree, mut max_diff, mut bytes, mut seconds) =
        (0, 0, 0, 0f32, 0u64, 0f64);
    let mut disagreements = Vec::new();
    let t0 = Instant::now();
    for start in (0..n).step_by(100) {
        let end = (start + 100).min(n);
        let inputs: Vec<Vec<f32>> = (start..end)
            .map(|i| data.input(i).iter().copied().collect())
            .collect();
        let refs: Vec<&[f32]> = inputs.iter().map(|v| v.as_slice()).collect();
        let reports = infer_local(protocol.network(), model, spec, settings, &refs)?;
        for (k, r) in reports.iter().enumerate() {
            let i = start + k;
            let float = forward(model, &data.input(i), Some(spec)).map_err(|e| e.to_string())?;
            let float: Vec<f32> = float.iter().copied().collect();
            let (fc, label) = (argmax(&float), data.labels[i] as usize);
            secure_right += (r.class == label) as usize;
            float_right += (fc == label) as usize;
            if r.class == fc {
                agree += 1;
            } else {
                disagreements.push(i);
            }
            max_diff = r
                .output
                .iter()
                .zip(&float)
                .map(|(a, b)| (a - b).abs())
                .fold(max_diff, f32::max);
            bytes += r.bytes.total;
            seconds += r.seconds;
        }
        bar.set_position(end as u64);
        bar.set_message(format!("secure top-1 = float top-1 on {agree}/{end}"));
    }
    bar.finish();
    let pct = |k: usize| 100.0 * k as f64 / n as f64;
    println!(
        "{n} images, {:?}, {} fractional bits, {:?} truncation: secure accuracy {:.2}% ({secure_right}), float accuracy {:.2}% ({float_right}), secure top-1 = float top-1 on {agree}/{n}, max |logit difference| {max_diff:.4}",
        settings.cmp, settings.fp.frac_bits, settings.trunc, pct(secure_right), pct(float_right)
    );
    if !disagreements.is_empty() {
        println!(
            "images where the classes differ: {:?}",
            &disagreements[..disagreements.len().min(50)]
        );
    }
    println!(
        "per image: {:.3} MB, {:.1} ms of protocol; {:.1} s wall in all",
        bytes as f64 / n.max(1) as f64 / 1e6,
        seconds / n.max(1) as f64 * 1e3,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
