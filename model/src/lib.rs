//! Patchwork's models in plaintext, for every party and the planner: ONNX import ([`onnx`]),
//! the transforms that prepare a model for secure inference ([`transform`]), public
//! architecture files for P0 and P2 ([`architecture`]), the float reference forward pass
//! ([`reference`]), data sources and inputs ([`data`]), content digests ([`digest`]), Block-ReLU spec files ([`spec_io`]), bounded reads of files or
//! standard input ([`file`]), and the model commands as library functions ([`commands`]). Nothing here talks to a network.

pub mod architecture;
pub mod commands;
pub mod data;
pub mod digest;
pub mod file;
pub mod onnx;
pub mod reference;
pub mod spec_io;
pub mod transform;
