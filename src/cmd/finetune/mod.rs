//! `patchwork finetune`: the seed paper's third step on any model Patchwork imports. The planned
//! Block-ReLUs replace the model's ReLUs and the network is fine-tuned, distilled from the plain
//! model (or `--teacher`), by the PyTorch trainer in `$PATCHWORK_VENV`.
//!
//! ```text
//! patchwork finetune --model M.onnx --spec S.json --data D --epochs E --out F.onnx
//!     [--test-data T] [--teacher T.onnx] [--lr ..] [--batch ..] [--seed ..] [--threads ..]
//! ```
//!
//! The images come from the data sources of `eval` and `plan distortion`, loaded and
//! normalised here, so the trainer sees exactly what `eval` sees. The trainer rebuilds the
//! network from Patchwork's own graph ([`bundle`]) and checks it against `patchwork reference`
//! before it trains. The fine-tuned weights come back into the imported model, which is
//! written as ONNX ([`patchwork_model::onnx::export_model`]: same node names, so the spec
//! applies; same input shape), imported again and evaluated with the spec: the output is
//! written only when that accuracy equals the trainer's (one image in 1,000, or one image).
//! The ONNX file and the epoch log (`F.log`) are written through a temporary file and a
//! rename, only at the end, so an interrupted or failed run leaves an earlier output untouched.

pub mod bundle;
pub mod trainer;

use std::path::{Path, PathBuf};

use clap::Args;
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::TrainedModel;
use patchwork_model::commands;
use patchwork_model::data::{DataSource, Dataset};
use serde_json::{json, Value};

use super::data_args::{parse_data, DataArgs, DataName};
use super::models::{load, load_spec, LoadArgs};
use super::values::DataArg;
use patchwork_planner::distortion::shard::write_atomic;

