//! Typed errors of session set-up, configuration and the TCP transport. Every variant names
//! the party, file or field it is about. None of them carries key material.

use std::net::SocketAddr;
use std::path::PathBuf;

use patchwork_core::role::Role;
use patchwork_core::transport::TransportError;

/// The channel error of [`super::TcpTransport`] (the `E` of `TransportError<E>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// A frame header announced a payload above the configured maximum; nothing was allocated.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The length the header announced.
        len: u32,
        /// The largest frame allowed on the link.
        max: u32,
    },
    /// The socket failed (kind and message of the I/O error).
    #[error("{kind:?}: {message}")]
    Io {
        /// The I/O error's kind.
        kind: std::io::ErrorKind,
        /// Its message.
        message: String,
    },
    /// A TLS record from the peer failed authentication: it was altered, replayed, dropped or
    /// reordered on the way (TLS 1.3 binds every record to its sequence number).
    #[error("a TLS record failed authentication (altered, replayed, dropped or reordered)")]
    TlsRecordRejected,
    /// The peer ended the TLS session with an alert (for instance because a record this party
    /// sent reached it altered).
    #[error("the peer sent TLS alert {alert}")]
    TlsAlert {
        /// The alert rustls received.
        alert: String,
    },
    /// Another violation of the TLS protocol.
    #[error("TLS: {reason}")]
    Tls {
        /// What rustls reported.
        reason: String,
    },
    /// The session ran past the longest time the service allows (`max_session_secs`).
    #[error("the session ran past the service's max_session_secs")]
    SessionExpired,
}

impl NetError {
    /// The typed error of a rustls failure on an established connection.
    pub(crate) fn from_tls(e: &rustls::Error) -> NetError {
        match e {
            rustls::Error::DecryptError => NetError::TlsRecordRejected,
            rustls::Error::AlertReceived(alert) => NetError::TlsAlert {
                alert: format!("{alert:?}"),
            },
            other => NetError::Tls {
                reason: other.to_string(),
            },
        }
    }
}

/// A configuration file or identity file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read or written.
    #[error("{}: {error}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The configuration is not valid TOML or does not have the expected fields.
    #[error("{}: {message}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The message.
        message: String,
    },
    /// The configuration has no `[parties.pN]` table for a party.
    #[error("{}: no [parties.{}] table", path.display(), role_key(*role))]
    MissingParty {
        /// The file.
        path: PathBuf,
        /// The party.
        role: Role,
    },
    /// A party's `address` does not resolve to a socket address.
    #[error("{}: parties.{}.address = {value:?}: {reason}", path.display(), role_key(*role))]
    BadAddress {
        /// The file.
        path: PathBuf,
        /// The party.
        role: Role,
        /// The address as written.
        value: String,
        /// What went wrong.
        reason: String,
    },
    /// A party has neither `certificate` nor `fingerprint`, or they disagree, or the
    /// fingerprint is not 64 hex digits.
    #[error("{}: parties.{}: {reason}", path.display(), role_key(*role))]
    BadPin {
        /// The file.
        path: PathBuf,
        /// The party.
        role: Role,
        /// What went wrong.
        reason: String,
    },
    /// This party's `key` or `certificate` path is missing from its entry.
    #[error("parties.{}.{field} is needed to act as {role} but is not set", role_key(*role))]
    MissingIdentity {
        /// The party.
        role: Role,
        /// The missing field.
        field: &'static str,
    },
    /// A file holds no usable certificate or private key.
    #[error("{}: {reason}", path.display())]
    BadIdentity {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// `p0`, `p1` or `p2`: the key of a party's table in the configuration.
pub(crate) fn role_key(role: Role) -> &'static str {
    ["p0", "p1", "p2"][role.index()]
}

