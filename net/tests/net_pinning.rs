//! A party presenting a certificate other than the pinned one is refused with a typed error
//! naming the expected party.

use patchwork_test_support::net as net_common;

use std::time::{Duration, Instant};

use net_common::{config, temp_dir};
use patchwork_core::role::Role;
use patchwork_net::tcp::{connect, generate_identity, Identity, SessionError};

/// Runs the three parties, `rogue` with a fresh identity that nobody pinned.
/// Only the parties in `present` run; the others' results are `None`.
fn with_rogue(name: &str, rogue: Role, present: &[Role]) -> [Option<SessionError>; 3] {
    let (_dir, cfg) = config(name);
    let rogue_dir = temp_dir(&format!("{name}-rogue"));
    generate_identity(&rogue_dir, rogue).unwrap();
    let start = Instant::now();
    let errors = std::thread::scope(|s| {
        let cfg = &cfg;
        let rogue_dir = &rogue_dir;
        Role::ALL
            .map(|role| {
                s.spawn(move || {
                    if !present.contains(&role) {
                        return None;
                    }
                    let identity = if role == rogue {
                        Identity::load(
                            &rogue_dir.join(format!("p{}.der", role.index())),
                            &rogue_dir.join(format!("p{}.key.der", role.index())),
                        )
                        .unwrap()
                    } else {
                        cfg.identity(role).unwrap()
                    };
                    Some(connect(role, cfg, &identity).map(|_| ()).unwrap_err())
                })
            })
            .map(|h| h.join().unwrap())
    });
    // Everything ends by the connect deadline (5 s) plus slack.
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    errors
}

#[test]
fn unpinned_client_is_refused() {
    let [p0, p1, p2] = with_rogue("rogue-client", Role::P0, &Role::ALL).map(Option::unwrap);
    match p1 {
        SessionError::UnpinnedClient {
            listener: Role::P1,
            expected,
            ..
        } => {
            assert_eq!(expected, vec![Role::P0])
        }
        other => panic!("P1: {other}"),
    }
    assert!(
        matches!(
            p0,
            SessionError::Handshake {
                peer: Some(Role::P1),
                ..
            }
        ),
        "P0: {p0}"
    );
    // P2 never hears from P0 (whether P1's dial to P2 finished before P1 gave up is a race).
    assert!(
        matches!(
            &p2,
            SessionError::AcceptTimeout {
                listener: Role::P2,
                ..
            } | SessionError::Handshake { .. }
                | SessionError::Hello { .. }
        ),
        "P2: {p2}"
    );
}

#[test]
fn unpinned_server_is_refused() {
    // P2 stays away, so P1 keeps listening (still dialling P2) when P0 arrives.
    let [p0, _, _] = with_rogue("rogue-server", Role::P1, &[Role::P0, Role::P1]);
    match p0.unwrap() {
        SessionError::UnpinnedCertificate {
            expected: Role::P1,
            fingerprint,
            ..
        } => {
            assert_eq!(fingerprint.len(), 64)
        }
        other => panic!("P0: {other}"),
    }
}
