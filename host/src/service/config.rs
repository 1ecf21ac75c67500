//! The service configuration file (TOML) of P1 and P2:
//!
//! ```toml
//! [session]                  # as in session files; connect_timeout_secs bounds each session's
//! timeout_secs = 10          # set-up (handshakes, pairing at P2, admission)
//! connect_timeout_secs = 30
//!
//! [service]
//! max_sessions = 8           # concurrent sessions; a client beyond it is refused as busy
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

use patchwork_core::role::Role;
use serde::Deserialize;

use crate::net::config::{
    check_party_tables, parse_toml, pin, read_text, required_party, PinError, RawParty, RawSession,
};
use crate::net::{ConfigError, Fingerprint, Identity, Limits, PartyConfig};

/// Default bound on concurrent sessions.
pub const DEFAULT_MAX_SESSIONS: usize = 8;

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
    /// Concurrent sessions allowed.
    pub max_sessions: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServiceFile {
    #[serde(default)]
    session: RawSession,
    #[serde(default)]
    service: RawService,
    parties: BTreeMap<String, RawParty>,
    #[serde(default)]
    clients: BTreeMap<String, RawClient>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawService {
    max_sessions: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    certificate: Option<std::path::PathBuf>,
    fingerprint: Option<String>,
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
        let max_sessions = raw.service.max_sessions.unwrap_or(DEFAULT_MAX_SESSIONS);
        if max_sessions == 0 {
            return Err(bad("service.max_sessions must be at least 1".into()));
        }
        Ok(ServiceConfig {
            servers,
            clients,
            timeout: times.timeout,
            connect_timeout: times.connect_timeout,
            max_frame: times.max_frame,
            max_sessions,
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

    /// The transport limits of every session.
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            max_frame: self.max_frame,
        }
    }
}
