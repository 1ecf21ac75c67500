//! Measured bytes per directed edge and rounds equal the cost model exactly, step by step.

use patchwork_core::cost::{self, Cost};
use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::held::Held;
use patchwork_core::net::memory::{self, Traffic};
use patchwork_core::patch::PatchSize;
use patchwork_core::protocol::bilinear::{Conv2d, Elementwise, MatMul};
use patchwork_core::protocol::brelu::{block_relu, MapShape};
use patchwork_core::protocol::drelu::{drelu, relu, Comparison};
use patchwork_core::protocol::maxpool::{max_pool, Pool};
use patchwork_core::protocol::product::{beaver, PrivateOperand};
use patchwork_core::protocol::select::select_share;
use patchwork_core::protocol::sign::SignProtocol;
use patchwork_core::protocol::truncate::{truncate, Truncation};
use patchwork_core::role::Role;
use patchwork_test_support::shares::run_shared;

fn check(measured: Traffic, model: Cost, what: &str) {
    assert_eq!(measured.bytes, model.bytes, "{what}: bytes per edge");
    assert_eq!(measured.rounds, model.rounds, "{what}: rounds");
}

const CMPS: [Comparison; 3] = [
    Comparison::Exact,
    Comparison::PAPER,
    Comparison::Approx {
        k_msb: 20,
        k_lsb: 3,
    },
];

const SIGNS: [SignProtocol; 2] = [SignProtocol::PrivateCompare, SignProtocol::Fss];

#[test]
fn drelu_and_relu() {
    for (cmp, sign) in CMPS.into_iter().flat_map(|c| SIGNS.map(|s| (c, s))) {
        for n in [1usize, 7, 100] {
            let x: Vec<u64> = (0..n as u64).collect();
            let (_, t) = run_shared(&x, 1, |p, a| {
                p.set_sign_protocol(sign);
                drelu(p, a, cmp).unwrap()
            });
            check(t, cost::drelu(n, cmp, sign), "drelu");
            let (_, t) = run_shared(&x, 2, |p, a| {
                p.set_sign_protocol(sign);
                relu(p, a, cmp).unwrap()
            });
            check(t, cost::relu(n, cmp, sign), "relu");
        }
    }
}

#[test]
fn block_relu_layers() {
    let shape = MapShape {
        channels: 4,
        height: 7,
        width: 5,
    };
    let layers = [
        vec![PatchSize::Block { h: 2, w: 2 }; 4],
        vec![
            PatchSize::Identity,
            PatchSize::Zero,
            PatchSize::Block { h: 3, w: 5 },
            PatchSize::RELU,
        ],
        vec![
            PatchSize::Identity,
            PatchSize::Zero,
            PatchSize::Zero,
            PatchSize::Identity,
        ],
    ];
    for sizes in layers {
        for (cmp, sign) in CMPS.into_iter().flat_map(|c| SIGNS.map(|s| (c, s))) {
            let x = vec![5u64; shape.len()];
            let (_, t) = run_shared(&x, 3, |p, a| {
                p.set_sign_protocol(sign);
                block_relu(p, a, shape, &sizes, cmp).unwrap()
            });
            check(t, cost::block_relu(shape, &sizes, cmp, sign), "block_relu");
        }
    }
}

#[test]
fn products() {
    let conv = Conv2d::same_3x3(3, 4, 6, 6);
    let mm = MatMul { m: 3, k: 4, n: 5 };
    let (x, y) = (vec![1u64; 108], vec![2u64; 108]);
    let (_, t) = memory::run(4, |p| beaver(p, &conv, &x, &y).unwrap());
    check(t, cost::beaver(&conv), "beaver conv");
    let (_, t) = memory::run(4, |p| beaver(p, &mm, &x[..12], &y[..20]).unwrap());
    check(t, cost::beaver(&mm), "beaver matmul");
    let (_, t) = memory::run(5, |p| {
        let w = (p.role() == Role::P1).then_some(&y[..]);
        let op = PrivateOperand::setup(p, 1, 108, Held::from_option(w)).unwrap();
        op.product(p, &conv, &x).unwrap()
    });
    let model = cost::private_operand_setup(108).then(cost::private_operand_product(&conv));
    check(t, model, "private operand conv");
    // A second product reuses the mask: its bytes add up, but P0 receives nothing in a
    // product, so the rounds of independent products overlap and the sum is an upper bound.
    let (_, t) = memory::run(5, |p| {
        let w = (p.role() == Role::P1).then_some(&y[..]);
        let op = PrivateOperand::setup(p, 1, 108, Held::from_option(w)).unwrap();
        let z = op.product(p, &conv, &x).unwrap();
        op.product(p, &conv, &z[..108]).unwrap()
    });
    let model = model.then(cost::private_operand_product(&conv));
    assert_eq!(t.bytes, model.bytes);
    assert!(t.rounds <= model.rounds);
    let (_, t) = memory::run(6, |p| select_share(p, &x[..9], &x[..9], &y[..9]).unwrap());
    check(t, cost::select_share(9), "select_share");
    for mode in [Truncation::Local, Truncation::Assisted] {
        let fp = FixedPoint::new(13).unwrap();
        let (_, t) = memory::run(7, |p| truncate(p, fp, mode, &x[..11]).unwrap());
        check(t, cost::truncate(11, mode), "truncate");
    }
    assert_eq!(cost::select_share(9), cost::beaver(&Elementwise(9)));
}

#[test]
fn max_pool_levels() {
    let shape = MapShape {
        channels: 2,
        height: 6,
        width: 5,
    };
    for pool in [
        Pool {
            kernel: [2, 2],
            stride: [2, 2],
            pad: [0, 0, 0, 0],
        },
        Pool {
            kernel: [3, 3],
            stride: [2, 2],
            pad: [1, 1, 1, 1],
        },
    ] {
        for sign in SIGNS {
            let x = vec![3u64; shape.len()];
            let (_, t) = run_shared(&x, 7, |p, a| {
                p.set_sign_protocol(sign);
                max_pool(p, a, shape, pool, Comparison::Exact).unwrap()
            });
            let model = cost::max_pool(shape, pool, Comparison::Exact, sign);
            check(t, model, "max_pool");
        }
    }
}

#[test]
fn per_element_costs_are_below_the_seed_paper() {
    // Table 2 of the seed paper: r = 3,968 bits per exact DReLU, r* = 1,664 approximate.
    let n = 1000;
    let bits = |c: Cost| c.total_bytes() as f64 * 8.0 / n as f64;
    assert!(
        bits(cost::drelu(
            n,
            Comparison::Exact,
            SignProtocol::PrivateCompare
        )) <= 3968.0
    );
    assert!(
        bits(cost::drelu(
            n,
            Comparison::PAPER,
            SignProtocol::PrivateCompare
        )) <= 1664.0
    );
    // ReLU after DReLU: 5 l = 320 bits per element in the paper.
    assert!(
        bits(cost::relu(
            n,
            Comparison::Exact,
            SignProtocol::PrivateCompare
        )) <= 3968.0 + 320.0
    );
}
