//! Times the exact knapsack solver on synthetic ResNet-shaped distortion tables
//! (see `gpu-planner/BENCHMARKS.md`).
//!
//! Usage: `knapsack-bench [--ratio R] [--seed S]` (defaults 0.06 and 1). Every instance is run
//! with 10% noise on the synthetic distortions (the default tables) and with 50% (harder: less
//! convex per-channel curves), rounded to integers (many ties: the hardest case seen), and with
//! structure-free uniform distortions. Also times reading the ResNet50 table from JSON.

use std::process::ExitCode;
use std::time::Instant;

use patchwork_planner::budget::Budget;
use patchwork_planner::mckp::{self, Problem, SolveOptions};
use patchwork_planner::synth;
use patchwork_planner::table::DistortionTable;

fn main() -> ExitCode {
    let (ratio, seed) = match parse_args() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("knapsack-bench: {e}\nusage: knapsack-bench [--ratio R] [--seed S]");
            return ExitCode::from(2);
        }
    };
    println!(
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
    );
    let instances = [
        ("resnet50-imagenet", synth::resnet50_imagenet()),
        ("resnet18-cifar100", synth::resnet18_cifar()),
    ];
    let mut details = Vec::new();
    for (name, shapes, noise) in instances.iter().flat_map(|(n, s)| {
        [
            (n, s, Kind::Noise(0.1)),
            (n, s, Kind::Noise(0.5)),
            (n, s, Kind::Rounded),
            (n, s, Kind::Unstructured),
        ]
    }) {
        let (table, name) = match noise {
            Kind::Noise(noise) => (
                synth::table_with_noise(shapes, seed, noise),
                format!("{name} noise {noise}"),
            ),
            Kind::Rounded => {
                let mut t = synth::table(shapes, seed);
                t.layers
                    .iter_mut()
                    .flat_map(|l| l.distortion.iter_mut().flatten())
                    .for_each(|d| *d = d.round());
                (t, format!("{name} integer"))
            }
            Kind::Unstructured => (
                synth::unstructured_table(shapes, seed),
                format!("{name} unstructured"),
            ),
        };
        let budget = match Budget::Ratio(ratio).resolve(table.total_relus()) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("knapsack-bench: {e}");
                return ExitCode::FAILURE;
            }
        };
        let problem = match Problem::from_table(&table) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("knapsack-bench: {e}");
                return ExitCode::FAILURE;
            }
        };
        let start = Instant::now();
        let solution = match mckp::solve(&problem, budget, &SolveOptions::default()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("knapsack-bench: {name}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let total = start.elapsed().as_secs_f64();
        let st = &solution.stats;
        println!(
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
        );
        details.push(format!(
            "  {name}: lambda {:.6e}, LP bound {:.6}, heuristic {:.6}, core items {}, peak states {}, drelus {}",
            st.lambda, st.lp_bound, st.heuristic_cost, st.core_items, st.peak_states, solution.weight
        ));
    }
    for line in details {
        println!("{line}");
    }
    let table = synth::table(&synth::resnet50_imagenet(), seed);
    let text = serde_json::to_string(&table).unwrap_or_default();
    let start = Instant::now();
    match DistortionTable::from_json(&text) {
        Ok(_) => println!(
            "reading the resnet50 table from JSON ({:.1} MB): {:.3} s",
            text.len() as f64 / 1e6,
            start.elapsed().as_secs_f64()
        ),
        Err(e) => eprintln!("knapsack-bench: {e}"),
    }
    ExitCode::SUCCESS
}

/// How the synthetic distortions are made.
enum Kind {
    /// Grow with patch area, with this much multiplicative noise.
    Noise(f64),
    /// As `Noise(0.1)`, rounded to integers (many ties).
    Rounded,
    /// Uniform random, no structure.
    Unstructured,
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
