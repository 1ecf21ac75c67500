//! [`TcpTransport`]: the core's `Transport` over one byte stream per peer, driven by a tokio
//! runtime. Per peer a writer task drains a queue of frames, so `send` does not wait for the
//! peer to read (P0 and P1 both send large messages before reading, which deadlocks blocking
//! sockets), and a reader task parses checked frames ahead of `recv`, which waits on them with
//! the session timeout. Both queues are bounded in bytes: the send queue by [`SEND_BUDGET`]
//! (a peer that stops reading stalls its own session, which ends at the timeout), the read
//! queue by the largest message the program lets the peer send plus [`READ_SLACK`].
//!
//! The tasks run on a tokio runtime that the transport either owns (a one-off session, from
//! [`super::connect`]) or shares with other sessions (the service, [`crate::service`]).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use patchwork_core::role::Role;
use patchwork_core::transport::accounting::Accounting;
use patchwork_core::transport::{Tag, Transport, TransportError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use super::config::DEFAULT_MAX_FRAME;
use super::error::{NetError, SessionError};
use super::wire::{budget_cost, reader_task, writer_task, Incoming, Outgoing, Progress};

/// Bytes queued for one peer before `send` waits for the writer; a message larger than this
/// is admitted alone when the queue is empty.
pub const SEND_BUDGET: u32 = 8 << 20;

/// Bytes the reader may hold ahead of `recv` beyond one frame of the largest size the peer may
/// send.
pub const READ_SLACK: u32 = 4 << 20;

/// Time limits and bounds of a transport.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// How long `recv` waits for one message before `TransportError::Timeout`.
    pub timeout: Duration,
    /// Largest payload accepted in one frame (larger is refused before allocating).
    pub max_frame: u32,
    /// When the session must be over (a service's `max_session_secs`): no wait goes past it.
    pub deadline: Option<Instant>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout: Duration::from_secs(10),
            max_frame: DEFAULT_MAX_FRAME,
            deadline: None,
        }
    }
}

impl Limits {
    /// How long the next wait may last, or `None` once the session's deadline has passed.
    fn time_left(&self) -> Option<Duration> {
        match self.deadline {
            None => Some(self.timeout),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                (!left.is_zero()).then(|| self.timeout.min(left))
            }
        }
    }

    /// The error of a wait for `peer` that ran out: the session's deadline or the timeout.
    fn expired(&self, peer: Role, tag: Tag) -> TransportError<NetError> {
        match self.deadline {
            Some(d) if Instant::now() >= d => TransportError::Io {
                peer,
                error: NetError::SessionExpired,
            },
            _ => TransportError::Timeout { peer, tag },
        }
    }
}

struct Link {
    tx: Option<mpsc::UnboundedSender<Outgoing>>,
    send_budget: Arc<Semaphore>,
    rx: mpsc::UnboundedReceiver<Incoming>,
    /// The largest payload the reader accepts from this peer.
    bound: Arc<AtomicU32>,
    read_budget: Arc<Semaphore>,
    /// When bytes last moved on the link (waits end after `timeout` without).
    progress: Progress,
    writer: Option<JoinHandle<()>>,
    reader: JoinHandle<()>,
}

/// A party's transport over TCP (normally TLS over TCP, from [`super::connect`]).
///
/// Its methods block on its runtime: use it (and drop it) from plain threads, not from inside
/// an async runtime. Dropping it delivers what is still queued (waiting at most the session
/// timeout) and closes the connections cleanly, unless a send or receive has failed: then the
/// session is broken and it closes the connections at once, so that the other parties learn
/// of the failure without waiting for their own timeouts.
pub struct TcpTransport {
    role: Role,
    /// The runtime its tasks run on.
    handle: Handle,
    /// Set when the transport owns that runtime (stopped on drop).
    runtime: Option<Runtime>,
    links: [Option<Link>; 3],
    accounting: Accounting,
    limits: Limits,
    /// A send or receive failed: dropping skips the delivery of what is queued.
    broken: bool,
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("role", &self.role)
            .field("rounds", &self.accounting.rounds())
            .finish()
    }
}

/// A multi-threaded runtime for one party's connections.
pub(crate) fn runtime() -> Result<Runtime, SessionError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("patchwork-net")
        .enable_all()
        .build()
        .map_err(|e| SessionError::Setup {
            what: "the async runtime",
            reason: e.to_string(),
        })
}

