//! `--data` and its companions, one argument group for every command that reads a data set
//! (`eval`, `plan distortion`, `approx-error`): a Fashion-MNIST split by name, an image folder,
//! or NumPy arrays, with per-channel normalisation.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use patchwork_model::data::{DataSource, Normalize};

use super::values::{arg_name, DataArg};

/// A data set named on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataName {
    /// A Fashion-MNIST split.
    Named(DataArg),
    /// An ImageFolder directory.
    Folder(PathBuf),
    /// An `.npy` file of images.
    Arrays(PathBuf),
}

/// Parses `--data`: a name, a directory or an `.npy` file.
pub fn parse_data(s: &str) -> Result<DataName, String> {
    if let Ok(name) = DataArg::from_str(s, false) {
        return Ok(DataName::Named(name));
    }
    let path = PathBuf::from(s);
    if path.is_dir() {
        Ok(DataName::Folder(path))
    } else if path.extension().is_some_and(|e| e == "npy") {
        Ok(DataName::Arrays(path))
    } else {
        let names: Vec<String> = DataArg::value_variants().iter().map(arg_name).collect();
        Err(format!(
            "unknown data set '{s}': expected {}, an image folder (DIR/<class>/*.png|jpg) or an \
             .npy file of N x C x H x W images",
            names.join(", ")
        ))
    }
}

/// Where a command's images come from.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// `fashion-mnist`, `fashion-mnist-train`, `fashion-mnist-64` (bundled), an image folder
    /// `DIR` in the ImageFolder layout (`DIR/<class>/*.png|jpg`, resized bilinearly to the
    /// model's input), or `X.npy` (N x C x H x W; float32, float64 or uint8 / 255).
    #[arg(long, value_parser = parse_data, default_value = "fashion-mnist")]
    pub data: DataName,
    /// Labels of `--data X.npy`: `Y.npy` of N integers.
    #[arg(long, value_name = "Y.npy")]
    pub labels: Option<PathBuf>,
    /// Per-channel means subtracted after scaling to [0, 1], comma-separated (one for all
    /// channels), e.g. `0.485,0.456,0.406`.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub mean: Vec<f32>,
    /// Per-channel standard deviations divided by after the means, e.g. `0.229,0.224,0.225`.
    #[arg(long, value_delimiter = ',')]
    pub std: Vec<f32>,
    /// Directory of the Fashion-MNIST IDX files.
    #[arg(long, default_value = patchwork_model::data::fashion::DEFAULT_DIR)]
    pub data_dir: PathBuf,
}

impl DataArgs {
    /// The source; `fashion-mnist` means `fashion_default` (the test split to evaluate on,
    /// the training split to calibrate with).
    pub fn source(&self, fashion_default: DataSource) -> Result<DataSource, String> {
        if self.labels.is_some() && !matches!(self.data, DataName::Arrays(_)) {
            return Err("--labels goes with --data X.npy".into());
        }
        Ok(match &self.data {
            DataName::Named(DataArg::FashionMnist) => fashion_default,
            DataName::Named(named) => DataSource::from(*named),
            DataName::Folder(dir) => DataSource::ImageFolder(dir.clone()),
            DataName::Arrays(images) => DataSource::Arrays {
                images: images.clone(),
                labels: self.labels.clone(),
            },
        })
    }

    /// The normalisation of `--mean` and `--std`.
    pub fn normalize(&self) -> Result<Normalize, String> {
        Normalize::new(self.mean.clone(), self.std.clone())
    }

    /// How the data set is named in reports.
    pub fn name(&self) -> String {
        match &self.data {
            DataName::Named(n) => arg_name(n),
            DataName::Folder(p) | DataName::Arrays(p) => p.display().to_string(),
        }
    }
}
