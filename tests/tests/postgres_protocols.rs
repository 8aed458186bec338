//! PostgreSQL beyond simple psql queries: the extended protocol from tokio-postgres (pipelined
//! queries, a portal), pgbench in prepared mode, and TLS (plaintext through the OpenSSL
//! uprobes; a statically linked TLS library reported as not inspectable).
use std::process::Command;
use std::sync::Arc;

use dbgov_tests::*;
use serde_json::Value;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn tokio_postgres_extended_protocol_pipelining_and_portals() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    pg.psql_admin(
        "CREATE TABLE IF NOT EXISTS nums AS SELECT g AS n FROM generate_series(1, 10) g",
    )?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;
    let port = pg.port;
    rt().block_on(async move {
        let (mut client, conn) = tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres application_name=extproto"),
            tokio_postgres::NoTls,
        )
        .await?;
        let task = tokio::spawn(conn);
        let stmt = client.prepare("SELECT n FROM nums WHERE n <= $1").await?;
        for limit in [1i32, 3, 5] {
            let rows = client.query(&stmt, &[&limit]).await?;
            assert_eq!(rows.len(), limit as usize);
        }
        // Pipelined: both requests are written before either response is read.
        let a = client.query(&stmt, &[&2i32]);
        let b = client.query(&stmt, &[&4i32]);
        let (ra, rb) = tokio::join!(a, b);
        assert_eq!((ra?.len(), rb?.len()), (2, 4));
        // A portal fetched 4 rows at a time.
        let tx = client.transaction().await?;
        let portal = tx.bind(&stmt, &[&10i32]).await?;
        let mut fetched = 0;
        loop {
            let rows = tx.query_portal(&portal, 4).await?;
            fetched += rows.len();
            if rows.len() < 4 {
                break;
            }
        }
        assert_eq!(fetched, 10);
        tx.commit().await?;
        drop(client);
        let _ = task.await;
        anyhow::Ok(())
    })?;
    agent.wait_for("the extended-protocol statements", |ev| {
        statements(ev)
            .iter()
            .filter(|e| e["statement"]["prepared"] == true)
            .count()
            >= 8
            && !of_kind(ev, "session_end").is_empty()
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let prepared: Vec<&Value> = statements(&ev)
        .into_iter()
        .filter(|e| e["statement"]["text"] == "SELECT n FROM nums WHERE n <= $1")
        .collect();
    let rows: Vec<u64> = prepared
        .iter()
        .filter_map(|e| e["outcome"]["rows"].as_u64())
        .collect();
    // 3 queries, 2 pipelined, 3 portal fetches of 4, 4 and 2 rows.
    assert_eq!(rows, vec![1, 3, 5, 2, 4, 4, 4, 2], "{}", dump(&ev));
    for e in &prepared {
        assert_eq!(e["statement"]["prepared"], true);
        assert_eq!(e["statement"]["params"], 1);
        assert_eq!(
            e["statement"]["param_values"],
            Value::Null,
            "values are not recorded by default"
        );
        assert_eq!(e["db"]["application"], "extproto");
        assert_eq!(e["outcome"]["status"], "ok");
    }
    assert!(of_kind(&ev, "gap").is_empty(), "{}", dump(&ev));
    Ok(())
}

#[test]
fn pgbench_prepared_statement_count_matches() -> anyhow::Result<()> {
    pgbench_prepared_count(&[])
}

/// The same through the per-syscall tracepoints, which `syscall_hooks: auto` uses where the
/// kernel refuses the raw hooks (this kernel accepts them, so the default test above runs the
/// raw ones).
#[test]
fn pgbench_prepared_statement_count_matches_with_per_syscall_tracepoints() -> anyhow::Result<()> {
    pgbench_prepared_count(&["--syscall-hooks", "tracepoints"])
}

fn pgbench_prepared_count(args: &[&str]) -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 and pgbench") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    pgbench_init(pg.port)?;
    let port = pg.port.to_string();
    let mut a = vec!["--postgres-port", &port];
    a.extend_from_slice(args);
    let agent = Agent::start(&a)?;
    let (processed, _) = pgbench_run(
        pg.port,
        &["-M", "prepared", "-n", "-c", "4", "-t", "250"],
        false,
    )?;
    assert_eq!(processed, 1000);
    // tpcb-like: BEGIN, 3 UPDATEs, SELECT, INSERT, END per transaction.
    let expected = processed * 7;
    agent.wait_for("every pgbench statement", |ev| {
        statements(ev)
            .iter()
            .filter(|e| e["statement"]["prepared"] == true)
            .count() as u64
            >= expected
            && of_kind(ev, "session_end").len() >= 4
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let prepared = statements(&ev)
        .into_iter()
        .filter(|e| e["statement"]["prepared"] == true)
        .count() as u64;
    assert_eq!(
        prepared, expected,
        "statement events vs statements pgbench executed"
    );
    let gaps = of_kind(&ev, "gap");
    assert!(
        gaps.is_empty(),
        "{} gaps: {}",
        gaps.len(),
        dump(&ev[..ev.len().min(5)])
    );
    Ok(())
}

#[test]
fn tls_psql_plaintext_is_captured_through_openssl_uprobes() -> anyhow::Result<()> {
    tls_psql("uprobe")
}

#[test]
fn tls_psql_is_decrypted_with_the_handshake_secrets_in_keylog_mode() -> anyhow::Result<()> {
    tls_psql("keylog")
}

fn tls_psql(mode: &str) -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start_with(true)?;
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--tls-capture",
        mode,
    ])?;
    run(Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=dbgovtest sslmode=require",
            pg.port
        ))
        .args(["-X", "-c", "SELECT 'secret' AS word, 41 + 1 AS answer"]))?;
    agent.wait_for("the TLS statement", |ev| {
        !statements(ev).is_empty() && !of_kind(ev, "session_end").is_empty()
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    let st = statements(&ev);
    assert_eq!(st.len(), 1, "{}", dump(&ev));
    assert_eq!(
        st[0]["statement"]["text"],
        "SELECT ? AS word, ? + ? AS answer"
    );
    assert_eq!(st[0]["session"]["tls"], true);
    assert_eq!(st[0]["session"]["inspectable"], true);
    assert_eq!(st[0]["outcome"]["rows"], 1);
    assert_eq!(st[0]["db"]["user"], "postgres");
    assert!(of_kind(&ev, "gap").is_empty(), "{}", dump(&ev));
    Ok(())
}

/// Keylog mode at full rate: one event for every transaction a saturating TLS pgbench run
/// reports, and no gap.
#[test]
fn keylog_tls_pgbench_at_full_rate_has_every_statement() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start_opts(true, "")?;
    pgbench_init(pg.port)?;
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--tls-capture",
        "keylog",
    ])?;
    let (processed, out) = pgbench_run(
        pg.port,
        &[
            "-M", "prepared", "-S", "-n", "-c", "4", "-j", "2", "-T", "5",
        ],
        true,
    )?;
    assert!(processed > 1000, "pgbench ran: {out}");
    let select = |e: &&Value| {
        e["statement"]["prepared"] == true
            && e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("SELECT abalance"))
    };
    agent.wait_for("every pgbench statement", |ev| {
        statements(ev).into_iter().filter(select).count() as u64 >= processed
            && of_kind(ev, "session_end").len() >= 4
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let seen = statements(&ev).into_iter().filter(select).count() as u64;
    assert_eq!(
        seen, processed,
        "statement events vs transactions pgbench ran"
    );
    let gaps = of_kind(&ev, "gap");
    assert!(
        gaps.is_empty(),
        "{} gaps: {:?}",
        gaps.len(),
        &gaps[..gaps.len().min(5)]
    );
    let tls = statements(&ev)
        .iter()
        .filter(|e| e["session"]["tls"] == true && e["session"]["inspectable"] == true)
        .count() as u64;
    assert_eq!(
        tls,
        statements(&ev).len() as u64,
        "every statement came over TLS"
    );
    Ok(())
}

/// A keylog capture file holds the ciphertext and the secrets that open it: `dbgov replay`
/// reads the same statement from it.
#[test]
fn a_keylog_capture_replays_its_tls_statements() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start_with(true)?;
    let dir = TempDir::new("keylog-record")?;
    let record = dir.path().join("tls.dbgovrec");
    let rec = record.to_string_lossy().into_owned();
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--keep-literals",
        "--record",
        &rec,
    ])?;
    run(Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=dbgovtest sslmode=require",
            pg.port
        ))
        .args(["-X", "-c", "SELECT 'replayed' AS word"]))?;
    agent.wait_for("the TLS statement", |ev| {
        !with_text(ev, "SELECT 'replayed' AS word").is_empty()
            && !of_kind(ev, "session_end").is_empty()
    })?;
    let (code, _) = agent.stop()?;
    assert_eq!(code, 0);
    let out = dir.path().join("replayed.jsonl");
    let status = Command::new(agent_bin())
        .args(["replay", "--keep-literals", "--output"])
        .arg(format!("jsonl:{}", out.display()))
        .arg(&record)
        .status()?;
    assert!(status.success());
    let text = std::fs::read_to_string(&out)?;
    let ev: Vec<Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let st = with_text(&ev, "SELECT 'replayed' AS word");
    assert_eq!(st.len(), 1, "{}", dump(&ev));
    assert_eq!(st[0]["session"]["tls"], true);
    assert_eq!(st[0]["session"]["inspectable"], true);
    assert!(of_kind(&ev, "gap").is_empty(), "{}", dump(&ev));
    Ok(())
}

