//! The frame header of Patchwork messages on a byte stream, parsed then checked (in the style
//! of smoltcp's `new_checked`): no accessor can panic on bytes from a peer.
//!
//! Layout (little-endian), 20 bytes:
//! `magic "PW" | version u8 | sender u8 | seq u32 | msg u16 | step depth u16 | depth u32 | len u32`

use super::{Tag, TransportError};
use crate::role::Role;

/// Size of the header in bytes.
pub const HEADER_LEN: usize = 20;
const MAGIC: [u8; 2] = *b"PW";
const VERSION: u8 = 2;

/// A decoded, checked frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The party that sent the frame.
    pub sender: Role,
    /// The message's tag.
    pub tag: Tag,
    /// Depth in the whole run and within the step (round counting, see [`super::RoundClock`]).
    pub stamp: super::Stamp,
    /// Payload bytes that follow the header.
    pub len: u32,
}

impl Header {
    /// Writes the header.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..2].copy_from_slice(&MAGIC);
        h[2] = VERSION;
        h[3] = self.sender.index() as u8;
        h[4..8].copy_from_slice(&self.tag.seq.to_le_bytes());
        h[8..10].copy_from_slice(&self.tag.msg.to_le_bytes());
        h[10..12].copy_from_slice(&self.stamp.step_depth.to_le_bytes());
        h[12..16].copy_from_slice(&self.stamp.depth.to_le_bytes());
        h[16..20].copy_from_slice(&self.len.to_le_bytes());
        h
    }

    /// Parses and checks a header read from the stream of `peer`.
    pub fn decode<E>(peer: Role, h: &[u8; HEADER_LEN]) -> Result<Header, TransportError<E>> {
        let le32 = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        if h[..2] != MAGIC {
            return Err(TransportError::BadFrame {
                peer,
                reason: "bad magic",
            });
        }
        if h[2] != VERSION {
            return Err(TransportError::BadFrame {
                peer,
                reason: "unknown version",
            });
        }
        let sender = match Role::from_index(h[3] as usize) {
            Some(r) if r == peer => r,
            _ => return Err(TransportError::WrongSender { peer, found: h[3] }),
        };
        let tag = Tag {
            seq: le32(4),
            msg: u16::from_le_bytes([h[8], h[9]]),
        };
        Ok(Header {
            sender,
            tag,
            stamp: super::Stamp {
                depth: le32(12),
                step_depth: u16::from_le_bytes([h[10], h[11]]),
            },
            len: le32(16),
        })
    }

    /// Checks that this frame is the one the receiver expects.
    pub fn expect<E>(&self, tag: Tag, len: usize) -> Result<(), TransportError<E>> {
        if self.tag != tag {
            return Err(TransportError::WrongTag {
                peer: self.sender,
                expected: tag,
                found: self.tag,
            });
        }
        if self.len as usize != len {
            return Err(TransportError::WrongLength {
                peer: self.sender,
                tag,
                expected: len,
                found: self.len as usize,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn roundtrip() {
        let h = Header {
            sender: Role::P2,
            tag: Tag { seq: 9, msg: 4 },
            stamp: crate::transport::Stamp {
                depth: 3,
                step_depth: 2,
            },
            len: 77,
        };
        assert_eq!(Header::decode::<()>(Role::P2, &h.encode()), Ok(h));
        assert_eq!(
            Header::decode::<()>(Role::P1, &h.encode()),
            Err(TransportError::WrongSender {
                peer: Role::P1,
                found: 2
            })
        );
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::array::uniform20(any::<u8>())) {
            let _ = Header::decode::<()>(Role::P0, &bytes);
        }
    }
}
