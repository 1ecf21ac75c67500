//! `patchwork infer` and `patchwork demo`: secure inference with all three parties.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::infer::argmax;
use patchwork_core::infer::{Settings, MAX_BATCH};
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::{Model, TrainedModel};
use patchwork_core::protocol::drelu::Comparison;
use patchwork_core::protocol::truncate::Truncation;
use patchwork_core::spec::Spec;
use patchwork_model::commands;
use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::data::input::load_batch;
use patchwork_model::data::Dataset;
use patchwork_model::reference::forward;
use patchwork_net::secure::local::{infer_local, infer_local_batches, Network};
use patchwork_net::secure::report::Report;

use super::bundled::DEMO;
use super::values::{
    approx_choice, arg_name, comparison_arg, comparison_text, parse_approx, ApproxArg, NetworkArg,
    SignArg, TruncationArg,
};

/// How the comparisons, fixed point and truncation are set (all three parties must agree).
/// The defaults: with a spec whose windows are calibrated (`patchwork plan calibrate`), each
/// layer compares in its own window, at the calibration's fractional bits; otherwise exact
/// DReLU, 20 fractional bits and the assisted truncation (the secure result follows the float
/// reference to about 1e-5). A fixed approximate window takes 12 bits, as in the seed paper, and
/// must hold every range the spec's calibration recorded. Truncation: local (free) with
/// approximate DReLU at up to 13 fractional bits, assisted otherwise.
#[derive(Args, Debug, Clone, Default)]
pub struct SettingsArgs {
    /// DReLU comparison: `auto` (each layer's calibrated window), `exact`, or K_MSB,K_LSB to
    /// ignore K_MSB high and K_LSB low bits in every layer (the paper uses 43,5) [default:
    /// auto when the spec has calibrated windows, else exact].
    #[arg(long, value_name = "auto|exact|K_MSB,K_LSB", value_parser = parse_approx)]
    pub approx: Option<ApproxArg>,
    /// Fractional bits of the fixed-point encoding [default: the calibration's with auto, 20
    /// with exact DReLU, 12 with a fixed approximate window].
    #[arg(long)]
    pub frac_bits: Option<u32>,
    /// Truncation after products [default: local with approximate DReLU at up to 13 fractional
    /// bits, assisted otherwise].
    #[arg(long, value_enum)]
    pub truncation: Option<TruncationArg>,
    /// Seconds a party waits for one message, or for room to queue one, before it stops with
    /// an error naming the peer [default: the session file's `timeout_secs`, else 10].
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,
    /// Images per inference: P0's inputs run as one batch, every step on all of them at once,
    /// so the rounds are paid once per batch (all three parties must pass the same number)
    /// [default: 1; for P0, the number of images its inputs hold].
    #[arg(long, value_name = "N", value_parser = parse_batch)]
    pub batch: Option<usize>,
    /// Preprocess: after set-up, every inference of the session runs its input-independent
    /// part first (P2's product triples, truncation quotients and comparison-mask bits or
    /// keys, sent in one round), so the online phase, from P0's input to its result, carries only what
    /// depends on the input; reports give both phases (all three parties must pass it).
    #[arg(long)]
    pub preprocess: bool,
    /// How the sign steps decide: `private-compare` (SecureNN, 3 rounds per ReLU) or `fss`
    /// (keys P2 deals, 2 rounds per ReLU; all three parties must pass the same)
    /// [default: private-compare].
    #[arg(long, value_enum)]
    pub sign: Option<SignArg>,
}

/// A batch size: 1 to [`MAX_BATCH`].
fn parse_batch(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_BATCH).contains(&n) => Ok(n),
        _ => Err(format!("'{s}' is not a batch of 1 to {MAX_BATCH} images")),
    }
}

/// The most fractional bits at which the local truncation is the default.
const LOCAL_TRUNCATION_MAX_BITS: u32 = 13;

/// A timeout in seconds: finite, positive and at most a day.
fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t > 0.0 && t <= 86_400.0 => Ok(t),
        _ => Err(format!("'{s}' is not a number of seconds in (0, 86400]")),
    }
}

