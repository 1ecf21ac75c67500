//! A labelled set of images as every command reads it (evaluation, calibration of the
//! planner, the demo): `C x H x W` images, bytes or floats, with per-channel normalisation.

use ndarray::{ArrayD, IxDyn};
use patchwork_core::model::Shape;

/// Image values: bytes (a value is `byte / 255`) or floats (as they are).
#[derive(Clone, Debug, PartialEq)]
pub enum Pixels {
    /// Bytes of IDX files, PNG/JPEG images or `uint8` arrays.
    U8(Vec<u8>),
    /// Floats of `float32`/`float64` arrays.
    F32(Vec<f32>),
}

impl Pixels {
    fn len(&self) -> usize {
        match self {
            Pixels::U8(v) => v.len(),
            Pixels::F32(v) => v.len(),
        }
    }
}

/// Per-channel normalisation `(x - mean[c]) / std[c]`, applied to every image after scaling;
/// none by default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    /// One mean and one standard deviation per channel (or one for all channels); every
    /// standard deviation positive. Empty lists mean no normalisation.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Normalize, String> {
        if let Some(s) = std.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
            return Err(format!("--std {s}: standard deviations must be positive"));
        }
        if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
            return Err(format!("--mean {m}: means must be finite"));
        }
        Ok(Normalize { mean, std })
    }

    /// Checks that there is one value (or one for all) per channel of `channels`.
    fn check(&self, channels: usize) -> Result<(), DataError> {
        for (flag, values) in [("--mean", &self.mean), ("--std", &self.std)] {
            if !(values.is_empty() || values.len() == 1 || values.len() == channels) {
                return Err(DataError::Normalize(format!(
                    "{flag} has {} values, the images have {channels} channels (give 1 or {channels})",
                    values.len()
                )));
            }
        }
        Ok(())
    }

    fn apply(&self, channel: usize, v: f32) -> f32 {
        let pick = |values: &[f32], default: f32| {
            values
                .get(channel)
                .or(values.first())
                .copied()
                .unwrap_or(default)
        };
        (v - pick(&self.mean, 0.0)) / pick(&self.std, 1.0)
    }
}

/// A set of labelled images.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Channels of each image.
    pub channels: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// `len() * channels * rows * cols` values, image by image, channel-major.
    pub images: Pixels,
    /// One label per image (empty when the source has none: calibration only).
    pub labels: Vec<u32>,
    /// The name of each label, where the source gives names (empty otherwise).
    pub class_names: Vec<String>,
    /// Applied to every input.
    pub normalize: Normalize,
}

impl Dataset {
    /// Images of `channels x rows x cols` values each; `labels` empty or one per image.
    pub fn new(
        [channels, rows, cols]: [usize; 3],
        images: Pixels,
        labels: Vec<u32>,
        class_names: Vec<String>,
        normalize: Normalize,
    ) -> Result<Dataset, DataError> {
        normalize.check(channels)?;
        let per = channels * rows * cols;
        let count = images.len().checked_div(per).unwrap_or(0);
        if per == 0 || count * per != images.len() || !(labels.is_empty() || labels.len() == count)
        {
            return Err(DataError::Layout(format!(
                "{} values and {} labels do not make images of {channels}x{rows}x{cols}",
                images.len(),
                labels.len()
            )));
        }
        Ok(Dataset {
            channels,
            rows,
            cols,
            images,
            labels,
            class_names,
            normalize,
        })
    }

    /// The name of class `label`, or its number where the source names none.
    pub fn class_name(&self, label: usize) -> String {
        self.class_names
            .get(label)
            .cloned()
            .unwrap_or_else(|| label.to_string())
    }

    /// How many classes the labels name: the class names', else one more than the largest label.
    pub fn classes(&self) -> usize {
        match self.class_names.len() {
            0 => self.labels.iter().max().map_or(0, |&l| l as usize + 1),
            n => n,
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len() / (self.channels * self.rows * self.cols).max(1)
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels, or an error for a source without them (`what` says who needs them).
    pub fn require_labels(&self, what: &str) -> Result<&[u32], DataError> {
        if self.labels.is_empty() && !self.is_empty() {
            return Err(DataError::NoLabels(what.to_string()));
        }
        Ok(&self.labels)
    }

    /// Checks that the images fit a model input `[1, C, H, W]`, naming what differs.
    pub fn check_fits(&self, input: &Shape) -> Result<(), DataError> {
        let (c, h, w) = (self.channels, self.rows, self.cols);
        let mismatch = |detail: String| DataError::Shape {
            model: input.clone(),
            data: [c, h, w],
            detail,
        };
        let Some((mc, mh, mw)) = input.chw().filter(|_| input.0[0] == 1) else {
            return Err(mismatch("the model input is not [1, C, H, W]".into()));
        };
        let mut differ = Vec::new();
        for (name, d, m) in [("channels", c, mc), ("height", h, mh), ("width", w, mw)] {
            if d != m {
                differ.push(format!("{name} {d} vs {m}"));
            }
        }
        if differ.is_empty() {
            Ok(())
        } else {
            Err(mismatch(differ.join(", ")))
        }
    }

    /// Image `i` as a `[1, C, rows, cols]` tensor, scaled and normalised.
    pub fn input(&self, i: usize) -> ArrayD<f32> {
        let hw = self.rows * self.cols;
        let n = self.channels * hw;
        let value = |k: usize| match &self.images {
            Pixels::U8(v) => v[i * n + k] as f32 / 255.0,
            Pixels::F32(v) => v[i * n + k],
        };
        let px = (0..n)
            .map(|k| self.normalize.apply(k / hw, value(k)))
            .collect();
        ArrayD::from_shape_vec(IxDyn(&[1, self.channels, self.rows, self.cols]), px)
            .unwrap_or_else(|_| unreachable!("channels * rows * cols values"))
    }
}

/// Why images could not be loaded; every variant names the file or what differs.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file of the data set does not exist.
    #[error("{path}: not found. Install Fashion-MNIST with `apt-get install -y dataset-fashion-mnist` (files go to {})", crate::data::fashion::DEFAULT_DIR)]
    Missing {
        /// The file.
        path: String,
    },
    /// A file or folder of the data set cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file is not what its name says (IDX header, gzip, image, array).
    #[error("{path}: {detail}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The images do not fit the model's input.
    #[error("the data has {}x{}x{} images, the model input is {model}: {detail}", data[0], data[1], data[2])]
    Shape {
        /// The model's input shape.
        model: Shape,
        /// `[C, H, W]` of the data.
        data: [usize; 3],
        /// What differs.
        detail: String,
    },
    /// The values do not divide into images.
    #[error("{0}")]
    Layout(String),
    /// A normalisation that does not fit the images.
    #[error("{0}")]
    Normalize(String),
    /// A source without labels where labels are needed.
    #[error("{0} needs labels, and the data has none (give --labels Y.npy)")]
    NoLabels(String),
}
