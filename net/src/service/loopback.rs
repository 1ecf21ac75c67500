//! A ready-made loopback service for tests and the load test: identities for P1, P2 and `n`
//! clients, the service file, and one session file per client.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::config::ServiceLimits;
use crate::tcp::error::role_key;
use crate::tcp::identity::identity_paths;
use crate::tcp::{generate_identity, generate_named_identity, ConfigError};
use patchwork_core::role::Role;

/// The files of a loopback service.
#[derive(Clone, Debug)]
pub struct LoopbackService {
    /// `service.toml`, for P1 and P2.
    pub service: PathBuf,
    /// `clientK.toml`, the session file of client K (its identity as P0).
    pub clients: Vec<PathBuf>,
}

/// Writes fresh identities for P1, P2 and clients `client0..n`, `service.toml` (P1 and P2 on
/// free ports of 127.0.0.1 with the given `limits`, every client pinned) and a session file
/// per client into `dir`.
pub fn loopback_service(
    dir: &Path,
    clients: usize,
    limits: &ServiceLimits,
) -> Result<LoopbackService, ConfigError> {
    let err = |path: PathBuf| move |error| ConfigError::File { path, error };
    let port = || -> Result<u16, ConfigError> {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(err(dir.to_path_buf()))?;
        Ok(l.local_addr().map_err(err(dir.to_path_buf()))?.port())
    };
    let mut servers = String::new();
    for role in [Role::P1, Role::P2] {
        generate_identity(dir, role)?;
        let name = role_key(role);
        let _ = write!(
            servers,
            "\n[parties.{name}]\naddress = \"127.0.0.1:{}\"\ncertificate = \"{name}.der\"\nkey = \"{name}.key.der\"\n",
            port()?
        );
    }
    let head = "[session]\ntimeout_secs = 10\nconnect_timeout_secs = 30\n";
    let l = limits;
    let mut service = format!(
        "{head}\n[service]\nmax_sessions = {}\nmax_sessions_per_client = {}\nmax_pending = {}\nhandshake_timeout_secs = {:?}\nmax_inferences = {}\nmax_session_secs = {:?}\n{servers}",
        l.max_sessions,
        l.max_sessions_per_client,
        l.max_pending,
        l.handshake_timeout.as_secs_f64(),
        l.max_inferences,
        l.max_session.as_secs_f64()
    );
    let mut files = Vec::with_capacity(clients);
    for k in 0..clients {
        let name = format!("client{k}");
        generate_named_identity(dir, &name)?;
        let (cert, key) = identity_paths(Path::new(""), &name);
        let _ = write!(
            service,
            "\n[clients.{name}]\ncertificate = \"{}\"\n",
            cert.display()
        );
        let own = format!(
            "\n[parties.p0]\naddress = \"127.0.0.1:0\"\ncertificate = \"{}\"\nkey = \"{}\"\n",
            cert.display(),
            key.display()
        );
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, format!("{head}{own}{servers}")).map_err(err(path.clone()))?;
        files.push(path);
    }
    let path = dir.join("service.toml");
    std::fs::write(&path, service).map_err(err(path.clone()))?;
    Ok(LoopbackService {
        service: path,
        clients: files,
    })
}
