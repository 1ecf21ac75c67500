//! Criterion benchmark of the wrapping 64-bit matrix product behind every convolution and
//! linear layer (`patchwork_core::gemm`, AVX-512 where the processor has it): square products,
//! the im2col shape of a 3x3, 64-channel convolution on a 32x32 map, and two narrow ones (few
//! output columns: convolutions on small maps). `cargo bench --bench gemm`.
// `criterion_group!` defines a public function it cannot document.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use patchwork_core::gemm::gemm_acc;
use patchwork_core::splitmix::SplitMix64;

fn random(n: usize, seed: u64) -> Vec<u64> {
    let mut g = SplitMix64(seed);
    (0..n).map(|_| g.next_u64()).collect()
}

fn gemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm_acc");
    for (name, (m, k, n)) in [
        ("128x128x128", (128, 128, 128)),
        ("256x256x256", (256, 256, 256)),
        ("conv3x3_64_on_32x32", (1024, 576, 64)),
        // Falcon's AlexNet for CIFAR-10: 5x5 from 96 to 256 channels on a 3x3 map, and 3x3
        // from 256 to 384 on a 1x1 map (one output column: a matrix-vector product).
        ("conv5x5_96_to_256_on_3x3", (256, 2400, 9)),
        ("conv3x3_256_to_384_on_1x1", (384, 2304, 1)),
    ] {
        let (a, b) = (random(m * k, 1), random(k * n, 2));
        let mut out = vec![0u64; m * n];
        group.throughput(Throughput::Elements((m * k * n) as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| gemm_acc(m, k, n, &a, &b, &mut out))
        });
    }
    group.finish();
}

criterion_group!(benches, gemm);
criterion_main!(benches);
