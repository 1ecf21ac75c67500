//! From a distortion table and a budget to a Block-ReLU spec: the knapsack of the seed paper
//! (eq. 5) solved by [`crate::mckp`], written in the core `Spec` format plus the numbers that
//! prove its quality.
//!
//! JSON form: `{"layers": [...spec layers...], "budget": B, "drelus": n, "distortion": d,
//! "lower_bound": l, "gap": d - l, "proven_optimal": true}`.

use std::fmt;

use patchwork_core::spec::{LayerSpec, Spec};
use serde::{Deserialize, Serialize};

use crate::budget::{BadRatio, Budget};
use crate::mckp::{self, Problem, ProblemError, Solution, SolveError, SolveOptions};
use crate::table::{DistortionTable, TableError};

/// A solved spec with its DReLU count, distortion and optimality certificate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The chosen patch size of every channel.
    #[serde(flatten)]
    pub spec: Spec,
    /// The budget `B` in DReLUs.
    pub budget: u64,
    /// DReLUs of the spec, at most `budget`.
    pub drelus: u64,
    /// Total distortion of the spec (sum of `D(i, j)` over the chosen patch sizes).
    pub distortion: f64,
    /// No spec within the budget has less total distortion.
    pub lower_bound: f64,
    /// `distortion - lower_bound`.
    pub gap: f64,
    /// Whether the search finished (the gap is then zero up to rounding).
    pub proven_optimal: bool,
}

/// Why planning failed.
#[derive(Debug)]
pub enum PlanError {
    /// The distortion table is invalid.
    Table(TableError),
    /// The budget ratio is invalid.
    Budget(BadRatio),
    /// The knapsack problem cannot be built.
    Problem(ProblemError),
    /// The knapsack has no solution.
    Solve(SolveError),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Table(e) => e.fmt(f),
            PlanError::Budget(e) => e.fmt(f),
            PlanError::Problem(e) => e.fmt(f),
            PlanError::Solve(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PlanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlanError::Table(e) => Some(e),
            PlanError::Budget(e) => Some(e),
            PlanError::Problem(e) => Some(e),
            PlanError::Solve(e) => Some(e),
        }
    }
}

/// Validates `table`, solves its knapsack for `budget` and returns the plan and the raw solution
/// (for its statistics).
pub fn plan(
    table: &DistortionTable,
    budget: Budget,
    opts: &SolveOptions,
) -> Result<(Plan, Solution), PlanError> {
    table.validate().map_err(PlanError::Table)?;
    let budget = budget
        .resolve(table.total_relus())
        .map_err(PlanError::Budget)?;
    let problem = Problem::from_table(table).map_err(PlanError::Problem)?;
    let solution = mckp::solve(&problem, budget, opts).map_err(PlanError::Solve)?;
    let mut picks = solution.choice.iter();
    let layers = table
        .layers
        .iter()
        .map(|layer| LayerSpec {
            name: layer.name.clone(),
            patch_sizes: picks
                .by_ref()
                .take(layer.channels)
                .map(|&j| layer.patch_sizes[j as usize])
                .collect(),
        })
        .collect();
    let plan = Plan {
        spec: Spec {
            layers,
            calibration: None,
        },
        budget,
        drelus: solution.weight,
        distortion: solution.cost,
        lower_bound: solution.lower_bound,
        gap: solution.gap(),
        proven_optimal: solution.proven_optimal,
    };
    Ok((plan, solution))
}
