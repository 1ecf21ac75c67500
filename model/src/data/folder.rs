//! Images from a folder in the ImageFolder layout (torchvision's): `DIR/<class>/<image>`, one
//! subfolder per class, classes numbered in name order, images in name order within a class.
//! PNG and JPEG, grey or colour, are converted to the model's channels (1: luma, 3: RGB) and
//! resized to its height and width with a bilinear filter (`image`'s `Triangle`), without
//! cropping; values are `byte / 255`. Hidden files are skipped; any other file is refused.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{ImageBuffer, Pixel};

use crate::data::dataset::{DataError, Dataset, Normalize, Pixels};

/// The largest image side decoded (larger ones are refused from the header).
const MAX_SIDE: u32 = 1 << 14;

/// Loads at most `limit` images (in class then name order) as `[channels, height, width]`.
pub fn load(
    dir: &Path,
    [channels, height, width]: [usize; 3],
    normalize: Normalize,
    limit: Option<usize>,
) -> Result<Dataset, DataError> {
    if channels != 1 && channels != 3 {
        return Err(DataError::Format {
            path: dir.display().to_string(),
            detail: format!(
                "images become 1 (grey) or 3 (RGB) channels, the model takes {channels}"
            ),
        });
    }
    let classes = entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect::<Vec<_>>();
    if classes.is_empty() {
        return Err(DataError::Format {
            path: dir.display().to_string(),
            detail: "no class folders (expected DIR/<class>/<image>.png|jpg)".into(),
        });
    }
    let limit = limit.unwrap_or(usize::MAX);
    let (mut pixels, mut labels, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for (label, class) in classes.iter().enumerate() {
        names.push(file_name(class));
        for file in entries(class)? {
            if labels.len() == limit {
                break;
            }
            pixels.extend(read_image(&file, channels, [height, width])?);
            labels.push(label as u32);
        }
    }
    if labels.is_empty() {
        return Err(DataError::Format {
            path: dir.display().to_string(),
            detail: "the class folders hold no images".into(),
        });
    }
    Dataset::new(
        [channels, height, width],
        Pixels::U8(pixels),
        labels,
        names,
        normalize,
    )
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The entries of `dir` that are not hidden, in name order.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let io = |source| DataError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if !file_name(&path).starts_with('.') {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// One image as `channels x height x width` bytes, channel-major.
fn read_image(path: &Path, channels: usize, [h, w]: [usize; 2]) -> Result<Vec<u8>, DataError> {
    let bad = |detail: String| DataError::Format {
        path: path.display().to_string(),
        detail,
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
        return Err(bad(
            "not a .png or .jpg image (an image folder holds images only)".into(),
        ));
    }
    let mut reader = image::ImageReader::open(path)
        .map_err(|source| DataError::Io {
            path: path.display().to_string(),
            source,
        })?
        .with_guessed_format()
        .map_err(|e| bad(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| bad(e.to_string()))?;
    Ok(channel_major(&img, channels, [h, w]))
}

/// An image as `channels` (1: luma, 3: RGB) x `h` x `w` bytes, channel-major, resized
/// bilinearly when its size differs.
pub(crate) fn channel_major(
    img: &image::DynamicImage,
    channels: usize,
    [h, w]: [usize; 2],
) -> Vec<u8> {
    let size = (w as u32, h as u32);
    let mut out = vec![0u8; channels * h * w];
    if channels == 1 {
        out.copy_from_slice(fit(img.to_luma8(), size).as_raw());
    } else {
        for (i, p) in fit(img.to_rgb8(), size).pixels().enumerate() {
            for c in 0..3 {
                out[c * h * w + i] = p.0[c];
            }
        }
    }
    out
}

/// The image at `(width, height)`: as it is when it has that size, else resized bilinearly.
fn fit<P: Pixel + 'static>(
    img: ImageBuffer<P, Vec<P::Subpixel>>,
    (width, height): (u32, u32),
) -> ImageBuffer<P, Vec<P::Subpixel>> {
    if img.dimensions() == (width, height) {
        img
    } else {
        image::imageops::resize(&img, width, height, FilterType::Triangle)
    }
}
