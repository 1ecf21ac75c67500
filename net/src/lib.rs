//! Patchwork's parties on a network: authenticated TLS sessions and the bounded TCP transport
//! ([`tcp`]), the long-running multi-client service of P1 and P2 ([`service`]), and the secure
//! runner with its per-layer reports ([`secure`]). It depends on the core only; models come in
//! already loaded (see `patchwork-model`).

pub mod secure;
pub mod service;
pub mod tcp;
