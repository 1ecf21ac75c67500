//! Session keys for this demo: P1 and P2 each send P0 a fresh 16-byte key at the start of the
//! session (`b"PWKY"`, their role byte, the key), giving k01 and k02. P0's own key mixes the
//! two: `AES-CTR(k01) XOR AES-CTR(k02)` on a fixed block, so neither P1 nor P2 alone knows
//! it. The UART link is neither authenticated nor encrypted (see the README).

use embedded_io::Read;
use patchwork_core::prg::{Key, KeySet, Prg};
use patchwork_core::role::Role;

use crate::uart::{Uart, UartError};

/// The first bytes of a key message.
pub const MAGIC: [u8; 4] = *b"PWKY";

/// Why a peer's key message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelloError {
    /// The line failed (timed out, overran) or ended.
    Line {
        peer: Role,
        error: Option<UartError>,
    },
    /// The message did not start with [`MAGIC`].
    BadMagic { peer: Role },
    /// The message came from another role than the one on this UART.
    WrongRole { peer: Role, found: u8 },
}

impl core::fmt::Display for HelloError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HelloError::Line {
                peer,
                error: Some(e),
            } => write!(f, "key from {peer}: {e}"),
            HelloError::Line { peer, error: None } => write!(f, "key from {peer}: line ended"),
            HelloError::BadMagic { peer } => write!(f, "key from {peer}: not a key message"),
            HelloError::WrongRole { peer, found } => {
                write!(f, "key from {peer}: message names party {found}")
            }
        }
    }
}

/// Reads `peer`'s key message from its UART.
pub fn receive_key(uart: &mut Uart, peer: Role) -> Result<Key, HelloError> {
    let mut msg = [0u8; 21];
    uart.read_exact(&mut msg).map_err(|e| HelloError::Line {
        peer,
        error: match e {
            embedded_io::ReadExactError::Other(e) => Some(e),
            embedded_io::ReadExactError::UnexpectedEof => None,
        },
    })?;
    if msg[..4] != MAGIC {
        return Err(HelloError::BadMagic { peer });
    }
    if msg[4] as usize != peer.index() {
        return Err(HelloError::WrongRole {
            peer,
            found: msg[4],
        });
    }
    let mut key = [0u8; 16];
    key.copy_from_slice(&msg[5..]);
    Ok(key)
}

/// P0's key set from the keys P1 and P2 sent.
pub fn p0_keys(k01: Key, k02: Key) -> KeySet {
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    Prg::new(&k01, u64::MAX, 0x7ffe).fill_bytes(&mut a);
    Prg::new(&k02, u64::MAX, 0x7ffe).fill_bytes(&mut b);
    let own: Key = core::array::from_fn(|i| a[i] ^ b[i]);
    KeySet::new(Role::P0, own, [k01, k02])
}
