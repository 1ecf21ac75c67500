//! SecureNN's own DReLU path (ShareConvert, ComputeMSB) against plaintext, and its cost.

use patchwork_core::cost;
use patchwork_core::net::memory;
use patchwork_core::protocol::securenn::{compute_msb, drelu, share_convert};
use patchwork_core::ring::{odd_add, odd_sub, ODD};
use patchwork_core::splitmix::SplitMix64;
use patchwork_test_support::shares::{self, run_shared};
use proptest::prelude::*;

fn edges() -> Vec<u64> {
    vec![
        0,
        1,
        2,
        1 << 63,
        (1 << 63) - 1,
        u64::MAX - 1,
        12345u64.wrapping_neg(),
        ODD - 2,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn share_convert_gives_shares_over_the_odd_ring(mut xs in proptest::collection::vec(0..ODD, 1..20), seed in any::<u64>()) {
        xs.extend(edges());
        let shares = shares::share(&xs, seed);
        let (out, _) = memory::run(seed, |p| share_convert(p, &shares[p.role().index()]).unwrap());
        for (i, &x) in xs.iter().enumerate() {
            prop_assert_eq!(odd_add(out[0][i], out[1][i]), x);
        }
    }

    #[test]
    fn compute_msb_on_the_odd_ring(mut xs in proptest::collection::vec(0..ODD, 1..20), seed in any::<u64>()) {
        xs.extend(edges());
        let mut g = SplitMix64(seed);
        let s0: Vec<u64> = xs.iter().map(|_| g.next_u64() % ODD).collect();
        let s1: Vec<u64> = xs.iter().zip(&s0).map(|(x, r)| odd_sub(*x, *r)).collect();
        let shares = [s0, s1, vec![0; xs.len()]];
        let (out, _) = memory::run(seed, |p| compute_msb(p, &shares[p.role().index()]).unwrap());
        let opened = shares::open(&out);
        for (i, &x) in xs.iter().enumerate() {
            prop_assert_eq!(opened[i], x >> 63);
        }
    }

    #[test]
    fn securenn_drelu_except_minus_one(mut xs in proptest::collection::vec(0..u64::MAX, 1..20), seed in any::<u64>()) {
        xs.extend(edges());
        let (out, traffic) = run_shared(&xs, seed, |p, a| drelu(p, a).unwrap());
        for (i, &x) in xs.iter().enumerate() {
            prop_assert_eq!(out[i], ((x as i64) >= 0) as u64);
        }
        let model = cost::securenn_drelu(xs.len());
        prop_assert_eq!(traffic.bytes, model.bytes);
        prop_assert_eq!(traffic.rounds, model.rounds);
    }
}

#[test]
fn minus_one_is_securenn_blind_spot() {
    // ShareConvert maps L - 1 to 0, so SecureNN's DReLU(-1) reads as non-negative; Patchwork's
    // DReLU (tests/drelu.rs) gets it right.
    let (out, _) = run_shared(&[u64::MAX], 1, |p, a| drelu(p, a).unwrap());
    assert_eq!(out, vec![1]);
}
