//! The service configuration file (TOML) of P1 and P2:
//!
//! ```toml
//! [session]                  # as in session files; connect_timeout_secs bounds each session's
//! timeout_secs = 10          # set-up (handshakes, pairing at P2, admission)
//! connect_timeout_secs = 30
//!
//! [service]                  # every limit below is optional; the defaults are shown
//! max_sessions = 8           # concurrent sessions; a client beyond it is refused as busy
//! max_sessions_per_client = 2 # sessions one client may have in set-up or running at once
//! max_pending = 64           # connections not yet admitted (TLS handshake, open frame,
//!                            # pairing at P2); more are closed at once
//! handshake_timeout_secs = 5 # a new connection's TLS handshake and open frame
//! max_inferences = 1000      # inferences one session may announce; more is refused
//! max_batch = 128            # images per inference a session may ask for; more is refused
//! max_session_secs = 600     # a session still running after this is ended
//! max_preprocessed_mb = 1024 # preprocessed material one session may make a party keep
//!                            # (`--preprocess`; more is refused, 0 refuses preprocessing)
//!
//! [parties.p1]
//! address = "127.0.0.1:7001"
//! certificate = "p1.der"
//! key = "p1.key.der"         # only on P1's machine
//! [parties.p2]
//! ...
//!
//! [clients.alice]            # one table per P0 client allowed in
//! certificate = "alice.der"  # or fingerprint = "ab12..."
//! ```
//!
//! Relative paths are resolved against the directory of the file.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use patchwork_core::infer::MAX_BATCH;
use patchwork_core::role::Role;
use serde::{Deserialize, Serialize};

use crate::tcp::config::{
    check_party_tables, parse_toml, pin, read_text, required_party, PinError, RawParty, RawSession,
};
use crate::tcp::{ConfigError, Fingerprint, Identity, Limits, PartyConfig};

/// Default bound on concurrent sessions.
pub const DEFAULT_MAX_SESSIONS: usize = 8;

/// What a service lets its clients do (the `[service]` table; see the module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServiceLimits {
    /// Concurrent sessions.
    pub max_sessions: usize,
    /// Sessions one client may have in set-up or running at once.
    pub max_sessions_per_client: usize,
    /// Connections not yet admitted.
    pub max_pending: usize,
    /// Deadline for a new connection's TLS handshake and open frame.
    pub handshake_timeout: Duration,
    /// Inferences one session may announce.
    pub max_inferences: u32,
    /// Images per inference a session may ask for (at most [`MAX_BATCH`]).
    pub max_batch: u32,
    /// How long a session may run.
    pub max_session: Duration,
    /// Megabytes of preprocessed material one session may make a party keep (0: none).
    pub max_preprocessed_mb: u64,
}

impl Default for ServiceLimits {
    fn default() -> ServiceLimits {
        ServiceLimits {
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_sessions_per_client: 2,
            max_pending: 64,
            handshake_timeout: Duration::from_secs(5),
            max_inferences: 1000,
            max_batch: 128,
            max_session: Duration::from_secs(600),
            max_preprocessed_mb: 1024,
        }
    }
}

/// A P0 client allowed to use the service.
#[derive(Clone, Debug)]
pub struct Client {
    /// The name of its `[clients.NAME]` table.
    pub name: String,
    /// SHA-256 of its certificate.
    pub pin: Fingerprint,
}

/// P1's and P2's service configuration.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// The entries of P1 and P2, in that order.
    pub servers: [PartyConfig; 2],
    /// The clients allowed in (at least one).
    pub clients: Vec<Client>,
    /// How long `recv` waits for one message.
    pub timeout: Duration,
    /// Deadline for a session's set-up (handshakes, pairing, admission).
    pub connect_timeout: Duration,
    /// Largest payload accepted in one frame.
    pub max_frame: u32,
    /// The limits on clients and sessions.
    pub limits: ServiceLimits,
}

/// A service file as written (TOML).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServiceFile {
    #[serde(default)]
    pub(crate) session: RawSession,
    #[serde(default)]
    pub(crate) service: RawService,
    pub(crate) parties: BTreeMap<String, RawParty>,
    #[serde(default)]
    pub(crate) clients: BTreeMap<String, RawClient>,
}

/// The `[service]` table.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub(crate) max_sessions: Option<usize>,
    pub(crate) max_sessions_per_client: Option<usize>,
    pub(crate) max_pending: Option<usize>,
    pub(crate) handshake_timeout_secs: Option<f64>,
    pub(crate) max_inferences: Option<u32>,
    pub(crate) max_batch: Option<u32>,
    pub(crate) max_session_secs: Option<f64>,
    pub(crate) max_preprocessed_mb: Option<u64>,
}