impl SettingsArgs {
    /// The fixed-point, comparison and truncation settings for a run with `spec`. A fixed
    /// approximate window with a spec that records no ranges gets a warning on stderr (whether
    /// it holds the activations is unknown); one that does not hold a recorded range is
    /// refused when the model is described, naming the layer.
    pub fn settings(&self, spec: &Spec) -> Result<Settings, String> {
        let calibration = spec.calibration.as_ref();
        let choice = self.approx.unwrap_or(match calibration {
            Some(_) => ApproxArg::Auto,
            None => ApproxArg::Fixed(Comparison::Exact),
        });
        let (cmp, calibrated, frac_bits) = match (choice, calibration) {
            (ApproxArg::Auto, Some(c)) => (Comparison::Exact, true, c.frac_bits),
            (ApproxArg::Auto, None) => {
                return Err(
                    "--approx auto needs a spec with calibrated windows (see `patchwork \
                     plan calibrate`)"
                        .into(),
                )
            }
            (ApproxArg::Fixed(Comparison::Exact), _) => (Comparison::Exact, false, 20),
            (ApproxArg::Fixed(cmp), c) => {
                if c.is_none() {
                    eprintln!(
                        "warning: {cmp} is not calibrated for this model: nothing records the \
                         range its comparisons see, and values outside its window give wrong \
                         results with no sign of it (`patchwork plan calibrate` measures them)"
                    );
                }
                (cmp, false, 12)
            }
        };
        let exact = cmp == Comparison::Exact && !calibrated;
        let fp = FixedPoint::new(self.frac_bits.unwrap_or(frac_bits))
            .ok_or("--frac-bits must be at most 32")?;
        // SecureML's local truncation fails with probability about |x| 2^(2f) / 2^64 per
        // value: past 13 fractional bits that is too often for a whole network.
        let trunc = match self.truncation {
            Some(t) => t.into(),
            None if exact || fp.frac_bits() > LOCAL_TRUNCATION_MAX_BITS => Truncation::Assisted,
            None => Truncation::Local,
        };
        Ok(Settings {
            fp,
            cmp,
            trunc,
            calibrated,
            batch: self.batch.unwrap_or(1),
            preprocess: self.preprocess,
            sign: self.sign.unwrap_or_default().into(),
        })
    }

    /// The per-message timeout given with `--timeout`, if any.
    pub fn timeout(&self) -> Option<std::time::Duration> {
        self.timeout.map(std::time::Duration::from_secs_f64)
    }

    /// The same settings as command-line flags, for party processes.
    pub fn to_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if let Some(a) = self.approx {
            flags.extend(["--approx".to_string(), approx_choice(a)]);
        }
        if let Some(f) = self.frac_bits {
            flags.extend(["--frac-bits".to_string(), f.to_string()]);
        }
        if let Some(t) = &self.truncation {
            flags.extend(["--truncation".to_string(), arg_name(t)]);
        }
        if let Some(t) = self.timeout {
            flags.extend(["--timeout".to_string(), t.to_string()]);
        }
        if let Some(n) = self.batch {
            flags.extend(["--batch".to_string(), n.to_string()]);
        }
        if self.preprocess {
            flags.push("--preprocess".to_string());
        }
        if let Some(s) = &self.sign {
            flags.extend(["--sign".to_string(), arg_name(s)]);
        }
        flags
    }
}

/// The settings and the network the three parties of this process talk over.
#[derive(Args, Debug, Clone)]
pub struct ProtocolArgs {
    /// The fixed point, comparison, truncation and timeout.
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// How the three parties talk.
    #[arg(long, value_enum, default_value_t)]
    pub network: NetworkArg,
}

impl ProtocolArgs {
    /// The network to run the three parties over.
    pub fn network(&self) -> Network {
        match self.network {
            NetworkArg::Memory => Network::Memory { seed: seed() },
            NetworkArg::Tcp => Network::Tcp {
                timeout: self
                    .settings
                    .timeout()
                    .unwrap_or(std::time::Duration::from_secs(10)),
            },
        }
    }

