//! Networks for running all three parties in one process (tests, benches, the demo).
pub mod memory;
