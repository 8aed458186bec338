//! Conformance against the servers' own statement logs (issue 11): broad workloads through real
//! clients, and, per PostgreSQL backend pid or MariaDB connection id, the statements the server
//! logged compared with the agent's statement events, in count and in order. Any statement
//! missing, invented, duplicated, reordered, or reported `incomplete` although the server
//! completed it fails the test. See `dbgov_tests::oracle` for what counts as a statement on each
//! side and how texts are compared.
//!
//! The workloads (each prints its row in the table):
//! - PostgreSQL:
//!   - a psql script over TCP: COPY FROM STDIN in text and CSV, transactions with savepoints,
//!     errors from the parser and from execution, `\;` multi-statements, DO and dollar quoting,
//!     SQL-level PREPARE/EXECUTE, a cursor, COPY TO STDOUT, `\dt`, `\connect` to another
//!     database and back, statements of 30 KB and 100 KB;
//!   - psql over the Unix socket as the `postgres` OS user;
//!   - `pgbench -i` (COPY of 100,000 rows, DDL, VACUUM); pgbench `-M simple`, `-M extended` and
//!     `-M prepared`; a custom script in pipeline mode (`\startpipeline`) with prepared and with
//!     extended statements; `pgbench -C` (a new connection per transaction);
//!   - psycopg 3: plain parameters, `prepare=True`, automatic preparation, executemany, pipeline
//!     mode, COPY, a server-side cursor, errors, binary results;
//!   - tokio-postgres: named statements, pipelined queries, a portal fetched in pieces, a
//!     multi-statement simple query;
//!   - psql and pgbench over TLS (libpq's OpenSSL, read through the agent's uprobes).
//! - MariaDB:
//!   - the mariadb CLI over TCP: multi-statements through `DELIMITER`, a stored procedure and
//!     CALL, SQL-level PREPARE/EXECUTE, `USE`, LOAD DATA LOCAL INFILE, errors with `--force`,
//!     statements of 30 KB and 100 KB; the CLI over the Unix socket and over TLS;
//!   - a C-API client: binary prepared statements of several types, a read-only cursor with
//!     COM_STMT_FETCH, COM_STMT_SEND_LONG_DATA, statement reset, multi-statements, COM_INIT_DB,
//!     errors;
//!   - mysql_async: exec_batch, a statement cache, a transaction, multi-result text queries;
//!   - sysbench oltp_read_write with server-side prepared statements and with the text
//!     protocol.
//!
//! The regression tests at the end each stand for one bug of issue 11 (or one the suite found).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dbgov_tests::oracle::{self, Engine, ServerSession, Tally};
use dbgov_tests::*;
use serde_json::{json, Value};

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

