//! Typed command-line values: every name the CLI accepts is an enum or a parser, so `--help`
//! and shell completions list the valid names and an unknown one is refused naming them.

use clap::ValueEnum;
use patchwork_core::infer::Settings;
use patchwork_core::protocol::drelu::Comparison;
use patchwork_core::protocol::sign::SignProtocol;
use patchwork_core::protocol::truncate::Truncation;
use patchwork_core::role::Role;
use patchwork_model::data::DataSource;
use serde::{Deserialize, Serialize};

/// A party: `p0` (client, holds the input), `p1` (server, holds the model), `p2` (helper).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleArg {
    /// The client: holds the input and alone learns the output.
    P0,
    /// The server: holds the model's weights.
    P1,
    /// The helper: deals correlated randomness.
    P2,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::P0 => Role::P0,
            RoleArg::P1 => Role::P1,
            RoleArg::P2 => Role::P2,
        }
    }
}

impl From<Role> for RoleArg {
    fn from(r: Role) -> RoleArg {
        match r {
            Role::P0 => RoleArg::P0,
            Role::P1 => RoleArg::P1,
            Role::P2 => RoleArg::P2,
        }
    }
}

/// A party that serves many clients: `p1` or `p2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServerRole {
    /// The server with the model.
    P1,
    /// The helper.
    P2,
}

impl From<ServerRole> for Role {
    fn from(r: ServerRole) -> Role {
        match r {
            ServerRole::P1 => Role::P1,
            ServerRole::P2 => Role::P2,
        }
    }
}

/// How the three parties of one process talk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum NetworkArg {
    /// TLS over 127.0.0.1, keys from the handshakes.
    #[default]
    Tcp,
    /// Queues between threads.
    Memory,
}

/// How the sign steps (ReLU, Block-ReLU, MaxPool) decide.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SignArg {
    /// SecureNN's PrivateCompare, P2 in the loop: 3 rounds per ReLU.
    #[default]
    PrivateCompare,
    /// Function secret sharing with keys P2 deals: 2 rounds per ReLU, more (input-
    /// independent) bytes from P2 to P0 and P1.
    Fss,
}

impl From<SignArg> for SignProtocol {
    fn from(s: SignArg) -> SignProtocol {
        match s {
            SignArg::PrivateCompare => SignProtocol::PrivateCompare,
            SignArg::Fss => SignProtocol::Fss,
        }
    }
}

/// How products are truncated back to `f` fractional bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TruncationArg {
    /// SecureML: free, wrong by about 2^(64-f) with probability |x|/2^64 per value.
    Local,
    /// P2 deals a mask: one round and 32 bytes per value, never wrong.
    Assisted,
}

impl From<TruncationArg> for Truncation {
    fn from(t: TruncationArg) -> Truncation {
        match t {
            TruncationArg::Local => Truncation::Local,
            TruncationArg::Assisted => Truncation::Assisted,
        }
    }
}

impl From<Truncation> for TruncationArg {
    fn from(t: Truncation) -> TruncationArg {
        match t {
            Truncation::Local => TruncationArg::Local,
            Truncation::Assisted => TruncationArg::Assisted,
        }
    }
}

/// A labelled data set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DataArg {
    /// Fashion-MNIST's 10,000 test images (IDX files in --data-dir).
    #[default]
    FashionMnist,
    /// Fashion-MNIST's 60,000 training images (IDX files in --data-dir).
    FashionMnistTrain,
    /// The 64 test images bundled in the binary.
    #[value(name = "fashion-mnist-64")]
    FashionMnist64,
}

impl From<DataArg> for DataSource {
    fn from(d: DataArg) -> DataSource {
        match d {
            DataArg::FashionMnist => DataSource::FashionMnistTest,
            DataArg::FashionMnistTrain => DataSource::FashionMnistTrain,
            DataArg::FashionMnist64 => DataSource::FashionMnist64,
        }
    }
}

/// The name of a value of a [`ValueEnum`] as the command line writes it.
pub fn arg_name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// How the comparisons are set on the command line: one setting for every layer, or each
/// layer's window calibrated in the spec (`auto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApproxArg {
    /// The windows of the spec's calibration (`patchwork plan calibrate`).
    Auto,
    /// `exact`, or one window for every layer.
    Fixed(Comparison),
}

/// `auto`, `exact` or `K_MSB,K_LSB` (see [`parse_comparison`]).
pub fn parse_approx(s: &str) -> Result<ApproxArg, String> {
    if s == "auto" {
        return Ok(ApproxArg::Auto);
    }
    parse_comparison(s).map(ApproxArg::Fixed)
}

/// `exact`, or `K_MSB,K_LSB`: the approximate DReLU ignoring K_MSB high and K_LSB low bits,
/// which must leave at least 2 bits (K_MSB + K_LSB <= 62).
pub fn parse_comparison(s: &str) -> Result<Comparison, String> {
    if s == "exact" {
        return Ok(Comparison::Exact);
    }
    let bits = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("'{v}' is not a bit count (expected `exact` or K_MSB,K_LSB)"))
    };
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("'{s}': expected `exact` or K_MSB,K_LSB, e.g. 43,5"))?;
    let (k_msb, k_lsb) = (bits(a)?, bits(b)?);
    if k_msb.saturating_add(k_lsb) > 62 {
        return Err(format!(
            "{k_msb},{k_lsb}: K_MSB + K_LSB must leave at least 2 bits (at most 62)"
        ));
    }
    Ok(Comparison::Approx { k_msb, k_lsb })
}

/// The command-line form of a comparison (`exact` or `43,5`), which [`parse_comparison`] reads
/// back.
pub fn approx_arg(c: Comparison) -> String {
    match c {
        Comparison::Exact => "exact".to_string(),
        Comparison::Approx { k_msb, k_lsb } => format!("{k_msb},{k_lsb}"),
    }
}

/// The command-line form of an [`ApproxArg`], which [`parse_approx`] reads back.
pub fn approx_choice(a: ApproxArg) -> String {
    match a {
        ApproxArg::Auto => "auto".to_string(),
        ApproxArg::Fixed(c) => approx_arg(c),
    }
}

/// How a run compares, as people read it: `calibrated windows per layer`, `exact DReLU` or
/// `approximate DReLU 43,5 (l* = 16)`.
pub fn comparison_text(s: &Settings) -> String {
    if s.calibrated {
        "approximate DReLU in calibrated windows per layer".to_string()
    } else {
        s.cmp.to_string()
    }
}

/// How a run compares, as the command line writes it (`auto`, `exact`, `43,5`).
pub fn comparison_arg(s: &Settings) -> String {
    if s.calibrated {
        approx_choice(ApproxArg::Auto)
    } else {
        approx_arg(s.cmp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approx_round_trips_and_refuses_bad_windows() {
        for c in [
            Comparison::Exact,
            Comparison::PAPER,
            Comparison::Approx {
                k_msb: 0,
                k_lsb: 62,
            },
        ] {
            assert_eq!(parse_approx(&approx_arg(c)), Ok(ApproxArg::Fixed(c)));
        }
        assert_eq!(parse_approx("auto"), Ok(ApproxArg::Auto));
        assert!(parse_approx("40,23").unwrap_err().contains("at most 62"));
        assert!(parse_approx("43").unwrap_err().contains("exact"));
        assert!(parse_approx("a,5").unwrap_err().contains("'a'"));
    }
}
