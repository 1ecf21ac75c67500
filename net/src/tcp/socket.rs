//! The settings of every TCP connection between parties.

use tokio::net::TcpStream;

/// The send buffer asked of the kernel for each connection: more than any host allows, so
/// the kernel gives the most it does (Linux caps the request at `net.core.wmem_max`, 4 MiB by
/// default, and doubles that for its bookkeeping).
pub(crate) const SEND_BUFFER: usize = 64 << 20;

/// Sets `TCP_NODELAY` (a protocol message is sent whole and awaited at once: Nagle's
/// algorithm would hold its tail for an ACK) and the largest send buffer the host allows
/// ([`SEND_BUFFER`]). Left to itself the kernel starts a connection's send buffer at 16 KiB
/// (`net.ipv4.tcp_wmem`) and grows it only as the connection carries data; some sessions'
/// first inferences paid that in time (BENCHMARKS.md, "Socket settings"). The receive buffer is
/// left to autotuning, whose top (`tcp_rmem`'s, 32 MiB by default) is above what a fixed size
/// may ask for (`rmem_max`). Failures are ignored: a connection without them is only slower.
pub(crate) fn tune(tcp: &TcpStream) {
    let _ = tcp.set_nodelay(true);
    let _ = socket2::SockRef::from(tcp).set_send_buffer_size(SEND_BUFFER);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tuned connection has no Nagle delay, and a send buffer above the one the kernel starts
    /// it with.
    #[tokio::test]
    async fn a_tuned_connection_has_nodelay_and_a_large_send_buffer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let before = socket2::SockRef::from(&tcp).send_buffer_size().unwrap();
        tune(&tcp);
        assert!(tcp.nodelay().unwrap());
        let after = socket2::SockRef::from(&tcp).send_buffer_size().unwrap();
        assert!(after > before, "{before} -> {after}");
    }
}
