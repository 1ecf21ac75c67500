//! DReLU and ReLU against the plaintext functions, for every role's view combined.

use patchwork_core::protocol::drelu::{drelu, relu, Comparison};
use patchwork_core::protocol::sign::SignProtocol;
use patchwork_test_support::shares::run_shared;
use proptest::prelude::*;

fn edge_values() -> Vec<u64> {
    let mut v = vec![0, 1, u64::MAX, 1 << 63, (1 << 63) - 1, 2, u64::MAX - 1];
    v.extend([
        (1u64 << 20),
        (1u64 << 20).wrapping_neg(),
        12345,
        12345u64.wrapping_neg(),
    ]);
    v
}

fn plain_drelu(x: u64) -> u64 {
    ((x as i64) >= 0) as u64
}

const SIGNS: [SignProtocol; 2] = [SignProtocol::PrivateCompare, SignProtocol::Fss];

#[test]
fn exact_drelu_on_edge_values() {
    let xs = edge_values();
    for sign in SIGNS {
        let (out, t) = run_shared(&xs, 7, |p, a| {
            p.set_sign_protocol(sign);
            drelu(p, a, Comparison::Exact).unwrap()
        });
        let expected: Vec<u64> = xs.iter().map(|&x| plain_drelu(x)).collect();
        assert_eq!(out, expected, "{sign}");
        let rounds = if sign == SignProtocol::Fss { 1 } else { 3 };
        assert_eq!(t.rounds, rounds, "{sign}");
    }
}

#[test]
fn exact_relu_on_edge_values() {
    let xs = edge_values();
    for sign in SIGNS {
        let (out, t) = run_shared(&xs, 8, |p, a| {
            p.set_sign_protocol(sign);
            relu(p, a, Comparison::Exact).unwrap()
        });
        let expected: Vec<u64> = xs.iter().map(|&x| x * plain_drelu(x)).collect();
        assert_eq!(out, expected, "{sign}");
        let rounds = if sign == SignProtocol::Fss { 2 } else { 3 };
        assert_eq!(t.rounds, rounds, "{sign}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn exact_drelu_and_relu_random(xs in proptest::collection::vec(any::<u64>(), 1..40), seed in any::<u64>(), sign in proptest::sample::select(SIGNS.to_vec())) {
        let (d, _) = run_shared(&xs, seed, |p, a| { p.set_sign_protocol(sign); drelu(p, a, Comparison::Exact).unwrap() });
        let (r, _) = run_shared(&xs, seed ^ 1, |p, a| { p.set_sign_protocol(sign); relu(p, a, Comparison::Exact).unwrap() });
        for (i, &x) in xs.iter().enumerate() {
            prop_assert_eq!(d[i], plain_drelu(x));
            prop_assert_eq!(r[i], x * plain_drelu(x));
        }
    }
}
