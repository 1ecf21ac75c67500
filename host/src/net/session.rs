//! Session set-up: listen and dial with retries until the deadline, mutually authenticated
//! TLS 1.3 handshakes against the pinned certificates, hello frames, and the per-session PRF
//! keys (pair keys exported from the handshakes, the own key from the OS RNG).

use std::net::SocketAddr;
use std::time::Duration;

use patchwork_core::prg::{Key, KeySet};
use patchwork_core::role::Role;
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout_at, Instant};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

use super::config::SessionConfig;
use super::error::{role_key, SessionError};
use super::identity::Identity;
use super::pin::{unpinned, Pins};
use super::tls::{client_config, server_config};
use super::transport::{runtime, Limits, TcpTransport};
use super::wire::{exchange_hello, HELLO};
use patchwork_core::transport::TransportError;

/// The RFC 5705 exporter label of the pair keys.
pub const PRF_LABEL: &[u8] = b"patchwork prf v1";

/// Pause between two connection attempts to a peer that is not listening yet.
const RETRY: Duration = Duration::from_millis(100);

type Tls = TlsStream<TcpStream>;

/// An established, authenticated connection and the key exported from it.
struct Peer {
    role: Role,
    stream: Tls,
    key: Key,
}

/// Sets up the session of `role`: connects to the other two parties (P0 dials P1 and P2, P1
/// dials P2; P1 and P2 listen on their configured addresses), authenticates every connection
/// against the pinned certificates, and derives this session's keys. Parties may start in any
/// order; everything must be done within `config.connect_timeout`.
pub fn connect(
    role: Role,
    config: &SessionConfig,
    identity: &Identity,
) -> Result<(KeySet, TcpTransport), SessionError> {
    let rt = runtime()?;
    let deadline = Instant::now() + config.connect_timeout;
    let peers = rt.block_on(establish(role, config, identity, deadline))?;
    let mut own: Key = [0; 16];
    getrandom::fill(&mut own).map_err(|e| SessionError::Rng(e.to_string()))?;
    let mut pair = [[0u8; 16]; 2];
    let others: Vec<Role> = Role::ALL.into_iter().filter(|r| *r != role).collect();
    let mut streams = Vec::new();
    for peer in peers {
        if let Some(i) = others.iter().position(|r| *r == peer.role) {
            pair[i] = peer.key;
        }
        streams.push((peer.role, peer.stream));
    }
    let keys = KeySet::new(role, own, pair);
    let limits = Limits {
        timeout: config.timeout,
        max_frame: config.max_frame,
    };
    Ok((keys, TcpTransport::from_streams(role, rt, streams, limits)))
}

/// Dials and accepts concurrently, so no start order can deadlock.
async fn establish(
    role: Role,
    config: &SessionConfig,
    identity: &Identity,
    deadline: Instant,
) -> Result<Vec<Peer>, SessionError> {
    let (dial_to, accept_from): (&[Role], &[Role]) = match role {
        Role::P0 => (&[Role::P1, Role::P2], &[]),
        Role::P1 => (&[Role::P2], &[Role::P0]),
        Role::P2 => (&[], &[Role::P0, Role::P1]),
    };
    let listener = if accept_from.is_empty() {
        None
    } else {
        let address = config.party(role).address;
        let l = TcpListener::bind(address)
            .await
            .map_err(|error| SessionError::Bind {
                role,
                address,
                error,
            })?;
        Some(l)
    };
    let dials = async {
        let mut out = Vec::new();
        for &peer in dial_to {
            out.push(dial(role, peer, config, identity, deadline).await?);
        }
        Ok::<_, SessionError>(out)
    };
    let accepts = async {
        match listener {
            Some(l) => accept(role, l, accept_from, config, identity, deadline).await,
            None => Ok(Vec::new()),
        }
    };
    let (mut dialled, accepted) = tokio::try_join!(dials, accepts)?;
    dialled.extend(accepted);
    Ok(dialled)
}

/// Connects to `peer` (retrying until the deadline), checks its certificate against the pin,
/// exchanges hellos and exports the pair key.
async fn dial(
    role: Role,
    peer: Role,
    config: &SessionConfig,
    identity: &Identity,
    deadline: Instant,
) -> Result<Peer, SessionError> {
    let address = config.party(peer).address;
    let late = |last_error: String| SessionError::ConnectTimeout {
        peer,
        address,
        last_error,
    };
    let tcp = loop {
        match timeout_at(deadline, TcpStream::connect(address)).await {
            Ok(Ok(s)) => break s,
            Ok(Err(_)) if Instant::now() + RETRY < deadline => {
                tokio::time::sleep(RETRY).await;
            }
            Ok(Err(e)) => return Err(late(e.to_string())),
            Err(_) => return Err(late("connection attempt timed out".into())),
        }
    };
    let _ = tcp.set_nodelay(true);
    let connector = TlsConnector::from(client_config(peer, config, identity)?);
    let name = ServerName::try_from(format!("patchwork-{}", role_key(peer))).map_err(|e| {
        SessionError::Setup {
            what: "the TLS server name",
            reason: e.to_string(),
        }
    })?;
    let stream = match timeout_at(deadline, connector.connect(name, tcp)).await {
        Err(_) => return Err(late("TLS handshake timed out".into())),
        Ok(Err(e)) => return Err(client_refusal(peer, address, e)),
        Ok(Ok(s)) => s,
    };
    let key = export(
        peer,
        stream
            .get_ref()
            .1
            .export_keying_material([0u8; 16], PRF_LABEL, None),
    )?;
    finish(role, peer, TlsStream::Client(stream), key, deadline).await
}

