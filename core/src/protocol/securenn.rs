//! SecureNN's own DReLU path, kept as the baseline the faster [`super::drelu`] is measured
//! against: ShareConvert (Alg. 5), ComputeMSB (Alg. 4) and DReLU = 1 - MSB (Alg. 7).
//!
//! It inherits SecureNN's precondition `a != L - 1`: the raw value -1 has no image in Z_{L-1}
//! (ShareConvert maps it to 0), so this DReLU(-1) comes out 1. [`super::drelu::drelu`] has no
//! such gap.

use alloc::vec;
use alloc::vec::Vec;

use super::bilinear::Elementwise;
use super::compare;
use super::deal::{deal_odd, deal_ring, deal_zp};
use super::product::beaver;
use crate::party::{Error, Party, Step};
use crate::ring::{odd_add, odd_reduce, odd_sub};
use crate::role::Role;
use crate::transport::Transport;

mod msg {
    pub(super) const MASKED: u16 = 1;
    pub(super) const X_BITS: u16 = 2;
    pub(super) const DELTA: u16 = 3;
    pub(super) const COMPARE: u16 = 4;
    pub(super) const ETA: u16 = 5;
    pub(super) const OPEN: u16 = 6;
    pub(super) const X_LSB: u16 = 7;
    pub(super) const BETA: u16 = 8;
}

mod purpose {
    pub(super) const COMMON: u16 = 1;
    pub(super) const X_BITS: u16 = 2;
    pub(super) const DELTA: u16 = 3;
    pub(super) const ETA: u16 = 4;
    pub(super) const X: u16 = 5;
    pub(super) const X_LSB: u16 = 6;
    pub(super) const BETA: u16 = 7;
    pub(super) const COMPARE: u16 = 8;
}

/// Bits compared: values of Z_L and Z_{L-1} both take 64.
const BITS: usize = 64;

/// `b XOR s` for a bit `b` both holders know and shares `s_j` of a bit, over a ring with the
/// given subtraction: `s_j` when `b = 0`, `j - s_j` when `b = 1`.
fn xor_public(b: u8, j: u64, s: u64, minus: fn(u64, u64) -> u64) -> u64 {
    if b == 1 {
        minus(j, s)
    } else {
        s
    }
}

/// The PrivateCompare round (Alg. 3) on 64-bit values: holders send their masked lists and get
/// the `beta`s they used; P2 gets `beta XOR (x > r)` per value.
fn private_compare<T: Transport>(
    p: &mut Party<T>,
    step: Step,
    x_bits: &[u8],
    r: &[u64],
    n: usize,
) -> Result<Vec<u8>, Error<T::Error>> {
    let Some(other) = p.role().other_holder() else {
        let m0 = p.recv_zp(Role::P0, step, msg::COMPARE, n * BITS)?;
        let m1 = p.recv_zp(Role::P1, step, msg::COMPARE, n * BITS)?;
        return Ok(compare::helper_results(&m0, &m1, BITS));
    };
    let mut common = p.shared(other, step, purpose::COMPARE);
    let (out, betas) =
        compare::holder_messages(p.role().j() as u8, x_bits, &r[..n], BITS, &mut common);
    p.send_zp(Role::P2, step, msg::COMPARE, &out)?;
    Ok(betas)
}

/// ShareConvert (SecureNN Alg. 5): shares over Z_L of `a != L - 1` to shares over Z_{L-1}.
/// 4 rounds.
///
/// With `a = a_0 + a_1 - theta L`, the result is `a_j - theta_j` mod L - 1. P0 and P1 hide
/// their shares with a common `r` (shares `r_j`, `alpha = wrap(r_0, r_1)`); P2 opens
/// `x = a + r`, deals the bits of `x` and `delta = wrap(x_0, x_1)`, and learns through
/// PrivateCompare `eta' = beta XOR (x > r - 1)`, so `eta = wrap(a, r) = [x < r] = eta' XOR
/// (1 XOR beta)`. Then `theta = beta_0 + beta_1 + delta - alpha - eta` with
/// `beta_j = wrap(a_j, r_j)`.
pub fn share_convert<T: Transport>(
    p: &mut Party<T>,
    a: &[u64],
) -> Result<Vec<u64>, Error<T::Error>> {
    let n = a.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let step = p.begin_step();
    let Some(other) = p.role().other_holder() else {
        let y0 = p.recv_packed(Role::P0, step, msg::MASKED, n, 64)?;
        let y1 = p.recv_packed(Role::P1, step, msg::MASKED, n, 64)?;
        let (x, delta): (Vec<u64>, Vec<u64>) = y0
            .iter()
            .zip(&y1)
            .map(|(a, b)| a.overflowing_add(*b))
            .map(|(s, w)| (s, w as u64))
            .unzip();
        deal_zp(
            p,
            step,
            msg::X_BITS,
            purpose::X_BITS,
            n * BITS,
            Some(&compare::bit_decomposition(&x, BITS)),
        )?;
        deal_odd(p, step, msg::DELTA, purpose::DELTA, n, Some(&delta))?;
        let eta_prime: Vec<u64> = private_compare(p, step, &[], &[], n)?
            .into_iter()
            .map(u64::from)
            .collect();
        deal_odd(p, step, msg::ETA, purpose::ETA, n, Some(&eta_prime))?;
        return Ok(vec![0; n]);
    };
    let j = p.role().j();
    let mut common = p.shared(other, step, purpose::COMMON);
    let (mut r_minus_1, mut masked, mut theta) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for &aj in a {
        // r = 0 (probability 2^-64) would make r - 1 wrap; 1 is used instead.
        let r = common.u64().max(1);
        let r0 = common.u64();
        let r1 = r.wrapping_sub(r0);
        let alpha = r0.overflowing_add(r1).1 as u64;
        let (m, beta_j) = aj.overflowing_add(if j == 0 { r0 } else { r1 });
        r_minus_1.push(r - 1);
        masked.push(m);
        // theta_j so far: beta_j - j * alpha (alpha counted once, by P1).
        theta.push(odd_sub(beta_j as u64, j * alpha));
    }
    p.send_packed(Role::P2, step, msg::MASKED, masked, n, 64)?;
    let x_bits = deal_zp(p, step, msg::X_BITS, purpose::X_BITS, n * BITS, None)?;
    let delta = deal_odd(p, step, msg::DELTA, purpose::DELTA, n, None)?;
    let betas = private_compare(p, step, &x_bits, &r_minus_1, n)?;
    let eta_prime = deal_odd(p, step, msg::ETA, purpose::ETA, n, None)?;
    Ok((0..n)
        .map(|e| {
            let eta = xor_public(1 ^ betas[e], j, eta_prime[e], odd_sub);
            let theta = odd_sub(odd_add(theta[e], delta[e]), eta);
            odd_sub(odd_reduce(a[e]), theta)
        })
        .collect())
}

