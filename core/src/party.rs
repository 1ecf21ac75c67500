//! A party's side of a session: its role, its transport, its keys and the step counter that
//! keeps the three parties on the same schedule.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::bitpack;
use crate::preprocess::{Material, Phase, Prepared};
use crate::prg::{KeyRef, KeySet, Prg};
use crate::protocol::sign::SignProtocol;
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
    /// The highest step number taken so far (an online walk goes back to its offline walk's
    /// numbers, then on from here).
    high: u64,
    phase: Phase,
    /// Offline: the pieces kept so far; online: the pieces left.
    prepared: Prepared,
    /// Inside the offline part of a step (the only place the offline phase may send).
    in_piece: bool,
    /// How the sign steps decide ([`crate::protocol::sign`]).
    sign: SignProtocol,
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
            high: 0,
            phase: Phase::Joint,
            prepared: Prepared::default(),
            in_piece: false,
            sign: SignProtocol::default(),
        }
    }

    /// How the sign steps (DReLU, ReLU, Block-ReLU, MaxPool) decide from now on; every party
    /// must choose the same (the program says which, [`crate::program`]).
    pub fn set_sign_protocol(&mut self, sign: SignProtocol) {
        self.sign = sign;
    }

    /// See [`Party::set_sign_protocol`].
    pub fn sign_protocol(&self) -> SignProtocol {
        self.sign
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
            high: self.high,
            phase: self.phase,
            prepared: self.prepared,
            in_piece: self.in_piece,
            sign: self.sign,
        }
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Starts the next step of the schedule.
    pub fn begin_step(&mut self) -> Step {
        self.seq += 1;
        self.high = self.high.max(self.seq);
        Step { seq: self.seq }
    }

    /// The phase this party is in ([`crate::preprocess`]).
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the input-dependent parts of steps run (joint and online phases).
    pub fn runs_online(&self) -> bool {
        self.phase != Phase::Offline
    }

    /// Starts the offline walk of one inference: steps run only their [`Party::prepare`]
    /// parts, which are kept. Every message of a walk is received within it, so the round
    /// clock restarts here and at [`Party::begin_online`]: each phase counts its own rounds.
    pub fn begin_offline(&mut self) -> Result<(), Error<T::Error>> {
        self.expect_joint()?;
        self.phase = Phase::Offline;
        self.transport.restart_rounds();
        self.prepared = Prepared {
            first: self.seq,
            ..Prepared::default()
        };
        Ok(())
    }

    /// Ends the offline walk and returns what it kept.
    pub fn end_offline(&mut self) -> Result<Prepared, Error<T::Error>> {
        if self.phase != Phase::Offline {
            return Err(Error::Config("the offline phase ended without starting"));
        }
        self.phase = Phase::Joint;
        let mut prepared = core::mem::take(&mut self.prepared);
        prepared.end = self.seq;
        Ok(prepared)
    }

    /// Starts the online walk of the inference `prepared` was kept for: the step numbers go
    /// back to those of its offline walk, so the same streams are drawn.
    pub fn begin_online(&mut self, prepared: Prepared) -> Result<(), Error<T::Error>> {
        self.expect_joint()?;
        self.phase = Phase::Online;
        self.transport.restart_rounds();
        self.seq = prepared.first;
        self.prepared = prepared;
        Ok(())
    }

    /// Ends the online walk: every kept piece must have been used, at the step numbers of the
    /// offline walk. The step counter goes on after the highest number taken.
    pub fn end_online(&mut self) -> Result<(), Error<T::Error>> {
        if self.phase != Phase::Online {
            return Err(Error::Config("the online phase ended without starting"));
        }
        self.phase = Phase::Joint;
        let rest = core::mem::take(&mut self.prepared);
        let fits = rest.pieces.is_empty() && self.seq == rest.end;
        self.seq = self.high;
        if fits {
            Ok(())
        } else {
            Err(Error::Config(
                "the online walk took other steps than its offline walk",
            ))
        }
    }

    fn expect_joint(&self) -> Result<(), Error<T::Error>> {
        match self.phase {
            Phase::Joint => Ok(()),
            _ => Err(Error::Config("a phase started inside another")),
        }
    }

    /// The input-independent part of `step` ([`crate::preprocess`]): run in place (joint
    /// phase, `Some`), run and kept (offline, `None`: the step stops there and returns
    /// zeros), or taken from what was kept (online, `Some`).
    pub fn prepare<M: Material>(
        &mut self,
        step: Step,
        part: impl FnOnce(&mut Self) -> Result<M, Error<T::Error>>,
    ) -> Result<Option<M>, Error<T::Error>> {
        match self.phase {
            Phase::Joint => part(self).map(Some),
            Phase::Offline => {
                self.in_piece = true;
                let kept = part(self);
                self.in_piece = false;
                self.prepared
                    .pieces
                    .push_back((step.seq, kept?.into_piece()));
                Ok(None)
            }
            Phase::Online => match self.prepared.pieces.pop_front() {
                Some((seq, piece)) if seq == step.seq => M::from_piece(piece)
                    .map(Some)
                    .ok_or(Error::Config("a preprocessed piece of another kind")),
                _ => Err(Error::Config(
                    "no preprocessed piece for this step (the online walk left the offline one)",
                )),
            },
        }
    }

    /// The offline phase may only move what [`Party::prepare`] deals.
    fn check_offline_message(&self) -> Result<(), Error<T::Error>> {
        if self.phase == Phase::Offline && !self.in_piece {
            Err(Error::Config(
                "a message that depends on the input in the offline phase",
            ))
        } else {
            Ok(())
        }
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
        self.check_offline_message()?;
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
        self.check_offline_message()?;
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
