//! A party's side of a session: its role, its transport, its keys and the step counter that
//! keeps the three parties on the same schedule.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::bitpack;
use crate::prg::{KeyRef, KeySet, Prg};
use crate::role::Role;
use crate::transport::{Tag, Transport, TransportError};

/// Errors of a protocol step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error<E> {
    /// The transport failed (peer, step and message are named inside).
    Transport(TransportError<E>),
    /// The caller passed inputs of inconsistent sizes.
    Shape {
        /// What it is about.
        what: &'static str,
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
    /// A setting outside what the protocol supports.
    Config(&'static str),
    /// A Block-ReLU patch that does not fit its activation map.
    PatchTooLarge {
        /// The channel.
        channel: usize,
        /// The patch `[height, width]`.
        patch: [u32; 2],
        /// Map height.
        height: usize,
        /// Map width.
        width: usize,
    },
    /// A message of the right length whose content is impossible (e.g. a Z_p value >= p).
    Malformed {
        /// The peer it is about.
        peer: Role,
        /// What it is about.
        what: &'static str,
    },
    /// A party passed a secret its role does not hold, or the holder passed none.
    NotHeld {
        /// What it is about.
        what: &'static str,
        /// The party that holds it.
        holder: Role,
    },
    /// A peer runs another program (architecture, spec, settings, version or inference count;
    /// see [`crate::program`]): `what` names the facts that differ.
    Mismatch {
        /// The peer it is about.
        peer: Role,
        /// What it is about.
        what: String,
    },
}

impl<E> From<TransportError<E>> for Error<E> {
    fn from(e: TransportError<E>) -> Self {
        Error::Transport(e)
    }
}

impl<E> Error<E> {
    /// The peer the error is about, when a peer caused it (transport failures and malformed
    /// messages); `None` for errors of this party's own inputs or settings.
    pub fn peer(&self) -> Option<Role> {
        match self {
            Error::Transport(e) => Some(e.peer()),
            Error::Malformed { peer, .. } | Error::Mismatch { peer, .. } => Some(*peer),
            Error::Shape { .. }
            | Error::Config(_)
            | Error::PatchTooLarge { .. }
            | Error::NotHeld { .. } => None,
        }
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for Error<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Transport(e) => write!(f, "{e}"),
            Error::Shape {
                what,
                expected,
                found,
            } => {
                write!(f, "{what}: expected {expected} elements, found {found}")
            }
            Error::Config(what) => write!(f, "unsupported setting: {what}"),
            Error::PatchTooLarge {
                channel,
                patch,
                height,
                width,
            } => write!(
                f,
                "channel {channel}: patch {}x{} is larger than the {height}x{width} map",
                patch[0], patch[1]
            ),
            Error::Malformed { peer, what } => write!(f, "malformed message from {peer}: {what}"),
            Error::NotHeld { what, holder } => {
                write!(
                    f,
                    "{what}: a secret of {holder} alone, which {holder} must pass and no other party may"
                )
            }
            Error::Mismatch { what, .. } => {
                write!(f, "the parties run different programs: {what}")
            }
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for Error<E> {}

/// Checks that a slice has the length the step expects.
pub fn check_len<E>(what: &'static str, expected: usize, found: usize) -> Result<(), Error<E>> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::Shape {
            what,
            expected,
            found,
        })
    }
}

/// One party of a session. Every protocol step takes `&mut Party` and calls
/// [`Party::begin_step`] once, so all three parties number their steps identically.
pub struct Party<T> {
    role: Role,
    keys: KeySet,
    transport: T,
    seq: u64,
}

/// A step in progress: its sequence number names its messages and its randomness streams.
///
/// The counter is 64 bits, so the streams it names never repeat within a session (at a
/// billion steps a second it would take 584 years). Tags on the wire carry its low 32 bits:
/// a link delivers messages in order, so a tag that has wrapped cannot be mistaken for an
/// earlier one.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    /// The step number in the session (64 bits: streams never repeat).
    pub seq: u64,
}

impl Step {
    /// The tag of message `msg` of this step.
    pub fn tag(self, msg: u16) -> Tag {
        Tag {
            seq: self.seq as u32,
            msg,
        }
    }
}

impl<T: Transport> Party<T> {
    /// A party with its per-session keys and its transport.
    pub fn new(keys: KeySet, transport: T) -> Party<T> {
        Party {
            role: keys.role(),
            keys,
            transport,
            seq: 0,
        }
    }

