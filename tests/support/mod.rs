//! What several end-to-end tests share.

use std::path::{Path, PathBuf};

use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::data::npy::{encode_npy, Npy, NpyData};

/// Bundled test images `images` as one `N x 1 x 28 x 28` float `.npy` file `dir/name`.
pub(crate) fn bundled_npy(dir: &Path, name: &str, images: &[usize]) -> PathBuf {
    let data = images
        .iter()
        .flat_map(|&i| {
            bundled_test64()
                .input(i)
                .iter()
                .copied()
                .collect::<Vec<_>>()
        })
        .collect();
    let npy = Npy {
        shape: vec![images.len(), 1, 28, 28],
        data: NpyData::F32(data),
    };
    let path = dir.join(name);
    std::fs::write(&path, encode_npy(&npy)).unwrap();
    path
}
