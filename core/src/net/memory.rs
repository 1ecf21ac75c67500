//! An in-memory three-party network: one thread per party, one queue per directed edge, with
//! per-edge byte and message counters and Lamport round counting (see [`crate::transport`]).
//! Deterministic: keys come from a seed, there is no other randomness.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use crate::party::Party;
use crate::prg::{Key, KeySet, Prg};
use crate::role::Role;
use crate::transport::accounting::Accounting;
use crate::transport::frame::Header;
use crate::transport::{Tag, Transport, TransportError};

/// A message in a queue: the header a byte stream would carry, and the payload.
struct Message {
    header: Header,
    payload: Vec<u8>,
}

/// Byte and message counters per directed edge `[from][to]`.
#[derive(Default)]
pub struct Counters {
    bytes: [[AtomicU64; 3]; 3],
    messages: [[AtomicU64; 3]; 3],
}

/// What a run cost, per directed edge and in total.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Payload bytes sent, `[from][to]`.
    pub bytes: [[u64; 3]; 3],
    /// Messages sent, `[from][to]`.
    pub messages: [[u64; 3]; 3],
    /// Depth of the deepest message (rounds).
    pub rounds: u32,
}

impl Traffic {
    /// Payload bytes exchanged between `a` and `b`, both directions.
    pub fn between(&self, a: Role, b: Role) -> u64 {
        self.bytes[a.index()][b.index()] + self.bytes[b.index()][a.index()]
    }

    /// All payload bytes.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().flatten().sum()
    }
}

/// One party's end of the in-memory network.
pub struct MemoryTransport {
    role: Role,
    to: [Option<Sender<Message>>; 3],
    from: [Option<Receiver<Message>>; 3],
    counters: Arc<Counters>,
    accounting: Accounting,
    timeout: Duration,
}

/// The channel error of the in-memory network (it has none of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Never {}

impl Transport for MemoryTransport {
    type Error = Never;

    fn send(&mut self, to: Role, tag: Tag, payload: &[u8]) -> Result<(), TransportError<Never>> {
        let header = self.accounting.outgoing(to, tag, payload.len())?;
        let tx = self.to[to.index()]
            .as_ref()
            .ok_or(TransportError::NoChannel { peer: to })?;
        let (me, them) = (self.role.index(), to.index());
        self.counters.bytes[me][them].fetch_add(payload.len() as u64, Ordering::Relaxed);
        self.counters.messages[me][them].fetch_add(1, Ordering::Relaxed);
        tx.send(Message {
            header,
            payload: payload.to_vec(),
        })
        .map_err(|_| TransportError::Closed { peer: to })?;
        self.accounting.sent(to, payload.len());
        Ok(())
    }

    fn recv(&mut self, from: Role, tag: Tag, buf: &mut [u8]) -> Result<(), TransportError<Never>> {
        let rx = self.from[from.index()]
            .as_ref()
            .ok_or(TransportError::NoChannel { peer: from })?;
        let m = rx.recv_timeout(self.timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => TransportError::Timeout { peer: from, tag },
            RecvTimeoutError::Disconnected => TransportError::Closed { peer: from },
        })?;
        self.accounting.incoming(&m.header, tag, buf.len())?;
        buf.copy_from_slice(&m.payload);
        Ok(())
    }

    fn accounting(&self) -> &Accounting {
        &self.accounting
    }

    fn accounting_mut(&mut self) -> &mut Accounting {
        &mut self.accounting
    }
}

/// Builds the three ends of a fresh network whose receives time out after `timeout`.
pub fn network(timeout: Duration) -> ([MemoryTransport; 3], Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let mut to: [[Option<Sender<Message>>; 3]; 3] = Default::default();
    let mut from: [[Option<Receiver<Message>>; 3]; 3] = Default::default();
    for a in 0..3 {
        for b in 0..3 {
            if a != b {
                let (tx, rx) = channel();
                to[a][b] = Some(tx);
                from[b][a] = Some(rx);
            }
        }
    }
    let mut ends = to
        .into_iter()
        .zip(from)
        .enumerate()
        .map(|(i, (to, from))| MemoryTransport {
            role: Role::ALL[i],
            to,
            from,
            counters: counters.clone(),
            accounting: Accounting::new(Role::ALL[i]),
            timeout,
        });
    let ends = [
        ends.next().unwrap(),
        ends.next().unwrap(),
        ends.next().unwrap(),
    ];
    (ends, counters)
}

/// Per-session keys for the three parties derived from a seed: for simulations, tests and
/// benches only (a real session agrees fresh keys in its handshake).
pub fn seeded_keys(seed: u64) -> [KeySet; 3] {
    let mut master = [0u8; 16];
    master[..8].copy_from_slice(&seed.to_le_bytes());
    let mut prg = Prg::new(&master, u64::MAX, 0x7fff);
    let mut key = || {
        let mut k: Key = [0; 16];
        prg.fill_bytes(&mut k);
        k
    };
    let (own, k01, k02, k12) = ([key(), key(), key()], key(), key(), key());
    [
        KeySet::new(Role::P0, own[0], [k01, k02]),
        KeySet::new(Role::P1, own[1], [k01, k12]),
        KeySet::new(Role::P2, own[2], [k02, k12]),
    ]
}

/// How long [`run`]'s parties wait for a message. They are threads of one process, so the
/// bound only guards against a schedule bug; it is generous so that a thread starved on a busy
/// machine (seen at load 15 on 2 cores during a 10,000-image evaluation) is not taken for a
/// stalled peer.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `f` as each of the three parties on its own thread over a fresh network with keys from
/// `seed`, and returns the three results (in role order) with the traffic of the run.
pub fn run<R: Send>(
    seed: u64,
    f: impl Fn(&mut Party<MemoryTransport>) -> R + Sync,
) -> ([R; 3], Traffic) {
    let (ends, counters) = network(RUN_TIMEOUT);
    let keys = seeded_keys(seed);
    let f = &f;
    let (results, rounds): (Vec<R>, Vec<u32>) = std::thread::scope(|s| {
        let handles: Vec<_> = ends
            .into_iter()
            .zip(keys)
            .map(|(t, k)| {
                s.spawn(move || {
                    let mut party = Party::new(k, t);
                    let r = f(&mut party);
                    (r, party.transport().rounds())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("party thread panicked"))
            .unzip()
    });
    let mut traffic = Traffic {
        rounds: rounds.into_iter().max().unwrap_or(0),
        ..Traffic::default()
    };
    for a in 0..3 {
        for b in 0..3 {
            traffic.bytes[a][b] = counters.bytes[a][b].load(Ordering::Relaxed);
            traffic.messages[a][b] = counters.messages[a][b].load(Ordering::Relaxed);
        }
    }
    let mut results = results.into_iter();
    (
        [
            results.next().unwrap(),
            results.next().unwrap(),
            results.next().unwrap(),
        ],
        traffic,
    )
}
