//! The CUDA reduction of eq. 4 against the CPU one (feature `cuda`). Without a driver or a GPU
//! the test prints why and passes without comparing.
#![cfg(feature = "cuda")]

use patchwork_planner::distortion::cuda::CudaReducer;
use patchwork_planner::distortion::reduce::{squared_norms, Reducer};

#[test]
fn gpu_reduction_matches_cpu() {
    let gpu = match CudaReducer::new() {
        Ok(g) => g,
        Err(why) => {
            eprintln!("skipping the GPU comparison: {why}");
            return;
        }
    };
    for batch in [1usize, 7, 300] {
        let outs: Vec<f32> = (0..batch * 10)
            .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
            .collect();
        let want = squared_norms(&outs, 10);
        let got = gpu.squared_norms(&outs, 10).expect("GPU reduction");
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{g} vs {w}");
        }
    }
}
