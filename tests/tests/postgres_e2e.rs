//! End to end, as root: real eBPF programs in this kernel, a real PostgreSQL 15, real psql run
//! by a service account inside another user's login session.
use std::process::Command;
use std::time::Duration;

use dbgov_tests::*;

#[test]
fn psql_statements_are_attributed() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    pg.psql_admin("CREATE ROLE app LOGIN")?;
    pg.psql_admin("ALTER DATABASE dbgovtest OWNER TO app")?;
    let login_uid = ensure_user("dbgov_alice")?;
    ensure_user("dbgov_svc")?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;

    let dir = TempDir::new("psql")?;
    let script = dir.path().join("script.sql");
    std::fs::write(
        &script,
        "CREATE TABLE customers (id int, email text, card_number text);\n\
         INSERT INTO customers VALUES (1, 'a@example.com', '4111111111111111'), (2, 'b@example.com', '5500000000000004');\n\
         SELECT id, email FROM customers WHERE id > 0;\n\
         SELECT * FROM no_such_table;\n\
         UPDATE customers SET email = 'c@example.com' WHERE id = 2;\n",
    )?;
    run(Command::new("chmod").arg("-R").arg("a+rx").arg(dir.path()))?;
    let cmd = format!(
        "psql -X -h 127.0.0.1 -p {} -U app -d dbgovtest -f {}",
        pg.port,
        script.display()
    );
    let out = as_user_with_login(login_uid, "dbgov_svc", &cmd).output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no_such_table"),
        "psql should report the failing statement: {stderr}"
    );

    agent.wait_for("5 statements and a session end", |ev| {
        statements(ev).len() >= 5 && !of_kind(ev, "session_end").is_empty()
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");

    // Exactly one event per statement, although both sockets of the loopback connection were seen.
    let st = statements(&ev);
    assert_eq!(st.len(), 5, "one event per statement:\n{}", dump(&ev));
    let create = with_text(
        &ev,
        "CREATE TABLE customers (id int, email text, card_number text);",
    );
    assert_eq!(create.len(), 1, "{}", dump(&ev));
    let insert = with_text(&ev, "INSERT INTO customers VALUES (?, ?, ?), (?, ?, ?);");
    assert_eq!(
        insert.len(),
        1,
        "literals are redacted by default:\n{}",
        dump(&ev)
    );
    assert_eq!(insert[0]["outcome"]["rows"], 2, "{}", insert[0]);
    assert_eq!(insert[0]["statement"]["kind"], "INSERT");
    let select = with_text(&ev, "SELECT id, email FROM customers WHERE id > ?;");
    assert_eq!(select.len(), 1, "{}", dump(&ev));
    let s = select[0];
    assert_eq!(s["schema"], "dbgov.audit/v1");
    assert_eq!(s["statement"]["kind"], "SELECT");
    assert_eq!(s["outcome"]["status"], "ok");
    assert_eq!(s["outcome"]["rows"], 2);
    assert_eq!(s["db"]["engine"], "postgresql");
    assert_eq!(s["db"]["user"], "app");
    assert_eq!(s["db"]["name"], "dbgovtest");
    assert_eq!(s["db"]["application"], "psql");
    assert_eq!(s["client"]["user"], "dbgov_svc");
    assert_eq!(s["client"]["login_user"], "dbgov_alice");
    assert_eq!(s["client"]["login_uid"], login_uid);
    assert_eq!(s["client"]["exe"], "/usr/lib/postgresql/15/bin/psql");
    assert_eq!(s["client"]["comm"], "psql");
    assert!(s["client"]["addr"]
        .as_str()
        .is_some_and(|a| a.starts_with("127.0.0.1:")));
    assert!(
        s["server"]["pid"].as_u64().is_some(),
        "the local server backend is named: {s}"
    );
    assert_eq!(s["server"]["addr"], format!("127.0.0.1:{}", pg.port));
    assert!(s["outcome"]["duration_us"].as_u64().is_some());
    assert!(!s["client"]["ancestors"]
        .as_array()
        .map(Vec::is_empty)
        .unwrap_or(true));
    assert!(
        s["time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 30),
        "{}",
        s["time"]
    );
    // The server backend is a different process from the client.
    assert_ne!(s["server"]["pid"], s["client"]["pid"]);

    let failed = with_text(&ev, "SELECT * FROM no_such_table;");
    assert_eq!(failed.len(), 1, "{}", dump(&ev));
    assert_eq!(failed[0]["outcome"]["status"], "error");
    assert_eq!(failed[0]["outcome"]["error_code"], "42P01");

    let upd = with_text(&ev, "UPDATE customers SET email = ? WHERE id = ?;");
    assert_eq!(upd.len(), 1, "{}", dump(&ev));
    assert_eq!(upd[0]["outcome"]["rows"], 1);

    // One session start and end, and no gaps.
    assert_eq!(of_kind(&ev, "session_start").len(), 1, "{}", dump(&ev));
    assert_eq!(of_kind(&ev, "session_end").len(), 1, "{}", dump(&ev));
    assert!(of_kind(&ev, "gap").is_empty(), "{}", dump(&ev));
    // Event ids are unique.
    let mut ids: Vec<&str> = ev.iter().filter_map(|e| e["event_id"].as_str()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
    Ok(())
}

#[test]
fn non_database_io_produces_no_events_and_killed_clients_do_not_hurt() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let mut agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;

    // A flood of file, pipe and TCP I/O that is not database traffic.
    let other = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = other.local_addr()?;
    let srv = std::thread::spawn(move || {
        if let Ok((mut s, _)) = other.accept() {
            let _ = std::io::copy(&mut s, &mut std::io::sink());
        }
    });
    {
        use std::io::Write;
        let mut c = std::net::TcpStream::connect(addr)?;
        let buf = vec![b'Q'; 64 * 1024];
        for _ in 0..2000 {
            c.write_all(&buf)?;
        }
    }
    let _ = srv.join();
    run(Command::new("sh")
        .arg("-c")
        .arg("dd if=/dev/zero bs=64k count=4000 2>/dev/null | cat > /dev/null"))?;

    // A client killed in the middle of a query.
    let mut victim = Command::new("psql")
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "dbgovtest",
            "-p",
        ])
        .arg(pg.port.to_string())
        .args(["-c", "SELECT pg_sleep(30)"])
        .spawn()?;
    std::thread::sleep(Duration::from_millis(1500));
    victim.kill()?;
    victim.wait()?;
    std::thread::sleep(Duration::from_millis(500));
    assert!(agent.is_running(), "agent died: {}", agent.stderr_text());

    // The agent still sees new sessions.
    pg.psql_admin("SELECT 42")?;
    let ev = agent.wait_for("the SELECT after the kill and the killed query", |ev| {
        statements(ev)
            .iter()
            .any(|e| e["statement"]["text"] == "SELECT ?")
            && !with_text(ev, "SELECT pg_sleep(?)").is_empty()
    })?;
    // Only database statements: nothing from the flood.
    for e in statements(&ev) {
        assert_eq!(e["db"]["engine"], "postgresql");
    }
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    // The query in flight when its client was killed is reported once, as incomplete: its
    // connection ended before the response.
    let sleeps = with_text(&ev, "SELECT pg_sleep(?)");
    assert_eq!(sleeps.len(), 1, "{}", dump(&ev));
    assert_eq!(
        sleeps[0]["outcome"]["status"], "incomplete",
        "{}",
        sleeps[0]
    );
    assert_eq!(sleeps[0]["client"]["comm"], "psql", "{}", sleeps[0]);
    assert_eq!(with_text(&ev, "SELECT ?").len(), 1, "{}", dump(&ev));
    assert_eq!(statements(&ev).len(), 2, "{}", dump(&ev));
    Ok(())
}

