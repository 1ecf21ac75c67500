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

/// Packs bytes of at most 7 bits (Z_p elements) to 7 bits each: the layout of
/// [`pack`]`(values, n, 7)`, eight values (one 64-bit word) at a time by halving shifts.
pub fn pack7(values: &[u8]) -> Vec<u8> {
    let mut out = alloc::vec![0u8; packed_len(values.len(), 7)];
    let groups = values.len() / 8;
    let (body, tail) = out.split_at_mut(groups * 7);
    for (group, chunk) in body.chunks_exact_mut(7).zip(values.chunks_exact(8)) {
        let word = compact7(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        group.copy_from_slice(&word.to_le_bytes()[..7]);
    }
    let rest = &values[groups * 8..];
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    tail.copy_from_slice(&compact7(u64::from_le_bytes(last)).to_le_bytes()[..tail.len()]);
    out
}

/// Eight 7-bit values, one per byte, to 56 contiguous bits: pairs into 14 bits, pairs of those
/// into 28, then 56.
#[inline(always)]
fn compact7(x: u64) -> u64 {
    let x = x & 0x7F7F_7F7F_7F7F_7F7F;
    let x = (x & 0x007F_007F_007F_007F) | ((x & 0x7F00_7F00_7F00_7F00) >> 1);
    let x = (x & 0x0000_3FFF_0000_3FFF) | ((x & 0x3FFF_0000_3FFF_0000) >> 2);
    (x & 0x0000_0000_0FFF_FFFF) | ((x & 0x0FFF_FFFF_0000_0000) >> 4)
}

/// The inverse of [`compact7`].
#[inline(always)]
fn spread7(x: u64) -> u64 {
    let x = (x & 0x0000_0000_0FFF_FFFF) | ((x << 4) & 0x0FFF_FFFF_0000_0000);
    let x = (x & 0x0000_3FFF_0000_3FFF) | ((x << 2) & 0x3FFF_0000_3FFF_0000);
    (x & 0x007F_007F_007F_007F) | ((x << 1) & 0x7F00_7F00_7F00_7F00)
}

/// Unpacks `out.len()` values of 7 bits written by [`pack7`] (or [`pack`] with width 7) into
/// `out`. `bytes` must hold [`packed_len`]`(out.len(), 7)` bytes.
pub fn unpack7(bytes: &[u8], out: &mut [u8]) {
    let groups = out.len() / 8;
    let (body, tail) = out.split_at_mut(groups * 8);
    // Whole 8-byte loads while a full word of input remains (the 8th byte is the next group's
    // first and is masked off by `spread7`).
    let wide = groups.min(bytes.len().saturating_sub(1) / 7);
    for (g, chunk) in body.chunks_exact_mut(8).enumerate() {
        let word = if g < wide {
            u64::from_le_bytes(bytes[g * 7..g * 7 + 8].try_into().expect("8 bytes"))
        } else {
            let mut w = [0u8; 8];
            w[..7].copy_from_slice(&bytes[g * 7..g * 7 + 7]);
            u64::from_le_bytes(w)
        };
        chunk.copy_from_slice(&spread7(word & 0x00FF_FFFF_FFFF_FFFF).to_le_bytes());
    }
    let rest = &bytes[groups * 7..];
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    let n = tail.len();
    tail.copy_from_slice(&spread7(u64::from_le_bytes(last)).to_le_bytes()[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The word-at-a-time 7-bit codec writes and reads exactly the generic layout.
        #[test]
        fn pack7_is_the_generic_layout(values in proptest::collection::vec(0u8..128, 0..100)) {
            let bytes = pack7(&values);
            let generic = pack(values.iter().map(|&v| v as u64), values.len(), 7);
            prop_assert_eq!(&bytes, &generic);
            let mut back = alloc::vec![0u8; values.len()];
            unpack7(&bytes, &mut back);
            prop_assert_eq!(back, values);
        }
    }

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
