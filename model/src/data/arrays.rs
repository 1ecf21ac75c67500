//! Images from NumPy arrays: `X.npy` of shape `N x C x H x W` (`float32` or `float64` as they
//! are, `uint8` divided by 255) and optional labels `Y.npy` of `N` integers.

use std::path::Path;

use crate::data::dataset::{DataError, Dataset, Normalize, Pixels};
use crate::data::npy::{read_npy, NpyData, NpyError};

/// Loads the arrays.
pub fn load(
    images: &Path,
    labels: Option<&Path>,
    normalize: Normalize,
) -> Result<Dataset, DataError> {
    let format = |path: &Path, detail: String| DataError::Format {
        path: path.display().to_string(),
        detail,
    };
    let read = |path: &Path| {
        read_npy(path).map_err(|e| match e {
            NpyError::Io { path, source } => DataError::Io { path, source },
            NpyError::Format { path, detail } => DataError::Format { path, detail },
        })
    };
    let x = read(images)?;
    let [_, c, h, w] = x.shape[..] else {
        return Err(format(
            images,
            format!("shape {:?}: expected N x C x H x W images", x.shape),
        ));
    };
    let pixels = match x.data {
        NpyData::F32(v) => Pixels::F32(v),
        NpyData::U8(v) => Pixels::U8(v),
        NpyData::I64(_) => {
            return Err(format(
                images,
                "images must be float32, float64 or uint8, not integers".into(),
            ))
        }
    };
    let labels = match labels {
        None => Vec::new(),
        Some(path) => {
            let y = read(path)?;
            let values: Vec<i64> = match y.data {
                NpyData::I64(v) => v,
                NpyData::U8(v) => v.into_iter().map(i64::from).collect(),
                NpyData::F32(_) => {
                    return Err(format(path, "labels must be integers, not floats".into()))
                }
            };
            if y.shape.len() != 1 || y.shape[0] != x.shape[0] {
                return Err(format(
                    path,
                    format!(
                        "shape {:?}: expected {} labels, one per image of {}",
                        y.shape,
                        x.shape[0],
                        images.display()
                    ),
                ));
            }
            values
                .into_iter()
                .map(|l| {
                    u32::try_from(l)
                        .map_err(|_| format(path, format!("label {l} is not a class number")))
                })
                .collect::<Result<_, _>>()?
        }
    };
    Dataset::new([c, h, w], pixels, labels, Vec::new(), normalize)
}
