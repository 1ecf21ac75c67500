//! The host side of the firmware example without QEMU: `firmware_gen check` keeps the
//! firmware's generated file current, and `firmware_peers` serves a P0 played by this test
//! over TCP exactly as the firmware speaks over its UARTs (key messages, then frames), and
//! gives up with a timeout error when P0 goes quiet.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use patchwork_core::held::Held;
use patchwork_core::infer::{SecureModel, Settings};
use patchwork_core::party::Party;
use patchwork_core::prg::{Key, KeySet, Prg};
use patchwork_core::role::Role;
use patchwork_core::transport::stream::StreamTransport;
use patchwork_model::commands;
use patchwork_model::data::fashion;
use patchwork_model::onnx;
use patchwork_net::secure;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn generated_firmware_file_is_current() {
    let out = Command::new(env!("CARGO_BIN_EXE_firmware_gen"))
        .args(["check", "--out"])
        .arg(repo("firmware-examples/src/generated.rs"))
        .output()
        .expect("run firmware_gen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A blocking TCP stream as an embedded-io stream (P0's side in this test).
struct Tcp(TcpStream);

impl embedded_io::ErrorType for Tcp {
    type Error = embedded_io::ErrorKind;
}

fn kind(e: std::io::Error) -> embedded_io::ErrorKind {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            embedded_io::ErrorKind::TimedOut
        }
        _ => embedded_io::ErrorKind::Other,
    }
}

impl embedded_io::Read for Tcp {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf).map_err(kind)
    }
}

impl embedded_io::Write for Tcp {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf).map_err(kind)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush().map_err(kind)
    }
}

/// Starts `firmware_peers` and returns it with its two ports.
fn start_peers(dir: &Path, timeout_s: u32) -> (Child, [u16; 2]) {
    std::fs::create_dir_all(dir).expect("temp dir");
    let ports = dir.join("ports");
    let _ = std::fs::remove_file(&ports);
    let mut child = Command::new(env!("CARGO_BIN_EXE_firmware_peers"))
        .arg("--ports-file")
        .arg(&ports)
        .args(["--timeout-s", &timeout_s.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start firmware_peers");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(&ports) {
            let p: Vec<u16> = s
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if p.len() == 2 {
                return (child, [p[0], p[1]]);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("firmware_peers did not write its ports");
}

/// Waits at most `limit` for the child, killing it on overrun.
fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("poll child").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("firmware_peers still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect output")
}

/// Reads a key message as the firmware does.
fn key_from(s: &mut TcpStream, role: u8) -> Key {
    let mut msg = [0u8; 21];
    s.read_exact(&mut msg).expect("key message");
    assert_eq!(&msg[..4], b"PWKY");
    assert_eq!(msg[4], role);
    msg[5..].try_into().expect("16 bytes")
}

#[test]
fn peers_serve_a_p0_speaking_the_firmware_protocol() {
    let dir = std::env::temp_dir().join(format!("pw-fw-peers-{}", std::process::id()));
    let (child, [p1, p2]) = start_peers(&dir, 60);
    let connect = |port| {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        s
    };
    let (mut to_p1, mut to_p2) = (connect(p1), connect(p2));
    let (k01, k02) = (key_from(&mut to_p1, 1), key_from(&mut to_p2, 2));
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    Prg::new(&k01, u64::MAX, 0x7ffe).fill_bytes(&mut a);
    Prg::new(&k02, u64::MAX, 0x7ffe).fill_bytes(&mut b);
    let own: Key = std::array::from_fn(|i| a[i] ^ b[i]);

    let trained = onnx::load_model(&repo("models/fashion_resnet.onnx")).expect("model");
    // P0 uses the architecture alone.
    let model = trained.model();
    let spec = commands::load_checked_spec(model, &repo("models/fashion_resnet.example_spec.json"))
        .expect("spec");
    let settings = Settings::PAPER;
    let x: Vec<f32> = fashion::bundled_test64().input(0).iter().copied().collect();
    let transport = StreamTransport::new(Role::P0, [Some(Tcp(to_p1)), Some(Tcp(to_p2))]);
    let mut p0 = Party::new(KeySet::new(Role::P0, own, [k01, k02]), transport);
    let secure_model =
        SecureModel::setup(&mut p0, model, Held::NotMine, &spec, settings, 1).expect("set-up");
    let logits = secure_model
        .infer(&mut p0, Held::Mine(&x), &mut |_, _| {})
        .expect("inference")
        .expect("P0 gets the output");
    let local = secure::local::infer_local(
        secure::local::Network::Memory { seed: 3 },
        &trained,
        &spec,
        settings,
        &[&x],
    )
    .expect("local");
    assert_eq!(patchwork_core::infer::argmax(&logits), local[0].class);

    let out = finish(child, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("P1: with P0: payload sent"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn silent_p0_gives_a_timeout_error_and_a_failure_exit() {
    let dir = std::env::temp_dir().join(format!("pw-fw-silent-{}", std::process::id()));
    let (child, [p1, p2]) = start_peers(&dir, 2);
    let _a = TcpStream::connect(("127.0.0.1", p1)).expect("connect");
    let _b = TcpStream::connect(("127.0.0.1", p2)).expect("connect");
    let out = finish(child, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("timed out"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
