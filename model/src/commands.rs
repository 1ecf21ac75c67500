//! The model-related commands as library functions (the CLI in `src/cmd/models.rs` parses
//! arguments and prints): float reference on one input, DReLU statistics of a spec, and
//! plaintext accuracy on a labelled data set.

use std::fmt::Write as _;
use std::path::Path;

use ndarray::ArrayD;
use patchwork_core::model::spec_check::{drelu_summary, DreluSummary, ResolvedSpec, SpecError};
use patchwork_core::model::{Model, ModelError, TrainedModel};
use patchwork_core::spec::Spec;

use crate::architecture::{is_architecture_path, load_architecture, ArchitectureError};
use crate::data::input::{load_input, InputError};
use crate::data::{DataError, Dataset};
use crate::onnx::{load_model_for, ImportError};
use crate::reference::{forward, ForwardError};
use crate::spec_io::{load_spec, SpecIoError};
use crate::transform::{apply, Transforms};

/// How a model file is loaded: the input shape for symbolic dimensions, then the transforms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadOptions {
    /// `[N, C, H, W]` for an ONNX input with symbolic dimensions (checked against an
    /// architecture file's input).
    pub input_shape: Option<patchwork_core::model::Shape>,
    /// The transforms applied after loading.
    pub transforms: Transforms,
}

/// Any failure of a model command.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The ONNX model cannot be imported.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// The architecture file cannot be read.
    #[error(transparent)]
    Architecture(#[from] ArchitectureError),
    /// A transform left the architecture and its weights apart.
    #[error("after the transforms: {0}")]
    Transformed(#[from] ModelError),
    /// An architecture file was given where the weights are needed.
    #[error("{0}: an architecture file has no weights; this needs the ONNX model (P1's)")]
    NeedsWeights(String),
    /// The input cannot be loaded.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The spec file cannot be read.
    #[error(transparent)]
    SpecIo(#[from] SpecIoError),
    /// The spec does not fit the model.
    #[error("{path}: {source}")]
    SpecFit {
        /// The file.
        path: String,
        /// The underlying error.
        source: SpecError,
    },
    /// The float reference failed.
    #[error(transparent)]
    Forward(#[from] ForwardError),
    /// The data set cannot be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The model gives fewer scores than the labels name classes.
    #[error("model output has {found} values, but the data set's labels name {classes} classes (one score per class expected)")]
    NotAClassifier {
        /// What was found.
        found: usize,
        /// Classes the labels name.
        classes: usize,
    },
    /// An argument the command cannot use.
    #[error("{0}")]
    Usage(String),
    /// The spec's calibrated windows were measured on another model.
    #[error(
        "the spec's approximate-DReLU windows were calibrated on another model (digest \
         {recorded}, this model's {found}): its ranges are not this model's; calibrate again \
         (`patchwork plan calibrate`)"
    )]
    CalibratedForOtherModel {
        /// The digest the calibration recorded.
        recorded: String,
        /// This model's.
        found: String,
    },
}

/// Refuses a spec whose calibrated windows record another model's digest (other weights, or
/// another architecture); the party with the weights checks this before a session.
pub fn check_calibration(model: &TrainedModel, spec: &Spec) -> Result<(), CommandError> {
    let Some(recorded) = spec
        .calibration
        .as_ref()
        .and_then(|c| c.model_digest.as_ref())
    else {
        return Ok(());
    };
    let found = crate::digest::model_digest(model);
    if *recorded != found {
        return Err(CommandError::CalibratedForOtherModel {
            recorded: recorded.clone(),
            found,
        });
    }
    Ok(())
}

/// A loaded model (a [`TrainedModel`] or a public architecture) with the report of the
/// transforms applied to it.
pub struct Loaded<M> {
    /// The model, transforms applied.
    pub model: M,
    /// One line per transform applied, for the report.
    pub transforms: Vec<String>,
}

/// Loads an ONNX model (weights included) and applies the selected transforms.
pub fn load(model: &Path, options: &LoadOptions) -> Result<Loaded<TrainedModel>, CommandError> {
    if is_architecture_path(model) {
        return Err(CommandError::NeedsWeights(model.display().to_string()));
    }
    let trained = load_model_for(model, options.input_shape.as_ref())?;
    let (mut architecture, weights) = trained.into_parts();
    let report = apply(&mut architecture, options.transforms);
    Ok(Loaded {
        model: TrainedModel::new(architecture, weights)?,
        transforms: report,
    })
}

/// Loads a model as P0 and P2 need it: an architecture file (`.json`; see
/// [`crate::architecture`]) or an ONNX model, whose weights are dropped at once. Transforms
/// apply.
pub fn load_public(model: &Path, options: &LoadOptions) -> Result<Loaded<Model>, CommandError> {
    let mut architecture = if is_architecture_path(model) {
        let a = load_architecture(model)?;
        match &options.input_shape {
            Some(shape) if a.shape(a.input) != shape => {
                return Err(CommandError::Usage(format!(
                    "{}: the architecture's input is {}, --input-shape says {shape}",
                    model.display(),
                    a.shape(a.input)
                )))
            }
            _ => a,
        }
    } else {
        load_model_for(model, options.input_shape.as_ref())?
            .into_parts()
            .0
    };
    let report = apply(&mut architecture, options.transforms);
    Ok(Loaded {
        model: architecture,
        transforms: report,
    })
}

/// Loads a spec and checks it against the model.
pub fn load_checked_spec(model: &Model, path: &Path) -> Result<Spec, CommandError> {
    let spec = load_spec(path)?;
    patchwork_core::model::spec_check::validate_spec(model, &spec).map_err(|source| {
        CommandError::SpecFit {
            path: path.display().to_string(),
            source,
        }
    })?;
    Ok(spec)
}

/// Float reference output of the model on one input file.
pub fn reference(
    trained: &TrainedModel,
    input: &Path,
    spec: Option<&Spec>,
) -> Result<ArrayD<f32>, CommandError> {
    let model = trained.model();
    let x = load_input(input, model.shape(model.input))?;
    let spec = ResolvedSpec::of(model, spec).map_err(ForwardError::Spec)?;
    Ok(forward(trained, &x, &spec)?)
}

/// The JSON form of an output: `{"output": [...], "shape": [...]}`.
pub fn output_json(y: &ArrayD<f32>) -> serde_json::Value {
    serde_json::json!({ "output": y.iter().copied().collect::<Vec<f32>>(), "shape": y.shape() })
}

/// DReLU counts of the model under a spec (validated).
pub fn spec_stats(model: &Model, spec: &Spec) -> Result<DreluSummary, SpecError> {
    drelu_summary(model, spec)
}

/// A text table of a summary: per layer, channels, map, DReLUs plain and with the spec.
pub fn format_summary(s: &DreluSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<40} {:>5} {:>9} {:>10} {:>10} {:>7} {:>4} {:>4}",
        "layer", "C", "HxW", "ReLU", "spec", "ratio", "id", "zero"
    );
    for l in &s.layers {
        let _ = writeln!(
            out,
            "{:<40} {:>5} {:>9} {:>10} {:>10} {:>7.4} {:>4} {:>4}",
            l.name,
            l.channels,
            format!("{}x{}", l.map[0], l.map[1]),
            l.plain,
            l.with_spec,
            l.ratio(),
            l.identity_channels,
            l.zero_channels
        );
    }
    let _ = writeln!(
        out,
        "{:<40} {:>5} {:>9} {:>10} {:>10} {:>7.4}",
        "total",
        "",
        "",
        s.plain(),
        s.with_spec(),
        s.ratio()
    );
    let clamp: usize = s.layers.iter().map(|l| l.clamp).sum();
    if clamp > 0 {
        let _ = writeln!(
            out,
            "ReLU6 layers count their clamp at 6, one DReLU per element ({clamp} in all), which \
             no patch size removes"
        );
    }
    out
}