impl TcpTransport {
    /// Builds the transport of `role` from established streams (one per peer it talks to),
    /// spawning their reader and writer tasks on `handle`'s runtime; `runtime` is that runtime
    /// when the transport is to own it.
    pub(crate) fn from_streams<S>(
        role: Role,
        handle: Handle,
        runtime: Option<Runtime>,
        streams: Vec<(Role, S)>,
        limits: Limits,
    ) -> TcpTransport
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let mut links: [Option<Link>; 3] = [None, None, None];
        for (peer, stream) in streams {
            let (r, w) = tokio::io::split(stream);
            let (out_tx, out_rx) = mpsc::unbounded_channel();
            let (in_tx, in_rx) = mpsc::unbounded_channel();
            let bound = Arc::new(AtomicU32::new(limits.max_frame));
            let read_permits = budget_cost(limits.max_frame).saturating_add(READ_SLACK);
            let read_budget = Arc::new(Semaphore::new(read_permits as usize));
            let progress = Progress::new();
            let reader = handle.spawn(reader_task(
                r,
                peer,
                bound.clone(),
                read_budget.clone(),
                progress.clone(),
                in_tx,
            ));
            let writer = handle.spawn(writer_task(w, out_rx, progress.clone()));
            links[peer.index()] = Some(Link {
                tx: Some(out_tx),
                send_budget: Arc::new(Semaphore::new(SEND_BUDGET as usize)),
                rx: in_rx,
                bound,
                read_budget,
                progress,
                writer: Some(writer),
                reader,
            });
        }
        TcpTransport {
            role,
            handle,
            runtime,
            links,
            accounting: Accounting::new(role),
            limits,
            broken: false,
        }
    }

    /// The transport of `role` over plain, unauthenticated TCP streams to the two other parties
    /// in role order (as for the core's `StreamTransport::new`). For tests and for links that
    /// are secured by other means; sessions use [`super::connect`].
    pub fn over_tcp(
        role: Role,
        to_others: [Option<std::net::TcpStream>; 2],
        limits: Limits,
    ) -> Result<TcpTransport, SessionError> {
        let rt = runtime()?;
        let mut streams = Vec::new();
        let others = Role::ALL.into_iter().filter(|r| *r != role);
        for (peer, s) in others.zip(to_others) {
            let Some(s) = s else { continue };
            let setup = |e: std::io::Error| SessionError::Setup {
                what: "a TCP stream",
                reason: format!("to {peer}: {e}"),
            };
            s.set_nonblocking(true).map_err(setup)?;
            let _guard = rt.enter();
            streams.push((peer, tokio::net::TcpStream::from_std(s).map_err(setup)?));
        }
        Ok(TcpTransport::from_streams(
            role,
            rt.handle().clone(),
            Some(rt),
            streams,
            limits,
        ))
    }

    /// This party's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits this transport runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn link(&mut self, peer: Role) -> Result<&mut Link, TransportError<NetError>> {
        self.links[peer.index()]
            .as_mut()
            .ok_or(TransportError::NoChannel { peer })
    }

    /// Passes `result` through, remembering a failure (see [`TcpTransport`]'s drop).
    fn note<T>(
        &mut self,
        result: Result<T, TransportError<NetError>>,
    ) -> Result<T, TransportError<NetError>> {
        self.broken |= result.is_err();
        result
    }

    /// `send` before the failure bookkeeping.
    fn send_frame(
        &mut self,
        to: Role,
        tag: Tag,
        payload: &[u8],
    ) -> Result<(), TransportError<NetError>> {
        // As in the core's transports, the clock ticks before the channel is looked up.
        let header = self.accounting.outgoing(to, tag, payload.len())?;
        let len = header.len;
        let header = header.encode();
        let mut frame = Vec::with_capacity(header.len() + payload.len());
        frame.extend_from_slice(&header);
        frame.extend_from_slice(payload);
        let (limits, handle) = (self.limits, self.handle.clone());
        let link = self.link(to)?;
        let tx = link.tx.clone().ok_or(TransportError::Closed { peer: to })?;
        // Wait for room in the send queue, as long as the peer keeps reading.
        let want = budget_cost(len).min(SEND_BUDGET);
        let room = link.send_budget.clone().acquire_many_owned(want);
        let permit = wait(&handle, limits, &link.progress, room, to, tag)?
            .map_err(|_| TransportError::Closed { peer: to })?;
        tx.send((frame, permit))
            .map_err(|_| TransportError::Closed { peer: to })?;
        self.accounting.sent(to, payload.len());
        Ok(())
    }

    /// `recv` before the failure bookkeeping.
    fn recv_frame(
        &mut self,
        from: Role,
        tag: Tag,
        buf: &mut [u8],
    ) -> Result<(), TransportError<NetError>> {
        let (limits, handle) = (self.limits, self.handle.clone());
        let link = self.link(from)?;
        let progress = link.progress.clone();
        let frame = match wait(&handle, limits, &progress, link.rx.recv(), from, tag)? {
            None => return Err(TransportError::Closed { peer: from }),
            Some(incoming) => incoming?,
        };
        self.accounting.incoming(&frame.header, tag, buf.len())?;
        buf.copy_from_slice(&frame.payload);
        Ok(())
    }
}

