//! The long-running P1 or P2 of a service (one code path, the role as a value): listens,
//! authenticates each connection against the pinned clients (and, at P2, P1), admits sessions
//! up to the configured bound, and runs each admitted session on its own thread over the
//! shared runtime. A session's failure ends that session only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use patchwork_core::infer::{DescribedModel, Settings};
use patchwork_core::model::{Model, Weights};
use patchwork_core::party::Party;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsAcceptor;

use super::client_slots::{ClientSlot, ClientSlots};
use super::config::ServiceConfig;
use super::frames::{read_admit, read_open, send_admit, send_open, Open};
use super::pairing::{Half, Meeting, Pairing};
use crate::secure::run::{preprocessed_bytes, run_each};
use crate::tcp::pin::Pins;
use crate::tcp::session::{assemble, bind, dial, handshake, Peer};
use crate::tcp::tls::server_config;
use crate::tcp::transport::runtime;
use crate::tcp::{Identity, Refusal, SessionError};

/// What the model parties serve: the architecture, P1's weights, the spec and the settings,
/// shared by every session.
#[derive(Clone)]
pub struct Served {
    /// The public architecture.
    pub model: Arc<Model>,
    /// P1's weights (`None` for P2, which never has them).
    pub weights: Option<Arc<Weights>>,
    /// The Block-ReLU spec.
    pub spec: Arc<Spec>,
    /// The settings.
    pub settings: Settings,
}

/// Counters of a running service.
#[derive(Debug, Default)]
pub struct Stats {
    /// Sessions that ran all their inferences.
    pub completed: AtomicU64,
    /// Admitted sessions that ended with an error.
    pub failed: AtomicU64,
    /// Connections that did not become a session (unknown certificate, refusal, timeout).
    pub rejected: AtomicU64,
    /// The error of the last failed or rejected session.
    pub last_error: Mutex<Option<String>>,
}

impl Stats {
    fn fail(&self, counter: &AtomicU64, error: String) {
        counter.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    }

    /// (completed, failed, rejected) so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        (get(&self.completed), get(&self.failed), get(&self.rejected))
    }

    /// The error of the last failed or rejected session, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// What every connection's task shares.
struct Shared {
    role: Role,
    config: ServiceConfig,
    identity: Identity,
    served: Served,
    acceptor: TlsAcceptor,
    pins: Arc<Pins>,
    sessions: Arc<Semaphore>,
    /// Connections not yet admitted (`max_pending`).
    pending: Arc<Semaphore>,
    clients: ClientSlots,
    pairing: Pairing,
    stats: Arc<Stats>,
    runtime: tokio::runtime::Handle,
}

/// A running P1 or P2 service. Dropping it stops accepting at once; the sessions still
/// running finish (each `recv` is bounded by the timeout) before its runtime stops.
pub struct Service {
    address: SocketAddr,
    stats: Arc<Stats>,
    runtime: Option<Runtime>,
    accepting: tokio::task::JoinHandle<()>,
    sessions: Arc<Semaphore>,
    max_sessions: u32,
}

impl Shared {
    /// The settings of a session: the served ones at the session's batch, preprocessed if it
    /// asked.
    fn settings_of(&self, open: &Open) -> Settings {
        Settings {
            batch: open.batch as usize,
            preprocess: open.preprocess,
            ..self.served.settings
        }
    }

    /// Whether the material `open`'s inferences would make this party keep fits
    /// `max_preprocessed_mb` (the cost model's offline bytes, as `run_each` bounds it).
    fn may_preprocess(&self, open: &Open) -> bool {
        let served = &self.served;
        let settings = self.settings_of(open);
        let Ok(described) =
            DescribedModel::new::<Infallible>(&served.model, &served.spec, settings)
        else {
            return false;
        };
        let need = preprocessed_bytes(&described).saturating_mul(open.inferences.into());
        need <= self
            .config
            .limits
            .max_preprocessed_mb
            .saturating_mul(1_000_000)
    }
}

