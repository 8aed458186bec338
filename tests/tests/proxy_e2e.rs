//! `dbgov proxy` in front of real PostgreSQL 15 and MariaDB servers, driven by their own
//! clients (psql, mariadb): blocked statements never reach the server and the session goes
//! on, masked columns come back masked, held statements wait for `dbgov approve` or
//! `dbgov deny`, the control API refuses a wrong token, and a flood of oversize frames does
//! not disturb a well-behaved session. Every proxied statement is an audit event with
//! `source: proxy`, and the proxy's trail verifies.
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use dbgov_tests::*;
use serde_json::Value;

#[derive(Clone, Copy)]
enum Server {
    Postgres,
    Mariadb,
}

/// The proxy binary, root (the servers run as their own users) and the server.
fn can_run(server: Server) -> bool {
    let (name, have) = match server {
        Server::Postgres => ("PostgreSQL 15", Postgres::available()),
        Server::Mariadb => ("MariaDB", Mariadb::available()),
    };
    require(agent_bin().exists(), "the dbgov binary")
        && require(is_root(), "root (to run the servers as their own users)")
        && require(have, name)
}

/// psql as OS user `user` (a test subject) to `port`, database prod_shop, with `args`
/// (`-c SQL`...); stdout and stderr together.
fn psql_as(user: &str, port: u16, dir: &Path, args: &[&str]) -> String {
    let out = Command::new("runuser")
        .args([
            "-u",
            user,
            "--",
            "psql",
            "-X",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ])
        .args(["-d", "prod_shop", "-At", "-v", "VERBOSITY=verbose"])
        .args(args)
        .arg("-p")
        .arg(port.to_string())
        .env("PGSSLMODE", "disable")
        .current_dir(dir)
        .output()
        .expect("psql");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The shipped policy pack plus a rule masking e-mail addresses (all but the last 4
/// characters).
fn policies(dir: &TempDir) -> Result<std::path::PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let dst = dir.path().join("policies");
    run(Command::new("cp").arg("-r").arg(&src).arg(&dst))?;
    std::fs::write(
        dst.join("rules/50-mask.yaml"),
        "rules:\n  - id: mask-email\n    match:\n      classes: pii.email\n    action: mask\n    mask: {style: partial, keep: 4}\n",
    )?;
    Ok(dst)
}

fn token_file(dir: &TempDir, name: &str, token: &str) -> Result<String> {
    let p = dir.path().join(name);
    std::fs::write(&p, format!("{token}\n"))?;
    Ok(p.display().to_string())
}

/// psql through the proxy, one session running `script`; stdout and stderr together.
fn psql_via(port: u16, db: &str, script: &str) -> Result<(bool, String)> {
    psql_via_ssl(port, db, script, "disable")
}

fn psql_via_ssl(port: u16, db: &str, script: &str, sslmode: &str) -> Result<(bool, String)> {
    let mut child = Command::new("psql")
        .args(["-X", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-p"])
        .arg(port.to_string())
        .env("PGSSLMODE", sslmode)
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .map(|mut i| i.write_all(script.as_bytes()));
    let out = child.wait_with_output()?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

fn pg_with_shop() -> Result<Postgres> {
    pg_with_shop_tls(false)
}

/// With `ssl`, the server has a self-signed certificate for `localhost` (data/server.crt).
fn pg_with_shop_tls(ssl: bool) -> Result<Postgres> {
    let pg = Postgres::start_with(ssl)?;
    pg.psql_admin("CREATE DATABASE prod_shop")?;
    run(pg.psql().args([
        "-d",
        "prod_shop",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "CREATE TABLE customers (id int PRIMARY KEY, email text, name text); \
         INSERT INTO customers VALUES (1, 'alice@example.com', 'Alice'), (2, 'bob@example.org', 'Bob'); \
         CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2), (3);",
    ]))?;
    Ok(pg)
}

fn start_proxy(upstream: u16, engine: &str, dir: &TempDir, extra: &[&str]) -> Result<(Agent, u16)> {
    let policies = policies(dir)?;
    let port = free_port();
    let upstream = format!("127.0.0.1:{upstream}");
    let mut args = vec![
        "--upstream",
        &upstream,
        "--engine",
        engine,
        "--policies",
        policies.to_str().unwrap_or_default(),
    ];
    args.extend_from_slice(extra);
    Ok((Agent::proxy(port, &args)?, port))
}

/// The first event whose statement text contains `part`.
fn containing<'a>(st: &[&'a Value], part: &str) -> &'a Value {
    st.iter()
        .find(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.contains(part))
        })
        .copied()
        .unwrap_or_else(|| panic!("no event with {part:?}"))
}

fn proxied(ev: &[Value]) -> Vec<&Value> {
    statements(ev)
        .into_iter()
        .filter(|e| e["source"] == "proxy")
        .collect()
}

