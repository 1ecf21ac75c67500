//! The sign of shared values with keys dealt by P2 (function secret sharing), for fewer
//! online rounds than PrivateCompare ([`super::sign`], issue 23).
//!
//! This is the dealer-assisted comparison of the FSS line of work: Boyle, Gilboa and Ishai's
//! DCF ([`super::dcf`]) used as in Boyle et al., "Function Secret Sharing for Mixed-Mode and
//! Fixed-Point Secure Computation" (Eurocrypt 2021) and AriaNN (Ryffel et al., PoPETs 2022),
//! with P2 as the dealer, so the keys need no two-party generation. On a ring Z_2^m:
//!
//! 1. P2 knows a random `r`; P0 and P1 hold its shares (drawn from the streams each shares
//!    with P2; nothing travels). P2 deals a DCF key pair for `x -> (1 - 2 r_hi) [x < r_lo]`
//!    (`_hi` is bit m-1, `_lo` the rest) and additive shares of `r_hi`: all input-
//!    independent, so [`Party::prepare`] can move them to the offline phase.
//! 2. P0 and P1 open `c = a + r` to each other (round 1). Since `a = c - r`,
//!    `MSB(a) = c_hi XOR r_hi XOR [c_lo < r_lo]`, and `w = r_hi XOR [c_lo < r_lo]` is
//!    `r_hi + (1 - 2 r_hi) [c_lo < r_lo]`: the key's output plus the shares of `r_hi`.
//!    `DReLU(a) = 1 - MSB(a)` is `1 - w` or `w` by the public bit `c_hi`: shares over Z_2^64,
//!    with no message to P2.
//! 3. Multiplying values by their decisions is a Beaver multiplication with a triple P2 deals
//!    (one correction word per value, offline too): P0 and P1 open `v - X` and `d - Y` to
//!    each other (round 2). A ReLU is 2 rounds, a DReLU 1.
//!
//! What each party sees: P0 and P1 see `c`, uniform since `r` is; a DCF key and a share of
//! `r_hi` are pseudorandom to the one who holds it; the Beaver openings are masked by the
//! uniform `X` and `Y`. P2 receives nothing.

use alloc::vec;
use alloc::vec::Vec;

use super::dcf;
use super::deal::deal_ring;
use super::sign::SplitSign;
use crate::party::{Error, Party, Step};
use crate::ring::mask;
use crate::role::Role;
use crate::transport::Transport;

/// Message numbers within a sign step (apart from PrivateCompare's).
mod msg {
    pub(super) const OPEN: u16 = 11;
    pub(super) const KEYS: u16 = 12;
    pub(super) const R_HI: u16 = 13;
    pub(super) const MASKED: u16 = 14;
    pub(super) const TRIPLE: u16 = 15;
}

/// Randomness purposes within a sign step (apart from PrivateCompare's).
mod purpose {
    pub(super) const R: u16 = 11;
    pub(super) const ROOT: u16 = 12;
    pub(super) const R_HI: u16 = 13;
    pub(super) const X: u16 = 14;
    pub(super) const Y: u16 = 15;
    pub(super) const TRIPLE: u16 = 16;
}

/// The DCF root seeds of `n` comparisons, from the stream shared with `other` (P2 and a
/// holder).
fn roots<T: Transport>(p: &Party<T>, other: Role, step: Step, n: usize) -> Vec<u128> {
    let mut prg = p.shared(other, step, purpose::ROOT);
    (0..n).map(|_| dcf::seed(prg.u64(), prg.u64())).collect()
}

/// Words drawn from the stream shared with `other`.
fn words<T: Transport>(p: &Party<T>, other: Role, step: Step, what: u16, n: usize) -> Vec<u64> {
    let mut prg = p.shared(other, step, what);
    (0..n).map(|_| prg.u64()).collect()
}

