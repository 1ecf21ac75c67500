//! Wrapping 64-bit integer matrix products, the inner loop of every convolution and linear
//! layer of the secure inference (each party computes one per layer: P0 `op(A, F)`, P1
//! `op(X1 + E, W)`, P2 `op(A, B)`; SecureNN Alg. 1, MatMul).
//!
//! The product is register-blocked: an `MR x NR` tile of the output stays in registers while
//! the shared dimension streams through, reading a packed panel of `a` (so each `a` value is a
//! broadcast) and one short row of `b` per step. The last `n mod NR` output columns (all of
//! them when `n < NR`: a convolution on a small map, a matrix-vector product) are dot products
//! along the shared dimension instead, eight lanes at a time over `b`'s columns packed
//! contiguously, so that they too run in vector registers. The same code is compiled twice:
//! portable, and with AVX-512 (F + DQ, whose `vpmullq` multiplies eight 64-bit lanes at
//! once) for x86-64 processors that report it at run time. Both give bit-identical results (wrapping
//! arithmetic is exact), which the tests check.

/// Output rows per register tile.
const MR: usize = 8;
/// Output columns per register tile.
const NR: usize = 16;
/// Lanes of a dot product of [`narrow`]: one AVX-512 register of 64-bit values.
const LANES: usize = 8;

/// `out (m x n) += a (m x k) * b (k x n)` over Z_2^64 (wrapping), all row-major.
///
/// # Panics
/// If a slice is shorter than its dimensions say (a caller's bug, never peer data: shapes come
/// from the model).
pub fn gemm_acc(m: usize, k: usize, n: usize, a: &[u64], b: &[u64], out: &mut [u64]) {
    assert!(a.len() >= m * k && b.len() >= k * n && out.len() >= m * n);
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512dq")
    {
        // SAFETY: the processor has just reported both features the function is compiled for.
        #[allow(unsafe_code)]
        unsafe {
            gemm_avx512(m, k, n, a, b, out)
        };
        return;
    }
    gemm_blocked(m, k, n, a, b, out);
}

/// [`gemm_blocked`] compiled for AVX-512 F + DQ.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx512f,avx512dq")]
fn gemm_avx512(m: usize, k: usize, n: usize, a: &[u64], b: &[u64], out: &mut [u64]) {
    gemm_blocked(m, k, n, a, b, out);
}

/// Full `MR x NR` tiles through [`tile`], the ragged bottom rows through [`edge`], and the
/// ragged right columns (fewer than `NR`) through [`narrow`].
#[inline(always)]
fn gemm_blocked(m: usize, k: usize, n: usize, a: &[u64], b: &[u64], out: &mut [u64]) {
    let full_rows = m - m % MR;
    let full_cols = n - n % NR;
    let mut panel = alloc::vec![0u64; k * MR];
    for i0 in (0..full_rows).step_by(MR) {
        // Pack rows i0..i0+MR of `a` column by column: step `kk` reads MR consecutive values.
        for kk in 0..k {
            for r in 0..MR {
                panel[kk * MR + r] = a[(i0 + r) * k + kk];
            }
        }
        for j0 in (0..full_cols).step_by(NR) {
            tile(k, n, &panel, b, j0, &mut out[i0 * n..(i0 + MR) * n]);
        }
    }
    edge(k, n, a, b, full_rows..m, 0..full_cols, out);
    narrow(m, k, n, a, b, full_cols, out);
}

/// Output columns `first..n` (fewer than `NR`) of every row, as dot products of `a`'s rows with
/// `b`'s columns, which are packed first so that each is contiguous. Columns go four, two or one
/// at a time, sharing each load of `a`.
#[inline(always)]
fn narrow(m: usize, k: usize, n: usize, a: &[u64], b: &[u64], first: usize, out: &mut [u64]) {
    let w = n - first;
    if w == 0 || k == 0 {
        return;
    }
    let mut columns = alloc::vec![0u64; w * k];
    for kk in 0..k {
        for c in 0..w {
            columns[c * k + kk] = b[kk * n + first + c];
        }
    }
    for i in 0..m {
        let row = &a[i * k..(i + 1) * k];
        let dst = &mut out[i * n + first..(i + 1) * n];
        let mut c = 0;
        while c < w {
            let take = match w - c {
                1 => dots::<1>(row, &columns[c * k..], &mut dst[c..]),
                2 | 3 => dots::<2>(row, &columns[c * k..], &mut dst[c..]),
                _ => dots::<4>(row, &columns[c * k..], &mut dst[c..]),
            };
            c += take;
        }
    }
}

