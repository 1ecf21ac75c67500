//! The program the three parties run, as public facts, and the set-up step that checks that
//! they all run the same one.
//!
//! Every party holds the public side of the session: the protocol version, the model's
//! architecture (P0 and P2 from the architecture file, P1 from the ONNX model), the Block-ReLU
//! spec resolved per channel, the settings (fractional bits, comparison windows, truncation, images
//! per inference) and
//! the number of inferences. If any of these differs between parties the protocol still runs
//! when the message lengths happen to agree, and P0 decodes garbage (found with a transposed
//! spec: class 0, logits near 4e11). [`agree`] therefore runs first in every session, before
//! any secret is used: the parties exchange a SHA-256 digest of their [`Program`]; a pair whose
//! digests differ exchanges the programs themselves, and each side names the first facts that
//! differ. The step needs nothing secret and costs 32 bytes each way on every edge and one
//! round ([`crate::cost::program_check`]).
//!
//! A program is a list of facts, one per line, `key<TAB>value`, in a fixed order; keys are
//! unique, so two programs are compared key by key.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::infer::Settings;
use crate::model::spec_check::ResolvedSpec;
use crate::model::{Model, Op};
use crate::party::{Error, Party};
use crate::patch::PatchSize;
use crate::protocol::drelu::Comparison;
use crate::protocol::truncate::Truncation;
use crate::role::Role;
use crate::transport::Transport;

/// The version of the message schedule; parties of different versions refuse each other.
pub const PROTOCOL_VERSION: u32 = 2;

/// The largest program description a party accepts from a peer (a ResNet50 with a
/// per-channel spec takes about 60 KB).
pub const MAX_PROGRAM_BYTES: usize = 16 << 20;

/// How many differing facts an error names at most.
const MAX_NAMED: usize = 3;

/// The public facts of a session, in a fixed order (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    text: String,
}

fn comparison(c: Comparison) -> String {
    match c {
        Comparison::Exact => "exact".to_string(),
        Comparison::Approx { k_msb, k_lsb } => format!("approximate, k_msb {k_msb}, k_lsb {k_lsb}"),
    }
}

fn truncation(t: Truncation) -> &'static str {
    match t {
        Truncation::Local => "local",
        Truncation::Assisted => "assisted",
    }
}

/// The public parameters of an operator (never its weights).
fn op_params(op: &Op) -> String {
    match op {
        Op::Conv(c) => format!(
            "Conv out {} in {} kernel {:?} stride {:?} pad {:?} dilation {:?} groups {}",
            c.out_channels, c.in_channels, c.kernel, c.stride, c.padding, c.dilation, c.groups
        ),
        Op::Linear(l) => format!("Linear in {} out {}", l.in_features, l.out_features),
        Op::AvgPool(p) | Op::MaxPool(p) => format!(
            "{} kernel {:?} stride {:?} pad {:?} count_include_pad {}",
            op.kind(),
            p.kernel,
            p.stride,
            p.padding,
            p.count_include_pad
        ),
        Op::Resize(r) => format!("Resize {:?} {:?} scale {:?}", r.mode, r.transform, r.scale),
        _ => op.kind().to_string(),
    }
}

fn patch_text(p: PatchSize) -> String {
    let [h, w] = p.to_pair();
    format!("{h}x{w}")
}

impl Program {
    /// The program of a session: the model, its resolved Block-ReLU patch sizes, the settings
    /// and the comparison of every comparing node (`comparisons[i]`, `None` for nodes that
    /// make none).
    pub fn new(
        model: &Model,
        spec: &ResolvedSpec,
        settings: Settings,
        comparisons: &[Option<Comparison>],
        inferences: u64,
    ) -> Program {
        let mut t = String::new();
        let mut fact = |key: &str, value: &dyn core::fmt::Display| {
            // Writing to a String cannot fail.
            let _ = writeln!(t, "{key}\t{value}");
        };
        fact("protocol version", &PROTOCOL_VERSION);
        fact("fractional bits", &settings.fp.frac_bits());
        fact("comparison", &comparison(settings.cmp));
        fact("truncation", &truncation(settings.trunc));
        fact("calibrated windows", &settings.calibrated);
        fact("inferences", &inferences);
        fact("images per inference", &settings.batch);
        fact("preprocessed", &settings.preprocess);
        fact("sign decisions", &settings.sign);
        fact("nodes", &model.nodes.len());
        fact("input shape", &model.shape(model.input));
        fact("output", &model.output);
        for (i, node) in model.nodes.iter().enumerate() {
            let inputs: Vec<String> = node.inputs.iter().map(|v| v.to_string()).collect();
            let line = format!(
                "'{}' {} inputs [{}] -> value {} {}",
                node.name,
                op_params(&node.op),
                inputs.join(", "),
                node.output,
                model.shape(node.output)
            );
            fact(&format!("node {i}"), &line);
        }
        for (node, sizes) in model.nodes.iter().zip(spec.patches()) {
            if let Some(sizes) = sizes {
                let list: Vec<String> = sizes.iter().map(|&p| patch_text(p)).collect();
                fact(&format!("spec '{}'", node.name), &list.join(" "));
            }
        }
        for (node, cmp) in model.nodes.iter().zip(comparisons) {
            if let Some(cmp) = cmp {
                fact(&format!("comparison '{}'", node.name), &comparison(*cmp));
            }
        }
        Program { text: t }
    }

