//! What one node's comparisons saw, summarised so that any number of images fits in a few
//! kilobytes, and the window chosen from it (seed paper, "Approximate DReLU").
//!
//! The comparison of a window keeping bits `k_lsb .. 64 - k_msb` is exact for every sharing
//! inside the window except for values `x` in `[0, 2^k_lsb)`, which it reads as negative when
//! the low bits the parties drop carry: with P0's share uniform, that happens with probability
//! `(2^k_lsb - 1 - x) / 2^k_lsb` (see `Comparison::guaranteed`; the tests check this against
//! `Comparison::outcome`). So the expected number of errors of a `k_lsb` over the measured
//! values is `N_k - (S_k + N_k) / 2^k`, with `N_k` and `S_k` the count and sum of the measured
//! values in `[0, 2^k)`: counts and sums per bit length give it exactly for every `k`.

use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::model::windows::covers;
use patchwork_core::protocol::drelu::Comparison;

/// Sub-bins per octave of the magnitude histogram (the quantile's resolution: 1.6%).
const SUB_BINS: usize = 64;

/// A summary of the fixed-point values one node compared.
#[derive(Clone, Debug)]
pub struct Range {
    count: u64,
    max_abs: u64,
    /// Count and sum of the values `x >= 0` with bit length `b` (`x = 0` has length 0).
    nonneg: [(u64, f64); 65],
    /// Magnitudes by bit length and, within an octave, by `SUB_BINS` linear sub-bins.
    hist: Vec<u64>,
}

impl Default for Range {
    fn default() -> Self {
        Range {
            count: 0,
            max_abs: 0,
            nonneg: [(0, 0.0); 65],
            hist: vec![0; 65 * SUB_BINS],
        }
    }
}

fn bit_length(v: u64) -> usize {
    (u64::BITS - v.leading_zeros()) as usize
}

/// The histogram bin of a magnitude: its bit length, then `SUB_BINS` equal parts of the octave
/// (small magnitudes exactly).
fn bin(v: u64) -> usize {
    let b = bit_length(v);
    let sub = if b <= 6 {
        v as usize % SUB_BINS
    } else {
        ((v >> (b - 7)) & (SUB_BINS as u64 - 1)) as usize
    };
    b * SUB_BINS + sub
}

/// The largest magnitude bin `index` holds, so that a quantile read from the bins never
/// understates.
fn bin_upper(index: usize) -> f64 {
    let (b, sub) = (index / SUB_BINS, index % SUB_BINS);
    if b <= 6 {
        sub as f64
    } else {
        let step = 2f64.powi(b as i32 - 7);
        2f64.powi(b as i32 - 1) + (sub as f64 + 1.0) * step
    }
}

impl Range {
    /// Adds one compared value (fixed point, two's complement).
    pub fn add(&mut self, x: i64) {
        self.count += 1;
        let m = x.unsigned_abs();
        self.max_abs = self.max_abs.max(m);
        self.hist[bin(m)] += 1;
        if x >= 0 {
            let b = bit_length(m);
            self.nonneg[b].0 += 1;
            self.nonneg[b].1 += m as f64;
        }
    }

    /// Values added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest magnitude added (fixed point).
    pub fn max_abs(&self) -> u64 {
        self.max_abs
    }

    /// The `q` quantile of the magnitudes (fixed point), read from the histogram as the upper
    /// end of its bin (within 1.6% above the true one).
    pub fn quantile(&self, q: f64) -> f64 {
        let target = (q * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.hist.iter().enumerate() {
            seen += n;
            if seen >= target {
                return bin_upper(i).min(self.max_abs as f64);
            }
        }
        self.max_abs as f64
    }

    /// The expected fraction of the added values that dropping `k_lsb` low bits gets wrong.
    pub fn error_rate(&self, k_lsb: u32) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let k = (k_lsb as usize).min(64);
        let (n, s) = self.nonneg[..=k]
            .iter()
            .fold((0f64, 0f64), |(n, s), &(c, sum)| (n + c as f64, s + sum));
        let errors = n - (s + n) / 2f64.powi(k as i32);
        errors.max(0.0) / self.count as f64
    }

