//! Where images come from: the Fashion-MNIST IDX files ([`fashion`]), NumPy arrays ([`npy`])
//! and one input file of P0 (`.npy` or `.png`, [`input`]).

pub mod fashion;
pub mod input;
pub mod npy;

use std::path::Path;

use fashion::{DataError, Dataset, Split};

/// A labelled data set the commands can evaluate on or calibrate with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// Fashion-MNIST's 10,000 test images (IDX files in a directory).
    FashionMnistTest,
    /// Fashion-MNIST's 60,000 training images (IDX files in a directory).
    FashionMnistTrain,
    /// The 64 test images compiled into the binary.
    FashionMnist64,
}

impl DataSource {
    /// Loads the images; `dir` holds the IDX files of the Fashion-MNIST splits.
    pub fn load(self, dir: &Path) -> Result<Dataset, DataError> {
        match self {
            DataSource::FashionMnistTest => fashion::load(dir, Split::Test),
            DataSource::FashionMnistTrain => fashion::load(dir, Split::Train),
            DataSource::FashionMnist64 => Ok(fashion::bundled_test64()),
        }
    }
}
