//! Truncation of shares after a fixed-point product (`2f` fractional bits back to `f`).
//!
//! Two ways, chosen per session by [`Truncation`]:
//!
//! - **Local** (SecureML, the truncation SecureNN uses): each party shifts its own share. No
//!   communication; the result is the true quotient or one more, except that with probability
//!   about `|x| / 2^64` the two shares straddle the wrap-around and the result is off by about
//!   `2^(64-f)`. With `f` fractional bits the product carries `2f`, so the risk grows fourfold
//!   with every extra fractional bit.
//! - **Assisted**: P2 deals a mask `r` (from the pair streams, so P2 alone knows it) and shares of
//!   `r >> f` and of the wrap correction; P0 and P1 open `c = x + 2^62 + r` to each other.
//!   Because `x + 2^62` lies in `[0, 2^63)`, the mask wraps exactly when `MSB(r) = 1` and
//!   `MSB(c) = 0`, which both parties can evaluate from the public `c` and the dealt shares:
//!   `floor(x / 2^f) = (c >> f) - (r >> f) + wrap * 2^(64-f) - 2^(62-f) - borrow`, the borrow
//!   from the low bits being the only error (the result is `x / 2^f` rounded down or up, up
//!   with probability equal to the discarded fraction: unbiased). Never fails for
//!   `|x| < 2^62`. One round; `c` travels both ways between P0 and P1 (64 bits each) and P2
//!   sends P1 two corrections (128 bits) per element. `c` is uniform to P0 and P1 (each misses
//!   the other's half of `r`), and P1's corrections are uniform (P0's shares are unknown to it).
//!   The dealt quotients are the step's preprocessed part ([`crate::preprocess`]).

use alloc::vec;
use alloc::vec::Vec;

use super::deal::deal_ring;
use crate::fixed_point::FixedPoint;
use crate::party::{Error, Party};
use crate::role::Role;
use crate::transport::Transport;

/// How products are brought back to `f` fractional bits (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Truncation {
    /// Each party shifts its own share (SecureML): free, fails with probability `~|x| / 2^64`.
    #[default]
    Local,
    /// P0 and P1 open the product under a mask dealt by P2: one round, never fails.
    Assisted,
}

/// `local truncation` or `assisted truncation`.
impl core::fmt::Display for Truncation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Truncation::Local => write!(f, "local truncation"),
            Truncation::Assisted => write!(f, "assisted truncation"),
        }
    }
}

mod msg {
    pub(super) const MASKED: u16 = 1;
    pub(super) const QUOTIENTS: u16 = 2;
}

mod purpose {
    pub(super) const MASK: u16 = 1;
    pub(super) const QUOTIENTS: u16 = 2;
}

/// Shares of `x / 2^f` from shares of `x` (P2 passes zeros and gets zeros).
pub fn truncate<T: Transport>(
    p: &mut Party<T>,
    fp: FixedPoint,
    mode: Truncation,
    shares: &[u64],
) -> Result<Vec<u64>, Error<T::Error>> {
    if shares.is_empty() {
        return Ok(Vec::new());
    }
    match mode {
        Truncation::Local => Ok(match p.role() {
            Role::P2 => shares.to_vec(),
            role => shares
                .iter()
                .map(|&s| fp.truncate_share(role.j(), s))
                .collect(),
        }),
        Truncation::Assisted => assisted(p, fp.frac_bits(), shares),
    }
}

/// The assisted truncation by `f <= 62` bits.
fn assisted<T: Transport>(
    p: &mut Party<T>,
    f: u32,
    shares: &[u64],
) -> Result<Vec<u64>, Error<T::Error>> {
    let n = shares.len();
    let step = p.begin_step();
    // 2^(64-f) in the ring (0 when f = 0).
    let wrap_unit = 1u64.checked_shl(64 - f).unwrap_or(0);
    match p.role().other_holder() {
        None => {
            p.prepare(step, |p| {
                let mut r0 = p.shared(Role::P0, step, purpose::MASK);
                let mut r1 = p.shared(Role::P1, step, purpose::MASK);
                // Shares of `r >> f` where c has its MSB set (no wrap possible), then of
                // `(r >> f) - MSB(r) * 2^(64-f)` where it has not.
                let mut quotients = vec![0u64; 2 * n];
                let (set, clear) = quotients.split_at_mut(n);
                for (s, c) in set.iter_mut().zip(clear) {
                    let r = r0.u64().wrapping_add(r1.u64());
                    *s = r >> f;
                    *c = (r >> f).wrapping_sub((r >> 63) * wrap_unit);
                }
                deal_ring(
                    p,
                    step,
                    msg::QUOTIENTS,
                    purpose::QUOTIENTS,
                    2 * n,
                    Some(&quotients),
                )
            })?;
            Ok(vec![0; n])
        }
        Some(other) => {
            let p0 = p.role() == Role::P0;
            // P0 shifts the value into [0, 2^63) and alone adds the public quotient.
            let offset = if p0 { 1u64 << 62 } else { 0 };
            let mut mask = p.shared(Role::P2, step, purpose::MASK);
            let masked: Vec<u64> = shares
                .iter()
                .map(|&s| s.wrapping_add(mask.u64()).wrapping_add(offset))
                .collect();
            if p.runs_online() {
                p.send_packed(other, step, msg::MASKED, masked.iter().copied(), n, 64)?;
            }
            let dealt = p.prepare(step, |p| {
                deal_ring(p, step, msg::QUOTIENTS, purpose::QUOTIENTS, 2 * n, None)
            })?;
            let Some(quotients) = dealt else {
                return Ok(vec![0; n]);
            };
            let theirs = p.recv_packed(other, step, msg::MASKED, n, 64)?;
            let unshift = if p0 { 1u64 << (62 - f) } else { 0 };
            Ok((0..n)
                .map(|i| {
                    let c = masked[i].wrapping_add(theirs[i]);
                    let q = if c >> 63 == 1 {
                        quotients[i]
                    } else {
                        quotients[n + i]
                    };
                    let public = if p0 { c >> f } else { 0 };
                    public.wrapping_sub(unshift).wrapping_sub(q)
                })
                .collect())
        }
    }
}
