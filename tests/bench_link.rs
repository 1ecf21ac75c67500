//! `patchwork bench model --link`: the three party processes over an emulated wide-area link
//! (a delaying, rate-limited relay per pair of parties, `src/cmd/wan_link.rs`). Every message
//! chain of an inference must pay the one-way delay, so a run over the link can never be faster
//! than rounds x one-way delay (a relay that does not delay turns this red), and the link must
//! not change what the protocol sends. Bad link settings are refused naming them.

use std::process::Command;

fn bench(extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args([
            "bench",
            "model",
            "--model",
            "models/fashion_resnet.onnx",
            "--budget-ratio",
            "0.06",
            "--approx",
            "43,5",
        ])
        .args(extra)
        .output()
        .expect("run patchwork")
}

#[test]
fn a_run_over_the_link_pays_every_round_its_delay_and_sends_the_same_bytes() {
    let out = bench(&["--repeat", "2", "--link", "rtt=60ms,rate=200mbit", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
    let link = &v["links"][0];
    let rounds = link["rounds"].as_u64().expect("rounds");
    assert!(rounds > 10, "{link}");
    assert_eq!(link["rounds"], v["rounds"], "the link changed the rounds");
    assert_eq!(
        link["bytes"]["total"], v["bytes"]["total"],
        "the link changed the bytes"
    );
    let floor = link["floor_seconds"].as_f64().expect("floor");
    assert!((floor - rounds as f64 * 0.030).abs() < 1e-9, "{link}");
    for k in ["seconds", "steady_seconds"] {
        let s = link[k].as_f64().expect(k);
        assert!(
            s >= floor,
            "{k} {s} s over the link, below its floor {floor} s"
        );
    }
}

#[test]
fn bad_link_settings_are_refused_naming_them() {
    for (bad, says) in [
        ("rtt=50ms", "rate="),
        ("rtt=50ms,rate=1tbit", "give a unit"),
        ("rtt=50ms,rate=1gbit,jitter=1ms", "jitter"),
    ] {
        let out = bench(&["--link", bad]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad} accepted");
        assert!(stderr.contains(says), "{bad}: {stderr}");
    }
}
