//! A man-in-the-middle TCP relay for the tamper tests: it forwards one TLS connection in both
//! directions and, once armed, applies one fault to the next application-data record that the
//! client sends to the server. It parses only the TLS record layer (5-byte headers), as an
//! attacker on the wire could.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// TLS record type of application data (all records after the TLS 1.3 handshake).
const APPLICATION_DATA: u8 = 23;

/// How long the relay waits for a connection or for bytes before giving up.
const PATIENCE: Duration = Duration::from_secs(10);

/// What the relay does to the first application-data record after [`Relay::arm`].
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Flips one bit in the middle of the record's ciphertext.
    Flip,
    /// Forwards the record twice.
    Replay,
    /// Forwards nothing of it.
    Drop,
    /// Holds it back and forwards it after the next application-data record.
    Reorder,
}

/// A relay listening on a free loopback port, forwarding to a target.
pub struct Relay {
    address: SocketAddr,
    armed: Arc<AtomicBool>,
}

impl Relay {
    /// Starts a relay that accepts one connection and forwards it to `target`.
    pub fn start(target: SocketAddr, fault: Fault) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let armed = Arc::new(AtomicBool::new(false));
        let flag = armed.clone();
        std::thread::spawn(move || {
            if let Some(client) = accept(&listener) {
                if let Some(server) = dial(target) {
                    relay(client, server, fault, &flag);
                }
            }
        });
        Relay { address, armed }
    }

    /// The address clients should dial instead of the target.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Applies the fault to the next application-data record from the client.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
}

/// Connects to `target` within [`PATIENCE`], retrying while it is not listening yet (the
/// client may reach the relay before the target party has bound its port).
fn dial(target: SocketAddr) -> Option<TcpStream> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if let Ok(s) = TcpStream::connect_timeout(&target, PATIENCE) {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Accepts one connection within [`PATIENCE`].
fn accept(listener: &TcpListener) -> Option<TcpStream> {
    listener.set_nonblocking(true).ok()?;
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).ok()?;
                return Some(s);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    None
}

/// Forwards server-to-client bytes untouched on a thread and client-to-server records here.
fn relay(client: TcpStream, server: TcpStream, fault: Fault, armed: &AtomicBool) {
    for s in [&client, &server] {
        let _ = s.set_read_timeout(Some(PATIENCE));
        let _ = s.set_nodelay(true);
    }
    let (Ok(mut back_from), Ok(mut back_to)) = (server.try_clone(), client.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut back_from, &mut back_to);
        let _ = back_to.shutdown(Shutdown::Write);
    });
    let (mut from, mut to) = (client, server);
    let mut held: Option<Vec<u8>> = None;
    while let Some(mut record) = read_record(&mut from) {
        let out: Vec<Vec<u8>> = if record[0] != APPLICATION_DATA {
            vec![record]
        } else if let Some(first) = held.take() {
            vec![record, first]
        } else if armed.swap(false, Ordering::SeqCst) {
            match fault {
                Fault::Flip => {
                    let middle = 5 + (record.len() - 5) / 2;
                    record[middle] ^= 0x10;
                    vec![record]
                }
                Fault::Replay => vec![record.clone(), record],
                Fault::Drop => vec![],
                Fault::Reorder => {
                    held = Some(record);
                    vec![]
                }
            }
        } else {
            vec![record]
        };
        if out.iter().any(|r| to.write_all(r).is_err()) {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// One whole TLS record (header and body), or `None` at the end of the stream.
fn read_record(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut header = [0u8; 5];
    s.read_exact(&mut header).ok()?;
    let len = u16::from_be_bytes([header[3], header[4]]) as usize;
    let mut record = header.to_vec();
    record.resize(5 + len, 0);
    s.read_exact(&mut record[5..]).ok()?;
    Some(record)
}