impl Service {
    /// Starts serving as `role` (P1 or P2): binds its configured address and accepts clients
    /// listed in `config` (and, at P2, P1) in the background.
    pub fn start(
        role: Role,
        config: ServiceConfig,
        identity: Identity,
        served: Served,
    ) -> Result<Service, SessionError> {
        if role == Role::P0 {
            return Err(SessionError::Setup {
                what: "the service",
                reason: "only P1 and P2 serve; P0 is the client".into(),
            });
        }
        let rt = runtime()?;
        let mut pinned: Vec<(Role, _)> = config.clients.iter().map(|c| (Role::P0, c.pin)).collect();
        if role == Role::P2 {
            pinned.push((Role::P1, config.server(Role::P1).pin));
        }
        let pins = Pins::new(pinned);
        let acceptor = TlsAcceptor::from(server_config(pins.clone(), &identity)?);
        let listener = rt.block_on(bind(role, config.server(role).address))?;
        let address = listener.local_addr().map_err(|error| SessionError::Bind {
            role,
            address: config.server(role).address,
            error,
        })?;
        let stats = Arc::new(Stats::default());
        let max_sessions = u32::try_from(config.limits.max_sessions).unwrap_or(u32::MAX);
        let sessions = Arc::new(Semaphore::new(max_sessions as usize));
        let shared = Arc::new(Shared {
            role,
            sessions: sessions.clone(),
            pending: Arc::new(Semaphore::new(config.limits.max_pending)),
            clients: ClientSlots::default(),
            pairing: Pairing::new(config.limits.max_pending),
            config,
            identity,
            served,
            acceptor,
            pins,
            stats: stats.clone(),
            runtime: rt.handle().clone(),
        });
        let accepting = rt.spawn(accept_loop(listener, shared));
        Ok(Service {
            address,
            stats,
            runtime: Some(rt),
            accepting,
            sessions,
            max_sessions,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Its counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.accepting.abort();
        if let Some(rt) = self.runtime.take() {
            let (sessions, all) = (self.sessions.clone(), self.max_sessions);
            // A session thread blocks on this runtime, so it must outlive them.
            std::thread::spawn(move || {
                rt.block_on(async {
                    let _ = sessions.acquire_many(all).await;
                });
            });
        }
    }
}

/// Accepts connections for ever, one task each, at most `max_pending` of them not yet
/// admitted; a connection beyond that is closed at once.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((tcp, from)) => {
                let Ok(pending) = shared.pending.clone().try_acquire_owned() else {
                    drop(tcp);
                    let why = format!("{from}: closed, max_pending connections in set-up");
                    shared.stats.fail(&shared.stats.rejected, why);
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = admit(&shared, tcp).await {
                        shared.stats.fail(&shared.stats.rejected, e.to_string());
                    }
                    drop(pending);
                });
            }
            // E.g. too many open files: wait for sessions to end rather than spin.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

/// Takes one connection from its TLS handshake to a running session (or a refusal). The TLS
/// handshake and the open frame must come within `handshake_timeout_secs`, the rest of the
/// set-up within `connect_timeout_secs`.
async fn admit(shared: &Arc<Shared>, tcp: tokio::net::TcpStream) -> Result<(), SessionError> {
    let role = shared.role;
    let limits = shared.config.limits;
    let deadline = Instant::now() + shared.config.connect_timeout;
    let greeting = Instant::now() + limits.handshake_timeout.min(shared.config.connect_timeout);
    let late = |peer: Option<Role>| SessionError::Handshake {
        peer,
        reason: "set-up not finished before the deadline".into(),
    };
    let mut peer = handshake(role, &shared.acceptor, &shared.pins, tcp, greeting)
        .await?
        .ok_or(late(None))?;
    let open = timeout_at(greeting, read_open(&mut peer.stream, peer.role))
        .await
        .map_err(|_| late(Some(peer.role)))?
        .map_err(|error| SessionError::Hello {
            peer: peer.role,
            error,
        })?;
    let mut half = Half {
        peer,
        open,
        slot: None,
    };
    if half.open.inferences > limits.max_inferences {
        return refuse(role, &mut [&mut half.peer], Refusal::TooManyInferences).await;
    }
    if half.open.batch == 0 || half.open.batch > limits.max_batch {
        return refuse(role, &mut [&mut half.peer], Refusal::BatchSize).await;
    }
    if half.open.preprocess && !shared.may_preprocess(&half.open) {
        return refuse(role, &mut [&mut half.peer], Refusal::Preprocessing).await;
    }
    // A client's sessions are counted on its own connections (P1's half at P2 names it too).
    if half.peer.role == Role::P0 {
        let client = half.peer.fingerprint;
        half.slot = shared.clients.take(client, limits.max_sessions_per_client);
        if half.slot.is_none() {
            return refuse(role, &mut [&mut half.peer], Refusal::ClientLimit).await;
        }
    }
    match role {
        Role::P1 => admit_at_p1(shared, half, deadline).await,
        _ => admit_at_p2(shared, half, deadline).await,
    }
}

/// P1: opens the session's link to P2, and once P2 has admitted it takes a session slot and
/// admits P0 (so a session that P2 never pairs holds no slot here).
async fn admit_at_p1(
    shared: &Arc<Shared>,
    mut client: Half,
    deadline: Instant,
) -> Result<(), SessionError> {
    let p2 = shared.config.server(Role::P2);
    let mut helper = dial(
        Role::P1,
        Role::P2,
        p2.address,
        p2.pin,
        &shared.identity,
        deadline,
    )
    .await?;
    let open = Open {
        client: client.peer.fingerprint,
        ..client.open
    };
    let helper_error = |error| SessionError::Hello {
        peer: Role::P2,
        error,
    };
    send_open(&mut helper.stream, Role::P1, Role::P2, &open)
        .await
        .map_err(helper_error)?;
    // Waiting on P2 holds the client's slot, so a client that hangs up (say, refused by P2)
    // ends the wait and dropping the link tells P2.
    let answer = tokio::select! {
        answer = timeout_at(deadline, read_admit(&mut helper.stream, Role::P2)) => answer,
        () = client.hung_up() => {
            return Err(SessionError::Handshake {
                peer: Some(Role::P0),
                reason: "the client hung up before P2 answered".into(),
            })
        }
    };
    let answer = answer
        .map_err(|_| SessionError::Handshake {
            peer: Some(Role::P2),
            reason: "no admission answer before the deadline".into(),
        })?
        .map_err(helper_error)?;
    if let Err(why) = answer {
        return refuse(Role::P1, &mut [&mut client.peer], why).await;
    }
    // P2 has admitted the session; if P1 is full, dropping the link ends P2's side at once.
    let Ok(permit) = shared.sessions.clone().try_acquire_owned() else {
        return refuse(Role::P1, &mut [&mut client.peer], Refusal::Busy).await;
    };
    tell(Role::P1, &mut client.peer, Ok(())).await?;
    let held = Held {
        _permit: permit,
        _slot: client.slot.take(),
    };
    start_session(shared, [client.peer, helper], open, held)
}

