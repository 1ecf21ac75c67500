//! The reduction of eq. 4: for each hypothesis of a batch, `||F^{i,j}(X) - F(X)||^2`, summed in
//! `f64`. [`CpuReducer`] is the default; `super::cuda::CudaReducer` (feature `cuda`) does the
//! same on a GPU.

use super::DistortionError;

/// Squared L2 distances between `batch` outputs and the unmodified output.
pub trait Reducer: Sync {
    /// `outs` holds `outs.len() / base.len()` outputs back to back; returns one squared
    /// distance per output.
    fn squared_distances(&self, outs: &[f32], base: &[f32]) -> Result<Vec<f64>, DistortionError>;

    /// A short name for messages (`cpu`, `cuda`).
    fn name(&self) -> &'static str;
}

/// The CPU reduction.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuReducer;

impl Reducer for CpuReducer {
    fn squared_distances(&self, outs: &[f32], base: &[f32]) -> Result<Vec<f64>, DistortionError> {
        Ok(squared_distances(outs, base))
    }

    fn name(&self) -> &'static str {
        "cpu"
    }
}

/// `sum_k (outs[b][k] - base[k])^2` for every `b`, in `f64`.
pub fn squared_distances(outs: &[f32], base: &[f32]) -> Vec<f64> {
    if base.is_empty() {
        return Vec::new();
    }
    outs.chunks(base.len())
        .map(|o| {
            o.iter()
                .zip(base)
                .map(|(&a, &b)| {
                    let d = f64::from(a) - f64::from(b);
                    d * d
                })
                .sum()
        })
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
