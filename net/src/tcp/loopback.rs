//! A ready-made loopback session for demos and tests: three fresh identities and a
//! configuration file for 127.0.0.1.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use patchwork_core::role::Role;

use super::config::{
    parse_toml, read_text, write_toml, PartyConfig, RawConfig, RawParty, RawSession, SessionConfig,
    DEFAULT_MAX_FRAME,
};
use super::error::{role_key, ConfigError};
use super::free_port::free_loopback_ports;
use super::identity::{generate_identity, identity_paths, Identity};

/// Writes three fresh identities and `session.toml` into `dir` and loads it. The parties
/// listen on `base_port`, `base_port + 1`, `base_port + 2` of 127.0.0.1, or, with
/// `base_port == 0`, on three free ports picked below the kernel's ephemeral range
/// ([`free_loopback_ports`]: the kernel never hands those to a connection; another process
/// could still bind one before the session, so this is for tests and demos). The session has the
/// default time limits (10 s per message, 30 s for the set-up).
pub fn loopback_config(dir: &Path, base_port: u16) -> Result<SessionConfig, ConfigError> {
    loopback_config_with(
        dir,
        base_port,
        Duration::from_secs(10),
        Duration::from_secs(30),
    )
}

/// As [`loopback_config`], with `timeout` per message and `connect_timeout` for the set-up. The
/// configuration is built from the fresh identities in memory; `session.toml` (serialized from
/// the same tables a session file is read into) is written for party processes.
pub fn loopback_config_with(
    dir: &Path,
    base_port: u16,
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<SessionConfig, ConfigError> {
    let path = dir.join("session.toml");
    let mut tables = BTreeMap::new();
    let mut parties = Vec::with_capacity(3);
    let free = if base_port == 0 {
        free_ports(dir)?
    } else {
        [0; 3]
    };
    for (i, role) in Role::ALL.into_iter().enumerate() {
        let identity = generate_identity(dir, role)?;
        let port = if base_port == 0 {
            free[i]
        } else {
            base_port
                .checked_add(i as u16)
                .ok_or_else(|| ConfigError::Toml {
                    path: path.clone(),
                    message: format!("base port {base_port} + {i} is above 65535"),
                })?
        };
        let (cert, key) = identity_paths(Path::new(""), role_key(role));
        tables.insert(
            role_key(role).to_string(),
            RawParty {
                address: format!("127.0.0.1:{port}"),
                certificate: Some(cert.clone()),
                fingerprint: None,
                key: Some(key.clone()),
            },
        );
        parties.push(PartyConfig {
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            pin: identity.fingerprint(),
            certificate: Some(dir.join(cert)),
            key: Some(dir.join(key)),
        });
    }
    let raw = RawConfig {
        session: RawSession {
            timeout_secs: Some(timeout.as_secs_f64()),
            connect_timeout_secs: Some(connect_timeout.as_secs_f64()),
            max_frame_bytes: None,
        },
        parties: tables,
    };
    write_toml(&path, &raw)?;
    let parties: [PartyConfig; 3] = parties.try_into().map_err(|_| ConfigError::Toml {
        path,
        message: "expected three parties".into(),
    })?;
    Ok(SessionConfig {
        parties,
        timeout,
        connect_timeout,
        max_frame: DEFAULT_MAX_FRAME,
    })
}

/// Three fresh identities and a loopback configuration for them, in memory only (nothing is
/// written, nothing read back): for three parties in one process. Free ports as for
/// [`loopback_config`] with base port 0.
pub fn loopback_in_memory(
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<(SessionConfig, [Identity; 3]), ConfigError> {
    let origin = Path::new("<loopback>");
    let mut parties = Vec::with_capacity(3);
    let free = free_ports(origin)?;
    let mut identities = Vec::with_capacity(3);
    for role in Role::ALL {
        let identity =
            Identity::generate(role_key(role)).map_err(|reason| ConfigError::BadIdentity {
                path: origin.to_path_buf(),
                reason,
            })?;
        parties.push(PartyConfig {
            address: SocketAddr::from(([127, 0, 0, 1], free[role.index()])),
            pin: identity.fingerprint(),
            certificate: None,
            key: None,
        });
        identities.push(identity);
    }
    let three = || ConfigError::Toml {
        path: origin.to_path_buf(),
        message: "expected three parties".into(),
    };
    let config = SessionConfig {
        parties: parties.try_into().map_err(|_| three())?,
        timeout,
        connect_timeout,
        max_frame: DEFAULT_MAX_FRAME,
    };
    Ok((config, identities.try_into().map_err(|_| three())?))
}

/// Writes `to`, a copy of the session file `from` in which the parties of `reach` are dialled at
/// other addresses (a relay in front of each, as `bench model --link` puts); the party that
/// uses `to` still listens where `from` says. `to` must be in the same directory as `from`, so
/// that its relative certificate and key paths still resolve.
pub fn session_reaching_via(
    from: &Path,
    to: &Path,
    reach: &[(Role, SocketAddr)],
) -> Result<(), ConfigError> {
    let mut raw: RawConfig = parse_toml(&read_text(from)?, from)?;
    for &(role, address) in reach {
        let entry = raw
            .parties
            .get_mut(role_key(role))
            .ok_or_else(|| ConfigError::Toml {
                path: from.to_path_buf(),
                message: format!("no [parties.{}] table", role_key(role)),
            })?;
        entry.address = address.to_string();
    }
    write_toml(to, &raw)
}

/// Three different free ports (see [`free_loopback_ports`]).
fn free_ports(dir: &Path) -> Result<[u16; 3], ConfigError> {
    let err = |error| ConfigError::File {
        path: dir.join("session.toml"),
        error,
    };
    let ports = free_loopback_ports(3).map_err(err)?;
    ports
        .try_into()
        .map_err(|_| err(std::io::Error::other("expected three ports")))
}
