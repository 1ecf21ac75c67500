//! A std `TcpStream` as an `embedded-io` stream for `StreamTransport`, with a read timeout and
//! a writer thread.
//!
//! Writes are buffered until `flush` and then handed to a thread that writes them to the
//! socket, so a party never blocks in a write while its peer is also writing (the deadlock of
//! two blocking streams noted in ARCHITECTURE.md). Reads wait at most the configured timeout
//! and a quiet peer becomes `ErrorKind::TimedOut`, which the transport reports as
//! `TransportError::Timeout`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// An I/O failure, classified the way the transport needs it.
#[derive(Debug)]
pub(crate) enum PeerError {
    /// No data within the read timeout.
    TimedOut,
    /// The connection is gone (closed, reset, or the writer thread failed).
    Closed,
    /// Anything else.
    Other(io::Error),
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerError::TimedOut => write!(f, "timed out"),
            PeerError::Closed => write!(f, "connection closed"),
            PeerError::Other(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PeerError {}

impl embedded_io::Error for PeerError {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            PeerError::TimedOut => embedded_io::ErrorKind::TimedOut,
            PeerError::Closed => embedded_io::ErrorKind::BrokenPipe,
            PeerError::Other(_) => embedded_io::ErrorKind::Other,
        }
    }
}

fn classify(e: io::Error) -> PeerError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => PeerError::TimedOut,
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::NotConnected
        | io::ErrorKind::UnexpectedEof => PeerError::Closed,
        _ => PeerError::Other(e),
    }
}

/// One connection to a peer.
pub(crate) struct PeerStream {
    reader: TcpStream,
    pending: Vec<u8>,
    to_writer: Option<mpsc::Sender<Vec<u8>>>,
    writer: Option<JoinHandle<io::Result<()>>>,
    /// Bytes handed to the socket so far.
    pub sent: u64,
    /// Bytes read so far.
    pub received: u64,
}

impl PeerStream {
    /// Wraps `stream`; reads wait at most `timeout`.
    pub(crate) fn new(stream: TcpStream, timeout: Duration) -> io::Result<PeerStream> {
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        let mut out = stream.try_clone()?;
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let writer = std::thread::spawn(move || {
            for chunk in rx {
                out.write_all(&chunk)?;
            }
            out.flush()
        });
        Ok(PeerStream {
            reader: stream,
            pending: Vec::new(),
            to_writer: Some(tx),
            writer: Some(writer),
            sent: 0,
            received: 0,
        })
    }

    /// Waits until everything written has gone to the socket; reports a writer failure.
    pub(crate) fn finish(&mut self) -> Result<(), PeerError> {
        self.to_writer.take();
        match self.writer.take().map(|h| h.join()) {
            Some(Ok(Err(e))) => Err(classify(e)),
            Some(Err(_)) => Err(PeerError::Closed),
            _ => Ok(()),
        }
    }
}

impl Drop for PeerStream {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl embedded_io::ErrorType for PeerStream {
    type Error = PeerError;
}

impl embedded_io::Read for PeerStream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, PeerError> {
        loop {
            match self.reader.read(buf) {
                Ok(n) => {
                    self.received += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify(e)),
            }
        }
    }
}

impl embedded_io::Write for PeerStream {
    fn write(&mut self, buf: &[u8]) -> Result<usize, PeerError> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), PeerError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.pending);
        let n = chunk.len() as u64;
        let tx = self.to_writer.as_ref().ok_or(PeerError::Closed)?;
        tx.send(chunk).map_err(|_| PeerError::Closed)?;
        self.sent += n;
        Ok(())
    }
}
