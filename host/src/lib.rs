//! Patchwork host harness: ONNX loading, model transforms, the float reference forward, data
//! sets, and the model-related commands (see ARCHITECTURE.md).

pub mod architecture;
pub mod commands;
pub mod fashion;
pub mod input;
pub mod net;
pub mod npy;
pub mod onnx;
pub mod reference;
pub mod secure;
pub mod service;
pub mod spec_io;
pub mod transform;