/// Why a session could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The configuration or an identity file is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The async runtime or the TLS configuration could not be built.
    #[error("setting up {what}: {reason}")]
    Setup {
        /// The step of set-up that failed.
        what: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// This party could not listen on its configured address.
    #[error("{role} cannot listen on {address}: {error}")]
    Bind {
        /// The party.
        role: Role,
        /// The socket address.
        address: SocketAddr,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A peer could not be reached before the connect deadline.
    #[error("could not connect to {peer} at {address} in time (last error: {last_error})")]
    ConnectTimeout {
        /// The peer it is about.
        peer: Role,
        /// The socket address.
        address: SocketAddr,
        /// The last connection error.
        last_error: String,
    },
    /// Peers that should have connected to this party did not before the deadline.
    /// `refused` is why the last connection that failed before naming itself failed (a peer
    /// that died in the handshake, or a stranger), if one did.
    #[error("{listener} waited in vain for {missing:?} to connect{}", refused.as_ref().map_or(String::new(), |r| format!(" (a connection failed in the TLS handshake: {r})")))]
    AcceptTimeout {
        /// The party that listened.
        listener: Role,
        /// The parties that never connected.
        missing: Vec<Role>,
        /// Why the last connection was refused, if one was.
        refused: Option<String>,
    },
    /// A server presented a certificate other than the one pinned for the expected party.
    #[error("the party at {address} presented certificate {fingerprint}, not the one pinned for {expected}")]
    UnpinnedCertificate {
        /// The party dialled.
        expected: Role,
        /// The socket address.
        address: SocketAddr,
        /// SHA-256 of the certificate presented.
        fingerprint: String,
    },
    /// A connecting client presented a certificate pinned for none of the parties allowed to
    /// connect to this one.
    #[error(
        "{listener} refused a client with certificate {fingerprint}: expected one of {expected:?}"
    )]
    UnpinnedClient {
        /// The party that listened.
        listener: Role,
        /// The parties allowed to connect.
        expected: Vec<Role>,
        /// SHA-256 of the certificate presented.
        fingerprint: String,
    },
    /// The TLS handshake with a peer failed for another reason (including the peer refusing
    /// this party's certificate). `peer` is `None` when a client failed before identifying.
    #[error("TLS handshake with {} failed: {reason}", peer.map_or("a connecting client".to_string(), |p| p.to_string()))]
    Handshake {
        /// The peer it is about.
        peer: Option<Role>,
        /// What went wrong.
        reason: String,
    },
    /// The same party connected twice.
    #[error("{peer} connected twice")]
    DuplicatePeer {
        /// The peer it is about.
        peer: Role,
    },
    /// The hello frame of a peer was missing, late, malformed or named another role.
    #[error("hello from {peer}: {error}")]
    Hello {
        /// The peer it is about.
        peer: Role,
        /// The underlying error.
        error: TransportError<NetError>,
    },
    /// Keying material could not be exported from the connection with a peer.
    #[error("exporting the pair key with {peer}: {reason}")]
    KeyExport {
        /// The peer it is about.
        peer: Role,
        /// What went wrong.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("OS random number generator: {0}")]
    Rng(String),
    /// A service did not admit the session.
    #[error("{by} refused the session: {why}")]
    Refused {
        /// The party that refused.
        by: Role,
        /// Its reason.
        why: Refusal,
    },
}

/// Why a service refused a session (see `crate::service`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// As many sessions as the service allows are running.
    #[error("the service is at its limit of concurrent sessions")]
    Busy,
    /// The other half of the session (P0's or P1's connection to P2) did not arrive in time.
    #[error("the session was not completed by the other party in time")]
    Unpaired,
    /// P0 and P1 announced different sessions to P2 (client, inference count or batch differ).
    #[error("P0 and P1 announced different sessions")]
    Mismatch,
    /// The session id is already in use.
    #[error("the session id is already in use")]
    Duplicate,
    /// The session announced more inferences than the service's `max_inferences`.
    #[error("the session asks for more inferences than the service allows")]
    TooManyInferences,
    /// The client already has as many sessions as `max_sessions_per_client` allows.
    #[error("the client has as many sessions as the service allows one client")]
    ClientLimit,
    /// The session's batch has no image or more than the service's `max_batch`.
    #[error("the session asks for a batch of no image or of more than the service allows")]
    BatchSize,
    /// The session's preprocessed material would exceed the service's `max_preprocessed_mb`.
    #[error("the session asks to preprocess more than the service keeps for one session")]
    Preprocessing,
}

impl SessionError {
    /// The peer the failure is about, when one is known (for `AcceptTimeout`, the first
    /// party that did not connect).
    pub fn peer(&self) -> Option<Role> {
        match self {
            SessionError::ConnectTimeout { peer, .. }
            | SessionError::DuplicatePeer { peer }
            | SessionError::Hello { peer, .. }
            | SessionError::KeyExport { peer, .. } => Some(*peer),
            SessionError::UnpinnedCertificate { expected, .. } => Some(*expected),
            SessionError::Refused { by, .. } => Some(*by),
            SessionError::AcceptTimeout { missing, .. } => missing.first().copied(),
            SessionError::Handshake { peer, .. } => *peer,
            SessionError::Config(_)
            | SessionError::Setup { .. }
            | SessionError::Bind { .. }
            | SessionError::UnpinnedClient { .. }
            | SessionError::Rng(_) => None,
        }
    }
}
