//! `patchwork approx-error`: the error rate of approximate DReLU (seed paper, "Approximate
//! DReLU") for a grid of (k_msb, k_lsb), measured on synthetic activations.
//!
//! Method: draw activations `x ~ Normal(0, sigma^2)` (real units), encode them with `f`
//! fractional bits, split each into uniformly random shares `(x0, x - x0)` as the protocol
//! sees them, and evaluate the plaintext outcome of the approximate comparison
//! ([`Comparison::outcome`], which the protocol tests check bit for bit against the secure
//! protocol). An error is an outcome different from `[x >= 0]`. Errors come from values in
//! `[0, 2^(k_lsb - f))` that the dropped carry turns negative, and from magnitudes of at least
//! `2^(63 - k_msb - f)` that wrap around the `l*`-bit ring.
//!
//! With `--model`, the activations are real: the inputs of every DReLU of the model (each ReLU
//! input, or with `--spec` each Block-ReLU patch sum) on `--samples` test images, taken from the
//! float reference forward pass.

use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::prg::Prg;
use patchwork_core::protocol::drelu::Comparison;
use patchwork_model::data::DataSource;

use super::values::{arg_name, DataArg};

/// Arguments of `approx-error`.
#[derive(clap::Args)]
pub struct Args {
    /// Standard deviation of the synthetic activations, in real units.
    #[arg(long, default_value_t = 1.0)]
    sigma: f64,
    /// Fractional bits of the fixed-point encoding.
    #[arg(long, default_value_t = 12)]
    frac_bits: u32,
    /// Activations per grid point.
    #[arg(long, default_value_t = 1_000_000)]
    samples: usize,
    /// k_msb values of the grid.
    #[arg(long, value_delimiter = ',', default_value = "35,39,41,43,45,47")]
    k_msb: Vec<u32>,
    /// k_lsb values of the grid.
    #[arg(long, value_delimiter = ',', default_value = "0,2,4,5,6,8")]
    k_lsb: Vec<u32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Measure on the DReLU inputs of this model instead of synthetic activations.
    #[arg(long)]
    model: Option<std::path::PathBuf>,
    /// Block-ReLU spec of the model (the DReLU inputs are then the patch sums).
    #[arg(long, requires = "model")]
    spec: Option<std::path::PathBuf>,
    /// Data set for `--model`.
    #[arg(long, value_enum, default_value_t = DataArg::FashionMnist64)]
    data: DataArg,
    /// Images for `--model`.
    #[arg(long, default_value_t = 64)]
    images: usize,
}

/// The DReLU inputs of `model` (with `spec`) on the first `images` images of `data`.
fn real_activations(args: &Args) -> Result<Vec<(f32, usize)>, String> {
    use patchwork_core::protocol::brelu::{MapShape, PatchPlan};
    let Some(path) = &args.model else {
        return Ok(Vec::new());
    };
    let trained = patchwork_model::onnx::load_model(path).map_err(|e| e.to_string())?;
    let model = trained.model();
    let spec = match &args.spec {
        Some(p) => super::models::load_spec(model, p).map_err(|e| e.to_string())?,
        None => patchwork_core::spec::Spec::default(),
    };
    let dir = std::path::Path::new(patchwork_model::data::fashion::DEFAULT_DIR);
    let input = model.shape(model.input);
    let data = DataSource::from(args.data)
        .load(dir, input, Default::default(), Some(args.images))
        .map_err(|e| e.to_string())?;
    let resolved = ResolvedSpec::new(model, &spec).map_err(|e| e.to_string())?;
    let mut acts = Vec::new();
    for i in 0..args.images.min(data.len()) {
        let values =
            patchwork_model::reference::forward_all::<f32>(&trained, &data.input(i), &resolved)
                .map_err(|e| e.to_string())?;
        for (k, node) in model
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.op.takes_patches())
        {
            let x = values[node.inputs[0]].as_deref().unwrap_or(&[]);
            let Some((sizes, (c, h, w))) = resolved.layer(k) else {
                continue;
            };
            let plan = PatchPlan::new(
                MapShape {
                    channels: *c,
                    height: *h,
                    width: *w,
                },
                sizes,
            );
            let mut sums = vec![0f32; plan.patches];
            plan.for_each_pixel(|pix, p| sums[p] += x[pix]);
            // The protocol compares a layer's patch sums in the window of its largest patch.
            let area = plan.max_area();
            acts.extend(sums.into_iter().map(|s| (s, area)));
        }
    }
    Ok(acts)
}

