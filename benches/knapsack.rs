//! Criterion benchmark of the exact multiple-choice knapsack (seed paper eq. 5) on synthetic
//! distortion tables with the layer shapes of the paper's networks, at half the ReLUs' DReLUs.
//! `cargo bench --bench knapsack`; `knapsack-bench` (gpu-planner) prints the tables of
//! BENCHMARKS.md.
// `criterion_group!` defines a public function it cannot document.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use patchwork_planner::budget::Budget;
use patchwork_planner::mckp::SolveOptions;
use patchwork_planner::plan::plan;
use patchwork_planner::synth;

fn knapsack(c: &mut Criterion) {
    let mut group = c.benchmark_group("knapsack");
    for (name, shapes) in [
        ("resnet18_cifar", synth::resnet18_cifar()),
        (
            "resnet50_imagenet_first8",
            synth::resnet50_imagenet()[..8].to_vec(),
        ),
    ] {
        let table = synth::table(&shapes, 1);
        group.bench_function(name, |b| {
            b.iter(|| plan(&table, Budget::Ratio(0.5), &SolveOptions::default()).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = knapsack
}
criterion_main!(benches);
