//! A man in the middle between P0 and P1 of a real session (TLS 1.3 over loopback) alters,
//! replays, drops or reorders one TLS record after the handshake: P1 ends with a typed error
//! naming P0 within the session timeout, never with altered data, and P0 then learns from P1
//! that the session is over.

use patchwork_test_support::net as net_common;
use patchwork_test_support::relay;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use net_common::{config, run_parties_with};
use patchwork_core::role::Role;
use patchwork_core::transport::{Tag, Transport, TransportError};
use patchwork_net::tcp::NetError;
use relay::{Fault, Relay};

/// Messages P0 sends to P1 after the relay is armed.
const MESSAGES: u32 = 3;
const LEN: usize = 300;

fn tag(seq: u32) -> Tag {
    Tag { seq, msg: 0 }
}

fn payload(seq: u32) -> Vec<u8> {
    (0..LEN).map(|i| (i as u32 * 7 + seq) as u8).collect()
}

/// Runs the session with `fault` on the P0-to-P1 link; returns the errors of P0 and P1 with
/// the time each took from its first `recv` after the fault.
fn session_with(fault: Fault) -> [Option<(TransportError<NetError>, Duration)>; 3] {
    let (_dir, cfg) = config("tamper");
    let relay = Relay::start(cfg.party(Role::P1).address, fault);
    let mut via_relay = cfg.clone();
    via_relay.parties[Role::P1.index()].address = relay.address();
    // All handshakes and hellos are done before the relay is armed.
    let connected = Barrier::new(3);
    run_parties_with([&via_relay, &cfg, &cfg], |role, session| {
        let (_keys, mut t) = session.unwrap();
        connected.wait();
        let start = Instant::now();
        match role {
            Role::P0 => {
                relay.arm();
                // A send may already fail once P1 has hung up; otherwise the next recv does.
                let sent =
                    (1..=MESSAGES).try_for_each(|seq| t.send(Role::P1, tag(seq), &payload(seq)));
                let err = sent
                    .and_then(|()| t.recv(Role::P1, tag(100), &mut [0u8; 1]))
                    .unwrap_err();
                Some((err, start.elapsed()))
            }
            Role::P1 => (1..=MESSAGES).find_map(|seq| {
                let mut buf = vec![0u8; LEN];
                match t.recv(Role::P0, tag(seq), &mut buf) {
                    Ok(()) => {
                        assert_eq!(buf, payload(seq), "message {seq} arrived altered");
                        None
                    }
                    Err(e) => Some((e, start.elapsed())),
                }
            }),
            Role::P2 => None,
        }
    })
}

fn check(fault: Fault) {
    let [p0, p1, _] = session_with(fault);
    let (err, elapsed) = p1.unwrap_or_else(|| panic!("{fault:?}: P1 accepted every message"));
    assert_eq!(
        err,
        TransportError::Io {
            peer: Role::P0,
            error: NetError::TlsRecordRejected
        },
        "{fault:?}"
    );
    // The session timeout of `config` is 2 s; the refusal comes at once.
    assert!(
        elapsed < Duration::from_secs(2),
        "{fault:?}: took {elapsed:?}"
    );
    let (err, elapsed) = p0.unwrap();
    assert!(
        matches!(
            err,
            TransportError::Closed { peer: Role::P1 }
                | TransportError::Io {
                    peer: Role::P1,
                    error: NetError::TlsAlert { .. }
                }
        ),
        "{fault:?}: P0 got {err}"
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "{fault:?}: took {elapsed:?}"
    );
}

#[test]
fn flipped_bit_is_rejected() {
    check(Fault::Flip);
}

#[test]
fn replayed_record_is_rejected() {
    check(Fault::Replay);
}

#[test]
fn dropped_record_is_rejected() {
    check(Fault::Drop);
}

#[test]
fn reordered_records_are_rejected() {
    check(Fault::Reorder);
}
