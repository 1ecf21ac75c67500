//! The DReLU budget `B` of the seed paper's knapsack (eq. 5), given either as a count or as a
//! ratio of the model's ReLUs (the paper's rate `#bReLUs / #ReLUs`).

use std::fmt;

/// A DReLU budget as the user states it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// At most this many DReLUs.
    DRelus(u64),
    /// At most `floor(ratio * total ReLUs)` DReLUs, `0 <= ratio <= 1`.
    Ratio(f64),
}

/// A budget ratio outside `[0, 1]` or not a number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BadRatio(pub f64);

impl fmt::Display for BadRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "budget ratio {} must be a number between 0 and 1",
            self.0
        )
    }
}

impl std::error::Error for BadRatio {}

impl Budget {
    /// The budget in DReLUs for a model with `total_relus` ReLUs.
    pub fn resolve(self, total_relus: u64) -> Result<u64, BadRatio> {
        match self {
            Budget::DRelus(n) => Ok(n),
            Budget::Ratio(r) if (0.0..=1.0).contains(&r) => {
                // Exact for totals below 2^53, which covers any real network.
                Ok(((r * total_relus as f64).floor() as u64).min(total_relus))
            }
            Budget::Ratio(r) => Err(BadRatio(r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_of_resnet50_relus() {
        assert_eq!(Budget::Ratio(0.06).resolve(9_608_704), Ok(576_522));
        assert_eq!(Budget::Ratio(1.0).resolve(10), Ok(10));
        assert_eq!(Budget::DRelus(7).resolve(3), Ok(7));
    }

    #[test]
    fn bad_ratios_are_rejected() {
        for r in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(Budget::Ratio(r).resolve(100).is_err());
        }
    }
}
