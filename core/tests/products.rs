//! Beaver products (elementwise, matmul, conv), the private-operand mode, SelectShare,
//! truncation and MaxPool against plaintext.

use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::held::Held;
use patchwork_core::net::memory;
use patchwork_core::protocol::bilinear::{Bilinear, Conv2d, Elementwise, MatMul};
use patchwork_core::protocol::brelu::MapShape;
use patchwork_core::protocol::drelu::Comparison;
use patchwork_core::protocol::maxpool::{max_pool, Pool};
use patchwork_core::protocol::product::{beaver, PrivateOperand};
use patchwork_core::protocol::select::select_share;
use patchwork_core::protocol::truncate::{truncate, Truncation};
use patchwork_core::role::Role;
use patchwork_core::splitmix::SplitMix64;
use patchwork_test_support::shares::{self, run_shared, share};
use proptest::prelude::*;

/// Runs a two-operand product on shared x and shared y.
fn shared_product<Op: Bilinear + Sync>(op: &Op, x: &[u64], y: &[u64], seed: u64) -> Vec<u64> {
    let (xs, ys) = (share(x, seed), share(y, seed ^ 0xabc));
    let (out, _) = memory::run(seed, |p| {
        beaver(p, op, &xs[p.role().index()], &ys[p.role().index()]).unwrap()
    });
    shares::open(&out)
}

fn random(n: usize, seed: u64) -> Vec<u64> {
    let mut g = SplitMix64(seed);
    (0..n).map(|_| g.next_u64()).collect()
}

/// Values for the assisted truncation: anywhere in its range `|x| < 2^62`, with the edges.
fn truncation_input() -> impl Strategy<Value = i64> {
    let edge = (1i64 << 62) - 1;
    prop_oneof![
        Just(0i64),
        Just(1),
        Just(-1),
        Just(edge),
        Just(-edge),
        -edge..=edge,
        -(1i64 << 40)..(1i64 << 40),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn assisted_truncation_rounds_down_or_up(
        x in proptest::collection::vec(truncation_input(), 1..40),
        f in 0u32..=32,
        seed in any::<u64>(),
    ) {
        let fp = FixedPoint::new(f).unwrap();
        let secret: Vec<u64> = x.iter().map(|&v| v as u64).collect();
        let (out, _) = run_shared(&secret, seed, |p, a| truncate(p, fp, Truncation::Assisted, a).unwrap());
        for (v, got) in x.iter().zip(out) {
            let floor = v >> f;
            let got = got as i64;
            prop_assert!(got == floor || got == floor + 1, "{v} >> {f}: got {got}, floor {floor}");
            if v & ((1i64 << f) - 1) == 0 {
                prop_assert_eq!(got, floor, "a multiple of 2^f is exact");
            }
        }
    }

    #[test]
    fn beaver_elementwise(n in 1usize..50, seed in any::<u64>()) {
        let (x, y) = (random(n, seed), random(n, !seed));
        let op = Elementwise(n);
        prop_assert_eq!(shared_product(&op, &x, &y, seed), op.apply(&x, &y));
    }

    #[test]
    fn beaver_matmul(m in 1usize..6, k in 1usize..6, n in 1usize..6, seed in any::<u64>()) {
        let op = MatMul { m, k, n };
        let (x, y) = (random(op.lhs_len(), seed), random(op.rhs_len(), !seed));
        prop_assert_eq!(shared_product(&op, &x, &y, seed), op.apply(&x, &y));
    }

    #[test]
    fn private_operand_conv_reused_across_products(seed in any::<u64>(), groups in 1usize..3) {
        let op = Conv2d { in_c: 2 * groups, in_h: 5, in_w: 4, out_c: 2 * groups, kh: 3, kw: 3, stride: [1, 1], pad: [1, 1, 1, 1], dilation: [1, 1], groups };
        let w = random(op.rhs_len(), seed);
        let inputs = [random(op.lhs_len(), seed + 1), random(op.lhs_len(), seed + 2)];
        let shared: Vec<[Vec<u64>; 3]> = inputs.iter().map(|x| share(x, seed)).collect();
        let (out, _) = memory::run(seed, |p| {
            let mine = (p.role() == Role::P1).then_some(&w[..]);
            let operand = PrivateOperand::setup(p, 7, op.rhs_len(), Held::from_option(mine)).unwrap();
            shared.iter().map(|s| operand.product(p, &op, &s[p.role().index()]).unwrap()).collect::<Vec<_>>()
        });
        for (i, x) in inputs.iter().enumerate() {
            let opened: Vec<u64> = out[0][i].iter().zip(&out[1][i]).map(|(a, b)| a.wrapping_add(*b)).collect();
            prop_assert_eq!(opened, op.apply(x, &w));
        }
    }

    #[test]
    fn select_share_picks(bits in proptest::collection::vec(0u64..2, 1..30), seed in any::<u64>()) {
        let n = bits.len();
        let (x, y) = (random(n, seed), random(n, !seed));
        let (bs, xs, ys) = (share(&bits, seed), share(&x, seed + 1), share(&y, seed + 2));
        let (out, _) = memory::run(seed, |p| {
            let i = p.role().index();
            select_share(p, &bs[i], &xs[i], &ys[i]).unwrap()
        });
        let expected: Vec<u64> = (0..n).map(|i| if bits[i] == 1 { y[i] } else { x[i] }).collect();
        prop_assert_eq!(shares::open(&out), expected);
    }

    #[test]
    fn max_pool_matches_plaintext(c in 1usize..3, h in 2usize..7, w in 2usize..7, k in 2usize..4, s in 1usize..3, pad in 0usize..2, seed in any::<u64>()) {
        prop_assume!(pad < k);
        let shape = MapShape { channels: c, height: h, width: w };
        let pool = Pool { kernel: [k.min(h + pad), k.min(w + pad)], stride: [s, s], pad: [pad, pad, 0, 0] };
        let mut g = SplitMix64(seed);
        let x: Vec<i64> = (0..shape.len()).map(|_| (g.next_u64() % 2001) as i64 - 1000).collect();
        let secret: Vec<u64> = x.iter().map(|&v| v as u64).collect();
        let (out, _) = run_shared(&secret, seed, |p, a| max_pool(p, a, shape, pool, Comparison::Exact).unwrap());
        let expected: Vec<u64> = pool.windows(shape).iter().map(|win| win.iter().map(|&i| x[i]).max().unwrap() as u64).collect();
        prop_assert_eq!(out, expected);
    }
}

#[test]
fn fixed_point_product_then_truncation() {
    let fp = FixedPoint::new(12).unwrap();
    let xs = [1.5f32, -2.25, 0.125, 100.0, -0.001];
    let ys = [2.0f32, 3.5, -8.0, -0.5, 7.0];
    let enc = |v: &[f32]| v.iter().map(|&x| fp.encode(x).unwrap()).collect::<Vec<_>>();
    let (x, y) = (enc(&xs), enc(&ys));
    let (xsh, ysh) = (share(&x, 1), share(&y, 2));
    let (out, _) = memory::run(3, |p| {
        let i = p.role().index();
        let z = beaver(p, &Elementwise(x.len()), &xsh[i], &ysh[i]).unwrap();
        truncate(p, fp, Truncation::Local, &z).unwrap()
    });
    for (i, v) in shares::open(&out).into_iter().enumerate() {
        let got = fp.decode(v);
        let want = (xs[i] * ys[i]) as f64;
        assert!(
            (got - want).abs() <= 2.0 / 4096.0 + 1e-3 * want.abs(),
            "{got} vs {want}"
        );
    }
}
