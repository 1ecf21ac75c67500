//! Dealing by the helper P2 (SecureNN's "crypto provider"): P2 knows a vector and gives P0 and
//! P1 additive shares of it. P0's share is drawn from the stream P0 shares with P2, so only P1's
//! correction share travels (the PRF optimisation of SecureNN, Section 4).

use alloc::vec;
use alloc::vec::Vec;

use crate::party::{Error, Party, Step};
use crate::ring;
use crate::role::Role;
use crate::transport::Transport;

/// Shares over Z_2^64 of `values` (given by P2 only; P0 and P1 pass `None`). P0 and P1 get
/// their shares, P2 gets an empty vector. One message of `8 n` bytes from P2 to P1.
pub fn deal_ring<T: Transport>(
    p: &mut Party<T>,
    step: Step,
    msg: u16,
    purpose: u16,
    n: usize,
    values: Option<&[u64]>,
) -> Result<Vec<u64>, Error<T::Error>> {
    deal_words(p, step, msg, purpose, n, values, |v| v, u64::wrapping_sub)
}

/// Shares over Z_{L-1} of `values` (elements of Z_{L-1}, given by P2 only), for SecureNN's
/// ShareConvert and ComputeMSB. P0's share is a stream word reduced mod L - 1 (the one value
/// L - 1 folds onto 0: a bias of 2^-64).
pub fn deal_odd<T: Transport>(
    p: &mut Party<T>,
    step: Step,
    msg: u16,
    purpose: u16,
    n: usize,
    values: Option<&[u64]>,
) -> Result<Vec<u64>, Error<T::Error>> {
    let mut shares = deal_words(
        p,
        step,
        msg,
        purpose,
        n,
        values,
        ring::odd_reduce,
        ring::odd_sub,
    )?;
    shares.iter_mut().for_each(|s| *s = ring::odd_reduce(*s));
    Ok(shares)
}

/// Dealing of 64-bit words: P0's share is `draw(stream word)`, P1's is `minus(value, P0's)`.
#[allow(clippy::too_many_arguments)]
fn deal_words<T: Transport>(
    p: &mut Party<T>,
    step: Step,
    msg: u16,
    purpose: u16,
    n: usize,
    values: Option<&[u64]>,
    draw: fn(u64) -> u64,
    minus: fn(u64, u64) -> u64,
) -> Result<Vec<u64>, Error<T::Error>> {
    match p.role() {
        Role::P0 => {
            let mut prg = p.shared(Role::P2, step, purpose);
            Ok((0..n).map(|_| draw(prg.u64())).collect())
        }
        Role::P1 => p.recv_packed(Role::P2, step, msg, n, 64),
        Role::P2 => {
            let values = values.ok_or(Error::Config("P2 must give the values it deals"))?;
            let mut prg = p.shared(Role::P0, step, purpose);
            let corr = values.iter().map(|&v| minus(v, draw(prg.u64())));
            p.send_packed(Role::P1, step, msg, corr, n, 64)?;
            Ok(Vec::new())
        }
    }
}

/// Shares over Z_p of `values` (Z_p elements, given by P2 only), each sent in 7 bits.
pub fn deal_zp<T: Transport>(
    p: &mut Party<T>,
    step: Step,
    msg: u16,
    purpose: u16,
    n: usize,
    values: Option<&[u8]>,
) -> Result<Vec<u8>, Error<T::Error>> {
    match p.role() {
        Role::P0 => {
            let mut share = vec![0u8; n];
            p.shared(Role::P2, step, purpose).fill_zp(&mut share);
            Ok(share)
        }
        Role::P1 => p.recv_zp(Role::P2, step, msg, n),
        Role::P2 => {
            let values = values.ok_or(Error::Config("P2 must give the values it deals"))?;
            let mut share0 = vec![0u8; n];
            p.shared(Role::P0, step, purpose).fill_zp(&mut share0);
            let corr: Vec<u8> = values
                .iter()
                .zip(&share0)
                .map(|(&v, &s)| ring::zp_sub(v, s))
                .collect();
            p.send_zp(Role::P1, step, msg, &corr)?;
            Ok(Vec::new())
        }
    }
}
