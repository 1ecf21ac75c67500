//! The protocol steps, each written once with the party role as a value.
//!
//! Calling convention: every party calls the same function with the same public sizes.
//! P0 and P1 pass their shares; P2 passes placeholders of the right length (its share is zero)
//! and gets zeros back. Every step begins a new step number ([`crate::party::Party::begin_step`]).

pub mod bilinear;
pub mod brelu;
pub mod compare;
pub mod dcf;
pub mod deal;
pub mod drelu;
pub mod fss_sign;
pub mod maxpool;
pub mod product;
pub mod securenn;
pub mod select;
pub mod sign;
pub mod truncate;
