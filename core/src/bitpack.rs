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
    let mut out = Vec::with_capacity(packed_len(n, width));
    if width == 64 {
        values
            .into_iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        return out;
    }
    let m = crate::ring::mask(width);
    if width <= 16 {
        // Eight values fill exactly `width` bytes.
        let mut it = values.into_iter();
        let mut left = n;
        while left > 0 {
            let take = left.min(8);
            let mut acc = 0u128;
            for k in 0..take {
                acc |= ((it.next().unwrap_or(0) & m) as u128) << (k as u32 * width);
            }
            out.extend_from_slice(&acc.to_le_bytes()[..(take * width as usize).div_ceil(8)]);
            left -= take;
        }
        return out;
    }
    // Fewer than 8 bits are pending before each value, so at most 71 bits are held.
    let (mut acc, mut bits) = (0u128, 0u32);
    for v in values {
        acc |= ((v & m) as u128) << bits;
        bits += width;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
    out
}

/// Unpacks `n` values of `width` bits written by [`pack`], handing each to `put`. `bytes` must
/// hold [`packed_len`]`(n, width)` bytes (the transport checks exact lengths before this runs).
pub fn unpack_each(bytes: &[u8], n: usize, width: u32, mut put: impl FnMut(usize, u64)) {
    if width == 64 {
        for (i, c) in bytes.chunks_exact(8).take(n).enumerate() {
            put(
                i,
                u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
            );
        }
        return;
    }
    let m = crate::ring::mask(width);
    if width <= 16 {
        let w = width as usize;
        for (g, chunk) in bytes.chunks(w).enumerate().take(n.div_ceil(8)) {
            let mut word = [0u8; 16];
            word[..chunk.len()].copy_from_slice(chunk);
            let acc = u128::from_le_bytes(word);
            for k in 0..8.min(n - g * 8) {
                put(g * 8 + k, (acc >> (k * w)) as u64 & m);
            }
        }
        return;
    }
    let (mut acc, mut bits) = (0u128, 0u32);
    let mut src = bytes.iter();
    for i in 0..n {
        while bits < width {
            acc |= (*src.next().unwrap_or(&0) as u128) << bits;
            bits += 8;
        }
        put(i, acc as u64 & m);
        acc >>= width;
        bits -= width;
    }
}

/// Unpacks `n` values of `width` bits into a vector.
pub fn unpack(bytes: &[u8], n: usize, width: u32) -> Vec<u64> {
    let mut out = alloc::vec![0u64; n];
    unpack_each(bytes, n, width, |i, v| out[i] = v);
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
