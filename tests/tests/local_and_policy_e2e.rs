//! Local sessions over Unix sockets (PostgreSQL and MariaDB), host environment on events and
//! in rules, and classification/policy verdicts on real statements, as root with real eBPF.
use std::io::Write;
use std::process::{Command, Stdio};

use dbgov_tests::*;
use serde_json::Value;

#[test]
fn psql_as_postgres_over_the_unix_socket_inside_a_login_session() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    pg.psql_admin("CREATE TABLE customers (id int, email text, ssn text); INSERT INTO customers VALUES (1, 'a@example.com', '123-45-6789')")?;
    let login_uid = ensure_user("dbgov_alice")?;
    let glob = format!("{}/.s.PGSQL.*", pg.socket_dir.display());
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--postgres-socket",
        &glob,
    ])?;
    // "sudo -u postgres psql": the postgres OS user, peer authentication on the local socket,
    // inside dbgov_alice's login session.
    let cmd = format!(
        "psql -X -h {} -p {} -d postgres -c 'SELECT * FROM customers'",
        pg.socket_dir.display(),
        pg.port
    );
    let out = as_user_with_login(login_uid, "postgres", &cmd).output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    agent.wait_for("the local statement", |ev| {
        !statements(ev).is_empty() && !of_kind(ev, "session_end").is_empty()
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let st = with_text(&ev, "SELECT * FROM customers");
    assert_eq!(
        st.len(),
        1,
        "one event although both ends are local:\n{}",
        dump(&ev)
    );
    let s = st[0];
    let path = format!("{}/.s.PGSQL.{}", pg.socket_dir.display(), pg.port);
    assert_eq!(s["session"]["transport"], "unix");
    assert_eq!(s["client"]["addr"], path.as_str());
    assert_eq!(s["client"]["user"], "postgres");
    assert_eq!(s["client"]["login_user"], "dbgov_alice");
    assert_eq!(s["db"]["user"], "postgres");
    assert!(
        s["server"]["pid"].as_u64().is_some(),
        "the backend is named: {s}"
    );
    assert_ne!(s["server"]["pid"], s["client"]["pid"]);
    // Same analysis, classification and policy as TCP.
    assert_eq!(
        s["statement"]["columns"]["read"],
        serde_json::json!(["customers.email", "customers.id", "customers.ssn"])
    );
    assert_eq!(
        s["classification"]["classes"],
        serde_json::json!(["pii.email", "pii.ssn"])
    );
    assert_eq!(s["classification"]["level"], "restricted");
    assert_eq!(s["policy"]["verdict"], "alert");
    assert!(
        s["policy"]["rules"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == "alert-person-restricted-access")),
        "{s}"
    );
    Ok(())
}

#[test]
fn mariadb_cli_over_the_unix_socket() -> anyhow::Result<()> {
    if !require_agent() || !require(Mariadb::available(), "MariaDB server (mariadbd)") {
        return Ok(());
    }
    let db = Mariadb::start()?;
    db.sql("CREATE TABLE dbgovtest.customers (id INT, email VARCHAR(64), ssn VARCHAR(16)); INSERT INTO dbgovtest.customers VALUES (1, 'a@example.com', '123-45-6789')")?;
    let login_uid = ensure_user("dbgov_alice")?;
    let sock = db.socket.display().to_string();
    let agent = Agent::start(&[
        "--mysql-port",
        &db.port.to_string(),
        "--postgres-port",
        "1",
        "--mysql-socket",
        &sock,
    ])?;
    let cmd = format!(
        "mariadb --no-defaults -uroot -S {sock} -D dbgovtest -e 'SELECT email, ssn FROM customers'"
    );
    let out = as_user_with_login(login_uid, "root", &cmd).output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    agent.wait_for("the local MariaDB statement", |ev| {
        statements(ev)
            .iter()
            .any(|e| e["statement"]["text"] == "SELECT email, ssn FROM customers")
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    let st = with_text(&ev, "SELECT email, ssn FROM customers");
    assert_eq!(st.len(), 1, "{}", dump(&ev));
    let s = st[0];
    assert_eq!(s["session"]["transport"], "unix");
    assert_eq!(s["client"]["addr"], sock.as_str());
    assert_eq!(s["client"]["login_user"], "dbgov_alice");
    assert_eq!(s["db"]["engine"], "mysql");
    assert_eq!(s["outcome"]["rows"], 1);
    assert!(s["server"]["pid"].as_u64().is_some(), "{s}");
    assert_eq!(
        s["classification"]["classes"],
        serde_json::json!(["pii.email", "pii.ssn"])
    );
    assert_eq!(s["policy"]["verdict"], "alert");
    Ok(())
}

/// Runs `DROP TABLE scratch` and `SELECT 1; DROP TABLE scratch2` (a destructive statement
/// hidden behind a harmless one) under `--environment`, and returns both events.
fn drop_table_verdicts(environment: &str) -> anyhow::Result<(Value, Value)> {
    let pg = Postgres::start()?;
    pg.psql_admin("CREATE TABLE scratch (id int); CREATE TABLE scratch2 (id int)")?;
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--environment",
        environment,
        "--label",
        "team=payments",
    ])?;
    pg.psql_admin("DROP TABLE scratch")?;
    pg.psql_admin("SELECT 1; DROP TABLE scratch2")?;
    let hidden_text = "SELECT ?; DROP TABLE scratch2";
    agent.wait_for("both DROP TABLEs", |ev| {
        statements(ev)
            .iter()
            .any(|e| e["statement"]["text"] == "DROP TABLE scratch")
            && statements(ev)
                .iter()
                .any(|e| e["statement"]["text"] == hidden_text)
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    assert_eq!(statements(&ev).len(), 2, "{}", dump(&ev));
    let st = with_text(&ev, "DROP TABLE scratch");
    assert_eq!(st.len(), 1, "{}", dump(&ev));
    assert_eq!(st[0]["host"]["environment"], environment);
    assert_eq!(st[0]["host"]["labels"]["team"], "payments");
    assert!(st[0]["host"]["id"].as_str().is_some_and(|s| !s.is_empty()));
    let hidden = with_text(&ev, hidden_text);
    assert_eq!(hidden.len(), 1, "{}", dump(&ev));
    Ok((st[0].clone(), hidden[0].clone()))
}

#[test]
fn host_environment_rule_blocks_in_prod_only() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let (prod, hidden) = drop_table_verdicts("prod")?;
    assert_eq!(prod["policy"]["verdict"], "block", "{prod}");
    assert!(prod["policy"]["rules"]
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x == "block-destructive-ddl-prod-host")));
    assert_eq!(
        hidden["policy"]["verdict"], "block",
        "every statement of a request is judged: {hidden}"
    );
    let (staging, hidden) = drop_table_verdicts("staging")?;
    assert_eq!(staging["policy"]["verdict"], "allow", "{staging}");
    assert_eq!(
        staging["policy"]["rules"],
        serde_json::json!([]),
        "{staging}"
    );
    assert_eq!(hidden["policy"]["verdict"], "allow", "{hidden}");
    assert_eq!(hidden["policy"]["rules"], serde_json::json!([]), "{hidden}");
    Ok(())
}

