//! Session set-up: listen and dial with retries until the deadline, mutually authenticated
//! TLS 1.3 handshakes against the pinned certificates, hello frames, and the per-session PRF
//! keys (pair keys exported from the handshakes, the own key from the OS RNG).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use patchwork_core::prg::{Key, KeySet};
use patchwork_core::role::Role;
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Handle, Runtime};
use tokio::time::{timeout_at, Instant};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

use super::config::SessionConfig;
use super::error::{role_key, SessionError};
use super::identity::{fingerprint, Fingerprint, Identity};
use super::pin::{unpinned, Pins};
use super::tls::{client_config, server_config};
use super::transport::{runtime, Limits, TcpTransport};
use super::wire::{exchange_hello, HELLO};
use patchwork_core::transport::TransportError;

/// The RFC 5705 exporter label of the pair keys.
pub const PRF_LABEL: &[u8] = b"patchwork prf v1";

/// Pause between two connection attempts to a peer that is not listening yet.
const RETRY: Duration = Duration::from_millis(100);

/// A TLS connection, either side.
pub(crate) type Tls = TlsStream<TcpStream>;

/// An established, authenticated connection and the key exported from it.
pub(crate) struct Peer {
    pub role: Role,
    pub stream: Tls,
    pub key: Key,
    /// The fingerprint of the certificate the peer presented.
    pub fingerprint: Fingerprint,
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
    let handle = rt.handle().clone();
    assemble(role, peers, handle, Some(rt), config.limits())
}

/// This session's keys (pair keys from the connections, the own key from the OS RNG) and the
/// transport over the connections, on `handle`'s runtime (owned by the transport if given).
pub(crate) fn assemble(
    role: Role,
    peers: Vec<Peer>,
    handle: Handle,
    runtime: Option<Runtime>,
    limits: Limits,
) -> Result<(KeySet, TcpTransport), SessionError> {
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
    let transport = TcpTransport::from_streams(role, handle, runtime, streams, limits);
    Ok((keys, transport))
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
        Some(bind(role, config.party(role).address).await?)
    };
    let dials = async {
        let mut out = Vec::new();
        for &peer in dial_to {
            let entry = config.party(peer);
            out.push(dial(role, peer, entry.address, entry.pin, identity, deadline).await?);
        }
        Ok::<_, SessionError>(out)
    };
    let accepts = async {
        match listener {
            Some(l) => {
                let pins = Pins::new(
                    accept_from
                        .iter()
                        .map(|r| (*r, config.party(*r).pin))
                        .collect(),
                );
                accept(role, l, pins, identity, deadline).await
            }
            None => Ok(Vec::new()),
        }
    };
    let (mut dialled, accepted) = tokio::try_join!(dials, accepts)?;
    dialled.extend(accepted);
    Ok(dialled)
}

/// Listens on `address` as `role`.
pub(crate) async fn bind(role: Role, address: SocketAddr) -> Result<TcpListener, SessionError> {
    TcpListener::bind(address)
        .await
        .map_err(|error| SessionError::Bind {
            role,
            address,
            error,
        })
}

/// Connects to `peer` at `address` (retrying until the deadline), checks its certificate
/// against `pin`, exchanges hellos and exports the pair key.
pub(crate) async fn dial(
    role: Role,
    peer: Role,
    address: SocketAddr,
    pin: Fingerprint,
    identity: &Identity,
    deadline: Instant,
) -> Result<Peer, SessionError> {
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
    super::socket::tune(&tcp);
    let connector = TlsConnector::from(client_config(peer, pin, identity)?);
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
    finish(role, peer, TlsStream::Client(stream), key, pin, deadline).await
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
    pins: Arc<Pins>,
    identity: &Identity,
    deadline: Instant,
) -> Result<Vec<Peer>, SessionError> {
    let acceptor = TlsAcceptor::from(server_config(pins.clone(), identity)?);
    let expected = pins.roles();
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
        let peer = match handshake(role, &acceptor, &pins, tcp, deadline).await {
            Ok(Some(peer)) => peer,
            Ok(None) => return Err(late(refused)),
            // Not identified: a party that died mid-handshake, or not a party at all.
            Err(SessionError::Handshake { peer: None, reason }) => {
                refused = Some(reason);
                continue;
            }
            Err(e) => return Err(e),
        };
        if got.iter().any(|p| p.role == peer.role) {
            return Err(SessionError::DuplicatePeer { peer: peer.role });
        }
        got.push(peer);
    }
    Ok(got)
}

/// The listening side of one connection: TLS handshake requiring a certificate in `pins`,
/// the pair key, hellos. `None` when the TLS handshake did not finish by the deadline.
pub(crate) async fn handshake(
    role: Role,
    acceptor: &TlsAcceptor,
    pins: &Pins,
    tcp: TcpStream,
    deadline: Instant,
) -> Result<Option<Peer>, SessionError> {
    super::socket::tune(&tcp);
    let stream = match timeout_at(deadline, acceptor.accept(tcp)).await {
        Err(_) => return Ok(None),
        Ok(Err(e)) => return Err(server_refusal(role, pins, e)),
        Ok(Ok(s)) => s,
    };
    let conn = stream.get_ref().1;
    let cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or(SessionError::Handshake {
            peer: None,
            reason: "client certificate missing after the handshake".into(),
        })?;
    let print = fingerprint(cert);
    let peer = pins.role_of(cert).ok_or(SessionError::Handshake {
        peer: None,
        reason: "client certificate not pinned after the handshake".into(),
    })?;
    let key = export(
        peer,
        conn.export_keying_material([0u8; 16], PRF_LABEL, None),
    )?;
    let stream = TlsStream::Server(stream);
    finish(role, peer, stream, key, print, deadline)
        .await
        .map(Some)
}

fn server_refusal(role: Role, pins: &Pins, e: std::io::Error) -> SessionError {
    match unpinned(&e) {
        Some(u) => SessionError::UnpinnedClient {
            listener: role,
            expected: pins.roles(),
            fingerprint: u.fingerprint.clone(),
        },
        None => SessionError::Handshake {
            peer: None,
            reason: e.to_string(),
        },
    }
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
    fingerprint: Fingerprint,
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
            fingerprint,
        }),
    }
}
