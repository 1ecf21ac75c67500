//! A wide-area link between two parties on one machine, for `bench model --link`: a TCP relay
//! on loopback that carries each direction of a connection at a fixed rate and delivers every
//! byte half a round-trip time after it left the link (serialisation at the rate, then
//! propagation), as a path with that bandwidth and delay would. It needs no kernel support
//! (no netem, no namespaces, no root) and goes away with the process.
//!
//! Every direction buffers at most [`QUEUE_CHUNKS`] chunks of [`CHUNK`] bytes (16 MiB, more
//! than the bandwidth-delay product of 1 Gbit/s at 100 ms); beyond that the relay stops reading
//! and TCP's flow control holds the sender back.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

/// The largest read forwarded as one unit.
pub const CHUNK: usize = 64 << 10;
/// Chunks queued per direction before the relay stops reading.
pub const QUEUE_CHUNKS: usize = 256;

/// A link's round-trip time and rate (each direction carries `rate` on its own).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// Round-trip time: each byte arrives `rtt / 2` after it was serialised.
    pub rtt: Duration,
    /// Bits per second in each direction.
    pub bits_per_sec: f64,
}

impl Link {
    /// The delay of one direction.
    pub fn one_way(&self) -> Duration {
        self.rtt / 2
    }

    /// Seconds to serialise `bytes` at the link's rate.
    pub fn transfer_secs(&self, bytes: f64) -> f64 {
        bytes * 8.0 / self.bits_per_sec
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.rtt.as_secs_f64() * 1e3;
        let (rate, unit) = match self.bits_per_sec {
            r if r >= 1e9 => (r / 1e9, "Gbit/s"),
            r if r >= 1e6 => (r / 1e6, "Mbit/s"),
            r => (r / 1e3, "kbit/s"),
        };
        write!(f, "{ms} ms RTT, {rate} {unit}")
    }
}

/// Parses `rtt=50ms,rate=1gbit` (rtt in `us`, `ms` or `s`; rate in `kbit`, `mbit` or `gbit`,
/// per second, in each direction).
pub fn parse_link(s: &str) -> Result<Link, String> {
    let (mut rtt, mut rate) = (None, None);
    for part in s.split(',') {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}': expected key=value (rtt=50ms,rate=1gbit)"))?;
        match key.trim() {
            "rtt" => {
                rtt = Some(number_with_unit(
                    value,
                    &[("us", 1e-6), ("ms", 1e-3), ("s", 1.0)],
                )?)
            }
            "rate" => {
                rate = Some(number_with_unit(
                    value,
                    &[("kbit", 1e3), ("mbit", 1e6), ("gbit", 1e9)],
                )?)
            }
            other => return Err(format!("unknown link setting '{other}' (rtt, rate)")),
        }
    }
    let rtt = rtt.ok_or("the link needs rtt=..., e.g. rtt=50ms")?;
    let bits_per_sec = rate.ok_or("the link needs rate=..., e.g. rate=1gbit")?;
    if !bits_per_sec.is_finite() || bits_per_sec <= 0.0 {
        return Err(format!("rate must be positive, not {bits_per_sec}"));
    }
    if !(0.0..=60.0).contains(&rtt) {
        return Err(format!("rtt must be between 0 and 60 s, not {rtt} s"));
    }
    Ok(Link {
        rtt: Duration::from_secs_f64(rtt),
        bits_per_sec,
    })
}

/// `value` as a number times the factor of its unit (the longest unit that matches).
fn number_with_unit(value: &str, units: &[(&str, f64)]) -> Result<f64, String> {
    let value = value.trim().to_ascii_lowercase();
    let names: Vec<&str> = units.iter().map(|(u, _)| *u).collect();
    let (unit, factor) = units
        .iter()
        .filter(|(u, _)| value.ends_with(u))
        .max_by_key(|(u, _)| u.len())
        .ok_or_else(|| format!("'{value}': give a unit ({})", names.join(", ")))?;
    let number: f64 = value[..value.len() - unit.len()]
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a number of {unit}"))?;
    Ok(number * factor)
}

/// A relay listening on a free loopback port that forwards every connection to `target`
/// through the link.
pub struct Relay {
    /// Where the relay listens: dial this instead of `target`.
    pub address: SocketAddr,
}

impl Relay {
    /// Starts the relay. A connection whose target does not answer within `connect_deadline`
    /// (the target may not listen yet) is closed.
    pub fn start(target: SocketAddr, link: Link, connect_deadline: Duration) -> io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    if let Some(server) = dial(target, connect_deadline) {
                        let _ = carry(client, server, link);
                    }
                });
            }
        });
        Ok(Relay { address })
    }
}

