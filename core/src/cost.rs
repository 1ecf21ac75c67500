//! The cost model: exact payload bytes per directed edge and rounds of every protocol step, as
//! functions of its sizes and settings. Tests check the in-memory network's counters against
//! these numbers exactly; reports print them beside what was measured.
//!
//! Wire widths: ring elements of the comparison ring take `m` bits, Z_p elements 7 bits, all
//! other ring elements 64 bits; every message is packed to whole bytes.

use crate::bitpack::packed_len;
use crate::patch::PatchSize;
use crate::protocol::bilinear::Bilinear;
use crate::protocol::brelu::{MapShape, PatchPlan};
use crate::protocol::dcf;
use crate::protocol::drelu::Comparison;
use crate::protocol::maxpool::Pool;
use crate::protocol::sign::SignProtocol;
use crate::protocol::truncate::Truncation;
use crate::ring::P_BITS;
use crate::role::Role::{self, P0, P1, P2};

/// Bytes per directed edge `[from][to]` and rounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Payload bytes per directed edge, `[from][to]`.
    pub bytes: [[u64; 3]; 3],
    /// Rounds (the depth of the longest chain of dependent messages).
    pub rounds: u32,
    /// The part of `bytes` that depends on no input: what preprocessing sends before the
    /// input exists ([`crate::preprocess`]; all of it P2's: dealt shares to P1 and, with
    /// [`SignProtocol::Fss`], comparison keys to P0 and P1).
    pub offline: [[u64; 3]; 3],
}

impl Cost {
    fn send(mut self, from: Role, to: Role, bytes: usize) -> Cost {
        self.bytes[from.index()][to.index()] += bytes as u64;
        self
    }

    /// `bytes` that P2 deals to P1 from values that depend on no input.
    fn dealt(self, bytes: usize) -> Cost {
        self.dealt_to(P1, bytes)
    }

    /// `bytes` that P2 sends `to` from values that depend on no input.
    fn dealt_to(mut self, to: Role, bytes: usize) -> Cost {
        self.offline[P2.index()][to.index()] += bytes as u64;
        self.send(P2, to, bytes)
    }

    /// What runs online when the step is preprocessed: its bytes less the offline ones, its
    /// rounds (the dealt messages were never on a step's longest chain).
    pub fn online(&self) -> Cost {
        let mut c = *self;
        for (row, off) in c.bytes.iter_mut().zip(self.offline) {
            for (b, o) in row.iter_mut().zip(off) {
                *b -= o;
            }
        }
        c.offline = [[0; 3]; 3];
        c
    }

    /// What preprocessing sends: the offline bytes, in at most one round.
    pub fn offline_part(&self) -> Cost {
        let bytes = self.offline;
        Cost {
            bytes,
            rounds: u32::from(bytes.iter().flatten().any(|&b| b > 0)),
            offline: bytes,
        }
    }

    fn rounds(mut self, r: u32) -> Cost {
        self.rounds = r;
        self
    }

    /// Runs `self` then `next`: bytes add up, rounds add up. The round sum is exact when
    /// `next` waits on the messages of `self` and an upper bound when the two overlap.
    pub fn then(mut self, next: Cost) -> Cost {
        for a in 0..3 {
            for b in 0..3 {
                self.bytes[a][b] += next.bytes[a][b];
                self.offline[a][b] += next.offline[a][b];
            }
        }
        self.rounds += next.rounds;
        self
    }

    /// All payload bytes.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().flatten().sum()
    }

    /// Bytes between `a` and `b`, both directions.
    pub fn between(&self, a: Role, b: Role) -> u64 {
        self.bytes[a.index()][b.index()] + self.bytes[b.index()][a.index()]
    }
}

/// The comparison stage of `n` values on an `m`-bit ring (rounds counted by the caller).
fn split(n: usize, m: u32) -> Cost {
    let zp = packed_len(n * (m as usize - 1), P_BITS);
    Cost::default()
        .send(P0, P1, packed_len(n, m))
        .send(P1, P0, packed_len(n, m))
        .dealt(zp)
        .send(P0, P2, zp)
        .send(P1, P2, zp)
}

/// Multiplying `len` values by `n` decisions.
fn multiply(len: usize, n: usize) -> Cost {
    Cost::default()
        .send(P0, P2, 8 * len)
        .send(P1, P2, 8 * len)
        .send(P2, P1, 8 * (n + len))
}

/// The FSS comparison stage of `n` values on an `m`-bit ring ([`crate::protocol::fss_sign`]):
/// the opening online; each holder's DCF correction words and P1's shares of `r_hi` dealt.
fn fss_split(n: usize, m: u32) -> Cost {
    let keys = 8 * n * dcf::words(m - 1);
    Cost::default()
        .send(P0, P1, packed_len(n, m))
        .send(P1, P0, packed_len(n, m))
        .dealt_to(P0, keys)
        .dealt_to(P1, keys + 8 * n)
}

/// The FSS step's Beaver multiplication of `len` values by `n` decisions.
fn fss_multiply(len: usize, n: usize) -> Cost {
    Cost::default()
        .send(P0, P1, 8 * (len + n))
        .send(P1, P0, 8 * (len + n))
        .dealt(8 * len)
}