/// Error rate of `cmp` over `samples` activations: the given real ones (cycled; each with the
/// largest patch area of its layer, compared as the protocol does with
/// `Comparison::for_patch`), or drawn
/// from `Normal(0, sigma^2)` when `real` is empty.
pub fn error_rate(
    cmp: Comparison,
    fp: FixedPoint,
    sigma: f64,
    real: &[(f32, usize)],
    samples: usize,
    seed: u32,
) -> Result<f64, String> {
    let mut prg = Prg::new(&[7; 16], seed.into(), 1);
    let uniform = |prg: &mut Prg| ((prg.u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let mut errors = 0usize;
    for k in 0..samples {
        let (x, area) = if real.is_empty() {
            let (u1, u2) = (uniform(&mut prg), uniform(&mut prg));
            let x = sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            (x, 1)
        } else {
            let (x, area) = real[k % real.len()];
            (x as f64, area)
        };
        let v = fp
            .encode(x as f32)
            .map_err(|e| format!("activation cannot be encoded: {e}"))?;
        let s0 = prg.u64();
        if cmp.for_patch(area).outcome(s0, v.wrapping_sub(s0)) != ((v as i64) >= 0) {
            errors += 1;
        }
    }
    Ok(errors as f64 / samples as f64)
}

/// Runs the grid and prints it.
pub fn run(args: &Args) -> Result<(), String> {
    let fp = FixedPoint::new(args.frac_bits).ok_or("--frac-bits must be at most 32")?;
    if args.samples == 0 {
        return Err("--samples must be at least 1".into());
    }
    let real = real_activations(args)?;
    let samples = if real.is_empty() {
        args.samples
    } else {
        real.len()
    };
    let mut grid = Vec::new();
    for (i, &k_msb) in args.k_msb.iter().enumerate() {
        for (j, &k_lsb) in args.k_lsb.iter().enumerate() {
            let cmp = Comparison::Approx { k_msb, k_lsb };
            if k_msb + k_lsb > 62 {
                return Err(format!(
                    "k_msb + k_lsb = {} leaves fewer than 2 bits",
                    k_msb + k_lsb
                ));
            }
            let rate = error_rate(cmp, fp, args.sigma, &real, samples, (i * 64 + j) as u32)?;
            grid.push((k_msb, k_lsb, rate));
        }
    }
    if args.json {
        let rows: Vec<_> = grid
            .iter()
            .map(|&(m, l, r)| serde_json::json!({"k_msb": m, "k_lsb": l, "error_rate": r}))
            .collect();
        let source = match &args.model {
            Some(m) => format!(
                "DReLU inputs of {} on {} images of {}",
                m.display(),
                args.images,
                arg_name(&args.data)
            ),
            None => format!("normal, sigma {}", args.sigma),
        };
        let out = serde_json::json!({"activations": source, "frac_bits": args.frac_bits, "samples": samples, "grid": rows});
        outln!("{out}");
        return Ok(());
    }
    let source = match &args.model {
        Some(m) => format!(
            "the DReLU inputs of {} on {} images",
            m.display(),
            args.images
        ),
        None => format!("x ~ N(0, {}^2)", args.sigma),
    };
    outln!(
        "approximate DReLU error rate on {source}, f = {}, {samples} samples per cell (rows k_msb, columns k_lsb)",
        args.frac_bits
    );
    out!("{:>6}", "");
    args.k_lsb.iter().for_each(|l| out!("{l:>11}"));
    outln!();
    for &m in &args.k_msb {
        out!("{m:>6}");
        for &(_, _, r) in grid.iter().filter(|g| g.0 == m) {
            out!("{r:>11.2e}");
        }
        outln!();
    }
    Ok(())
}
