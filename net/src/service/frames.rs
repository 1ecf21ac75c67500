//! The two set-up frames of a service session, sent after the hellos: `Open` (P0 to P1 and
//! P2, then P1 to P2) names the session, and `Admit` (P2 to P1 and P0, P1 to P0) answers it.

use patchwork_core::role::Role;
use patchwork_core::transport::{Tag, TransportError};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::tcp::wire::{read_expected, write_frame};
use crate::tcp::{Fingerprint, NetError, Refusal};

/// The tag of the open frame.
const OPEN: Tag = Tag {
    seq: u32::MAX,
    msg: u16::MAX - 1,
};

/// The tag of the admit frame.
const ADMIT: Tag = Tag {
    seq: u32::MAX,
    msg: u16::MAX - 2,
};

/// Random session id chosen by P0.
pub(super) type SessionId = [u8; 16];

const OPEN_LEN: usize = 16 + 4 + 4 + 1 + 32;

/// What a session is: its id, how many inferences P0 will run, how many images each one
/// takes and whether they are preprocessed, and (from P1 to P2) the fingerprint of the client P1 authenticated, so P2 can check
/// it pairs the same client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Open {
    pub id: SessionId,
    pub inferences: u32,
    /// Images per inference (the session's batch).
    pub batch: u32,
    /// Whether every inference's input-independent part runs first (`--preprocess`).
    pub preprocess: bool,
    /// Zeros from P0; the client's certificate fingerprint from P1.
    pub client: Fingerprint,
}

impl Open {
    fn encode(&self) -> [u8; OPEN_LEN] {
        let mut out = [0u8; OPEN_LEN];
        out[..16].copy_from_slice(&self.id);
        out[16..20].copy_from_slice(&self.inferences.to_le_bytes());
        out[20..24].copy_from_slice(&self.batch.to_le_bytes());
        out[24] = self.preprocess.into();
        out[25..].copy_from_slice(&self.client);
        out
    }

    /// `None` for a short frame or a preprocessing flag other than 0 or 1.
    fn decode(bytes: &[u8]) -> Option<Open> {
        Some(Open {
            id: bytes.get(..16)?.try_into().ok()?,
            inferences: u32::from_le_bytes(bytes.get(16..20)?.try_into().ok()?),
            batch: u32::from_le_bytes(bytes.get(20..24)?.try_into().ok()?),
            preprocess: match bytes.get(24)? {
                0 => false,
                1 => true,
                _ => return None,
            },
            client: bytes.get(25..OPEN_LEN)?.try_into().ok()?,
        })
    }
}

/// Sends `open` from `role` to `peer`.
pub(super) async fn send_open<S: AsyncWrite + Unpin>(
    s: &mut S,
    role: Role,
    peer: Role,
    open: &Open,
) -> Result<(), TransportError<NetError>> {
    write_frame(s, role, peer, OPEN, &open.encode()).await
}

/// Reads the open frame of `peer`.
pub(super) async fn read_open<S: AsyncRead + Unpin>(
    s: &mut S,
    peer: Role,
) -> Result<Open, TransportError<NetError>> {
    let bytes = read_expected(s, peer, OPEN, OPEN_LEN).await?;
    Open::decode(&bytes).ok_or(TransportError::BadFrame {
        peer,
        reason: "malformed open frame",
    })
}

fn code(answer: Result<(), Refusal>) -> u8 {
    match answer {
        Ok(()) => 0,
        Err(Refusal::Busy) => 1,
        Err(Refusal::Unpaired) => 2,
        Err(Refusal::Mismatch) => 3,
        Err(Refusal::Duplicate) => 4,
        Err(Refusal::TooManyInferences) => 5,
        Err(Refusal::ClientLimit) => 6,
        Err(Refusal::BatchSize) => 7,
        Err(Refusal::Preprocessing) => 8,
    }
}

fn answer(code: u8) -> Option<Result<(), Refusal>> {
    Some(match code {
        0 => Ok(()),
        1 => Err(Refusal::Busy),
        2 => Err(Refusal::Unpaired),
        3 => Err(Refusal::Mismatch),
        4 => Err(Refusal::Duplicate),
        5 => Err(Refusal::TooManyInferences),
        6 => Err(Refusal::ClientLimit),
        7 => Err(Refusal::BatchSize),
        8 => Err(Refusal::Preprocessing),
        _ => return None,
    })
}

/// Sends the admission answer from `role` to `peer`.
pub(super) async fn send_admit<S: AsyncWrite + Unpin>(
    s: &mut S,
    role: Role,
    peer: Role,
    admitted: Result<(), Refusal>,
) -> Result<(), TransportError<NetError>> {
    write_frame(s, role, peer, ADMIT, &[code(admitted)]).await
}

/// Reads `peer`'s admission answer: `Ok(Err(why))` when it refused the session.
pub(super) async fn read_admit<S: AsyncRead + Unpin>(
    s: &mut S,
    peer: Role,
) -> Result<Result<(), Refusal>, TransportError<NetError>> {
    let bytes = read_expected(s, peer, ADMIT, 1).await?;
    bytes
        .first()
        .and_then(|c| answer(*c))
        .ok_or(TransportError::BadFrame {
            peer,
            reason: "unknown admission code",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_roundtrip_and_malformed_frames() {
        for preprocess in [false, true] {
            let open = Open {
                id: [7; 16],
                inferences: 123_456,
                batch: 77,
                preprocess,
                client: [9; 32],
            };
            let mut bytes = open.encode();
            assert_eq!(Open::decode(&bytes), Some(open));
            assert_eq!(Open::decode(&bytes[..OPEN_LEN - 1]), None);
            bytes[24] = 2;
            assert_eq!(Open::decode(&bytes), None, "a flag other than 0 or 1");
        }
    }

    #[test]
    fn admission_codes_roundtrip() {
        for a in [
            Ok(()),
            Err(Refusal::Busy),
            Err(Refusal::Unpaired),
            Err(Refusal::Mismatch),
            Err(Refusal::Duplicate),
            Err(Refusal::TooManyInferences),
            Err(Refusal::ClientLimit),
            Err(Refusal::BatchSize),
            Err(Refusal::Preprocessing),
        ] {
            assert_eq!(answer(code(a)), Some(a));
        }
        assert_eq!(answer(9), None);
    }
}
