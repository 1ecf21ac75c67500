//! Approximate DReLU: the protocol output equals the plaintext outcome of the local bit
//! dropping for every sharing, and equals exact DReLU wherever the outcome cannot depend on
//! the sharing (values away from 0 and from the l*-bit range edges).

use patchwork_core::protocol::drelu::{drelu, relu, Comparison};
use patchwork_core::protocol::sign::SignProtocol;
use patchwork_test_support::shares::{run_shared, share};
use proptest::prelude::*;

fn settings() -> impl Strategy<Value = Comparison> {
    prop_oneof![
        Just(Comparison::PAPER),
        (0u32..50, 0u32..12).prop_map(|(k_msb, k_lsb)| Comparison::Approx { k_msb, k_lsb }),
    ]
}

/// Values around the edges of the comparison's bit width.
fn edges(cmp: Comparison) -> Vec<u64> {
    let Comparison::Approx { k_lsb, .. } = cmp else {
        unreachable!()
    };
    let top = 1i64 << (cmp.width() - 1 + k_lsb).min(62);
    let low = 1i64 << k_lsb;
    let mut v: Vec<i64> = vec![
        0,
        1,
        -1,
        i64::MAX,
        i64::MIN,
        low,
        low - 1,
        -low,
        top,
        top - 1,
        -top,
        -top + low,
        top - low,
    ];
    v.extend(v.clone().iter().map(|x| x.wrapping_add(low / 2 + 1)));
    v.into_iter().map(|x| x as u64).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn approx_drelu_matches_its_plaintext(cmp in settings(), xs in proptest::collection::vec(any::<i64>().prop_map(|v| v >> 20), 1..30), seed in any::<u64>(), fss in any::<bool>()) {
        let sign = if fss { SignProtocol::Fss } else { SignProtocol::PrivateCompare };
        let mut secret: Vec<u64> = xs.iter().map(|&v| v as u64).collect();
        secret.extend(edges(cmp));
        let shares = share(&secret, seed);
        let (d, _) = run_shared(&secret, seed, |p, a| { p.set_sign_protocol(sign); drelu(p, a, cmp).unwrap() });
        let (r, _) = run_shared(&secret, seed, |p, a| { p.set_sign_protocol(sign); relu(p, a, cmp).unwrap() });
        for (i, &x) in secret.iter().enumerate() {
            let outcome = cmp.outcome(shares[0][i], shares[1][i]);
            prop_assert_eq!(d[i], outcome as u64, "x = {}", x as i64);
            prop_assert_eq!(r[i], if outcome { x } else { 0 });
            if let Some(g) = cmp.guaranteed(x as i64) {
                prop_assert_eq!(outcome, g, "x = {} must be decided exactly", x as i64);
                prop_assert_eq!(g, (x as i64) >= 0);
            }
        }
    }
}

#[test]
fn paper_setting_is_exact_in_its_range() {
    let cmp = Comparison::PAPER;
    assert_eq!(cmp.width(), 16);
    assert_eq!(cmp.guaranteed(32), Some(true));
    assert_eq!(cmp.guaranteed(-1), Some(false));
    assert_eq!(cmp.guaranteed(5), None);
    assert_eq!(cmp.guaranteed(1 << 20), None);
    assert_eq!(cmp.guaranteed((1 << 20) - 32), Some(true));
}