/// ComputeMSB (SecureNN Alg. 4): shares over Z_L of MSB(a) for shares over Z_{L-1} of `a`.
/// 4 rounds.
///
/// `MSB(a) = LSB(y)` for `y = 2a` on the odd ring. P0 and P1 open `r = y + x` for a random `x`
/// of P2's; `LSB(y) = r[0] XOR x[0] XOR (x > r)`, the last bit from PrivateCompare, and the XOR
/// of the two shared bits costs one Beaver product.
pub fn compute_msb<T: Transport>(p: &mut Party<T>, a: &[u64]) -> Result<Vec<u64>, Error<T::Error>> {
    let n = a.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let step = p.begin_step();
    let Some(other) = p.role().other_holder() else {
        let (mut s0, mut s1) = (
            p.shared(Role::P0, step, purpose::X),
            p.shared(Role::P1, step, purpose::X),
        );
        let x: Vec<u64> = (0..n)
            .map(|_| odd_add(odd_reduce(s0.u64()), odd_reduce(s1.u64())))
            .collect();
        deal_zp(
            p,
            step,
            msg::X_BITS,
            purpose::X_BITS,
            n * BITS,
            Some(&compare::bit_decomposition(&x, BITS)),
        )?;
        let lsb: Vec<u64> = x.iter().map(|v| v & 1).collect();
        deal_ring(p, step, msg::X_LSB, purpose::X_LSB, n, Some(&lsb))?;
        let beta_prime: Vec<u64> = private_compare(p, step, &[], &[], n)?
            .into_iter()
            .map(u64::from)
            .collect();
        deal_ring(p, step, msg::BETA, purpose::BETA, n, Some(&beta_prime))?;
        beaver(p, &Elementwise(n), &vec![0; n], &vec![0; n])?;
        return Ok(vec![0; n]);
    };
    let j = p.role().j();
    let mut xs = p.shared(Role::P2, step, purpose::X);
    let mine: Vec<u64> = a
        .iter()
        .map(|&v| odd_add(odd_add(v, v), odd_reduce(xs.u64())))
        .collect();
    p.send_packed(other, step, msg::OPEN, mine.iter().copied(), n, 64)?;
    let x_bits = deal_zp(p, step, msg::X_BITS, purpose::X_BITS, n * BITS, None)?;
    let x_lsb = deal_ring(p, step, msg::X_LSB, purpose::X_LSB, n, None)?;
    let theirs = p.recv_packed(other, step, msg::OPEN, n, 64)?;
    let r: Vec<u64> = mine
        .iter()
        .zip(&theirs)
        .map(|(a, b)| odd_add(*a, odd_reduce(*b)))
        .collect();
    let betas = private_compare(p, step, &x_bits, &r, n)?;
    let beta_prime = deal_ring(p, step, msg::BETA, purpose::BETA, n, None)?;
    let gamma: Vec<u64> = (0..n)
        .map(|e| xor_public(betas[e], j, beta_prime[e], u64::wrapping_sub))
        .collect();
    let delta: Vec<u64> = (0..n)
        .map(|e| xor_public((r[e] & 1) as u8, j, x_lsb[e], u64::wrapping_sub))
        .collect();
    let theta = beaver(p, &Elementwise(n), &gamma, &delta)?;
    Ok((0..n)
        .map(|e| {
            gamma[e]
                .wrapping_add(delta[e])
                .wrapping_sub(theta[e].wrapping_mul(2))
        })
        .collect())
}

/// DReLU the SecureNN way (Alg. 7): ShareConvert, ComputeMSB, `1 - MSB`. 8 rounds. Requires
/// `a != L - 1` (see the module doc).
pub fn drelu<T: Transport>(p: &mut Party<T>, a: &[u64]) -> Result<Vec<u64>, Error<T::Error>> {
    let converted = share_convert(p, a)?;
    let msb = compute_msb(p, &converted)?;
    let j = p.role().j();
    Ok(match p.role() {
        Role::P2 => msb,
        _ => msb.iter().map(|m| j.wrapping_sub(*m)).collect(),
    })
}
