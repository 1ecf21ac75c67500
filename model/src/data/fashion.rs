//! Fashion-MNIST: the gzipped IDX files of the Debian package `dataset-fashion-mnist`, and the
//! 64 test images bundled in `data/` (see `data/README.md`).
//!
//! Images are 28x28 grayscale bytes; the models take them as `[1, 1, 28, 28]` floats `pixel/255`
//! ([`Dataset::input`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::data::dataset::{DataError, Dataset, Normalize, Pixels};
use crate::data::npy::{parse_npy, NpyData};

/// Where `apt-get install -y dataset-fashion-mnist` puts the files.
pub const DEFAULT_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The 10 class names, by label.
pub const CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Which split to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The 60,000 training images.
    Train,
    /// The 10,000 test images.
    Test,
}

/// Loads a split from `dir` (normally [`DEFAULT_DIR`]).
pub fn load(dir: &Path, split: Split) -> Result<Dataset, DataError> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let images = read_gz(&dir.join(format!("{prefix}-images-idx3-ubyte.gz")))?;
    let labels = read_gz(&dir.join(format!("{prefix}-labels-idx1-ubyte.gz")))?;
    let (dims, pixels) = parse_idx(&images.1, 0x803).map_err(|detail| DataError::Format {
        path: images.0.clone(),
        detail,
    })?;
    let (ldims, labels_data) = parse_idx(&labels.1, 0x801).map_err(|detail| DataError::Format {
        path: labels.0.clone(),
        detail,
    })?;
    if dims[0] != ldims[0] {
        return Err(DataError::Format {
            path: labels.0,
            detail: format!("{} labels for {} images", ldims[0], dims[0]),
        });
    }
    let bad = |e: DataError| DataError::Format {
        path: images.0.clone(),
        detail: e.to_string(),
    };
    fashion_set(
        [
            dims.get(1).copied().unwrap_or(0),
            dims.get(2).copied().unwrap_or(0),
        ],
        pixels.to_vec(),
        labels_data,
    )
    .map_err(bad)
}

/// Grayscale Fashion-MNIST images of `rows x cols` with their labels and class names.
fn fashion_set(
    [rows, cols]: [usize; 2],
    pixels: Vec<u8>,
    labels: &[u8],
) -> Result<Dataset, DataError> {
    Dataset::new(
        [1, rows, cols],
        Pixels::U8(pixels),
        labels.iter().map(|&l| u32::from(l)).collect(),
        CLASSES.map(String::from).to_vec(),
        Normalize::default(),
    )
}

fn read_gz(path: &PathBuf) -> Result<(String, Vec<u8>), DataError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing { path: name.clone() },
        _ => DataError::Io {
            path: name.clone(),
            source,
        },
    })?;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut out)
        .map_err(|source| DataError::Io {
            path: name.clone(),
            source,
        })?;
    Ok((name, out))
}

/// Parses an IDX file of unsigned bytes with the given magic (`0x803` images, `0x801` labels):
/// big-endian header, then the data. Returns the dimensions and the data.
pub fn parse_idx(bytes: &[u8], magic: u32) -> Result<(Vec<usize>, &[u8]), String> {
    let be = |i: usize| -> Result<u32, String> {
        let b = bytes.get(i..i + 4).ok_or("truncated IDX header")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let found = be(0)?;
    if found != magic {
        return Err(format!("IDX magic: expected {magic:#x}, found {found:#x}"));
    }
    let ndim = (magic & 0xff) as usize;
    let dims = (0..ndim)
        .map(|i| be(4 + 4 * i).map(|d| d as usize))
        .collect::<Result<Vec<_>, _>>()?;
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("IDX dimensions overflow")?;
    let data = &bytes[4 + 4 * ndim..];
    if data.len() != count {
        return Err(format!(
            "IDX data: expected {count} bytes for dims {dims:?}, found {}",
            data.len()
        ));
    }
    Ok((dims, data))
}

/// The 64 test images bundled in `data/` (the first 64 of `t10k`), available without the
/// Debian package.
pub fn bundled_test64() -> Dataset {
    let images = include_bytes!("../../../data/fashion_test64_images.npy");
    let labels = include_bytes!("../../../data/fashion_test64_labels.npy");
    let (Ok(i), Ok(l)) = (parse_npy(images), parse_npy(labels)) else {
        unreachable!("the bundled data files are valid .npy (checked by tests)");
    };
    let (NpyData::U8(images), NpyData::U8(labels)) = (i.data, l.data) else {
        unreachable!("the bundled data files are u8 arrays (checked by tests)");
    };
    fashion_set([28, 28], images, &labels)
        .unwrap_or_else(|_| unreachable!("64 images of 28x28 and 64 labels (checked by tests)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_has_64_images() {
        let d = bundled_test64();
        assert_eq!((d.len(), d.channels, d.rows, d.cols), (64, 1, 28, 28));
        assert!(d.labels.iter().all(|&l| l < 10));
    }

    #[test]
    fn bundled_matches_debian_package_when_present() {
        let dir = Path::new(DEFAULT_DIR);
        if !dir.exists() {
            println!("SKIPPED: {DEFAULT_DIR} missing (apt-get install -y dataset-fashion-mnist)");
            return;
        }
        let test = load(dir, Split::Test).unwrap();
        assert_eq!((test.len(), test.rows, test.cols), (10_000, 28, 28));
        let b = bundled_test64();
        let (Pixels::U8(all), Pixels::U8(first)) = (&test.images, &b.images) else {
            panic!("Fashion-MNIST pixels are bytes")
        };
        assert_eq!(&all[..64 * 784], first.as_slice());
        assert_eq!(&test.labels[..64], b.labels.as_slice());
    }

    #[test]
    fn idx_errors_not_panics() {
        assert!(parse_idx(&[0, 0, 8], 0x801).is_err());
        assert!(parse_idx(&[0, 0, 8, 1, 0, 0, 0, 2, 5], 0x801).is_err());
        assert_eq!(
            parse_idx(&[0, 0, 8, 1, 0, 0, 0, 1, 5], 0x801).unwrap().1,
            &[5]
        );
    }

    #[test]
    fn missing_dir_names_the_package() {
        let e = load(Path::new("/nonexistent-fashion"), Split::Test)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dataset-fashion-mnist"), "{e}");
    }
}
