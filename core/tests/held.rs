//! A secret only one party holds is passed as `Held`: a party that passes values its role does
//! not hold, or the holder passing none, is refused naming the holder, before any message.

use patchwork_core::held::Held;
use patchwork_core::net::memory;
use patchwork_core::party::Error;
use patchwork_core::protocol::product::PrivateOperand;
use patchwork_core::role::Role;

/// Sets up a 4-element private operand where `who` passes `Held::Mine` and the others not.
fn setup_with_values_at(who: &[Role]) -> [Result<(), Error<memory::Never>>; 3] {
    let w = [1u64, 2, 3, 4];
    let (out, _) = memory::run(3, |p| {
        let held = if who.contains(&p.role()) {
            Held::Mine(&w[..])
        } else {
            Held::NotMine
        };
        PrivateOperand::setup(p, 1, w.len(), held).map(|_| ())
    });
    out
}

#[test]
fn only_p1_passes_the_weights() {
    assert!(setup_with_values_at(&[Role::P1]).iter().all(Result::is_ok));
    let refused = Err(Error::NotHeld {
        what: "the private operand",
        holder: Role::P1,
    });
    // P0 passing weights, or P1 passing none, is refused at once (the others then see a peer
    // that left).
    assert_eq!(setup_with_values_at(&[Role::P0, Role::P1])[0], refused);
    assert_eq!(setup_with_values_at(&[])[1], refused);
    assert_eq!(setup_with_values_at(&[Role::P1, Role::P2])[2], refused);
}
