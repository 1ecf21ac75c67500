//! A distributed comparison function (DCF): Boyle, Gilboa and Ishai, "Function Secret
//! Sharing: Improvements and Extensions" (CCS 2016), Fig. 3, with outputs in Z_2^64.
//!
//! The dealer P2 holds `alpha` and `beta` and splits the function `x -> beta * [x < alpha]` on
//! `bits`-bit inputs into two keys; P0 and P1 each evaluate theirs on the same public `x` and
//! get additive shares of `beta * [x < alpha]`, without a message. Either key alone is a
//! pseudorandom string: it says nothing of `alpha` or `beta`.
//!
//! A key is a root seed and the correction words of the levels (the same for both keys). The
//! root seeds are drawn from the stream each evaluator shares with P2, so only the correction
//! words travel: `3 * bits + 1` words per comparison ([`words`]). Every call works on many
//! comparisons at once, level by level, so each level is one batch of AES blocks.
//!
//! The tree's length-doubling PRG is fixed-key AES in the Matyas-Meyer-Oseas mode,
//! `G_k(s) = AES_K(s ^ k) ^ s ^ k` for the blocks `k = 0, 1, 2`. Its key is public (a random
//! permutation, as in Guo, Katz, Wang and Yu, S&P 2020); the secrets are the seeds.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Block};
use alloc::vec;
use alloc::vec::Vec;

/// The public key of the tree's PRG (not a secret: see the module's documentation).
const PRG_KEY: [u8; 16] = *b"patchwork-dcf-g1";

/// Seeds keep their two low bits clear: a level's control bits ride there in its correction.
const SEED_MASK: u128 = !3;

/// Words of correction per comparison on `bits`-bit inputs.
pub fn words(bits: u32) -> usize {
    3 * bits as usize + 1
}

/// Where the three words of `level`'s correction for comparison `k` of `n` start: the words
/// are level-major (every comparison's level 0, then level 1, ...), so that evaluating one
/// level of a batch reads them in order, and the last words are the leaves' corrections.
fn level_at(n: usize, level: u32, k: usize) -> usize {
    3 * (level as usize * n + k)
}

/// Where comparison `k`'s leaf correction lies among the `n` comparisons' words on
/// `bits`-bit inputs.
fn leaf_at(n: usize, bits: u32, k: usize) -> usize {
    3 * bits as usize * n + k
}

/// A root seed from two stream words (its low bits cleared).
pub fn seed(lo: u64, hi: u64) -> u128 {
    ((hi as u128) << 64 | lo as u128) & SEED_MASK
}

/// `G(s)` of one seed: both children's seeds, control bits and values.
#[derive(Clone, Copy, Default)]
struct Children {
    s: [u128; 2],
    t: [u8; 2],
    v: [u64; 2],
}

/// The tree's PRG, with a buffer for one level's blocks.
struct Prg {
    aes: Aes128,
    blocks: Vec<Block>,
}

impl Prg {
    fn new() -> Prg {
        Prg {
            aes: Aes128::new(&PRG_KEY.into()),
            blocks: Vec::new(),
        }
    }

    /// `G` of every seed, in one batch of blocks; [`Prg::children`] reads the result.
    fn expand(&mut self, seeds: &[u128]) {
        self.blocks.clear();
        self.blocks.extend(
            seeds
                .iter()
                .flat_map(|&s| [s, s ^ 1, s ^ 2])
                .map(|x| Block::from(x.to_le_bytes())),
        );
        self.aes.encrypt_blocks(&mut self.blocks);
    }

    /// For an evaluator at tree depth `bit`'s level: per seed, the block of the child on
    /// `x`'s side (`G`'s block `x_bit`) and the values' block (2), in that order; [`Prg::block`]
    /// reads them.
    fn expand_along(&mut self, seeds: &[u128], x: &[u64], bit: u32) {
        self.blocks.clear();
        self.blocks.extend(
            seeds
                .iter()
                .zip(x)
                .flat_map(|(&s, &x)| [s ^ ((x >> bit) & 1) as u128, s ^ 2])
                .map(|x| Block::from(x.to_le_bytes())),
        );
        self.aes.encrypt_blocks(&mut self.blocks);
    }

    /// The `i`-th encrypted block of the last expansion.
    fn block(&self, i: usize) -> u128 {
        u128::from_le_bytes(self.blocks[i].into())
    }