/// `patchwork finetune`.
#[derive(Args, Debug, Clone)]
pub struct FinetuneArgs {
    /// The model to fine-tune (ONNX; a plain model or an earlier fine-tuned one).
    #[arg(long)]
    pub model: PathBuf,
    /// The Block-ReLU spec whose patches replace the model's ReLUs.
    #[arg(long)]
    pub spec: PathBuf,
    /// Where to write the fine-tuned model (ONNX); the epoch log goes beside it (`F.log`).
    #[arg(long)]
    pub out: PathBuf,
    /// Epochs over the training images.
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// The training images (`fashion-mnist`: the training split).
    #[command(flatten)]
    pub data: DataArgs,
    /// Only the first N training images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// The labelled images the accuracy is measured on, normalised as `--data` (default: the
    /// Fashion-MNIST test split when training on Fashion-MNIST; needed otherwise).
    #[arg(long, value_parser = parse_data)]
    pub test_data: Option<DataName>,
    /// Labels of `--test-data X.npy`.
    #[arg(long, value_name = "Y.npy")]
    pub test_labels: Option<PathBuf>,
    /// Only the first N test images.
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// The plain model to distil from (default: `--model` with plain ReLUs).
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Learning rate (SGD with Nesterov momentum 0.9, cosine decay).
    #[arg(long, default_value_t = 0.005)]
    pub lr: f64,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Weight decay.
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f64,
    /// Gradient norm clip (0: none).
    #[arg(long, default_value_t = 2.0)]
    pub clip: f64,
    /// Linear warm-up, in epochs.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Weight of the distillation term (0: cross-entropy only).
    #[arg(long, default_value_t = 0.9)]
    pub kd_alpha: f64,
    /// Distillation temperature.
    #[arg(long, default_value_t = 4.0)]
    pub kd_temp: f64,
    /// Straight-through gradient for the patch decisions, a box of half-width W around 0
    /// (0: none, the paper's fine-tuning).
    #[arg(long, default_value_t = 0.0, value_name = "W")]
    pub decision_grad: f64,
    /// Augmentation of the training batches: `none`, or `flip-shift` (random horizontal flip
    /// and shift by up to 2 pixels).
    #[arg(long, default_value = "none", value_parser = ["none", "flip-shift"])]
    pub augment: String,
    /// Random seed of the trainer.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// PyTorch threads (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// How the model (and the teacher) is loaded: the input shape of symbolic dimensions and
    /// the transforms, which the fine-tuned file then holds.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// The epoch log beside the output: `F.onnx` -> `F.log`.
pub fn log_path(out: &Path) -> PathBuf {
    out.with_extension("log")
}

/// Runs `patchwork finetune`.
pub fn run(args: &FinetuneArgs) -> Result<(), String> {
    if args.epochs == 0 || args.batch == 0 {
        return Err("--epochs and --batch must be at least 1".into());
    }
    if args.out.extension().is_none_or(|e| e != "onnx") {
        return Err(format!(
            "{}: the output must end in .onnx",
            args.out.display()
        ));
    }
    let student = load(&args.model, &args.load).map_err(|e| e.to_string())?;
    let spec = load_spec(student.model(), &args.spec).map_err(|e| e.to_string())?;
    let resolved = ResolvedSpec::new(student.model(), &spec)
        .map_err(|e| format!("{}: {e}", args.spec.display()))?;
    let teacher = match &args.teacher {
        Some(path) => {
            let t = load(path, &args.load).map_err(|e| e.to_string())?;
            same_interface(&student, &t, &args.model, path)?;
            t
        }
        None => student.clone(),
    };
    let (train, test) = datasets(args, &student)?;
    let classes = student.model().shape(student.model().output).0.clone();
    let outputs = match classes[..] {
        [1, k] => k,
        _ => {
            return Err(format!(
                "{}: finetune trains classifiers (output [1, K]); this model's output is {:?}",
                args.model.display(),
                classes
            ))
        }
    };
    for (name, data) in [("training", &train), ("test", &test)] {
        if data.classes() > outputs {
            return Err(format!(
                "the {name} labels name {} classes, the model scores {outputs}",
                data.classes()
            ));
        }
    }
    let py = trainer::python()?;

    let work = tempfile::Builder::new()
        .prefix("patchwork-finetune-")
        .tempdir()
        .map_err(|e| format!("a temporary directory: {e}"))?;
    let dir = work.path();
    let plain = ResolvedSpec::plain(teacher.model()).map_err(|e| e.to_string())?;
    bundle::write_model(dir, "student", &student, &resolved)?;
    bundle::write_model(dir, "teacher", &teacher, &plain)?;
    let n_train = bundle::write_dataset(dir, "train", &train, args.limit)?;
    let n_test = bundle::write_dataset(dir, "test", &test, args.test_limit)?;
    bundle::write_reference(dir, "student", &student, &resolved, &test, n_test)?;
    bundle::write_reference(dir, "teacher", &teacher, &plain, &test, n_test)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let config = json!({"epochs": args.epochs, "batch": args.batch, "lr": args.lr,
        "weight_decay": args.weight_decay, "clip": args.clip, "warmup": args.warmup,
        "kd_alpha": args.kd_alpha, "kd_temp": args.kd_temp, "decision_grad": args.decision_grad,
        "augment": args.augment, "seed": args.seed, "threads": threads});
    bundle::write_config(dir, &config)?;
    eprintln!(
        "fine-tuning {} with {} ({} training images, {} test images, {} epochs, {threads} threads)",
        args.model.display(),
        args.spec.display(),
        n_train,
        n_test,
        args.epochs
    );

    let report = trainer::run(&py, dir, args.epochs, |e| {
        eprintln!(
            "epoch {}/{}: loss {:.4}, train accuracy {:.4}, test accuracy {:.4} ({:.0} s)",
            e["epoch"],
            e["epochs"],
            e["loss"].as_f64().unwrap_or(f64::NAN),
            e["train_accuracy"].as_f64().unwrap_or(f64::NAN),
            ratio(e["test_correct"].as_u64(), n_test),
            e["seconds"].as_f64().unwrap_or(0.0)
        )
    })?;
    let tuned = bundle::read_weights(dir, "trained", &student)?;
    let bytes = patchwork_model::onnx::export_model(&tuned).map_err(|e| e.to_string())?;
    // What was written is what is checked: imported again, evaluated as `eval` would.
    let back = patchwork_model::onnx::import_bytes(&args.out.display().to_string(), &bytes)
        .map_err(|e| format!("the exported model does not import: {e}"))?;
    let evaluated =
        commands::evaluate(&back, Some(&spec), &test, Some(n_test)).map_err(|e| e.to_string())?;
    let trainer_correct = report.done["test_correct"].as_u64().unwrap_or(u64::MAX) as usize;
    let differ = evaluated.correct.abs_diff(trainer_correct);
    if differ * 1000 > n_test.max(1000) {
        return Err(format!(
            "the trainer measured {trainer_correct}/{n_test} test images right, patchwork eval of \
             the exported model {}/{n_test}: they must agree within one image in 1,000; \
             nothing was written",
            evaluated.correct
        ));
    }
    let log = log_lines(args, &report, evaluated.correct, n_test);
    write_atomic(&args.out, &bytes).map_err(|e| format!("{}: {e}", args.out.display()))?;
    write_atomic(&log_path(&args.out), &log)
        .map_err(|e| format!("{}: {e}", log_path(&args.out).display()))?;

    let before = report.start["before_test_correct"].as_u64();
    let teacher_acc = report.start["teacher_test_correct"].as_u64();
    outln!(
        "teacher (plain ReLUs) test accuracy {:.4}; with the spec's Block-ReLUs {:.4} before \
         fine-tuning, {:.4} after ({}/{n_test}; patchwork eval of the written file {}/{n_test})",
        ratio(teacher_acc, n_test),
        ratio(before, n_test),
        ratio(Some(trainer_correct as u64), n_test),
        trainer_correct,
        evaluated.correct
    );
    outln!(
        "wrote {} and {}",
        args.out.display(),
        log_path(&args.out).display()
    );
    if spec.calibration.is_some() {
        eprintln!(
            "note: {}'s calibrated windows were measured on {}; calibrate them again on {} \
             (`patchwork plan calibrate`) before a secure run",
            args.spec.display(),
            args.model.display(),
            args.out.display()
        );
    }
    Ok(())
}

fn ratio(correct: Option<u64>, total: usize) -> f64 {
    correct.map_or(f64::NAN, |c| c as f64 / total.max(1) as f64)
}

/// The teacher must read and score what the student does.
fn same_interface(
    student: &TrainedModel,
    teacher: &TrainedModel,
    model: &Path,
    path: &Path,
) -> Result<(), String> {
    let io = |t: &TrainedModel| {
        let m = t.model();
        (m.shape(m.input).clone(), m.shape(m.output).clone())
    };
    let (s, t) = (io(student), io(teacher));
    if s != t {
        return Err(format!(
            "teacher {}: input {} and output {} differ from {}'s input {} and output {}",
            path.display(),
            t.0,
            t.1,
            model.display(),
            s.0,
            s.1
        ));
    }
    Ok(())
}

/// The training and test images, each checked to fit the model.
fn datasets(args: &FinetuneArgs, trained: &TrainedModel) -> Result<(Dataset, Dataset), String> {
    let model = trained.model();
    let input = model.shape(model.input);
    let normalize = args.data.normalize()?;
    let train_source = args.data.source(DataSource::FashionMnistTrain)?;
    let test_args = match &args.test_data {
        Some(name) => DataArgs {
            data: name.clone(),
            labels: args.test_labels.clone(),
            ..args.data.clone()
        },
        None if matches!(args.data.data, DataName::Named(_)) => DataArgs {
            data: DataName::Named(DataArg::FashionMnist),
            labels: None,
            ..args.data.clone()
        },
        None => {
            return Err(format!(
                "--test-data is needed with --data {}: the accuracy is measured on held-out images",
                args.data.name()
            ))
        }
    };
    let test_source = test_args.source(DataSource::FashionMnistTest)?;
    let load = |source: DataSource, what: &str, limit| {
        source
            .load(&args.data.data_dir, input, normalize.clone(), limit)
            .map_err(|e| format!("the {what} images: {e}"))
    };
    let train = load(train_source, "training", args.limit)?;
    let test = load(test_source, "test", args.test_limit)?;
    Ok((train, test))
}

/// The epoch log: the settings, then one JSON object per epoch and the result.
fn log_lines(
    args: &FinetuneArgs,
    report: &trainer::Report,
    evaluated: usize,
    n_test: usize,
) -> String {
    let mut lines = vec![
        json!({"model": args.model, "spec": args.spec, "out": args.out,
        "teacher": args.teacher.as_ref().unwrap_or(&args.model), "data": args.data.name(),
        "epochs": args.epochs, "lr": args.lr, "batch": args.batch, "seed": args.seed,
        "kd_alpha": args.kd_alpha, "kd_temp": args.kd_temp, "start": report.start}),
    ];
    lines.extend(report.epochs.iter().cloned());
    lines.push(
        json!({"event": "result", "trainer_test_correct": report.done["test_correct"],
        "eval_test_correct": evaluated, "test_total": n_test}),
    );
    lines
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
