//! Frames on an async byte stream: reading one checked frame (length bounded before any
//! allocation), the reader and writer tasks behind [`super::TcpTransport`], and the hello
//! frame that opens every connection.

use patchwork_core::role::Role;
use patchwork_core::transport::frame::{Header, HEADER_LEN};
use patchwork_core::transport::{Tag, TransportError};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::error::NetError;

/// The tag of the hello frame (empty payload, sent once by each side of a connection).
pub(crate) const HELLO: Tag = Tag {
    seq: u32::MAX,
    msg: u16::MAX,
};

/// A received frame; frames read ahead of `recv` hold their share of the link's read budget
/// until `recv` has taken them.
pub(crate) struct Frame {
    pub header: Header,
    pub payload: Vec<u8>,
    _budget: Option<OwnedSemaphorePermit>,
}

/// A frame queued for the writer task, holding its share of the link's send budget until it
/// is on the wire.
pub(crate) type Outgoing = (Vec<u8>, OwnedSemaphorePermit);

/// What a frame of `len` payload bytes counts against a byte budget: its payload, header and
/// bookkeeping, so that empty frames cannot be queued without bound either.
pub(crate) fn budget_cost(len: u32) -> u32 {
    len.saturating_add(HEADER_LEN as u32 + 64)
}

/// What the reader task hands to `recv`: a frame, or the error that ended the stream.
pub(crate) type Incoming = Result<Frame, TransportError<NetError>>;

/// Maps an I/O error on the stream of `peer`: an ended or reset connection is `Closed`, a
/// refusal of the TLS layer its typed [`NetError`].
pub(crate) fn io_error(peer: Role, e: std::io::Error) -> TransportError<NetError> {
    use std::io::ErrorKind::*;
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return TransportError::Io {
            peer,
            error: NetError::from_tls(tls),
        };
    }
    match e.kind() {
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected => {
            TransportError::Closed { peer }
        }
        kind => TransportError::Io {
            peer,
            error: NetError::Io {
                kind,
                message: e.to_string(),
            },
        },
    }
}

/// Reads and checks one frame header from `peer`'s stream (`Header::decode`), with its payload
/// length checked against `max`.
async fn read_header<R: AsyncRead + Unpin>(
    r: &mut R,
    peer: Role,
    max: u32,
) -> Result<Header, TransportError<NetError>> {
    let mut raw = [0u8; HEADER_LEN];
    r.read_exact(&mut raw)
        .await
        .map_err(|e| io_error(peer, e))?;
    let header = Header::decode(peer, &raw)?;
    if header.len > max {
        return Err(TransportError::Io {
            peer,
            error: NetError::FrameTooLarge {
                len: header.len,
                max,
            },
        });
    }
    Ok(header)
}

/// Bytes read or written between two [`Progress`] ticks.
const CHUNK: usize = 64 << 10;

/// When bytes last moved on a link, in either direction. A party's waits fail only after the
/// timeout passes with no progress, so a large message on a slow link (a weight mask of tens
/// of megabytes at 50 Mbit/s) is not taken for a silent peer.
#[derive(Clone)]
pub(crate) struct Progress {
    origin: std::time::Instant,
    last_ms: Arc<std::sync::atomic::AtomicU64>,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress {
            origin: std::time::Instant::now(),
            last_ms: Arc::default(),
        }
    }

    fn tick(&self) {
        let ms = self.origin.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// How long no byte has moved.
    pub(crate) fn idle(&self) -> std::time::Duration {
        let last = std::time::Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(last)
    }
}

async fn read_payload<R: AsyncRead + Unpin>(
    r: &mut R,
    peer: Role,
    header: &Header,
    progress: Option<&Progress>,
) -> Result<Vec<u8>, TransportError<NetError>> {
    let mut payload = vec![0u8; header.len as usize];
    for chunk in payload.chunks_mut(CHUNK) {
        r.read_exact(chunk).await.map_err(|e| io_error(peer, e))?;
        progress.inspect(|p| p.tick());
    }
    Ok(payload)
}

