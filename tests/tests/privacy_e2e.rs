//! The trail holds no sensitive values: an SSN, a card number and an e-mail address sent
//! through psql and mariadb command lines, drivers with bound parameters, a duplicate key, a
//! statement that fails to parse and a 100 KB statement appear nowhere in the events, the
//! agent's log or the capture file's permissions, unless `--keep-literals` (which must show
//! them: that proves the check can fail). Real eBPF, PostgreSQL 15, MariaDB, psql, mariadb,
//! tokio-postgres, as root.
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use dbgov_tests::*;

const SSN: &str = "987-65-4321";
const CARD: &str = "4111111111111111";
const EMAIL: &str = "ann@example.com";

/// Runs a command that may fail (a duplicate key, a syntax error): that is the point.
fn attempt(cmd: &mut Command) -> anyhow::Result<()> {
    let _ = cmd.output()?;
    Ok(())
}

fn workload(pg: &Postgres, db: &Mariadb, dir: &TempDir) -> anyhow::Result<()> {
    let insert =
        format!("INSERT INTO customers VALUES (1, '{EMAIL}', '{SSN}', '{CARD}') /* for {EMAIL} */");
    // Through a connection URI with a password in it (trust authentication ignores it).
    run(Command::new("psql")
        .args(["-X", "-q"])
        .arg(format!(
            "postgresql://postgres:not-a-real-secret@127.0.0.1:{}/postgres",
            pg.port
        ))
        .args(["-c", &insert]))?;
    // Duplicate e-mail (unique), an integer given the SSN (the message quotes it), a parse
    // failure on the card number, a 100 KB statement with the values at its end.
    attempt(pg.psql().args([
        "-c",
        &format!("INSERT INTO customers VALUES (2, '{EMAIL}', '{SSN}', '{CARD}')"),
    ]))?;
    attempt(
        pg.psql()
            .args(["-c", &format!("SELECT * FROM customers WHERE id = '{SSN}'")]),
    )?;
    attempt(pg.psql().args(["-c", &format!("SELECT '{SSN}' '{CARD}'")]))?;
    let long = format!(
        "SELECT id FROM customers WHERE email IN ({}) OR ssn = '{SSN}' OR card = '{CARD}';\n",
        (0..12000)
            .map(|i| format!("'x{i:05}'"))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(long.len() > 100_000);
    pg.psql_script(dir, "long.sql", &long)?;
    // A driver with bound parameters (not recorded without record_params).
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
            client
                .query(
                    "SELECT id FROM customers WHERE email = $1 AND ssn = $2",
                    &[&EMAIL, &SSN],
                )
                .await?;
            drop(client);
            let _ = task.await;
            anyhow::Ok(())
        })?;

    // MariaDB through its command line.
    let mariadb = |sql: &str| {
        let mut c = Command::new("mariadb");
        c.args(["--no-defaults", "-h", "127.0.0.1", "-uroot"])
            .args(["--skip-ssl", "-D", "dbgovtest", "-P"])
            .arg(db.port.to_string())
            .arg("-e")
            .arg(sql);
        c
    };
    attempt(&mut mariadb(&format!(
        "INSERT INTO customers VALUES (1, '{EMAIL}', '{SSN}', '{CARD}')"
    )))?;
    attempt(&mut mariadb(&format!(
        "INSERT INTO customers VALUES (2, '{EMAIL}', '{SSN}', '{CARD}') # {SSN}"
    )))?;
    attempt(&mut mariadb(&format!("SELECT '{SSN}' FROM FROM '{CARD}'")))?;
    Ok(())
}

/// The --record file's mode and bytes.
type Recorded = Option<(u32, Vec<u8>)>;

