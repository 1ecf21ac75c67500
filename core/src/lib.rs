//! Patchwork core: the `no_std` heart of private CNN inference with Block-ReLU.
//!
//! Ring arithmetic over Z_2^64, approximate DReLU, and the SecureNN protocol steps
//! (Wagh, Gupta, Chandran, PoPETs 2019) with the Block-ReLU layer of "Securing Neural Networks
//! with Knapsack Optimization", all written once with the party role as a value and run over
//! an abstract [`transport::Transport`].
#![cfg_attr(not(feature = "std"), no_std)]
// One audited exception: the run-time dispatch to the AVX-512 matrix product (gemm.rs).
#![deny(unsafe_code)]

extern crate alloc;

#[cfg(all(
    not(debug_assertions),
    any(
        feature = "leak-cancelling-masks",
        feature = "leak-reused-mask",
        feature = "leak-sign-to-p2"
    )
))]
compile_error!("the leak-* features inject leaks for the privacy tests; never build them for use");

pub mod bitpack;
pub mod cost;
pub mod fixed_point;
pub mod gemm;
pub mod held;
pub mod infer;
pub mod model;
#[cfg(feature = "std")]
pub mod net;
pub mod party;
pub mod patch;
pub mod preprocess;
pub mod prg;
pub mod program;
pub mod protocol;
pub mod ring;
pub mod role;
pub mod spec;
pub mod splitmix;
pub mod transport;
