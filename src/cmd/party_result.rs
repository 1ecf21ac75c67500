//! What `patchwork party --json` prints, as one serde type that every reader parses (the model
//! benchmark, the fault harness, the end-to-end tests): a run, or a failure naming the peer that
//! caused it. Unknown fields and wrong types are errors, not zeros.

use serde::{Deserialize, Serialize};

use super::values::RoleArg;

/// One party's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PartyResult {
    /// The party completed its inferences.
    Ran(PartyRun),
    /// The party stopped with an error.
    Failed(PartyFailure),
}

/// A completed run: the first inference's numbers, plus every inference's seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyRun {
    /// Which party.
    pub role: RoleArg,
    /// P0's output (logits); `None` for P1 and P2.
    pub output: Option<Vec<f32>>,
    /// P0's class (the index of the largest output; the first image's for a batch); `None`
    /// for P1 and P2.
    pub class: Option<usize>,
    /// Images per inference (`--batch`).
    pub images: usize,
    /// P0's class of each image; `None` for P1 and P2.
    pub classes: Option<Vec<usize>>,
    /// Seconds of the first inference.
    pub seconds: f64,
    /// Seconds of the session's set-up (program check and weight masks).
    pub setup_seconds: f64,
    /// Bytes this party sent during the first inference.
    pub bytes_sent: u64,
    /// Of those, bytes sent to P0, P1 and P2.
    pub sent_to: [u64; 3],
    /// Bytes this party sent during set-up.
    pub setup_bytes_sent: u64,
    /// Rounds of the first inference.
    pub rounds: u64,
    /// Peak resident memory of the process (`VmHWM`), where the OS reports it.
    pub peak_rss_bytes: Option<u64>,
    /// Seconds of every inference of the session (`--repeat`; online phases with
    /// `--preprocess`).
    pub repeat_seconds: Vec<f64>,
    /// With `--preprocess`, the first inference's offline phase (everything above but the
    /// set-up is then its online phase).
    pub offline: Option<Box<OfflinePhase>>,
}

/// One party's offline phase of an inference (`--preprocess`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflinePhase {
    /// Seconds of its offline walk.
    pub seconds: f64,
    /// Bytes this party sent in it, to P0, P1 and P2.
    pub sent_to: [u64; 3],
    /// Rounds of the offline walk as this party saw them.
    pub rounds: u64,
    /// Bytes this party kept for the online phase.
    pub kept_bytes: u64,
}

/// A failure: the message, and the peer that caused it when one did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyFailure {
    /// Which party failed.
    pub role: RoleArg,
    /// What went wrong.
    pub error: String,
    /// The peer that caused it, if one did.
    pub peer: Option<RoleArg>,
}

impl PartyResult {
    /// Parses what a party printed on stdout (one JSON object).
    pub fn parse(stdout: &str) -> Result<PartyResult, String> {
        serde_json::from_str(stdout.trim())
            .map_err(|e| format!("not a party result ({e}): {}", stdout.trim()))
    }

    /// The completed run, or the failure's message as an error.
    pub fn ran(self) -> Result<PartyRun, String> {
        match self {
            PartyResult::Ran(run) => Ok(run),
            PartyResult::Failed(f) => Err(f.error),
        }
    }
}

impl std::fmt::Display for PartyResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_failures_round_trip_and_bad_fields_are_refused() {
        let run = PartyResult::Ran(PartyRun {
            role: RoleArg::P0,
            output: Some(vec![0.5, -1.0]),
            class: Some(0),
            images: 1,
            classes: Some(vec![0]),
            seconds: 0.25,
            setup_seconds: 0.1,
            bytes_sent: 10,
            sent_to: [0, 6, 4],
            setup_bytes_sent: 3,
            rounds: 7,
            peak_rss_bytes: None,
            repeat_seconds: vec![0.25],
            offline: Some(Box::new(OfflinePhase {
                seconds: 0.5,
                sent_to: [0, 0, 0],
                rounds: 2,
                kept_bytes: 64,
            })),
        });
        let failed = PartyResult::Failed(PartyFailure {
            role: RoleArg::P2,
            error: "P1 closed the connection".into(),
            peer: Some(RoleArg::P1),
        });
        for r in [run, failed] {
            assert_eq!(PartyResult::parse(&r.to_string()), Ok(r));
        }
        assert!(PartyResult::parse(r#"{"role":"p0","seconds":"fast"}"#).is_err());
        assert!(PartyResult::parse(r#"{"role":"p3","error":"x","peer":null}"#).is_err());
        assert!(PartyResult::parse("").is_err());
    }
}
