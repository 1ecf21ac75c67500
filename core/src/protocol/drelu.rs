//! DReLU and ReLU (SecureNN Alg. 7 and 8), exact or approximate (seed paper, "Approximate
//! DReLU": the comparison ignores the `k_msb` most and `k_lsb` least significant bits).

use alloc::vec;
use alloc::vec::Vec;

use super::sign;
use crate::party::{Error, Party};
use crate::ring::mask;
use crate::role::Role;
use crate::transport::Transport;

/// How DReLU compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// The full 64-bit comparison.
    Exact,
    /// Each party drops the `k_lsb` low bits of its share (a local shift) and the comparison
    /// runs on the next `64 - k_msb - k_lsb` bits. The seed paper uses (43, 5): l* = 16.
    Approx {
        /// High bits ignored.
        k_msb: u32,
        /// Low bits ignored.
        k_lsb: u32,
    },
}

/// `exact DReLU` or `approximate DReLU 43,5 (l* = 16)`: the setting as people read it (the
/// command line writes it `exact` or `43,5`).
impl core::fmt::Display for Comparison {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Comparison::Exact => write!(f, "exact DReLU"),
            Comparison::Approx { k_msb, k_lsb } => {
                write!(
                    f,
                    "approximate DReLU {k_msb},{k_lsb} (l* = {})",
                    self.width()
                )
            }
        }
    }
}

impl Comparison {
    /// The seed paper's setting: ignore 43 high and 5 low bits.
    pub const PAPER: Comparison = Comparison::Approx {
        k_msb: 43,
        k_lsb: 5,
    };

    /// Bits the comparison runs on (`l*`; 64 when exact).
    pub fn width(self) -> u32 {
        match self {
            Comparison::Exact => 64,
            Comparison::Approx { k_msb, k_lsb } => 64u32.saturating_sub(k_msb + k_lsb),
        }
    }

    /// Checks the setting: at least 2 bits must remain.
    pub fn check<E>(self) -> Result<(), Error<E>> {
        match self {
            Comparison::Approx { k_msb, k_lsb } if k_msb.saturating_add(k_lsb) > 62 => {
                Err(Error::Config("approximate DReLU needs k_msb + k_lsb <= 62"))
            }
            _ => Ok(()),
        }
    }

    /// The local step of approximate DReLU on one share: drop `k_lsb` low bits, keep `l*` bits.
    /// Shares of `a` become shares over Z_2^l* of `(a >> k_lsb) - carry`, carry in {0, 1}.
    #[inline]
    pub fn reduce_share(self, share: u64) -> u64 {
        match self {
            Comparison::Exact => share,
            Comparison::Approx { k_lsb, .. } => (share >> k_lsb) & mask(self.width()),
        }
    }

    /// The comparison for sums of Block-ReLU patches of up to `area` pixels: `ceil(log2(area))`
    /// more high bits, so that the window holds `area` times what a pixel can take while the
    /// resolution stays the pixel's. (Without it, the patch sums of the paper's (43, 5) setting
    /// wrap on real activations; the sign of the sum is the sign of the mean.) The comparison
    /// grows by as many bits, which the cost model counts.
    pub fn for_patch(self, area: usize) -> Comparison {
        match self {
            Comparison::Exact => Comparison::Exact,
            Comparison::Approx { k_msb, k_lsb } => {
                let shift = usize::BITS - area.max(1).saturating_sub(1).leading_zeros();
                Comparison::Approx {
                    k_msb: k_msb.saturating_sub(shift),
                    k_lsb,
                }
            }
        }
    }

    /// What the protocol outputs for a value shared as `(s0, s1)`: the sign bit of
    /// `reduce(s0) + reduce(s1)` on the `l*`-bit ring. For exact comparison this is `[a >= 0]`;
    /// for approximate DReLU it can differ from it (see [`Comparison::guaranteed`]). Used to
    /// measure error rates without running the protocol; the tests check the protocol agrees.
    pub fn outcome(self, s0: u64, s1: u64) -> bool {
        let m = self.width();
        let sum = self.reduce_share(s0).wrapping_add(self.reduce_share(s1)) & mask(m);
        (sum >> (m - 1)) & 1 == 0
    }

    /// The outcome for `x` when it does not depend on how `x` is shared, else `None`.
    ///
    /// Approximate DReLU computes the sign of `(x >> k_lsb) - carry` on `l*` bits, with a carry
    /// in {0, 1} that depends on the shares. It is therefore exact for
    /// `2^k_lsb <= x < 2^(l* - 1 + k_lsb)` and `-(2^(l*-1) - 1) 2^k_lsb <= x < 0`; values in
    /// `[0, 2^k_lsb)` may read as negative, and larger magnitudes wrap.
    pub fn guaranteed(self, x: i64) -> Option<bool> {
        let (Comparison::Approx { k_lsb, .. }, m) = (self, self.width()) else {
            return Some(x >= 0);
        };
        let q = (x >> k_lsb) as i128;
        let half = 1i128 << (m - 1);
        // Both q - 0 and q - 1 must lie in [-half, half) and have the same sign.
        if q > 0 && q < half {
            Some(true)
        } else if q < 0 && q > -half {
            Some(false)
        } else {
            None
        }
    }
}

/// Shares over Z_2^64 of `DReLU(a) = [a >= 0]` (a read as two's complement) for the `n` shared
/// values `a` (P2 passes `n` zeros and gets zeros). 3 rounds.
pub fn drelu<T: Transport>(
    p: &mut Party<T>,
    a: &[u64],
    cmp: Comparison,
) -> Result<Vec<u64>, Error<T::Error>> {
    cmp.check()?;
    if a.is_empty() {
        return Ok(Vec::new());
    }
    let step = p.begin_step();
    let Some(split) = split(p, step, a, cmp)? else {
        return Ok(vec![0; a.len()]);
    };
    sign::bits_to_shares(p, step, &split)
}

/// Shares of `ReLU(a) = a * DReLU(a)`. 3 rounds.
pub fn relu<T: Transport>(
    p: &mut Party<T>,
    a: &[u64],
    cmp: Comparison,
) -> Result<Vec<u64>, Error<T::Error>> {
    cmp.check()?;
    if a.is_empty() {
        return Ok(Vec::new());
    }
    let step = p.begin_step();
    let Some(split) = split(p, step, a, cmp)? else {
        return Ok(vec![0; a.len()]);
    };
    let identity: Vec<u32> = (0..a.len() as u32).collect();
    sign::multiply(p, step, &split, held(p.role(), a), &identity)
}

/// The comparison stage on the reduced shares (`None` in the offline phase).
pub(crate) fn split<T: Transport>(
    p: &mut Party<T>,
    step: crate::party::Step,
    a: &[u64],
    cmp: Comparison,
) -> Result<Option<sign::SplitSign>, Error<T::Error>> {
    let reduced: Vec<u64> = if p.role() == Role::P2 {
        vec![]
    } else {
        a.iter().map(|&s| cmp.reduce_share(s)).collect()
    };
    sign::split(p, step, &reduced, a.len(), cmp.width())
}

/// The shares a party holds: P2 holds none.
pub(crate) fn held(role: Role, a: &[u64]) -> &[u64] {
    if role == Role::P2 {
        &[]
    } else {
        a
    }
}
