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

use crate::prg::Prg;
use crate::ring::{zp_add, zp_sub, P};

/// The common randomness of one comparison of `bits` bits, drawn identically by P0 and P1 from
/// the stream they share.
#[derive(Clone, Debug)]
pub struct CompareMasks {
    pub beta: u8,
    pub rotation: usize,
    pub s: [u8; 64],
    pub u: [u8; 64],
}

impl Default for CompareMasks {
    fn default() -> Self {
        CompareMasks {
            beta: 0,
            rotation: 0,
            s: [1; 64],
            u: [0; 64],
        }
    }
}

impl CompareMasks {
    /// Draws the masks for a comparison of `bits` bits (1..=63).
    pub fn draw(prg: &mut Prg, bits: usize, out: &mut CompareMasks) {
        out.beta = prg.byte() & 1;
        out.rotation = prg.below(bits as u16) as usize;
        prg.fill_zp_nonzero(&mut out.s[..bits]);
        prg.fill_zp(&mut out.u[..bits]);
    }
}

/// The message of holder `j` (0 or 1) for one comparison: `x_bits[i]` is its Z_p share of bit
/// `i` of `x`, `r < 2^bits` the public value. Writes `bits` Z_p values into `out`.
pub fn holder_message(j: u8, x_bits: &[u8], r: u64, m: &CompareMasks, out: &mut [u8]) {
    let bits = x_bits.len();
    let mut c = [0u8; 64];
    if m.beta == 1 && r == crate::ring::mask(bits as u32) {
        // x <= 2^bits - 1 always holds: make exactly one c_i zero (c_0 = 0, the rest 1).
        c[1..bits].fill(j);
    } else {
        // beta = 0 tests x > r; beta = 1 tests x < r + 1, i.e. NOT (x > r).
        let t = r + m.beta as u64;
        let mut prefix = j; // j + shares of the number of differing bits above i
        for i in (0..bits).rev() {
            let ti = ((t >> i) & 1) as u8;
            let jt = j & ti.wrapping_neg();
            let xi = x_bits[i];
            let base = if m.beta == 0 {
                zp_sub(jt, xi)
            } else {
                zp_sub(xi, jt)
            };
            c[i] = zp_add(base, prefix);
            // w_i = x_i XOR t_i: x_i when t_i = 0, j - x_i when t_i = 1.
            let flip = zp_sub(j, xi);
            prefix = zp_add(prefix, xi ^ ((xi ^ flip) & ti.wrapping_neg()));
        }
    }
    // Mask every c_i (independent lanes: vectorized) and rotate.
    let mut masked = [0u8; 64];
    for i in 0..64 {
        let v = ((m.s[i] as u16 * c[i] as u16) % P as u16) as u8;
        masked[i] = if j == 0 {
            zp_add(v, m.u[i])
        } else {
            zp_sub(v, m.u[i])
        };
    }
    let rot = m.rotation;
    out[rot..bits].copy_from_slice(&masked[..bits - rot]);
    out[..rot].copy_from_slice(&masked[bits - rot..bits]);
}

/// P2's side: whether any of the reconstructed values is zero, i.e. `beta XOR (x > r)`.
pub fn helper_result(m0: &[u8], m1: &[u8]) -> bool {
    m0.iter().zip(m1).any(|(a, b)| zp_add(*a, *b) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prg::Prg;
    use proptest::prelude::*;

    fn compare(x: u64, r: u64, bits: usize, seed: u8) -> (u8, bool) {
        let mut prg = Prg::new(&[seed; 16], 1, 1);
        let mut masks = CompareMasks::default();
        CompareMasks::draw(&mut prg, bits, &mut masks);
        let mut sh0 = [0u8; 64];
        let mut sh1 = [0u8; 64];
        for i in 0..bits {
            sh0[i] = prg.zp();
            sh1[i] = zp_sub(((x >> i) & 1) as u8, sh0[i]);
        }
        let (mut m0, mut m1) = ([0u8; 64], [0u8; 64]);
        holder_message(0, &sh0[..bits], r, &masks, &mut m0[..bits]);
        holder_message(1, &sh1[..bits], r, &masks, &mut m1[..bits]);
        (masks.beta, helper_result(&m0[..bits], &m1[..bits]))
    }

    proptest! {
        #[test]
        fn helper_learns_beta_xor_greater(x in any::<u64>(), r in any::<u64>(), bits in 1usize..=63, seed in any::<u8>()) {
            let m = crate::ring::mask(bits as u32);
            let (x, r) = (x & m, r & m);
            let (beta, out) = compare(x, r, bits, seed);
            prop_assert_eq!(out, (beta == 1) ^ (x > r));
        }

        #[test]
        fn edge_values(bits in 1usize..=63, seed in any::<u8>(), which in 0usize..4, other in 0usize..4) {
            let m = crate::ring::mask(bits as u32);
            let pick = |k: usize| [0, 1, m, m >> 1][k] & m;
            let (x, r) = (pick(which), pick(other));
            let (beta, out) = compare(x, r, bits, seed);
            prop_assert_eq!(out, (beta == 1) ^ (x > r));
        }
    }
}