/// Round 1 (and the offline part): shares over Z_2^64 of the DReLU of each of the `n`
/// values shared over Z_2^m as `a` (empty for P2, which gets zeros). In the offline phase the
/// shares are zeros, so that [`multiply`] runs its own offline part after it.
pub(super) fn split<T: Transport>(
    p: &mut Party<T>,
    step: Step,
    a: &[u64],
    n: usize,
    m: u32,
) -> Result<SplitSign, Error<T::Error>> {
    let ring = mask(m);
    let bits = m - 1;
    let per = dcf::words(bits);
    // The test-only leak `leak-reused-mask` draws every step's opening mask from step 1's.
    #[cfg(feature = "leak-reused-mask")]
    let r_step = Step { seq: 1 };
    #[cfg(not(feature = "leak-reused-mask"))]
    let r_step = step;
    let Some(other) = p.role().other_holder() else {
        let r0 = words(p, Role::P0, r_step, purpose::R, n);
        let r1 = words(p, Role::P1, r_step, purpose::R, n);
        let r: Vec<u64> = r0
            .iter()
            .zip(&r1)
            .map(|(x, y)| x.wrapping_add(*y) & ring)
            .collect();
        p.prepare(step, |p| {
            let low: Vec<u64> = r.iter().map(|v| v & mask(bits)).collect();
            let high: Vec<u64> = r.iter().map(|v| (v >> bits) & 1).collect();
            let beta: Vec<u64> = high.iter().map(|h| 1u64.wrapping_sub(2 * h)).collect();
            let (k0, k1) = (roots(p, Role::P0, step, n), roots(p, Role::P1, step, n));
            let cw = dcf::generate(&low, &beta, bits, [&k0, &k1]);
            for holder in [Role::P0, Role::P1] {
                p.send_packed(holder, step, msg::KEYS, cw.iter().copied(), n * per, 64)?;
            }
            deal_ring(p, step, msg::R_HI, purpose::R_HI, n, Some(&high))
        })?;
        return Ok(SplitSign::Shares(vec![0; n]));
    };
    crate::party::check_len("shares to compare", n, a.len())?;
    let j = p.role().j();
    let r = words(p, Role::P2, r_step, purpose::R, n);
    let c_mine: Vec<u64> = a
        .iter()
        .zip(&r)
        .map(|(v, r)| v.wrapping_add(*r) & ring)
        .collect();
    if p.runs_online() {
        p.send_packed(other, step, msg::OPEN, c_mine.iter().copied(), n, m)?;
    }
    let dealt = p.prepare(step, |p| {
        let mut key = p.recv_packed(Role::P2, step, msg::KEYS, n * per, 64)?;
        key.extend(deal_ring(p, step, msg::R_HI, purpose::R_HI, n, None)?);
        Ok(key)
    })?;
    let Some(mut key) = dealt else {
        return Ok(SplitSign::Shares(vec![0; n]));
    };
    crate::party::check_len("preprocessed comparison keys", n * (per + 1), key.len())?;
    let high_shares = key.split_off(n * per);
    let c_other = p.recv_packed(other, step, msg::OPEN, n, m)?;
    let c: Vec<u64> = c_mine
        .iter()
        .zip(&c_other)
        .map(|(x, y)| x.wrapping_add(*y) & ring)
        .collect();
    let low: Vec<u64> = c.iter().map(|v| v & mask(bits)).collect();
    let below = dcf::evaluate(j as u8, &roots(p, Role::P2, step, n), &key, &low, bits)
        .ok_or(Error::Config("comparison keys of the wrong length"))?;
    let drelu = c
        .iter()
        .zip(below.iter().zip(&high_shares))
        .map(|(c, (b, h))| {
            let w = b.wrapping_add(*h);
            if (c >> bits) & 1 == 1 {
                w
            } else {
                j.wrapping_sub(w)
            }
        })
        .collect();
    Ok(SplitSign::Shares(drelu))
}

/// Round 2: shares of `v[k] * d[decision[k]]` for the DReLU shares `d` of [`split`], by a
/// Beaver multiplication (P2 passes `v` empty and gets zeros).
pub(super) fn multiply<T: Transport>(
    p: &mut Party<T>,
    step: Step,
    d: &[u64],
    v: &[u64],
    decision: &[u32],
) -> Result<Vec<u64>, Error<T::Error>> {
    let (len, n) = (decision.len(), d.len());
    let Some(other) = p.role().other_holder() else {
        let sum = |what, count| {
            let (a, b) = (
                words(p, Role::P0, step, what, count),
                words(p, Role::P1, step, what, count),
            );
            a.iter()
                .zip(&b)
                .map(|(x, y)| x.wrapping_add(*y))
                .collect::<Vec<u64>>()
        };
        let (x, y) = (sum(purpose::X, len), sum(purpose::Y, n));
        let z: Vec<u64> = (0..len)
            .map(|k| x[k].wrapping_mul(y[decision[k] as usize]))
            .collect();
        p.prepare(step, |p| {
            deal_ring(p, step, msg::TRIPLE, purpose::TRIPLE, len, Some(&z))
        })?;
        return Ok(vec![0; len]);
    };
    crate::party::check_len("values to multiply by the sign", len, v.len())?;
    let j = p.role().j();
    let x = words(p, Role::P2, step, purpose::X, len);
    let y = words(p, Role::P2, step, purpose::Y, n);
    let Some(z) = p.prepare(step, |p| {
        deal_ring(p, step, msg::TRIPLE, purpose::TRIPLE, len, None)
    })?
    else {
        return Ok(vec![0; len]);
    };
    let opened = |mine: &[u64], mask: &[u64]| -> Vec<u64> {
        mine.iter()
            .zip(mask)
            .map(|(a, b)| a.wrapping_sub(*b))
            .collect()
    };
    let mut masked = opened(v, &x);
    masked.extend(opened(d, &y));
    p.send_packed(
        other,
        step,
        msg::MASKED,
        masked.iter().copied(),
        len + n,
        64,
    )?;
    let theirs = p.recv_packed(other, step, msg::MASKED, len + n, 64)?;
    let open: Vec<u64> = masked
        .iter()
        .zip(&theirs)
        .map(|(a, b)| a.wrapping_add(*b))
        .collect();
    let (f, e) = open.split_at(len);
    Ok((0..len)
        .map(|k| {
            let i = decision[k] as usize;
            (j.wrapping_mul(f[k]).wrapping_mul(e[i]))
                .wrapping_add(f[k].wrapping_mul(y[i]))
                .wrapping_add(x[k].wrapping_mul(e[i]))
                .wrapping_add(z[k])
        })
        .collect())
}
