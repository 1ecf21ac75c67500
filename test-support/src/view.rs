//! Each party's joint view of a run, and the two-sample chi-square tests that compare it between
//! runs with different secrets. Shared by the privacy tests of the in-memory network
//! (`core/tests/privacy.rs`) and of the TCP transport (`net/tests/privacy_tcp.rs`).
//!
//! A party's view is everything it received and sent, per step and message, plus any of its
//! own step outputs a test records. A secure protocol keeps the whole view independent of the
//! other parties' secrets, not only each message: so besides each entry's byte distribution the
//! tests compare relations between entries, which is where real leaks hide (masks that cancel
//! between two senders, a mask reused in two steps, a share that completes another):
//! - within a step: for every two entries of equal length, their XOR and, as 64-bit words,
//!   their sum and difference (e.g. P2's `y0 + y1`, or a received share against its own);
//! - across steps: for every message number, the word sum of all the entries of that number in
//!   a step (what a party could open), and its difference between every two steps.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use patchwork_core::role::Role;
use patchwork_core::transport::accounting::Accounting;
use patchwork_core::transport::{Tag, Transport, TransportError};

/// How an entry came into the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dir {
    /// A message the party received.
    Received,
    /// A message the party sent.
    Sent,
    /// One of the party's own step outputs, recorded by the test (`Recording::own`).
    Own,
}

/// `(party, peer, direction, step, message)`; for [`Dir::Own`] the peer is the party itself.
pub type Key = (usize, usize, Dir, u64, u16);

/// The entries of every session, per key (one `Vec<u8>` per session, in session order).
pub type View = BTreeMap<Key, Vec<Vec<u8>>>;

/// A transport that records what its party receives and sends into a shared [`View`].
pub struct Recording<'a, T> {
    /// The transport that moves the messages.
    pub inner: T,
    /// Where the view is recorded.
    pub log: &'a Mutex<View>,
    /// The party whose view it is.
    pub me: Role,
}

impl<T> Recording<'_, T> {
    fn record(&self, peer: Role, dir: Dir, seq: u64, msg: u16, bytes: &[u8]) {
        self.log
            .lock()
            .unwrap()
            .entry((self.me.index(), peer.index(), dir, seq, msg))
            .or_default()
            .push(bytes.to_vec());
    }

    /// Records one of the party's own outputs of step `seq` (e.g. its share of a sign).
    pub fn own(&self, seq: u64, label: u16, bytes: &[u8]) {
        self.record(self.me, Dir::Own, seq, label, bytes);
    }
}

impl<T: Transport> Transport for Recording<'_, T> {
    type Error = T::Error;
    fn send(&mut self, to: Role, tag: Tag, payload: &[u8]) -> Result<(), TransportError<T::Error>> {
        self.inner.send(to, tag, payload)?;
        self.record(to, Dir::Sent, tag.seq.into(), tag.msg, payload);
        Ok(())
    }
    fn recv(
        &mut self,
        from: Role,
        tag: Tag,
        buf: &mut [u8],
    ) -> Result<(), TransportError<T::Error>> {
        self.inner.recv(from, tag, buf)?;
        self.record(from, Dir::Received, tag.seq.into(), tag.msg, buf);
        Ok(())
    }
    fn accounting(&self) -> &Accounting {
        self.inner.accounting()
    }

    fn accounting_mut(&mut self) -> &mut Accounting {
        self.inner.accounting_mut()
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

/// Fails the test, naming `what` and the statistic, when the histograms `a` and `b` are
/// distinguishable (a finding starts with "privacy:", which the mutant script looks for).
pub fn assert_same_distribution(what: &str, a: &[u64], b: &[u64]) {
    let (stat, dof) = chi_square(a, b);
    assert!(
        !distinguishable(a, b),
        "privacy: {what}: chi-square {stat:.1} with {dof} dof exceeds {:.1}",
        threshold(dof)
    );
}

fn words(b: &[u8]) -> impl Iterator<Item = u64> + '_ {
    b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
}

