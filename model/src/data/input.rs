//! Loading a model input from `.npy` (f32 and f64 as they are, u8 divided by 255), `.png`
//! (8-bit grayscale or RGB(A), divided by 255, alpha dropped) or `.jpg` (grey or RGB as the
//! model takes, divided by 255) and fitting it to the model's input shape.

use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use patchwork_core::model::Shape;

use crate::data::npy::{parse_npy, NpyData, NpyError};
use crate::file;

/// Why an input could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The `.npy` file cannot be read.
    #[error(transparent)]
    Npy(#[from] crate::data::npy::NpyError),
    /// The PNG or JPEG cannot be decoded.
    #[error("{path}: cannot decode the image: {detail}")]
    Png {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The input does not have the model's input shape.
    #[error("{path}: input shape {found:?} does not fit the model input {expected}")]
    Shape {
        /// The file.
        path: String,
        /// What was expected.
        expected: Shape,
        /// What was found.
        found: Vec<usize>,
    },
    /// The inputs hold no image, or more images than a batch takes.
    #[error("{path}: the inputs hold {images} images up to this file; a batch takes 1 to {max}")]
    Batch {
        /// The file.
        path: String,
        /// Images up to and including this file.
        images: usize,
        /// The most a batch takes.
        max: usize,
    },
    /// Neither `.npy` nor `.png` (nor recognisable on stdin).
    #[error(
        "{path}: unknown input type (expected a .npy, .png or .jpg file, or one on stdin as `-`)"
    )]
    Extension {
        /// The file.
        path: String,
    },
}

/// Loads `path` (`-`: standard input) and reshapes it to `expected` (leading 1s may be missing
/// in the file). The format comes from the extension, or for `-` from the first bytes. At most
/// twice the raw size of `expected` (plus 1 MiB of headers) is read.
pub fn load_input(path: &Path, expected: &Shape) -> Result<ArrayD<f32>, InputError> {
    let (name, shape, data) = read_input(path, expected, 1)?;
    if strip(&shape) != strip(&expected.0) {
        return Err(InputError::Shape {
            path: name,
            expected: expected.clone(),
            found: shape,
        });
    }
    Ok(ArrayD::from_shape_vec(IxDyn(&expected.0), data).expect("element count checked"))
}

/// Loads the images of every file of `paths` as one batch, one image after another in file
/// order: an image file, or an `.npy` of one image or of `N` images of the model's `expected`
/// `[1, C, H, W]` (`N x C x H x W`, or `N x H x W` for one channel). Returns the number of
/// images and their values. At most `max_images` images in all (each file is read up to twice
/// their raw size).
pub fn load_batch(
    paths: &[&Path],
    expected: &Shape,
    max_images: usize,
) -> Result<(usize, Vec<f32>), InputError> {
    let mut values = Vec::new();
    let mut images = 0;
    for path in paths {
        let left = max_images.saturating_sub(images);
        let (name, shape, data) = read_input(path, expected, left.max(1))?;
        let n = if strip(&shape) == strip(&expected.0) {
            1
        } else if shape.len() > 1 && expected.0[0] == 1 && strip(&shape[1..]) == strip(&expected.0)
        {
            shape[0]
        } else {
            return Err(InputError::Shape {
                path: name,
                expected: expected.clone(),
                found: shape,
            });
        };
        if n == 0 || images + n > max_images {
            return Err(InputError::Batch {
                path: name,
                images: images + n,
                max: max_images,
            });
        }
        images += n;
        values.extend(data);
    }
    Ok((images, values))
}

/// Leading 1s dropped: a file's shape fits the model's with or without its batch dimension.
fn strip(s: &[usize]) -> Vec<usize> {
    s.iter().skip_while(|&&d| d == 1).copied().collect()
}

