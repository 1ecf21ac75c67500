//! The sign of shared values: the comparison stage of DReLU and the multiplication of shared
//! values by the resulting bit, over a ring Z_2^m (m = 64 for exact DReLU, m = l* for the seed
//! paper's approximate DReLU).
//!
//! SecureNN computes DReLU(a) = 1 - MSB(a) with ShareConvert (Alg. 5) then ComputeMSB (Alg. 4),
//! two PrivateCompare calls and a multiplication. Patchwork uses the reveal-and-compare idea
//! of ComputeMSB directly on the even ring, which needs one PrivateCompare and no
//! ShareConvert:
//!
//! 1. P2 knows a random `x` in Z_2^m; P0 and P1 hold its shares (both drawn from pair streams,
//!    nothing travels) and Z_p shares of the bits of `x mod 2^(m-1)` (P1's come as corrections).
//!    P0 and P1 open `c = a + x mod 2^m` to each other (round 1).
//! 2. `MSB(a) = c_hi XOR x_hi XOR (x_lo > c_lo)`, where `_hi` is bit m-1 and `_lo` the rest.
//!    PrivateCompare (Alg. 3) gives P2 `beta' = beta XOR (x_lo > c_lo)` (round 2).
//! 3. P2 sets `gamma = x_hi XOR beta'`; P0 and P1 know `beta~ = 1 XOR c_hi XOR beta`, and
//!    `DReLU(a) = beta~ XOR gamma`. Each bit is uniform to the party that holds it.
//!
//! Multiplying by the bit (ReLU = a * DReLU(a), SelectShare for MaxPool, Block-ReLU's
//! broadcast of one decision to a patch) reuses the split: P0 and P1 send P2 their shares of
//! `v` hidden by a common mask `T` (in round 2, beside the comparison), P2 deals shares of
//! `gamma * (v + T)` and of `gamma` (round 3), and `v * gamma = gamma*(v+T) - T*gamma` is local;
//! `v * DReLU = v - v*gamma` when `beta~ = 1`. A whole ReLU is therefore 3 rounds.
//!
//! [`SignProtocol::Fss`] decides instead with keys P2 deals ([`super::fss_sign`]): one online
//! opening for the comparison and one for the multiplication, 2 rounds for a ReLU.

use alloc::vec;
use alloc::vec::Vec;

use super::compare;
use super::deal::{deal_ring, deal_zp};
use super::fss_sign;
use crate::party::{Error, Party, Step};
use crate::ring::mask;
use crate::role::Role;
use crate::transport::Transport;

/// Message numbers within a sign step.
mod msg {
    pub(super) const OPEN: u16 = 1;
    pub(super) const X_BITS: u16 = 2;
    pub(super) const COMPARE: u16 = 3;
    pub(super) const MASKED_V: u16 = 4;
    pub(super) const GAMMA: u16 = 5;
    pub(super) const PRODUCT: u16 = 6;
    /// Only with the test-only feature `leak-sign-to-p2`.
    #[cfg(feature = "leak-sign-to-p2")]
    pub const LEAKED_SIGN: u16 = 7;
}

/// Randomness purposes within a sign step.
mod purpose {
    pub(super) const X: u16 = 1;
    pub(super) const X_BITS: u16 = 2;
    pub(super) const COMPARE: u16 = 3;
    pub(super) const V_MASK: u16 = 4;
    pub(super) const GAMMA: u16 = 5;
    pub(super) const PRODUCT: u16 = 6;
}

/// How the sign steps compute their decisions (a setting every party must share).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignProtocol {
    /// SecureNN's PrivateCompare with P2 in the loop (above): 3 rounds per ReLU.
    #[default]
    PrivateCompare,
    /// A comparison by function secret sharing, keys dealt by P2 ([`super::fss_sign`]): 2
    /// rounds per ReLU, more bytes from P2 (all of them input-independent).
    Fss,
}

impl core::fmt::Display for SignProtocol {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SignProtocol::PrivateCompare => "PrivateCompare",
            SignProtocol::Fss => "FSS comparison",
        })
    }
}

/// The outcome of the comparison stage.
pub enum SplitSign {
    /// PrivateCompare's: for P0 and P1 the bit `beta~` of each value, for P2 the bit
    /// `gamma`; `DReLU = beta~ XOR gamma`.
    Bits(Vec<u8>),
    /// The FSS comparison's: P0's and P1's shares of each DReLU over Z_2^64 (P2: none).
    Shares(Vec<u64>),
}

