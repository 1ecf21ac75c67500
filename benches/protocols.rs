//! Criterion benchmarks of the protocol steps over the in-memory three-party network (all three
//! parties in this process, one thread each): exact and approximate DReLU (seed paper's
//! (43, 5)), Block-ReLU with 2x2 and 4x4 patches, a 3x3 convolution with P1's weights, and the
//! DCF of `--sign fss` (key generation, P2's; evaluation, P0's and P1's) on 16-bit inputs.
//! `cargo bench --bench protocols`; `patchwork bench protocols` prints bits and rounds beside.
// `criterion_group!` defines a public function it cannot document.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use patchwork_core::held::Held;
use patchwork_core::net::memory;
use patchwork_core::patch::PatchSize;
use patchwork_core::protocol::bilinear::Conv2d;
use patchwork_core::protocol::brelu::{block_relu, MapShape};
use patchwork_core::protocol::dcf;
use patchwork_core::protocol::drelu::{drelu, Comparison};
use patchwork_core::protocol::product::PrivateOperand;
use patchwork_core::role::Role;
use patchwork_core::splitmix::SplitMix64;

/// Elements per step: 16 channels of 32x32.
const N: usize = 16 * 32 * 32;

fn values(n: usize, seed: u64) -> Vec<u64> {
    let mut g = SplitMix64(seed);
    (0..n).map(|_| g.next_u64() >> 40).collect()
}

fn drelus(c: &mut Criterion) {
    let x = values(N, 1);
    let mut group = c.benchmark_group("drelu");
    group.throughput(Throughput::Elements(N as u64));
    for (name, cmp) in [
        ("exact", Comparison::Exact),
        ("approx_43_5", Comparison::PAPER),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| memory::run(7, |p| drelu(p, &x, cmp).unwrap()))
        });
    }
    group.finish();
}

fn block_relus(c: &mut Criterion) {
    let shape = MapShape {
        channels: 16,
        height: 32,
        width: 32,
    };
    let x = values(shape.len(), 2);
    let mut group = c.benchmark_group("block_relu");
    group.throughput(Throughput::Elements(shape.len() as u64));
    for k in [2u16, 4] {
        let sizes = vec![PatchSize::Block { h: k, w: k }; shape.channels];
        group.bench_with_input(
            BenchmarkId::new("approx_43_5", format!("{k}x{k}")),
            &sizes,
            |b, sizes| {
                b.iter(|| {
                    memory::run(7, |p| {
                        block_relu(p, &x, shape, sizes, Comparison::PAPER).unwrap()
                    })
                })
            },
        );
    }
    group.finish();
}

fn private_conv(c: &mut Criterion) {
    // A ResNet18-style 3x3 convolution, 64 -> 64 channels on 16x16, P1's weights masked once.
    let conv = Conv2d::same_3x3(64, 64, 16, 16);
    let (w, x) = (values(64 * 64 * 9, 3), values(64 * 16 * 16, 4));
    let mut group = c.benchmark_group("private_operand_conv3x3_64");
    group.throughput(Throughput::Elements((64 * 16 * 16) as u64));
    group.bench_function("setup_and_product", |b| {
        b.iter(|| {
            memory::run(7, |p| {
                let mine = (p.role() == Role::P1).then_some(&w[..]);
                let op = PrivateOperand::setup(p, 1, w.len(), Held::from_option(mine)).unwrap();
                op.product(p, &conv, &x).unwrap()
            })
        })
    });
    group.finish();
}

fn dcfs(c: &mut Criterion) {
    // The approximate window's comparisons: 16-bit inputs (l* = 16), N of them in one call.
    let bits = 16;
    let low = |seed| -> Vec<u64> { values(N, seed).iter().map(|v| v & 0xffff).collect() };
    let (alpha, x, beta) = (low(5), low(6), values(N, 7));
    let roots = |salt: u64| -> Vec<u128> {
        let mut g = SplitMix64(salt);
        (0..N)
            .map(|_| dcf::seed(g.next_u64(), g.next_u64()))
            .collect()
    };
    let (r0, r1) = (roots(8), roots(9));
    let cw = dcf::generate(&alpha, &beta, bits, [&r0, &r1]);
    let mut group = c.benchmark_group("dcf_16bit");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("generate", |b| {
        b.iter(|| dcf::generate(&alpha, &beta, bits, [&r0, &r1]))
    });
    group.bench_function("evaluate", |b| {
        b.iter(|| dcf::evaluate(1, &r1, &cw, &x, bits).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = protocols;
    config = Criterion::default().sample_size(10);
    targets = drelus, block_relus, private_conv, dcfs
}
criterion_main!(protocols);