/// Reads and decodes `path`, sized for up to `images` images of `expected`: its name, the
/// shape found and the values.
fn read_input(
    path: &Path,
    expected: &Shape,
    images: usize,
) -> Result<(String, Vec<usize>, Vec<f32>), InputError> {
    let name = file::display(path);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let limit = 8 * (expected.numel() * images) as u64 + (1 << 20);
    let bytes = file::read(path, limit).map_err(|source| {
        InputError::Npy(NpyError::Io {
            path: name.clone(),
            source,
        })
    })?;
    let format = match ext.as_deref() {
        None if file::is_stdin(path) && bytes.starts_with(b"\x93NUMPY") => Some("npy"),
        None if file::is_stdin(path) && bytes.starts_with(b"\x89PNG") => Some("png"),
        None if file::is_stdin(path) && bytes.starts_with(&[0xff, 0xd8, 0xff]) => Some("jpg"),
        other => other,
    };
    let (shape, data) = match format {
        Some("npy") => {
            let npy = parse_npy(&bytes).map_err(|detail| NpyError::Format {
                path: name.clone(),
                detail,
            })?;
            let data = match npy.data {
                NpyData::F32(v) => v,
                NpyData::U8(v) => v.iter().map(|&b| b as f32 / 255.0).collect(),
                NpyData::I64(_) => {
                    return Err(InputError::Npy(NpyError::Format {
                        path: name,
                        detail: "an input must be float32, float64 or uint8, not integers".into(),
                    }))
                }
            };
            (npy.shape, data)
        }
        Some("png") => read_png(&name, &bytes, expected)?,
        Some("jpg" | "jpeg") => read_jpeg(&name, &bytes, expected)?,
        _ => return Err(InputError::Extension { path: name }),
    };
    Ok((name, shape, data))
}

/// Decodes a JPEG of the model's height and width (checked from its header first) into
/// `[1, C, H, W]` floats in `[0, 1]`, grey or RGB as the model's channels are.
fn read_jpeg(
    name: &str,
    bytes: &[u8],
    expected: &Shape,
) -> Result<(Vec<usize>, Vec<f32>), InputError> {
    let bad = |detail: String| InputError::Png {
        path: name.to_string(),
        detail,
    };
    let reader =
        || image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Jpeg);
    let (w, h) = reader().into_dimensions().map_err(|e| bad(e.to_string()))?;
    let (h, w) = (h as usize, w as usize);
    let channels = match expected.chw() {
        Some((c @ (1 | 3), eh, ew)) if (eh, ew) == (h, w) => c,
        _ => {
            return Err(InputError::Shape {
                path: name.to_string(),
                expected: expected.clone(),
                found: vec![1, 3, h, w],
            })
        }
    };
    let img = reader().decode().map_err(|e| bad(e.to_string()))?;
    let bytes = crate::data::folder::channel_major(&img, channels, [h, w]);
    Ok((
        vec![1, channels, h, w],
        bytes.iter().map(|&b| f32::from(b) / 255.0).collect(),
    ))
}

/// Decodes a PNG into `[1, C, H, W]` floats in `[0, 1]` (C = 1 for gray, 3 for colour). The
/// dimensions in its header are checked against `expected` before anything is decoded, so a
/// small file that declares a huge image costs nothing.
fn read_png(
    name: &str,
    bytes: &[u8],
    expected: &Shape,
) -> Result<(Vec<usize>, Vec<f32>), InputError> {
    let name = name.to_string();
    let bad = |detail: String| InputError::Png {
        path: name.clone(),
        detail,
    };
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
    let (channels, keep) = match reader.output_color_type().0 {
        png::ColorType::Grayscale => (1, 1),
        png::ColorType::GrayscaleAlpha => (2, 1),
        png::ColorType::Rgb => (3, 3),
        png::ColorType::Rgba => (4, 3),
        png::ColorType::Indexed => return Err(bad("indexed colour was not expanded".into())),
    };
    let (w, h) = reader.info().size();
    let (h, w) = (h as usize, w as usize);
    if expected.0.len() < 2 || expected.0[expected.0.len() - 2..] != [h, w] {
        return Err(InputError::Shape {
            path: name,
            expected: expected.clone(),
            found: vec![1, keep, h, w],
        });
    }
    let size = reader
        .output_buffer_size()
        .ok_or(bad("image too large".into()))?;
    let mut buf = vec![0; size];
    reader
        .next_frame(&mut buf)
        .map_err(|e| bad(e.to_string()))?;
    let px = &buf[..h * w * channels];
    let mut out = vec![0.0; keep * h * w];
    for (i, p) in px.chunks_exact(channels).enumerate() {
        for c in 0..keep {
            out[c * h * w + i] = p[c] as f32 / 255.0;
        }
    }
    Ok((vec![1, keep, h, w], out))
}