#[test]
fn postgres_blocked_statements_never_reach_the_server_and_masked_columns_come_back_masked() {
    if !can_run(Server::Postgres) {
        return;
    }
    let pg = pg_with_shop().expect("postgres");
    let dir = TempDir::new("proxy-pg").expect("tmp");
    let metrics_port = free_port().to_string();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let (proxy, port) =
        start_proxy(pg.port, "postgresql", &dir, &["--metrics", &metrics_addr]).expect("proxy");

    let script = "\\set VERBOSITY verbose\nDROP TABLE orders;\nSELECT 'still' || ' alive' AS state;\n\
                  SELECT id, email, name FROM customers ORDER BY id;\nSELECT count(*) AS n FROM orders;\n\
                  SELECT email AS contact FROM customers WHERE id = 1;\n";
    let (_, out) = psql_via(port, "prod_shop", script).expect("psql");
    // The refusal is a PostgreSQL error with SQLSTATE 42501 and the rule id.
    assert!(out.contains("ERROR:  42501: blocked by dbgov"), "{out}");
    assert!(out.contains("rule: block-destructive-ddl-prod"), "{out}");
    // The session went on.
    assert!(out.contains("still alive"), "{out}");
    // Masked: the last 4 characters only; names untouched.
    assert!(out.contains("*************.com"), "{out}");
    assert!(out.contains("***********.org"), "{out}");
    assert!(!out.contains("alice@"), "{out}");
    assert!(out.contains("Alice"), "{out}");
    // An alias of a masked column is masked too.
    assert!(out.contains("contact"), "{out}");
    // The table is still there, with its rows, as the server itself says.
    let direct = run(pg.psql().args([
        "-d",
        "prod_shop",
        "-At",
        "-c",
        "SELECT count(*) FROM orders",
    ]))
    .expect("direct");
    assert_eq!(direct.trim(), "3");
    // Outside prod a DROP is not blocked by that rule.
    let (_, out) = psql_via(
        port,
        "dbgovtest",
        "CREATE TABLE t (a int);\nDROP TABLE t;\n",
    )
    .expect("psql");
    assert!(!out.contains("ERROR"), "{out}");
    assert!(out.contains("DROP TABLE"), "{out}");

    // The operator's view: healthy, three client connections (the harness's check that the
    // proxy listens, and two psql), every statement counted.
    let mport: u16 = metrics_port.parse().expect("port");
    assert_eq!(
        http_get(mport, "/healthz").expect("healthz"),
        (200, "ok\n".to_owned())
    );
    let (_, page) = http_get(mport, "/metrics").expect("metrics");
    assert_eq!(
        metric(&page, "dbgov_proxy_connections_accepted_total"),
        Some(3.0),
        "{page}"
    );
    let counted = metric(&page, "dbgov_statements_total").expect("statements metric");
    // The DROP on prod was blocked; the masked reads are counted as mask verdicts.
    assert!(
        metric(&page, "dbgov_verdicts_total{verdict=\"block\"}").is_some_and(|n| n >= 1.0),
        "{page}"
    );
    assert!(
        metric(&page, "dbgov_verdicts_total{verdict=\"mask\"}").is_some_and(|n| n >= 2.0),
        "{page}"
    );
    // The time the proxy adds, both ways: every request and every answer was timed.
    for dir in ["request", "response"] {
        let n = metric(
            &page,
            &format!("dbgov_proxy_added_latency_seconds_count{{direction=\"{dir}\"}}"),
        );
        assert!(n.is_some_and(|n| n >= 3.0), "{dir}: {page}");
        assert!(
            page.lines().any(|l| l
                .starts_with("dbgov_proxy_added_latency_seconds_bucket{le=\"+Inf\",direction=")),
            "{page}"
        );
    }

    let (code, ev) = proxy.stop().expect("stop");
    assert_eq!(code, 0);
    let st = proxied(&ev);
    assert_eq!(counted, statements(&ev).len() as f64, "{page}");
    let drop: Vec<_> = st
        .iter()
        .filter(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("DROP TABLE orders"))
        })
        .collect();
    assert_eq!(drop.len(), 1, "{}", dump(&ev));
    let blocked = drop
        .iter()
        .find(|e| e["db"]["name"] == "prod_shop")
        .expect("blocked drop");
    assert_eq!(blocked["policy"]["verdict"], "block");
    assert_eq!(blocked["outcome"]["status"], "error");
    assert_eq!(blocked["outcome"]["error_code"], "42501");
    let sel = containing(&st, "FROM customers");
    assert_eq!(sel["policy"]["verdict"], "mask");
    assert_eq!(sel["outcome"]["rows"], 2);
    assert!(sel["classification"]["classes"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c == "pii.email")));
    assert_eq!(sel["session"]["observed_at"], "proxy");
    assert!(sel["client"]["addr"]
        .as_str()
        .is_some_and(|a| a.starts_with("127.0.0.1:")));
}

