//! Privacy check: each party's joint view does not depend on the other parties' secrets.
//!
//! For two different secrets we run many sessions (the same keys and shares for both, so only
//! the secret differs), record everything each party receives and sends per step and message,
//! plus its own share of each comparison outcome, and compare the two runs with two-sample
//! chi-square tests: over each entry's bytes and over the relations between entries
//! (`common/view.rs`: XOR, sum and difference within a step, what a party could open and its
//! change between steps) and, for P2, over the feature it could compute from PrivateCompare:
//! where in the reconstructed list a zero appears, if any. The threshold is the 1e-6 tail of
//! the chi-square law, so a pass is no accident of tuning.
//!
//! The tests' power is shown by mutation: `.ci/run` runs this file with each of the core's
//! test-only `leak-*` features (masks that cancel at P2, a mask reused across steps, a share of
//! the sign sent to P2), and each must fail; the controls at the end check the statistic on
//! synthetic views.

use std::sync::Mutex;

use patchwork_core::held::Held;
use patchwork_core::net::memory::{self, MemoryTransport};
use patchwork_core::party::Party;
use patchwork_core::patch::PatchSize;
use patchwork_core::protocol::brelu::MapShape;
use patchwork_core::protocol::drelu::{relu, Comparison};
use patchwork_core::protocol::sign;
use patchwork_core::role::Role;
use patchwork_core::splitmix::SplitMix64;
use patchwork_test_support::shares::share;
use patchwork_test_support::view::{
    assert_same_distribution, assert_same_views, distinguishable, Dir, Recording, View,
};

type P<'a> = Party<Recording<'a, MemoryTransport>>;