/// The comparison stage then, with `len > 0`, the multiplication of `len` values by the `n`
/// decisions, in `sign`'s protocol.
fn sign_step(n: usize, m: u32, len: usize, sign: SignProtocol) -> Cost {
    match (sign, len) {
        (SignProtocol::PrivateCompare, 0) => split(n, m).send(P2, P1, 8 * n).rounds(3),
        (SignProtocol::PrivateCompare, _) => split(n, m).then(multiply(len, n)).rounds(3),
        (SignProtocol::Fss, 0) => fss_split(n, m).rounds(1),
        (SignProtocol::Fss, _) => fss_split(n, m).then(fss_multiply(len, n)).rounds(2),
    }
}

/// [`crate::protocol::drelu::drelu`] of `n` values.
pub fn drelu(n: usize, cmp: Comparison, sign: SignProtocol) -> Cost {
    if n == 0 {
        return Cost::default();
    }
    sign_step(n, cmp.width(), 0, sign)
}

/// [`crate::protocol::drelu::relu`] of `n` values.
pub fn relu(n: usize, cmp: Comparison, sign: SignProtocol) -> Cost {
    if n == 0 {
        return Cost::default();
    }
    sign_step(n, cmp.width(), n, sign)
}

/// [`crate::protocol::brelu::block_relu`] of a layer (`cmp` the pixel's setting).
pub fn block_relu(
    shape: MapShape,
    sizes: &[PatchSize],
    cmp: Comparison,
    sign: SignProtocol,
) -> Cost {
    let plan = PatchPlan::new(shape, sizes);
    block_relu_plan(&plan, cmp.for_patch(plan.max_area()), sign)
}

/// [`crate::protocol::brelu::BlockReluLayer::apply`] of a layer with this plan, its patch
/// sums compared with `cmp`.
pub fn block_relu_plan(plan: &PatchPlan, cmp: Comparison, sign: SignProtocol) -> Cost {
    if plan.patches == 0 {
        return Cost::default();
    }
    sign_step(plan.patches, cmp.width(), plan.pixel_count(), sign)
}

/// [`crate::protocol::product::beaver`].
pub fn beaver(op: &impl Bilinear) -> Cost {
    let opened = 8 * (op.lhs_len() + op.rhs_len());
    Cost::default()
        .send(P0, P1, opened)
        .send(P1, P0, opened)
        .dealt(8 * op.out_len())
        .rounds(1)
}

/// [`crate::program::agree`] when the parties agree: a 32-byte digest each way on every edge.
pub fn program_check() -> Cost {
    let mut c = Cost::default().rounds(1);
    for from in Role::ALL {
        for to in from.others() {
            c = c.send(from, to, 32);
        }
    }
    c
}

/// An acknowledgement: empty messages from one party to others (P0's during set-up, P1's at
/// the end of an offline walk; [`crate::infer::SecureModel`]).
pub fn acknowledgement() -> Cost {
    Cost::default().rounds(1)
}

/// [`crate::protocol::product::PrivateOperand::setup`] of an operand of `len` elements.
pub fn private_operand_setup(len: usize) -> Cost {
    Cost::default().send(P1, P0, 8 * len).rounds(1)
}

/// [`crate::protocol::product::PrivateOperand::product`].
pub fn private_operand_product(op: &impl Bilinear) -> Cost {
    Cost::default()
        .send(P0, P1, 8 * op.lhs_len())
        .dealt(8 * op.out_len())
        .rounds(1)
}

/// [`crate::protocol::truncate::truncate`] of `n` values.
pub fn truncate(n: usize, mode: Truncation) -> Cost {
    match mode {
        Truncation::Local => Cost::default(),
        Truncation::Assisted if n == 0 => Cost::default(),
        Truncation::Assisted => Cost::default()
            .send(P0, P1, 8 * n)
            .send(P1, P0, 8 * n)
            .dealt(16 * n)
            .rounds(1),
    }
}

/// [`crate::protocol::select::select_share`] of `n` values.
pub fn select_share(n: usize) -> Cost {
    beaver(&crate::protocol::bilinear::Elementwise(n))
}

/// [`crate::protocol::maxpool::max_pool`].
pub fn max_pool(shape: MapShape, pool: Pool, cmp: Comparison, sign: SignProtocol) -> Cost {
    let mut sizes: alloc::vec::Vec<usize> = pool.windows(shape).iter().map(|w| w.len()).collect();
    let mut cost = Cost::default();
    while sizes.iter().any(|&s| s > 1) {
        let pairs: usize = sizes.iter().map(|s| s / 2).sum();
        cost = cost.then(relu(pairs, cmp, sign));
        sizes.iter_mut().for_each(|s| *s = s.div_ceil(2));
    }
    cost
}

/// [`crate::protocol::securenn::share_convert`] of `n` values.
pub fn share_convert(n: usize) -> Cost {
    let zp = packed_len(n * 64, P_BITS);
    Cost::default()
        .send(P0, P2, 8 * n + zp)
        .send(P1, P2, 8 * n + zp)
        .send(P2, P1, zp + 16 * n)
        .rounds(4)
}

/// [`crate::protocol::securenn::compute_msb`] of `n` values.
pub fn compute_msb(n: usize) -> Cost {
    let zp = packed_len(n * 64, P_BITS);
    Cost::default()
        .send(P0, P1, 8 * n)
        .send(P1, P0, 8 * n)
        .send(P0, P2, zp)
        .send(P1, P2, zp)
        .send(P2, P1, zp + 16 * n)
        .rounds(3)
        .then(beaver(&crate::protocol::bilinear::Elementwise(n)))
}

/// [`crate::protocol::securenn::drelu`] of `n` values.
pub fn securenn_drelu(n: usize) -> Cost {
    if n == 0 {
        return Cost::default();
    }
    share_convert(n).then(compute_msb(n))
}
