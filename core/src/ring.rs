//! Ring and field helpers: Z_2^m (wrapping `u64`, masked to `m` bits) and Z_p with p = 67,
//! the field SecureNN's PrivateCompare (Alg. 3) works in.

/// The prime of PrivateCompare's field. It must exceed the compared bit length plus 2.
pub const P: u8 = 67;

/// Bits needed to write one Z_p element on the wire.
pub const P_BITS: u32 = 7;

/// Mask of the low `m` bits (`m` in 1..=64).
#[inline]
pub fn mask(m: u32) -> u64 {
    if m >= 64 {
        u64::MAX
    } else {
        (1u64 << m) - 1
    }
}

/// `(a - b) mod p`.
#[inline]
pub fn zp_sub(a: u8, b: u8) -> u8 {
    let d = a.wrapping_sub(b);
    d.wrapping_add(P & ((a < b) as u8).wrapping_neg())
}

/// Elementwise `a + b` over Z_2^64.
pub fn add(a: &[u64], b: &[u64]) -> alloc::vec::Vec<u64> {
    a.iter().zip(b).map(|(x, y)| x.wrapping_add(*y)).collect()
}

/// Elementwise `a - b` over Z_2^64.
pub fn sub(a: &[u64], b: &[u64]) -> alloc::vec::Vec<u64> {
    a.iter().zip(b).map(|(x, y)| x.wrapping_sub(*y)).collect()
}

/// `a += b` over Z_2^64.
pub fn add_assign(a: &mut [u64], b: &[u64]) {
    a.iter_mut()
        .zip(b)
        .for_each(|(x, y)| *x = x.wrapping_add(*y));
}

/// `a -= b` over Z_2^64.
pub fn sub_assign(a: &mut [u64], b: &[u64]) {
    a.iter_mut()
        .zip(b)
        .for_each(|(x, y)| *x = x.wrapping_sub(*y));
}

/// The odd modulus `L - 1 = 2^64 - 1` of SecureNN's ShareConvert and ComputeMSB.
pub const ODD: u64 = u64::MAX;

/// Reduces a `u64` into Z_{L-1} (`L - 1` itself becomes 0).
#[inline]
pub fn odd_reduce(a: u64) -> u64 {
    if a == ODD {
        0
    } else {
        a
    }
}

/// `(a + b) mod (L - 1)` for `a, b` in Z_{L-1}.
#[inline]
pub fn odd_add(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    // a + b = s + carry * 2^64 = s + carry * (L - 1) + carry.
    odd_reduce(s.wrapping_add(carry as u64))
}

/// `(a - b) mod (L - 1)` for `a, b` in Z_{L-1}.
#[inline]
pub fn odd_sub(a: u64, b: u64) -> u64 {
    odd_add(a, ODD - b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zp_sub_matches_integer_arithmetic() {
        for a in 0..P {
            for b in 0..P {
                assert_eq!(zp_sub(a, b) as i32, (a as i32 - b as i32).rem_euclid(67));
            }
        }
    }

    #[test]
    fn odd_ring_matches_u128_arithmetic() {
        let vals = [
            0u64,
            1,
            2,
            ODD - 1,
            ODD - 2,
            1 << 63,
            (1 << 63) - 1,
            0x1234_5678_9abc_def0,
        ];
        let n = ODD as u128;
        for &a in &vals {
            for &b in &vals {
                let (a, b) = (odd_reduce(a), odd_reduce(b));
                assert_eq!(odd_add(a, b) as u128, (a as u128 + b as u128) % n);
                assert_eq!(odd_sub(a, b) as u128, (a as u128 + n - b as u128) % n);
            }
        }
    }

    #[test]
    fn mask_widths() {
        assert_eq!(mask(1), 1);
        assert_eq!(mask(16), 0xffff);
        assert_eq!(mask(63), u64::MAX >> 1);
        assert_eq!(mask(64), u64::MAX);
    }
}
