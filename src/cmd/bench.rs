//! `patchwork bench protocols`: bits per element, rounds and throughput of each protocol step
//! over the in-memory three-party network (all three parties in this process, one thread each).

use std::time::Instant;

use patchwork_core::cost::{self, Cost};
use patchwork_core::held::Held;
use patchwork_core::net::memory::{self, MemoryTransport, Traffic};
use patchwork_core::party::Party;
use patchwork_core::patch::PatchSize;
use patchwork_core::protocol::bilinear::Conv2d;
use patchwork_core::protocol::brelu::{block_relu, MapShape};
use patchwork_core::protocol::drelu::{drelu, relu, Comparison};
use patchwork_core::protocol::product::PrivateOperand;
use patchwork_core::protocol::securenn;
use patchwork_core::protocol::sign::SignProtocol;
use patchwork_core::role::Role;
use serde::Serialize;

/// One row of the table.
#[derive(Serialize)]
pub struct Row {
    /// Bits on the wire per element (per output element for conv), all edges.
    pub bits_per_element: f64,
    /// Bits the cost model predicts per element.
    pub model_bits_per_element: f64,
    /// Rounds measured.
    pub rounds: u32,
    /// Elements (outputs for conv) per second, all three parties together.
    pub elements_per_second: f64,
    /// Elements per run.
    pub elements: usize,
    /// Best seconds per run.
    pub seconds: f64,
}

fn row(elements: usize, traffic: &Traffic, model: Cost, seconds: f64) -> Row {
    Row {
        bits_per_element: traffic.total_bytes() as f64 * 8.0 / elements as f64,
        model_bits_per_element: model.total_bytes() as f64 * 8.0 / elements as f64,
        rounds: traffic.rounds,
        elements_per_second: elements as f64 / seconds,
        elements,
        seconds,
    }
}

/// Pseudo-random activations (shares are random anyway; values only matter for correctness).
fn values(n: usize) -> Vec<u64> {
    (0..n as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40)
        .collect()
}

/// Times `f` on the in-memory network; the best of `reps` runs.
fn time<R: Send>(
    reps: usize,
    f: impl Fn(&mut Party<MemoryTransport>) -> R + Sync,
) -> (Traffic, f64) {
    let mut best = f64::INFINITY;
    let mut traffic = Traffic::default();
    for rep in 0..reps {
        let t0 = Instant::now();
        let (_, t) = memory::run(rep as u64 + 1, &f);
        best = best.min(t0.elapsed().as_secs_f64());
        traffic = t;
    }
    (traffic, best)
}

/// Runs the benchmark with `n` elements per step and returns the named rows; `only` (when not
/// empty) keeps the steps it names.
/// The steps `bench protocols` measures, by name (`--only` takes these).
pub const STEPS: [&str; 18] = [
    "drelu",
    "drelu_approx",
    "drelu_fss",
    "drelu_approx_fss",
    "drelu_securenn",
    "relu",
    "relu_approx",
    "relu_fss",
    "relu_approx_fss",
    "brelu_2x2",
    "brelu_4x4",
    "brelu_2x2_approx",
    "brelu_4x4_approx",
    "brelu_2x2_fss",
    "brelu_4x4_fss",
    "brelu_2x2_approx_fss",
    "brelu_4x4_approx_fss",
    "conv",
];

/// The sign protocols, by the suffix of their rows.
const SIGNS: [(&str, SignProtocol); 2] = [
    ("", SignProtocol::PrivateCompare),
    ("_fss", SignProtocol::Fss),
];