/// (trail, agent log, the --record file when recording).
fn run_agent(keep_literals: bool) -> anyhow::Result<(String, String, Recorded)> {
    let pg = Postgres::start()?;
    pg.psql_admin(
        "CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE, ssn text, card text)",
    )?;
    let db = Mariadb::start()?;
    db.sql("CREATE TABLE dbgovtest.customers (id INT PRIMARY KEY, email VARCHAR(64) UNIQUE, ssn VARCHAR(16), card VARCHAR(20))")?;
    let dir = TempDir::new("privacy")?;
    let record = dir.path().join("capture.dbgovrec");
    let pgp = pg.port.to_string();
    let myp = db.port.to_string();
    let rec = record.to_string_lossy().into_owned();
    let mut args = vec!["--postgres-port", &pgp, "--mysql-port", &myp];
    // --record holds raw bytes: only with redaction off.
    if keep_literals {
        args.extend(["--keep-literals", "--record", &rec]);
    }
    let agent = Agent::start(&args)?;
    workload(&pg, &db, &dir)?;
    agent.wait_for("the driver's statement and MariaDB's parse failure", |ev| {
        let st = statements(ev);
        st.iter().any(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("AND ssn = $2"))
        }) && st.iter().filter(|e| e["db"]["engine"] == "mysql").count() >= 3
    })?;
    let stderr_path = agent.stderr.clone();
    let events_path = agent.events.clone();
    let events_text = std::fs::read_to_string(&events_path)?;
    let mode = std::fs::metadata(&events_path)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the JSON-lines trail is private");
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let rec = if keep_literals {
        Some((
            std::fs::metadata(&record)?.permissions().mode() & 0o777,
            std::fs::read(&record)?,
        ))
    } else {
        assert!(!record.exists());
        None
    };
    // Enough happened for the check to mean something: both engines, errors included.
    let st = statements(&ev);
    assert!(st.len() >= 9, "{}", dump(&ev));
    assert!(
        st.iter().any(|e| e["outcome"]["error_code"] == "23505"),
        "a PostgreSQL duplicate key:\n{}",
        dump(&ev)
    );
    assert!(
        st.iter().any(|e| e["outcome"]["error_code"]
            .as_str()
            .is_some_and(|c| c.starts_with("1062"))),
        "a MariaDB duplicate entry:\n{}",
        dump(&ev)
    );
    assert!(
        st.iter().any(|e| e["statement"]["parse_error"].is_string()),
        "a parse failure:\n{}",
        dump(&ev)
    );
    Ok((events_text, log, rec))
}

#[test]
fn no_sensitive_value_reaches_the_trail_or_the_log() -> anyhow::Result<()> {
    if !require_agent()
        || !require(Postgres::available(), "PostgreSQL 15 server binaries")
        || !require(Mariadb::available(), "MariaDB server (mariadbd)")
    {
        return Ok(());
    }
    let (events, log, _) = run_agent(false)?;
    for v in [SSN, CARD, EMAIL, "not-a-real-secret"] {
        let at: Vec<&str> = events.lines().filter(|l| l.contains(v)).collect();
        assert!(at.is_empty(), "{v:?} is in the trail:\n{}", at.join("\n"));
        assert!(!log.contains(v), "{v:?} is in the agent's log:\n{log}");
    }
    // Raw bytes cannot be redacted: with redaction on, --record is refused up front, and no
    // file is made.
    let dir = TempDir::new("privacy-record")?;
    let record = dir.path().join("refused.dbgovrec");
    let out = Command::new(agent_bin())
        .args(["run", "--output", "none", "--record"])
        .arg(&record)
        .output()?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--keep-literals"), "{err}");
    assert!(!record.exists());

    // With redaction off the same run shows them: the check above can fail.
    let (events, _, rec) = run_agent(true)?;
    for v in [SSN, CARD, EMAIL] {
        assert!(events.contains(v), "keep_literals shows {v:?}");
    }
    let (rec_mode, rec_bytes) = rec.expect("a --record file");
    assert_eq!(rec_mode, 0o600, "--record files (raw bytes) are private");
    assert!(
        rec_bytes.windows(SSN.len()).any(|w| w == SSN.as_bytes()),
        "the record holds the raw bytes"
    );
    Ok(())
}
