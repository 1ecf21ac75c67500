//! Connections and keys: the two listeners QEMU's UARTs connect to, the P1-P2 loopback pair,
//! and the fresh per-session keys.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use patchwork_core::prg::Key;

/// The first bytes of a key message to P0 (the firmware checks them).
const MAGIC: [u8; 4] = *b"PWKY";

/// Waits at most `timeout` for one connection on `listener`.
pub(crate) fn accept(
    listener: &TcpListener,
    timeout: Duration,
    what: &str,
) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no connection for {what} within {} s", timeout.as_secs()),
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A connected loopback TCP pair (P1's end, P2's end).
pub(crate) fn loopback_pair(timeout: Duration) -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let a = TcpStream::connect(listener.local_addr()?)?;
    let b = accept(&listener, timeout, "the P1-P2 link")?;
    Ok((a, b))
}

/// A fresh random key from the operating system.
pub(crate) fn fresh_key() -> io::Result<Key> {
    let mut k = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut k)?;
    Ok(k)
}

/// Sends P0 the key message of party `role` (1 or 2): magic, role byte, key.
pub(crate) fn send_key(stream: &mut TcpStream, role: u8, key: &Key) -> io::Result<()> {
    let mut msg = Vec::with_capacity(21);
    msg.extend_from_slice(&MAGIC);
    msg.push(role);
    msg.extend_from_slice(key);
    stream.write_all(&msg)?;
    stream.flush()
}