/// A TLS session open before a keylog agent started: its secrets were never seen, so its
/// process gets the per-call probes of its own and the session is read as in uprobe mode.
#[test]
fn keylog_reads_a_tls_session_opened_before_the_agent() -> anyhow::Result<()> {
    use std::io::Write;
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start_with(true)?;
    let mut psql = Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=dbgovtest sslmode=require",
            pg.port
        ))
        .args(["-X", "-q"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let mut input = psql.stdin.take().ok_or_else(|| anyhow::anyhow!("stdin"))?;
    input.write_all(b"SELECT 'before';\n")?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--tls-capture",
        "keylog",
    ])?;
    input.write_all(b"SELECT 'after' AS x FROM generate_series(1, 3);\n")?;
    // A new session from the same process (`\c` reconnects): its secrets and its own probes
    // both see it. Inside SSL_read/SSL_write the kernel captures no ciphertext, so the
    // probes' plaintext is all there is of it: still one event per statement.
    input.write_all(b"\\c\nSELECT 'again' AS y FROM generate_series(1, 2);\n")?;
    agent.wait_for("the statements on both TLS sessions", |ev| {
        !with_text(ev, "SELECT ? AS x FROM generate_series(?, ?);").is_empty()
            && !with_text(ev, "SELECT ? AS y FROM generate_series(?, ?);").is_empty()
    })?;
    drop(input);
    psql.wait()?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let after = with_text(&ev, "SELECT ? AS x FROM generate_series(?, ?);");
    assert_eq!(after.len(), 1, "{}", dump(&ev));
    assert_eq!(after[0]["outcome"]["rows"], 3);
    assert_eq!(after[0]["session"]["tls"], true, "{}", after[0]);
    assert_eq!(after[0]["session"]["inspectable"], true);
    let again = with_text(&ev, "SELECT ? AS y FROM generate_series(?, ?);");
    assert_eq!(again.len(), 1, "{}", dump(&ev));
    assert_eq!(again[0]["outcome"]["rows"], 2);
    assert_eq!(again[0]["session"]["tls"], true);
    assert_eq!(again[0]["session"]["mid_session"], false);
    assert!(of_kind(&ev, "gap").is_empty(), "{}", dump(&ev));
    Ok(())
}

