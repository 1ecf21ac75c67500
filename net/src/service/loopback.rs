//! A ready-made loopback service for tests and the load test: identities for P1, P2 and `n`
//! clients, the service file, and one session file per client.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::config::{RawClient, RawService, RawServiceFile, ServiceLimits};
use crate::tcp::config::{write_toml, RawConfig, RawParty, RawSession};
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
    let ports = crate::tcp::free_loopback_ports(2).map_err(err(dir.to_path_buf()))?;
    let party = |name: &str, address: String| {
        let (cert, key) = identity_paths(Path::new(""), name);
        RawParty {
            address,
            certificate: Some(cert),
            fingerprint: None,
            key: Some(key),
        }
    };
    let session = || RawSession {
        timeout_secs: Some(10.0),
        connect_timeout_secs: Some(30.0),
        max_frame_bytes: None,
    };
    let mut servers = BTreeMap::new();
    for (role, port) in [Role::P1, Role::P2].into_iter().zip(ports) {
        generate_identity(dir, role)?;
        let name = role_key(role);
        servers.insert(name.to_string(), party(name, format!("127.0.0.1:{port}")));
    }
    let mut client_tables = BTreeMap::new();
    let mut files = Vec::with_capacity(clients);
    for k in 0..clients {
        let name = format!("client{k}");
        generate_named_identity(dir, &name)?;
        let own = party(&name, "127.0.0.1:0".to_string());
        client_tables.insert(
            name.clone(),
            RawClient {
                certificate: own.certificate.clone(),
                fingerprint: None,
            },
        );
        let mut parties = BTreeMap::new();
        parties.insert("p0".to_string(), own);
        for role in [Role::P1, Role::P2] {
            let name = role_key(role);
            parties.insert(name.to_string(), party(name, servers[name].address.clone()));
        }
        let path = dir.join(format!("{name}.toml"));
        write_toml(
            &path,
            &RawConfig {
                session: session(),
                parties,
            },
        )?;
        files.push(path);
    }
    let path = dir.join("service.toml");
    write_toml(
        &path,
        &RawServiceFile {
            session: session(),
            service: RawService::of(limits),
            parties: servers,
            clients: client_tables,
        },
    )?;
    Ok(LoopbackService {
        service: path,
        clients: files,
    })
}
