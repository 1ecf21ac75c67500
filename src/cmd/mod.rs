//! Subcommands of the CLI.
pub mod approx_error;
pub mod bench;
