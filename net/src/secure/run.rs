//! One party's secure inference with a mark after every layer: seconds, bytes it sent to each
//! peer and its round clock.

use std::collections::VecDeque;
use std::time::Instant;

use patchwork_core::held::Held;
use patchwork_core::infer::{DescribedModel, InferError, SecureModel, Settings};
use patchwork_core::model::{Model, Weights};
use patchwork_core::party::Party;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_core::transport::Transport;

/// A party's counters at one point of the run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mark {
    /// Seconds since the start of the inference (after set-up).
    pub seconds: f64,
    /// Payload bytes this party has sent to P0, P1, P2 so far.
    pub sent: [u64; 3],
    /// This party's round clock.
    pub rounds: u32,
    /// The steps' own rounds so far (see `Transport::step_rounds`).
    pub step_rounds: u64,
}

impl Mark {
    fn take<T: Transport>(p: &Party<T>, since: Instant) -> Mark {
        let t = p.transport();
        Mark {
            seconds: since.elapsed().as_secs_f64(),
            sent: Role::ALL.map(|r| t.bytes_sent(r)),
            rounds: t.rounds(),
            step_rounds: t.step_rounds(),
        }
    }
}

/// A party's marks over one offline walk ([`SecureModel::preprocess`]); seconds from its start.
#[derive(Clone, Debug, Default)]
pub struct OfflineRun {
    /// Before the first layer.
    pub start: Mark,
    /// After each node, in model order.
    pub nodes: Vec<Mark>,
    /// After the last node.
    pub end: Mark,
    /// Bytes this party keeps for the inference until its online walk.
    pub kept_bytes: usize,
}

/// The most bytes of preprocessed material a party may be asked to keep for a session's
/// inferences (4 GiB): `--preprocess` with more inferences of a model than this holds is
/// refused at set-up, naming both numbers.
pub const MAX_PREPROCESSED_BYTES: u64 = 4 << 30;

/// What one party observed.
#[derive(Clone, Debug)]
pub struct PartyRun {
    /// The party.
    pub role: Role,
    /// The output (P0 only).
    pub output: Option<Vec<f32>>,
    /// After the once-per-session set-up (weight masks).
    pub setup: Mark,
    /// Before the first layer of the inference.
    pub start: Mark,
    /// After each node, in model order.
    pub nodes: Vec<Mark>,
    /// After the output was revealed.
    pub end: Mark,
    /// Seconds the set-up took.
    pub setup_seconds: f64,
    /// The inference's offline walk, when the session preprocesses (then `start` to `end`
    /// is its online walk only).
    pub offline: Option<OfflineRun>,
}

/// Sets up the model and runs one secure forward pass per input (P0 gives the inputs, P1 and
/// P2 pass `None`s; P1 gives its weights, P0 and P2 pass `Held::NotMine`); returns the marks
/// of every pass.
pub fn run_party<T: Transport>(
    p: &mut Party<T>,
    model: &Model,
    weights: Held<'_, Weights>,
    spec: &Spec,
    settings: Settings,
    inputs: &[Option<&[f32]>],
) -> Result<Vec<PartyRun>, InferError<T::Error>> {
    let mut runs = Vec::with_capacity(inputs.len());
    let passes = inputs.iter().copied();
    run_each(
        p,
        model,
        weights,
        spec,
        settings,
        inputs.len() as u64,
        passes,
        |run| runs.push(run),
    )?;
    Ok(runs)
}

/// Sets up the model once (with P1's `weights`) and runs a secure forward pass per item of
/// `inputs` (`count` of them, a fact of the program the parties agree on), handing each pass's
/// marks to `each` as it ends (a long session keeps nothing per pass).
#[allow(clippy::too_many_arguments)]
pub fn run_each<'x, T: Transport>(
    p: &mut Party<T>,
    model: &Model,
    weights: Held<'_, Weights>,
    spec: &Spec,
    settings: Settings,
    count: u64,
    inputs: impl IntoIterator<Item = Option<&'x [f32]>>,
    mut each: impl FnMut(PartyRun),
) -> Result<(), InferError<T::Error>> {
    let t0 = Instant::now();
    let secure = SecureModel::setup(p, model, weights, spec, settings, count)?;
    let setup_seconds = t0.elapsed().as_secs_f64();
    let setup = Mark::take(p, t0);
    // Every inference's offline walk, before any input is read.
    let mut offline = VecDeque::new();
    if settings.preprocess {
        check_preprocessed_size(&secure, count)?;
        for _ in 0..count {
            let t = Instant::now();
            p.transport_mut().restart_rounds();
            let start = Mark::take(p, t);
            let mut nodes = Vec::with_capacity(model.nodes.len());
            let prepared =
                secure.preprocess(p, &mut |_, party| nodes.push(Mark::take(party, t)))?;
            let run = OfflineRun {
                start,
                nodes,
                end: Mark::take(p, t),
                kept_bytes: prepared.bytes(),
            };
            offline.push_back((prepared, run));
        }
    }
    for input in inputs {
        let t = Instant::now();
        if settings.preprocess {
            // As the online walk will (its start mark then reads zero).
            p.transport_mut().restart_rounds();
        }
        let start = Mark::take(p, t);
        let mut nodes = Vec::with_capacity(model.nodes.len());
        let input = Held::from_option(input);
        let mut mark = |_: usize, party: &Party<T>| nodes.push(Mark::take(party, t));
        let (output, offline) = match offline.pop_front() {
            Some((prepared, run)) => (
                secure.infer_prepared(p, prepared, input, &mut mark)?,
                Some(run),
            ),
            None => (secure.infer(p, input, &mut mark)?, None),
        };
        let end = Mark::take(p, t);
        each(PartyRun {
            role: p.role(),
            output,
            setup,
            start,
            nodes,
            end,
            setup_seconds,
            offline,
        });
    }
    Ok(())
}

/// The most bytes of preprocessed material a party keeps for one inference of `described`:
/// the cost model's offline bytes, a Z_p value kept in a byte.
pub fn preprocessed_bytes(described: &DescribedModel) -> u64 {
    described.offline_cost().total_bytes() * 8 / 7 + 1
}

/// Refuses a session whose preprocessed material would exceed [`MAX_PREPROCESSED_BYTES`] (the
/// same decision at every party).
fn check_preprocessed_size<E>(secure: &SecureModel, count: u64) -> Result<(), InferError<E>> {
    let per_inference = preprocessed_bytes(secure.described());
    let need = per_inference.saturating_mul(count);
    if need <= MAX_PREPROCESSED_BYTES {
        return Ok(());
    }
    Err(InferError::Preprocessing {
        inferences: count,
        per_inference,
        limit: MAX_PREPROCESSED_BYTES,
    })
}
