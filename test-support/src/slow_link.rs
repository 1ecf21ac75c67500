//! A TCP relay that carries one connection and forwards what the server sends at a fixed rate
//! (the other direction untouched), as a slow link between two parties would. It reads no
//! faster than it forwards, so TCP's flow control holds the sender back as a real bottleneck
//! does: the relay buffers one chunk.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const CHUNK: usize = 16 << 10;

/// A rate-limited relay listening on a free loopback port.
pub struct SlowLink {
    /// Where the link listens (connect to this instead of the server).
    pub address: SocketAddr,
}

impl SlowLink {
    /// Forwards the first connection to `target`; server-to-client bytes at `bytes_per_sec`.
    pub fn start(target: SocketAddr, bytes_per_sec: f64) -> SlowLink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            // The target party may not listen yet.
            let deadline = Instant::now() + Duration::from_secs(10);
            let server = loop {
                match TcpStream::connect(target) {
                    Ok(s) => break s,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => return,
                }
            };
            let (mut up_from, mut up_to) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut up_from, &mut up_to);
                let _ = up_to.shutdown(Shutdown::Write);
            });
            throttle(server, client, bytes_per_sec);
        });
        SlowLink { address }
    }
}

fn throttle(mut from: TcpStream, mut to: TcpStream, rate: f64) {
    let start = Instant::now();
    let mut sent = 0usize;
    let mut buf = vec![0u8; CHUNK];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n;
        let due = Duration::from_secs_f64(sent as f64 / rate);
        std::thread::sleep(due.saturating_sub(start.elapsed()));
    }
    let _ = to.shutdown(Shutdown::Write);
}
