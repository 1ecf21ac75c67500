//! DReLU and ReLU against the plaintext functions, for every role's view combined.

use patchwork_core::protocol::drelu::{drelu, relu, Comparison};
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

#[test]
fn exact_drelu_on_edge_values() {
    let xs = edge_values();
    let (out, _) = run_shared(&xs, 7, |p, a| drelu(p, a, Comparison::Exact).unwrap());
    let expected: Vec<u64> = xs.iter().map(|&x| plain_drelu(x)).collect();
    assert_eq!(out, expected);
}

#[test]
fn exact_relu_on_edge_values() {
    let xs = edge_values();
    let (out, _) = run_shared(&xs, 8, |p, a| relu(p, a, Comparison::Exact).unwrap());
    let expected: Vec<u64> = xs.iter().map(|&x| x * plain_drelu(x)).collect();
    assert_eq!(out, expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn exact_drelu_and_relu_random(xs in proptest::collection::vec(any::<u64>(), 1..40), seed in any::<u64>()) {
        let (d, _) = run_shared(&xs, seed, |p, a| drelu(p, a, Comparison::Exact).unwrap());
        let (r, _) = run_shared(&xs, seed ^ 1, |p, a| relu(p, a, Comparison::Exact).unwrap());
        for (i, &x) in xs.iter().enumerate() {
            prop_assert_eq!(d[i], plain_drelu(x));
            prop_assert_eq!(r[i], x * plain_drelu(x));
        }
    }
}