#[test]
fn star_columns_are_classified_and_prod_drop_is_blocked_on_postgresql() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    pg.psql_admin("CREATE DATABASE prod_billing")?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;
    let psql = |db: &str, sql: &str| {
        run(Command::new("psql")
            .args(["-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(pg.port.to_string())
            .args(["-d", db, "-c", sql]))
    };
    psql(
        "dbgovtest",
        "CREATE TABLE customers(id int, email text, ssn text)",
    )?;
    psql("dbgovtest", "SELECT * FROM customers")?;
    psql("prod_billing", "CREATE TABLE invoices(id int)")?;
    psql("prod_billing", "DROP TABLE invoices")?;
    agent.wait_for("the four statements", |ev| statements(ev).len() >= 4)?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    let texts: Vec<&str> = statements(&ev)
        .iter()
        .filter_map(|e| e["statement"]["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        vec![
            "CREATE TABLE customers(id int, email text, ssn text)",
            "SELECT * FROM customers",
            "CREATE TABLE invoices(id int)",
            "DROP TABLE invoices",
        ],
        "one event per statement, in order"
    );
    let sel = with_text(&ev, "SELECT * FROM customers");
    assert_eq!(sel.len(), 1, "{}", dump(&ev));
    assert_eq!(
        sel[0]["statement"]["columns"]["read"],
        serde_json::json!(["customers.email", "customers.id", "customers.ssn"])
    );
    assert_eq!(
        sel[0]["classification"]["classes"],
        serde_json::json!(["pii.email", "pii.ssn"])
    );
    let drop = with_text(&ev, "DROP TABLE invoices");
    assert_eq!(drop.len(), 1, "{}", dump(&ev));
    assert_eq!(drop[0]["db"]["name"], "prod_billing");
    assert_eq!(drop[0]["policy"]["verdict"], "block");
    assert!(
        drop[0]["policy"]["rules"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == "block-destructive-ddl-prod")),
        "{}",
        drop[0]
    );
    Ok(())
}

