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
use serde::{Deserialize, Serialize};

use super::error::{role_key, ConfigError};
use super::identity::{fingerprint, parse_hex, Fingerprint, Identity};
use super::transport::Limits;

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

/// A session file as written (TOML): the `[session]` table and one `[parties.pN]` per party.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) session: RawSession,
    pub(crate) parties: BTreeMap<String, RawParty>,
}

/// The `[session]` table, shared by session and service files.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSession {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) connect_timeout_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_frame_bytes: Option<u32>,
}

/// The resolved `[session]` table: per-message timeout, set-up deadline, frame bound.
pub(crate) struct Times {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_frame: u32,
}

impl RawSession {
    /// Checks the durations and fills in the defaults (10 s, 30 s, 1 GiB).
    pub(crate) fn resolve(&self, origin: &Path) -> Result<Times, ConfigError> {
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
        Ok(Times {
            timeout: secs(self.timeout_secs, 10, "timeout_secs")?,
            connect_timeout: secs(self.connect_timeout_secs, 30, "connect_timeout_secs")?,
            max_frame: self.max_frame_bytes.unwrap_or(DEFAULT_MAX_FRAME),
        })
    }
}

/// A `[parties.pN]` table.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawParty {
    pub(crate) address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) certificate: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<PathBuf>,
}

/// Writes `value` as TOML to `path` (the loopback session and service files).
pub(crate) fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<(), ConfigError> {
    let text = toml::to_string(value).map_err(|e| ConfigError::Toml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|error| ConfigError::File {
        path: path.to_path_buf(),
        error,
    })
}

/// Reads a configuration file into text.
pub(crate) fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|error| ConfigError::File {
        path: path.to_path_buf(),
        error,
    })
}

/// Parses TOML text into `T`, naming `origin` in the error.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &Path,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Toml {
        path: origin.to_path_buf(),
        message: e.to_string(),
    })
}

/// Refuses `[parties.X]` tables other than those of `allowed`.
pub(crate) fn check_party_tables<V>(
    parties: &BTreeMap<String, V>,
    allowed: &[Role],
    origin: &Path,
) -> Result<(), ConfigError> {
    let keys: Vec<&str> = allowed.iter().map(|r| role_key(*r)).collect();
    match parties.keys().find(|k| !keys.contains(&k.as_str())) {
        None => Ok(()),
        Some(extra) => Err(ConfigError::Toml {
            path: origin.to_path_buf(),
            message: format!(
                "unknown party table [parties.{extra}] (expected {})",
                keys.join(", ")
            ),
        }),
    }
}

/// The entry of `role` from the `[parties]` tables.
pub(crate) fn required_party(
    parties: &BTreeMap<String, RawParty>,
    role: Role,
    origin: &Path,
    base: &Path,
) -> Result<PartyConfig, ConfigError> {
    let entry = parties
        .get(role_key(role))
        .ok_or_else(|| ConfigError::MissingParty {
            path: origin.to_path_buf(),
            role,
        })?;
    party(entry, role, origin, base)
}

impl SessionConfig {
    /// Reads and checks a configuration file (pinned certificates are read too).
    pub fn load(path: impl AsRef<Path>) -> Result<SessionConfig, ConfigError> {
        let path = path.as_ref();
        let text = read_text(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        SessionConfig::parse(&text, path, base)
    }

    /// Parses configuration text; `origin` names it in errors and relative paths are resolved
    /// against `base`.
    pub fn parse(text: &str, origin: &Path, base: &Path) -> Result<SessionConfig, ConfigError> {
        let raw: RawConfig = parse_toml(text, origin)?;
        check_party_tables(&raw.parties, &Role::ALL, origin)?;
        let times = raw.session.resolve(origin)?;
        let mut parties = Vec::with_capacity(3);
        for role in Role::ALL {
            parties.push(required_party(&raw.parties, role, origin, base)?);
        }
        let parties: [PartyConfig; 3] = parties.try_into().map_err(|_| ConfigError::Toml {
            path: origin.to_path_buf(),
            message: "expected three parties".into(),
        })?;
        Ok(SessionConfig {
            parties,
            timeout: times.timeout,
            connect_timeout: times.connect_timeout,
            max_frame: times.max_frame,
        })
    }

    /// The entry of `role`.
    pub fn party(&self, role: Role) -> &PartyConfig {
        &self.parties[role.index()]
    }

    /// Loads the identity of `role` from its entry's `certificate` and `key`.
    pub fn identity(&self, role: Role) -> Result<Identity, ConfigError> {
        self.party(role).identity(role)
    }

    /// The transport limits of the session.
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            max_frame: self.max_frame,
            deadline: None,
        }
    }
}

impl PartyConfig {
    /// Loads the identity of this entry (the party `role`) from its `certificate` and `key`.
    pub fn identity(&self, role: Role) -> Result<Identity, ConfigError> {
        let missing = |field| ConfigError::MissingIdentity { role, field };
        let cert = self.certificate.as_ref().ok_or(missing("certificate"))?;
        let key = self.key.as_ref().ok_or(missing("key"))?;
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
    let certificate = raw.certificate.as_ref().map(|p| base.join(p));
    let pin = pin(certificate.as_deref(), raw.fingerprint.as_deref()).map_err(|e| match e {
        PinError::File(e) => e,
        PinError::Bad(reason) => ConfigError::BadPin {
            path: origin.to_path_buf(),
            role,
            reason,
        },
    })?;
    Ok(PartyConfig {
        address,
        pin,
        certificate,
        key: raw.key.as_ref().map(|p| base.join(p)),
    })
}

/// Why a pin could not be resolved.
pub(crate) enum PinError {
    /// The certificate file could not be read.
    File(ConfigError),
    /// The entry has no pin, a malformed one, or two that disagree.
    Bad(String),
}

/// The pin of an entry with a `certificate` file (resolved path) and/or a hex `fingerprint`.
pub(crate) fn pin(
    certificate: Option<&Path>,
    fingerprint_hex: Option<&str>,
) -> Result<Fingerprint, PinError> {
    let from_cert = match certificate {
        Some(p) => Some(fingerprint(&std::fs::read(p).map_err(|error| {
            PinError::File(ConfigError::File {
                path: p.to_path_buf(),
                error,
            })
        })?)),
        None => None,
    };
    let from_hex = match fingerprint_hex {
        Some(h) => Some(
            parse_hex(h)
                .ok_or_else(|| PinError::Bad(format!("fingerprint {h:?} is not 64 hex digits")))?,
        ),
        None => None,
    };
    match (from_cert, from_hex) {
        (Some(a), Some(b)) if a != b => {
            Err(PinError::Bad("certificate and fingerprint disagree".into()))
        }
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Err(PinError::Bad("needs a certificate or a fingerprint".into())),
    }
}