#[test]
fn without_privileges_it_exits_2_with_one_sentence() -> anyhow::Result<()> {
    if !require(agent_bin().exists(), "the dbgov binary")
        || !require(is_root(), "root (to drop to nobody)")
    {
        return Ok(());
    }
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(agent_bin())
        .args(["run", "--output", "none"])
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing 4 capabilities: CAP_BPF")
            && ["CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"]
                .iter()
                .all(|c| err.contains(c)),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    Ok(())
}

#[test]
fn connections_open_before_the_agent_are_seeded_from_proc() -> anyhow::Result<()> {
    use std::io::Write;
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let spawn = |host: &str| {
        Command::new("runuser")
            .args([
                "-u", "postgres", "--", "psql", "-X", "-q", "-h", host, "-d", "postgres", "-p",
            ])
            .arg(pg.port.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
    };
    let mut tcp = spawn("127.0.0.1")?;
    let mut unix = spawn(&pg.socket_dir.display().to_string())?;
    let mut tcp_in = tcp.stdin.take().ok_or_else(|| anyhow::anyhow!("stdin"))?;
    let mut unix_in = unix.stdin.take().ok_or_else(|| anyhow::anyhow!("stdin"))?;
    tcp_in.write_all(b"SELECT 'before';\n")?;
    unix_in.write_all(b"SELECT 'before';\n")?;
    std::thread::sleep(Duration::from_millis(500));
    let glob = format!("{}/.s.PGSQL.*", pg.socket_dir.display());
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--postgres-socket",
        &glob,
    ])?;
    tcp_in.write_all(b"SELECT 'after tcp' AS x FROM generate_series(1, 3);\n")?;
    unix_in.write_all(b"SELECT 'after unix' AS x FROM generate_series(1, 4);\n")?;
    let ev = agent.wait_for("statements on the seeded connections", |ev| {
        statements(ev)
            .iter()
            .filter(|e| e["statement"]["text"] == "SELECT ? AS x FROM generate_series(?, ?);")
            .count()
            >= 2
    })?;
    drop(tcp_in);
    drop(unix_in);
    tcp.wait()?;
    unix.wait()?;
    let after = with_text(&ev, "SELECT ? AS x FROM generate_series(?, ?);");
    assert_eq!(after.len(), 2, "{}", dump(&ev));
    let mut rows: Vec<(String, u64)> = after
        .iter()
        .map(|e| {
            (
                e["session"]["transport"].as_str().unwrap_or("").to_string(),
                e["outcome"]["rows"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(rows, vec![("tcp".to_string(), 3), ("unix".to_string(), 4)]);
    for e in &after {
        assert_eq!(e["client"]["comm"], "psql", "{e}");
        assert_eq!(e["client"]["user"], "postgres");
    }
    assert!(
        with_text(&ev, "SELECT ?;").is_empty(),
        "statements before the agent started are not invented"
    );
    let (code, _) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    Ok(())
}

/// Short-lived clients (one `psql -c` each, as cron jobs run) keep every statement, also when
/// they exit before the agent has read their bytes: the agent reads what the kernel already
/// captured before it ends the sessions of processes that are gone. (The race this guards
/// against is narrow; this test exercises many short sessions, it does not force the race.)
#[test]
fn short_lived_clients_keep_their_statements() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;
    const N: usize = 80;
    for i in 0..N {
        pg.psql_admin(&format!("SELECT {i} AS short_lived_marker"))?;
    }
    let marked = |ev: &[serde_json::Value]| {
        statements(ev)
            .iter()
            .filter(|e| {
                e["statement"]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("short_lived_marker"))
            })
            .count()
    };
    let waited = agent.wait_for("every statement", |ev| marked(ev) >= N);
    let (code, all) = agent.stop()?;
    assert_eq!(code, 0);
    assert_eq!(
        marked(&all),
        N,
        "{}",
        waited.err().map(|e| e.to_string()).unwrap_or_default()
    );
    Ok(())
}