#[test]
fn star_columns_are_classified_and_prod_drop_is_blocked_on_mariadb() -> anyhow::Result<()> {
    if !require_agent() || !require(Mariadb::available(), "MariaDB server (mariadbd)") {
        return Ok(());
    }
    let db = Mariadb::start()?;
    db.sql("CREATE DATABASE prod_billing")?;
    let agent = Agent::start(&["--mysql-port", &db.port.to_string(), "--postgres-port", "1"])?;
    let mut cli = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--skip-ssl",
            "-h",
            "127.0.0.1",
            "-uroot",
            "-D",
            "dbgovtest",
            "-P",
        ])
        .arg(db.port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    cli.stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdin"))?
        .write_all(
            b"CREATE TABLE customers(id int, email text, ssn text);\n\
          SELECT * FROM customers;\n\
          USE prod_billing;\n\
          CREATE TABLE invoices(id int);\n\
          DROP TABLE invoices;\n",
        )?;
    assert!(cli.wait()?.success());
    agent.wait_for("the DROP TABLE", |ev| {
        statements(ev)
            .iter()
            .any(|e| e["statement"]["text"] == "DROP TABLE invoices")
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    let sel = with_text(&ev, "SELECT * FROM customers");
    assert_eq!(sel.len(), 1, "{}", dump(&ev));
    assert_eq!(
        sel[0]["statement"]["columns"]["read"],
        serde_json::json!(["customers.email", "customers.id", "customers.ssn"])
    );
    assert_eq!(
        sel[0]["classification"]["classes"],
        serde_json::json!(["pii.email", "pii.ssn"])
    );
    let drop = with_text(&ev, "DROP TABLE invoices");
    assert_eq!(drop.len(), 1, "{}", dump(&ev));
    assert_eq!(drop[0]["db"]["name"], "prod_billing");
    assert_eq!(drop[0]["db"]["engine"], "mysql");
    assert_eq!(
        with_text(&ev, "CREATE TABLE invoices(id int)").len(),
        1,
        "{}",
        dump(&ev)
    );
    assert_eq!(drop[0]["policy"]["verdict"], "block");
    assert!(drop[0]["policy"]["rules"]
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x == "block-destructive-ddl-prod")));
    Ok(())
}

#[test]
fn policy_commands() -> anyhow::Result<()> {
    if !require(agent_bin().exists(), "the dbgov binary") {
        return Ok(());
    }
    let out = Command::new(agent_bin())
        .args([
            "policy",
            "test",
            "--engine",
            "postgresql",
            "--statement",
            "DROP TABLE invoices",
            "--db",
            "prod_billing",
        ])
        .output()?;
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(v["policy"]["verdict"], "block");
    let dir = TempDir::new("policy")?;
    std::fs::create_dir_all(dir.path().join("rules"))?;
    std::fs::create_dir_all(dir.path().join("classes"))?;
    std::fs::write(
        dir.path().join("rules/bad.yaml"),
        "rules:\n  - id: x\n    match: {}\n    action: explode\n",
    )?;
    let out = Command::new(agent_bin())
        .args(["policy", "check"])
        .arg(dir.path())
        .output()?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml") && err.contains("line 4"), "{err}");
    Ok(())
}

#[test]
fn policies_reload_on_change_and_sighup_keeping_the_old_ones_on_error() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let pol = TempDir::new("policies")?;
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    run(Command::new("cp")
        .arg("-r")
        .arg(src.join("classes"))
        .arg(src.join("rules"))
        .arg(pol.path()))?;
    let dir = pol.path().display().to_string();
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--policy-dir",
        &dir,
    ])?;
    let verdict_of = |marker: &str| -> anyhow::Result<Value> {
        pg.psql_admin(&format!("SELECT 1 AS {marker}"))?;
        let text = format!("SELECT ? AS {marker}");
        let ev = agent.wait_for(marker, |ev| {
            statements(ev)
                .iter()
                .any(|e| e["statement"]["text"] == text.as_str())
        })?;
        Ok(with_text(&ev, &text)[0]["policy"].clone())
    };
    assert_eq!(verdict_of("first")?["verdict"], "allow");
    // A new rule file is picked up without a restart.
    std::fs::write(
        pol.path().join("rules/30-block-selects.yaml"),
        "rules:\n  - id: block-all-selects\n    match:\n      kind: SELECT\n    action: block\n    severity: low\n    message: no reading today\n",
    )?;
    let wait_stderr = |needle: &str| -> anyhow::Result<()> {
        let t0 = std::time::Instant::now();
        while !agent.stderr_text().contains(needle) {
            anyhow::ensure!(
                t0.elapsed().as_secs() < 10,
                "no {needle:?} in agent stderr: {}",
                agent.stderr_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(())
    };
    wait_stderr("a policy file changed: policies reloaded")?;
    let v = verdict_of("second")?;
    assert_eq!(v["verdict"], "block", "{v}");
    assert_eq!(v["rules"], serde_json::json!(["block-all-selects"]));
    // An invalid file is reported with file, line and reason; the previous policies stay.
    std::fs::write(
        pol.path().join("rules/40-broken.yaml"),
        "rules:\n  - id: broken\n    action: explode\n",
    )?;
    // SAFETY: signalling the agent, our child.
    unsafe { libc::kill(agent.child.id() as i32, libc::SIGHUP) };
    wait_stderr("policies NOT reloaded")?;
    let err = agent.stderr_text();
    assert!(
        err.contains("40-broken.yaml") && err.contains("line 3") && err.contains("explode"),
        "{err}"
    );
    assert_eq!(
        verdict_of("third")?["verdict"],
        "block",
        "previous policies still in force"
    );
    let (code, _) = agent.stop()?;
    assert_eq!(code, 0);
    Ok(())
}
