//! Three parties on loopback over TLS: ReLU gives the right answer, keys are per session and
//! pairwise equal.

use patchwork_test_support::net as net_common;

use net_common::{config, run_parties};
use patchwork_core::net::memory::run;
use patchwork_core::party::Party;
use patchwork_core::prg::{KeyRef, KeySet};
use patchwork_core::protocol::drelu::{relu, Comparison};
use patchwork_core::role::Role;
use patchwork_core::splitmix::SplitMix64;
use patchwork_core::transport::Transport;

#[test]
fn relu_over_tls_matches_plaintext() {
    let (_dir, cfg) = config("relu");
    let mut seed = SplitMix64(7);
    let mut secret: Vec<u64> = [0i64, 1, -1, i64::MAX, i64::MIN, 5 << 20, -(5 << 20)]
        .map(|x| x as u64)
        .to_vec();
    secret.extend((0..500).map(|_| seed.next_u64()));
    let mask: Vec<u64> = secret.iter().map(|_| seed.next_u64()).collect();
    let outs = run_parties(&cfg, |role, session| {
        let (keys, transport) = session.unwrap();
        let mut party = Party::new(keys, transport);
        let share: Vec<u64> = match role {
            Role::P0 => mask.clone(),
            Role::P1 => secret
                .iter()
                .zip(&mask)
                .map(|(x, m)| x.wrapping_sub(*m))
                .collect(),
            Role::P2 => vec![0; secret.len()],
        };
        let out = relu(&mut party, &share, Comparison::Exact).unwrap();
        (out, counts(party.transport()))
    });
    for (i, x) in secret.iter().enumerate() {
        let opened = outs[0].0[i].wrapping_add(outs[1].0[i]);
        assert_eq!(opened, (*x as i64).max(0) as u64, "relu of {}", *x as i64);
    }
    // Rounds and bytes per edge are those of the in-memory network running the same step.
    let (memory, _) = run(3, |p| {
        let out = relu(p, &vec![0; secret.len()], Comparison::Exact).unwrap();
        let _ = out;
        counts(p.transport())
    });
    for role in Role::ALL {
        assert_eq!(outs[role.index()].1, memory[role.index()], "{role}");
    }
    assert_eq!(
        outs.iter().map(|o| o.1 .0).max(),
        Some(3),
        "ReLU is 3 rounds"
    );
}

/// Rounds seen by a party and the bytes it sent to each party.
fn counts(t: &impl Transport) -> (u32, [u64; 3]) {
    (t.rounds(), Role::ALL.map(|r| t.bytes_sent(r)))
}

fn stream(keys: &KeySet, key: KeyRef) -> [u8; 32] {
    let mut out = [0u8; 32];
    keys.stream(key, 1, 2).unwrap().fill_bytes(&mut out);
    out
}

#[test]
fn keys_are_pairwise_equal_and_fresh_per_session() {
    let (_dir, cfg) = config("keys");
    let session = || run_parties(&cfg, |_, s| s.unwrap().0);
    let a = session();
    let b = session();
    let with = |r: Role| KeyRef::With(r);
    for ks in [&a, &b] {
        assert_eq!(
            stream(&ks[0], with(Role::P1)),
            stream(&ks[1], with(Role::P0))
        );
        assert_eq!(
            stream(&ks[0], with(Role::P2)),
            stream(&ks[2], with(Role::P0))
        );
        assert_eq!(
            stream(&ks[1], with(Role::P2)),
            stream(&ks[2], with(Role::P1))
        );
        assert_ne!(
            stream(&ks[0], with(Role::P1)),
            stream(&ks[0], with(Role::P2))
        );
        assert_ne!(stream(&ks[0], KeyRef::Own), stream(&ks[1], KeyRef::Own));
    }
    for (ka, kb) in a.iter().zip(&b) {
        assert_ne!(stream(ka, KeyRef::Own), stream(kb, KeyRef::Own));
        for r in Role::ALL.into_iter().filter(|r| *r != ka.role()) {
            assert_ne!(stream(ka, with(r)), stream(kb, with(r)), "pair key reused");
        }
    }
}

/// P0 and P1 both send a large message before reading: `send` never blocks, so this cannot
/// deadlock (it would over blocking sockets once the kernel buffers fill).
#[test]
fn large_crossing_messages_do_not_deadlock() {
    use patchwork_core::transport::Tag;
    const LEN: usize = 16 << 20;
    let (_dir, cfg) = config("large");
    let tag = Tag { seq: 1, msg: 0 };
    let ok = run_parties(&cfg, |role, session| {
        let (_keys, mut t) = session.unwrap();
        let Some(other) = role.other_holder() else {
            return true;
        };
        let fill = role.index() as u8 + 1;
        t.send(other, tag, &vec![fill; LEN]).unwrap();
        let mut buf = vec![0u8; LEN];
        t.recv(other, tag, &mut buf).unwrap();
        buf.iter().all(|b| *b == other.index() as u8 + 1) && t.bytes_sent(other) == LEN as u64
    });
    assert_eq!(ok, [true; 3]);
}

/// Parties may start in any order: the dialling side retries until the listener is up.
#[test]
fn start_order_does_not_matter() {
    let (_dir, cfg) = config("order");
    for delays in [[0, 300, 600], [600, 300, 0], [300, 0, 600]] {
        let keys = std::thread::scope(|s| {
            let cfg = &cfg;
            Role::ALL
                .map(|role| {
                    s.spawn(move || {
                        std::thread::sleep(std::time::Duration::from_millis(delays[role.index()]));
                        let identity = cfg.identity(role).unwrap();
                        patchwork_net::tcp::connect(role, cfg, &identity).map(|(k, _)| k)
                    })
                })
                .map(|h| h.join().unwrap().unwrap())
        });
        assert_eq!(
            stream(&keys[0], KeyRef::With(Role::P2)),
            stream(&keys[2], KeyRef::With(Role::P0))
        );
    }
}