impl RawService {
    /// The table that resolves to `limits`.
    pub(crate) fn of(limits: &ServiceLimits) -> RawService {
        RawService {
            max_sessions: Some(limits.max_sessions),
            max_sessions_per_client: Some(limits.max_sessions_per_client),
            max_pending: Some(limits.max_pending),
            handshake_timeout_secs: Some(limits.handshake_timeout.as_secs_f64()),
            max_inferences: Some(limits.max_inferences),
            max_batch: Some(limits.max_batch),
            max_session_secs: Some(limits.max_session.as_secs_f64()),
            max_preprocessed_mb: Some(limits.max_preprocessed_mb),
        }
    }
}

impl RawService {
    fn resolve(&self, bad: impl Fn(String) -> ConfigError) -> Result<ServiceLimits, ConfigError> {
        let d = ServiceLimits::default();
        let count = |v: Option<usize>, default: usize, name: &str| match v {
            Some(0) => Err(bad(format!("service.{name} must be at least 1"))),
            v => Ok(v.unwrap_or(default)),
        };
        let secs = |v: Option<f64>, default: Duration, name: &str| match v {
            None => Ok(default),
            Some(t) if t > 0.0 && t <= 1e7 => Ok(Duration::from_secs_f64(t)),
            Some(t) => Err(bad(format!(
                "service.{name} = {t}: expected seconds in (0, 1e7]"
            ))),
        };
        let max_inferences = match self.max_inferences {
            Some(0) => return Err(bad("service.max_inferences must be at least 1".into())),
            v => v.unwrap_or(d.max_inferences),
        };
        let max_batch = match self.max_batch {
            Some(b) if b == 0 || b as usize > MAX_BATCH => {
                return Err(bad(format!(
                    "service.max_batch = {b}: expected 1 to {MAX_BATCH} images"
                )))
            }
            v => v.unwrap_or(d.max_batch),
        };
        Ok(ServiceLimits {
            max_sessions: count(self.max_sessions, d.max_sessions, "max_sessions")?,
            max_sessions_per_client: count(
                self.max_sessions_per_client,
                d.max_sessions_per_client,
                "max_sessions_per_client",
            )?,
            max_pending: count(self.max_pending, d.max_pending, "max_pending")?,
            handshake_timeout: secs(
                self.handshake_timeout_secs,
                d.handshake_timeout,
                "handshake_timeout_secs",
            )?,
            max_inferences,
            max_batch,
            max_session: secs(self.max_session_secs, d.max_session, "max_session_secs")?,
            max_preprocessed_mb: self.max_preprocessed_mb.unwrap_or(d.max_preprocessed_mb),
        })
    }
}

/// A `[clients.NAME]` table.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClient {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) certificate: Option<std::path::PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fingerprint: Option<String>,
}

impl ServiceConfig {
    /// Reads and checks a service file (pinned certificates are read too).
    pub fn load(path: impl AsRef<Path>) -> Result<ServiceConfig, ConfigError> {
        let path = path.as_ref();
        let text = read_text(path)?;
        ServiceConfig::parse(&text, path, path.parent().unwrap_or(Path::new(".")))
    }

    /// Parses service text; `origin` names it in errors, relative paths are resolved against
    /// `base`.
    pub fn parse(text: &str, origin: &Path, base: &Path) -> Result<ServiceConfig, ConfigError> {
        let raw: RawServiceFile = parse_toml(text, origin)?;
        let bad = |message: String| ConfigError::Toml {
            path: origin.to_path_buf(),
            message,
        };
        check_party_tables(&raw.parties, &[Role::P1, Role::P2], origin)?;
        let times = raw.session.resolve(origin)?;
        let servers = [
            required_party(&raw.parties, Role::P1, origin, base)?,
            required_party(&raw.parties, Role::P2, origin, base)?,
        ];
        if raw.clients.is_empty() {
            return Err(bad(
                "no [clients.NAME] table: no client could connect".into()
            ));
        }
        let mut clients = Vec::with_capacity(raw.clients.len());
        for (name, entry) in &raw.clients {
            let certificate = entry.certificate.as_ref().map(|p| base.join(p));
            let pin =
                pin(certificate.as_deref(), entry.fingerprint.as_deref()).map_err(|e| match e {
                    PinError::File(e) => e,
                    PinError::Bad(reason) => bad(format!("clients.{name}: {reason}")),
                })?;
            clients.push(Client {
                name: name.clone(),
                pin,
            });
        }
        let limits = raw.service.resolve(bad)?;
        Ok(ServiceConfig {
            servers,
            clients,
            timeout: times.timeout,
            connect_timeout: times.connect_timeout,
            max_frame: times.max_frame,
            limits,
        })
    }

    /// The entry of P1 or P2 (P2's for any role but P1).
    pub fn server(&self, role: Role) -> &PartyConfig {
        &self.servers[usize::from(role != Role::P1)]
    }

    /// Loads the identity of P1 or P2 from its entry.
    pub fn identity(&self, role: Role) -> Result<Identity, ConfigError> {
        self.server(role).identity(role)
    }

    /// The transport limits of a session starting now (it ends at `max_session_secs`).
    pub fn session_limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            max_frame: self.max_frame,
            deadline: Some(std::time::Instant::now() + self.limits.max_session),
        }
    }
}
