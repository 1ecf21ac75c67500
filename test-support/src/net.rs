//! Loopback TLS sessions for the tests of the TCP transport: a fresh temp dir, a loopback
//! session file, and the three parties connected on threads.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use patchwork_core::prg::KeySet;
use patchwork_core::role::Role;
use patchwork_net::tcp::{connect, loopback_config, SessionConfig, SessionError, TcpTransport};

/// A fresh directory under the target's temp dir, unique per call.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("patchwork-net-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback configuration on free ports with short timeouts.
pub fn config(name: &str) -> (PathBuf, SessionConfig) {
    let dir = temp_dir(name);
    let mut cfg = loopback_config(&dir, 0).unwrap();
    cfg.timeout = Duration::from_secs(2);
    cfg.connect_timeout = Duration::from_secs(5);
    (dir, cfg)
}

/// Runs `f` as each party on its own thread after connecting it with its configured identity.
pub fn run_parties<R: Send>(
    cfg: &SessionConfig,
    f: impl Fn(Role, Result<(KeySet, TcpTransport), SessionError>) -> R + Sync,
) -> [R; 3] {
    run_parties_with([cfg; 3], f)
}

/// As [`run_parties`], each party with its own view of the configuration (e.g. P0 reaching P1
/// through a relay).
pub fn run_parties_with<R: Send>(
    cfgs: [&SessionConfig; 3],
    f: impl Fn(Role, Result<(KeySet, TcpTransport), SessionError>) -> R + Sync,
) -> [R; 3] {
    let f = &f;
    std::thread::scope(|s| {
        let handles = Role::ALL.map(|role| {
            let cfg = cfgs[role.index()];
            s.spawn(move || {
                let identity = cfg.identity(role).unwrap();
                f(role, connect(role, cfg, &identity))
            })
        });
        handles.map(|h| h.join().expect("party thread panicked"))
    })
}
