//! The byte-stream transport never panics on bytes from a peer: short, garbled, mislabelled or
//! wrong-length frames give typed errors naming the peer.
use embedded_io::{ErrorKind, ErrorType, Read, Write};
use patchwork_core::role::Role;
use patchwork_core::transport::frame::{Header, HEADER_LEN};
use patchwork_core::transport::stream::StreamTransport;
use patchwork_core::transport::{Tag, Transport, TransportError};
use proptest::prelude::*;

/// A scripted byte stream: reads come from `input`, writes go to `output`.
#[derive(Default)]
struct Script {
    input: Vec<u8>,
    pos: usize,
    output: Vec<u8>,
    fail_with: Option<ErrorKind>,
}

impl ErrorType for Script {
    type Error = ErrorKind;
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if let Some(k) = self.fail_with {
            return Err(k);
        }
        let n = buf.len().min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

const TAG: Tag = Tag { seq: 3, msg: 1 };

fn p1_receiving(input: Vec<u8>) -> StreamTransport<Script> {
    StreamTransport::new(
        Role::P1,
        [
            Some(Script {
                input,
                ..Script::default()
            }),
            None,
        ],
    )
}

fn frame(sender: Role, tag: Tag, payload: &[u8]) -> Vec<u8> {
    let mut v = Header {
        sender,
        tag,
        stamp: patchwork_core::transport::Stamp {
            depth: 1,
            step_depth: 1,
        },
        len: payload.len() as u32,
    }
    .encode()
    .to_vec();
    v.extend_from_slice(payload);
    v
}

#[test]
fn good_frame_roundtrip_counts_rounds() {
    let mut t = p1_receiving(frame(Role::P0, TAG, &[1, 2, 3]));
    let mut buf = [0u8; 3];
    t.recv(Role::P0, TAG, &mut buf).unwrap();
    assert_eq!(buf, [1, 2, 3]);
    t.send(Role::P0, TAG, &[9]).unwrap();
    assert_eq!(t.rounds(), 2);
    let [s0, _, _] = t.into_streams();
    let out = s0.unwrap().output;
    assert_eq!(out.len(), HEADER_LEN + 1);
    let h = Header::decode::<()>(Role::P1, out[..HEADER_LEN].try_into().unwrap()).unwrap();
    assert_eq!((h.tag, h.stamp.depth, h.len), (TAG, 2, 1));
}

#[test]
fn typed_errors() {
    let mut buf = [0u8; 3];
    let mut t = p1_receiving(frame(Role::P0, Tag { seq: 4, msg: 1 }, &[1, 2, 3]));
    assert!(matches!(
        t.recv(Role::P0, TAG, &mut buf),
        Err(TransportError::WrongTag { peer: Role::P0, .. })
    ));
    let mut t = p1_receiving(frame(Role::P0, TAG, &[1, 2]));
    assert!(matches!(
        t.recv(Role::P0, TAG, &mut buf),
        Err(TransportError::WrongLength {
            expected: 3,
            found: 2,
            ..
        })
    ));
    let mut t = p1_receiving(frame(Role::P0, TAG, &[1, 2, 3])[..HEADER_LEN + 1].to_vec());
    assert_eq!(
        t.recv(Role::P0, TAG, &mut buf),
        Err(TransportError::Closed { peer: Role::P0 })
    );
    let mut t = p1_receiving(vec![0; 7]);
    assert_eq!(
        t.recv(Role::P0, TAG, &mut buf),
        Err(TransportError::Closed { peer: Role::P0 })
    );
    let mut t = p1_receiving(frame(Role::P2, TAG, &[1, 2, 3]));
    assert_eq!(
        t.recv(Role::P0, TAG, &mut buf),
        Err(TransportError::WrongSender {
            peer: Role::P0,
            found: 2
        })
    );
    let mut garbled = frame(Role::P0, TAG, &[1, 2, 3]);
    garbled[0] ^= 0xff;
    let mut t = p1_receiving(garbled);
    assert!(matches!(
        t.recv(Role::P0, TAG, &mut buf),
        Err(TransportError::BadFrame { .. })
    ));
    let mut t = StreamTransport::new(
        Role::P1,
        [
            Some(Script {
                fail_with: Some(ErrorKind::TimedOut),
                ..Script::default()
            }),
            None,
        ],
    );
    assert_eq!(
        t.recv(Role::P0, TAG, &mut buf),
        Err(TransportError::Timeout {
            peer: Role::P0,
            tag: TAG
        })
    );
    assert_eq!(
        t.recv(Role::P2, TAG, &mut buf),
        Err(TransportError::NoChannel { peer: Role::P2 })
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..64), len in 0usize..8) {
        let mut t = p1_receiving(input);
        let mut buf = vec![0u8; len];
        let _ = t.recv(Role::P0, TAG, &mut buf);
    }
}

/// Found by `cargo fuzz run frame` (seed `fuzz/corpus/frame/seed_max_stamps`): a peer's frame
/// stamped with the largest depth made the next send overflow the round clock (its first frame).
#[test]
fn largest_depth_stamp_then_reply_saturates_the_round_clock() {
    let crash: &[u8] = &[
        0x50, 0x57, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x00, 0x00, 0x00, 0x00,
    ];
    let tag = Tag { seq: 0, msg: 0 };
    let mut t = p1_receiving(crash.to_vec());
    t.recv(Role::P0, tag, &mut []).unwrap();
    t.send(Role::P0, tag, &[]).unwrap();
    assert_eq!(t.rounds(), u32::MAX);
}

#[test]
fn a_party_that_leaves_gives_the_others_a_typed_error_naming_it() {
    use patchwork_core::net::memory;
    use patchwork_core::party::Error;
    use patchwork_core::protocol::drelu::{relu, Comparison};
    let (res, _) = memory::run(1, |p| {
        if p.role() == Role::P1 {
            return None; // P1 leaves: its end of the network is dropped
        }
        Some(relu(p, &[1, 2, 3], Comparison::Exact))
    });
    let names_p1 = |r: &Option<Result<Vec<u64>, Error<memory::Never>>>| {
        matches!(
            r,
            Some(Err(Error::Transport(TransportError::Closed {
                peer: Role::P1
            })))
        )
    };
    assert!(names_p1(&res[0]), "P0 got {:?}", res[0]);
    // P2 sees whichever of its peers closed first: P1, or P0 after P0 failed.
    assert!(
        matches!(
            res[2],
            Some(Err(Error::Transport(TransportError::Closed {
                peer: Role::P0 | Role::P1
            })))
        ),
        "P2 got {:?}",
        res[2]
    );
}