/// Reads one frame from `peer`'s stream: header checked, payload length checked against `max`
/// before the buffer is allocated.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, peer: Role, max: u32) -> Incoming {
    let header = read_header(r, peer, max).await?;
    let payload = read_payload(r, peer, &header, None).await?;
    Ok(Frame {
        header,
        payload,
        _budget: None,
    })
}

/// Reads frames until the stream ends or breaks; the error that ended it is delivered last.
/// Each frame's payload must fit `bound` (the largest message the program lets this peer send,
/// [`patchwork_core::transport::Transport::limit_messages`]), and its bytes are taken from the
/// link's read `budget` before its buffer is allocated and given back when `recv` has taken
/// it: a peer cannot make this party buffer more than the budget, it only stalls its own
/// stream (TCP back-pressure).
pub(crate) async fn reader_task<R: AsyncRead + Unpin>(
    mut r: R,
    peer: Role,
    bound: Arc<AtomicU32>,
    budget: Arc<Semaphore>,
    progress: Progress,
    tx: mpsc::UnboundedSender<Incoming>,
) {
    loop {
        let incoming = async {
            let header = read_header(&mut r, peer, bound.load(Ordering::Relaxed)).await?;
            progress.tick();
            let permit = budget
                .clone()
                .acquire_many_owned(budget_cost(header.len))
                .await
                .map_err(|_| TransportError::Closed { peer })?;
            let payload = read_payload(&mut r, peer, &header, Some(&progress)).await?;
            Ok(Frame {
                header,
                payload,
                _budget: Some(permit),
            })
        }
        .await;
        let last = incoming.is_err();
        if tx.send(incoming).is_err() || last {
            return;
        }
    }
}

/// Writes queued frames in order, flushing when the queue is empty; when the transport is
/// dropped (the queue closes) it shuts the stream down cleanly. Stops at the first error, which
/// closes the queue so later sends report `Closed`. A frame's send budget is given back once
/// it is written.
pub(crate) async fn writer_task<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    progress: Progress,
) {
    while let Some((frame, _budget)) = rx.recv().await {
        for chunk in frame.chunks(CHUNK) {
            if w.write_all(chunk).await.is_err() {
                return;
            }
            progress.tick();
        }
        if rx.is_empty() && w.flush().await.is_err() {
            return;
        }
    }
    let _ = w.shutdown().await;
}

/// Writes one frame of `role` to `peer` and flushes it (for set-up frames; the protocol's
/// frames go through the writer task).
pub(crate) async fn write_frame<S: AsyncWrite + Unpin>(
    s: &mut S,
    role: Role,
    peer: Role,
    tag: Tag,
    payload: &[u8],
) -> Result<(), TransportError<NetError>> {
    let len = u32::try_from(payload.len()).map_err(|_| TransportError::BadFrame {
        peer,
        reason: "message longer than 4 GiB",
    })?;
    let header = Header {
        sender: role,
        tag,
        stamp: patchwork_core::transport::Stamp::default(),
        len,
    };
    let mut frame = header.encode().to_vec();
    frame.extend_from_slice(payload);
    s.write_all(&frame).await.map_err(|e| io_error(peer, e))?;
    s.flush().await.map_err(|e| io_error(peer, e))
}

/// Reads one frame from `peer` that must carry `tag` and exactly `len` payload bytes.
pub(crate) async fn read_expected<R: AsyncRead + Unpin>(
    r: &mut R,
    peer: Role,
    tag: Tag,
    len: usize,
) -> Result<Vec<u8>, TransportError<NetError>> {
    let max = u32::try_from(len).unwrap_or(u32::MAX);
    let frame = read_frame(r, peer, max).await?;
    frame.header.expect(tag, len)?;
    Ok(frame.payload)
}

/// Sends this party's hello and reads `peer`'s, which must name `peer` (the party whose
/// certificate the connection was authenticated with).
pub(crate) async fn exchange_hello<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    role: Role,
    peer: Role,
) -> Result<(), TransportError<NetError>> {
    write_frame(s, role, peer, HELLO, &[]).await?;
    read_expected(s, peer, HELLO, 0).await.map(|_| ())
}
