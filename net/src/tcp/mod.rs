//! TCP sessions between the three parties: mutually authenticated TLS 1.3 with pinned
//! self-signed certificates, per-session PRF keys from the handshakes, and [`TcpTransport`],
//! the tokio-backed twin of the core's `StreamTransport`.
//!
//! Topology: P1 and P2 listen; P0 connects to P1 and P2, P1 connects to P2. Every connection
//! starts with a TLS handshake in which each side presents its certificate and accepts only
//! the certificate pinned for the party it expects, then each side sends a hello frame naming
//! its role, checked against the certificate. The key shared by two parties is exported from
//! their connection (RFC 5705 keying material); a party's own key comes from the OS RNG.
//!
//! ```text
//! let config = SessionConfig::load("session.toml")?;
//! let identity = config.identity(Role::P0)?;
//! let (keys, transport) = connect(Role::P0, &config, &identity)?;
//! let mut party = Party::new(keys, transport);
//! ```

pub(crate) mod config;
pub(crate) mod error;
mod free_port;
pub(crate) mod identity;
mod loopback;
pub(crate) mod pin;
pub(crate) mod session;
mod socket;
pub(crate) mod tls;
pub(crate) mod transport;
pub(crate) mod wire;

pub use config::{PartyConfig, SessionConfig, DEFAULT_MAX_FRAME};
pub use error::{ConfigError, NetError, Refusal, SessionError};
pub use free_port::free_loopback_ports;
pub use identity::{
    fingerprint, generate_identity, generate_named_identity, Fingerprint, Identity,
};
pub use loopback::{
    loopback_config, loopback_config_with, loopback_in_memory, session_reaching_via,
};
pub use session::{connect, PRF_LABEL};
pub use transport::{Limits, TcpTransport, READ_SLACK, SEND_BUDGET};
