//! The two float widths the plaintext engines compute in: `f32`, as a network runs, and `f64`,
//! where the planner's base forward pass must not add rounding of its own (eq. 4's distortions
//! of small changes, `patchwork_planner::distortion`).

use core::iter::Sum;
use core::ops::{Add, Div, Mul, Sub};

/// `f32` or `f64`: what the float reference forward and [`super::softmax`] need of a number.
pub trait Real:
    Copy
    + Default
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Sum
{
    /// Minus infinity (the start of a maximum).
    const NEG_INFINITY: Self;
    /// `v` in this width (exact: every `f32` is an `f64`).
    fn of(v: f32) -> Self;
    /// `e^self`.
    fn exp(self) -> Self;
    /// The natural logarithm.
    fn ln(self) -> Self;
    /// The larger of the two (the other when one is NaN).
    fn max(self, other: Self) -> Self;
    /// The smaller of the two (the other when one is NaN).
    fn min(self, other: Self) -> Self;
}

impl Real for f32 {
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    fn of(v: f32) -> Self {
        v
    }
    fn exp(self) -> Self {
        libm::expf(self)
    }
    fn ln(self) -> Self {
        libm::logf(self)
    }
    fn max(self, other: Self) -> Self {
        f32::max(self, other)
    }
    fn min(self, other: Self) -> Self {
        f32::min(self, other)
    }
}

impl Real for f64 {
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    fn of(v: f32) -> Self {
        f64::from(v)
    }
    fn exp(self) -> Self {
        libm::exp(self)
    }
    fn ln(self) -> Self {
        libm::log(self)
    }
    fn max(self, other: Self) -> Self {
        f64::max(self, other)
    }
    fn min(self, other: Self) -> Self {
        f64::min(self, other)
    }
}
