//! Fuzzes the frame header decoder and `StreamTransport::recv` on bytes from a peer.
//!
//! The input is everything P1 reads from its stream to P0. Properties: nothing panics; a header
//! that decodes encodes back to the same 20 bytes; every error is a protocol error (the replayed
//! stream itself never fails); a received frame holds exactly the payload bytes that followed
//! its header. P1 answers each received frame, so the peer's depth stamps drive its clock.
#![no_main]

use embedded_io::{ErrorKind, ErrorType, Read, Write};
use libfuzzer_sys::fuzz_target;
use patchwork_core::role::Role;
use patchwork_core::transport::frame::{Header, HEADER_LEN};
use patchwork_core::transport::stream::StreamTransport;
use patchwork_core::transport::{Tag, Transport, TransportError};

/// Payload lengths P1 expects, frame after frame (cycled).
const LENGTHS: [usize; 4] = [0, 1, 8, 33];
/// Frames received per input at most.
const MAX_FRAMES: u32 = 8;

/// A peer's stream that replays the fuzz input and discards what is written to it.
struct Replay<'a> {
    input: &'a [u8],
}

impl ErrorType for Replay<'_> {
    type Error = ErrorKind;
}

impl Read for Replay<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let n = buf.len().min(self.input.len());
        let (head, rest) = self.input.split_at(n);
        buf[..n].copy_from_slice(head);
        self.input = rest;
        Ok(n)
    }
}

impl Write for Replay<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(raw) = data.first_chunk::<HEADER_LEN>() {
        for peer in Role::ALL {
            if let Ok(header) = Header::decode::<()>(peer, raw) {
                assert_eq!(
                    &header.encode(),
                    raw,
                    "decode then encode changed the header"
                );
            }
        }
    }
    let mut transport = StreamTransport::new(Role::P1, [Some(Replay { input: data }), None]);
    let mut offset = 0;
    for seq in 0..MAX_FRAMES {
        let tag = Tag { seq, msg: 0 };
        let mut buf = vec![0u8; LENGTHS[seq as usize % LENGTHS.len()]];
        if let Err(e) = transport.recv(Role::P0, tag, &mut buf) {
            assert!(
                !matches!(e, TransportError::Io { .. }),
                "untyped error {e:?}"
            );
            break;
        }
        let payload = offset + HEADER_LEN;
        assert_eq!(buf, data[payload..payload + buf.len()], "payload misread");
        offset = payload + buf.len();
        transport
            .send(Role::P0, tag, &buf)
            .expect("a discarding stream accepts every frame");
    }
});
