//! A ready-made loopback session for demos and tests: three fresh identities and a
//! configuration file for 127.0.0.1.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use patchwork_core::role::Role;

use super::config::SessionConfig;
use super::error::{role_key, ConfigError};
use super::identity::{generate_identity, identity_paths};

/// Writes three fresh identities and `session.toml` into `dir` and loads it. The parties
/// listen on `base_port`, `base_port + 1`, `base_port + 2` of 127.0.0.1, or, with
/// `base_port == 0`, on free ports found by binding port 0 (a port could be taken by another
/// process between this call and the session; fine for tests and demos). The session has the
/// default time limits (10 s per message, 30 s for the set-up).
pub fn loopback_config(dir: &Path, base_port: u16) -> Result<SessionConfig, ConfigError> {
    loopback_config_with(
        dir,
        base_port,
        Duration::from_secs(10),
        Duration::from_secs(30),
    )
}

/// As [`loopback_config`], with `timeout` per message and `connect_timeout` for the set-up.
pub fn loopback_config_with(
    dir: &Path,
    base_port: u16,
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<SessionConfig, ConfigError> {
    let mut text = format!(
        "[session]\ntimeout_secs = {:?}\nconnect_timeout_secs = {:?}\n",
        timeout.as_secs_f64(),
        connect_timeout.as_secs_f64()
    );
    for (i, role) in Role::ALL.into_iter().enumerate() {
        generate_identity(dir, role)?;
        let port = if base_port == 0 {
            free_port(dir)?
        } else {
            base_port
                .checked_add(i as u16)
                .ok_or_else(|| ConfigError::Toml {
                    path: dir.join("session.toml"),
                    message: format!("base port {base_port} + {i} is above 65535"),
                })?
        };
        let (cert, key) = identity_paths(Path::new(""), role_key(role));
        let _ = write!(
            text,
            "\n[parties.{}]\naddress = \"127.0.0.1:{port}\"\ncertificate = \"{}\"\nkey = \"{}\"\n",
            role_key(role),
            cert.display(),
            key.display()
        );
    }
    let path = dir.join("session.toml");
    std::fs::write(&path, text).map_err(|error| ConfigError::File {
        path: path.clone(),
        error,
    })?;
    SessionConfig::load(&path)
}

fn free_port(dir: &Path) -> Result<u16, ConfigError> {
    let err = |error| ConfigError::File {
        path: dir.join("session.toml"),
        error,
    };
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(err)?;
    Ok(l.local_addr().map_err(err)?.port())
}
