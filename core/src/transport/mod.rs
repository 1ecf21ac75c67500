//! The message-oriented transport the protocols run over.
//!
//! A message goes from one party to another under a [`Tag`]: the sequence number of the
//! protocol step that sends it and the kind of message within that step. The receiver names
//! the tag and the exact length it expects; anything else is a typed error (a schedule mismatch
//! is caught, never decoded as garbage). Rounds are counted with a Lamport clock carried in
//! every message: a message's depth is one more than the deepest message its sender had
//! received when it sent it, so the number of rounds of a run is the depth of its deepest
//! message, the length of its longest chain of dependent messages.

pub mod accounting;
pub mod frame;
pub mod stream;

use crate::role::Role;

/// Names a message: the protocol step (sequence number, agreed by all parties because they run
/// the same schedule) and the message kind within the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    /// The step's sequence number (low 32 bits of the party's 64-bit counter).
    pub seq: u32,
    /// The message within the step.
    pub msg: u16,
}

/// Everything that can go wrong when receiving or sending, with the peer named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError<E> {
    /// The peer sent a message for another step or of another kind.
    WrongTag {
        /// The peer it is about.
        peer: Role,
        /// What was expected.
        expected: Tag,
        /// What was found.
        found: Tag,
    },
    /// The message had the expected tag but not the expected length.
    WrongLength {
        /// The peer it is about.
        peer: Role,
        /// The message's tag.
        tag: Tag,
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
    /// The frame header names another sender than the stream's peer.
    WrongSender {
        /// The peer it is about.
        peer: Role,
        /// What was found.
        found: u8,
    },
    /// The frame header is not a Patchwork frame (bad magic or unknown version).
    BadFrame {
        /// The peer it is about.
        peer: Role,
        /// What went wrong.
        reason: &'static str,
    },
    /// The stream ended, fully or in the middle of a frame.
    Closed {
        /// The peer it is about.
        peer: Role,
    },
    /// No message arrived within the configured time.
    Timeout {
        /// The peer it is about.
        peer: Role,
        /// The message's tag.
        tag: Tag,
    },
    /// A party tried to talk to itself or to a peer it has no channel to.
    NoChannel {
        /// The peer it is about.
        peer: Role,
    },
    /// An error of the underlying byte stream.
    Io {
        /// The peer it is about.
        peer: Role,
        /// The underlying error.
        error: E,
    },
}

