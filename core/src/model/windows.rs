//! The comparison each comparing node runs (seed paper, "Approximate DReLU"): either the window
//! calibrated for it on data ([`crate::spec::Calibration`], `patchwork plan calibrate`), or one
//! setting for the whole model, which must then hold the range the calibration recorded.
//!
//! A window keeping bits `k_lsb .. 64 - k_msb` reads the sign of `x` right for every sharing
//! when `|x| <= (2^(l* - 1) - 1) 2^k_lsb` ([`covers`]; see
//! [`Comparison::guaranteed`]). Larger magnitudes wrap around the `l*`-bit ring, which gives
//! wrong results with no sign of it; so a fixed setting whose window is narrower than a
//! recorded range is refused, naming the layer.

use crate::fixed_point::FixedPoint;
use crate::protocol::drelu::Comparison;
use crate::spec::Calibration;

use super::spec_check::SpecError;

/// The largest magnitude, in real units at `fp`, whose sign `cmp` reads right for every
/// sharing (infinite for exact DReLU).
pub fn covers(cmp: Comparison, fp: FixedPoint) -> f64 {
    match cmp {
        Comparison::Exact => f64::INFINITY,
        Comparison::Approx { k_lsb, .. } => {
            let half = libm::exp2((cmp.width() - 1) as f64);
            (half - 1.0) * libm::exp2(k_lsb as f64 - fp.frac_bits() as f64)
        }
    }
}

/// The comparison of the node `name`, which compares sums of up to `area` values (a Block-ReLU's
/// largest patch; 1 for other nodes). Without a window it runs the model-wide `setting` widened
/// for the area ([`Comparison::for_patch`]).
///
/// With `calibrated`, a node with a window runs it (the windows must have been counted at
/// `fp`'s fractional bits) and a node without one runs the setting. Without, every node runs
/// the setting, which must hold the range recorded for the node, if one is.
pub fn node_comparison(
    name: &str,
    setting: Comparison,
    area: usize,
    calibration: Option<&Calibration>,
    fp: FixedPoint,
    calibrated: bool,
) -> Result<Comparison, SpecError> {
    let fixed = setting.for_patch(area);
    let Some(c) = calibration else {
        return Ok(fixed);
    };
    let Some(window) = c.window(name) else {
        return Ok(fixed);
    };
    if calibrated {
        if c.frac_bits != fp.frac_bits() {
            return Err(SpecError::WindowFracBits {
                calibrated: c.frac_bits,
                running: fp.frac_bits(),
            });
        }
        return Ok(window.comparison());
    }
    let holds = covers(fixed, fp);
    if window.max_abs > holds {
        return Err(SpecError::WindowTooNarrow {
            layer: name.into(),
            max_abs: window.max_abs,
            setting,
            window: fixed,
            covers: holds,
        });
    }
    Ok(fixed)
}
