//! SelectShare (SecureNN Alg. 2): shares of `x + a (y - x)`, i.e. `y` where the shared bit `a`
//! is 1 and `x` where it is 0, by one Beaver product.

use alloc::vec::Vec;

use super::bilinear::Elementwise;
use super::product::beaver;
use crate::party::{check_len, Error, Party};
use crate::ring::{add_assign, sub};
use crate::transport::Transport;

/// Shares of `select(a, x, y)` for shared bits `a` over Z_2^64 (P2 passes zeros). 1 round.
pub fn select_share<T: Transport>(
    p: &mut Party<T>,
    a: &[u64],
    x: &[u64],
    y: &[u64],
) -> Result<Vec<u64>, Error<T::Error>> {
    check_len("select: first choice", a.len(), x.len())?;
    check_len("select: second choice", a.len(), y.len())?;
    let diff = sub(y, x);
    let mut out = beaver(p, &Elementwise(a.len()), a, &diff)?;
    add_assign(&mut out, x);
    Ok(out)
}