/// Runs `sessions` sessions of `f` on `secret` and returns every party's view.
fn views(secret: &[u64], sessions: u64, f: impl Fn(&mut P<'_>, &[u64]) + Sync) -> View {
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

/// DReLU written out from its stages, so that each party's share of the comparison outcome
/// (`beta~` for P0 and P1, `gamma` for P2) goes into its view.
fn drelu_recorded(p: &mut P<'_>, a: &[u64], cmp: Comparison) {
    let step = p.begin_step();
    let reduced: Vec<u64> = if p.role() == Role::P2 {
        vec![]
    } else {
        a.iter().map(|&s| cmp.reduce_share(s)).collect()
    };
    let split = sign::split(p, step, &reduced, a.len(), cmp.width())
        .unwrap()
        .expect("a joint step runs whole");
    let sign::SplitSign::Bits(bits) = &split else {
        panic!("PrivateCompare decides in bits");
    };
    p.transport().own(step.seq, 1, bits);
    sign::bits_to_shares(p, step, &split).unwrap();
}

/// Where P2's reconstructed PrivateCompare list has a zero (64 = none), per comparison.
fn zero_positions(view: &View, bits: usize) -> Vec<u64> {
    let compare = |from: usize| {
        view.iter()
            .filter(move |(k, _)| k.0 == 2 && k.1 == from && k.2 == Dir::Received && k.4 == 3)
            .flat_map(|(_, v)| v)
    };
    let mut h = vec![0u64; 65];
    for (a, b) in compare(0).zip(compare(1)) {
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
    assert_same_views(name, va, vb, &Role::ALL);
    assert_same_distribution(
        &format!("{name}: P2's zero positions"),
        &zero_positions(va, bits),
        &zero_positions(vb, bits),
    );
}

const N: usize = 64;
const SESSIONS: u64 = 120;

#[test]
fn drelu_and_relu_joint_views_do_not_depend_on_the_input() {
    // Two inputs with opposite signs everywhere.
    let a: Vec<u64> = (0..N as u64).map(|i| 1000 + i).collect();
    let b: Vec<u64> = (0..N as i64).map(|i| (-5 - i * 77) as u64).collect();
    for (name, cmp) in [("exact", Comparison::Exact), ("approx", Comparison::PAPER)] {
        let run = |x: &[u64]| {
            views(x, SESSIONS, |p, s| {
                drelu_recorded(p, s, cmp);
                relu(p, s, cmp).unwrap();
                // Another value in a later step: a mask reused across steps would open the
                // difference of the two.
                let doubled: Vec<u64> = s.iter().map(|v| v.wrapping_mul(2)).collect();
                relu(p, &doubled, cmp).unwrap();
            })
        };
        compare_views(name, &run(&a), &run(&b), cmp.width() as usize - 1);
    }
}

/// A Block-ReLU layer of 64 values with patches of every kind.
fn block_layer() -> (MapShape, [PatchSize; 4]) {
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
    (shape, sizes)
}

#[test]
fn fss_sign_views_do_not_depend_on_the_input() {
    use patchwork_core::protocol::brelu::block_relu;
    use patchwork_core::protocol::drelu::drelu;
    use patchwork_core::protocol::sign::SignProtocol;
    let a: Vec<u64> = (0..N as u64).map(|i| 1000 + i).collect();
    let b: Vec<u64> = (0..N as i64).map(|i| (-5 - i * 77) as u64).collect();
    let (shape, sizes) = block_layer();
    for (name, cmp) in [
        ("fss exact", Comparison::Exact),
        ("fss approx", Comparison::PAPER),
    ] {
        let run = |x: &[u64]| {
            views(x, SESSIONS, |p, s| {
                p.set_sign_protocol(SignProtocol::Fss);
                // Each holder's DReLU shares (of the session's first step) go into its view.
                let d = drelu(p, s, cmp).unwrap();
                let bytes: Vec<u8> = d.iter().flat_map(|v| v.to_le_bytes()).collect();
                p.transport().own(1, 99, &bytes);
                relu(p, s, cmp).unwrap();
                // A mask reused across steps would open the difference of the two.
                let doubled: Vec<u64> = s.iter().map(|v| v.wrapping_mul(2)).collect();
                relu(p, &doubled, cmp).unwrap();
                block_relu(p, s, shape, &sizes, cmp).unwrap();
            })
        };
        assert_same_views(name, &run(&a), &run(&b), &Role::ALL);
    }
}

#[test]
fn block_relu_product_and_truncation_views_do_not_depend_on_the_inputs() {
    use patchwork_core::protocol::bilinear::Conv2d;
    use patchwork_core::protocol::brelu::block_relu;
    use patchwork_core::protocol::product::PrivateOperand;
    use patchwork_core::protocol::truncate::{truncate, Truncation};
    let (shape, sizes) = block_layer();
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
    // Two different inputs, and two different models (weights held by P1), same shapes.
    let run = |x: &[u64], w: u64| {
        views(x, SESSIONS, |p, s| {
            block_relu(p, s, shape, &sizes, Comparison::PAPER).unwrap();
            let weights = vec![w; 72];
            let mine = (p.role() == Role::P1).then_some(&weights[..]);
            let op = PrivateOperand::setup(p, 1, 72, Held::from_option(mine)).unwrap();
            op.product(p, &conv, s).unwrap();
            let fp = patchwork_core::fixed_point::FixedPoint::new(12).unwrap();
            truncate(p, fp, Truncation::Assisted, s).unwrap();
        })
    };
    let a: Vec<u64> = (0..64u64).map(|i| i * 1000).collect();
    let b: Vec<u64> = (0..64i64).map(|i| (-7 - i * 300) as u64).collect();
    let base = run(&a, 3);
    assert_same_views("another input", &base, &run(&b, 3), &Role::ALL);
    // P1's view may depend on its own weights.
    let other_model = run(&a, (-12i64) as u64);
    assert_same_views("another model", &base, &other_model, &[Role::P0, Role::P2]);
}

#[test]
fn the_statistic_detects_a_feature_that_depends_on_the_input() {
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

/// A synthetic view of P2 in which each message from P0 and P1 is uniform but their sum is the
/// secret (the cancelling-masks leak); `dir` and `msg` place them.
fn cancelling_view(secret: u64, steps: [u64; 2]) -> View {
    let mut g = SplitMix64(7);
    let mut v = View::new();
    for _ in 0..SESSIONS {
        let (mut m0, mut m1) = (Vec::new(), Vec::new());
        for _ in 0..N {
            let r = g.next_u64();
            m0.extend(r.to_le_bytes());
            m1.extend(secret.wrapping_sub(r).to_le_bytes());
        }
        v.entry((2, 0, Dir::Received, steps[0], 4))
            .or_default()
            .push(m0);
        v.entry((2, 1, Dir::Received, steps[1], 4))
            .or_default()
            .push(m1);
    }
    v
}

#[test]
fn the_joint_tests_catch_relations_that_each_message_hides() {
    let caught = |a: View, b: View| {
        std::panic::catch_unwind(|| assert_same_views("control", &a, &b, &[Role::P2])).is_err()
    };
    // Same step: the sum of the two senders' messages; across steps: what P2 could open.
    assert!(caught(
        cancelling_view(1000, [1, 1]),
        cancelling_view(-5i64 as u64, [1, 1])
    ));
    assert!(caught(
        cancelling_view(1000, [1, 2]),
        cancelling_view(-5i64 as u64, [1, 2])
    ));
    // Each message alone is uniform: with one sender's messages only, nothing is found.
    let alone = |v: View| v.into_iter().filter(|(k, _)| k.1 == 0).collect::<View>();
    assert!(!caught(
        alone(cancelling_view(1000, [1, 1])),
        alone(cancelling_view(-5i64 as u64, [1, 1]))
    ));
}
