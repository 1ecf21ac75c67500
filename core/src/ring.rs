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

/// `(a + b) mod p`.
#[inline]
pub fn zp_add(a: u8, b: u8) -> u8 {
    let s = a + b; // both < 67, no overflow
    s - (P & ((s >= P) as u8).wrapping_neg())
}

/// `(a - b) mod p`.
#[inline]
pub fn zp_sub(a: u8, b: u8) -> u8 {
    let d = a.wrapping_sub(b);
    d.wrapping_add(P & ((a < b) as u8).wrapping_neg())
}

/// `(a * b) mod p`.
#[inline]
pub fn zp_mul(a: u8, b: u8) -> u8 {
    ((a as u16 * b as u16) % P as u16) as u8
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zp_ops_match_integer_arithmetic() {
        for a in 0..P {
            for b in 0..P {
                assert_eq!(zp_add(a, b) as u32, (a as u32 + b as u32) % 67);
                assert_eq!(zp_sub(a, b) as i32, (a as i32 - b as i32).rem_euclid(67));
                assert_eq!(zp_mul(a, b) as u32, (a as u32 * b as u32) % 67);
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
