//! Truncation of shares after a fixed-point product: local, no communication (SecureML).

use alloc::vec::Vec;

use crate::fixed_point::FixedPoint;
use crate::role::Role;

/// Each party truncates its own shares by `fp.frac_bits` (P2's zeros stay zero).
pub fn truncate(role: Role, fp: FixedPoint, shares: &[u64]) -> Vec<u64> {
    match role {
        Role::P2 => shares.to_vec(),
        _ => shares
            .iter()
            .map(|&s| fp.truncate_share(role.j(), s))
            .collect(),
    }
}
