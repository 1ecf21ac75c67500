//! Where images come from: the Fashion-MNIST IDX files ([`fashion`]), NumPy arrays ([`npy`])
//! and one input file of P0 (`.npy` or `.png`, [`input`]).

pub mod fashion;
pub mod input;
pub mod npy;
