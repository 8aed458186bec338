//! Intention: sqlcommenter tags and trace ids from psql and a driver, workload purposes from
//! the default pack and the rule on AI workloads reading restricted data, and malformed
//! comments that must not break judging. Real eBPF, PostgreSQL 15, psql and tokio-postgres.
use std::path::Path;
use std::process::Command;

use dbgov_tests::*;
use serde_json::{json, Value};

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn one<'a>(ev: &'a [Value], pred: impl Fn(&str) -> bool, what: &str) -> &'a Value {
    let hits: Vec<&Value> = statements(ev)
        .into_iter()
        .filter(|e| e["statement"]["text"].as_str().is_some_and(&pred))
        .collect();
    assert_eq!(hits.len(), 1, "one event for {what}:\n{}", dump(ev));
    hits[0]
}

#[test]
fn tags_trace_ids_and_purposes_on_real_statements() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    pg.psql_admin("CREATE TABLE customers (id int, email text, ssn text); INSERT INTO customers VALUES (1, 'a@example.com', '123-45-6789')")?;
    let dir = TempDir::new("intention")?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;

    // psql with a sqlcommenter comment at the end, a traceparent among the tags.
    let commented = format!(
        "SELECT email FROM customers /*action='checkout',framework='django%3A4.2',route='%2Fapi%2Fcustomers',traceparent='{TRACEPARENT}'*/"
    );
    run(pg.psql().args(["-c", &commented]))?;

    // A driver: the comment at the start of a prepared statement with a bound parameter.
    let port = pg.port;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let (client, conn) = tokio_postgres::connect(
                &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
                tokio_postgres::NoTls,
            )
            .await?;
            let task = tokio::spawn(conn);
            let st = client
                .prepare("/*application='billing',db_driver='tokio-postgres%3A0.7'*/ SELECT ssn FROM customers WHERE id = $1")
                .await?;
            client.query(&st, &[&1i32]).await?;
            drop(client);
            let _ = task.await;
            anyhow::Ok(())
        })?;

    // The same restricted read by a training job (by its application_name) and by plain psql.
    let mut ml = pg.psql();
    ml.env("PGAPPNAME", "ml-train-nightly")
        .args(["-c", "SELECT ssn FROM customers WHERE id IS NOT NULL"]);
    run(&mut ml)?;
    let mut plain = pg.psql();
    plain
        .env("PGAPPNAME", "psql")
        .args(["-c", "SELECT ssn FROM customers WHERE id IS NOT NULL"]);
    run(&mut plain)?;

    // Malformed comments: unterminated, bad percent-encoding, 1 MB long. Each statement is
    // still one event, judged, with no tags.
    let _ = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-p",
        ])
        .arg(pg.port.to_string())
        .args(["-c", "SELECT id, email FROM customers /*action='x'"])
        .output()?;
    run(pg
        .psql()
        .args(["-c", "SELECT email, id FROM customers /*action='%zz'*/"]))?;
    let long = format!(
        "SELECT email, ssn, id FROM customers /*action='{}'*/;\n",
        "x".repeat(1 << 20)
    );
    pg.psql_script(&dir, "long.sql", &long)?;

    let ev = agent.wait_for("all seven statements", |ev| {
        statements(ev)
            .iter()
            .filter(|e| {
                e["statement"]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("customers"))
            })
            .count()
            >= 7
    })?;
    let (code, ev2) = agent.stop()?;
    assert_eq!(code, 0);
    let ev = if ev2.len() >= ev.len() { ev2 } else { ev };

    let s = one(
        &ev,
        |t| t.starts_with("SELECT email FROM customers /*"),
        "psql's tagged statement",
    );
    assert_eq!(
        s["statement"]["tags"],
        json!({"action": "checkout", "framework": "django:4.2", "route": "/api/customers", "traceparent": TRACEPARENT})
    );
    assert_eq!(
        s["statement"]["trace_id"],
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(s["statement"]["span_id"], "b7ad6b7169203331");
    let text = s["statement"]["text"].as_str().unwrap_or_default();
    for value in ["checkout", "django", "api", TRACEPARENT, "b7ad6b7169203331"] {
        assert!(
            !text.contains(value),
            "the comment's values are redacted: {text}"
        );
    }
    assert_eq!(text, "SELECT email FROM customers /* ? */");

    let d = one(
        &ev,
        |t| t.contains("SELECT ssn FROM customers WHERE id = $1"),
        "the driver's statement",
    );
    assert_eq!(
        d["statement"]["tags"],
        json!({"application": "billing", "db_driver": "tokio-postgres:0.7"})
    );
    assert!(d["statement"]["trace_id"].is_null());
    assert!(!d["statement"]["text"]
        .as_str()
        .unwrap_or_default()
        .contains("billing"));

    // The training job: purpose from the default pack's workloads, and the AI rule fires.
    // The same statement twice, told apart by the application name.
    let read_by = |app: &str| -> &Value {
        let hits: Vec<&Value> = statements(&ev)
            .into_iter()
            .filter(|e| {
                e["statement"]["text"] == "SELECT ssn FROM customers WHERE id IS NOT NULL"
                    && e["db"]["application"] == app
            })
            .collect();
        assert_eq!(hits.len(), 1, "one read by {app}:\n{}", dump(&ev));
        hits[0]
    };
    let m = read_by("ml-train-nightly");
    assert_eq!(m["db"]["application"], "ml-train-nightly");
    assert_eq!(m["client"]["purpose"], "ai.training");
    assert!(
        m["client"]["workload"]
            .as_str()
            .is_some_and(|w| !w.is_empty()),
        "{m}"
    );
    let rules = |e: &Value| -> Vec<String> {
        e["policy"]["rules"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(
        rules(m).contains(&"alert-ai-restricted-access".to_string()),
        "{m}"
    );
    assert_ne!(m["policy"]["verdict"], "allow");
    // The same read from an unmatched process: no purpose, no AI rule.
    let p = read_by("psql");
    assert!(p["client"]["purpose"].is_null(), "{p}");
    assert!(
        !rules(p).contains(&"alert-ai-restricted-access".to_string()),
        "{p}"
    );
    assert_eq!(p["classification"]["level"], "restricted");

    // Malformed comments: the statement is there and judged, with no tags, and nothing of
    // the comment in the text.
    for (what, text) in [
        (
            "the unterminated comment",
            "SELECT id, email FROM customers /* ? */",
        ),
        (
            "the bad percent-encoding",
            "SELECT email, id FROM customers /* ? */",
        ),
        (
            "the 1 MB comment",
            "SELECT email, ssn, id FROM customers /* ? */",
        ),
    ] {
        let e = one(&ev, |t| t.trim_end().trim_end_matches(';') == text, what);
        assert_eq!(e["statement"]["tags"], json!({}), "{what}: {e}");
        assert!(e["policy"]["verdict"].is_string(), "{what} is judged: {e}");
    }
    let e = one(
        &ev,
        |t| t.starts_with("SELECT email, id FROM customers"),
        "bad encoding",
    );
    assert_eq!(e["classification"]["classes"], json!(["pii.email"]), "{e}");
    Ok(())
}

/// `dbgov policy test` tries a purpose without capturing; `dbgov policy check` validates the
/// workload files.
#[test]
fn policy_test_and_check_know_workloads() -> anyhow::Result<()> {
    if !require(
        agent_bin().exists(),
        "the dbgov binary (run cargo xtask test)",
    ) {
        return Ok(());
    }
    let test = |args: &[&str]| -> anyhow::Result<Value> {
        let out = Command::new(agent_bin())
            .args(["policy", "test", "--statement", "SELECT ssn FROM customers"])
            .args(args)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    let v = test(&["--tag", "framework=langchain", "--tag", "route=/chat"])?;
    assert_eq!(v["client"]["purpose"], "ai.agent", "{v}");
    assert_eq!(v["statement"]["tags"]["route"], "/chat");
    assert_eq!(v["policy"]["rules"], json!(["alert-ai-restricted-access"]));
    let v = test(&["--unit", "ml-train-nightly.service"])?;
    assert_eq!(v["client"]["purpose"], "ai.training", "{v}");
    assert_eq!(v["client"]["workload"], "ml-train-nightly.service");
    let v = test(&["--application", "metabase", "--exe", "/usr/bin/java"])?;
    assert_eq!(v["client"]["purpose"], "analytics", "{v}");
    assert_eq!(v["policy"]["verdict"], "allow");
    let v = test(&[])?;
    assert!(v["client"]["purpose"].is_null(), "{v}");

    // A pack with a broken workload file is refused, naming the file.
    let dir = TempDir::new("workloads")?;
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let out = Command::new(agent_bin())
        .args(["policy", "check"])
        .arg(&pack)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("7 workload entries"),
        "{text}"
    );
    for sub in ["classes", "rules", "workloads"] {
        std::fs::create_dir_all(dir.path().join(sub))?;
    }
    std::fs::copy(
        pack.join("classes/pii.yaml"),
        dir.path().join("classes/pii.yaml"),
    )?;
    std::fs::write(
        dir.path().join("workloads/50-bad.yaml"),
        "workloads:\n  - purpose: ai.x\n    match:\n      client_purpose: ai.*\n",
    )?;
    let out = Command::new(agent_bin())
        .args(["policy", "check"])
        .arg(dir.path())
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("50-bad.yaml") && err.contains("client_purpose"),
        "{err}"
    );
    Ok(())
}
