//! Offline Block-ReLU planning for Patchwork: distortion tables and the exact multiple-choice
//! knapsack of "Securing Neural Networks with Knapsack Optimization" (Gorski, Jevnisek, Avidan),
//! section "Knapsack Optimization", eq. 5.
//!
//! - [`table`]: the distortion table `D(i, j)` per channel and patch size, read from JSON;
//! - [`distortion`]: the distortion table measured on a model (eq. 4), sharded and resumable;
//! - [`calibrate`]: approximate-DReLU windows per comparing node, calibrated on data;
//! - [`budget`]: the DReLU budget `B`, as a count or a ratio of the model's ReLUs;
//! - [`mckp`]: the exact solver with its optimality proof;
//! - [`plan`]: the Block-ReLU spec it produces;
//! - [`synth`]: synthetic ResNet-shaped tables for tests and benchmarks.
#![deny(unsafe_code)]

pub mod budget;
pub mod calibrate;
pub mod distortion;
pub mod mckp;
pub mod plan;
pub mod synth;
pub mod table;
