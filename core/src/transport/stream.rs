//! [`Transport`] over `embedded-io` byte streams: one stream per peer, frames of a checked
//! [`Header`] and the payload. The same code runs over a UART on a microcontroller and over a
//! TCP stream on the host. Timeouts belong to the stream: a read that fails with
//! `ErrorKind::TimedOut` becomes [`TransportError::Timeout`].

use embedded_io::{ErrorKind, Read, ReadExactError, Write};

use super::accounting::Accounting;
use super::frame::{Header, HEADER_LEN};
use super::{Tag, Transport, TransportError};
use crate::role::Role;

/// A party's transport over one byte stream per peer.
pub struct StreamTransport<S> {
    peers: [Option<S>; 3],
    accounting: Accounting,
}

impl<S: Read + Write> StreamTransport<S> {
    /// The transport of `role`, with its streams to the two other parties in role order (for
    /// P1: `[stream to P0, stream to P2]`). A party that never talks to a peer may pass `None`.
    pub fn new(role: Role, to_others: [Option<S>; 2]) -> StreamTransport<S> {
        let mut peers: [Option<S>; 3] = [None, None, None];
        let others = Role::ALL.into_iter().filter(|r| *r != role);
        for (r, s) in others.zip(to_others) {
            peers[r.index()] = s;
        }
        StreamTransport {
            peers,
            accounting: Accounting::new(role),
        }
    }

    /// Gives the streams back (in role index order; this party's slot is `None`).
    pub fn into_streams(self) -> [Option<S>; 3] {
        self.peers
    }

    fn stream(&mut self, peer: Role) -> Result<&mut S, TransportError<S::Error>> {
        self.peers[peer.index()]
            .as_mut()
            .ok_or(TransportError::NoChannel { peer })
    }
}

fn io_err<E: embedded_io::Error>(peer: Role, tag: Tag, e: E) -> TransportError<E> {
    match e.kind() {
        ErrorKind::TimedOut => TransportError::Timeout { peer, tag },
        ErrorKind::BrokenPipe
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::NotConnected => TransportError::Closed { peer },
        _ => TransportError::Io { peer, error: e },
    }
}

fn read_err<E: embedded_io::Error>(
    peer: Role,
    tag: Tag,
    e: ReadExactError<E>,
) -> TransportError<E> {
    match e {
        ReadExactError::UnexpectedEof => TransportError::Closed { peer },
        ReadExactError::Other(e) => io_err(peer, tag, e),
    }
}

impl<S: Read + Write> Transport for StreamTransport<S> {
    type Error = S::Error;

    fn send(&mut self, to: Role, tag: Tag, payload: &[u8]) -> Result<(), TransportError<S::Error>> {
        let header = self.accounting.outgoing(to, tag, payload.len())?.encode();
        let s = self.stream(to)?;
        s.write_all(&header).map_err(|e| io_err(to, tag, e))?;
        s.write_all(payload).map_err(|e| io_err(to, tag, e))?;
        s.flush().map_err(|e| io_err(to, tag, e))?;
        self.accounting.sent(to, payload.len());
        Ok(())
    }

    fn recv(
        &mut self,
        from: Role,
        tag: Tag,
        buf: &mut [u8],
    ) -> Result<(), TransportError<S::Error>> {
        let mut raw = [0u8; HEADER_LEN];
        let s = self.stream(from)?;
        s.read_exact(&mut raw).map_err(|e| read_err(from, tag, e))?;
        let header = Header::decode(from, &raw)?;
        self.accounting.incoming(&header, tag, buf.len())?;
        let s = self.stream(from)?;
        s.read_exact(buf).map_err(|e| read_err(from, tag, e))
    }

    fn accounting(&self) -> &Accounting {
        &self.accounting
    }

    fn accounting_mut(&mut self) -> &mut Accounting {
        &mut self.accounting
    }
}
