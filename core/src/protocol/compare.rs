//! PrivateCompare (SecureNN Alg. 3): P0 and P1 hold shares over Z_p of the bits of `x`, both
//! know `r` and a common random bit `beta`; P2 learns `beta XOR (x > r)` and nothing else.
//!
//! Each holder sends P2 one masked Z_p value per bit: `c_i` is zero exactly at the first bit
//! (from the top) where `x` and `r` differ in the tested direction; each `c_i` is multiplied by
//! a common random nonzero `s_i`, hidden by a common zero-sharing `u_i`, and the list is
//! rotated by a common random offset. At most one `c_i` is zero, so a uniform rotation hides its
//! position as well as the random permutation of the paper does.
//!
//! The functions here are the pure round functions; the step that moves the messages is in
//! [`super::sign`].

use alloc::vec;
use alloc::vec::Vec;

use crate::prg::Prg;
use crate::ring::{mask, P};

/// Comparisons whose common randomness is drawn at once (it then stays in the L1 cache).
const CHUNK: usize = 256;

/// The holders' side of `r.len()` comparisons of `bits` bits (1..=64): `x_bits` holds this
/// holder's (`j` = 0 or 1) Z_p shares of the bits of each `x`, least significant first, `bits`
/// per comparison; `r[e] < 2^bits` is the public value. P0 and P1 draw the same masks from
/// `common` (the stream they share). Returns the message for P2 (`bits` Z_p values per
/// comparison) and the `beta` of each comparison.
pub fn holder_messages(
    j: u8,
    x_bits: &[u8],
    r: &[u64],
    bits: usize,
    common: &mut Prg,
) -> (Vec<u8>, Vec<u8>) {
    let n = r.len();
    let mut out = vec![0u8; n * bits];
    let mut betas = vec![0u8; n];
    let (mut s, mut u, mut rot) = (
        vec![0u8; CHUNK * bits],
        vec![0u8; CHUNK * bits],
        [0u8; CHUNK],
    );
    for e0 in (0..n).step_by(CHUNK) {
        let len = CHUNK.min(n - e0);
        let chunk = e0 * bits..(e0 + len) * bits;
        // The masks of a comparison (SecureNN Alg. 3): beta, a rotation standing for the
        // permutation, nonzero multipliers s_i and a zero-sharing u_i.
        common.fill_bytes(&mut betas[e0..e0 + len]);
        for (b, r) in betas[e0..e0 + len].iter_mut().zip(&mut rot) {
            *b &= 1;
            *r = common.below(bits as u16);
        }
        common.fill_zp_nonzero(&mut s[..len * bits]);
        common.fill_zp(&mut u[..len * bits]);
        let outs = out[chunk.clone()].chunks_exact_mut(bits);
        let xs = x_bits[chunk].chunks_exact(bits);
        for (k, (o, x)) in outs.zip(xs).enumerate() {
            let lanes = k * bits..(k + 1) * bits;
            let masks = Masks {
                beta: betas[e0 + k],
                rotation: rot[k] as usize,
                s: &s[lanes.clone()],
                u: &u[lanes],
            };
            holder_message(j, x, r[e0 + k], &masks, o);
        }
    }
    (out, betas)
}

/// The masks of one comparison.
struct Masks<'a> {
    beta: u8,
    rotation: usize,
    s: &'a [u8],
    u: &'a [u8],
}

/// The message of holder `j` for one comparison: `bits` = `x_bits.len()` Z_p values into `out`.
///
/// `c_i = base_i + j + sum_{k > i} w_k` with `w_k` the share of `x_k XOR t_k` and `base_i` the
/// share of `t_i - x_i` (beta = 0, testing `x > t = r`) or `x_i - t_i` (beta = 1, testing
/// `x < t = r + 1`). Sums are kept in `u16` lanes (below 64 * 2p) and reduced once, so every
/// loop but the suffix sum runs over independent lanes.
fn holder_message(j: u8, x_bits: &[u8], r: u64, m: &Masks, out: &mut [u8]) {
    let bits = x_bits.len();
    let (p, j16) = (P as u16, j as u16);
    let mut c = [0u16; 64];
    if m.beta == 1 && r == mask(bits as u32) {
        // x <= 2^bits - 1 always holds: make exactly one c_i zero (c_0 = 0, the rest 1).
        c[1..bits].fill(j16);
    } else {
        let t = r + m.beta as u64;
        let (mut w, mut base) = ([0u16; 64], [0u16; 64]);
        for i in 0..bits {
            let ti = ((t >> i) & 1) as u16;
            let xi = x_bits[i] as u16;
            let jt = j16 * ti;
            // x_i XOR t_i: x_i when t_i = 0, 1 - x_i (shared as j - x_i) when t_i = 1.
            w[i] = if ti == 1 { j16 + p - xi } else { xi };
            base[i] = if m.beta == 0 {
                jt + p - xi
            } else {
                xi + p - jt
            };
        }
        let mut suffix = j16;
        for i in (0..bits).rev() {
            c[i] = base[i] + suffix;
            suffix += w[i];
        }
    }
    // Mask every c_i: s_i c_i + u_i (P0) or s_i c_i - u_i (P1), then rotate.
    let mut masked = [0u8; 64];
    for i in 0..bits {
        let v = (m.s[i] as u16 * (c[i] % p)) % p;
        let u = m.u[i] as u16;
        masked[i] = (if j == 0 { v + u } else { v + p - u } % p) as u8;
    }
    let rot = m.rotation;
    out[rot..bits].copy_from_slice(&masked[..bits - rot]);
    out[..rot].copy_from_slice(&masked[bits - rot..bits]);
}

