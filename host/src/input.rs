//! Loading a model input from `.npy` (f32 as is, u8 divided by 255) or `.png` (8-bit grayscale
//! or RGB(A), divided by 255, alpha dropped) and fitting it to the model's input shape.

use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use patchwork_core::model::Shape;

use crate::npy::{read_npy, NpyData};

/// Why an input could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Npy(#[from] crate::npy::NpyError),
    #[error("{path}: cannot decode PNG: {detail}")]
    Png { path: String, detail: String },
    #[error("{path}: input shape {found:?} does not fit the model input {expected}")]
    Shape {
        path: String,
        expected: Shape,
        found: Vec<usize>,
    },
    #[error("{path}: unknown input type (expected a .npy or .png file)")]
    Extension { path: String },
}

/// Loads `path` and reshapes it to `expected` (leading 1s may be missing in the file).
pub fn load_input(path: &Path, expected: &Shape) -> Result<ArrayD<f32>, InputError> {
    let name = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let (shape, data) = match ext.as_deref() {
        Some("npy") => {
            let npy = read_npy(path)?;
            let data = match npy.data {
                NpyData::F32(v) => v,
                NpyData::U8(v) => v.iter().map(|&b| b as f32 / 255.0).collect(),
            };
            (npy.shape, data)
        }
        Some("png") => read_png(path).map_err(|detail| InputError::Png {
            path: name.clone(),
            detail,
        })?,
        _ => return Err(InputError::Extension { path: name }),
    };
    let strip = |s: &[usize]| {
        s.iter()
            .skip_while(|&&d| d == 1)
            .copied()
            .collect::<Vec<_>>()
    };
    if strip(&shape) != strip(&expected.0) {
        return Err(InputError::Shape {
            path: name,
            expected: expected.clone(),
            found: shape,
        });
    }
    Ok(ArrayD::from_shape_vec(IxDyn(&expected.0), data).expect("element count checked"))
}

/// Decodes a PNG into `[1, C, H, W]` floats in `[0, 1]` (C = 1 for gray, 3 for colour).
fn read_png(path: &Path) -> Result<(Vec<usize>, Vec<f32>), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let size = reader.output_buffer_size().ok_or("image too large")?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    let (h, w) = (info.height as usize, info.width as usize);
    let (channels, keep) = match info.color_type {
        png::ColorType::Grayscale => (1, 1),
        png::ColorType::GrayscaleAlpha => (2, 1),
        png::ColorType::Rgb => (3, 3),
        png::ColorType::Rgba => (4, 3),
        png::ColorType::Indexed => return Err("indexed colour was not expanded".into()),
    };
    let px = &buf[..h * w * channels];
    let mut out = vec![0.0; keep * h * w];
    for (i, p) in px.chunks_exact(channels).enumerate() {
        for c in 0..keep {
            out[c * h * w + i] = p[c] as f32 / 255.0;
        }
    }
    Ok((vec![1, keep, h, w], out))
}