fn have_psycopg() -> bool {
    Command::new(python())
        .args(["-c", "import psycopg"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn have_pgbench() -> bool {
    Command::new("pgbench")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn have_c_toolchain() -> bool {
    Path::new("/usr/include/mariadb/mysql.h").exists()
        && Command::new("gcc")
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
}

/// Compiles the MySQL C-API client into `dir`.
fn build_c_client(dir: &Path) -> anyhow::Result<PathBuf> {
    let bin = dir.join("mysql_client");
    run(Command::new("gcc")
        .args(["-O1", "-Wall", "-I/usr/include/mariadb", "-o"])
        .arg(&bin)
        .arg(clients_dir().join("mysql_client.c"))
        .arg("-lmariadb"))?;
    Ok(bin)
}

/// Waits until the agent has written at least `expected` statement events of `engine` and the
/// count has not moved for a second (or 60 s have passed), so that a duplicate written late is
/// still seen.
fn settle(agent: &Agent, engine: &str, expected: usize) -> usize {
    let t0 = Instant::now();
    let mut last = (0usize, Instant::now());
    loop {
        let n = agent
            .events()
            .iter()
            .filter(|e| e["kind"] == "statement" && e["db"]["engine"] == engine)
            .count();
        if n != last.0 {
            last = (n, Instant::now());
        }
        let quiet = last.1.elapsed() > Duration::from_millis(1500);
        if (n >= expected && quiet) || t0.elapsed() > Duration::from_secs(60) {
            return n;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Prints the table and the examples, and fails when any workload is not clean. The agent's
/// gap events are listed to help explain a difference.
fn check(title: &str, rows: &BTreeMap<String, Tally>, expected_labels: &[&str], ev: &[Value]) {
    let mut table = oracle::table(title, rows);
    let gaps = of_kind(ev, "gap");
    table.push_str(&format!("agent gap events: {}\n", gaps.len()));
    for g in gaps.iter().take(10) {
        table.push_str(&format!(
            "  gap {} backend={} comm={}\n",
            g["gap"], g["session"]["backend_id"], g["client"]["comm"]
        ));
    }
    println!("{table}");
    let mut problems = String::new();
    for (name, t) in rows {
        if !t.is_clean() {
            problems.push_str(&format!("\n{name}:\n  {}", t.examples.join("\n  ")));
        }
    }
    for l in expected_labels {
        let t = rows.get(*l);
        assert!(
            t.is_some_and(|t| t.server > 0),
            "workload {l} left no statement in the server log:{table}"
        );
    }
    assert!(
        problems.is_empty(),
        "the agent's events differ from the server's log:{table}{problems}"
    );
}

/// Keeps the sessions that began after `mark` (a record index for PostgreSQL, a byte offset for
/// MariaDB).
fn after(sessions: BTreeMap<u64, ServerSession>, mark: usize) -> BTreeMap<u64, ServerSession> {
    sessions
        .into_iter()
        .filter(|(_, s)| s.first_offset >= mark)
        .collect()
}

const PSQL_SCRIPT: &str = r#"-- conformance: a psql script
CREATE TABLE conf_items (id int PRIMARY KEY, name text, price numeric(10,2), created timestamptz DEFAULT now());
INSERT INTO conf_items (id, name, price) VALUES (1, 'one', 1.50), (2, 'two''s', 2.25), (3, E'three\n', -3);
COPY conf_items (id, name, price) FROM STDIN;
10	ten	10.00
11	eleven	11.00
\.
COPY conf_items (id, name, price) FROM STDIN WITH (FORMAT csv);
12,"twelve, quoted",12
13,thirteen,13
\.
SELECT id, name
  FROM conf_items
 WHERE price > 2   -- a comment inside the statement
 ORDER BY id;
BEGIN;
UPDATE conf_items SET price = price * 2 WHERE id = 1;
SAVEPOINT s1;
DELETE FROM conf_items WHERE id = 2;
ROLLBACK TO SAVEPOINT s1;
COMMIT;
BEGIN;
INSERT INTO conf_items (id, name) VALUES (1, 'duplicate key');
ROLLBACK;
SELEC broken_syntax;
SELECT 1 / 0;
SELECT 1 \; SELECT 2 \; SELECT 'three';
DO $$ BEGIN PERFORM count(*) FROM conf_items; END $$;
CREATE FUNCTION conf_add(a int, b int) RETURNS int LANGUAGE sql AS $body$ SELECT a + b $body$;
SELECT conf_add(2, 3);
PREPARE q (int) AS SELECT name FROM conf_items WHERE id = $1;
EXECUTE q(1);
EXECUTE q(10);
DEALLOCATE q;
BEGIN;
DECLARE c CURSOR FOR SELECT * FROM conf_items ORDER BY id;
FETCH 2 FROM c;
FETCH ALL FROM c;
CLOSE c;
COMMIT;
COPY (SELECT id, name FROM conf_items ORDER BY id) TO STDOUT;
WITH t AS (SELECT id FROM conf_items) SELECT count(*) FROM t;
\dt
SELECT $tag$dollar 'quoted'$tag$, 'x' || 'y', ARRAY[1, 2, 3], '{"a": 1}'::jsonb -> 'a';
\connect otherdb
CREATE TABLE other_notes (id serial PRIMARY KEY, body text);
INSERT INTO other_notes (body) SELECT 'note ' || g FROM generate_series(1, 50) g;
SELECT count(*) FROM other_notes;
\connect dbgovtest
SELECT count(*) FROM conf_items;
"#;

fn rt() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// tokio-postgres (the Rust driver, no libpq): named statements, queries pipelined on one
/// connection, a portal fetched in pieces inside a transaction, unprepared queries with text
/// parameters, a multi-statement simple query, an execution error.
fn tokio_postgres_workload(port: u16) -> anyhow::Result<()> {
    rt()?.block_on(async move {
        let (mut client, conn) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={port} user=postgres dbname=dbgovtest application_name=tokio_postgres"
            ),
            tokio_postgres::NoTls,
        )
        .await?;
        let task = tokio::spawn(conn);
        client
            .batch_execute(
                "CREATE TABLE tp_items (id int PRIMARY KEY, v text); \
                 INSERT INTO tp_items SELECT g, 'v' || g FROM generate_series(1, 100) g",
            )
            .await?;
        let stmt = client.prepare("SELECT v FROM tp_items WHERE id = $1").await?;
        for i in 1..=60i32 {
            client.query_one(&stmt, &[&i]).await?;
        }
        // Pipelined: four requests written before any response is read.
        for i in 0..20i32 {
            let ids = [i * 4 + 1, i * 4 + 2, i * 4 + 3, i * 4 + 4];
            let p: Vec<[&(dyn tokio_postgres::types::ToSql + Sync); 1]> =
                ids.iter().map(|id| [id as _]).collect();
            let (a, b, c, d) = tokio::join!(
                client.query(&stmt, &p[0]),
                client.query(&stmt, &p[1]),
                client.query(&stmt, &p[2]),
                client.query(&stmt, &p[3]),
            );
            assert_eq!(a?.len() + b?.len() + c?.len() + d?.len(), 4);
        }
        // A portal fetched 7 rows at a time.
        let range = client.prepare("SELECT id, v FROM tp_items WHERE id > $1 ORDER BY id").await?;
        let tx = client.transaction().await?;
        let portal = tx.bind(&range, &[&40i32]).await?;
        let mut fetched = 0;
        loop {
            let rows = tx.query_portal(&portal, 7).await?;
            fetched += rows.len();
            if rows.len() < 7 {
                break;
            }
        }
        assert_eq!(fetched, 60);
        tx.execute("UPDATE tp_items SET v = upper(v) WHERE id <= $1", &[&10i32])
            .await?;
        tx.commit().await?;
        for i in 0..30 {
            client
                .query("SELECT id FROM tp_items WHERE v = $1", &[&format!("v{i}")])
                .await?;
        }
        client.simple_query("SELECT 1; SELECT 'two'").await?;
        assert!(client.query("SELECT 1 / $1::int", &[&0i32]).await.is_err());
        drop(client);
        let _ = task.await;
        anyhow::Ok(())
    })
}

/// mysql_async (the Rust driver): binary prepared statements with a statement cache, exec_batch,
/// a transaction, text queries with several result sets, an error.
fn mysql_async_workload(port: u16) -> anyhow::Result<()> {
    rt()?.block_on(async move {
        use mysql_async::prelude::*;
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some("root"))
            .db_name(Some("dbgovtest"))
            .prefer_socket(false);
        let mut conn = mysql_async::Conn::new(opts).await?;
        conn.query_drop(
            "CREATE TABLE ma_items (id INT PRIMARY KEY, v VARCHAR(32), d DOUBLE, t DATETIME NULL)",
        )
        .await?;
        let ins = conn
            .prep("INSERT INTO ma_items VALUES (?, ?, ?, ?)")
            .await?;
        conn.exec_batch(
            &ins,
            (0..100).map(|i| (i, format!("v{i}"), f64::from(i) * 0.5, None::<String>)),
        )
        .await?;
        let sel = conn
            .prep("SELECT v, d FROM ma_items WHERE id BETWEEN ? AND ?")
            .await?;
        for i in 0..50 {
            let rows: Vec<(String, f64)> = conn.exec(&sel, (i, i + 3)).await?;
            assert_eq!(rows.len(), 4);
        }
        let mut tx = conn
            .start_transaction(mysql_async::TxOpts::default())
            .await?;
        tx.exec_drop("UPDATE ma_items SET d = d + ? WHERE id < ?", (1.5, 10))
            .await?;
        tx.exec_drop("DELETE FROM ma_items WHERE id = ?", (99,))
            .await?;
        tx.commit().await?;
        conn.query_drop("SELECT 1; SELECT v FROM ma_items WHERE id < 3; SELECT NOW()")
            .await?;
        assert!(conn.query_drop("SELEC broken").await.is_err());
        conn.disconnect().await?;
        anyhow::Ok(())
    })
}

const PGBENCH_PIPELINE: &str = r"\set aid random(1, 100000 * :scale)
\set delta random(-5000, 5000)
\startpipeline
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT 1;
\endpipeline
";

#[test]
fn postgres_statements_match_the_server_log() -> anyhow::Result<()> {
    if !require_agent()
        || !require(Postgres::available(), "PostgreSQL 15 server binaries")
        || !require(have_pgbench(), "pgbench (postgresql-contrib)")
        || !require(have_psycopg(), "psycopg 3 for python3 (cargo xtask setup)")
    {
        return Ok(());
    }
    // TLS is accepted: the plaintext workloads say sslmode=disable, the TLS ones require it.
    let pg = Postgres::start_logged_with(true)?;
    pg.psql_admin("CREATE DATABASE otherdb")?;
    let dir = TempDir::new("conformance-pg")?;
    run(Command::new("chmod").arg("755").arg(dir.path()))?;
    let script = dir.path().join("script.sql");
    let mut text = PSQL_SCRIPT.to_string();
    // Statements longer than a capture chunk (16 KiB) and than the capture limit (64 KiB).
    text.push_str(&format!(
        "CREATE TABLE conf_big (v text);\nINSERT INTO conf_big VALUES ('{}');\nINSERT INTO conf_big VALUES ('{}');\nSELECT length(v) FROM conf_big;\n",
        "x".repeat(30_000),
        "y".repeat(100_000)
    ));
    for i in 0..150 {
        text.push_str(&format!(
            "INSERT INTO conf_items (id, name, price) VALUES ({}, 'item {i}', {i}.5);\nSELECT * FROM conf_items WHERE id = {};\n",
            100 + i,
            100 + i
        ));
    }
    std::fs::write(&script, text)?;
    let pipeline = dir.path().join("pipeline.sql");
    std::fs::write(&pipeline, PGBENCH_PIPELINE)?;
    run(Command::new("chmod").arg("-R").arg("a+r").arg(dir.path()))?;

    std::thread::sleep(Duration::from_millis(500));
    let mark = oracle::parse_csv(&std::fs::read_to_string(pg.statement_log())?).len();
    let glob = format!("{}/.s.PGSQL.*", pg.socket_dir.display());
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--postgres-socket",
        &glob,
    ])?;

    let port = pg.port.to_string();
    let tcp = ["-h", "127.0.0.1", "-U", "postgres", "-p", port.as_str()];
    let pgbench = |app: &str, args: &[&str]| -> anyhow::Result<String> {
        run(Command::new("pgbench")
            .env("PGAPPNAME", app)
            .env("PGSSLMODE", "disable")
            .args(tcp)
            .args(args)
            .arg("dbgovtest"))
    };
    let mut labels = Vec::new();

    labels.push("psql_script");
    let out = Command::new("psql")
        .env("PGAPPNAME", "psql_script")
        .env("PGSSLMODE", "disable")
        .args(["-X", "-q", "-d", "dbgovtest"])
        .args(tcp)
        .arg("-f")
        .arg(&script)
        .stdout(Stdio::null())
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken_syntax") && err.contains("division by zero"),
        "{err}"
    );

    labels.push("psql_unix");
    run(Command::new("runuser")
        .args(["-u", "postgres", "--", "env", "PGAPPNAME=psql_unix", "psql"])
        .args(["-X", "-q", "-d", "dbgovtest", "-h"])
        .arg(&pg.socket_dir)
        .args(["-p", port.as_str()])
        .args([
            "-c",
            "SELECT count(*) FROM conf_items",
            "-c",
            "UPDATE conf_items SET name = upper(name) WHERE id < 5",
            "-c",
            "SELECT current_user, 'over the socket'",
        ]))?;

    labels.push("pgbench_init");
    pgbench("pgbench_init", &["-i", "-s", "1", "-q"])?;
    labels.push("pgbench_simple");
    pgbench(
        "pgbench_simple",
        &["-n", "-M", "simple", "-c", "2", "-j", "2", "-t", "60"],
    )?;
    labels.push("pgbench_extended");
    pgbench(
        "pgbench_extended",
        &["-n", "-M", "extended", "-c", "2", "-j", "2", "-t", "60"],
    )?;
    labels.push("pgbench_prepared");
    pgbench(
        "pgbench_prepared",
        &["-n", "-M", "prepared", "-c", "2", "-j", "2", "-t", "60"],
    )?;
    let pipeline = pipeline.display().to_string();
    labels.push("pgbench_pipeline_prep");
    pgbench(
        "pgbench_pipeline_prep",
        &[
            "-n", "-M", "prepared", "-c", "2", "-j", "2", "-t", "80", "-f", &pipeline,
        ],
    )?;
    labels.push("pgbench_pipeline_ext");
    pgbench(
        "pgbench_pipeline_ext",
        &[
            "-n", "-M", "extended", "-c", "1", "-t", "80", "-f", &pipeline,
        ],
    )?;
    labels.push("pgbench_connect");
    pgbench(
        "pgbench_connect",
        &[
            "-n", "-C", "-S", "-M", "extended", "-c", "2", "-j", "2", "-t", "100",
        ],
    )?;
    labels.push("psycopg");
    run(Command::new(python())
        .arg(clients_dir().join("psycopg_workload.py"))
        .arg("conformance")
        .arg(format!(
            "host=127.0.0.1 port={port} user=postgres dbname=dbgovtest application_name=psycopg sslmode=disable"
        )))?;
    labels.push("tokio_postgres");
    tokio_postgres_workload(pg.port)?;
    // TLS: libpq's OpenSSL, read through the uprobes.
    labels.push("psql_tls");
    run(Command::new("psql")
        .env("PGAPPNAME", "psql_tls")
        .env("PGSSLMODE", "require")
        .args(["-X", "-q", "-d", "dbgovtest"])
        .args(tcp)
        .args([
            "-c",
            "SELECT count(*) FROM conf_items WHERE name LIKE 'item%'",
            "-c",
            "UPDATE conf_items SET price = price + 1 WHERE id = 1",
            "-c",
            "COPY (SELECT id, name FROM conf_items ORDER BY id) TO STDOUT",
            "-c",
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ]))?;
    labels.push("pgbench_tls");
    run(Command::new("pgbench")
        .env("PGAPPNAME", "pgbench_tls")
        .env("PGSSLMODE", "require")
        .args(tcp)
        .args(["-n", "-M", "extended", "-c", "2", "-j", "2", "-t", "40"])
        .arg("dbgovtest"))?;

    // The logging collector writes asynchronously.
    std::thread::sleep(Duration::from_millis(1000));
    let server = after(
        oracle::postgres_sessions(&std::fs::read_to_string(pg.statement_log())?),
        mark,
    );
    let expected: usize = server.values().map(|s| s.statements.len()).sum();
    settle(&agent, "postgresql", expected);
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    let rows = oracle::compare(&server, &ev, Engine::Postgres);
    check(
        "PostgreSQL: server log vs agent events",
        &rows,
        &labels,
        &ev,
    );
    Ok(())
}

/// Records, after each MariaDB workload, where the general log ended: a session belongs to the
/// workload during which its first record was written.
struct Segments {
    log: PathBuf,
    ends: Vec<(String, usize)>,
}

impl Segments {
    fn size(&self) -> usize {
        std::fs::metadata(&self.log)
            .map(|m| m.len() as usize)
            .unwrap_or(0)
    }
    fn done(&mut self, name: &str) {
        std::thread::sleep(Duration::from_millis(300));
        let end = self.size();
        self.ends.push((name.to_string(), end));
    }
    fn label(&self, offset: usize) -> String {
        self.ends
            .iter()
            .find(|(_, end)| offset < *end)
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| "(after the workloads)".into())
    }
}

