//! The reduction of eq. 4: for each hypothesis of a batch, `||F^{i,j}(X) - F(X)||^2`, summed in
//! `f64`. The suffix hands over the output changes `F^{i,j}(X) - F(X)` themselves, so this is a
//! squared norm per change. [`CpuReducer`] is the default; `super::cuda::CudaReducer` (feature `cuda`) does the
//! same on a GPU.

use super::DistortionError;

/// Squared L2 norms of `batch` output changes.
pub trait Reducer: Sync {
    /// `changes` holds `changes.len() / size` changes of `size` values back to back (a ragged
    /// tail is ignored); returns one squared norm per change.
    fn squared_norms(&self, changes: &[f32], size: usize) -> Result<Vec<f64>, DistortionError>;

    /// A short name for messages (`cpu`, `cuda`).
    fn name(&self) -> &'static str;
}

/// The CPU reduction.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuReducer;

impl Reducer for CpuReducer {
    fn squared_norms(&self, changes: &[f32], size: usize) -> Result<Vec<f64>, DistortionError> {
        Ok(squared_norms(changes, size))
    }

    fn name(&self) -> &'static str {
        "cpu"
    }
}

/// `sum_k changes[b][k]^2` for every whole change `b` of `size` values, in `f64`.
pub fn squared_norms(changes: &[f32], size: usize) -> Vec<f64> {
    if size == 0 {
        return Vec::new();
    }
    changes
        .chunks_exact(size)
        .map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum())
        .collect()
}

/// Which reduction to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The CPU (rayon).
    Cpu,
    /// A CUDA GPU (feature `cuda`).
    Cuda,
}

/// The reducer for `backend`, with a message when the request could not be met (CUDA asked
/// for but not built in, or no driver/GPU found): then the CPU is used.
pub fn reducer(backend: Backend) -> (Box<dyn Reducer>, Option<String>) {
    match backend {
        Backend::Cpu => (Box::new(CpuReducer), None),
        Backend::Cuda => cuda_reducer(),
    }
}

#[cfg(feature = "cuda")]
fn cuda_reducer() -> (Box<dyn Reducer>, Option<String>) {
    match super::cuda::CudaReducer::new() {
        Ok(r) => (Box::new(r), None),
        Err(why) => (
            Box::new(CpuReducer),
            Some(format!("CUDA unavailable ({why}); using the CPU")),
        ),
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_reducer() -> (Box<dyn Reducer>, Option<String>) {
    (
        Box::new(CpuReducer),
        Some("built without the `cuda` feature; using the CPU".to_string()),
    )
}
