//! Free ports for loopback sessions whose parties bind later, in another thread or process.
//!
//! A port found by binding port 0 comes from the kernel's ephemeral range, and the kernel may
//! hand it out again to any outgoing connection before the party binds it (a test run beside
//! another job failed so, with "Address already in use"). A port below that range is never
//! chosen by the kernel; one picked there at random and checked free can be taken only by
//! another explicit bind. Where the range cannot be read (not Linux) or leaves no room below
//! it, port 0 is used as before.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::TcpListener;

/// Picks tried below the ephemeral range before falling back to port 0.
const ATTEMPTS: u32 = 64;
/// The lowest port picked: below it live well-known and registered services.
const LOWEST: u16 = 10_000;

/// `n` different ports of 127.0.0.1 that were free just now (see the module docs): each is
/// held until all are found, so none is picked twice.
pub fn free_loopback_ports(n: usize) -> io::Result<Vec<u16>> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(free_listener()?);
    }
    held.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// A listener on a free port, below the ephemeral range where possible.
fn free_listener() -> io::Result<TcpListener> {
    if let Some(start) = ephemeral_start() {
        let span = start.saturating_sub(LOWEST);
        let random = RandomState::new();
        for attempt in 0..ATTEMPTS.min(u32::from(span)) {
            let mut h = random.build_hasher();
            h.write_u32(attempt);
            let port = LOWEST + (h.finish() % u64::from(span)) as u16;
            if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
                return Ok(l);
            }
        }
    }
    TcpListener::bind("127.0.0.1:0")
}

/// The first port of the kernel's ephemeral range, when it can be read.
fn ephemeral_start() -> Option<u16> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ports_are_free_distinct_and_below_the_ephemeral_range() {
        let ports = free_loopback_ports(3).expect("ports");
        let held: Vec<_> = ports
            .iter()
            .map(|&p| TcpListener::bind(("127.0.0.1", p)).expect("still free"))
            .collect();
        assert_eq!(held.len(), 3, "{ports:?} not distinct");
        if let Some(start) = ephemeral_start().filter(|&s| s > LOWEST) {
            for &port in &ports {
                assert!((LOWEST..start).contains(&port), "{port} not below {start}");
            }
        }
    }
}
