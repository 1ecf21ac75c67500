//! Shared helpers of the protocol tests: secret sharing with a seeded generator and running a
//! step on the in-memory network.
use patchwork_core::net::memory::{self, MemoryTransport, Traffic};
use patchwork_core::party::Party;
use patchwork_core::splitmix::SplitMix64;

/// Random additive shares `[x0, x1, zeros for P2]` of `secret`.
pub fn share(secret: &[u64], seed: u64) -> [Vec<u64>; 3] {
    let mut g = SplitMix64(seed);
    let s0: Vec<u64> = secret.iter().map(|_| g.next_u64()).collect();
    let s1 = secret
        .iter()
        .zip(&s0)
        .map(|(x, r)| x.wrapping_sub(*r))
        .collect();
    [s0, s1, vec![0; secret.len()]]
}

/// `x0 + x1`.
pub fn open(out: &[Vec<u64>; 3]) -> Vec<u64> {
    out[0]
        .iter()
        .zip(&out[1])
        .map(|(a, b)| a.wrapping_add(*b))
        .collect()
}

/// Runs `f(party, its shares)` for the three parties and returns the opened result with the
/// traffic.
pub fn run_shared(
    secret: &[u64],
    seed: u64,
    f: impl Fn(&mut Party<MemoryTransport>, &[u64]) -> Vec<u64> + Sync,
) -> (Vec<u64>, Traffic) {
    let shares = share(secret, seed);
    let (out, traffic) = memory::run(seed, |p| f(p, &shares[p.role().index()]));
    assert!(
        out[2].iter().all(|&v| v == 0),
        "P2 must hold no share of the output"
    );
    (open(&out), traffic)
}
