//! Fixed-point encoding of reals in Z_2^64 with `f` fractional bits, and the local truncation
//! of SecureML (Mohassel and Zhang 2017) that SecureNN uses after every product.

use fixed::types::I32F32;

/// Fixed-point settings: `f` fractional bits, checked at construction ([`FixedPoint::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedPoint {
    frac_bits: u32,
}

/// A value that cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EncodeError {
    /// NaN or infinite.
    NotFinite(f32),
    /// Outside the range the encoding holds (`|x| < 2^31`).
    OutOfRange(f32),
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::NotFinite(x) => write!(f, "{x} is not finite"),
            EncodeError::OutOfRange(x) => write!(f, "{x} is outside the encoding (|x| < 2^31)"),
        }
    }
}

impl FixedPoint {
    /// The largest number of fractional bits (the encoding holds `|x| < 2^31`).
    pub const MAX_FRAC_BITS: u32 = 32;

    /// `f` fractional bits, 0..=32 (the seed used 12 to 16).
    pub const fn new(frac_bits: u32) -> Option<FixedPoint> {
        if frac_bits <= Self::MAX_FRAC_BITS {
            Some(FixedPoint { frac_bits })
        } else {
            None
        }
    }

    /// 12 fractional bits (the default of approximate DReLU, as in the seed paper).
    pub const F12: FixedPoint = FixedPoint { frac_bits: 12 };

    /// The number of fractional bits `f`.
    pub const fn frac_bits(self) -> u32 {
        self.frac_bits
    }

    /// Encodes `x` as `round(x * 2^f)` in two's complement. The conversion goes through the
    /// `fixed` crate's `I32F32` (exact for every f32 in range, round to nearest).
    pub fn encode(self, x: f32) -> Result<u64, EncodeError> {
        if !x.is_finite() {
            return Err(EncodeError::NotFinite(x));
        }
        let v = I32F32::checked_from_num(x).ok_or(EncodeError::OutOfRange(x))?;
        let shift = 32 - self.frac_bits;
        let bits = v.to_bits();
        // Round to nearest at the target precision.
        let rounded = if shift == 0 {
            bits
        } else {
            bits.saturating_add(1i64 << (shift - 1)) >> shift
        };
        Ok(rounded as u64)
    }

    /// Decodes a ring element read as two's complement.
    pub fn decode(self, v: u64) -> f64 {
        (v as i64) as f64 / (1u64 << self.frac_bits) as f64
    }

    /// Local truncation of one share by `f` bits (SecureML): P0 shifts its share arithmetically,
    /// P1 negates, shifts and negates. The result is the true quotient or off by one in the last
    /// place, except with probability about `|x| / 2^64` when the shares wrap badly (the
    /// signed difference of the two shares overflows for `|x|` of the 2^64 values of P0's).
    pub fn truncate_share(self, j: u64, share: u64) -> u64 {
        let f = self.frac_bits;
        if j == 0 {
            ((share as i64) >> f) as u64
        } else {
            (((share.wrapping_neg()) as i64) >> f).wrapping_neg() as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        let fp = FixedPoint::new(12).unwrap();
        assert_eq!(fp.encode(1.0), Ok(4096));
        assert_eq!(fp.encode(-1.5), Ok((-6144i64) as u64));
        assert_eq!(fp.decode(fp.encode(-3.25).unwrap()), -3.25);
        assert!(matches!(
            fp.encode(f32::NAN),
            Err(EncodeError::NotFinite(_))
        ));
        assert!(matches!(fp.encode(3e9), Err(EncodeError::OutOfRange(_))));
    }

    #[test]
    fn truncation_is_within_one_ulp() {
        let fp = FixedPoint::new(13).unwrap();
        let mut r = 0x1234_5678_9abc_def0u64;
        for i in 0..10_000i64 {
            let x = (i - 5000) * 977_013; // products of two fixed-point values
            r = r
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (s0, s1) = (r, (x as u64).wrapping_sub(r));
            let t = fp
                .truncate_share(0, s0)
                .wrapping_add(fp.truncate_share(1, s1)) as i64;
            assert!((t - (x >> 13)).abs() <= 1, "x = {x}: got {t}");
        }
    }
}
