//! Products of shared values (SecureNN Alg. 1, MatMul) over any [`Bilinear`] map.
//!
//! * [`beaver`]: both operands shared. P2 deals a triple `(A, B, C = op(A, B))`; `A`, `B` and
//!   P0's `C` come from pair streams, only P1's `C` travels. P0 and P1 open `E = X - A` and
//!   `F = Y - B` and compute `Z_j = j op(E, F) + op(E, B_j) + op(A_j, F) + C_j`.
//! * [`PrivateOperand`]: the right operand is held in the clear by P1 (the model's weights).
//!   Its mask `F = W - B` is sent to P0 once per session (CrypTFlow/Porthos-style amortisation)
//!   and every product draws a fresh `A` and `C = op(A, B)`: P0 sends `E = X_0 - A` to P1 and
//!   gets `op(A, F) + C_0`; P1 gets `op(X_1 + E, W) + C_1`. Per product only `E` (input-sized)
//!   and P1's `C` (output-sized) travel, in one round.

use alloc::vec;
use alloc::vec::Vec;

use super::bilinear::Bilinear;
use super::deal::deal_ring;
use crate::held::Held;
use crate::party::{check_len, Error, Party};
use crate::ring::{add_assign, sub};
use crate::role::Role;
use crate::transport::Transport;

mod msg {
    pub(super) const E: u16 = 1;
    pub(super) const F: u16 = 2;
    pub(super) const C: u16 = 3;
    pub(super) const WEIGHT_MASK: u16 = 4;
}

mod purpose {
    pub(super) const A: u16 = 1;
    pub(super) const B: u16 = 2;
    pub(super) const C: u16 = 3;
}

/// Shares of `op(X, Y)` for shared `X` and `Y` (P2 passes zeros of the right lengths). 1 round;
/// the triple is the preprocessed part.
pub fn beaver<T: Transport, Op: Bilinear>(
    p: &mut Party<T>,
    op: &Op,
    x: &[u64],
    y: &[u64],
) -> Result<Vec<u64>, Error<T::Error>> {
    check_len("left operand", op.lhs_len(), x.len())?;
    check_len("right operand", op.rhs_len(), y.len())?;
    let step = p.begin_step();
    let (nl, nr) = (op.lhs_len(), op.rhs_len());
    let Some(other) = p.role().other_holder() else {
        let draw = |p: &Party<T>, who: Role| {
            let mut a = p.shared(who, step, purpose::A);
            let mut b = p.shared(who, step, purpose::B);
            (
                (0..nl).map(|_| a.u64()).collect::<Vec<_>>(),
                (0..nr).map(|_| b.u64()).collect::<Vec<_>>(),
            )
        };
        p.prepare(step, |p| {
            let (a0, b0) = draw(p, Role::P0);
            let (a1, b1) = draw(p, Role::P1);
            let c = op.apply(&crate::ring::add(&a0, &a1), &crate::ring::add(&b0, &b1));
            deal_ring(p, step, msg::C, purpose::C, op.out_len(), Some(&c))
        })?;
        return Ok(vec![0; op.out_len()]);
    };
    let me = p.role();
    let mut ga = p.shared(Role::P2, step, purpose::A);
    let mut gb = p.shared(Role::P2, step, purpose::B);
    let a: Vec<u64> = (0..nl).map(|_| ga.u64()).collect();
    let b: Vec<u64> = (0..nr).map(|_| gb.u64()).collect();
    let mut e = sub(x, &a);
    let mut f = sub(y, &b);
    if p.runs_online() {
        p.send_packed(other, step, msg::E, e.iter().copied(), nl, 64)?;
        p.send_packed(other, step, msg::F, f.iter().copied(), nr, 64)?;
    }
    let triple = p.prepare(step, |p| {
        deal_ring(p, step, msg::C, purpose::C, op.out_len(), None)
    })?;
    let Some(c) = triple else {
        return Ok(vec![0; op.out_len()]);
    };
    add_assign(&mut e, &p.recv_packed(other, step, msg::E, nl, 64)?);
    add_assign(&mut f, &p.recv_packed(other, step, msg::F, nr, 64)?);
    let mut z = c;
    if me == Role::P1 {
        op.accumulate(&e, &f, &mut z);
    }
    op.accumulate(&e, &b, &mut z);
    op.accumulate(&a, &f, &mut z);
    Ok(z)
}

