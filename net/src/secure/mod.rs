//! Secure inference on the host: one party's run of a model with per-layer timing and traffic
//! ([`run`]), three parties in one process ([`local`]), and the combined report ([`report`]).
pub mod local;
pub mod report;
pub mod run;