/// `dst[t] += row . columns[t*k..(t+1)*k]` for `t < J` (`k = row.len()`), in [`LANES`]
/// accumulators per column; returns `J`.
#[inline(always)]
fn dots<const J: usize>(row: &[u64], columns: &[u64], dst: &mut [u64]) -> usize {
    let k = row.len();
    let split = k - k % LANES;
    let mut acc = [[0u64; LANES]; J];
    for kk in (0..split).step_by(LANES) {
        let av: &[u64; LANES] = row[kk..kk + LANES].try_into().expect("LANES values");
        for (t, acc) in acc.iter_mut().enumerate() {
            let bv: &[u64; LANES] = columns[t * k + kk..t * k + kk + LANES]
                .try_into()
                .expect("LANES values");
            for l in 0..LANES {
                acc[l] = acc[l].wrapping_add(av[l].wrapping_mul(bv[l]));
            }
        }
    }
    for (t, acc) in acc.iter().enumerate() {
        let mut s = acc.iter().fold(0u64, |s, v| s.wrapping_add(*v));
        for kk in split..k {
            s = s.wrapping_add(row[kk].wrapping_mul(columns[t * k + kk]));
        }
        dst[t] = dst[t].wrapping_add(s);
    }
    J
}

/// One `MR x NR` tile at column `j0`: `rows` holds the tile's MR output rows.
#[inline(always)]
fn tile(k: usize, n: usize, panel: &[u64], b: &[u64], j0: usize, rows: &mut [u64]) {
    let mut acc = [[0u64; NR]; MR];
    for kk in 0..k {
        let bv: &[u64; NR] = b[kk * n + j0..kk * n + j0 + NR]
            .try_into()
            .expect("NR values");
        let av: &[u64; MR] = panel[kk * MR..(kk + 1) * MR].try_into().expect("MR values");
        for r in 0..MR {
            for c in 0..NR {
                acc[r][c] = acc[r][c].wrapping_add(av[r].wrapping_mul(bv[c]));
            }
        }
    }
    for (r, acc_row) in acc.iter().enumerate() {
        let o = &mut rows[r * n + j0..r * n + j0 + NR];
        for (o, v) in o.iter_mut().zip(acc_row) {
            *o = o.wrapping_add(*v);
        }
    }
}

/// The plain i-k-j product on the sub-block `rows x cols` of the output.
#[inline(always)]
fn edge(
    k: usize,
    n: usize,
    a: &[u64],
    b: &[u64],
    rows: core::ops::Range<usize>,
    cols: core::ops::Range<usize>,
    out: &mut [u64],
) {
    if cols.is_empty() {
        return;
    }
    for i in rows {
        let row = &mut out[i * n + cols.start..i * n + cols.end];
        for (kk, &aik) in a[i * k..(i + 1) * k].iter().enumerate() {
            let brow = &b[kk * n + cols.start..kk * n + cols.end];
            for (o, &bv) in row.iter_mut().zip(brow) {
                *o = o.wrapping_add(aik.wrapping_mul(bv));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(m: usize, k: usize, n: usize, a: &[u64], b: &[u64], out: &mut [u64]) {
        for i in 0..m {
            for j in 0..n {
                let mut s = out[i * n + j];
                for kk in 0..k {
                    s = s.wrapping_add(a[i * k + kk].wrapping_mul(b[kk * n + j]));
                }
                out[i * n + j] = s;
            }
        }
    }

    proptest! {
        /// Every shape class (full tiles, ragged edges, empty dimensions), with and without the
        /// run-time AVX-512 path, against the triple loop.
        #[test]
        fn matches_the_triple_loop(m in 0usize..20, k in 0usize..30, n in 0usize..40, seed in any::<u64>()) {
            let mut x = seed | 1;
            let mut next = || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
            let a: alloc::vec::Vec<u64> = (0..m * k).map(|_| next()).collect();
            let b: alloc::vec::Vec<u64> = (0..k * n).map(|_| next()).collect();
            let start: alloc::vec::Vec<u64> = (0..m * n).map(|_| next()).collect();
            let mut want = start.clone();
            naive(m, k, n, &a, &b, &mut want);
            let mut got = start.clone();
            gemm_acc(m, k, n, &a, &b, &mut got);
            prop_assert_eq!(&got, &want);
            let mut portable = start;
            gemm_blocked(m, k, n, &a, &b, &mut portable);
            prop_assert_eq!(portable, want);
        }
    }
}