fn mariadb_cli_script(dir: &Path) -> anyhow::Result<String> {
    let csv = dir.join("load.csv");
    let mut rows = String::new();
    for i in 0..200 {
        rows.push_str(&format!("{i},loaded {i}\n"));
    }
    std::fs::write(&csv, rows)?;
    let mut s = format!(
        r#"-- conformance: a mariadb CLI script
CREATE TABLE cli_items (id INT PRIMARY KEY, name VARCHAR(64), price DECIMAL(10,2), note TEXT);
INSERT INTO cli_items VALUES (1, 'one', 1.50, NULL), (2, 'it''s', 2.25, "double"), (3, 'back\\slash', -3, 'x');
SELECT id, name
  FROM cli_items
 WHERE price > 1 # a comment
 ORDER BY id;
DELIMITER //
SELECT 1; SELECT 2; INSERT INTO cli_items VALUES (4, 'multi', 4, NULL)//
CREATE PROCEDURE cli_proc(IN lim INT)
BEGIN
  SELECT id FROM cli_items WHERE id <= lim;
  UPDATE cli_items SET price = price + 1 WHERE id <= lim;
END//
DELIMITER ;
CALL cli_proc(2);
PREPARE s FROM 'SELECT name FROM cli_items WHERE id = ?';
SET @a = 1;
EXECUTE s USING @a;
SET @a = 4;
EXECUTE s USING @a;
DEALLOCATE PREPARE s;
START TRANSACTION;
UPDATE cli_items SET note = 'in tx' WHERE id = 1;
SAVEPOINT sp;
DELETE FROM cli_items WHERE id = 2;
ROLLBACK TO SAVEPOINT sp;
COMMIT;
INSERT INTO cli_items VALUES (1, 'duplicate', 0, NULL);
SELEC broken_syntax;
SELECT * FROM no_such_table;
CREATE TABLE cli_loaded (id INT, name VARCHAR(64));
LOAD DATA LOCAL INFILE '{}' INTO TABLE cli_loaded FIELDS TERMINATED BY ',';
SELECT COUNT(*) FROM cli_loaded;
SELECT @@version_comment, DATABASE(), 'a' 'b', 0x41, X'42', b'1', NOW() - INTERVAL 1 DAY;
USE otherdb;
CREATE TABLE cli_notes (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT);
INSERT INTO cli_notes (body) VALUES ('first'), ('second');
USE dbgovtest;
"#,
        csv.display()
    );
    // Statements longer than a capture chunk (16 KiB) and than the capture limit (64 KiB).
    s.push_str(&format!(
        "CREATE TABLE cli_big (v LONGTEXT);\nINSERT INTO cli_big VALUES ('{}');\nINSERT INTO cli_big VALUES ('{}');\nSELECT LENGTH(v) FROM cli_big;\n",
        "x".repeat(30_000),
        "y".repeat(100_000)
    ));
    for i in 0..150 {
        s.push_str(&format!(
            "INSERT INTO cli_items VALUES ({}, 'item {i}', {i}.5, 'note {i}');\nSELECT * FROM cli_items WHERE id = {};\n",
            100 + i,
            100 + i
        ));
    }
    Ok(s)
}

