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

use std::collections::BTreeMap;
use std::sync::Mutex;

use common::share;
use patchwork_core::net::memory::{self, MemoryTransport};
use patchwork_core::party::Party;
use patchwork_core::protocol::drelu::{drelu, relu, Comparison};
use patchwork_core::role::Role;
use patchwork_core::transport::{Tag, Transport, TransportError};

/// Received messages keyed by (receiver, sender, message kind).
type View = BTreeMap<(usize, usize, u16), Vec<Vec<u8>>>;

/// A transport that records what its party receives.
struct Recording<'a> {
    inner: MemoryTransport,
    log: &'a Mutex<View>,
    me: usize,
}

impl Transport for Recording<'_> {
    type Error = memory::Never;
    fn send(
        &mut self,
        to: Role,
        tag: Tag,
        payload: &[u8],
    ) -> Result<(), TransportError<Self::Error>> {
        self.inner.send(to, tag, payload)
    }
    fn recv(
        &mut self,
        from: Role,
        tag: Tag,
        buf: &mut [u8],
    ) -> Result<(), TransportError<Self::Error>> {
        self.inner.recv(from, tag, buf)?;
        self.log
            .lock()
            .unwrap()
            .entry((self.me, from.index(), tag.msg))
            .or_default()
            .push(buf.to_vec());
        Ok(())
    }
    fn rounds(&self) -> u32 {
        self.inner.rounds()
    }
    fn bytes_sent(&self, to: Role) -> u64 {
        self.inner.bytes_sent(to)
    }
    fn step_rounds(&self) -> u64 {
        self.inner.step_rounds()
    }
}

/// Runs `sessions` sessions of `f` on `secret` and returns everything received.
fn views(secret: &[u64], sessions: u64, f: impl Fn(&mut Party<Recording>, &[u64]) + Sync) -> View {
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
                    let me = k.role().index();
                    let mut p = Party::new(k, Recording { inner: t, log, me });
                    f(&mut p, sh);
                });
            }
        });
    }
    log.into_inner().unwrap()
}

/// Two-sample chi-square statistic and degrees of freedom over histograms with equal totals.
fn chi_square(a: &[u64], b: &[u64]) -> (f64, usize) {
    let mut stat = 0.0;
    let mut dof = 0usize;
    for (&x, &y) in a.iter().zip(b) {
        if x + y > 0 {
            stat += (x as f64 - y as f64).powi(2) / (x + y) as f64;
            dof += 1;
        }
    }
    (stat, dof.saturating_sub(1))
}

/// The 1 - 1e-6 quantile of chi-square with `k` degrees of freedom (Wilson-Hilferty).
fn threshold(k: usize) -> f64 {
    let k = k.max(1) as f64;
    let z = 4.753_424; // standard normal 1 - 1e-6 quantile
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

fn byte_histogram(msgs: &[Vec<u8>]) -> Vec<u64> {
    let mut h = vec![0u64; 256];
    msgs.iter().flatten().for_each(|&b| h[b as usize] += 1);
    h
}

fn assert_same_distribution(what: &str, a: &[u64], b: &[u64]) {
    let (stat, dof) = chi_square(a, b);
    assert!(
        stat < threshold(dof),
        "{what}: chi-square {stat:.1} with {dof} dof exceeds {:.1}",
        threshold(dof)
    );
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
    assert_eq!(
        va.keys().collect::<Vec<_>>(),
        vb.keys().collect::<Vec<_>>(),
        "{name}: same messages"
    );
    for (key, msgs) in va {
        let what = format!(
            "{name}: P{} receiving message {} from P{}",
            key.0, key.2, key.1
        );
        assert_same_distribution(&what, &byte_histogram(msgs), &byte_histogram(&vb[key]));
    }
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
    let (va, vb) = (run(&a, 3), run(&b, (-12i64) as u64));
    assert_eq!(va.keys().collect::<Vec<_>>(), vb.keys().collect::<Vec<_>>());
    for (key, msgs) in &va {
        let what = format!("P{} receiving message {} from P{}", key.0, key.2, key.1);
        assert_same_distribution(&what, &byte_histogram(msgs), &byte_histogram(&vb[key]));
    }
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
    let (stat, dof) = chi_square(&sign_hist(&a), &sign_hist(&b));
    assert!(stat > threshold(dof));
}
