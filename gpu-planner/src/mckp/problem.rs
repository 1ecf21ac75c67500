//! A multiple-choice knapsack instance (seed paper, eq. 5): classes `i = 1..m` (the channels
//! `C_i`), each with items `j` of weight `W(i, j)` (DReLUs) and cost `D(i, j)` (distortion).
//! Exactly one item is picked per class.

use std::fmt;

use crate::table::DistortionTable;

/// Items of all classes in flat arrays; class `i` owns `starts[i]..starts[i + 1]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Problem {
    starts: Vec<usize>,
    weights: Vec<u64>,
    costs: Vec<f64>,
    /// Sum over classes of the heaviest item: no choice weighs more.
    max_total: u64,
}

/// Why a problem could not be built.
#[derive(Clone, Debug, PartialEq)]
pub enum ProblemError {
    /// Class `class` has no items.
    EmptyClass {
        /// The class (channel).
        class: usize,
    },
    /// Class `class` has more than `u32::MAX` items.
    TooManyItems {
        /// The class (channel).
        class: usize,
    },
    /// The heaviest choice would weigh more than `u64::MAX` once class `class` is added.
    WeightOverflow {
        /// The class (channel).
        class: usize,
    },
    /// Item `item` of class `class` has a NaN or infinite cost.
    NonFinite {
        /// The class (channel).
        class: usize,
        /// The item in its class.
        item: usize,
        /// The value.
        value: f64,
    },
}

impl fmt::Display for ProblemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemError::EmptyClass { class } => write!(f, "class {class} has no items"),
            ProblemError::TooManyItems { class } => write!(f, "class {class} has too many items"),
            ProblemError::WeightOverflow { class } => {
                write!(f, "class {class}: total weight overflows 64 bits")
            }
            ProblemError::NonFinite { class, item, value } => {
                write!(f, "class {class}, item {item}: cost {value} is not finite")
            }
        }
    }
}

impl std::error::Error for ProblemError {}

impl Problem {
    /// An empty problem to push classes into.
    pub fn new() -> Self {
        Problem {
            starts: vec![0],
            weights: Vec::new(),
            costs: Vec::new(),
            max_total: 0,
        }
    }

    /// Builds a problem from `(weight, cost)` items per class. The heaviest choice must weigh
    /// at most `u64::MAX`, so no sum of weights overflows.
    pub fn from_classes(classes: &[Vec<(u64, f64)>]) -> Result<Self, ProblemError> {
        let mut p = Problem::new();
        for items in classes {
            p.push_class(items.iter().copied())?;
        }
        Ok(p)
    }

    /// The knapsack of a validated distortion table: one class per channel, in layer order
    /// then channel order, items in the layer's patch-size order.
    pub fn from_table(table: &DistortionTable) -> Result<Self, ProblemError> {
        let mut p = Problem::new();
        for layer in &table.layers {
            let w: Vec<u64> = (0..layer.patch_sizes.len())
                .map(|j| layer.drelus(j))
                .collect();
            for row in &layer.distortion {
                p.push_class(w.iter().copied().zip(row.iter().copied()))?;
            }
        }
        Ok(p)
    }

    /// Appends one class.
    pub fn push_class(
        &mut self,
        items: impl IntoIterator<Item = (u64, f64)>,
    ) -> Result<(), ProblemError> {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        let class = self.starts.len() - 1;
        let before = self.weights.len();
        for (item, (w, c)) in items.into_iter().enumerate() {
            if !c.is_finite() {
                self.weights.truncate(before);
                self.costs.truncate(before);
                return Err(ProblemError::NonFinite {
                    class,
                    item,
                    value: c,
                });
            }
            self.weights.push(w);
            self.costs.push(c);
        }
        let n = self.weights.len() - before;
        if n == 0 {
            return Err(ProblemError::EmptyClass { class });
        }
        let heaviest = self.weights[before..].iter().copied().max().unwrap_or(0);
        let error = if u32::try_from(n).is_err() {
            Some(ProblemError::TooManyItems { class })
        } else if self.max_total.checked_add(heaviest).is_none() {
            Some(ProblemError::WeightOverflow { class })
        } else {
            None
        };
        if let Some(e) = error {
            self.weights.truncate(before);
            self.costs.truncate(before);
            return Err(e);
        }
        self.max_total += heaviest;
        self.starts.push(self.weights.len());
        Ok(())
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Number of items over all classes.
    pub fn items(&self) -> usize {
        self.weights.len()
    }

    /// Weights of class `i`'s items.
    pub fn weights(&self, i: usize) -> &[u64] {
        &self.weights[self.starts[i]..self.starts[i + 1]]
    }

    /// Costs of class `i`'s items.
    pub fn costs(&self, i: usize) -> &[f64] {
        &self.costs[self.starts[i]..self.starts[i + 1]]
    }

    /// Total weight and cost of picking item `choice[i]` in every class; `None` if a choice is
    /// out of range or the length is wrong.
    pub fn evaluate(&self, choice: &[u32]) -> Option<(u64, f64)> {
        if choice.len() != self.classes() {
            return None;
        }
        let mut w = 0u64;
        let mut c = 0.0;
        for (i, &j) in choice.iter().enumerate() {
            let j = j as usize;
            w = w.checked_add(*self.weights(i).get(j)?)?;
            c += self.costs(i).get(j)?;
        }
        Some((w, c))
    }
}
