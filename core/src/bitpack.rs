//! Dense bit packing of wire values: Z_p elements in 7 bits, Z_2^m elements in `m` bits.
//!
//! Cost anchors in the seed paper count log p as 8 bits and every ring element as 64; packing
//! to the exact width is part of how Patchwork stays under them.

use alloc::vec::Vec;

/// Bytes needed for `n` values of `width` bits.
pub fn packed_len(n: usize, width: u32) -> usize {
    (n * width as usize).div_ceil(8)
}

/// Packs the low `width` bits (1..=64) of each value, little-endian bit order.
pub fn pack(values: impl IntoIterator<Item = u64>, n: usize, width: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(packed_len(n, width) + 8);
    let mut acc: u128 = 0;
    let mut bits: u32 = 0;
    let m = crate::ring::mask(width);
    for v in values {
        acc |= ((v & m) as u128) << bits;
        bits += width;
        while bits >= 64 {
            out.extend_from_slice(&(acc as u64).to_le_bytes());
            acc >>= 64;
            bits -= 64;
        }
    }
    out.extend_from_slice(&(acc as u64).to_le_bytes()[..(bits as usize).div_ceil(8)]);
    out
}

/// Unpacks `n` values of `width` bits written by [`pack`]. `bytes` must hold
/// [`packed_len`]`(n, width)` bytes (the transport checks exact lengths before this runs).
pub fn unpack(bytes: &[u8], n: usize, width: u32) -> Vec<u64> {
    let m = crate::ring::mask(width);
    let mut out = Vec::with_capacity(n);
    let mut acc: u128 = 0;
    let mut bits: u32 = 0;
    let mut chunks = bytes.chunks(8);
    for _ in 0..n {
        if bits < width {
            let chunk = chunks.next().unwrap_or(&[]);
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            acc |= (u64::from_le_bytes(word) as u128) << bits;
            bits += 64;
        }
        out.push((acc as u64) & m);
        acc >>= width;
        bits -= width;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pack_unpack_roundtrip(values in proptest::collection::vec(any::<u64>(), 0..200), width in 1u32..=64) {
            let m = crate::ring::mask(width);
            let bytes = pack(values.iter().copied(), values.len(), width);
            prop_assert_eq!(bytes.len(), packed_len(values.len(), width));
            let back = unpack(&bytes, values.len(), width);
            let expected: Vec<u64> = values.iter().map(|v| v & m).collect();
            prop_assert_eq!(back, expected);
        }
    }
}