/// Connects to `target`, retrying until `deadline` from now.
fn dial(target: SocketAddr, deadline: Duration) -> Option<TcpStream> {
    let until = Instant::now() + deadline;
    loop {
        match TcpStream::connect(target) {
            Ok(s) => return Some(s),
            Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return None,
        }
    }
}

/// Both directions of one connection through the link.
fn carry(client: TcpStream, server: TcpStream, link: Link) -> io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (c2, s2) = (client.try_clone()?, server.try_clone()?);
    let up = std::thread::spawn(move || direction(client, server, link));
    direction(s2, c2, link);
    let _ = up.join();
    Ok(())
}

/// One direction: a reader that stamps each chunk with its delivery time, and a writer that
/// delivers it then.
fn direction(from: TcpStream, to: TcpStream, link: Link) {
    let (tx, rx) = sync_channel(QUEUE_CHUNKS);
    let reader = std::thread::spawn(move || read_side(from, tx, link));
    write_side(to, rx);
    let _ = reader.join();
}

/// Reads chunks; a chunk leaves the link once the one before it has been serialised and its
/// own bytes have (at the rate), and arrives `rtt / 2` later. An empty chunk is the end.
fn read_side(mut from: TcpStream, tx: SyncSender<(Instant, Vec<u8>)>, link: Link) {
    let mut free_at = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = from.read(&mut buf).unwrap_or(0);
        let now = Instant::now();
        let start = free_at.max(now);
        free_at = start + Duration::from_secs_f64(link.transfer_secs(n as f64));
        if tx
            .send((free_at + link.one_way(), buf[..n].to_vec()))
            .is_err()
            || n == 0
        {
            return;
        }
    }
}

/// Writes each chunk at its delivery time; closes the write side at the end.
fn write_side(mut to: TcpStream, rx: Receiver<(Instant, Vec<u8>)>) {
    for (due, bytes) in rx {
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        if bytes.is_empty() || to.write_all(&bytes).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_with_units_and_bad_ones_are_refused() {
        let l = parse_link("rtt=50ms,rate=1gbit").expect("parses");
        assert_eq!(l.rtt, Duration::from_millis(50));
        assert_eq!(l.bits_per_sec, 1e9);
        assert_eq!(l.to_string(), "50 ms RTT, 1 Gbit/s");
        let l = parse_link("rate=100mbit, rtt=0.5s").expect("parses");
        assert_eq!((l.rtt, l.bits_per_sec), (Duration::from_millis(500), 1e8));
        for (bad, says) in [
            ("rtt=50ms", "rate="),
            ("rate=1gbit", "rtt="),
            ("rtt=50,rate=1gbit", "give a unit"),
            ("rtt=xms,rate=1gbit", "not a number"),
            ("rtt=50ms,rate=0gbit", "positive"),
            ("rtt=50ms,rate=1gbit,loss=1", "unknown link setting 'loss'"),
            ("rtt=-5ms,rate=1gbit", "between 0 and 60"),
        ] {
            let err = parse_link(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    /// An echo through the relay takes one RTT plus twice the transfer time, and not much more.
    #[test]
    fn a_round_trip_through_the_relay_takes_the_link_time() {
        let echo = TcpListener::bind("127.0.0.1:0").expect("bind");
        let target = echo.local_addr().expect("addr");
        std::thread::spawn(move || {
            let (mut s, _) = echo.accept().expect("accept");
            let mut buf = vec![0u8; 1 << 20];
            let mut got = 0;
            while got < buf.len() {
                got += s.read(&mut buf[got..]).expect("read");
            }
            s.write_all(&buf).expect("echo");
        });
        // 1 MiB each way at 80 Mbit/s: 105 ms; RTT 100 ms.
        let link = parse_link("rtt=100ms,rate=80mbit").expect("link");
        let relay = Relay::start(target, link, Duration::from_secs(5)).expect("relay");
        let mut s = TcpStream::connect(relay.address).expect("connect");
        let t = Instant::now();
        s.write_all(&vec![7u8; 1 << 20]).expect("send");
        let mut back = vec![0u8; 1 << 20];
        s.read_exact(&mut back).expect("read back");
        let secs = t.elapsed().as_secs_f64();
        let expected = 0.1 + 2.0 * link.transfer_secs((1 << 20) as f64);
        assert!(back.iter().all(|&b| b == 7));
        assert!(
            secs >= expected * 0.95 && secs < 2.0 * expected + 0.5,
            "{secs} s, expected {expected} s"
        );
    }
}
