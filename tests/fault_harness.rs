//! `patchwork fault-harness` on a few runs: kill and stall of each party, with the three
//! parties as separate processes. Every run must pass (no hang, typed errors naming a peer in
//! time, no wrong result), and the faults must have hit running parties.

use std::process::Command;

#[test]
fn kill_and_stall_of_every_party_end_in_typed_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args(["fault-harness", "--runs", "12", "--seed", "7"])
        .args(["--timeout", "2", "--slack", "3", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = summary["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "kill and stall of P0, P1, P2: {summary}");
    let count = |key: &str| rows.iter().map(|r| r[key].as_u64().unwrap()).sum::<u64>();
    assert_eq!((count("runs"), count("passed")), (12, 12));
    // Faults that came after the victim had finished test nothing; most must have landed.
    assert!(count("landed") >= 6, "{summary}");
    assert!(count("typed_errors") >= 6, "{summary}");
    for r in rows {
        if let Some(s) = r["max_seconds_to_error"].as_f64() {
            assert!(s <= 5.0, "{r}");
        }
    }
}
