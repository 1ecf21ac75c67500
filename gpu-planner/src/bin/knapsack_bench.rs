//! Times the exact knapsack solver on synthetic ResNet-shaped distortion tables
//! (see `gpu-planner/BENCHMARKS.md`).
//!
//! Usage: `knapsack-bench [--ratio R] [--seed S]` (defaults 0.06 and 1). Every network is run
//! with four kinds of synthetic distortions: 10% noise (the default tables), 50% noise (less
//! convex per-channel curves), the 10% tables rounded to integers (many ties: the hardest case
//! seen), and structure-free uniform distortions. Also times reading the ResNet50 table from
//! JSON, as `patchwork plan knapsack` does.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant;

use patchwork_planner::budget::Budget;
use patchwork_planner::mckp::{self, Problem, SolveOptions};
use patchwork_planner::synth::{self, Shape};
use patchwork_planner::table::DistortionTable;

/// How the synthetic distortions are made.
#[derive(Clone, Copy)]
enum Kind {
    /// Grow with patch area, with this much multiplicative noise.
    Noise(f64),
    /// As `Noise(0.1)`, rounded to integers (many ties).
    Integer,
    /// Uniform random, no structure.
    Unstructured,
}

const KINDS: [Kind; 4] = [
    Kind::Noise(0.1),
    Kind::Noise(0.5),
    Kind::Integer,
    Kind::Unstructured,
];

fn main() -> ExitCode {
    let (ratio, seed) = match parse_args() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("knapsack-bench: {e}\nusage: knapsack-bench [--ratio R] [--seed S]");
            return ExitCode::from(2);
        }
    };
    match run(&mut io::stdout().lock(), ratio, seed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("knapsack-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(out: &mut impl Write, ratio: f64, seed: u64) -> Result<(), String> {
    let io = |e: io::Error| e.to_string();
    writeln!(
        out,
        "{:<30} {:>8} {:>9} {:>9} {:>8} {:>8} {:>8} {:>6} {:>10} {:>14} {:>10} {:>7}",
        "instance",
        "classes",
        "items",
        "budget",
        "relax_s",
        "search_s",
        "total_s",
        "core",
        "states",
        "distortion",
        "gap",
        "optimal"
    )
    .map_err(io)?;
    let networks = [
        ("resnet50-imagenet", synth::resnet50_imagenet()),
        ("resnet18-cifar100", synth::resnet18_cifar()),
    ];
    let mut details = Vec::new();
    for (network, shapes) in &networks {
        for kind in KINDS {
            let (table, name) = make_table(network, shapes, kind, seed);
            let budget = Budget::Ratio(ratio)
                .resolve(table.total_relus())
                .map_err(|e| e.to_string())?;
            let problem = Problem::from_table(&table).map_err(|e| e.to_string())?;
            let start = Instant::now();
            let solution = mckp::solve(&problem, budget, &SolveOptions::default())
                .map_err(|e| format!("{name}: {e}"))?;
            let total = start.elapsed().as_secs_f64();
            let st = &solution.stats;
            writeln!(
                out,
                "{:<30} {:>8} {:>9} {:>9} {:>8.3} {:>8.3} {:>8.3} {:>6} {:>10} {:>14.6} {:>10.3e} {:>7}",
                name,
                problem.classes(),
                problem.items(),
                budget,
                st.relax_seconds,
                st.search_seconds,
                total,
                st.core_classes,
                st.total_states,
                solution.cost,
                solution.gap(),
                solution.proven_optimal
            )
            .map_err(io)?;
            details.push(format!(
                "  {name}: lambda {:.6e}, LP bound {:.6}, first incumbent {:.6}, core items {}, peak states {}, drelus {}",
                st.lambda, st.lp_bound, st.heuristic_cost, st.core_items, st.peak_states, solution.weight
            ));
        }
    }
    for line in details {
        writeln!(out, "{line}").map_err(io)?;
    }
    let table = synth::table(&networks[0].1, seed);
    let text = serde_json::to_string(&table).map_err(|e| e.to_string())?;
    let start = Instant::now();
    DistortionTable::from_json(&text).map_err(|e| e.to_string())?;
    writeln!(
        out,
        "reading + validating the resnet50 table from JSON ({:.1} MB): {:.3} s",
        text.len() as f64 / 1e6,
        start.elapsed().as_secs_f64()
    )
    .map_err(io)
}

fn make_table(network: &str, shapes: &[Shape], kind: Kind, seed: u64) -> (DistortionTable, String) {
    match kind {
        Kind::Noise(noise) => (
            synth::table_with_noise(shapes, seed, noise),
            format!("{network} noise {noise}"),
        ),
        Kind::Integer => {
            let mut t = synth::table(shapes, seed);
            t.layers
                .iter_mut()
                .flat_map(|l| l.distortion.iter_mut().flatten())
                .for_each(|d| *d = d.round());
            (t, format!("{network} integer"))
        }
        Kind::Unstructured => (
            synth::unstructured_table(shapes, seed),
            format!("{network} unstructured"),
        ),
    }
}

fn parse_args() -> Result<(f64, u64), String> {
    let mut ratio = 0.06;
    let mut seed = 1;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next().ok_or_else(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--ratio" => ratio = value.parse().map_err(|_| format!("bad ratio '{value}'"))?,
            "--seed" => seed = value.parse().map_err(|_| format!("bad seed '{value}'"))?,
            _ => return Err(format!("unknown argument '{a}'")),
        }
    }
    Ok((ratio, seed))
}
