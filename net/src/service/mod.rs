//! The multi-client service: P1 and P2 keep running (`patchwork serve`) and serve many P0
//! clients at once, each in its own session with its own connections and fresh keys.
//!
//! Session matching: P0 picks a random 16-byte session id and, after the usual TLS handshake
//! and hellos, sends it in an open frame to P1 and to P2 with its number of inferences. P1
//! takes a session slot, dials P2 on a fresh connection and sends the same open frame with the
//! fingerprint of the client it authenticated. P2 pairs the two connections by id (waiting at
//! most the set-up deadline; expired ids are dropped), checks that they name the same client
//! and count, takes a slot and admits both; P1 then admits P0. Every connection of a session
//! is new, so the pair keys exported from its handshakes are the session's own.
//!
//! Clients are the certificates pinned in the service file (any number); others are refused
//! at the handshake. Sessions beyond `max_sessions` are refused with [`crate::tcp::Refusal::Busy`].
//! The model, spec and settings are loaded once and shared ([`Served`]).

pub mod abuse;
pub mod client;
mod client_slots;
pub mod config;
mod frames;
pub mod loopback;
mod pairing;
pub mod server;

pub use client::{infer_remote, open_session, ClientError};
pub use config::{Client, ServiceConfig, ServiceLimits, DEFAULT_MAX_SESSIONS};
pub use server::{Served, Service, Stats};
