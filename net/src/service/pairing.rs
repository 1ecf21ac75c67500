//! P2's meeting point: a session reaches P2 as two connections, P0's and P1's, each opened with
//! the session id. The first to arrive waits (until its deadline, or until its peer hangs up)
//! for the other; the pair then belongs to the first one's task. Expired and abandoned waits
//! are removed, a third connection with an id in use is refused.

use std::collections::HashMap;
use std::sync::Mutex;

use patchwork_core::role::Role;
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;
use tokio::time::{timeout_at, Instant};

use super::client_slots::ClientSlot;
use super::frames::{Open, SessionId};
use crate::tcp::session::Peer;
use crate::tcp::Refusal;

/// One connection of a session: the authenticated peer, what it announced and, for P0's, the
/// client's session slot.
pub(crate) struct Half {
    pub peer: Peer,
    pub open: Open,
    pub slot: Option<ClientSlot>,
}

impl Half {
    /// Resolves when the peer closes its connection or sends anything: until it is admitted a
    /// peer only waits, so either means it gave up (a client whose other server refused it
    /// drops both connections). Watching for this frees the client's slot at once instead of
    /// at the set-up deadline.
    pub(super) async fn hung_up(&mut self) {
        let _ = self.peer.stream.read(&mut [0u8; 1]).await;
    }
}

/// The waiting halves by session id.
pub(crate) struct Pairing {
    waiting: Mutex<HashMap<SessionId, (Role, oneshot::Sender<Half>)>>,
    /// Most halves allowed to wait at once.
    capacity: usize,
}

/// What [`Pairing::meet`] gives a connection's task.
pub(crate) enum Meeting {
    /// Both halves, P0's first: this task runs the session.
    Pair(Box<(Half, Half)>),
    /// The half was handed to the task of the other, which runs the session.
    Handed,
    /// The half cannot be paired; it comes back so its peer can be told why.
    Refused(Box<Half>, Refusal),
    /// The waiting half's peer (this role) hung up before the other half came.
    Abandoned(Role),
}

impl Pairing {
    /// A meeting point for at most `capacity` waiting halves.
    pub(super) fn new(capacity: usize) -> Pairing {
        Pairing {
            waiting: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, (Role, oneshot::Sender<Half>)>> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts and
        // removes), so a poisoned lock is still usable.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Brings `half` to the meeting of its session id and waits for the other half until
    /// `deadline` or until `half`'s peer hangs up.
    pub(super) async fn meet(&self, mut half: Half, deadline: Instant) -> Meeting {
        let id = half.open.id;
        let mut rx = {
            let mut waiting = self.lock();
            match waiting.remove(&id) {
                Some((role, tx)) if role != half.peer.role => {
                    // Sent under the lock, so the waiter sees it even if it just timed out.
                    return match tx.send(half) {
                        Ok(()) => Meeting::Handed,
                        Err(half) => Meeting::Refused(Box::new(half), Refusal::Unpaired),
                    };
                }
                Some(same_role) => {
                    waiting.insert(id, same_role);
                    return Meeting::Refused(Box::new(half), Refusal::Duplicate);
                }
                None if waiting.len() >= self.capacity => {
                    return Meeting::Refused(Box::new(half), Refusal::Busy);
                }
                None => {
                    let (tx, rx) = oneshot::channel();
                    waiting.insert(id, (half.peer.role, tx));
                    rx
                }
            }
        };
        let waited = tokio::select! {
            other = timeout_at(deadline, &mut rx) => Some(other),
            () = half.hung_up() => None,
        };
        let other = match waited {
            Some(Ok(Ok(other))) => Some(other),
            Some(Ok(Err(_))) => None,
            expired_or_abandoned => {
                let mut waiting = self.lock();
                match rx.try_recv() {
                    // Handed over as this half's peer hung up: the other's peer is told.
                    Ok(other) if expired_or_abandoned.is_none() => {
                        return Meeting::Refused(Box::new(other), Refusal::Unpaired)
                    }
                    Ok(other) => Some(other),
                    Err(_) => {
                        waiting.remove(&id);
                        if expired_or_abandoned.is_none() {
                            return Meeting::Abandoned(half.peer.role);
                        }
                        None
                    }
                }
            }
        };
        match other {
            None => Meeting::Refused(Box::new(half), Refusal::Unpaired),
            Some(other) if half.peer.role == Role::P0 => Meeting::Pair(Box::new((half, other))),
            Some(other) => Meeting::Pair(Box::new((other, half))),
        }
    }
}
