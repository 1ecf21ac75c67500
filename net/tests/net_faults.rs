//! A peer that disappears, stays silent or sends a bad frame gives a typed error naming it
//! within the timeout; nothing hangs.

use patchwork_test_support::net as net_common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use net_common::{config, run_parties};
use patchwork_core::role::Role;
use patchwork_core::transport::frame::Header;
use patchwork_core::transport::{Tag, Transport, TransportError};
use patchwork_net::tcp::{Limits, NetError, TcpTransport};

const TAG: Tag = Tag { seq: 1, msg: 0 };
const NEXT: Tag = Tag { seq: 2, msg: 0 };

#[test]
fn peer_leaving_mid_session_is_closed() {
    let (_dir, cfg) = config("leave");
    let results = run_parties(&cfg, |role, session| {
        let (_keys, mut t) = session.unwrap();
        match role {
            Role::P1 => {
                t.send(Role::P0, TAG, &[7; 1000]).unwrap();
                drop(t);
                None
            }
            Role::P0 => {
                let mut buf = [0u8; 1000];
                t.recv(Role::P1, TAG, &mut buf).unwrap();
                assert_eq!(buf, [7; 1000]);
                let start = Instant::now();
                let err = t.recv(Role::P1, NEXT, &mut buf).unwrap_err();
                Some((err, start.elapsed()))
            }
            Role::P2 => None,
        }
    });
    let (err, elapsed) = results[0].clone().unwrap();
    assert_eq!(err, TransportError::Closed { peer: Role::P1 });
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[test]
fn silent_peer_times_out() {
    let (_dir, cfg) = config("silent");
    let results = run_parties(&cfg, |role, session| {
        let (_keys, mut t) = session.unwrap();
        let out = match role {
            Role::P2 => {
                let start = Instant::now();
                let err = t.recv(Role::P0, TAG, &mut [0u8; 4]).unwrap_err();
                Some((err, start.elapsed()))
            }
            _ => None,
        };
        // Stay connected until P2 has timed out, so it sees silence, not a close.
        std::thread::sleep(Duration::from_millis(2500));
        out
    });
    let (err, elapsed) = results[2].clone().unwrap();
    assert_eq!(
        err,
        TransportError::Timeout {
            peer: Role::P0,
            tag: TAG
        }
    );
    assert!(elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(4));
}

/// P0's transport with a plain TCP link to P1, and the raw P1 end of it.
fn raw_link(max_frame: u32) -> (TcpTransport, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (theirs, _) = l.accept().unwrap();
    let limits = Limits {
        timeout: Duration::from_secs(2),
        max_frame,
        deadline: None,
    };
    (
        TcpTransport::over_tcp(Role::P0, [Some(ours), None], limits).unwrap(),
        theirs,
    )
}

fn header(sender: Role, len: u32) -> [u8; 20] {
    Header {
        sender,
        tag: TAG,
        stamp: patchwork_core::transport::Stamp {
            depth: 1,
            step_depth: 1,
        },
        len,
    }
    .encode()
}

fn recv_err(t: &mut TcpTransport, len: usize) -> TransportError<NetError> {
    let start = Instant::now();
    let err = t.recv(Role::P1, TAG, &mut vec![0u8; len]).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(3));
    err
}

#[test]
fn garbage_header_is_bad_frame() {
    let (mut t, mut p1) = raw_link(1 << 20);
    p1.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(
        recv_err(&mut t, 4),
        TransportError::BadFrame {
            peer: Role::P1,
            reason: "bad magic"
        }
    );
}

#[test]
fn short_frame_is_closed() {
    let (mut t, mut p1) = raw_link(1 << 20);
    p1.write_all(&header(Role::P1, 100)).unwrap();
    p1.write_all(&[1; 10]).unwrap();
    drop(p1);
    assert_eq!(
        recv_err(&mut t, 100),
        TransportError::Closed { peer: Role::P1 }
    );
}

#[test]
fn short_header_is_closed() {
    let (mut t, mut p1) = raw_link(1 << 20);
    p1.write_all(&header(Role::P1, 100)[..7]).unwrap();
    drop(p1);
    assert_eq!(
        recv_err(&mut t, 100),
        TransportError::Closed { peer: Role::P1 }
    );
}

#[test]
fn oversized_frame_is_refused_before_allocating() {
    let (mut t, mut p1) = raw_link(1024);
    p1.write_all(&header(Role::P1, u32::MAX)).unwrap();
    assert_eq!(
        recv_err(&mut t, 4),
        TransportError::Io {
            peer: Role::P1,
            error: NetError::FrameTooLarge {
                len: u32::MAX,
                max: 1024
            }
        }
    );
}

#[test]
fn frame_signed_by_another_party_is_refused() {
    let (mut t, mut p1) = raw_link(1024);
    p1.write_all(&header(Role::P2, 4)).unwrap();
    assert_eq!(
        recv_err(&mut t, 4),
        TransportError::WrongSender {
            peer: Role::P1,
            found: 2
        }
    );
}

#[test]
fn wrong_length_and_tag_are_typed_and_frames_flow() {
    let (mut t, mut p1) = raw_link(1024);
    p1.write_all(&header(Role::P1, 3)).unwrap();
    p1.write_all(&[1, 2, 3]).unwrap();
    assert_eq!(
        recv_err(&mut t, 4),
        TransportError::WrongLength {
            peer: Role::P1,
            tag: TAG,
            expected: 4,
            found: 3
        }
    );
    p1.write_all(&header(Role::P1, 3)).unwrap();
    p1.write_all(&[1, 2, 3]).unwrap();
    let mut buf = [0u8; 3];
    assert_eq!(
        t.recv(Role::P1, NEXT, &mut buf).unwrap_err(),
        TransportError::WrongTag {
            peer: Role::P1,
            expected: NEXT,
            found: TAG
        }
    );
    // Sending works and is counted; the frame arrives intact.
    t.send(Role::P1, NEXT, &[9; 5]).unwrap();
    assert_eq!(t.bytes_sent(Role::P1), 5);
    assert_eq!(
        t.send(Role::P2, NEXT, &[1]).unwrap_err(),
        TransportError::NoChannel { peer: Role::P2 }
    );
    let mut got = [0u8; 25];
    std::io::Read::read_exact(&mut p1, &mut got).unwrap();
    assert_eq!(got[20..], [9; 5]);
    let h = Header::decode::<()>(Role::P0, got[..20].try_into().unwrap()).unwrap();
    assert_eq!((h.tag, h.len, h.stamp.depth), (NEXT, 5, 1));
}