#[test]
fn postgres_extended_protocol_refusals_keep_the_session_usable() {
    if !can_run(Server::Postgres) {
        return;
    }
    let pg = pg_with_shop().expect("postgres");
    let dir = TempDir::new("proxy-pg-ext").expect("tmp");
    let (proxy, port) = start_proxy(pg.port, "postgresql", &dir, &[]).expect("proxy");
    // pgwire.py speaks the extended protocol: Parse/Bind/Execute/Sync per statement, and
    // a pipeline of an allowed statement, a refused one and an allowed one before one Sync.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pgwire.py");
    let prog = format!(
        r#"
import socket, struct, sys
sys.path.insert(0, {dir:?})
import pgwire
s = socket.create_connection(("127.0.0.1", {port}))
s.sendall(pgwire.startup_packet("postgres", "prod_shop"))
buf = b""
def ready():
    global buf
    tags = []
    while True:
        while len(buf) < 5 or len(buf) < 1 + struct.unpack("!I", buf[1:5])[0]:
            d = s.recv(65536)
            if not d:
                sys.exit("closed")
            buf += d
        t = buf[:1]
        (n,) = struct.unpack("!I", buf[1:5])
        body, buf = buf[5:1 + n], buf[1 + n:]
        if t == b"C":
            tags.append(body.rstrip(b"\0").decode())
        if t == b"E":
            f = dict((x[:1].decode(), x[1:].decode()) for x in body.split(b"\0") if x)
            tags.append("ERROR " + f.get("C", "?"))
        if t == b"D":
            (k,) = struct.unpack("!H", body[:2])
            at, vals = 2, []
            for _ in range(k):
                (l,) = struct.unpack("!i", body[at:at + 4])
                at += 4
                if l < 0:
                    vals.append("NULL")
                else:
                    vals.append(body[at:at + l].decode(errors="replace"))
                    at += l
            tags.append("ROW " + ",".join(vals))
        if t == b"Z":
            return tags
ready()
def run(sqls):
    out = b""
    for q in sqls:
        out += pgwire.msg(b"P", b"\0" + q.encode() + b"\0\0\0")
        out += pgwire.msg(b"B", b"\0\0\0\0\0\0\0\0")
        out += pgwire.msg(b"E", b"\0\0\0\0\0")
    out += pgwire.msg(b"S", b"")
    s.sendall(out)
    return ready()
for q in [["DROP TABLE orders"], ["SELECT 1"], ["SELECT 2", "TRUNCATE orders", "SELECT 3"], ["SELECT 4"]]:
    print(run(q))
def send(*msgs):
    s.sendall(b"".join(msgs) + pgwire.msg(b"S", b""))
    return ready()
# A named statement described once, then executed without a Describe (as drivers do):
# the rows are masked from the remembered description.
q = b"SELECT id, email FROM customers WHERE id = 1"
send(pgwire.msg(b"P", b"m1\0" + q + b"\0\0\0"), pgwire.msg(b"D", b"Sm1\0"))
bind = lambda fmts: pgwire.msg(b"B", b"\0m1\0\0\0\0\0" + fmts)
print(send(bind(b"\0\0"), pgwire.msg(b"E", b"\0\0\0\0\0")))
# Binary results for a masked column: refused.
print(send(bind(b"\0\1\0\1"), pgwire.msg(b"E", b"\0\0\0\0\0")))
# Never described: refused rather than passed unmasked.
send(pgwire.msg(b"P", b"m2\0" + q + b"\0\0\0"))
print(send(pgwire.msg(b"B", b"\0m2\0\0\0\0\0\0\0"), pgwire.msg(b"E", b"\0\0\0\0\0")))
"#,
        dir = script
            .parent()
            .unwrap_or(Path::new("."))
            .display()
            .to_string(),
        port = port,
    );
    let out = run(Command::new(python()).arg("-c").arg(&prog)).expect("pgwire");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert_eq!(lines[0], "['ERROR 42501']", "{out}");
    assert_eq!(lines[1], "['ROW 1', 'SELECT 1']", "{out}");
    // Inside the pipeline: the first statement ran, the refusal ends the batch (the third
    // is dropped with everything up to Sync, as the server itself does after an error).
    assert_eq!(lines[2], "['ROW 2', 'SELECT 1', 'ERROR 42501']", "{out}");
    assert_eq!(lines[3], "['ROW 4', 'SELECT 1']", "{out}");
    assert_eq!(lines[4], "['ROW 1,*************.com', 'SELECT 1']", "{out}");
    assert_eq!(lines[5], "['ERROR 42501']", "{out}");
    assert_eq!(lines[6], "['ERROR 42501']", "{out}");
    let direct = run(pg.psql().args([
        "-d",
        "prod_shop",
        "-At",
        "-c",
        "SELECT count(*) FROM orders",
    ]))
    .expect("direct");
    assert_eq!(direct.trim(), "3");
    let (_, ev) = proxy.stop().expect("stop");
    let blocked: Vec<_> = proxied(&ev)
        .into_iter()
        .filter(|e| e["policy"]["verdict"] == "block")
        .collect();
    assert_eq!(blocked.len(), 2, "{}", dump(&ev));
    assert!(blocked.iter().all(|e| e["statement"]["prepared"] == true));
}