    /// `G(seed)` of the `k`-th seed of the last [`Prg::expand`].
    fn children(&self, k: usize, seed: u128) -> Children {
        let out = |i: usize| u128::from_le_bytes(self.blocks[3 * k + i].into()) ^ seed ^ i as u128;
        let (l, r, v) = (out(0), out(1), out(2));
        Children {
            s: [l & SEED_MASK, r & SEED_MASK],
            t: [(l & 1) as u8, (r & 1) as u8],
            v: [v as u64, (v >> 64) as u64],
        }
    }
}

/// `(-1)^t * v` in Z_2^64.
fn signed(t: u8, v: u64) -> u64 {
    if t == 1 {
        v.wrapping_neg()
    } else {
        v
    }
}

/// A leaf seed as a ring element.
fn convert(s: u128) -> u64 {
    (s >> 64) as u64
}

/// The correction words of the comparisons `x -> beta[k] * [x < alpha[k]]` on `bits`-bit
/// inputs (1..=64), for the evaluators' root seeds `roots[0][k]` and `roots[1][k]`: [`words`]
/// per comparison, laid out level by level ([`level_at`], [`leaf_at`]).
pub fn generate(alpha: &[u64], beta: &[u64], bits: u32, roots: [&[u128]; 2]) -> Vec<u64> {
    let n = alpha.len();
    let per = words(bits);
    let mut prg = [Prg::new(), Prg::new()];
    let mut cw = vec![0u64; n * per];
    let mut s = [roots[0].to_vec(), roots[1].to_vec()];
    let mut t = [vec![0u8; n], vec![1u8; n]];
    let mut v_alpha = vec![0u64; n];
    for level in 0..bits {
        let bit = bits - 1 - level;
        prg[0].expand(&s[0]);
        prg[1].expand(&s[1]);
        for k in 0..n {
            let a = ((alpha[k] >> bit) & 1) as usize;
            let (keep, lose) = (a, 1 - a);
            let e = [prg[0].children(k, s[0][k]), prg[1].children(k, s[1][k])];
            let (e0, e1) = (e[0], e[1]);
            let s_cw = e0.s[lose] ^ e1.s[lose];
            let mut v_cw = signed(
                t[1][k],
                e1.v[lose].wrapping_sub(e0.v[lose]).wrapping_sub(v_alpha[k]),
            );
            if lose == 0 {
                // Every x that leaves alpha's path to the left is below alpha.
                v_cw = v_cw.wrapping_add(signed(t[1][k], beta[k]));
            }
            v_alpha[k] = v_alpha[k]
                .wrapping_sub(e1.v[keep])
                .wrapping_add(e0.v[keep])
                .wrapping_add(signed(t[1][k], v_cw));
            let t_cw = [e0.t[0] ^ e1.t[0] ^ a as u8 ^ 1, e0.t[1] ^ e1.t[1] ^ a as u8];
            let at = level_at(n, level, k);
            let packed = s_cw | t_cw[0] as u128 | (t_cw[1] as u128) << 1;
            cw[at] = packed as u64;
            cw[at + 1] = (packed >> 64) as u64;
            cw[at + 2] = v_cw;
            for b in 0..2 {
                let ek = e[b];
                let on = t[b][k];
                s[b][k] = ek.s[keep] ^ if on == 1 { s_cw } else { 0 };
                t[b][k] = ek.t[keep] ^ (on & t_cw[keep]);
            }
        }
    }
    for k in 0..n {
        cw[leaf_at(n, bits, k)] = signed(
            t[1][k],
            convert(s[1][k])
                .wrapping_sub(convert(s[0][k]))
                .wrapping_sub(v_alpha[k]),
        );
    }
    cw
}