    /// The window for these values: the most low bits dropped whose expected error rate is
    /// at most `max_error` (none for a budget of 0: values the calibration data did not hold
    /// may still fall in the dropped range), and the fewest high bits kept that hold `margin`
    /// times the largest magnitude (at least 2 bits in all).
    pub fn window(&self, fp: FixedPoint, margin: f64, max_error: f64) -> Comparison {
        let k_lsb = (0..=61u32)
            .take_while(|&k| k == 0 || (max_error > 0.0 && self.error_rate(k) <= max_error))
            .last()
            .unwrap_or(0);
        let need = self.max_abs as f64 * margin / 2f64.powi(fp.frac_bits() as i32);
        (0..=62 - k_lsb)
            .rev()
            .map(|k_msb| Comparison::Approx { k_msb, k_lsb })
            .find(|&c| covers(c, fp) >= need)
            .unwrap_or(Comparison::Approx { k_msb: 0, k_lsb })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_the_range_with_its_margin_and_no_more() {
        let fp = FixedPoint::F12;
        let mut r = Range::default();
        for x in [-3000i64 << 12, 5, 100 << 12] {
            r.add(x);
        }
        // 6000 in real units needs 13 integer bits and a sign: bits 12 + 13 + 1 = 26 from the
        // bottom, so 38 high bits dropped. A budget of 0 drops no low bit; any positive one
        // allows 2 for these values, not 3 (5 would read as negative with probability
        // (2^3 - 6) / 2^3).
        assert_eq!(
            r.window(fp, 2.0, 0.0),
            Comparison::Approx {
                k_msb: 38,
                k_lsb: 0
            }
        );
        let c = r.window(fp, 2.0, 1e-9);
        assert_eq!(
            c,
            Comparison::Approx {
                k_msb: 38,
                k_lsb: 2
            }
        );
        assert!(covers(c, fp) >= 6000.0);
        assert!(
            covers(
                Comparison::Approx {
                    k_msb: 39,
                    k_lsb: 2
                },
                fp
            ) < 6000.0
        );
    }

    /// The expected error rate equals the rate of wrong outcomes of the comparison itself
    /// (`Comparison::outcome`, which the protocol tests check bit for bit) over random
    /// sharings; a formula with the carry's probability reversed fails this.
    #[test]
    fn the_error_rate_is_the_rate_of_wrong_outcomes_over_random_sharings() {
        let mut rng = patchwork_core::splitmix::SplitMix64(9);
        let mut r = Range::default();
        let values: Vec<i64> = (0..4000).map(|_| (rng.normal() * 300.0) as i64).collect();
        values.iter().for_each(|&x| r.add(x));
        for k_lsb in [3u32, 6, 8] {
            let c = Comparison::Approx { k_msb: 30, k_lsb };
            let trials = 50;
            let wrong: usize = values
                .iter()
                .map(|&x| {
                    (0..trials)
                        .filter(|_| {
                            let s0 = rng.next_u64();
                            c.outcome(s0, (x as u64).wrapping_sub(s0)) != (x >= 0)
                        })
                        .count()
                })
                .sum();
            let measured = wrong as f64 / (values.len() * trials) as f64;
            let expected = r.error_rate(k_lsb);
            assert!(expected > 0.0);
            assert!(
                (measured - expected).abs() < 0.1 * expected + 1e-3,
                "k_lsb {k_lsb}: measured {measured}, expected {expected}"
            );
        }
    }

    #[test]
    fn quantiles_never_understate_and_stay_within_the_bin() {
        let mut r = Range::default();
        (1..=1000i64).for_each(|x| r.add(-x * 37));
        let q = r.quantile(0.5);
        assert!((500.0 * 37.0..=500.0 * 37.0 * 1.02).contains(&q), "{q}");
        assert_eq!(r.quantile(1.0), 37_000.0);
    }
}
