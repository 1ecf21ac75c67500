//! Preprocessing: the offline/online split of an inference (issue 23).
//!
//! Part of what the helper P2 deals does not depend on P0's input: the triples of the
//! products with P1's weights (`C = op(A, B)`, and P0's `op(A, F)` beside it), the quotient
//! shares of the assisted truncation and the bit shares of each comparison's mask (the `x` of
//! PrivateCompare, SecureNN Alg. 3). Each step wraps that part in [`Party::prepare`]:
//!
//! - in the **joint** phase it runs in place (the default: one pass does everything);
//! - in the **offline** phase (a walk of the whole inference before the input exists, with
//!   zeros for values) it runs, its result is kept as a [`Piece`], and the step stops there;
//! - in the **online** phase the kept piece is taken instead, so only what depends on the
//!   input travels: P2 no longer takes part in products or truncations at all.
//!
//! An inference's online walk reuses the step numbers of its offline walk, so both draw the
//! same randomness streams and a preprocessed inference gives bit-identical shares to a joint
//! one. All offline traffic is P2's (correction shares to P1 and, with the FSS sign protocol,
//! comparison keys to P0 and P1), none of it waits on another message: the offline phase of
//! any number of inferences is one round.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Which part of each step a party runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    /// Everything, in place.
    #[default]
    Joint,
    /// Only the input-independent parts, kept for later.
    Offline,
    /// Only the input-dependent parts, with the kept ones.
    Online,
}

/// What one step kept from its offline part: this party's share of the dealt values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Ring words (products, truncations).
    Words(Vec<u64>),
    /// Z_p values (comparison mask bits).
    Zp(Vec<u8>),
}

impl Piece {
    /// Bytes it takes in memory.
    pub fn bytes(&self) -> usize {
        match self {
            Piece::Words(w) => 8 * w.len(),
            Piece::Zp(z) => z.len(),
        }
    }
}

/// A step's offline result that can be kept as a [`Piece`].
pub trait Material: Sized {
    /// Wraps it.
    fn into_piece(self) -> Piece;
    /// Unwraps it; `None` when the piece is of another kind (a schedule mismatch).
    fn from_piece(piece: Piece) -> Option<Self>;
}

impl Material for Vec<u64> {
    fn into_piece(self) -> Piece {
        Piece::Words(self)
    }
    fn from_piece(piece: Piece) -> Option<Self> {
        match piece {
            Piece::Words(w) => Some(w),
            Piece::Zp(_) => None,
        }
    }
}

impl Material for Vec<u8> {
    fn into_piece(self) -> Piece {
        Piece::Zp(self)
    }
    fn from_piece(piece: Piece) -> Option<Self> {
        match piece {
            Piece::Zp(z) => Some(z),
            Piece::Words(_) => None,
        }
    }
}

/// One inference's offline material: the step numbers its walk took and each step's piece.
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    /// The step counter before the walk's first step.
    pub(crate) first: u64,
    /// The step counter after its last step.
    pub(crate) end: u64,
    /// `(step number, piece)` in schedule order.
    pub(crate) pieces: VecDeque<(u64, Piece)>,
}

impl Prepared {
    /// Bytes this party keeps for the inference.
    pub fn bytes(&self) -> usize {
        self.pieces.iter().map(|(_, p)| p.bytes()).sum()
    }
}
