//! Privacy check: what each party receives does not depend on the secret inputs.
//!
//! For two different secret inputs we run many sessions (fresh keys and shares each time),
//! record every message each party receives, and compare the two distributions with a
//! two-sample chi-square test over byte values (per receiver, sender and message kind) and,
//! for P2, over the feature it could compute from PrivateCompare: where in the reconstructed
//! list a zero appears, if any. The threshold is the 1e-6 tail of the chi-square law, so a pass
//! is no accident of tuning; a control shows the same test flags a feature that does depend
//! on the input.
mod common;

use std::sync::Mutex;

use common::share;
use common::view::{assert_same_distribution, assert_same_views, distinguishable, Recording, View};
use patchwork_core::net::memory::{self, MemoryTransport};
use patchwork_core::party::Party;
use patchwork_core::protocol::drelu::{drelu, relu, Comparison};
use patchwork_core::role::Role;

/// Runs `sessions` sessions of `f` on `secret` and returns everything received.
fn views(
    secret: &[u64],
    sessions: u64,
    f: impl Fn(&mut Party<Recording<MemoryTransport>>, &[u64]) + Sync,
) -> View {
    let log = Mutex::new(View::new());
    for s in 0..sessions {
        let seed = 1000 + s; // the same seeds for both secrets: only the secret differs
        let shares = share(secret, seed);
        let (ends, _) = memory::network(std::time::Duration::from_secs(10));
        let keys = memory::seeded_keys(seed);
        std::thread::scope(|sc| {
            for ((t, k), sh) in ends.into_iter().zip(keys).zip(&shares) {
                let (log, f) = (&log, &f);
                sc.spawn(move || {
                    let me = k.role();
                    let mut p = Party::new(k, Recording { inner: t, log, me });
                    f(&mut p, sh);
                });
            }
        });
    }
    log.into_inner().unwrap()
}

/// Where P2's reconstructed PrivateCompare list has a zero (64 = none), per comparison.
fn zero_positions(view: &View, bits: usize) -> Vec<u64> {
    let (m0, m1) = (&view[&(2, 0, 3)], &view[&(2, 1, 3)]);
    let mut h = vec![0u64; 65];
    for (a, b) in m0.iter().zip(m1) {
        let n = a.len() * 8 / 7 / bits;
        let a = patchwork_core::bitpack::unpack(a, n * bits, 7);
        let b = patchwork_core::bitpack::unpack(b, n * bits, 7);
        for e in 0..n {
            let pos = (0..bits).find(|&i| (a[e * bits + i] + b[e * bits + i]).is_multiple_of(67));
            h[pos.unwrap_or(64)] += 1;
        }
    }
    h
}

fn compare_views(name: &str, va: &View, vb: &View, bits: usize) {
    assert_same_views(name, va, vb);
    assert_same_distribution(
        &format!("{name}: P2's zero positions"),
        &zero_positions(va, bits),
        &zero_positions(vb, bits),
    );
}

const N: usize = 64;
const SESSIONS: u64 = 120;

#[test]
fn drelu_and_relu_views_do_not_depend_on_the_input() {
    // Two inputs with opposite signs everywhere.
    let a: Vec<u64> = (0..N as u64).map(|i| 1000 + i).collect();
    let b: Vec<u64> = (0..N as i64).map(|i| (-5 - i * 77) as u64).collect();
    for (name, cmp) in [("exact", Comparison::Exact), ("approx", Comparison::PAPER)] {
        let run = |x: &[u64]| {
            views(x, SESSIONS, |p, s| {
                drelu(p, s, cmp).unwrap();
                relu(p, s, cmp).unwrap();
            })
        };
        compare_views(name, &run(&a), &run(&b), cmp.width() as usize - 1);
    }
}

#[test]
fn block_relu_product_and_truncation_views_do_not_depend_on_the_inputs() {
    use patchwork_core::patch::PatchSize;
    use patchwork_core::protocol::bilinear::Conv2d;
    use patchwork_core::protocol::brelu::{block_relu, MapShape};
    use patchwork_core::protocol::product::PrivateOperand;
    use patchwork_core::protocol::truncate::{truncate, Truncation};
    let shape = MapShape {
        channels: 4,
        height: 4,
        width: 4,
    };
    let sizes = [
        PatchSize::Block { h: 2, w: 2 },
        PatchSize::RELU,
        PatchSize::Block { h: 3, w: 4 },
        PatchSize::Identity,
    ];
    let conv = Conv2d {
        in_c: 4,
        in_h: 4,
        in_w: 4,
        out_c: 2,
        kh: 3,
        kw: 3,
        stride: [1, 1],
        pad: [1; 4],
        dilation: [1, 1],
        groups: 1,
    };
    // Two different inputs and two different models (weights held by P1), same shapes.
    let run = |x: &[u64], w: u64| {
        views(x, SESSIONS, |p, s| {
            block_relu(p, s, shape, &sizes, Comparison::PAPER).unwrap();
            let weights = vec![w; 72];
            let mine = (p.role() == Role::P1).then_some(&weights[..]);
            let op = PrivateOperand::setup(p, 1, 72, mine).unwrap();
            op.product(p, &conv, s).unwrap();
            let fp = patchwork_core::fixed_point::FixedPoint::new(12).unwrap();
            truncate(p, fp, Truncation::Assisted, s).unwrap();
        })
    };
    let a: Vec<u64> = (0..64u64).map(|i| i * 1000).collect();
    let b: Vec<u64> = (0..64i64).map(|i| (-7 - i * 300) as u64).collect();
    assert_same_views(
        "block-ReLU and product",
        &run(&a, 3),
        &run(&b, (-12i64) as u64),
    );
}

#[test]
fn the_test_detects_a_feature_that_depends_on_the_input() {
    // Control: the opened sign bits of the two inputs are fully different distributions.
    let sign_hist = |x: &[u64]| {
        let mut h = vec![0u64; 2];
        for _ in 0..SESSIONS {
            x.iter().for_each(|&v| h[(v >> 63) as usize] += 1);
        }
        h
    };
    let a: Vec<u64> = (0..N as u64).map(|i| 1000 + i).collect();
    let b: Vec<u64> = (0..N as i64).map(|i| (-5 - i) as u64).collect();
    assert!(distinguishable(&sign_hist(&a), &sign_hist(&b)));
}
