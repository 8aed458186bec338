//! MariaDB end to end, as root: real eBPF, a real MariaDB server, the `mariadb` CLI and the
//! mysql_async driver with server-side prepared statements.
use std::io::Write;
use std::process::{Command, Stdio};

use dbgov_tests::*;
use serde_json::Value;

#[test]
fn mariadb_cli_queries_errors_and_use() -> anyhow::Result<()> {
    if !require_agent() || !require(Mariadb::available(), "MariaDB server (mariadbd)") {
        return Ok(());
    }
    let db = Mariadb::start()?;
    db.sql("CREATE TABLE dbgovtest.items (id INT PRIMARY KEY, name VARCHAR(20)); CREATE TABLE otherdb.notes (id INT)")?;
    let agent = Agent::start(&["--mysql-port", &db.port.to_string(), "--postgres-port", "1"])?;
    let mut cli = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--force",
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
        .stderr(Stdio::piped())
        .spawn()?;
    cli.stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdin"))?
        .write_all(
            b"INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three');\n\
          SELECT id, name FROM items WHERE id >= 2;\n\
          SELECT * FROM nosuch;\n\
          USE otherdb;\n\
          INSERT INTO notes VALUES (7);\n",
        )?;
    let out = cli.wait_with_output()?;
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuch"));
    agent.wait_for("the CLI statements", |ev| {
        statements(ev)
            .iter()
            .any(|e| e["statement"]["text"] == "INSERT INTO notes VALUES (?)")
            && !of_kind(ev, "session_end").is_empty()
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let ins = with_text(&ev, "INSERT INTO items VALUES (?, ?), (?, ?), (?, ?)");
    assert_eq!(ins.len(), 1, "{}", dump(&ev));
    assert_eq!(ins[0]["outcome"]["rows"], 3);
    assert_eq!(ins[0]["db"]["engine"], "mysql");
    assert_eq!(ins[0]["db"]["user"], "root");
    assert_eq!(ins[0]["db"]["name"], "dbgovtest");
    assert_eq!(ins[0]["client"]["exe"], "/usr/bin/mariadb");
    assert!(ins[0]["server"]["pid"].as_u64().is_some(), "{}", ins[0]);
    let sel = with_text(&ev, "SELECT id, name FROM items WHERE id >= ?");
    assert_eq!(sel.len(), 1, "{}", dump(&ev));
    assert_eq!(sel[0]["outcome"]["rows"], 2);
    assert_eq!(sel[0]["statement"]["kind"], "SELECT");
    let err = with_text(&ev, "SELECT * FROM nosuch");
    assert_eq!(err.len(), 1, "{}", dump(&ev));
    assert_eq!(err[0]["outcome"]["status"], "error");
    assert_eq!(err[0]["outcome"]["error_code"], "1146/42S02");
    let after_use = with_text(&ev, "INSERT INTO notes VALUES (?)");
    assert_eq!(after_use.len(), 1, "{}", dump(&ev));
    assert_eq!(
        after_use[0]["db"]["name"], "otherdb",
        "USE switches the session's database"
    );
    assert!(of_kind(&ev, "gap").is_empty(), "{}", dump(&ev));
    Ok(())
}

#[test]
fn mysql_async_server_side_prepared_statements() -> anyhow::Result<()> {
    if !require_agent() || !require(Mariadb::available(), "MariaDB server (mariadbd)") {
        return Ok(());
    }
    let db = Mariadb::start()?;
    db.sql("CREATE TABLE dbgovtest.people (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO dbgovtest.people VALUES (1,'a'),(2,'b'),(3,'c'),(4,'d')")?;
    let agent = Agent::start(&["--mysql-port", &db.port.to_string(), "--postgres-port", "1"])?;
    let port = db.port;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            use mysql_async::prelude::*;
            let opts = mysql_async::OptsBuilder::default()
                .ip_or_hostname("127.0.0.1")
                .tcp_port(port)
                .user(Some("root"))
                .db_name(Some("dbgovtest"))
                .prefer_socket(false);
            let mut conn = mysql_async::Conn::new(opts).await?;
            let stmt = conn
                .prep("SELECT id, name FROM people WHERE id <= ?")
                .await?;
            for limit in [1i32, 3, 2] {
                let rows: Vec<(i32, String)> = conn.exec(&stmt, (limit,)).await?;
                assert_eq!(rows.len(), limit as usize);
            }
            let upd = conn.prep("UPDATE people SET name = ? WHERE id = ?").await?;
            conn.exec_drop(&upd, ("z", 4)).await?;
            conn.disconnect().await?;
            anyhow::Ok(())
        })?;
    agent.wait_for("the prepared executions", |ev| {
        statements(ev)
            .iter()
            .filter(|e| e["statement"]["prepared"] == true)
            .count()
            >= 4
            && !of_kind(ev, "session_end").is_empty()
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let sel = with_text(&ev, "SELECT id, name FROM people WHERE id <= ?");
    let rows: Vec<u64> = sel
        .iter()
        .filter_map(|e| e["outcome"]["rows"].as_u64())
        .collect();
    assert_eq!(
        rows,
        vec![1, 3, 2],
        "one event per execution with its row count:\n{}",
        dump(&ev)
    );
    for e in &sel {
        assert_eq!(e["statement"]["prepared"], true);
        assert_eq!(e["statement"]["params"], 1);
        assert_eq!(e["db"]["engine"], "mysql");
    }
    let upd = with_text(&ev, "UPDATE people SET name = ? WHERE id = ?");
    assert_eq!(upd.len(), 1, "{}", dump(&ev));
    assert_eq!(upd[0]["outcome"]["rows"], 1);
    assert_eq!(upd[0]["statement"]["kind"], "UPDATE");
    Ok(())
}

#[test]
fn mariadb_tls_session_is_decrypted() -> anyhow::Result<()> {
    mariadb_tls("uprobe")
}

#[test]
fn mariadb_tls_session_is_decrypted_with_the_handshake_secrets_in_keylog_mode() -> anyhow::Result<()>
{
    mariadb_tls("keylog")
}

fn mariadb_tls(mode: &str) -> anyhow::Result<()> {
    if !require_agent() || !require(Mariadb::available(), "MariaDB server (mariadbd)") {
        return Ok(());
    }
    let db = Mariadb::start_with(true)?;
    let agent = Agent::start(&[
        "--mysql-port",
        &db.port.to_string(),
        "--postgres-port",
        "1",
        "--tls-capture",
        mode,
    ])?;
    run(Command::new("mariadb")
        .args([
            "--no-defaults",
            "--ssl",
            "--ssl-verify-server-cert=0",
            "-h",
            "127.0.0.1",
            "-uroot",
            "-D",
            "dbgovtest",
            "-P",
        ])
        .arg(db.port.to_string())
        .args(["-e", "SELECT 6 * 7 AS answer"]))?;
    agent.wait_for("the TLS statement", |ev| {
        statements(ev)
            .iter()
            .any(|e| e["statement"]["text"] == "SELECT ? * ? AS answer")
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    let st = with_text(&ev, "SELECT ? * ? AS answer");
    assert_eq!(st.len(), 1, "{}", dump(&ev));
    assert_eq!(st[0]["session"]["tls"], true);
    assert_eq!(st[0]["session"]["inspectable"], true);
    assert_eq!(st[0]["db"]["user"], "root");
    assert_eq!(st[0]["outcome"]["rows"], 1);
    assert!(of_kind(&ev, "gap").is_empty(), "{}", dump(&ev));
    Ok(())
}

#[test]
fn sysbench_oltp_read_write_statement_count_matches() -> anyhow::Result<()> {
    if !require_agent()
        || !require(Mariadb::available(), "MariaDB server (mariadbd)")
        || !require(
            std::path::Path::new("/usr/bin/sysbench").exists(),
            "sysbench",
        )
    {
        return Ok(());
    }
    let db = Mariadb::start()?;
    let common = |cmd: &str| {
        let mut c = Command::new("sysbench");
        c.args([
            "oltp_read_write",
            "--db-driver=mysql",
            "--mysql-host=127.0.0.1",
            "--mysql-user=root",
            "--mysql-db=dbgovtest",
            "--mysql-ssl=off",
            "--tables=2",
            "--table-size=1000",
            "--threads=2",
            "--db-ps-mode=auto",
        ])
        .arg(format!("--mysql-port={}", db.port))
        .arg(cmd);
        c
    };
    run(&mut common("prepare"))?;
    let agent = Agent::start(&["--mysql-port", &db.port.to_string(), "--postgres-port", "1"])?;
    let out = run(common("run").args(["--events=300", "--time=0"]))?;
    // "    total:                               5400"
    let total: u64 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("total:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no query total in sysbench output: {out}"))?;
    assert!(total >= 300 * 18, "{out}");
    // Deadlocks between the two threads are retried by sysbench ("ignored errors"): the failed
    // query ran and is audited (status error), but sysbench's total leaves it out.
    let ignored: u64 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("ignored errors:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let total = total + ignored;
    agent.wait_for("every sysbench query", |ev| {
        statements(ev)
            .iter()
            .filter(|e| e["client"]["comm"] == "sysbench")
            .count() as u64
            >= total
            && of_kind(ev, "session_end").len() >= 2
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let seen: Vec<&Value> = statements(&ev)
        .into_iter()
        .filter(|e| e["client"]["comm"] == "sysbench")
        .collect();
    assert_eq!(
        seen.len() as u64,
        total,
        "statement events vs queries sysbench reports"
    );
    assert!(
        seen.iter().all(|e| e["statement"]["prepared"] == true),
        "sysbench uses server-side prepared statements"
    );
    let errors = seen
        .iter()
        .filter(|e| e["outcome"]["status"] != "ok")
        .count() as u64;
    assert_eq!(errors, ignored, "only the retried deadlocks fail");
    assert!(
        of_kind(&ev, "gap").is_empty(),
        "{}",
        dump(&of_kind(&ev, "gap").into_iter().cloned().collect::<Vec<_>>())
    );
    Ok(())
}
