//! What parties receive, and the two-sample chi-square test that compares it between two runs
//! with different secrets. Shared by the privacy tests of the in-memory network (here) and of
//! the TCP transport (`host/tests/privacy_tcp.rs` includes this file by path, so it depends on
//! `patchwork_core` only).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use patchwork_core::role::Role;
use patchwork_core::transport::{Tag, Transport, TransportError};

/// Received messages keyed by (receiver, sender, message kind).
pub type View = BTreeMap<(usize, usize, u16), Vec<Vec<u8>>>;

/// A transport that records what its party receives into a shared [`View`].
pub struct Recording<'a, T> {
    pub inner: T,
    pub log: &'a Mutex<View>,
    pub me: Role,
}

impl<T: Transport> Transport for Recording<'_, T> {
    type Error = T::Error;
    fn send(&mut self, to: Role, tag: Tag, payload: &[u8]) -> Result<(), TransportError<T::Error>> {
        self.inner.send(to, tag, payload)
    }
    fn recv(
        &mut self,
        from: Role,
        tag: Tag,
        buf: &mut [u8],
    ) -> Result<(), TransportError<T::Error>> {
        self.inner.recv(from, tag, buf)?;
        self.log
            .lock()
            .unwrap()
            .entry((self.me.index(), from.index(), tag.msg))
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

/// Two-sample chi-square statistic and degrees of freedom over histograms with equal totals.
pub fn chi_square(a: &[u64], b: &[u64]) -> (f64, usize) {
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
pub fn threshold(k: usize) -> f64 {
    let k = k.max(1) as f64;
    let z = 4.753_424; // standard normal 1 - 1e-6 quantile
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

/// How often each byte value occurs in the messages.
pub fn byte_histogram(msgs: &[Vec<u8>]) -> Vec<u64> {
    let mut h = vec![0u64; 256];
    msgs.iter().flatten().for_each(|&b| h[b as usize] += 1);
    h
}

/// Whether the chi-square test tells the two histograms apart.
pub fn distinguishable(a: &[u64], b: &[u64]) -> bool {
    let (stat, dof) = chi_square(a, b);
    stat >= threshold(dof)
}

pub fn assert_same_distribution(what: &str, a: &[u64], b: &[u64]) {
    let (stat, dof) = chi_square(a, b);
    assert!(
        !distinguishable(a, b),
        "{what}: chi-square {stat:.1} with {dof} dof exceeds {:.1}",
        threshold(dof)
    );
}

/// Both views hold the same kinds of messages, and the bytes of each kind have the same
/// distribution.
pub fn assert_same_views(name: &str, va: &View, vb: &View) {
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
}