impl<E> TransportError<E> {
    /// The peer the error is about: every transport error names one.
    pub fn peer(&self) -> Role {
        match self {
            TransportError::WrongTag { peer, .. }
            | TransportError::WrongLength { peer, .. }
            | TransportError::WrongSender { peer, .. }
            | TransportError::BadFrame { peer, .. }
            | TransportError::Closed { peer }
            | TransportError::Timeout { peer, .. }
            | TransportError::NoChannel { peer }
            | TransportError::Io { peer, .. } => *peer,
        }
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for TransportError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TransportError::WrongTag {
                peer,
                expected,
                found,
            } => write!(
                f,
                "{peer} sent step {} message {} where step {} message {} was expected",
                found.seq, found.msg, expected.seq, expected.msg
            ),
            TransportError::WrongLength {
                peer,
                tag,
                expected,
                found,
            } => write!(
                f,
                "{peer} sent {found} bytes for step {} message {}, expected {expected}",
                tag.seq, tag.msg
            ),
            TransportError::WrongSender { peer, found } => {
                write!(
                    f,
                    "stream from {peer} carried a frame signed by party {found}"
                )
            }
            TransportError::BadFrame { peer, reason } => {
                write!(f, "bad frame from {peer}: {reason}")
            }
            TransportError::Closed { peer } => write!(f, "{peer} closed the connection"),
            TransportError::Timeout { peer, tag } => write!(
                f,
                "timed out waiting for {peer} (step {} message {})",
                tag.seq, tag.msg
            ),
            TransportError::NoChannel { peer } => write!(f, "no channel to {peer}"),
            TransportError::Io { peer, error } => write!(f, "I/O error with {peer}: {error:?}"),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for TransportError<E> {}

/// Sends and receives whole messages between parties.
pub trait Transport {
    /// The error of the underlying channel.
    type Error: core::fmt::Debug;

    /// Sends `payload` to `to` under `tag`.
    fn send(
        &mut self,
        to: Role,
        tag: Tag,
        payload: &[u8],
    ) -> Result<(), TransportError<Self::Error>>;

    /// Receives the next message from `from`, which must carry `tag` and exactly `buf.len()`
    /// bytes, into `buf`.
    fn recv(
        &mut self,
        from: Role,
        tag: Tag,
        buf: &mut [u8],
    ) -> Result<(), TransportError<Self::Error>>;

    /// The round clock and byte counters of this party (see [`accounting`]).
    fn accounting(&self) -> &accounting::Accounting;

    /// The same, to restart the round clock ([`Transport::restart_rounds`]).
    fn accounting_mut(&mut self) -> &mut accounting::Accounting;

    /// Counts rounds from zero again, at a point no message crosses (the start of a
    /// preprocessing phase, [`crate::preprocess`]), so each phase's rounds are its own.
    fn restart_rounds(&mut self) {
        self.accounting_mut().restart_rounds();
    }

    /// Rounds so far: the depth of the deepest message sent or received (see the module doc).
    fn rounds(&self) -> u32 {
        self.accounting().rounds()
    }

    /// Payload bytes this party has sent to `to` so far (for per-layer reports).
    fn bytes_sent(&self, to: Role) -> u64 {
        self.accounting().bytes_sent(to)
    }

    /// The steps' own rounds, summed over the steps so far, as this party saw them (see
    /// [`RoundClock::step_rounds`]). P1 receives in the last round of every step, so its count
    /// is the largest.
    fn step_rounds(&self) -> u64 {
        self.accounting().step_rounds()
    }

    /// Tells the transport the largest payload each peer can send in this session, indexed by
    /// the sender's role ([`crate::infer::SecureModel::setup`] calls it from the program), so
    /// that a transport which reads ahead of `recv` refuses a larger frame before allocating
    /// its buffer. Transports that only read what `recv` asks for ignore it.
    fn limit_messages(&mut self, _largest_from: [u64; 3]) {}
}

/// What a message carries for round counting: its depth in the whole run and its depth
/// within its own step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    /// Depth in the whole run.
    pub depth: u32,
    /// Depth within the message's step.
    pub step_depth: u16,
}

/// The Lamport clock behind [`Transport::rounds`] and [`Transport::step_rounds`].
///
/// Besides the depth in the whole run, it keeps the depth within the current step (messages of
/// other steps do not count), so that the rounds of each step can be measured even where
/// consecutive steps overlap on the wire; the sum of the steps' own rounds is what the cost
/// model adds up.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundClock {
    received: u32,
    sent: u32,
    step: Option<u32>,
    step_received: u16,
    step_max: u16,
    finished_steps: u64,
}

impl RoundClock {
    fn enter(&mut self, seq: u32) {
        if self.step != Some(seq) {
            self.finished_steps += self.step_max as u64;
            self.step = Some(seq);
            self.step_received = 0;
            self.step_max = 0;
        }
    }

    /// The stamp of a message sent now under `tag`.
    pub fn on_send(&mut self, tag: Tag) -> Stamp {
        self.enter(tag.seq);
        self.sent = self.received.saturating_add(1);
        let step_depth = self.step_received.saturating_add(1);
        self.step_max = self.step_max.max(step_depth);
        Stamp {
            depth: self.sent,
            step_depth,
        }
    }

    /// Records a received message.
    pub fn on_recv(&mut self, tag: Tag, stamp: Stamp) {
        self.enter(tag.seq);
        self.received = self.received.max(stamp.depth);
        self.step_received = self.step_received.max(stamp.step_depth);
        self.step_max = self.step_max.max(stamp.step_depth);
    }

    /// Depths count from zero again (the steps' own rounds go on).
    pub fn restart(&mut self) {
        self.received = 0;
        self.sent = 0;
    }

    /// Depth of the deepest message seen.
    pub fn rounds(&self) -> u32 {
        self.received.max(self.sent)
    }

    /// Sum over the steps this party took part in of the deepest in-step message it saw.
    pub fn step_rounds(&self) -> u64 {
        self.finished_steps + self.step_max as u64
    }
}
