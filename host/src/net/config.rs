//! The session configuration file (TOML):
//!
//! ```toml
//! [session]
//! timeout_secs = 10          # wait for one message (default 10)
//! connect_timeout_secs = 30  # set-up deadline: connect, handshake, hello (default 30)
//! max_frame_bytes = 1073741824
//!
//! [parties.p0]
//! address = "127.0.0.1:7000"
//! certificate = "p0.der"     # pinned certificate (DER), or:
//! # fingerprint = "ab12...": SHA-256 of the certificate, 64 hex digits
//! key = "p0.key.der"         # only in the entry of a party whose key is on this machine
//! [parties.p1]
//! ...
//! ```
//!
//! Relative paths are resolved against the directory of the configuration file.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use patchwork_core::role::Role;
use serde::Deserialize;

use super::error::{role_key, ConfigError};
use super::identity::{fingerprint, parse_hex, Fingerprint, Identity};

/// Default bound on one frame's payload: 1 GiB.
pub const DEFAULT_MAX_FRAME: u32 = 1 << 30;

/// One party's entry: where it listens and which certificate it must present.
#[derive(Clone, Debug)]
pub struct PartyConfig {
    /// Address it listens on (P1, P2) or is known by (P0).
    pub address: SocketAddr,
    /// SHA-256 of the only certificate accepted for this party.
    pub pin: Fingerprint,
    /// Its certificate file, when given (needed to act as this party).
    pub certificate: Option<PathBuf>,
    /// Its private key file, when on this machine (needed to act as this party).
    pub key: Option<PathBuf>,
}

/// A session's configuration: the three parties and the time limits.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Entries of P0, P1, P2 in role order.
    pub parties: [PartyConfig; 3],
    /// How long `recv` waits for one message.
    pub timeout: Duration,
    /// Deadline for the whole set-up (connect with retries, handshakes, hellos).
    pub connect_timeout: Duration,
    /// Largest payload accepted in one frame.
    pub max_frame: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    session: RawSession,
    parties: BTreeMap<String, RawParty>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSession {
    timeout_secs: Option<f64>,
    connect_timeout_secs: Option<f64>,
    max_frame_bytes: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    address: String,
    certificate: Option<PathBuf>,
    fingerprint: Option<String>,
    key: Option<PathBuf>,
}

impl SessionConfig {
    /// Reads and checks a configuration file (pinned certificates are read too).
    pub fn load(path: impl AsRef<Path>) -> Result<SessionConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::File {
            path: path.to_path_buf(),
            error,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        SessionConfig::parse(&text, path, base)
    }

    /// Parses configuration text; `origin` names it in errors and relative paths are resolved
    /// against `base`.
    pub fn parse(text: &str, origin: &Path, base: &Path) -> Result<SessionConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Toml {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        if let Some(extra) = raw
            .parties
            .keys()
            .find(|k| !["p0", "p1", "p2"].contains(&k.as_str()))
        {
            return Err(ConfigError::Toml {
                path: origin.to_path_buf(),
                message: format!("unknown party table [parties.{extra}] (expected p0, p1, p2)"),
            });
        }
        let secs = |v: Option<f64>, default: u64, field: &str| match v {
            None => Ok(Duration::from_secs(default)),
            Some(s) => Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| ConfigError::Toml {
                    path: origin.to_path_buf(),
                    message: format!("session.{field} = {s} is not a positive duration"),
                }),
        };
        let timeout = secs(raw.session.timeout_secs, 10, "timeout_secs")?;
        let connect_timeout = secs(raw.session.connect_timeout_secs, 30, "connect_timeout_secs")?;
        let mut parties = Vec::with_capacity(3);
        for role in Role::ALL {
            let entry =
                raw.parties
                    .get(role_key(role))
                    .ok_or_else(|| ConfigError::MissingParty {
                        path: origin.to_path_buf(),
                        role,
                    })?;
            parties.push(party(entry, role, origin, base)?);
        }
        let parties: [PartyConfig; 3] = parties.try_into().map_err(|_| ConfigError::Toml {
            path: origin.to_path_buf(),
            message: "expected three parties".into(),
        })?;
        Ok(SessionConfig {
            parties,
            timeout,
            connect_timeout,
            max_frame: raw.session.max_frame_bytes.unwrap_or(DEFAULT_MAX_FRAME),
        })
    }

    /// The entry of `role`.
    pub fn party(&self, role: Role) -> &PartyConfig {
        &self.parties[role.index()]
    }

    /// Loads the identity of `role` from its entry's `certificate` and `key`.
    pub fn identity(&self, role: Role) -> Result<Identity, ConfigError> {
        let entry = self.party(role);
        let missing = |field| ConfigError::MissingIdentity { role, field };
        let cert = entry.certificate.as_ref().ok_or(missing("certificate"))?;
        let key = entry.key.as_ref().ok_or(missing("key"))?;
        Identity::load(cert, key)
    }
}

fn party(
    raw: &RawParty,
    role: Role,
    origin: &Path,
    base: &Path,
) -> Result<PartyConfig, ConfigError> {
    let bad_address = |reason: String| ConfigError::BadAddress {
        path: origin.to_path_buf(),
        role,
        value: raw.address.clone(),
        reason,
    };
    let address = raw
        .address
        .to_socket_addrs()
        .map_err(|e| bad_address(e.to_string()))?
        .next()
        .ok_or_else(|| bad_address("resolves to no address".into()))?;
    let bad_pin = |reason: String| ConfigError::BadPin {
        path: origin.to_path_buf(),
        role,
        reason,
    };
    let certificate = raw.certificate.as_ref().map(|p| base.join(p));
    let from_cert = match &certificate {
        Some(p) => Some(fingerprint(&std::fs::read(p).map_err(|error| {
            ConfigError::File {
                path: p.clone(),
                error,
            }
        })?)),
        None => None,
    };
    let from_hex = match &raw.fingerprint {
        Some(h) => Some(
            parse_hex(h)
                .ok_or_else(|| bad_pin(format!("fingerprint {h:?} is not 64 hex digits")))?,
        ),
        None => None,
    };
    let pin = match (from_cert, from_hex) {
        (Some(a), Some(b)) if a != b => {
            return Err(bad_pin("certificate and fingerprint disagree".into()))
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => return Err(bad_pin("needs a certificate or a fingerprint".into())),
    };
    Ok(PartyConfig {
        address,
        pin,
        certificate,
        key: raw.key.as_ref().map(|p| base.join(p)),
    })
}