fn word_bytes(w: impl Iterator<Item = u64>) -> Vec<u8> {
    w.flat_map(u64::to_le_bytes).collect()
}

fn name(k: &Key) -> String {
    let (me, peer, dir, seq, msg) = *k;
    match dir {
        Dir::Received => format!("step {seq} msg {msg} from P{peer}"),
        Dir::Sent => format!("step {seq} msg {msg} to P{peer}"),
        Dir::Own => format!("step {seq} own output {msg} of P{me}"),
    }
}

/// The features of one party's view in one session: name -> bytes (see the module doc).
fn features(party: usize, view: &View, session: usize) -> BTreeMap<String, Vec<u8>> {
    let entries: Vec<(&Key, &[u8])> = view
        .iter()
        .filter(|(k, _)| k.0 == party)
        .filter_map(|(k, v)| v.get(session).map(|b| (k, &b[..])))
        .collect();
    let mut out = BTreeMap::new();
    for (i, &(ka, a)) in entries.iter().enumerate() {
        out.insert(name(ka), a.to_vec());
        for &(kb, b) in &entries[i + 1..] {
            if ka.3 != kb.3 || a.len() != b.len() {
                continue;
            }
            let pair = format!("{} and {}", name(ka), name(kb));
            let xor = a.iter().zip(b).map(|(x, y)| x ^ y).collect();
            out.insert(format!("xor of {pair}"), xor);
            if a.len() % 8 == 0 {
                let sum = word_bytes(words(a).zip(words(b)).map(|(x, y)| x.wrapping_add(y)));
                let diff = word_bytes(words(a).zip(words(b)).map(|(x, y)| x.wrapping_sub(y)));
                out.insert(format!("sum of {pair}"), sum);
                out.insert(format!("difference of {pair}"), diff);
            }
        }
    }
    // Per (step, message, length): the word sum of its entries, then differences across steps.
    let mut opened: BTreeMap<(u16, usize, u64), Vec<u64>> = BTreeMap::new();
    for &(k, b) in entries
        .iter()
        .filter(|(k, b)| k.2 != Dir::Own && b.len() % 8 == 0)
    {
        let acc = opened
            .entry((k.4, b.len(), k.3))
            .or_insert_with(|| vec![0; b.len() / 8]);
        acc.iter_mut()
            .zip(words(b))
            .for_each(|(a, w)| *a = a.wrapping_add(w));
    }
    let opened: Vec<_> = opened.into_iter().collect();
    for (i, ((msg, len, s1), v1)) in opened.iter().enumerate() {
        for ((msg2, len2, s2), v2) in &opened[i + 1..] {
            if msg == msg2 && len == len2 {
                let d = word_bytes(v1.iter().zip(v2).map(|(x, y)| x.wrapping_sub(*y)));
                out.insert(format!("opened msg {msg}: step {s1} minus step {s2}"), d);
            }
        }
    }
    out
}

/// The views of `parties` in runs `va` and `vb` (different secrets, the same number of
/// sessions) hold the same entries, and every feature of them has the same distribution.
pub fn assert_same_views(name: &str, va: &View, vb: &View, parties: &[Role]) {
    assert_eq!(
        va.keys().collect::<Vec<_>>(),
        vb.keys().collect::<Vec<_>>(),
        "{name}: same messages"
    );
    let sessions = va.values().map(Vec::len).max().unwrap_or(0);
    for &party in parties {
        let mut ha: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut hb: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (view, h) in [(va, &mut ha), (vb, &mut hb)] {
            for s in 0..sessions {
                for (f, bytes) in features(party.index(), view, s) {
                    let hist = h.entry(f).or_insert_with(|| vec![0; 256]);
                    bytes.iter().for_each(|&b| hist[b as usize] += 1);
                }
            }
        }
        assert!(!ha.is_empty(), "{name}: {party} has an empty view");
        for (f, a) in &ha {
            let what = format!("{name}: {party}'s view, {f}");
            assert_same_distribution(&what, a, &hb[f]);
        }
    }
}