/// A right operand held in the clear by P1 (the weights of a layer), masked once per session.
/// P0 keeps the mask `F = W - B`, P1 keeps `W`, P2 keeps `B`; `id` names the operand's stream,
/// so it must be unique per operand within a session.
pub struct PrivateOperand {
    /// P0: `F`; P1: `W`; P2: `B`.
    held: Vec<u64>,
}

impl PrivateOperand {
    /// Masks the operand `w` of `len` elements, which P1 holds (see [`Held`]). P1 sends `F` to
    /// P0 in one message.
    pub fn setup<T: Transport>(
        p: &mut Party<T>,
        id: u32,
        len: usize,
        w: Held<'_, [u64]>,
    ) -> Result<PrivateOperand, Error<T::Error>> {
        let w = w.check(p.role(), Role::P1, "the private operand")?;
        let step = p.begin_step();
        let held = match (p.role(), w) {
            (Role::P0, _) => p.recv_packed(Role::P1, step, msg::WEIGHT_MASK, len, 64)?,
            (Role::P1, Some(w)) => {
                check_len("private operand", len, w.len())?;
                let mut b = p.shared_fixed(Role::P2, id, purpose::B);
                let f = w.iter().map(|v| v.wrapping_sub(b.u64()));
                p.send_packed(Role::P0, step, msg::WEIGHT_MASK, f, len, 64)?;
                w.to_vec()
            }
            _ => {
                let mut b = p.shared_fixed(Role::P1, id, purpose::B);
                (0..len).map(|_| b.u64()).collect()
            }
        };
        Ok(PrivateOperand { held })
    }

    /// Shares of `op(X, W)` for shared `X` (P2 passes zeros). 1 round. Its triple (P2's
    /// `op(A, B)`, P1's `C`, P0's `op(A, F) + C_0`) depends on no input and is the step's
    /// preprocessed part ([`Party::prepare`]): online, P2 takes no part.
    pub fn product<T: Transport, Op: Bilinear>(
        &self,
        p: &mut Party<T>,
        op: &Op,
        x: &[u64],
    ) -> Result<Vec<u64>, Error<T::Error>> {
        check_len("left operand", op.lhs_len(), x.len())?;
        check_len("private operand", op.rhs_len(), self.held.len())?;
        let step = p.begin_step();
        let nl = op.lhs_len();
        let out = op.out_len();
        let draw_a = |p: &Party<T>, with: Role| -> Vec<u64> {
            let mut ga = p.shared(with, step, purpose::A);
            (0..nl).map(|_| ga.u64()).collect()
        };
        match p.role() {
            Role::P0 => {
                // E first, so that P1 computes while P0 does.
                if p.runs_online() {
                    let a = draw_a(p, Role::P2);
                    p.send_packed(Role::P1, step, msg::E, sub(x, &a), nl, 64)?;
                }
                let z = p.prepare(step, |p| {
                    let mut z = deal_ring(p, step, msg::C, purpose::C, out, None)?;
                    op.accumulate(&draw_a(p, Role::P2), &self.held, &mut z);
                    Ok(z)
                })?;
                Ok(z.unwrap_or_else(|| vec![0; out]))
            }
            Role::P1 => {
                let c = p.prepare(step, |p| deal_ring(p, step, msg::C, purpose::C, out, None))?;
                let Some(mut z) = c else {
                    return Ok(vec![0; out]);
                };
                let mut masked = p.recv_packed(Role::P0, step, msg::E, nl, 64)?;
                add_assign(&mut masked, x);
                op.accumulate(&masked, &self.held, &mut z);
                Ok(z)
            }
            Role::P2 => {
                p.prepare(step, |p| {
                    let c = op.apply(&draw_a(p, Role::P0), &self.held);
                    deal_ring(p, step, msg::C, purpose::C, out, Some(&c))
                })?;
                Ok(vec![0; out])
            }
        }
    }
}