/// Runs `fut` to its end on `handle`'s runtime unless the link to `peer` makes no progress for
/// the timeout (or the session's deadline passes): then the typed error naming `peer`.
fn wait<F: std::future::Future>(
    handle: &Handle,
    limits: Limits,
    progress: &Progress,
    fut: F,
    peer: Role,
    tag: Tag,
) -> Result<F::Output, TransportError<NetError>> {
    // The timers must be created inside the runtime, hence the async block.
    let started = Instant::now();
    handle.block_on(async {
        tokio::pin!(fut);
        loop {
            // Silence counts from the start of this wait at the earliest.
            let silent = progress.idle().min(started.elapsed());
            if silent >= limits.timeout {
                return Err(limits.expired(peer, tag));
            }
            let slice = limits
                .time_left()
                .ok_or_else(|| limits.expired(peer, tag))?;
            let slice = slice.min(limits.timeout - silent);
            if let Ok(out) = tokio::time::timeout(slice, &mut fut).await {
                return Ok(out);
            }
        }
    })
}

impl Transport for TcpTransport {
    type Error = NetError;

    fn send(&mut self, to: Role, tag: Tag, payload: &[u8]) -> Result<(), TransportError<NetError>> {
        let result = self.send_frame(to, tag, payload);
        self.note(result)
    }

    fn recv(
        &mut self,
        from: Role,
        tag: Tag,
        buf: &mut [u8],
    ) -> Result<(), TransportError<NetError>> {
        let result = self.recv_frame(from, tag, buf);
        self.note(result)
    }

    fn accounting(&self) -> &Accounting {
        &self.accounting
    }

    fn accounting_mut(&mut self) -> &mut Accounting {
        &mut self.accounting
    }

    /// Lowers each link's frame bound to the largest message the program lets that peer send
    /// (never above the configured `max_frame`), and its read budget with it.
    fn limit_messages(&mut self, largest_from: [u64; 3]) {
        let max = self.limits.max_frame;
        for (peer, link) in self.links.iter_mut().enumerate() {
            let Some(link) = link else { continue };
            let new = u32::try_from(largest_from[peer])
                .unwrap_or(u32::MAX)
                .min(max);
            let old = link.bound.swap(new, Ordering::Relaxed);
            if new < old {
                link.read_budget.forget_permits((old - new) as usize);
            } else {
                link.read_budget.add_permits((new - old) as usize);
            }
        }
    }
}

impl Drop for TcpTransport {
    /// Closes the send queues, lets the writers deliver what is queued (up to the session
    /// timeout, not at all once the session is broken: then they are aborted, which closes
    /// the connections at once) and shut their streams down, then stops the runtime if it owns
    /// it.
    fn drop(&mut self) {
        let mut writers = Vec::new();
        for link in self.links.iter_mut().flatten() {
            link.tx = None;
            writers.extend(link.writer.take());
        }
        if self.broken {
            writers.drain(..).for_each(|w| w.abort());
        }
        let timeout = self.limits.timeout;
        self.handle.block_on(async {
            let _ = tokio::time::timeout(timeout, async {
                for w in writers {
                    let _ = w.await;
                }
            })
            .await;
        });
        // On a shared runtime a reader would otherwise live as long as its peer keeps the
        // connection open.
        for link in self.links.iter().flatten() {
            link.reader.abort();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_millis(100));
        }
    }
}
