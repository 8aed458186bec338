//! Integration-test harness: starts real PostgreSQL and MariaDB servers on private ports and
//! data directories, starts the real `dbgov` agent with its eBPF programs, and reads the events
//! it writes. Tests that need root or a server fail under `CI=true` when the prerequisite is
//! missing; outside CI they return early with a message saying what is missing.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

pub mod oracle;

pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// True when running under CI (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Checks a prerequisite. Under CI a missing one fails the test; elsewhere the test is not run
/// and the reason is printed.
pub fn require(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if in_ci() {
        panic!("prerequisite missing under CI: {what}");
    }
    eprintln!("NOT RUN (prerequisite missing outside CI): {what}");
    false
}

pub fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Root plus the built agent binary.
pub fn require_agent() -> bool {
    require(is_root(), "root (to load eBPF programs)")
        && require(
            agent_bin().exists(),
            "the dbgov binary (run cargo xtask test)",
        )
}

/// Path of the `dbgov` binary under test: `$DBGOV_BIN`, else `target/release/dbgov` (end-to-end
/// tests run the optimised agent, the one users run; `cargo xtask test` builds it).
pub fn agent_bin() -> PathBuf {
    if let Ok(p) = std::env::var("DBGOV_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("release/dbgov")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    for _ in 0..100 {
        let cand = 20000
            + (std::process::id() % 20000 + NEXT.fetch_add(1, Ordering::Relaxed) * 7) as u16
                % 30000;
        if TcpListener::bind(("127.0.0.1", cand)).is_ok() {
            return cand;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(25432)
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Result<Self> {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "dbgov-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p)?;
        Ok(Self(p))
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `pgbench -i -s 1 -q` into `dbgovtest` on the local server at TCP `port`.
pub fn pgbench_init(port: u16) -> Result<()> {
    run(Command::new("pgbench")
        .args([
            "-i",
            "-s",
            "1",
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-p",
        ])
        .arg(port.to_string())
        .arg("dbgovtest"))?;
    Ok(())
}

/// pgbench on `dbgovtest` at 127.0.0.1:`port` with `args` (and `PGSSLMODE=require` when
/// `tls`): the transactions it reports processed, and its output.
pub fn pgbench_run(port: u16, args: &[&str], tls: bool) -> Result<(u64, String)> {
    let mut c = Command::new("pgbench");
    if tls {
        c.env("PGSSLMODE", "require");
    }
    let out = run(c
        .args(args)
        .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
        .arg(port.to_string())
        .arg("dbgovtest"))?;
    let processed = out
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|v| v.split('/').next())
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no transaction count in pgbench output: {out}"))?;
    Ok((processed, out))
}

pub fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("spawning {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Creates an OS user if missing; returns its uid.
pub fn ensure_user(name: &str) -> Result<u32> {
    if Command::new("id")
        .arg("-u")
        .arg(name)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
    {
    } else {
        run(Command::new("useradd").args(["--create-home", "--shell", "/bin/sh", name]))?;
    }
    let uid = run(Command::new("id").arg("-u").arg(name))?;
    Ok(uid.trim().parse()?)
}

/// Makes a test CA (`dir/ca.crt`) and a server certificate for `localhost` signed by it
/// (`dir/server.crt`, `dir/server.key`), so that clients which verify (rustls in the proxy)
/// can be pointed at the CA.
pub fn make_server_cert(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let ossl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(dir));
    ossl(&[
        "req",
        "-new",
        "-x509",
        "-days",
        "30",
        "-nodes",
        "-subj",
        "/CN=dbgov-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ])?;
    ossl(&[
        "req",
        "-new",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ])?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )?;
    ossl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ])?;
    Ok((dir.join("server.crt"), dir.join("server.key")))
}

/// A private PostgreSQL 15 server.
pub struct Postgres {
    pub port: u16,
    pub dir: TempDir,
    pub socket_dir: PathBuf,
}

impl Postgres {
    pub fn available() -> bool {
        Path::new(PG_BIN).join("postgres").exists()
    }

    /// initdb + start, as the `postgres` OS user, trust auth on TCP, peer on the socket.
    pub fn start() -> Result<Self> {
        Self::start_with(false)
    }

    /// Like [`Postgres::start`]; with `ssl` the server has a self-signed certificate and
    /// accepts TLS.
    pub fn start_with(ssl: bool) -> Result<Self> {
        Self::start_opts(ssl, "")
    }

    /// Like [`Postgres::start`], logging every statement (`log_statement = all`) as CSV to
    /// [`Postgres::statement_log`]: the oracle of the conformance tests.
    pub fn start_logged() -> Result<Self> {
        Self::start_logged_with(false)
    }

    /// [`Postgres::start_logged`], with TLS accepted when `ssl` (libpq clients then use it
    /// unless told `sslmode=disable`).
    pub fn start_logged_with(ssl: bool) -> Result<Self> {
        Self::start_opts(
            ssl,
            "log_statement = 'all'\nlogging_collector = on\nlog_destination = 'csvlog'\n\
             log_directory = '../pglog'\nlog_filename = 'statements.log'\n\
             log_rotation_age = 0\nlog_rotation_size = 0\nlog_min_error_statement = error\n",
        )
    }

    /// The CA of the server's certificate (started with `ssl`).
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// The CSV statement log of a server started with [`Postgres::start_logged`].
    pub fn statement_log(&self) -> PathBuf {
        self.dir.path().join("pglog/statements.csv")
    }

    /// Starts a server with `extra_conf` appended to its `postgresql.conf`.
    pub fn start_opts(ssl: bool, extra_conf: &str) -> Result<Self> {
        Self::start_full(ssl, extra_conf, None)
    }

    /// A plain server on this TCP port (e.g. 5432, what a default configuration watches).
    pub fn start_on(port: u16) -> Result<Self> {
        Self::start_full(false, "", Some(port))
    }

    fn start_full(ssl: bool, extra_conf: &str, port: Option<u16>) -> Result<Self> {
        let dir = TempDir::new("pg")?;
        let data = dir.path().join("data");
        let socket_dir = dir.path().join("sock");
        std::fs::create_dir_all(&socket_dir)?;
        std::fs::create_dir_all(dir.path().join("pglog"))?;
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path()))?;
        run(Command::new("chmod").args(["755"]).arg(dir.path()))?;
        let pg = |bin: &str| {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(Path::new(PG_BIN).join(bin));
            c
        };
        run(pg("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth-host=trust",
            "--auth-local=peer",
            "-E",
            "UTF8",
            "--no-sync",
        ]))?;
        if ssl {
            let (crt, key) = make_server_cert(dir.path())?;
            std::fs::copy(&crt, data.join("server.crt"))?;
            std::fs::copy(&key, data.join("server.key"))?;
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(data.join("server.key"))
                .arg(data.join("server.crt")))?;
            run(Command::new("chmod")
                .arg("600")
                .arg(data.join("server.key")))?;
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))?;
            std::io::Write::write_all(&mut conf, b"\nssl = on\n")?;
        }
        if !extra_conf.is_empty() {
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))?;
            std::io::Write::write_all(&mut conf, format!("\n{extra_conf}\n").as_bytes())?;
        }
        let port = port.unwrap_or_else(free_port);
        let log = dir.path().join("server.log");
        run(pg("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                socket_dir.display()
            ))
            .arg("start"))?;
        let me = Self {
            port,
            dir,
            socket_dir,
        };
        me.psql_admin("CREATE DATABASE dbgovtest")?;
        Ok(me)
    }

    /// `psql -X -q` connected over TCP as `postgres` to database `postgres`; add `-c` or `-f`.
    pub fn psql(&self) -> Command {
        let mut c = Command::new("psql");
        c.args([
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
        .arg(self.port.to_string());
        c
    }

    /// Runs SQL as the superuser over TCP (not as a test subject).
    pub fn psql_admin(&self, sql: &str) -> Result<String> {
        run(self.psql().args(["-v", "ON_ERROR_STOP=1", "-c", sql]))
    }

    /// Writes `sql` to `dir/name` and runs it with `psql -f` (a test subject's session).
    pub fn psql_script(&self, dir: &TempDir, name: &str, sql: &str) -> Result<String> {
        let script = dir.path().join(name);
        std::fs::write(&script, sql)?;
        run(self.psql().arg("-f").arg(&script))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `pg_ctl restart -m fast`: every backend is terminated (its client gets an error), and
    /// the server comes back on the same port with the same options.
    pub fn restart(&self) -> Result<()> {
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(Path::new(PG_BIN).join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", "60", "-m", "fast", "restart"])
            .arg("-l")
            .arg(self.dir.path().join("server.log")))
        .map(|_| ())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(Path::new(PG_BIN).join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// A running agent writing JSON lines to a file.
pub struct Agent {
    pub child: Child,
    pub events: PathBuf,
    pub stderr: PathBuf,
    _dir: TempDir,
}

impl Agent {
    /// Starts `dbgov run` with extra arguments and waits for its ready file.
    pub fn start(args: &[&str]) -> Result<Self> {
        Self::start_writing_to(None, args)
    }

    /// As [`Agent::start`], writing the events to `events` (default: a file in its own
    /// temporary directory).
    pub fn start_writing_to(events: Option<&Path>, args: &[&str]) -> Result<Self> {
        Self::spawn(None, events, args)
    }

    /// Starts `dbgov run --output OUTPUT` (e.g. `kafka:127.0.0.1:PORT`). [`Agent::events`]
    /// then reads nothing; read the output itself.
    pub fn start_with_output(output: &str, args: &[&str]) -> Result<Self> {
        Self::spawn(Some(output), None, args)
    }

    /// Starts `dbgov proxy --listen 127.0.0.1:PORT` with more arguments (`--upstream`,
    /// `--engine`, ...), writing JSON lines to its own file, and waits until it accepts
    /// connections. The returned handle reads, waits for and verifies its events as for an
    /// agent.
    pub fn proxy(port: u16, args: &[&str]) -> Result<Self> {
        let dir = TempDir::new("proxy")?;
        let events = dir.path().join("events.jsonl");
        let stderr = dir.path().join("stderr.log");
        let child = Command::new(agent_bin())
            .arg("proxy")
            .arg("--output")
            .arg(format!("jsonl:{}", events.display()))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env("DBGOV_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()
            .context("starting dbgov proxy")?;
        let mut proxy = Self {
            child,
            events,
            stderr,
            _dir: dir,
        };
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(st) = proxy.child.try_wait()? {
                bail!(
                    "dbgov proxy exited early ({st}): {}",
                    std::fs::read_to_string(&proxy.stderr).unwrap_or_default()
                );
            }
            if t0.elapsed() > Duration::from_secs(30) {
                bail!("dbgov proxy did not listen in 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(proxy)
    }

    fn spawn(output: Option<&str>, events: Option<&Path>, args: &[&str]) -> Result<Self> {
        let dir = TempDir::new("agent")?;
        let events = events
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.path().join("events.jsonl"));
        let ready = dir.path().join("ready");
        let stderr = dir.path().join("stderr.log");
        let output = output
            .map(str::to_owned)
            .unwrap_or_else(|| format!("jsonl:{}", events.display()));
        // Its own state directory (and so its own instance lock), unless the test sets one.
        let state = dir.path().join("state");
        let own_state = !args.iter().any(|a| *a == "--state-dir" || *a == "--config");
        let child = Command::new(agent_bin())
            .arg("run")
            .arg("--output")
            .arg(&output)
            .arg("--ready-file")
            .arg(&ready)
            .args(if own_state {
                vec!["--state-dir".as_ref(), state.as_os_str()]
            } else {
                Vec::new()
            })
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()
            .context("starting dbgov")?;
        let mut agent = Self {
            child,
            events,
            stderr,
            _dir: dir,
        };
        let t0 = Instant::now();
        while !ready.exists() {
            if let Some(st) = agent.child.try_wait()? {
                bail!(
                    "dbgov exited early ({st}): {}",
                    std::fs::read_to_string(&agent.stderr).unwrap_or_default()
                );
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("dbgov did not become ready in 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(agent)
    }

    /// All events written so far.
    /// The events written so far. Every complete line must read back as the one event type,
    /// `dbgov::audit::Event`, and write out again as the same JSON (a partly written last
    /// line is left for the next call).
    pub fn events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.events).unwrap_or_default();
        let mut out = Vec::new();
        for l in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(l) else {
                continue;
            };
            let ev: dbgov::audit::Event = match serde_json::from_value(v.clone()) {
                Ok(e) => e,
                Err(e) => panic!("event does not read back as audit::Event ({e}): {l}"),
            };
            let again = serde_json::to_value(&ev).unwrap_or(Value::Null);
            assert_eq!(
                again, v,
                "event changes when read back and written again: {l}"
            );
            out.push(v);
        }
        out
    }

    /// Waits until `pred` holds over the events (the agent flushes every 200 ms).
    pub fn wait_for(&self, what: &str, pred: impl Fn(&[Value]) -> bool) -> Result<Vec<Value>> {
        let t0 = Instant::now();
        loop {
            let ev = self.events();
            if pred(&ev) {
                return Ok(ev);
            }
            if t0.elapsed() > Duration::from_secs(20) {
                bail!(
                    "timed out waiting for {what}; {} events so far:\n{}",
                    ev.len(),
                    dump(&ev)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, wait, return the exit code and all events.
    pub fn stop(mut self) -> Result<(i32, Vec<Value>)> {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait()? {
                if !self.events.exists() {
                    // Another output (Kafka): the test reads and verifies it.
                    return Ok((st.code().unwrap_or(-1), Vec::new()));
                }
                // Every trail the tests produce must verify: its hash chain is intact.
                let v = Command::new(agent_bin())
                    .arg("verify")
                    .arg("--input")
                    .arg(format!("jsonl:{}", self.events.display()))
                    .output()?;
                if !v.status.success() {
                    bail!(
                        "dbgov verify failed on the agent's own trail: {}{}",
                        String::from_utf8_lossy(&v.stdout),
                        String::from_utf8_lossy(&v.stderr)
                    );
                }
                return Ok((st.code().unwrap_or(-1), self.events()));
            }
            if t0.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                bail!("dbgov did not exit within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain HTTP GET: (status code, body).
pub fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("an HTTP status line")?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((code, body.to_owned()))
}

/// The value of an unlabelled metric in a Prometheus text page.
pub fn metric(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Events of one kind.
pub fn of_kind<'a>(ev: &'a [Value], kind: &str) -> Vec<&'a Value> {
    ev.iter().filter(|e| e["kind"] == kind).collect()
}

/// Statement events.
pub fn statements(ev: &[Value]) -> Vec<&Value> {
    of_kind(ev, "statement")
}

/// Statement events whose (redacted) text is exactly `text`.
pub fn with_text<'a>(ev: &'a [Value], text: &str) -> Vec<&'a Value> {
    statements(ev)
        .into_iter()
        .filter(|e| e["statement"]["text"] == text)
        .collect()
}

/// Pretty list of events for failure messages.
pub fn dump(ev: &[Value]) -> String {
    ev.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A shell command run with a given login uid (set through `/proc/self/loginuid`, which root
/// may set once per process) and then as another user through runuser: "alice logged in,
/// then switched to a service account".
pub fn as_user_with_login(login_uid: u32, user: &str, cmd: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "echo {login_uid} > /proc/self/loginuid && exec runuser -u {user} -- sh -c '{}'",
        cmd.replace('\'', "'\\''")
    ));
    c
}

/// A private MariaDB server (Debian's mariadbd) on a TCP port and a Unix socket.
pub struct Mariadb {
    pub port: u16,
    pub dir: TempDir,
    pub socket: PathBuf,
    child: Child,
    /// mariadbd's arguments, for a restart.
    args: Vec<String>,
}

impl Mariadb {
    pub fn available() -> bool {
        Path::new("/usr/sbin/mariadbd").exists()
            && Path::new("/usr/bin/mariadb-install-db").exists()
    }

    pub fn start() -> Result<Self> {
        Self::start_with(false)
    }

    /// With `ssl` the server has a self-signed certificate and accepts TLS.
    pub fn start_with(ssl: bool) -> Result<Self> {
        let dir = TempDir::new("mariadb")?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data)?;
        run(Command::new("chmod").arg("755").arg(dir.path()))?;
        // The server writes its socket, pid file and log next to the data directory.
        run(Command::new("chown")
            .args(["-R", "mysql:mysql"])
            .arg(dir.path()))?;
        run(Command::new("mariadb-install-db")
            .args([
                "--user=mysql",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .arg(format!("--datadir={}", data.display())))?;
        let port = free_port();
        let socket = dir.path().join("mysqld.sock");
        let mut args: Vec<String> = vec![
            "--no-defaults".into(),
            "--user=mysql".into(),
            "--bind-address=127.0.0.1".into(),
            "--skip-log-bin".into(),
            format!("--datadir={}", data.display()),
            format!("--port={port}"),
            format!("--socket={}", socket.display()),
            format!("--pid-file={}", dir.path().join("mysqld.pid").display()),
            format!("--log-error={}", dir.path().join("error.log").display()),
        ];
        if ssl {
            let (cert, key) = make_server_cert(dir.path())?;
            run(Command::new("chown")
                .arg("mysql:mysql")
                .arg(&key)
                .arg(&cert))?;
            args.push(format!("--ssl-cert={}", cert.display()));
            args.push(format!("--ssl-key={}", key.display()));
        }
        let child = Self::spawn(&args)?;
        let mut me = Self {
            port,
            dir,
            socket,
            child,
            args,
        };
        me.wait_ready()?;
        me.sql("CREATE DATABASE dbgovtest; CREATE DATABASE otherdb")?;
        Ok(me)
    }

    fn spawn(args: &[String]) -> Result<Child> {
        Command::new("/usr/sbin/mariadbd")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting mariadbd")
    }

    /// Stops the server (SIGTERM: it closes every client connection) and starts it again on
    /// the same port and data.
    pub fn restart(&mut self) -> Result<()> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        while self.child.try_wait()?.is_none() {
            if t0.elapsed() > Duration::from_secs(30) {
                bail!("mariadbd did not stop in 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child = Self::spawn(&self.args)?;
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<()> {
        let me = self;
        let t0 = Instant::now();
        loop {
            if me.sql("SELECT 1").is_ok() {
                break;
            }
            if let Some(st) = me.child.try_wait()? {
                bail!(
                    "mariadbd exited ({st}): {}",
                    std::fs::read_to_string(me.dir.path().join("error.log")).unwrap_or_default()
                );
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("mariadbd did not accept connections in 60 s");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    /// The CA of the server's certificate (started with `ssl`).
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// Turns the general log on (every command of every connection, with its connection id)
    /// and returns its path: the oracle of the conformance tests.
    pub fn enable_general_log(&self) -> Result<PathBuf> {
        let path = self.dir.path().join("general.log");
        self.sql(&format!(
            "SET GLOBAL general_log_file = '{}'; SET GLOBAL general_log = ON",
            path.display()
        ))?;
        Ok(path)
    }

    /// Runs SQL as root over TCP (setup, not a test subject).
    pub fn sql(&self, sql: &str) -> Result<String> {
        run(Command::new("mariadb")
            .args([
                "--no-defaults",
                "-h",
                "127.0.0.1",
                "-uroot",
                "--skip-ssl",
                "-N",
                "-B",
                "-P",
            ])
            .arg(self.port.to_string())
            .arg("-e")
            .arg(sql))
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Kafka-protocol broker (tansu) on a private port, with in-memory storage.
pub struct Broker {
    pub child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Broker {
    /// The tansu binary: on PATH or in cargo's bin directory.
    pub fn bin() -> Option<PathBuf> {
        let home = std::env::var("CARGO_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo")
            });
        let c = home.join("bin/tansu");
        if c.exists() {
            return Some(c);
        }
        std::env::var("PATH").ok().and_then(|p| {
            p.split(':')
                .map(|d| Path::new(d).join("tansu"))
                .find(|c| c.exists())
        })
    }

    pub fn available() -> bool {
        Self::bin().is_some()
    }

    pub fn start() -> Result<Self> {
        let bin = Self::bin().context("tansu not installed (cargo xtask setup)")?;
        let dir = TempDir::new("broker")?;
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(std::fs::File::create(dir.path().join("broker.log"))?)
            .stderr(std::fs::File::create(dir.path().join("broker.err"))?)
            .spawn()
            .context("starting tansu")?;
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("tansu did not listen on {port} in 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            child,
            port,
            _dir: dir,
        })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Freezes (SIGSTOP) or resumes (SIGCONT) the broker: an outage with its state kept.
    pub fn pause(&self, on: bool) {
        let sig = if on { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Every message of `topic` as JSON: (partition, offset, event).
    pub fn read(&self, topic: &str) -> Result<Vec<(i32, i64, Value)>> {
        let msgs = dbgov::sink::kafka::read_topic(
            &self.addr(),
            topic,
            &Default::default(),
            Duration::from_secs(10),
        )?;
        msgs.into_iter()
            .map(|(p, o, b)| Ok((p, o, serde_json::from_slice(&b)?)))
            .collect()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.pause(false);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python interpreter of the scripted clients (`DBGOV_PYTHON`, default `python3`).
pub fn python() -> String {
    std::env::var("DBGOV_PYTHON").unwrap_or_else(|_| "python3".into())
}
