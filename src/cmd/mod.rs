//! Subcommands of the CLI.
pub mod approx_error;
pub mod bench;
pub mod bench_model;
pub mod bundled;
pub mod data_args;
pub mod fault_harness;
pub mod launch;
pub mod load_test;
pub mod models;
pub mod party;
pub mod party_result;
pub mod plot;
pub mod secure;
pub mod serve;
pub mod spec_uniform;
pub mod values;
pub mod windows_report;