/// Measures the steps named in `only` (all when empty) on `n` elements, best of `reps`.
pub fn protocols(n: usize, reps: usize, only: &[String]) -> Vec<(String, Row)> {
    let x = values(n);
    let mut rows = Vec::new();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    // DReLU and ReLU, exact and approximate, with each sign protocol.
    type Step = fn(&mut Party<MemoryTransport>, &[u64], Comparison) -> Result<Vec<u64>, StepError>;
    type StepError = patchwork_core::party::Error<memory::Never>;
    type Model = fn(usize, Comparison, SignProtocol) -> Cost;
    let elementwise: [(&str, Step, Model); 2] =
        [("drelu", drelu, cost::drelu), ("relu", relu, cost::relu)];
    for (stem, step, model) in elementwise {
        for (suffix, sign) in SIGNS {
            for (variant, cmp) in [("", Comparison::Exact), ("_approx", Comparison::PAPER)] {
                let name = format!("{stem}{variant}{suffix}");
                if !wanted(&name) {
                    continue;
                }
                let (t, s) = time(reps, |p| {
                    p.set_sign_protocol(sign);
                    step(p, &x, cmp).unwrap()
                });
                rows.push((name, row(n, &t, model(n, cmp, sign), s)));
            }
        }
    }
    if wanted("drelu_securenn") {
        let (t, s) = time(reps, |p| securenn::drelu(p, &x).unwrap());
        rows.push((
            "drelu_securenn".to_string(),
            row(n, &t, cost::securenn_drelu(n), s),
        ));
    }
    let side = 32;
    let shape = MapShape {
        channels: n / (side * side),
        height: side,
        width: side,
    };
    let xb = &x[..shape.len()];
    for (suffix, sign) in SIGNS {
        for (name, k, cmp) in [
            ("brelu_2x2", 2, Comparison::Exact),
            ("brelu_4x4", 4, Comparison::Exact),
            ("brelu_2x2_approx", 2, Comparison::PAPER),
            ("brelu_4x4_approx", 4, Comparison::PAPER),
        ] {
            let name = format!("{name}{suffix}");
            if !wanted(&name) {
                continue;
            }
            let sizes = vec![PatchSize::Block { h: k, w: k }; shape.channels];
            let (t, s) = time(reps, |p| {
                p.set_sign_protocol(sign);
                block_relu(p, xb, shape, &sizes, cmp).unwrap()
            });
            let model = cost::block_relu(shape, &sizes, cmp, sign);
            rows.push((name, row(shape.len(), &t, model, s)));
        }
    }
    if !wanted("conv") {
        return rows;
    }
    // A ResNet18-style 3x3 conv, 64 -> 64 channels on 32x32, weights held by P1 and masked once.
    let conv = Conv2d::same_3x3(64, 64, 32, 32);
    let w: Vec<u64> = values(64 * 64 * 9);
    let xc = values(64 * 32 * 32);
    let (t, s) = time(reps, |p| {
        let mine = (p.role() == Role::P1).then_some(&w[..]);
        let op = PrivateOperand::setup(p, 1, w.len(), Held::from_option(mine)).unwrap();
        op.product(p, &conv, &xc).unwrap()
    });
    let outputs = 64 * 32 * 32;
    let model = cost::private_operand_setup(w.len()).then(cost::private_operand_product(&conv));
    rows.push(("conv".to_string(), row(outputs, &t, model, s)));
    rows
}

/// Prints the rows as a table.
pub fn print_table(rows: &[(String, Row)]) {
    outln!(
        "{:<18} {:>14} {:>12} {:>7} {:>14} {:>10}",
        "step",
        "bits/element",
        "model bits",
        "rounds",
        "elements/s",
        "elements"
    );
    for (name, r) in rows {
        outln!(
            "{:<18} {:>14.1} {:>12.1} {:>7} {:>14.3e} {:>10}",
            name,
            r.bits_per_element,
            r.model_bits_per_element,
            r.rounds,
            r.elements_per_second,
            r.elements
        );
    }
    if rows.iter().any(|(n, _)| n == "conv") {
        outln!("(conv: per output element, including the one-time weight mask of this single run)");
    }
    outln!("(drelu_securenn: SecureNN's ShareConvert + ComputeMSB path, the baseline of drelu)");
}
