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
