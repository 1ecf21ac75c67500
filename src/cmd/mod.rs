//! Subcommands of the CLI.
pub mod approx_error;
pub mod bench;
pub mod models;
pub mod party;
pub mod secure;