/// P2's side of comparisons of `bits` bits: per comparison, whether any reconstructed value is
/// zero, i.e. `beta XOR (x > r)`.
pub fn helper_results(m0: &[u8], m1: &[u8], bits: usize) -> Vec<u8> {
    m0.chunks_exact(bits)
        .zip(m1.chunks_exact(bits))
        .map(|(a, b)| {
            a.iter().zip(b).fold(0u8, |any, (&x, &y)| {
                let s = x + y; // both < p: below 2p, no overflow
                any | (s == 0) as u8 | (s == P) as u8
            })
        })
        .collect()
}

/// The bits of each value, least significant first, `bits` per value, as Z_p elements.
pub fn bit_decomposition(x: &[u64], bits: usize) -> Vec<u8> {
    let mut out = vec![0u8; x.len() * bits];
    for (o, v) in out.chunks_exact_mut(bits).zip(x) {
        for (i, b) in o.iter_mut().enumerate() {
            *b = ((v >> i) & 1) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prg::Prg;
    use crate::ring::zp_sub;
    use proptest::prelude::*;

    /// Runs comparisons of `x[e]` with `r[e]` on `bits` bits; returns each beta and what P2
    /// learns.
    fn compare(x: &[u64], r: &[u64], bits: usize, seed: u8) -> (Vec<u8>, Vec<u8>) {
        let mut dealer = Prg::new(&[seed; 16], 1, 2);
        let all = bit_decomposition(x, bits);
        let mut sh0 = vec![0u8; all.len()];
        dealer.fill_zp(&mut sh0);
        let sh1: Vec<u8> = all.iter().zip(&sh0).map(|(&b, &s)| zp_sub(b, s)).collect();
        let mut c0 = Prg::new(&[seed; 16], 1, 1);
        let mut c1 = Prg::new(&[seed; 16], 1, 1);
        let (m0, beta0) = holder_messages(0, &sh0, r, bits, &mut c0);
        let (m1, beta1) = holder_messages(1, &sh1, r, bits, &mut c1);
        assert_eq!(beta0, beta1);
        (beta0, helper_results(&m0, &m1, bits))
    }

    proptest! {
        #[test]
        fn helper_learns_beta_xor_greater(pairs in proptest::collection::vec((any::<u64>(), any::<u64>()), 1..300), bits in 1usize..=64, seed in any::<u8>()) {
            let m = mask(bits as u32);
            let x: Vec<u64> = pairs.iter().map(|p| p.0 & m).collect();
            let r: Vec<u64> = pairs.iter().map(|p| p.1 & m).collect();
            let (beta, out) = compare(&x, &r, bits, seed);
            for e in 0..x.len() {
                prop_assert_eq!(out[e] == 1, (beta[e] == 1) ^ (x[e] > r[e]));
            }
        }

        #[test]
        fn edge_values(bits in 1usize..=64, seed in any::<u8>()) {
            let m = mask(bits as u32);
            let edges = [0, 1, m, m >> 1, m - 1];
            let (mut x, mut r) = (Vec::new(), Vec::new());
            for &a in &edges {
                for &b in &edges {
                    x.push(a & m);
                    r.push(b & m);
                }
            }
            let (beta, out) = compare(&x, &r, bits, seed);
            for e in 0..x.len() {
                prop_assert_eq!(out[e] == 1, (beta[e] == 1) ^ (x[e] > r[e]));
            }
        }
    }
}
