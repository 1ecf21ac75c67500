//! The host transport's queues are bounded in bytes: a peer that stops reading stalls the
//! sender's session, which ends at the timeout, instead of growing its memory (found: a client
//! that never read grew P1 by about 1.1 MB per inference); and a frame larger than the largest
//! message the program lets that peer send is refused before its buffer is allocated.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use patchwork_core::role::Role;
use patchwork_core::transport::{Tag, Transport, TransportError};
use patchwork_net::tcp::{Limits, NetError, TcpTransport, READ_SLACK, SEND_BUDGET};

/// P0 and P1 transports over one plain TCP link, with a 1-second timeout.
fn pair() -> (TcpTransport, TcpTransport) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    let limits = Limits {
        timeout: Duration::from_secs(1),
        max_frame: 1 << 30,
        deadline: None,
    };
    (
        TcpTransport::over_tcp(Role::P0, [Some(a), None], limits).unwrap(),
        TcpTransport::over_tcp(Role::P1, [Some(b), None], limits).unwrap(),
    )
}

#[test]
fn a_peer_that_stops_reading_stalls_the_sender_until_its_timeout() {
    let (mut p0, mut p1) = pair();
    // P1 takes messages of up to 1 MiB from P0 and never calls recv.
    p1.limit_messages([1 << 20, 0, 0]);
    let chunk = vec![7u8; 1 << 20];
    let start = Instant::now();
    let mut accepted = 0u64;
    let err = loop {
        match p0.send(Role::P1, Tag { seq: 1, msg: 1 }, &chunk) {
            Ok(()) => accepted += chunk.len() as u64,
            Err(e) => break e,
        }
        assert!(
            accepted < 1 << 30,
            "1 GiB queued for a peer that does not read"
        );
    };
    assert!(
        matches!(err, TransportError::Timeout { peer: Role::P1, .. }),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    // What is held: P0's send queue, the sockets' buffers and P1's read-ahead.
    let bound = u64::from(SEND_BUDGET) + u64::from(READ_SLACK) + (2 << 20) + (16 << 20);
    assert!(
        accepted <= bound,
        "{accepted} bytes accepted, bound {bound}"
    );
    drop(p1);
}

#[test]
fn a_frame_over_the_programs_largest_message_is_refused() {
    let (mut p0, mut p1) = pair();
    p1.limit_messages([1000, 0, 0]);
    p0.send(Role::P1, Tag { seq: 1, msg: 1 }, &[1; 1000])
        .unwrap();
    p0.send(Role::P1, Tag { seq: 1, msg: 2 }, &[1; 1001])
        .unwrap();
    let mut buf = vec![0u8; 1000];
    p1.recv(Role::P0, Tag { seq: 1, msg: 1 }, &mut buf).unwrap();
    let err = p1
        .recv(Role::P0, Tag { seq: 1, msg: 2 }, &mut vec![0u8; 1001])
        .unwrap_err();
    assert_eq!(
        err,
        TransportError::Io {
            peer: Role::P0,
            error: NetError::FrameTooLarge {
                len: 1001,
                max: 1000
            }
        }
    );
}