/// Result of an accuracy run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Accuracy {
    /// Images classified as labelled.
    pub correct: usize,
    /// Images evaluated.
    pub total: usize,
}

impl Accuracy {
    /// `correct / total`.
    pub fn ratio(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }
}

/// Plaintext float top-1 accuracy on the first `limit` images (all when `None`).
pub fn evaluate(
    trained: &TrainedModel,
    spec: Option<&Spec>,
    data: &Dataset,
    limit: Option<usize>,
) -> Result<Accuracy, CommandError> {
    let model = trained.model();
    data.check_fits(model.shape(model.input))?;
    let labels = data.require_labels("accuracy")?;
    let total = limit.unwrap_or(data.len()).min(data.len());
    let spec = ResolvedSpec::of(model, spec).map_err(ForwardError::Spec)?;
    let mut correct = 0;
    for (i, &label) in labels.iter().enumerate().take(total) {
        let y = forward(trained, &data.input(i), &spec)?;
        if y.len() < data.classes() {
            return Err(CommandError::NotAClassifier {
                found: y.len(),
                classes: data.classes(),
            });
        }
        let scores: Vec<f32> = y.iter().copied().collect();
        let best = patchwork_core::infer::argmax(&scores);
        correct += usize::from(best == label as usize);
    }
    Ok(Accuracy { correct, total })
}