/// Starts psql running `sql` through the proxy in the background.
fn psql_background(port: u16, sql: &str) -> std::process::Child {
    Command::new("psql")
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "prod_shop",
            "-v",
            "VERBOSITY=verbose",
            "-c",
            sql,
            "-p",
        ])
        .arg(port.to_string())
        .env("PGSSLMODE", "disable")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql")
}

fn finish(mut c: std::process::Child, limit: Duration) -> (bool, String) {
    let t0 = Instant::now();
    loop {
        if let Ok(Some(st)) = c.try_wait() {
            let mut out = String::new();
            if let Some(mut o) = c.stdout.take() {
                let _ = o.read_to_string(&mut out);
            }
            if let Some(mut e) = c.stderr.take() {
                let _ = e.read_to_string(&mut out);
            }
            return (st.success(), out);
        }
        if t0.elapsed() > limit {
            let _ = c.kill();
            return (false, "psql did not finish".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the proxy's `n`th approval request for `text` (from 1) and returns its id.
fn approval_id(proxy: &Agent, text: &str, n: usize) -> Result<String> {
    let requested = |ev: &[Value]| -> Vec<String> {
        of_kind(ev, "approval")
            .iter()
            .filter(|e| e["approval"]["status"] == "requested" && e["statement"]["text"] == text)
            .filter_map(|e| e["approval"]["id"].as_str().map(str::to_owned))
            .collect()
    };
    let ev = proxy.wait_for("an approval request", |ev| requested(ev).len() >= n)?;
    match requested(&ev).get(n - 1) {
        Some(id) => Ok(id.clone()),
        None => bail!("no approval id"),
    }
}

/// `dbgov approve|deny ID` against the control API, which is served over TLS with a
/// certificate for `localhost` from the CA `ca`.
fn decide(op: &str, id: &str, control: &str, token: &str, ca: &str) -> (bool, String) {
    let out = Command::new(agent_bin())
        .args([op, id, "--control", control, "--control-token-file", token])
        .args(["--control-ca", ca, "--control-server-name", "localhost"])
        .output()
        .expect("dbgov approve/deny");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn held_statements_wait_for_approval_denial_or_the_timeout() {
    if !can_run(Server::Postgres) {
        return;
    }
    let pg = pg_with_shop().expect("postgres");
    let dir = TempDir::new("proxy-hold").expect("tmp");
    let token = token_file(&dir, "token", "correct-horse-battery").expect("token");
    let wrong = token_file(&dir, "wrong", "correct-horse-batterx").expect("token");
    let control = format!("127.0.0.1:{}", free_port());
    // The control API over TLS.
    let (ccert, ckey) = make_server_cert(dir.path()).expect("control certificate");
    let (ccert, ckey) = (ccert.display().to_string(), ckey.display().to_string());
    let ca = dir.path().join("ca.crt").display().to_string();
    let (proxy, port) = start_proxy(
        pg.port,
        "postgresql",
        &dir,
        &[
            "--control",
            &control,
            "--control-token-file",
            &token,
            "--control-tls-cert",
            &ccert,
            "--control-tls-key",
            &ckey,
            "--hold-timeout",
            "3s",
        ],
    )
    .expect("proxy");
    let count = |t: &str| {
        run(pg.psql().args([
            "-d",
            "prod_shop",
            "-At",
            "-c",
            &format!("SELECT count(*) FROM {t}"),
        ]))
        .expect("count")
        .trim()
        .to_owned()
    };

    // Denied: an error, and the rows stay.
    let c = psql_background(port, "DELETE FROM orders");
    let id = approval_id(&proxy, "DELETE FROM orders", 1).expect("held");
    assert_eq!(count("orders"), "3", "a held statement must not run");
    // A wrong token changes nothing.
    let (ok, out) = decide("approve", &id, &control, &wrong, &ca);
    assert!(!ok && out.contains("unauthorized"), "{out}");
    // Without TLS the control API does not answer.
    let plain = Command::new(agent_bin())
        .args([
            "approve",
            &id,
            "--control",
            &control,
            "--control-token-file",
            &token,
        ])
        .output()
        .expect("dbgov approve");
    assert!(!plain.status.success());
    let (ok, out) = decide("deny", &id, &control, &token, &ca);
    assert!(ok, "{out}\nproxy: {}", proxy.stderr_text());
    let (ok, out) = finish(c, Duration::from_secs(20));
    assert!(
        !ok && out.contains("42501") && out.contains("denied"),
        "{out}"
    );
    assert_eq!(count("orders"), "3");

    // Left alone: refused after the timeout.
    let t0 = Instant::now();
    let (ok, out) = finish(
        psql_background(port, "DELETE FROM orders"),
        Duration::from_secs(30),
    );
    assert!(!ok && out.contains("not approved within 3 s"), "{out}");
    assert!(t0.elapsed() >= Duration::from_secs(3));
    assert_eq!(count("orders"), "3");

    // Approved from another process: it runs.
    let c = psql_background(port, "DELETE FROM orders");
    let id = approval_id(&proxy, "DELETE FROM orders", 3).expect("held");
    let out = Command::new(agent_bin())
        .args([
            "approve",
            &id,
            "--control",
            &control,
            "--control-token-file",
            &token,
        ])
        .args(["--control-ca", &ca, "--control-server-name", "localhost"])
        .args(["--for", "10m"])
        .output()
        .expect("dbgov approve");
    assert!(
        out.status.success(),
        "{out:?}\nproxy: {}",
        proxy.stderr_text()
    );
    let (ok, out) = finish(c, Duration::from_secs(20));
    assert!(ok && out.contains("DELETE 3"), "{out}");
    assert_eq!(count("orders"), "0");
    // `--for 10m`: the same statement shape from the same identity is not held again.
    let (ok, out) = finish(
        psql_background(port, "DELETE FROM orders"),
        Duration::from_secs(10),
    );
    assert!(ok && out.contains("DELETE 0"), "{out}");
    // An id nobody holds is an error.
    let (ok, out) = decide("approve", &id, &control, &token, &ca);
    assert!(!ok && out.contains("no statement is held"), "{out}");

    let (_, ev) = proxy.stop().expect("stop");
    let statuses: Vec<&str> = of_kind(&ev, "approval")
        .iter()
        .filter_map(|e| e["approval"]["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        vec![
            "requested",
            "denied",
            "requested",
            "timed_out",
            "requested",
            "approved"
        ],
        "{}",
        dump(&ev)
    );
    let approved = of_kind(&ev, "approval")
        .into_iter()
        .find(|e| e["approval"]["status"] == "approved")
        .expect("approved");
    assert!(approved["approval"]["by"].is_string());
    let deletes: Vec<_> = proxied(&ev)
        .into_iter()
        .filter(|e| e["statement"]["text"] == "DELETE FROM orders")
        .collect();
    assert_eq!(deletes.len(), 4, "{}", dump(&ev));
    let ran: Vec<_> = deletes
        .iter()
        .filter(|e| e["outcome"]["status"] == "ok")
        .collect();
    assert_eq!(ran.len(), 2, "{}", dump(&ev));
    assert_eq!(ran[0]["outcome"]["rows"], 3);
    assert_eq!(ran[1]["outcome"]["rows"], 0);
    for r in &ran {
        assert_eq!(r["approval"]["status"], "approved");
        assert_eq!(r["approval"]["for_secs"], 600);
        assert_eq!(r["policy"]["verdict"], "hold");
    }
}

#[test]
fn oversize_frames_end_only_their_own_session() {
    if !can_run(Server::Postgres) {
        return;
    }
    let pg = pg_with_shop().expect("postgres");
    let dir = TempDir::new("proxy-flood").expect("tmp");
    let (proxy, port) =
        start_proxy(pg.port, "postgresql", &dir, &["--max-frame", "65536"]).expect("proxy");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooded = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let flood = {
        let stop = stop.clone();
        let flooded = flooded.clone();
        std::thread::spawn(move || {
            // A startup packet, then a Query announcing 1 GiB, sent in pieces.
            let mut startup = Vec::new();
            let body = b"\0\x03\0\0user\0postgres\0database\0prod_shop\0\0";
            startup.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
            startup.extend_from_slice(body);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                    continue;
                };
                let _ = s.write_all(&startup);
                let _ = s.write_all(b"Q\x40\0\0\0");
                let _ = s.write_all(&vec![b'x'; 256 << 10]);
                flooded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    let mut script = String::new();
    for i in 0..200 {
        script.push_str(&format!("SELECT {i} + 1000 AS v;\n"));
    }
    let (ok, out) = psql_via(port, "dbgovtest", &script).expect("psql");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = flood.join();
    assert!(ok, "{out}");
    for i in 0..200 {
        assert!(out.contains(&format!(" {}\n", i + 1000)), "row {i}: {out}");
    }
    assert!(flooded.load(std::sync::atomic::Ordering::Relaxed) >= 5);
    let (code, ev) = proxy.stop().expect("stop");
    assert_eq!(code, 0);
    let n = proxied(&ev)
        .iter()
        .filter(|e| e["db"]["name"] == "dbgovtest" && e["outcome"]["status"] == "ok")
        .count();
    assert_eq!(n, 200);
}

/// The mariadb CLI through the proxy, one session reading `sql` from its standard input
/// (with `--force` it goes on after an error, as a script does); stdout and stderr together.
fn mariadb_via(port: u16, db: &str, sql: &str) -> Result<String> {
    mariadb_via_ssl(port, db, sql, "--skip-ssl")
}

fn mariadb_via_ssl(port: u16, db: &str, sql: &str, ssl: &str) -> Result<String> {
    let mut child = Command::new("mariadb")
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-uroot",
            ssl,
            "--force",
            "-B",
            "-D",
            db,
            "-P",
        ])
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().map(|mut i| i.write_all(sql.as_bytes()));
    let out = child.wait_with_output()?;
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

#[test]
fn mariadb_blocked_statements_never_reach_the_server_and_masked_columns_come_back_masked() {
    if !can_run(Server::Mariadb) {
        return;
    }
    let db = Mariadb::start().expect("mariadb");
    db.sql(
        "CREATE DATABASE prod_shop; USE prod_shop; \
         CREATE TABLE customers (id int PRIMARY KEY, email text, name text); \
         INSERT INTO customers VALUES (1, 'alice@example.com', 'Alice'), (2, 'bob@example.org', 'Bob'); \
         CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2), (3);",
    )
    .expect("setup");
    let dir = TempDir::new("proxy-my").expect("tmp");
    let (proxy, port) = start_proxy(db.port, "mysql", &dir, &[]).expect("proxy");
    let out = mariadb_via(
        port,
        "prod_shop",
        "DROP TABLE orders;\nSELECT CONCAT('still', ' alive') AS state;\n\
         SELECT id, email, name FROM customers ORDER BY id;\nSELECT COUNT(*) FROM orders;\n\
         SELECT email AS contact FROM customers WHERE id = 1;\n",
    )
    .expect("mariadb");
    assert!(out.contains("ERROR 1142 (42000)"), "{out}");
    assert!(out.contains("block-destructive-ddl-prod"), "{out}");
    assert!(out.contains("still alive"), "{out}");
    assert!(out.contains("*************.com"), "{out}");
    assert!(out.contains("***********.org"), "{out}");
    assert!(!out.contains("alice@"), "{out}");
    assert!(out.contains("Alice"), "{out}");
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM prod_shop.orders")
            .expect("direct")
            .trim(),
        "3"
    );
    let (code, ev) = proxy.stop().expect("stop");
    assert_eq!(code, 0);
    let st = proxied(&ev);
    let blocked = st
        .iter()
        .find(|e| e["statement"]["text"] == "DROP TABLE orders")
        .expect("blocked drop");
    assert_eq!(blocked["policy"]["verdict"], "block");
    assert_eq!(blocked["outcome"]["error_code"], "1142/42000");
    let sel = containing(&st, "FROM customers");
    assert_eq!(sel["policy"]["verdict"], "mask");
    assert_eq!(sel["outcome"]["rows"], 2);
    assert_eq!(sel["db"]["engine"], "mysql");
}

#[test]
fn agents_announce_who_is_behind_each_proxied_connection() {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15") {
        return;
    }
    let pg = pg_with_shop().expect("postgres");
    let x = "dbgov_px";
    let y = "dbgov_py";
    ensure_user(x).expect("user x");
    ensure_user(y).expect("user y");
    let dir = TempDir::new("proxy-identity").expect("tmp");
    run(Command::new("chmod").arg("755").arg(dir.path())).expect("chmod");
    let token = token_file(&dir, "token", "s3cret-token").expect("token");
    let control = format!("127.0.0.1:{}", free_port());
    let policies = policies(&dir).expect("policies");
    // Announcements go over TLS.
    let (ccert, ckey) = make_server_cert(dir.path()).expect("control certificate");
    let (ccert, ckey) = (ccert.display().to_string(), ckey.display().to_string());
    let ca = dir.path().join("ca.crt").display().to_string();
    std::fs::write(
        policies.join("rules/60-who.yaml"),
        format!(
            "rules:\n  - id: block-{x}-reads\n    match:\n      client_user: {x}\n      kind: SELECT\n    action: block\n    message: {x} may not read here.\n"
        ),
    )
    .expect("rule");
    let port = free_port();
    let upstream = format!("127.0.0.1:{}", pg.port);
    let proxy = Agent::proxy(
        port,
        &[
            "--upstream",
            &upstream,
            "--engine",
            "postgresql",
            "--policies",
            policies.to_str().unwrap_or_default(),
            "--control",
            &control,
            "--control-token-file",
            &token,
            "--control-tls-cert",
            &ccert,
            "--control-tls-key",
            &ckey,
            "--identity-wait",
            "5s",
        ],
    )
    .expect("proxy");
    let direct = format!("127.0.0.1:{}", pg.port);
    // The agent's own policies block reading `orders`; the proxy's do not: the proxy learns
    // it from the agent's block signal.
    let agent_policies = dir.path().join("agent-policies");
    run(Command::new("cp")
        .arg("-r")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies"))
        .arg(&agent_policies))
    .expect("cp");
    std::fs::write(
        agent_policies.join("rules/70-orders.yaml"),
        "rules:\n  - id: agent-blocks-orders\n    match:\n      tables: orders\n      kind: SELECT\n    action: block\n",
    )
    .expect("rule");
    let agent_policies = agent_policies.display().to_string();
    let agent = Agent::start(&[
        "--policy-dir",
        &agent_policies,
        "--postgres-port",
        &port.to_string(),
        "--postgres-port",
        &pg.port.to_string(),
        "--proxy-control",
        &control,
        "--control-token-file",
        &token,
        "--control-ca",
        &ca,
        "--control-server-name",
        "localhost",
        "--require-proxy",
        &direct,
    ])
    .expect("agent");
    let read = ["-c", "SELECT 'visible to ' || current_user"];
    let out_x = psql_as(x, port, dir.path(), &read);
    let out_y = psql_as(y, port, dir.path(), &read);
    // Y also goes straight to the server, which the agent is told must be reached through
    // the proxy.
    let bypass = psql_as(y, pg.port, dir.path(), &["-c", "SELECT 'direct'"]);
    assert!(bypass.contains("direct"), "{bypass}");
    // A block signal: the first read of `orders` may pass before the agent's signal reaches
    // the proxy; once it has, the same statement on that connection is refused.
    let text = psql_as(
        y,
        port,
        dir.path(),
        &[
            "-c",
            "SELECT count(*) FROM orders",
            "-c",
            "SELECT pg_sleep(1)",
            "-c",
            "SELECT count(*) FROM orders",
        ],
    );
    assert!(
        text.contains("an agent signalled rule agent-blocks-orders"),
        "{text}\nproxy: {}",
        proxy.stderr_text()
    );
    assert!(
        out_x.contains("42501") && out_x.contains("may not read here"),
        "{out_x}\nproxy: {}\nagent: {}",
        proxy.stderr_text(),
        agent.stderr_text()
    );
    assert!(out_y.contains("visible to postgres"), "{out_y}");
    let (_, agent_ev) = agent.stop().expect("agent stop");
    let (_, ev) = proxy.stop().expect("proxy stop");
    let st = proxied(&ev);
    let by = |user: &str| -> Vec<&&Value> {
        st.iter().filter(|e| e["client"]["user"] == user).collect()
    };
    let (ex, ey) = (by(x), by(y));
    assert_eq!(ex.len(), 1, "{}", dump(&ev));
    assert_eq!(ey.len(), 4, "{}", dump(&ev));
    assert_eq!(ex[0]["policy"]["verdict"], "block");
    assert_eq!(ey[0]["policy"]["verdict"], "allow");
    // The signalled refusal is recorded as a block naming the agent's rule.
    let refused = ey.last().expect("signalled");
    assert_eq!(refused["policy"]["verdict"], "block");
    assert!(refused["policy"]["rules"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r == "agent-blocks-orders")));
    // The announced process: psql, with its pid and executable.
    assert!(ex[0]["client"]["pid"].as_u64().is_some_and(|p| p > 0));
    assert!(ex[0]["client"]["exe"]
        .as_str()
        .is_some_and(|e| e.ends_with("psql")));
    // The agent saw the same connections (it watches the proxy's port) and names the same
    // person on its own events.
    assert!(statements(&agent_ev)
        .iter()
        .any(|e| e["client"]["user"] == y));
    // Bypass detection: Y's direct session is flagged, the proxy's own connections to the
    // server are not.
    let flagged: Vec<&Value> = of_kind(&agent_ev, "session_start")
        .into_iter()
        .filter(|e| e["policy"]["rules"][0] == "bypass-proxy")
        .collect();
    assert_eq!(flagged.len(), 1, "{}", dump(&agent_ev));
    assert_eq!(flagged[0]["client"]["user"], y);
    assert_eq!(flagged[0]["policy"]["verdict"], "alert");
    assert!(of_kind(&agent_ev, "session_start")
        .iter()
        .any(|e| e["client"]["comm"] == "dbgov" && e["policy"].is_null()));
}

#[test]
fn postgres_tls_from_clients_to_the_proxy_and_from_the_proxy_to_the_server() {
    if !can_run(Server::Postgres) {
        return;
    }
    let pg = pg_with_shop_tls(true).expect("postgres");
    let dir = TempDir::new("proxy-tls").expect("tmp");
    let (cert, key) = (dir.path().join("proxy.crt"), dir.path().join("proxy.key"));
    run(Command::new("openssl")
        .args([
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
            "-nodes",
            "-subj",
            "/CN=dbgov-proxy",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert))
    .expect("openssl");
    let ca = pg.ca_cert();
    let (cert, key, ca) = (
        cert.display().to_string(),
        key.display().to_string(),
        ca.display().to_string(),
    );
    let (proxy, port) = start_proxy(
        pg.port,
        "postgresql",
        &dir,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--upstream-tls",
            "--upstream-ca",
            &ca,
            "--upstream-server-name",
            "localhost",
        ],
    )
    .expect("proxy");
    let script = "\\conninfo\nSELECT 'server sees ssl=' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n\
                  SELECT id, email FROM customers ORDER BY id;\n";
    // TLS from psql to the proxy (sslmode=require), and from the proxy to the server.
    let (ok, out) = psql_via_ssl(port, "prod_shop", script, "require").expect("psql");
    assert!(ok, "{out}\nproxy: {}", proxy.stderr_text());
    assert!(out.contains("SSL connection"), "{out}");
    assert!(out.contains("server sees ssl=t"), "{out}");
    assert!(out.contains("*************.com"), "{out}");
    assert!(!out.contains("alice@"), "{out}");
    // A client without TLS still gets through (the server link stays TLS).
    let (ok, out) = psql_via_ssl(port, "prod_shop", script, "disable").expect("psql");
    assert!(ok, "{out}");
    assert!(!out.contains("SSL connection"), "{out}");
    assert!(out.contains("server sees ssl=t"), "{out}");
    // An upstream certificate for another name is refused, and the client told.
    let port2 = free_port();
    let upstream = format!("127.0.0.1:{}", pg.port);
    let wrong = Agent::proxy(
        port2,
        &[
            "--upstream",
            &upstream,
            "--engine",
            "postgresql",
            "--upstream-tls",
            "--upstream-ca",
            &ca,
            "--upstream-server-name",
            "db.example.net",
        ],
    )
    .expect("proxy");
    let (ok, out) = psql_via_ssl(port2, "prod_shop", "SELECT 1;\n", "disable").expect("psql");
    assert!(!ok, "{out}");
    assert!(
        wrong.stderr_text().contains("server handshake") || out.contains("closed"),
        "{out}\n{}",
        wrong.stderr_text()
    );
    drop(wrong);
    let (_, ev) = proxy.stop().expect("stop");
    let tls: Vec<bool> = of_kind(&ev, "session_start")
        .iter()
        .filter_map(|e| e["session"]["tls"].as_bool())
        .collect();
    assert_eq!(tls, vec![true, false], "{}", dump(&ev));
}

#[test]
fn mariadb_tls_from_clients_to_the_proxy_and_from_the_proxy_to_the_server() {
    if !can_run(Server::Mariadb) {
        return;
    }
    let db = Mariadb::start_with(true).expect("mariadb");
    db.sql(
        "CREATE DATABASE prod_shop; USE prod_shop; \
         CREATE TABLE customers (id int PRIMARY KEY, email text); \
         INSERT INTO customers VALUES (1, 'alice@example.com'); \
         CREATE TABLE orders (id int); INSERT INTO orders VALUES (1);",
    )
    .expect("setup");
    let dir = TempDir::new("proxy-my-tls").expect("tmp");
    let (cert, key) = make_server_cert(dir.path()).expect("proxy certificate");
    let (cert, key, ca) = (
        cert.display().to_string(),
        key.display().to_string(),
        db.ca_cert().display().to_string(),
    );
    let (proxy, port) = start_proxy(
        db.port,
        "mysql",
        &dir,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--upstream-tls",
            "--upstream-ca",
            &ca,
            "--upstream-server-name",
            "localhost",
        ],
    )
    .expect("proxy");
    let script = "status\nSHOW SESSION STATUS LIKE 'Ssl_version';\nDROP TABLE orders;\n\
                  SELECT id, email FROM customers;\n";
    // TLS from the client to the proxy, and from the proxy to the server.
    let out = mariadb_via_ssl(port, "prod_shop", script, "--ssl").expect("mariadb");
    assert!(
        out.contains("Cipher in use is"),
        "{out}\nproxy: {}",
        proxy.stderr_text()
    );
    assert!(out.contains("Ssl_version\tTLSv1."), "{out}");
    assert!(out.contains("ERROR 1142 (42000)"), "{out}");
    assert!(out.contains("*************.com"), "{out}");
    assert!(!out.contains("alice@"), "{out}");
    // A client without TLS gets through too; the server link stays TLS.
    let out = mariadb_via(port, "prod_shop", script).expect("mariadb");
    assert!(!out.contains("Cipher in use is"), "{out}");
    assert!(out.contains("Ssl_version\tTLSv1."), "{out}");
    assert!(out.contains("*************.com"), "{out}");
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM prod_shop.orders")
            .expect("direct")
            .trim(),
        "1"
    );
    let (_, ev) = proxy.stop().expect("stop");
    let tls: Vec<bool> = of_kind(&ev, "session_start")
        .iter()
        .filter_map(|e| e["session"]["tls"].as_bool())
        .collect();
    assert_eq!(tls, vec![true, false], "{}", dump(&ev));
    let users: Vec<&Value> = of_kind(&ev, "session_start")
        .into_iter()
        .filter(|e| e["db"]["user"] == "root" && e["db"]["name"] == "prod_shop")
        .collect();
    assert_eq!(users.len(), 2, "{}", dump(&ev));
}