#[test]
fn mariadb_statements_match_the_general_log() -> anyhow::Result<()> {
    if !require_agent()
        || !require(Mariadb::available(), "MariaDB server (mariadbd)")
        || !require(
            have_c_toolchain(),
            "gcc and libmariadb-dev (cargo xtask setup)",
        )
        || !require(Path::new("/usr/bin/sysbench").exists(), "sysbench")
    {
        return Ok(());
    }
    // TLS is accepted; only the mariadb_cli_tls workload asks for it.
    let db = Mariadb::start_with(true)?;
    let dir = TempDir::new("conformance-my")?;
    let client = build_c_client(dir.path())?;
    let script = mariadb_cli_script(dir.path())?;
    let sysbench = |mode: &str, cmd: &str, extra: &[&str]| {
        let mut c = Command::new("sysbench");
        c.args([
            "oltp_read_write",
            "--db-driver=mysql",
            "--mysql-host=127.0.0.1",
            "--mysql-user=root",
            "--mysql-db=dbgovtest",
            "--mysql-ssl=off",
            "--tables=2",
            "--table-size=500",
            "--threads=2",
        ])
        .arg(format!("--db-ps-mode={mode}"))
        .arg(format!("--mysql-port={}", db.port))
        .args(extra)
        .arg(cmd);
        c
    };
    run(&mut sysbench("auto", "prepare", &[]))?;
    let log = db.enable_general_log()?;
    let mut seg = Segments {
        log,
        ends: Vec::new(),
    };
    std::thread::sleep(Duration::from_millis(300));
    let mark = seg.size();
    let sock = db.socket.display().to_string();
    let agent = Agent::start(&[
        "--mysql-port",
        &db.port.to_string(),
        "--mysql-socket",
        &sock,
        "--postgres-port",
        "1",
    ])?;
    let port = db.port.to_string();

    let mut cli = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--force",
            "--skip-ssl",
            "--local-infile=1",
            "-h",
            "127.0.0.1",
            "-uroot",
            "-D",
            "dbgovtest",
            "-P",
            &port,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = cli.stdin.take().ok_or_else(|| anyhow::anyhow!("stdin"))?;
        stdin.write_all(script.as_bytes())?;
    }
    let out = cli.wait_with_output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken_syntax") && err.contains("no_such_table"),
        "{err}"
    );
    seg.done("mariadb_cli");

    run(Command::new("mariadb")
        .args(["--no-defaults", "-uroot", "-D", "dbgovtest", "-S", &sock])
        .args([
            "-e",
            "SELECT COUNT(*) FROM cli_items; UPDATE cli_items SET name = UPPER(name) WHERE id < 3; SELECT CURRENT_USER(), 'over the socket'",
        ]))?;
    seg.done("mariadb_cli_unix");

    run(Command::new("mariadb")
        .args(["--no-defaults", "--ssl", "--ssl-verify-server-cert=0"])
        .args(["-h", "127.0.0.1", "-uroot", "-D", "dbgovtest", "-P", &port])
        .args([
            "-e",
            "SELECT COUNT(*) FROM cli_items; UPDATE cli_items SET price = price + 1 WHERE id = 1; SHOW STATUS LIKE 'Ssl_cipher'",
        ]))?;
    seg.done("mariadb_cli_tls");

    let out = run(Command::new(&client).args(["conformance", "127.0.0.1", &port]))?;
    assert!(out.contains("conformance workload done"), "{out}");
    seg.done("c_api");

    mysql_async_workload(db.port)?;
    seg.done("mysql_async");

    run(&mut sysbench("auto", "run", &["--events=60", "--time=0"]))?;
    seg.done("sysbench_prepared");
    run(&mut sysbench(
        "disable",
        "run",
        &["--events=40", "--time=0"],
    ))?;
    seg.done("sysbench_text");

    let mut server = after(
        oracle::mariadb_sessions(&std::fs::read_to_string(&seg.log)?),
        mark,
    );
    for s in server.values_mut() {
        s.label = seg.label(s.first_offset);
    }
    let expected: usize = server.values().map(|s| s.statements.len()).sum();
    settle(&agent, "mysql", expected);
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    let rows = oracle::compare(&server, &ev, Engine::Mysql);
    check(
        "MariaDB: general log vs agent events",
        &rows,
        &[
            "mariadb_cli",
            "mariadb_cli_unix",
            "mariadb_cli_tls",
            "c_api",
            "mysql_async",
            "sysbench_prepared",
            "sysbench_text",
        ],
        &ev,
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Regression tests for the bugs of issue 11.

const PATIENT_COLUMNS: [&str; 5] = [
    "patients.card_number",
    "patients.diagnosis",
    "patients.email",
    "patients.id",
    "patients.name",
];

/// Issue 11, "`SELECT *` is missed by the common drivers": psycopg 3 sends Bind, Describe
/// (portal), Execute, and the RowDescription answers the portal Describe. With the bug, the
/// events of `SELECT * FROM patients WHERE id = $1` listed only `patients.id` (the column in the
/// WHERE clause), so the card number, e-mail and diagnosis were never classified. Both the
/// unnamed statement and the named one (`prepare=True`, executed twice: the second execution
/// has no Describe at all and must use what the statement learnt) must list every column.
#[test]
fn regression_psycopg_select_star_lists_every_column() -> anyhow::Result<()> {
    if !require_agent()
        || !require(Postgres::available(), "PostgreSQL 15 server binaries")
        || !require(have_psycopg(), "psycopg 3 for python3 (cargo xtask setup)")
    {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let port = pg.port;
    run(Command::new("psql")
        .args(["-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "dbgovtest", "-p"])
        .arg(port.to_string())
        .args([
            "-c",
            "CREATE TABLE patients (id int PRIMARY KEY, name text, email text, card_number text, diagnosis text)",
            "-c",
            "INSERT INTO patients VALUES (1, 'Ann', 'ann@example.com', '4111111111111111', 'flu'), (2, 'Bob', 'bob@example.com', '5500000000000004', 'cold')",
        ]))?;
    let agent = Agent::start(&["--postgres-port", &port.to_string()])?;
    run(Command::new(python())
        .arg(clients_dir().join("psycopg_workload.py"))
        .arg("star")
        .arg(format!(
            "host=127.0.0.1 port={port} user=postgres dbname=dbgovtest application_name=star"
        )))?;
    let text = "SELECT * FROM patients WHERE id = $1";
    agent.wait_for("the three SELECT * executions", |ev| {
        with_text(ev, text).len() >= 3
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let st = with_text(&ev, text);
    assert_eq!(st.len(), 3, "one event per execution:\n{}", dump(&ev));
    for (i, e) in st.iter().enumerate() {
        let how = if i == 0 {
            "unnamed statement"
        } else {
            "prepare=True"
        };
        assert_eq!(e["statement"]["prepared"], true, "{e}");
        assert_eq!(
            e["statement"]["columns"]["read"],
            json!(PATIENT_COLUMNS),
            "{how}: `*` must be resolved from the RowDescription that answers the portal Describe: {e}"
        );
        assert_eq!(
            e["classification"]["classes"],
            json!(["pci.pan", "phi.diagnosis", "pii.email", "pii.name"]),
            "{how}: {e}"
        );
        assert_eq!(e["classification"]["level"], "restricted", "{how}: {e}");
        assert_eq!(e["outcome"]["rows"], 1, "{how}: {e}");
    }
    // The unnamed statement (null or the empty name, as on the wire).
    assert!(
        st[0]["statement"]["name"].is_null() || st[0]["statement"]["name"] == "",
        "{}",
        st[0]
    );
    assert_eq!(st[1]["statement"]["name"], "_pg3_0", "{}", st[1]);
    assert_eq!(st[2]["statement"]["name"], "_pg3_0", "{}", st[2]);
    Ok(())
}

/// Issue 11, "Short connections are counted twice and lose their identity": with `pgbench -S
/// -C` every statement appeared twice (once decoded from the client's socket, once from the
/// server's, because the two ends of each local connection were not paired in time), most
/// client-side events had no `client.exe`, and the server-side copies had no client at all.
/// Each statement must be reported exactly once (checked against the server log), and every
/// event must name its client: `client.exe`, or at least the kernel's `client.pid` and
/// `client.comm` when the process is gone before `/proc` is read.
#[test]
fn regression_pgbench_connect_churn_reports_each_statement_once_with_its_client(
) -> anyhow::Result<()> {
    if !require_agent()
        || !require(Postgres::available(), "PostgreSQL 15 server binaries")
        || !require(have_pgbench(), "pgbench (postgresql-contrib)")
    {
        return Ok(());
    }
    let pg = Postgres::start_logged()?;
    let port = pg.port.to_string();
    pgbench_init(pg.port)?;
    std::thread::sleep(Duration::from_millis(500));
    let mark = oracle::parse_csv(&std::fs::read_to_string(pg.statement_log())?).len();
    let agent = Agent::start(&["--postgres-port", &port])?;
    let out = run(Command::new("pgbench")
        .env("PGAPPNAME", "churn")
        .args([
            "-n", "-C", "-S", "-M", "simple", "-c", "2", "-j", "2", "-t", "150",
        ])
        .args(["-h", "127.0.0.1", "-U", "postgres", "-p", &port])
        .arg("dbgovtest"))?;
    assert!(
        out.contains("number of transactions actually processed: 300/300"),
        "{out}"
    );
    std::thread::sleep(Duration::from_millis(1000));
    let server = after(
        oracle::postgres_sessions(&std::fs::read_to_string(pg.statement_log())?),
        mark,
    );
    assert!(
        server.len() >= 300,
        "a connection per transaction: {}",
        server.len()
    );
    let expected: usize = server.values().map(|s| s.statements.len()).sum();
    settle(&agent, "postgresql", expected);
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let rows = oracle::compare(&server, &ev, Engine::Postgres);
    check(
        "pgbench -C: server log vs agent events",
        &rows,
        &["churn"],
        &ev,
    );
    let st = statements(&ev);
    let nameless: Vec<String> = st
        .iter()
        .filter(|e| {
            e["client"]["exe"].as_str().is_none()
                && (e["client"]["pid"].as_u64().is_none() || e["client"]["comm"].as_str().is_none())
        })
        .map(|e| oracle::compact(e))
        .collect();
    assert!(
        nameless.is_empty(),
        "{} of {} events name no client process (no client.exe, and no client.pid/client.comm):\n{}",
        nameless.len(),
        st.len(),
        nameless[..nameless.len().min(10)].join("\n")
    );
    for e in &st {
        assert_eq!(e["session"]["observed_at"], "client", "{e}");
        assert_eq!(e["client"]["comm"], "pgbench", "{e}");
    }
    Ok(())
}

/// Issue 11, "Large executes vanish": a COM_STMT_EXECUTE of about 500 KB (5,000 string
/// parameters of 100 bytes) produced `capture lost N bytes` gaps and no statement event. The
/// README promises that a statement cut by the 64 KiB capture limit is still reported (marked
/// incomplete when its response cannot be followed). One event, and the session goes on.
#[test]
fn regression_mysql_500kb_execute_is_one_statement() -> anyhow::Result<()> {
    if !require_agent()
        || !require(Mariadb::available(), "MariaDB server (mariadbd)")
        || !require(
            have_c_toolchain(),
            "gcc and libmariadb-dev (cargo xtask setup)",
        )
    {
        return Ok(());
    }
    let db = Mariadb::start()?;
    let dir = TempDir::new("bigexec")?;
    let client = build_c_client(dir.path())?;
    let agent = Agent::start(&["--mysql-port", &db.port.to_string(), "--postgres-port", "1"])?;
    let out =
        run(Command::new(&client).args(["big", "127.0.0.1", &db.port.to_string(), "5000", "100"]))?;
    assert!(out.contains("big execute done: 5000 rows"), "{out}");
    let count = "SELECT COUNT(*) FROM big_exec";
    agent.wait_for("the statement after the large execute", |ev| {
        !with_text(ev, count).is_empty() && !of_kind(ev, "session_end").is_empty()
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let mut sql = String::from("INSERT INTO big_exec (v) VALUES (?)");
    for _ in 1..5000 {
        sql.push_str(",(?)");
    }
    let big = with_text(&ev, &sql);
    assert_eq!(
        big.len(),
        1,
        "the 500 KB execute must be one statement event; statements: {:?}; gaps: {}",
        statements(&ev)
            .iter()
            .map(|e| e["statement"]["text"]
                .as_str()
                .unwrap_or("<null>")
                .chars()
                .take(60)
                .collect::<String>())
            .collect::<Vec<_>>(),
        dump(&of_kind(&ev, "gap").into_iter().cloned().collect::<Vec<_>>())
    );
    let e = big[0];
    assert_eq!(e["statement"]["prepared"], true, "{e}");
    assert_eq!(e["statement"]["kind"], "INSERT", "{e}");
    assert!(
        e["outcome"]["status"] == "ok" || e["outcome"]["status"] == "incomplete",
        "{e}"
    );
    if e["outcome"]["status"] == "ok" {
        assert_eq!(e["outcome"]["rows"], 5000, "{e}");
        assert_eq!(e["statement"]["params"], 5000, "{e}");
    }
    assert_eq!(with_text(&ev, count).len(), 1, "{}", dump(&ev));
    assert_eq!(
        with_text(&ev, count)[0]["outcome"]["status"],
        "ok",
        "the session is followed after the large execute"
    );
    Ok(())
}

/// Issue 11, "Tables collide across databases": the table-OID cache behind `*` resolution was
/// global and keyed by OID alone, but OIDs are per database. A database created from another
/// as its template has the same OIDs for different tables: here OID X is `patients` in
/// clinic_a and, renamed with other columns, `inventory` in clinic_b; clinic_b also has a
/// `patients` table of its own with other columns. Each `SELECT *` (extended protocol) must
/// list its own database's table and columns.
#[test]
fn regression_table_oids_are_per_database() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let port = pg.port;
    let psql = |db: &str, sql: &str| {
        run(Command::new("psql")
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-p",
            ])
            .arg(port.to_string())
            .args(["-d", db, "-c", sql]))
    };
    psql("postgres", "CREATE DATABASE clinic_a")?;
    psql(
        "clinic_a",
        "CREATE TABLE patients (id int, name text, email text, card_number text, diagnosis text); \
         INSERT INTO patients VALUES (1, 'Ann', 'ann@example.com', '4111111111111111', 'flu')",
    )?;
    psql("postgres", "CREATE DATABASE clinic_b TEMPLATE clinic_a")?;
    psql(
        "clinic_b",
        "ALTER TABLE patients RENAME TO inventory; \
         ALTER TABLE inventory DROP COLUMN email, DROP COLUMN card_number, DROP COLUMN diagnosis, ADD COLUMN sku text; \
         CREATE TABLE patients (id int, sku text, price numeric); \
         INSERT INTO patients VALUES (1, 'x', 2)",
    )?;
    let agent = Agent::start(&["--postgres-port", &port.to_string()])?;
    let query = |db: &'static str, sql: &'static str| -> anyhow::Result<()> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(async move {
                let (client, conn) = tokio_postgres::connect(
                    &format!("host=127.0.0.1 port={port} user=postgres dbname={db}"),
                    tokio_postgres::NoTls,
                )
                .await?;
                let task = tokio::spawn(conn);
                let rows = client.query(sql, &[&0i32]).await?;
                assert_eq!(rows.len(), 1, "{db}: {sql}");
                drop(client);
                let _ = task.await;
                anyhow::Ok(())
            })
    };
    // clinic_a teaches the agent that OID X is `patients`; in clinic_b, X is `inventory`.
    query("clinic_a", "SELECT * FROM patients WHERE id > $1")?;
    query("clinic_b", "SELECT * FROM inventory WHERE id > $1")?;
    query("clinic_b", "SELECT * FROM patients WHERE id > $1")?;
    query("clinic_a", "SELECT * FROM patients WHERE id > $1")?;
    agent.wait_for("the four SELECT *", |ev| {
        statements(ev)
            .iter()
            .filter(|e| {
                e["statement"]["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("SELECT * FROM"))
            })
            .count()
            >= 4
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let got: Vec<(String, String, Value)> = statements(&ev)
        .iter()
        .filter(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("SELECT * FROM"))
        })
        .map(|e| {
            (
                e["db"]["name"].as_str().unwrap_or("").to_string(),
                e["statement"]["text"].as_str().unwrap_or("").to_string(),
                e["statement"]["columns"]["read"].clone(),
            )
        })
        .collect();
    let a = json!(PATIENT_COLUMNS);
    let want = vec![
        (
            "clinic_a".to_string(),
            "SELECT * FROM patients WHERE id > $1".to_string(),
            a.clone(),
        ),
        (
            "clinic_b".to_string(),
            "SELECT * FROM inventory WHERE id > $1".to_string(),
            json!(["inventory.id", "inventory.name", "inventory.sku"]),
        ),
        (
            "clinic_b".to_string(),
            "SELECT * FROM patients WHERE id > $1".to_string(),
            json!(["patients.id", "patients.price", "patients.sku"]),
        ),
        (
            "clinic_a".to_string(),
            "SELECT * FROM patients WHERE id > $1".to_string(),
            a,
        ),
    ];
    assert_eq!(got, want, "{}", dump(&ev));
    Ok(())
}

/// A statement longer than the 64 KiB capture limit must still be reported once (README:
/// "a statement cut by the 64 KiB capture limit is still reported, marked incomplete"), its
/// text redacted like any other (no part of the cut literal in `statement.text`), and the
/// statements after it must keep their own outcomes.
///
/// Found by the conformance suite (agent as of 2026-12-02): PostgreSQL (psql, simple protocol)
/// reports no event at all for a 100 KB INSERT, only `missing_bytes` and `truncated` gaps;
/// MariaDB (mariadb CLI, COM_QUERY) reports it, but its `statement.text` is
/// `INSERT INTO big VALUES (?yyyy...` with about 16 KB of the literal's bytes, and every later
/// response of the session is paired with the command before it (the next statement gets the
/// rows of the one after, and the last is reported `incomplete`).
#[test]
fn regression_statements_beyond_the_capture_limit_are_reported_and_redacted() -> anyhow::Result<()>
{
    if !require_agent()
        || !require(Postgres::available(), "PostgreSQL 15 server binaries")
        || !require(Mariadb::available(), "MariaDB server (mariadbd)")
    {
        return Ok(());
    }
    let secret = "y".repeat(100_000);
    let script = |text_type: &str| {
        format!(
            "CREATE TABLE big (v {text_type});\nINSERT INTO big VALUES ('{secret}');\nSELECT length(v) FROM big;\nSELECT 1 FROM big UNION ALL SELECT 2;\n"
        )
    };
    let check_events = |engine: &str, ev: &[Value]| {
        let st = statements(ev);
        let texts: Vec<String> = st
            .iter()
            .map(|e| {
                e["statement"]["text"]
                    .as_str()
                    .unwrap_or("<null>")
                    .chars()
                    .take(80)
                    .collect()
            })
            .collect();
        assert_eq!(st.len(), 4, "{engine}: one event per statement: {texts:?}");
        let big = st[1];
        let text = big["statement"]["text"].as_str().unwrap_or("");
        assert!(
            text.starts_with("INSERT INTO big VALUES (?"),
            "{engine}: {texts:?}"
        );
        assert!(
            !text.contains("yyyy"),
            "{engine}: the cut literal leaks into statement.text ({} bytes of text): {}",
            text.len(),
            text.chars().take(120).collect::<String>()
        );
        assert!(
            big["outcome"]["status"] == "ok" || big["outcome"]["status"] == "incomplete",
            "{engine}: {big}"
        );
        // psql sends the `;`, the mariadb CLI does not.
        assert_eq!(
            st[2]["statement"]["text"]
                .as_str()
                .map(|t| t.trim_end_matches(';')),
            Some("SELECT length(v) FROM big"),
            "{engine}"
        );
        assert_eq!(st[2]["outcome"]["status"], "ok", "{engine}: {}", st[2]);
        assert_eq!(st[2]["outcome"]["rows"], 1, "{engine}: {}", st[2]);
        assert_eq!(st[3]["outcome"]["status"], "ok", "{engine}: {}", st[3]);
        assert_eq!(st[3]["outcome"]["rows"], 2, "{engine}: {}", st[3]);
    };

    let pg = Postgres::start()?;
    let dir = TempDir::new("bigstmt")?;
    let file = dir.path().join("big.sql");
    std::fs::write(&file, script("text"))?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;
    run(Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ])
        .args(["-d", "dbgovtest", "-p", &pg.port.to_string(), "-f"])
        .arg(&file))?;
    let _ = agent.wait_for("the session end", |ev| {
        !of_kind(ev, "session_end").is_empty() && statements(ev).len() >= 4
    });
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let pg_result = std::panic::catch_unwind(|| check_events("postgresql", &ev));

    let db = Mariadb::start()?;
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
        ])
        .args(["-P", &db.port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = cli.stdin.take().ok_or_else(|| anyhow::anyhow!("stdin"))?;
        // The CLI's first statement is its own `select @@version_comment limit 1`.
        stdin.write_all(script("LONGTEXT").as_bytes())?;
    }
    assert!(cli.wait()?.success());
    let _ = agent.wait_for("the session end", |ev| {
        !of_kind(ev, "session_end").is_empty() && statements(ev).len() >= 5
    });
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let ev: Vec<Value> = ev
        .into_iter()
        .filter(|e| {
            e["kind"] != "statement" || e["statement"]["text"] != "select @@version_comment limit ?"
        })
        .collect();
    let my_result = std::panic::catch_unwind(|| check_events("mysql", &ev));
    if let Err(e) = pg_result {
        std::panic::resume_unwind(e);
    }
    if let Err(e) = my_result {
        std::panic::resume_unwind(e);
    }
    Ok(())
}