/// Evaluator `b`'s (0 for P0, 1 for P1) shares of `beta[k] * [x[k] < alpha[k]]`, from its
/// root seeds and the correction words of [`generate`]. `None` when `cw` has the wrong length.
///
/// An evaluator walks one path of each tree, so per level it needs only two of `G`'s three
/// blocks (the child on `x`'s side and the values, [`Prg::expand_along`]), and its steps
/// are free of branches on the secret-dependent control bits.
pub fn evaluate(b: u8, roots: &[u128], cw: &[u64], x: &[u64], bits: u32) -> Option<Vec<u64>> {
    let n = x.len();
    if roots.len() != n || cw.len() != n * words(bits) {
        return None;
    }
    let mut prg = Prg::new();
    let mut s = roots.to_vec();
    let mut t = vec![b & 1; n];
    // Sums of the values met on the path; evaluator 1's share is their negation.
    let mut sum = vec![0u64; n];
    for level in 0..bits {
        let bit = bits - 1 - level;
        prg.expand_along(&s, x, bit);
        let words = &cw[level_at(n, level, 0)..level_at(n, level + 1, 0)];
        for k in 0..n {
            let go = ((x[k] >> bit) & 1) as u32;
            let child = prg.block(2 * k) ^ s[k] ^ go as u128;
            let values = prg.block(2 * k + 1) ^ s[k] ^ 2;
            let on = (t[k] as u64).wrapping_neg();
            let c = &words[3 * k..3 * k + 3];
            sum[k] = sum[k]
                .wrapping_add((values >> (64 * go)) as u64)
                .wrapping_add(c[2] & on);
            let packed = (c[1] as u128) << 64 | c[0] as u128;
            let next = child ^ (packed & (on as u128 | (on as u128) << 64));
            s[k] = next & SEED_MASK;
            t[k] = (child as u8 & 1) ^ ((packed >> go) as u8 & t[k] & 1);
        }
    }
    Some(
        (0..n)
            .map(|k| {
                let on = (t[k] as u64).wrapping_neg();
                let leaf = convert(s[k]).wrapping_add(cw[leaf_at(n, bits, k)] & on);
                signed(b, sum[k].wrapping_add(leaf))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(n: usize, salt: u64) -> Vec<u128> {
        (0..n as u64)
            .map(|k| {
                let z = crate::splitmix::SplitMix64(k ^ salt.rotate_left(17)).next_u64();
                seed(z, z.rotate_left(29) ^ salt)
            })
            .collect()
    }

    #[test]
    fn shares_add_up_to_beta_below_alpha_on_every_input_of_a_small_domain() {
        for bits in [1u32, 2, 5] {
            let domain = 1u64 << bits;
            for alpha in 0..domain {
                let xs: Vec<u64> = (0..domain).collect();
                let n = xs.len();
                let (a, b) = (
                    vec![alpha; n],
                    vec![0xdead_beef_u64.wrapping_mul(alpha + 3); n],
                );
                let (r0, r1) = (roots(n, alpha), roots(n, !alpha));
                let cw = generate(&a, &b, bits, [&r0, &r1]);
                let y0 = evaluate(0, &r0, &cw, &xs, bits).unwrap();
                let y1 = evaluate(1, &r1, &cw, &xs, bits).unwrap();
                for (k, &x) in xs.iter().enumerate() {
                    let want = if x < alpha { b[k] } else { 0 };
                    assert_eq!(
                        y0[k].wrapping_add(y1[k]),
                        want,
                        "bits {bits} alpha {alpha} x {x}"
                    );
                }
            }
        }
    }

    #[test]
    fn wide_inputs_compare_like_integers() {
        let bits = 63;
        let mut g = crate::splitmix::SplitMix64(7);
        let n = 2000;
        let alpha: Vec<u64> = (0..n).map(|_| g.next_u64() >> 1).collect();
        // Half the inputs near alpha, to reach deep levels of the tree.
        let x: Vec<u64> = (0..n)
            .map(|k| {
                let r = g.next_u64() >> 1;
                if k % 2 == 0 {
                    r
                } else {
                    alpha[k].wrapping_add(r % 5).wrapping_sub(2) & (u64::MAX >> 1)
                }
            })
            .collect();
        let beta: Vec<u64> = (0..n).map(|_| g.next_u64()).collect();
        let (r0, r1) = (roots(n, 1), roots(n, 2));
        let cw = generate(&alpha, &beta, bits, [&r0, &r1]);
        let y0 = evaluate(0, &r0, &cw, &x, bits).unwrap();
        let y1 = evaluate(1, &r1, &cw, &x, bits).unwrap();
        for k in 0..n {
            let want = if x[k] < alpha[k] { beta[k] } else { 0 };
            assert_eq!(
                y0[k].wrapping_add(y1[k]),
                want,
                "alpha {} x {}",
                alpha[k],
                x[k]
            );
        }
        assert!(evaluate(0, &r0, &cw[1..], &x, bits).is_none());
    }
}
