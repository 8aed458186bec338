//! `dbgov policy test` runs the agent's own judge: a multi-statement request is judged
//! statement by statement, as the agent judges it (it once said `allow` where the agent said
//! `block`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn policy_test(statement: &str, db: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_dbgov"))
        .args([
            "policy",
            "test",
            "--engine",
            "postgresql",
            "--db",
            db,
            "--statement",
            statement,
        ])
        .output()
        .expect("dbgov runs");
    assert!(
        out.status.success(),
        "dbgov policy test failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn a_harmless_first_statement_does_not_hide_a_drop() {
    let v = policy_test("SELECT 1; DROP TABLE t", "prod");
    assert_eq!(v["policy"]["verdict"], "block", "{v:#}");
    assert_eq!(v["statement"]["kind"], "SELECT");
    let rules: Vec<&str> = v["policy"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(rules.contains(&"block-destructive-ddl-prod"), "{rules:?}");
}

#[test]
fn the_same_request_elsewhere_is_allowed() {
    let v = policy_test("SELECT 1; DROP TABLE t", "staging");
    assert_eq!(v["policy"]["verdict"], "allow", "{v:#}");
}

/// `dbgov verify` on a trail written by the agent's encoder: intact, then tampered.
#[test]
fn verify_names_the_first_fault() {
    let dir = std::env::temp_dir().join(format!("dbgov-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trail.jsonl");
    let mut enc = dbgov::audit::Encoder::new("0123456789abcdef".into());
    let mut text = String::new();
    for i in 0..5 {
        let line = enc
            .encode(&serde_json::json!({"kind": "statement", "time": format!("2026-12-02T00:00:0{i}Z"), "n": i}))
            .unwrap();
        text.push_str(std::str::from_utf8(line).unwrap());
    }
    let run = |t: &str| {
        std::fs::write(&path, t).unwrap();
        Command::new(env!("CARGO_BIN_EXE_dbgov"))
            .args(["verify", "--input"])
            .arg(format!("jsonl:{}", path.display()))
            .output()
            .unwrap()
    };
    let ok = run(&text);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact: 5 events"));
    let bad = run(&text.replace("\"n\":3", "\"n\":4"));
    assert_eq!(bad.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(msg.contains("line 4: modified"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}