    /// This party's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The transport (for its counters).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, to configure it (see [`Transport::limit_messages`]).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The same party over `f(transport)` (e.g. a wrapper that records or delays messages):
    /// role, keys and step counter are kept.
    pub fn map_transport<U: Transport>(self, f: impl FnOnce(T) -> U) -> Party<U> {
        Party {
            role: self.role,
            keys: self.keys,
            transport: f(self.transport),
            seq: self.seq,
        }
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Starts the next step of the schedule.
    pub fn begin_step(&mut self) -> Step {
        self.seq += 1;
        Step { seq: self.seq }
    }

    /// The randomness stream this party shares with `other` for `step` and `purpose`.
    ///
    /// # Panics
    /// If `other` is this party's own role: protocol code always names another party.
    pub fn shared(&self, other: Role, step: Step, purpose: u16) -> Prg {
        self.keys
            .stream(KeyRef::With(other), step.seq, purpose)
            .expect("protocol code names another party")
    }

    /// A stream keyed by a pair key but named by a fixed id instead of a step, for masks that
    /// live for the whole session (the weight mask of [`crate::protocol::product`]).
    pub fn shared_fixed(&self, other: Role, id: u32, purpose: u16) -> Prg {
        self.keys
            .stream(KeyRef::With(other), id.into(), purpose | 0x8000)
            .expect("protocol code names another party")
    }

    /// Sends raw bytes.
    pub fn send(
        &mut self,
        to: Role,
        step: Step,
        msg: u16,
        bytes: &[u8],
    ) -> Result<(), Error<T::Error>> {
        Ok(self.transport.send(to, step.tag(msg), bytes)?)
    }

    /// Receives exactly `len` raw bytes.
    pub fn recv(
        &mut self,
        from: Role,
        step: Step,
        msg: u16,
        len: usize,
    ) -> Result<Vec<u8>, Error<T::Error>> {
        let mut buf = vec![0u8; len];
        self.transport.recv(from, step.tag(msg), &mut buf)?;
        Ok(buf)
    }

    /// Sends values packed to `width` bits each.
    pub fn send_packed(
        &mut self,
        to: Role,
        step: Step,
        msg: u16,
        values: impl IntoIterator<Item = u64>,
        n: usize,
        width: u32,
    ) -> Result<(), Error<T::Error>> {
        let bytes = bitpack::pack(values, n, width);
        self.send(to, step, msg, &bytes)
    }

    /// Sends Z_p values packed to 7 bits each.
    pub fn send_zp(
        &mut self,
        to: Role,
        step: Step,
        msg: u16,
        values: &[u8],
    ) -> Result<(), Error<T::Error>> {
        let bytes = bitpack::pack7(values);
        self.send(to, step, msg, &bytes)
    }

    /// Receives `n` Z_p values packed to 7 bits each; a value >= p is a malformed message.
    pub fn recv_zp(
        &mut self,
        from: Role,
        step: Step,
        msg: u16,
        n: usize,
    ) -> Result<Vec<u8>, Error<T::Error>> {
        let bytes = self.recv(from, step, msg, bitpack::packed_len(n, crate::ring::P_BITS))?;
        let mut out = vec![0u8; n];
        bitpack::unpack7(&bytes, &mut out);
        if out.iter().fold(0u8, |m, &v| m.max(v)) >= crate::ring::P {
            return Err(Error::Malformed {
                peer: from,
                what: "a Z_p value >= p",
            });
        }
        Ok(out)
    }

    /// Receives `n` values packed to `width` bits each.
    pub fn recv_packed(
        &mut self,
        from: Role,
        step: Step,
        msg: u16,
        n: usize,
        width: u32,
    ) -> Result<Vec<u64>, Error<T::Error>> {
        let bytes = self.recv(from, step, msg, bitpack::packed_len(n, width))?;
        Ok(bitpack::unpack(&bytes, n, width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::memory::{network, seeded_keys};

    #[test]
    fn steps_past_2_pow_32_name_fresh_streams() {
        let (ends, _) = network(core::time::Duration::from_secs(1));
        let [k0, ..] = seeded_keys(3);
        let mut p = Party::new(k0, ends.into_iter().next().unwrap());
        let first = p.begin_step();
        p.seq = 1 << 32;
        let wrapped = p.begin_step();
        assert_eq!(wrapped.tag(1).seq, first.tag(1).seq, "wire tags wrap");
        let mut a = p.shared(Role::P1, first, 1);
        let mut b = p.shared(Role::P1, wrapped, 1);
        assert_ne!(
            a.u64(),
            b.u64(),
            "a 32-bit counter would repeat the masks here"
        );
    }
}