impl SplitSign {
    /// How many values were compared.
    pub fn len(&self) -> usize {
        match self {
            SplitSign::Bits(b) => b.len(),
            SplitSign::Shares(s) => s.len(),
        }
    }

    /// Whether no value was compared.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Rounds 1-2: the comparison stage for `n` values given as shares over Z_2^m (`a` is empty for
/// P2). `m` is 2..=64. The bit shares of P2's mask `x` are the preprocessed part
/// ([`crate::preprocess`]); `None` in the offline phase, where the step ends after them (with
/// [`SignProtocol::Fss`], zeros: the multiplication's triple comes after).
pub fn split<T: Transport>(
    p: &mut Party<T>,
    step: Step,
    a: &[u64],
    n: usize,
    m: u32,
) -> Result<Option<SplitSign>, Error<T::Error>> {
    if !(2..=64).contains(&m) {
        return Err(Error::Config("comparison ring width must be 2..=64 bits"));
    }
    if p.sign_protocol() == SignProtocol::Fss {
        return fss_sign::split(p, step, a, n, m).map(Some);
    }
    let bits = (m - 1) as usize;
    let ring = mask(m);
    // The test-only leak `leak-reused-mask` draws every step's opening mask from step 1's stream.
    #[cfg(feature = "leak-reused-mask")]
    let x_step = Step { seq: 1 };
    #[cfg(not(feature = "leak-reused-mask"))]
    let x_step = step;
    let Some(other) = p.role().other_holder() else {
        let (mut x0, mut x1) = (
            p.shared(Role::P0, x_step, purpose::X),
            p.shared(Role::P1, x_step, purpose::X),
        );
        let x: Vec<u64> = (0..n)
            .map(|_| (x0.u64().wrapping_add(x1.u64())) & ring)
            .collect();
        let dealt = p.prepare(step, |p| {
            let x_bits = compare::bit_decomposition(&x, bits);
            deal_zp(
                p,
                step,
                msg::X_BITS,
                purpose::X_BITS,
                n * bits,
                Some(&x_bits),
            )
        })?;
        if dealt.is_none() {
            return Ok(None);
        }
        let m0 = p.recv_zp(Role::P0, step, msg::COMPARE, n * bits)?;
        let m1 = p.recv_zp(Role::P1, step, msg::COMPARE, n * bits)?;
        #[cfg(feature = "leak-sign-to-p2")]
        p.recv(Role::P1, step, msg::LEAKED_SIGN, n)?;
        let beta_prime = compare::helper_results(&m0, &m1, bits);
        let gamma = x
            .iter()
            .zip(beta_prime)
            .map(|(x, b)| ((x >> (m - 1)) as u8 & 1) ^ b)
            .collect();
        return Ok(Some(SplitSign::Bits(gamma)));
    };
    crate::party::check_len("shares to compare", n, a.len())?;
    let me = p.role();
    let mut xs = p.shared(Role::P2, x_step, purpose::X);
    let c_mine: Vec<u64> = a.iter().map(|v| v.wrapping_add(xs.u64()) & ring).collect();
    if p.runs_online() {
        p.send_packed(other, step, msg::OPEN, c_mine.iter().copied(), n, m)?;
    }
    let dealt = p.prepare(step, |p| {
        deal_zp(p, step, msg::X_BITS, purpose::X_BITS, n * bits, None)
    })?;
    let Some(x_bits) = dealt else {
        return Ok(None);
    };
    let c_other = p.recv_packed(other, step, msg::OPEN, n, m)?;
    let c: Vec<u64> = c_mine
        .iter()
        .zip(&c_other)
        .map(|(a, b)| a.wrapping_add(*b) & ring)
        .collect();
    let low: Vec<u64> = c.iter().map(|v| v & mask(m - 1)).collect();
    let mut common = p.shared(other, step, purpose::COMPARE);
    let (out, betas) = compare::holder_messages(me.j() as u8, &x_bits, &low, bits, &mut common);
    p.send_zp(Role::P2, step, msg::COMPARE, &out)?;
    let beta_tilde: Vec<u8> = c
        .iter()
        .zip(betas)
        .map(|(c, beta)| 1 ^ (c >> (m - 1)) as u8 ^ beta)
        .collect();
    #[cfg(feature = "leak-sign-to-p2")]
    if me == Role::P1 {
        p.send(Role::P2, step, msg::LEAKED_SIGN, &beta_tilde)?;
    }
    Ok(Some(SplitSign::Bits(beta_tilde)))
}

/// Round 3 for a DReLU: P2 deals shares of `gamma` over Z_2^64 and the holders turn them into
/// shares of `DReLU = beta~ XOR gamma`. P2 gets zeros.
pub fn bits_to_shares<T: Transport>(
    p: &mut Party<T>,
    step: Step,
    split: &SplitSign,
) -> Result<Vec<u64>, Error<T::Error>> {
    let bits = match split {
        SplitSign::Bits(bits) => bits,
        SplitSign::Shares(shares) if p.role() == Role::P2 => return Ok(vec![0; shares.len()]),
        SplitSign::Shares(shares) => return Ok(shares.clone()),
    };
    let n = bits.len();
    if p.role() == Role::P2 {
        let gamma: Vec<u64> = bits.iter().map(|&b| b as u64).collect();
        deal_ring(p, step, msg::GAMMA, purpose::GAMMA, n, Some(&gamma))?;
        return Ok(vec![0; n]);
    }
    let j = p.role().j();
    let g = deal_ring(p, step, msg::GAMMA, purpose::GAMMA, n, None)?;
    Ok(g.iter()
        .zip(bits)
        .map(|(g, &bt)| if bt == 1 { j.wrapping_sub(*g) } else { *g })
        .collect())
}

/// Rounds 2-3 of a multiplication by the sign: shares of `v[k] * DReLU[decision[k]]` for every
/// element `k` of `v` (P2 passes `v` empty and gets zeros). `decision[k]` indexes the values
/// given to [`split`].
pub fn multiply<T: Transport>(
    p: &mut Party<T>,
    step: Step,
    split: &SplitSign,
    v: &[u64],
    decision: &[u32],
) -> Result<Vec<u64>, Error<T::Error>> {
    let len = decision.len();
    if decision.iter().any(|&d| d as usize >= split.len()) {
        return Err(Error::Config("decision index out of range"));
    }
    let bits = match split {
        SplitSign::Bits(bits) => bits,
        SplitSign::Shares(shares) => return fss_sign::multiply(p, step, shares, v, decision),
    };
    let n = bits.len();
    let Some(other) = p.role().other_holder() else {
        let y0 = p.recv_packed(Role::P0, step, msg::MASKED_V, len, 64)?;
        let y1 = p.recv_packed(Role::P1, step, msg::MASKED_V, len, 64)?;
        let gamma: Vec<u64> = bits.iter().map(|&b| b as u64).collect();
        let z: Vec<u64> = (0..len)
            .map(|k| gamma[decision[k] as usize].wrapping_mul(y0[k].wrapping_add(y1[k])))
            .collect();
        deal_ring(p, step, msg::GAMMA, purpose::GAMMA, n, Some(&gamma))?;
        deal_ring(p, step, msg::PRODUCT, purpose::PRODUCT, len, Some(&z))?;
        return Ok(vec![0; len]);
    };
    crate::party::check_len("values to multiply by the sign", len, v.len())?;
    let me = p.role();
    let mut common = p.shared(other, step, purpose::V_MASK);
    // T = R + S: P0 hides its share with R, P1 with S; P2 sees v + T.
    let mut t = Vec::with_capacity(len);
    let mut sent = Vec::with_capacity(len);
    for &vk in v {
        let (r, s) = (common.u64(), common.u64());
        // The test-only leak `leak-cancelling-masks`: P1 adds -r instead of s, so T = 0.
        #[cfg(feature = "leak-cancelling-masks")]
        let s = {
            let _unused = s;
            r.wrapping_neg()
        };
        t.push(r.wrapping_add(s));
        sent.push(vk.wrapping_add(if me == Role::P0 { r } else { s }));
    }
    p.send_packed(Role::P2, step, msg::MASKED_V, sent, len, 64)?;
    let g = deal_ring(p, step, msg::GAMMA, purpose::GAMMA, n, None)?;
    let z = deal_ring(p, step, msg::PRODUCT, purpose::PRODUCT, len, None)?;
    Ok((0..len)
        .map(|k| {
            let d = decision[k] as usize;
            let q = z[k].wrapping_sub(t[k].wrapping_mul(g[d]));
            if bits[d] == 1 {
                v[k].wrapping_sub(q)
            } else {
                q
            }
        })
        .collect())
}
