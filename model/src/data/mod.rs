//! Where images come from ([`DataSource`]): the Fashion-MNIST IDX files ([`fashion`]), an image
//! folder ([`folder`]) or NumPy arrays ([`arrays`]), all read into one [`Dataset`]; and one
//! input file of P0 (`.npy` or `.png`, [`input`]).

pub mod arrays;
pub mod dataset;
pub mod fashion;
pub mod folder;
pub mod input;
pub mod npy;

use std::path::{Path, PathBuf};

pub use dataset::{DataError, Dataset, Normalize, Pixels};
use fashion::Split;
use patchwork_core::model::Shape;

/// A data set the commands can evaluate on or calibrate with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// Fashion-MNIST's 10,000 test images (IDX files in a directory).
    FashionMnistTest,
    /// Fashion-MNIST's 60,000 training images (IDX files in a directory).
    FashionMnistTrain,
    /// The 64 test images compiled into the binary.
    FashionMnist64,
    /// An ImageFolder directory `DIR/<class>/<image>.png|jpg`, resized to the model's input.
    ImageFolder(PathBuf),
    /// `N x C x H x W` images in an `.npy` file, with `N` labels in another (optional).
    Arrays {
        /// The images.
        images: PathBuf,
        /// The labels.
        labels: Option<PathBuf>,
    },
}

impl DataSource {
    /// Loads at most `limit` images (the first ones; all for Fashion-MNIST and arrays, which are
    /// read whole) for a model whose input is `input`, normalised by `normalize`, and checks
    /// that they fit it. `fashion_dir` holds the IDX files of the Fashion-MNIST splits.
    pub fn load(
        &self,
        fashion_dir: &Path,
        input: &Shape,
        normalize: Normalize,
        limit: Option<usize>,
    ) -> Result<Dataset, DataError> {
        let fashion = |data: Dataset| {
            Dataset::new(
                [data.channels, data.rows, data.cols],
                data.images,
                data.labels,
                data.class_names,
                normalize.clone(),
            )
        };
        let data = match self {
            DataSource::FashionMnistTest => fashion(fashion::load(fashion_dir, Split::Test)?)?,
            DataSource::FashionMnistTrain => fashion(fashion::load(fashion_dir, Split::Train)?)?,
            DataSource::FashionMnist64 => fashion(fashion::bundled_test64())?,
            DataSource::Arrays { images, labels } => {
                arrays::load(images, labels.as_deref(), normalize)?
            }
            DataSource::ImageFolder(dir) => {
                let chw =
                    input
                        .chw()
                        .filter(|_| input.0[0] == 1)
                        .ok_or_else(|| DataError::Format {
                            path: dir.display().to_string(),
                            detail: format!("the model input {input} is not [1, C, H, W]"),
                        })?;
                folder::load(dir, [chw.0, chw.1, chw.2], normalize, limit)?
            }
        };
        data.check_fits(input)?;
        Ok(data)
    }
}