fn client_refusal(peer: Role, address: SocketAddr, e: std::io::Error) -> SessionError {
    match unpinned(&e) {
        Some(u) => SessionError::UnpinnedCertificate {
            expected: peer,
            address,
            fingerprint: u.fingerprint.clone(),
        },
        None => SessionError::Handshake {
            peer: Some(peer),
            reason: e.to_string(),
        },
    }
}

/// Accepts the parties in `expected` (in any order) until the deadline. A client that fails
/// the handshake before it is identified (it died, or it is not a party) does not end the
/// wait; one whose certificate is pinned for no expected party does.
async fn accept(
    role: Role,
    listener: TcpListener,
    expected: &[Role],
    config: &SessionConfig,
    identity: &Identity,
    deadline: Instant,
) -> Result<Vec<Peer>, SessionError> {
    let (tls, pins) = server_config(expected, config, identity)?;
    let acceptor = TlsAcceptor::from(tls);
    let mut got: Vec<Peer> = Vec::new();
    let missing = |got: &[Peer]| -> Vec<Role> {
        expected
            .iter()
            .copied()
            .filter(|r| got.iter().all(|p| p.role != *r))
            .collect()
    };
    let mut refused = None;
    while got.len() < expected.len() {
        let late = |refused| SessionError::AcceptTimeout {
            listener: role,
            missing: missing(&got),
            refused,
        };
        let (tcp, _) = match timeout_at(deadline, listener.accept()).await {
            Ok(Ok(c)) => c,
            // A failed accept (e.g. too many open files) is retried until the deadline.
            Ok(Err(_)) => {
                tokio::time::sleep(RETRY).await;
                continue;
            }
            Err(_) => return Err(late(refused)),
        };
        let _ = tcp.set_nodelay(true);
        let stream = match timeout_at(deadline, acceptor.accept(tcp)).await {
            Err(_) => return Err(late(refused)),
            Ok(Err(e)) => match unpinned(&e) {
                Some(u) => {
                    return Err(SessionError::UnpinnedClient {
                        listener: role,
                        expected: expected.to_vec(),
                        fingerprint: u.fingerprint.clone(),
                    })
                }
                None => {
                    refused = Some(e.to_string());
                    continue;
                }
            },
            Ok(Ok(s)) => s,
        };
        let conn = stream.get_ref().1;
        let peer = identify(&pins, conn.peer_certificates()).ok_or(SessionError::Handshake {
            peer: None,
            reason: "client certificate missing after the handshake".into(),
        })?;
        if got.iter().any(|p| p.role == peer) {
            return Err(SessionError::DuplicatePeer { peer });
        }
        let key = export(
            peer,
            conn.export_keying_material([0u8; 16], PRF_LABEL, None),
        )?;
        got.push(finish(role, peer, TlsStream::Server(stream), key, deadline).await?);
    }
    Ok(got)
}

fn identify(pins: &Pins, certs: Option<&[rustls::pki_types::CertificateDer<'_>]>) -> Option<Role> {
    pins.role_of(certs?.first()?)
}

fn export(peer: Role, r: Result<[u8; 16], rustls::Error>) -> Result<Key, SessionError> {
    r.map_err(|e| SessionError::KeyExport {
        peer,
        reason: e.to_string(),
    })
}

/// Exchanges hellos on an authenticated connection. A peer that refused this party's
/// certificate shows up here (TLS 1.3 clients learn of it on their first read).
async fn finish(
    role: Role,
    peer: Role,
    mut stream: Tls,
    key: Key,
    deadline: Instant,
) -> Result<Peer, SessionError> {
    match timeout_at(deadline, exchange_hello(&mut stream, role, peer)).await {
        Err(_) => Err(SessionError::Hello {
            peer,
            error: TransportError::Timeout { peer, tag: HELLO },
        }),
        Ok(Err(TransportError::Io { error, .. })) => Err(SessionError::Handshake {
            peer: Some(peer),
            reason: error.to_string(),
        }),
        Ok(Err(error)) => Err(SessionError::Hello { peer, error }),
        Ok(Ok(())) => Ok(Peer {
            role: peer,
            stream,
            key,
        }),
    }
}
