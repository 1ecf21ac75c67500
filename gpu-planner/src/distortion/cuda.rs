//! The eq. 4 reduction on a GPU through cudarc (feature `cuda`): for each hypothesis of a
//! batch, `sum_k change[b][k]^2` in `f64`, one CUDA thread per hypothesis (the change is that
//! of the logits vector, tens of values). The kernel is compiled at start-up with NVRTC.
//!
//! Only the reduction runs on the GPU; the suffix forward stays on the CPU, so this backend is
//! a correctness path, not a speed-up. `CudaContext::new` panics when no driver is installed,
//! so [`CudaReducer::new`] first checks that the driver library can be loaded and that a device
//! exists, and returns why not otherwise (the caller falls back to the CPU).
#![allow(unsafe_code)]

use std::sync::{Arc, Mutex};

use cudarc::driver::{CudaContext, CudaFunction, CudaStream, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::compile_ptx;

use super::reduce::Reducer;
use super::DistortionError;

const KERNEL: &str = r#"
extern "C" __global__ void sq_norm(const float* changes, double* sums, int batch, int size) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= batch) return;
    double s = 0.0;
    for (int k = 0; k < size; ++k) {
        double d = (double)changes[b * size + k];
        s += d * d;
    }
    sums[b] = s;
}
"#;

/// The GPU reduction; calls from rayon threads are serialised on one stream.
pub struct CudaReducer {
    stream: Arc<CudaStream>,
    func: CudaFunction,
    lock: Mutex<()>,
}

impl CudaReducer {
    /// Opens device 0 and compiles the kernel, or says why not.
    pub fn new() -> Result<Self, String> {
        // SAFETY: only tries to load the driver library; no CUDA call is made.
        let present = unsafe { cudarc::driver::sys::is_culib_present() };
        if !present {
            return Err("no CUDA driver library (libcuda) found".into());
        }
        let count = CudaContext::device_count().map_err(|e| format!("cuInit: {e}"))?;
        if count < 1 {
            return Err("no CUDA device".into());
        }
        let ctx = CudaContext::new(0).map_err(|e| format!("device 0: {e}"))?;
        let ptx = compile_ptx(KERNEL).map_err(|e| format!("NVRTC: {e}"))?;
        let module = ctx
            .load_module(ptx)
            .map_err(|e| format!("load module: {e}"))?;
        let func = module
            .load_function("sq_norm")
            .map_err(|e| format!("load function: {e}"))?;
        Ok(CudaReducer {
            stream: ctx.default_stream(),
            func,
            lock: Mutex::new(()),
        })
    }

    fn run(&self, changes: &[f32], size: usize) -> Result<Vec<f64>, String> {
        if size == 0 {
            return Ok(Vec::new());
        }
        let batch = changes.len() / size;
        let (b32, s32) = (
            i32::try_from(batch).map_err(|_| "batch too large")?,
            i32::try_from(size).map_err(|_| "output too large")?,
        );
        let _guard = self.lock.lock().map_err(|_| "CUDA lock poisoned")?;
        let s = &self.stream;
        let d_changes = s
            .clone_htod(&changes[..batch * size])
            .map_err(|e| e.to_string())?;
        let mut d_sums = s
            .alloc_zeros::<f64>(batch.max(1))
            .map_err(|e| e.to_string())?;
        let cfg = LaunchConfig::for_num_elems(batch.max(1) as u32);
        let mut launch = s.launch_builder(&self.func);
        launch.arg(&d_changes).arg(&mut d_sums).arg(&b32).arg(&s32);
        // SAFETY: the kernel reads batch * size floats of `d_changes` and writes batch doubles
        // of `d_sums`, both allocated above with those lengths.
        unsafe { launch.launch(cfg) }.map_err(|e| e.to_string())?;
        let mut sums = s.clone_dtoh(&d_sums).map_err(|e| e.to_string())?;
        sums.truncate(batch);
        Ok(sums)
    }
}

impl Reducer for CudaReducer {
    fn squared_norms(&self, changes: &[f32], size: usize) -> Result<Vec<f64>, DistortionError> {
        self.run(changes, size).map_err(DistortionError::Gpu)
    }

    fn name(&self) -> &'static str {
        "cuda"
    }
}