/// P2: pairs P0's and P1's connections of the session, checks they agree, takes a slot and
/// admits both.
async fn admit_at_p2(
    shared: &Arc<Shared>,
    half: Half,
    deadline: Instant,
) -> Result<(), SessionError> {
    let (mut client, mut server) = match shared.pairing.meet(half, deadline).await {
        Meeting::Handed => return Ok(()),
        Meeting::Abandoned(peer) => {
            return Err(SessionError::Handshake {
                peer: Some(peer),
                reason: "the peer hung up before the session was paired".into(),
            })
        }
        Meeting::Refused(mut half, why) => {
            return refuse(Role::P2, &mut [&mut half.peer], why).await
        }
        Meeting::Pair(pair) => *pair,
    };
    let agreed = server.open.client == client.peer.fingerprint
        && server.open.inferences == client.open.inferences
        && server.open.batch == client.open.batch
        && server.open.preprocess == client.open.preprocess;
    let permit = match shared.sessions.clone().try_acquire_owned() {
        _ if !agreed => Err(Refusal::Mismatch),
        Err(_) => Err(Refusal::Busy),
        Ok(permit) => Ok(permit),
    };
    let permit = match permit {
        Ok(permit) => permit,
        Err(why) => return refuse(Role::P2, &mut [&mut client.peer, &mut server.peer], why).await,
    };
    tell(Role::P2, &mut server.peer, Ok(())).await?;
    tell(Role::P2, &mut client.peer, Ok(())).await?;
    let held = Held {
        _permit: permit,
        _slot: client.slot.take(),
    };
    start_session(shared, [client.peer, server.peer], client.open, held)
}

/// What an admitted session holds until it ends: its session slot and its client's slot.
struct Held {
    _permit: OwnedSemaphorePermit,
    _slot: Option<ClientSlot>,
}

/// Sends `role`'s admission answer to `peer`.
async fn tell(
    role: Role,
    peer: &mut Peer,
    answer: Result<(), Refusal>,
) -> Result<(), SessionError> {
    let to = peer.role;
    send_admit(&mut peer.stream, role, to, answer)
        .await
        .map_err(|error| SessionError::Hello { peer: to, error })
}

/// Tells `peers` that `role` refuses the session, and reports the refusal.
async fn refuse(role: Role, peers: &mut [&mut Peer], why: Refusal) -> Result<(), SessionError> {
    for peer in peers.iter_mut() {
        // The refusal is reported below whether or not the peer still listens.
        let _ = tell(role, peer, Err(why)).await;
    }
    Err(SessionError::Refused { by: role, why })
}

/// Runs an admitted session on its own thread: the keys and transport over the two
/// connections, the model set up for the session's batch, its `inferences` passes; then the
/// slot is given back.
fn start_session(
    shared: &Arc<Shared>,
    peers: [Peer; 2],
    open: Open,
    held: Held,
) -> Result<(), SessionError> {
    let inferences = open.inferences;
    let shared = shared.clone();
    let role = shared.role;
    std::thread::Builder::new()
        .name(format!("patchwork-{role}-session"))
        .spawn(move || {
            let _held = held;
            let handle = shared.runtime.clone();
            let limits = shared.config.session_limits();
            let result = match assemble(role, peers.into(), handle, None, limits) {
                Err(e) => Err(e.to_string()),
                Ok((keys, transport)) => {
                    let mut party = Party::new(keys, transport);
                    let served = &shared.served;
                    let passes = std::iter::repeat_n(None, inferences as usize);
                    let settings = shared.settings_of(&open);
                    run_each(
                        &mut party,
                        &served.model,
                        patchwork_core::held::Held::from_option(served.weights.as_deref()),
                        &served.spec,
                        settings,
                        inferences.into(),
                        passes,
                        |_| (),
                    )
                    .map_err(|e| format!("{role}: {e}"))
                }
            };
            match result {
                Ok(()) => {
                    shared.stats.completed.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => shared.stats.fail(&shared.stats.failed, e),
            }
        })
        .map(|_| ())
        .map_err(|e| SessionError::Setup {
            what: "a session thread",
            reason: e.to_string(),
        })
}
