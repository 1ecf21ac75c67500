//! The bookkeeping every transport does around moving bytes, written once: each outgoing
//! message gets a [`Header`] stamped by the [`RoundClock`] and its bytes are counted; each
//! incoming header is checked against the tag and exact length the receiver names (a schedule
//! mismatch is a typed error, never garbage) and its stamp goes into the clock. The in-memory,
//! stream and host TCP transports differ only in how the header and payload travel.

use super::frame::Header;
use super::{RoundClock, Tag, TransportError};
use crate::role::Role;

/// One party's round clock and byte counters.
#[derive(Clone, Debug)]
pub struct Accounting {
    role: Role,
    clock: RoundClock,
    sent: [u64; 3],
}

impl Accounting {
    /// The accounting of `role`, with nothing sent or received.
    pub fn new(role: Role) -> Accounting {
        Accounting {
            role,
            clock: RoundClock::default(),
            sent: [0; 3],
        }
    }

    /// The header of a message of `len` bytes to `to` under `tag`; the clock ticks now.
    pub fn outgoing<E>(
        &mut self,
        to: Role,
        tag: Tag,
        len: usize,
    ) -> Result<Header, TransportError<E>> {
        let len = u32::try_from(len).map_err(|_| TransportError::BadFrame {
            peer: to,
            reason: "message longer than 4 GiB",
        })?;
        Ok(Header {
            sender: self.role,
            tag,
            stamp: self.clock.on_send(tag),
            len,
        })
    }

    /// Counts `len` payload bytes handed to the channel to `to`.
    pub fn sent(&mut self, to: Role, len: usize) {
        self.sent[to.index()] += len as u64;
    }

    /// Checks that an incoming `header` carries `tag` and exactly `len` bytes, and records its
    /// stamp.
    pub fn incoming<E>(
        &mut self,
        header: &Header,
        tag: Tag,
        len: usize,
    ) -> Result<(), TransportError<E>> {
        header.expect(tag, len)?;
        self.clock.on_recv(tag, header.stamp);
        Ok(())
    }

    /// See [`super::Transport::rounds`].
    pub fn rounds(&self) -> u32 {
        self.clock.rounds()
    }

    /// See [`super::Transport::restart_rounds`].
    pub fn restart_rounds(&mut self) {
        self.clock.restart();
    }

    /// See [`super::Transport::step_rounds`].
    pub fn step_rounds(&self) -> u64 {
        self.clock.step_rounds()
    }

    /// See [`super::Transport::bytes_sent`].
    pub fn bytes_sent(&self, to: Role) -> u64 {
        self.sent[to.index()]
    }
}