/// Keylog mode reads TLS 1.2 with an AEAD suite from the PRF's key block, and says what it
/// cannot read (a CBC suite) in a gap, the session then not inspectable instead of silent.
#[test]
fn keylog_decrypts_tls12_aead_and_reports_tls12_cbc() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    for (ciphers, readable) in [
        ("ECDHE-RSA-AES256-GCM-SHA384", true),
        ("AES256-SHA256", false),
    ] {
        let pg = Postgres::start_opts(
            true,
            &format!("ssl_max_protocol_version = 'TLSv1.2'\nssl_ciphers = '{ciphers}'\n"),
        )?;
        let agent = Agent::start(&[
            "--postgres-port",
            &pg.port.to_string(),
            "--tls-capture",
            "keylog",
        ])?;
        let out = run(Command::new("psql")
            .arg(format!(
                "host=127.0.0.1 port={} user=postgres dbname=dbgovtest sslmode=require",
                pg.port
            ))
            .args([
                "-X",
                "-tA",
                "-c",
                "SELECT version || ' ' || cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            ]))?;
        assert_eq!(
            out.trim(),
            format!("TLSv1.2 {ciphers}"),
            "the session's TLS"
        );
        agent.wait_for("the TLS 1.2 session", |ev| {
            !of_kind(ev, "session_end").is_empty() || !of_kind(ev, "gap").is_empty()
        })?;
        let (code, ev) = agent.stop()?;
        assert_eq!(code, 0);
        let st = statements(&ev);
        let gaps = of_kind(&ev, "gap");
        if readable {
            assert_eq!(st.len(), 1, "{}", dump(&ev));
            assert_eq!(st[0]["session"]["tls"], true);
            assert_eq!(st[0]["session"]["inspectable"], true);
            assert_eq!(st[0]["db"]["user"], "postgres");
            assert!(gaps.is_empty(), "{}", dump(&ev));
        } else {
            assert!(
                gaps.iter()
                    .any(|g| g["gap"]["reason"] == "tls_undecryptable"
                        && g["gap"]["detail"]
                            .as_str()
                            .is_some_and(|d| d.contains("CBC"))),
                "{}",
                dump(&ev)
            );
            let starts = of_kind(&ev, "session_start");
            assert_eq!(starts[0]["session"]["inspectable"], false, "{}", dump(&ev));
            assert!(st.is_empty(), "{}", dump(&ev));
        }
    }
    Ok(())
}

#[derive(Debug)]
struct AcceptAnyCert;

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[test]
fn tls_with_a_static_tls_library_is_reported_not_inspectable() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start_with(true)?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;
    let port = pg.port;
    // rustls is compiled into this test binary: no libssl for the agent to hook.
    rt().block_on(async move {
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert))
        .with_no_client_auth();
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(config);
        let (client, conn) = tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user=postgres dbname=dbgovtest sslmode=require"),
            tls,
        )
        .await?;
        let task = tokio::spawn(conn);
        let row = client.query_one("SELECT 1 + 1", &[]).await?;
        assert_eq!(row.get::<_, i32>(0), 2);
        drop(client);
        let _ = task.await;
        anyhow::Ok(())
    })?;
    agent.wait_for("the opaque TLS session", |ev| {
        !of_kind(ev, "session_start").is_empty()
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    let starts = of_kind(&ev, "session_start");
    assert_eq!(starts.len(), 1, "{}", dump(&ev));
    assert_eq!(starts[0]["session"]["tls"], true);
    assert_eq!(starts[0]["session"]["inspectable"], false);
    assert_eq!(
        starts[0]["db"]["user"],
        Value::Null,
        "the startup message was encrypted"
    );
    assert!(
        statements(&ev).is_empty(),
        "no statements can be read: {}",
        dump(&ev)
    );
    Ok(())
}

#[test]
fn copy_in_and_out_are_one_event_each_with_bytes_and_rows() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    pg.psql_admin("CREATE TABLE copied (a int, b text)")?;
    let dir = TempDir::new("copy")?;
    let file = dir.path().join("out.csv");
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;
    run(pg
        .psql()
        .arg("-c")
        .arg(format!(
            "\\copy (SELECT g, md5(g::text) FROM generate_series(1, 500) g) TO '{}'",
            file.display()
        ))
        .arg("-c")
        .arg(format!("\\copy copied FROM '{}'", file.display())))?;
    let size = std::fs::metadata(&file)?.len();
    agent.wait_for("both COPY statements", |ev| {
        statements(ev)
            .iter()
            .filter(|e| e["statement"]["kind"] == "COPY")
            .count()
            >= 2
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    let copies: Vec<&Value> = statements(&ev)
        .into_iter()
        .filter(|e| e["statement"]["kind"] == "COPY")
        .collect();
    assert_eq!(copies.len(), 2, "{}", dump(&ev));
    for c in &copies {
        assert_eq!(c["outcome"]["rows"], 500, "{c}");
        assert_eq!(c["statement"]["copy_bytes"], size, "{c}");
    }
    // psql's \copy sends the statement as it rebuilt it (spaced tokens, a trailing space).
    assert_eq!(
        copies[0]["statement"]["text"],
        "COPY  ( SELECT g, md5 ( g::text ) FROM generate_series ( ?, ? ) g ) TO STDOUT ",
        "{}",
        copies[0]
    );
    assert_eq!(
        copies[1]["statement"]["text"], "COPY  copied FROM STDIN ",
        "{}",
        copies[1]
    );
    assert_eq!(statements(&ev).len(), 2, "{}", dump(&ev));
    Ok(())
}