    /// See [`SettingsArgs::settings`].
    pub fn settings(&self, spec: &Spec) -> Result<Settings, String> {
        self.settings.settings(spec)
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
    /// Input image: `.npy` (float32, float64 or uint8; NCHW) or a grey or RGB `.png`/`.jpg` of the
    /// model's size (P0's secret). An `.npy` of `N x C x H x W` holds N images, and `--input`
    /// may be repeated: all the images run as one batch, in one inference.
    #[arg(long, required = true)]
    pub input: Vec<PathBuf>,
    /// How the model is loaded: the input shape of symbolic dimensions and the transforms.
    #[command(flatten)]
    pub load: super::models::LoadArgs,
    /// The settings and the network of the three parties.
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Loads a spec and checks it against the model (plain ReLU everywhere without one).
pub fn load_spec_for(model: &Model, spec: Option<&Path>) -> Result<Spec, String> {
    match spec {
        Some(p) => super::models::load_spec(model, p).map_err(|e| e.to_string()),
        None => Ok(Spec::default()),
    }
}

/// Runs `patchwork infer`.
pub fn run_infer(args: &InferArgs) -> Result<(), String> {
    let model = commands::load(&args.model, &args.load.options())
        .map_err(|e| e.to_string())?
        .model;
    let spec = load_spec_for(model.model(), args.spec.as_deref())?;
    commands::check_calibration(&model, &spec).map_err(|e| e.to_string())?;
    let settings = args.protocol.settings(&spec)?;
    let shape = model.model().shape(model.model().input);
    let (x, settings) = batch_input(&args.input, shape, args.protocol.settings.batch, settings)?;
    let reports = infer_local(args.protocol.network(), &model, &spec, settings, &[&x])?;
    let r = &reports[0];
    if args.json {
        outln!("{}", serde_json::to_string(r).map_err(|e| e.to_string())?);
    } else {
        outln!("{r}");
        if r.images == 1 {
            outln!("class {}; output {}", r.class, list(&r.output));
        } else {
            for (k, (_, class, out)) in per_image(&reports).enumerate() {
                outln!("image {k}: class {class}; output {}", list(out));
            }
        }
    }
    Ok(())
}

/// P0's images from `paths` as one batch ([`load_batch`]), and `settings` with that batch.
/// A `--batch` (`requested`) that says otherwise is refused with both numbers.
pub fn batch_input(
    paths: &[PathBuf],
    shape: &patchwork_core::model::Shape,
    requested: Option<usize>,
    settings: Settings,
) -> Result<(Vec<f32>, Settings), String> {
    let paths: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let (images, x) = load_batch(&paths, shape, MAX_BATCH).map_err(|e| e.to_string())?;
    if let Some(b) = requested.filter(|&b| b != images) {
        return Err(format!(
            "--batch {b} but the inputs hold {images} image{}",
            if images == 1 { "" } else { "s" }
        ));
    }
    let settings = Settings {
        batch: images,
        ..settings
    };
    Ok((x, settings))
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
    /// DReLU comparison: `exact`, or K_MSB,K_LSB (ignore K_MSB high and K_LSB low bits).
    #[arg(long, value_name = "auto|exact|K_MSB,K_LSB", default_value = "43,5", value_parser = parse_approx)]
    pub approx: ApproxArg,
    /// Fractional bits of the fixed-point encoding [default: 20 exact, 12 approximate].
    #[arg(long)]
    pub frac_bits: Option<u32>,
    /// How the three parties talk.
    #[arg(long, value_enum, default_value_t)]
    pub network: NetworkArg,
    /// Seconds a party waits for one message [default: 10].
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,
    /// Images per inference (the rounds are paid once per batch).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_batch)]
    pub batch: usize,
    /// Run each inference's input-independent part before the input (offline and online
    /// phases reported apart).
    #[arg(long)]
    pub preprocess: bool,
    /// How the sign steps decide (`fss`: 2 rounds per ReLU instead of 3).
    #[arg(long, value_enum, default_value_t)]
    pub sign: SignArg,
    /// Print the results as one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `patchwork demo`.
pub fn run_demo(args: &DemoArgs) -> Result<(), String> {
    let protocol = ProtocolArgs {
        settings: SettingsArgs {
            approx: Some(args.approx),
            frac_bits: args.frac_bits,
            truncation: None,
            timeout: args.timeout,
            batch: Some(args.batch),
            preprocess: args.preprocess,
            sign: Some(args.sign),
        },
        network: args.network,
    };
    let (model, spec) = DEMO.load()?;
    let settings = protocol.settings(&spec)?;
    let data = bundled_test64();
    let n = args.images.min(data.len());
    if n == 0 {
        return Err("--images must be at least 1".into());
    }
    let inputs: Vec<Vec<f32>> = (0..n)
        .map(|i| data.input(i).iter().copied().collect())
        .collect();
    let refs: Vec<&[f32]> = inputs.iter().map(|v| v.as_slice()).collect();
    if !args.json {
        outln!(
            "Patchwork demo: {} with Block-ReLU spec {}, {}, {} fractional bits, {}, signs by {}",
            DEMO.name,
            DEMO.spec_name().unwrap_or("none"),
            comparison_text(&settings),
            settings.fp.frac_bits(),
            settings.trunc,
            settings.sign
        );
        outln!("P0 holds each image, P1 the model, P2 helps; only P0 learns the class.\n");
    }
    let t0 = Instant::now();
    let reports = infer_local_batches(protocol.network(), &model, &spec, settings, &refs)?;
    let wall = t0.elapsed().as_secs_f64();
    let mut rows = Vec::with_capacity(n);
    let resolved = ResolvedSpec::new(model.model(), &spec).map_err(|e| e.to_string())?;
    for (i, (r, secure, _)) in per_image(&reports).enumerate() {
        let float = forward(&model, &data.input(i), &resolved).map_err(|e| e.to_string())?;
        rows.push(DemoRow {
            image: i,
            secure,
            float: argmax(float.as_slice().unwrap_or(&[])),
            label: data.labels[i] as usize,
            ms: r.seconds * 1e3 / r.images as f64,
            bytes: r.bytes.total / r.images as u64,
        });
    }
    let right = rows.iter().filter(|r| r.secure == r.label).count();
    let agree = rows.iter().filter(|r| r.secure == r.float).count();
    let bytes_per_image = reports.iter().map(|r| r.bytes.total).sum::<u64>() as f64 / n as f64;
    let rounds = reports.iter().map(|r| r.rounds).max().unwrap_or(0);
    let ms_per_image = reports.iter().map(|r| r.seconds).sum::<f64>() / n as f64 * 1e3;
    let batch = args.batch.min(n);
    let setup_bytes = reports[0].setup_bytes.total;
    // With --preprocess: the offline phases, per image (the numbers above are then online).
    let offline = reports
        .iter()
        .map(|r| {
            r.offline
                .as_ref()
                .map(|o| (o.bytes.total as f64, o.seconds))
        })
        .try_fold((0.0, 0.0), |(b, s), o| o.map(|(ob, os)| (b + ob, s + os)))
        .map(|(bytes, secs)| (bytes / n as f64, secs * 1e3 / n as f64));
    if args.json {
        let out = serde_json::json!({"model": DEMO.name, "spec": DEMO.spec_name(),
            "approx": comparison_arg(&settings), "frac_bits": settings.fp.frac_bits(),
            "truncation": arg_name(&TruncationArg::from(settings.trunc)), "images": rows,
            "secure_correct": right, "secure_equals_float": agree, "bytes_per_image": bytes_per_image,
            "rounds": rounds, "batch": batch, "ms_per_image": ms_per_image, "setup_bytes": setup_bytes,
            "offline_bytes_per_image": offline.map(|o| o.0), "offline_ms_per_image": offline.map(|o| o.1),
            "wall_seconds": wall});
        outln!("{out}");
        return Ok(());
    }
    outln!(
        "{:>5} {:<14} {:<14} {:<14} {:>8} {:>9}",
        "image",
        "secure",
        "float",
        "label",
        "ms",
        "MB"
    );
    for r in &rows {
        outln!(
            "{:>5} {:<14} {:<14} {:<14} {:>8.1} {:>9.3}",
            r.image,
            data.class_name(r.secure),
            data.class_name(r.float),
            data.class_name(r.label),
            r.ms,
            r.bytes as f64 / 1e6
        );
    }
    outln!(
        "\nsecure accuracy {right}/{n} ({:.1}%), secure class = float class on {agree}/{n}",
        100.0 * right as f64 / n as f64
    );
    let per = match batch {
        1 => format!("{rounds} rounds"),
        b => format!("{rounds} rounds per batch of {b}"),
    };
    outln!(
        "per image: {:.3} MB on the wire, {per}, {ms_per_image:.1} ms; session set-up (weight masks, once): {:.3} MB; wall {wall:.2} s for {n} images",
        bytes_per_image / 1e6,
        setup_bytes as f64 / 1e6
    );
    if let Some((bytes, ms)) = offline {
        outln!(
            "(--preprocess: the above is the online phase) offline phase per image, before its input: {:.3} MB (all from P2), {ms:.1} ms",
            bytes / 1e6
        );
    }
    Ok(())
}

/// Each image of the batches of `reports`, in order: its batch's report, its secure class and
/// its output.
fn per_image(reports: &[Report]) -> impl Iterator<Item = (&Report, usize, &[f32])> {
    reports.iter().flat_map(|r| {
        let per = r.output.len() / r.images.max(1);
        r.classes
            .iter()
            .zip(r.output.chunks(per.max(1)))
            .map(move |(&class, out)| (r, class, out))
    })
}

/// One image of the demo: the classes by the secure run, the float reference and the label.
#[derive(serde::Serialize)]
struct DemoRow {
    image: usize,
    secure: usize,
    float: usize,
    label: usize,
    ms: f64,
    bytes: u64,
}

/// The test set through secure inference, compared image by image with the float reference
/// (same spec). Sessions of about 100 images each (whole batches); a progress bar on stderr.
pub fn secure_eval(
    trained: &TrainedModel,
    spec: &Spec,
    protocol: &ProtocolArgs,
    data: &Dataset,
    limit: Option<usize>,
    json: bool,
) -> Result<(), String> {
    commands::check_calibration(trained, spec).map_err(|e| e.to_string())?;
    let settings = protocol.settings(spec)?;
    let model = trained.model();
    let n = limit.unwrap_or(data.len()).min(data.len());
    data.check_fits(model.shape(model.input))
        .map_err(|e| e.to_string())?;
    let labels = data
        .require_labels("a secure evaluation")
        .map_err(|e| e.to_string())?;
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
    let resolved = ResolvedSpec::new(model, spec).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let session = settings.batch * (100 / settings.batch).max(1);
    for start in (0..n).step_by(session) {
        let end = (start + session).min(n);
        let inputs: Vec<Vec<f32>> = (start..end)
            .map(|i| data.input(i).iter().copied().collect())
            .collect();
        let refs: Vec<&[f32]> = inputs.iter().map(|v| v.as_slice()).collect();
        let reports = infer_local_batches(protocol.network(), trained, spec, settings, &refs)?;
        for r in &reports {
            bytes += r.bytes.total;
            seconds += r.seconds;
        }
        for (k, (_, class, output)) in per_image(&reports).enumerate() {
            let i = start + k;
            let float = forward(trained, &data.input(i), &resolved).map_err(|e| e.to_string())?;
            let float: Vec<f32> = float.iter().copied().collect();
            let (fc, label) = (argmax(&float), labels[i] as usize);
            secure_right += (class == label) as usize;
            float_right += (fc == label) as usize;
            if class == fc {
                agree += 1;
            } else {
                disagreements.push(i);
            }
            max_diff = output
                .iter()
                .zip(&float)
                .map(|(a, b)| (a - b).abs())
                .fold(max_diff, f32::max);
        }
        bar.set_position(end as u64);
        bar.set_message(format!("secure top-1 = float top-1 on {agree}/{end}"));
    }
    bar.finish();
    let pct = |k: usize| 100.0 * k as f64 / n as f64;
    let per_image_mb = bytes as f64 / n.max(1) as f64 / 1e6;
    let per_image_ms = seconds / n.max(1) as f64 * 1e3;
    let wall = t0.elapsed().as_secs_f64();
    if json {
        let out = serde_json::json!({"images": n, "batch": settings.batch, "approx": comparison_arg(&settings),
            "frac_bits": settings.fp.frac_bits(), "truncation": arg_name(&TruncationArg::from(settings.trunc)),
            "secure_correct": secure_right, "float_correct": float_right, "secure_equals_float": agree,
            "max_logit_difference": max_diff, "disagreements": disagreements,
            "mb_per_image": per_image_mb, "protocol_ms_per_image": per_image_ms, "wall_seconds": wall});
        outln!("{out}");
        return Ok(());
    }
    outln!(
        "{n} images, {}, {} fractional bits, {}: secure accuracy {:.2}% ({secure_right}), float accuracy {:.2}% ({float_right}), secure top-1 = float top-1 on {agree}/{n}, max |logit difference| {max_diff:.4}",
        comparison_text(&settings), settings.fp.frac_bits(), settings.trunc, pct(secure_right), pct(float_right)
    );
    if !disagreements.is_empty() {
        outln!(
            "images where the classes differ: {}",
            list(&disagreements[..disagreements.len().min(50)])
        );
    }
    outln!(
        "per image: {per_image_mb:.3} MB, {per_image_ms:.1} ms of protocol; {wall:.1} s wall in all"
    );
    Ok(())
}

/// Values separated by spaces, for people (JSON output carries the exact values).
pub fn list<T: std::fmt::Display>(values: &[T]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// A command line of the settings alone.
    #[derive(Parser)]
    struct Only {
        #[command(flatten)]
        settings: SettingsArgs,
    }

    #[test]
    fn party_flags_parse_back_to_the_same_settings() {
        for args in [
            SettingsArgs::default(),
            SettingsArgs {
                approx: Some(ApproxArg::Fixed(Comparison::PAPER)),
                frac_bits: Some(13),
                truncation: Some(TruncationArg::Assisted),
                timeout: Some(2.5),
                batch: Some(8),
                preprocess: true,
                sign: Some(SignArg::Fss),
            },
            SettingsArgs {
                approx: Some(ApproxArg::Fixed(Comparison::Exact)),
                truncation: Some(TruncationArg::Local),
                ..SettingsArgs::default()
            },
        ] {
            let flags = args.to_flags();
            let parsed = Only::parse_from(std::iter::once("x".to_string()).chain(flags)).settings;
            let spec = Spec::default();
            assert_eq!(parsed.settings(&spec), args.settings(&spec));
            assert_eq!(parsed.timeout(), args.timeout());
        }
    }
}