    /// SHA-256 of the description.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.text.as_bytes()).into()
    }

    /// The description as sent to a peer.
    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// A peer's description; `None` if it is not UTF-8.
    pub fn from_bytes(bytes: &[u8]) -> Option<Program> {
        core::str::from_utf8(bytes).ok().map(|s| Program {
            text: s.to_string(),
        })
    }

    fn facts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.text
            .lines()
            .map(|l| l.split_once('\t').unwrap_or((l, "")))
    }

    /// What differs between this program and `peer`'s `theirs`, as a sentence naming up to
    /// three differing facts; `None` if the facts are the same.
    pub fn differences(&self, theirs: &Program, peer: Role) -> Option<String> {
        let mut found: Vec<String> = Vec::new();
        let mut count = 0usize;
        let mut note = |s: String| {
            if found.len() < MAX_NAMED {
                found.push(s);
            }
            count += 1;
        };
        let find = |p: &'_ Program, key: &str| -> Option<String> {
            p.facts()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        };
        for (key, mine) in self.facts() {
            match find(theirs, key) {
                None => note(format!("{key} is not in {peer}'s program")),
                Some(v) if v != mine => note(describe(key, mine, &v, peer)),
                Some(_) => {}
            }
        }
        for (key, _) in theirs.facts() {
            if find(self, key).is_none() {
                note(format!("{peer}'s program has {key}, this party's has not"));
            }
        }
        if count == 0 {
            return (self.text != theirs.text)
                .then(|| format!("the program's facts are in another order at {peer}"));
        }
        let more = if count > found.len() {
            format!(" (and {} more)", count - found.len())
        } else {
            String::new()
        };
        Some(format!("{}{more}", found.join("; ")))
    }
}

/// One differing fact in words: for a spec line, the first channel whose patch differs.
fn describe(key: &str, mine: &str, theirs: &str, peer: Role) -> String {
    if let Some(layer) = key.strip_prefix("spec ") {
        let (a, b): (Vec<&str>, Vec<&str>) =
            (mine.split(' ').collect(), theirs.split(' ').collect());
        if a.len() != b.len() {
            return format!(
                "spec differs from {peer}'s: layer {layer} has {} channels here, {} at {peer}",
                a.len(),
                b.len()
            );
        }
        let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        if let Some((c, (x, y))) = a.iter().zip(&b).enumerate().find(|(_, (x, y))| x != y) {
            return format!(
                "spec differs from {peer}'s: layer {layer} channel {c} patch {x} vs {y} \
                 ({differing} channels differ)"
            );
        }
    }
    format!("{key} differs from {peer}'s: {mine} vs {theirs}")
}

/// Message numbers of the agreement step.
mod msg {
    pub(super) const DIGEST: u16 = 1;
    pub(super) const LENGTH: u16 = 2;
    pub(super) const PROGRAM: u16 = 3;
}

/// The set-up step every session runs first: each party sends the digest of its program to
/// both others; a pair whose digests differ exchanges the programs and both sides fail with
/// [`Error::Mismatch`], naming the peer and what differs. As the digests are not all equal,
/// every party finds at least one peer that differs, so all three stop.
pub fn agree<T: Transport>(p: &mut Party<T>, program: &Program) -> Result<(), Error<T::Error>> {
    let step = p.begin_step();
    let others = p.role().others();
    let mine = program.digest();
    for peer in others {
        p.send(peer, step, msg::DIGEST, &mine)?;
    }
    let mut differing = Vec::new();
    for peer in others {
        if p.recv(peer, step, msg::DIGEST, mine.len())? != mine {
            differing.push(peer);
        }
    }
    for &peer in &differing {
        let len = program.as_bytes().len() as u32;
        p.send(peer, step, msg::LENGTH, &len.to_le_bytes())?;
        p.send(peer, step, msg::PROGRAM, program.as_bytes())?;
    }
    let mut first = None;
    for &peer in &differing {
        let len = p.recv(peer, step, msg::LENGTH, 4)?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len > MAX_PROGRAM_BYTES {
            return Err(Error::Malformed {
                peer,
                what: "a program description over 16 MiB",
            });
        }
        let theirs = Program::from_bytes(&p.recv(peer, step, msg::PROGRAM, len)?).ok_or(
            Error::Malformed {
                peer,
                what: "a program description that is not UTF-8",
            },
        )?;
        let what = program
            .differences(&theirs, peer)
            .unwrap_or_else(|| format!("{peer}'s program digest differs from its description"));
        first.get_or_insert(Error::Mismatch { peer, what });
    }
    first.map_or(Ok(()), Err)
}
