//! `cargo xtask bench [--quick]`: the cost of the agent, measured side by side in one run
//! (issue 5). Starts private PostgreSQL 15 servers (one plain, one with pgaudit) and a private
//! MariaDB on free ports and temporary data directories, drives them with the real clients
//! (pgbench, sysbench, psql), alternates "no agent" with "agent attached and writing JSON lines
//! to a file" (and, as the anchor, pgaudit in place of the agent), and writes
//! `bench/results/LATEST.md` and `bench/results/LATEST.json`. Medians and ratios only: the
//! machine is small and noisy, and nothing here asserts on a timing.
//!
//! Scenarios (numbers as in the issue):
//! - 1: pgbench scale 10, select-only and tpcb-like, `-M simple` and `-M prepared`, saturated;
//! - 1b: pgbench at a fixed rate (`-R 5000`): latency and the agent's CPU share;
//! - 1c: scenario 1 and 1b with pgaudit (`read,write`) instead of the agent;
//! - 2: sysbench `oltp_read_only` / `oltp_read_write` against MariaDB;
//! - 3: completeness during scenario 1: statement events of pgbench's connections against the
//!   statements pgbench executed, and gaps;
//! - 4: the agent's CPU seconds per 10,000 statements and its peak RSS during scenario 1, and
//!   the CPU its kernel programs took in the hooked syscalls (kernel BPF run-time statistics,
//!   switched on for the saturated agent runs only: timing adds two clock reads per run);
//! - 5: `dbgov replay` of the committed capture `bench/capture/mixed.dbgovrec.xz`, and the
//!   SQL analysis example `analysis_throughput` when it exists;
//! - report: `dbgov report` over about 1,000,000 events (a replayed trail), each format: wall
//!   time and peak memory;
//! - 6: the proxy: pgbench select-only and tpcb-like (prepared), direct to the server and
//!   through `dbgov proxy` (writing its audit events to a JSON-lines file), alternated: TPS
//!   ratio, added p50 latency per statement, the proxy's CPU and its events per statement;
//! - 7: connection churn (`pgbench -C -S`): the agent's CPU per new connection, and one event
//!   per statement (the two local ends of each short connection paired, never both decoded).
//! - 1k: scenario 1 with the agent shipping to Kafka (`--output kafka:`, a local tansu broker)
//!   as a further condition: TPS ratio, completeness (the topic, exported) and agent CPU;
//! - 8: Kafka delivery: events per second from a filled spool to the local broker
//!   (`dbgov ship`), and the agent's memory while the broker is down under pgbench load.
//! - 9: overload: pgbench select-only prepared, saturated, with the agent held to 10% of one
//!   core by a cgroup CPU quota: the share of statements with a complete event, an incomplete
//!   one and none, and whether every loss is counted in gap events.
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::{cargo, root_dir, sh, step, target_dir};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const PGAUDIT_SO: &str = "/usr/lib/postgresql/15/lib/pgaudit.so";
/// pgbench clients and threads: 4 clients keep both cores busy, with pgbench itself on them.
const CLIENTS: u32 = 4;
const THREADS: u32 = 2;
/// Agent CPU seconds per 10,000 statements: the target of the issue on keeping up at full rate
/// (2.5 µs per statement).
const COST_TARGET: f64 = 0.025;
const COST_TARGET_TEXT: &str = "<= 0.025";
const SCALE: u32 = 10;
/// Transactions per second of scenario 1b.
const RATE: u32 = 5000;
/// Sampling of pgbench's per-transaction log at saturation (enough lines for a p99, little
/// client overhead).
const SATURATED_LOG_SAMPLING: f64 = 0.1;
/// sysbench tables and rows.
const SB_TABLES: u32 = 2;
const SB_ROWS: u32 = 100_000;
/// Scenario 9: the agent's CPU quota, in percent of one core.
const OVERLOAD_PERCENT: u32 = 10;
/// The committed capture of scenario 5, relative to the repository root.
const CAPTURE_XZ: &str = "bench/capture/mixed.dbgovrec.xz";
/// What the capture holds and what the live agent saw while recording it.
const CAPTURE_META: &str = "bench/capture/mixed.json";
const REPORTING_SQL: &str = "bench/workload/reporting.sql";
const TEMP_PREFIX: &str = "dbgov-bench-";

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Every scenario shortened (one round, short runs): under 5 minutes in total.
    #[arg(long)]
    quick: bool,
    /// Rounds per condition (default 3; 1 with --quick).
    #[arg(long, value_name = "N")]
    rounds: Option<u32>,
    /// Seconds of each saturated run (default 15; 5 with --quick).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
    /// Use this dbgov binary instead of building one with `cargo build --release -p dbgov`.
    #[arg(long, value_name = "PATH")]
    agent: Option<PathBuf>,
    /// Only these scenarios, comma-separated, from 1,1b,1c,1k,1t,2,5,6,7,8,9,analysis,report (3 and
    /// 4 come with 1; 1k needs 1).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    only: Vec<String>,
    /// Record the mixed workload of scenario 5 anew into bench/capture/ and exit.
    #[arg(long)]
    record_mix: bool,
    /// Where the results go (default bench/results).
    #[arg(long, value_name = "DIR")]
    results_dir: Option<PathBuf>,
}

/// Durations and round counts of one run.
struct Plan {
    quick: bool,
    rounds: u32,
    sat_secs: u64,
    rate_secs: u64,
    sysbench_secs: u64,
    warmup_secs: u64,
    replay_secs: f64,
    only: Vec<String>,
}

impl Plan {
    fn from(a: &BenchArgs) -> Self {
        let sat = a.duration.unwrap_or(if a.quick { 5 } else { 15 }).max(1);
        Self {
            quick: a.quick,
            rounds: a.rounds.unwrap_or(if a.quick { 1 } else { 3 }).max(1),
            sat_secs: sat,
            rate_secs: if a.quick { sat } else { sat + 5 },
            sysbench_secs: sat,
            warmup_secs: if a.quick { 2 } else { 4 },
            replay_secs: if a.quick { 3.0 } else { 10.0 },
            only: a.only.iter().map(|s| s.trim().to_lowercase()).collect(),
        }
    }

    fn wants(&self, s: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == s)
    }
}

pub fn main(a: BenchArgs) -> Result<()> {
    let t0 = Instant::now();
    prerequisites()?;
    cleanup_stale();
    let bin = match &a.agent {
        Some(p) => p.clone(),
        None => {
            step("building dbgov (release)");
            sh(cargo().args(["build", "--release", "-p", "dbgov"]))?;
            target_dir().join("release/dbgov")
        }
    };
    if !bin.exists() {
        bail!("the agent binary {} does not exist", bin.display());
    }
    if a.record_mix {
        return record_mix(&bin);
    }
    let plan = Plan::from(&a);
    let results_dir = a
        .results_dir
        .clone()
        .unwrap_or_else(|| root_dir().join("bench/results"));
    // Built now, so nothing compiles while the benchmark measures.
    let example = if plan.wants("analysis") {
        Some(build_example())
    } else {
        None
    };
    let build_secs = t0.elapsed().as_secs_f64();
    let mut b = Bench::new(bin, plan)?;
    b.example = example;
    b.build_secs = build_secs;
    let res = b.run_all();
    // Whatever happened, write what was measured.
    let (md, js) = b.render(t0.elapsed().as_secs_f64() - build_secs, res.as_ref().err());
    println!("\n{md}");
    fs::create_dir_all(&results_dir)
        .with_context(|| format!("creating {}", results_dir.display()))?;
    // LATEST is the last run of any kind; quick.* and full.* keep the last of each kind, so a
    // quick check does not overwrite the committed full run.
    let kind = if !a.only.is_empty() {
        "partial"
    } else if a.quick {
        "quick"
    } else {
        "full"
    };
    let js_text = serde_json::to_string_pretty(&js)? + "\n";
    for name in ["LATEST", kind] {
        fs::write(results_dir.join(format!("{name}.md")), &md)?;
        fs::write(results_dir.join(format!("{name}.json")), &js_text)?;
    }
    eprintln!(
        "wrote {} and LATEST.json (and {kind}.md, {kind}.json) in {:.0} s",
        results_dir.join("LATEST.md").display(),
        t0.elapsed().as_secs_f64()
    );
    res
}

// ---------------------------------------------------------------------------------------------
// Prerequisites, processes, temporary directories

const EXAMPLE: &str = "analysis_throughput";

/// Builds the SQL analysis example; its path, or why there is none.
fn build_example() -> std::result::Result<PathBuf, String> {
    if !root_dir()
        .join(format!("agent/examples/{EXAMPLE}.rs"))
        .exists()
    {
        return Err("example not present".into());
    }
    step(&format!("building the {EXAMPLE} example (release)"));
    sh(cargo().args(["build", "--release", "-p", "dbgov", "--example", EXAMPLE]))
        .map_err(|e| format!("building it failed: {e:#}"))?;
    Ok(target_dir().join("release/examples").join(EXAMPLE))
}

fn prerequisites() -> Result<()> {
    if output(Command::new("id").arg("-u")).trim() != "0" {
        bail!("cargo xtask bench needs root (it loads eBPF programs and starts servers as the postgres and mysql users); run it as root, e.g. `sudo -E cargo xtask bench`");
    }
    let need: &[(&str, &str)] = &[
        (
            "/usr/lib/postgresql/15/bin/postgres",
            "PostgreSQL 15 (postgresql-15)",
        ),
        (
            "/usr/lib/postgresql/15/bin/pgbench",
            "pgbench (postgresql-contrib)",
        ),
        (
            "/usr/lib/postgresql/15/bin/psql",
            "psql (postgresql-client-15)",
        ),
        (PGAUDIT_SO, "pgaudit (postgresql-15-pgaudit)"),
        ("/usr/sbin/mariadbd", "MariaDB (mariadb-server)"),
        (
            "/usr/bin/mariadb-install-db",
            "mariadb-install-db (mariadb-server)",
        ),
        ("/usr/bin/mariadb", "the mariadb client (mariadb-client)"),
        ("/usr/bin/sysbench", "sysbench"),
    ];
    let missing: Vec<&str> = need
        .iter()
        .filter(|(f, _)| !Path::new(f).exists())
        .map(|(_, what)| *what)
        .collect();
    if !missing.is_empty() {
        bail!(
            "missing prerequisites: {}; install them with `cargo xtask setup`",
            missing.join(", ")
        );
    }
    for user in ["postgres", "mysql"] {
        if !ok(Command::new("id").arg("-u").arg(user)) {
            bail!("the OS user {user} does not exist (it comes with the server packages); run `cargo xtask setup`");
        }
    }
    if !Path::new("/sys/kernel/tracing/events").exists()
        && !Path::new("/sys/kernel/debug/tracing/events").exists()
    {
        bail!("tracefs is not mounted (the agent attaches tracepoints through it); run `cargo xtask setup` or `mount -t tracefs tracefs /sys/kernel/tracing`");
    }
    Ok(())
}

fn ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn output(cmd: &mut Command) -> String {
    cmd.output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Runs a command to completion; its stdout, or an error with both outputs.
fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn pg_ctl_stop(data: &Path) {
    let _ = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(Path::new(PG_BIN).join("pg_ctl"))
        .arg("-D")
        .arg(data)
        .args(["-m", "immediate", "-w", "stop"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Removes what an interrupted earlier run left behind: its servers and temporary directories
/// (named after the pid of the bench process, which is gone).
fn cleanup_stale() {
    let Ok(rd) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid_alive(pid) {
            continue;
        }
        let dir = e.path();
        eprintln!(
            "    removing {} (left by an interrupted run)",
            dir.display()
        );
        if let Ok(sub) = fs::read_dir(&dir) {
            for s in sub.flatten() {
                let p = s.path();
                if p.join("data/postmaster.pid").exists() {
                    pg_ctl_stop(&p.join("data"));
                }
                if let Some(pid) = fs::read_to_string(p.join("mysqld.pid"))
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                {
                    signal(pid, "KILL");
                }
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<Self> {
        let p = std::env::temp_dir().join(format!("{TEMP_PREFIX}{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(Self(p))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A private PostgreSQL 15 server, stopped on drop.
struct Pg {
    port: u16,
    data: PathBuf,
    log: PathBuf,
    /// Removed after the server is stopped (fields drop after `Drop::drop`).
    _dir: TempDir,
}

impl Pg {
    fn start(tag: &str, pgaudit: bool) -> Result<Self> {
        let dir = TempDir::new(tag)?;
        let data = dir.path().join("data");
        let sock = dir.path().join("sock");
        fs::create_dir_all(&sock)?;
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path()))?;
        run(Command::new("chmod").arg("755").arg(dir.path()))?;
        run(pg_cmd("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth-host=trust",
            "--auth-local=peer",
            "-E",
            "UTF8",
            "--no-sync",
        ]))?;
        // Tuned for a CPU-bound benchmark on a small machine; durability is not measured.
        let mut conf = String::from(
            "\nshared_buffers = 512MB\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 50\nautovacuum = off\ncheckpoint_timeout = 30min\nmax_wal_size = 4GB\n",
        );
        if pgaudit {
            conf.push_str("shared_preload_libraries = 'pgaudit'\npgaudit.log = 'read,write'\n");
        }
        fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))?
            .write_all(conf.as_bytes())?;
        let port = free_port()?;
        let log = dir.path().join("server.log");
        let me = Self {
            port,
            data,
            log,
            _dir: dir,
        };
        run(pg_cmd("pg_ctl")
            .arg("-D")
            .arg(&me.data)
            .arg("-l")
            .arg(&me.log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1",
                sock.display()
            ))
            .arg("start"))
        .with_context(|| {
            format!(
                "starting PostgreSQL: {}",
                fs::read_to_string(&me.log).unwrap_or_default()
            )
        })?;
        me.psql(&["CREATE DATABASE bench"], "postgres")?;
        if pgaudit {
            me.psql(&["CREATE EXTENSION pgaudit"], "bench")?;
        }
        Ok(me)
    }

    /// Switches TLS on (a self-signed certificate made with `openssl`, then a reload): clients
    /// that ask for it get it, the others keep plaintext.
    fn enable_tls(&self) -> Result<()> {
        let (crt, key) = (self.data.join("server.crt"), self.data.join("server.key"));
        run(Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&crt))
        .context("making a certificate with openssl (Debian package openssl)")?;
        run(Command::new("chown")
            .arg("postgres:postgres")
            .arg(&crt)
            .arg(&key))?;
        run(Command::new("chmod").arg("600").arg(&key))?;
        fs::OpenOptions::new()
            .append(true)
            .open(self.data.join("postgresql.conf"))?
            .write_all(
                b"\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
            )?;
        run(pg_cmd("pg_ctl").arg("-D").arg(&self.data).arg("reload"))?;
        // The reload is asynchronous: wait until a TLS connection works.
        let t = Instant::now();
        loop {
            let ok = Command::new(Path::new(PG_BIN).join("psql"))
                .env("PGSSLMODE", "require")
                .args([
                    "-X",
                    "-qAt",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "bench",
                ])
                .arg("-p")
                .arg(self.port.to_string())
                .args([
                    "-c",
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                ])
                .output()
                .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"t"));
            if ok {
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(20) {
                bail!(
                    "PostgreSQL did not accept TLS after ssl = on and a reload: {}",
                    fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs SQL through psql over TCP (each string is a separate query).
    fn psql(&self, sqls: &[&str], db: &str) -> Result<String> {
        let mut c = Command::new(Path::new(PG_BIN).join("psql"));
        c.env("PGSSLMODE", "disable")
            .args(["-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-v"])
            .arg("ON_ERROR_STOP=1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(db);
        for s in sqls {
            c.arg("-c").arg(s);
        }
        run(&mut c)
    }

    /// Lines pgaudit wrote since the last call; empties the log.
    fn take_audit_lines(&self) -> Result<u64> {
        let n = count_lines_containing(&self.log, "AUDIT: SESSION")?;
        // The postmaster appends (`>>`), so truncating is safe.
        fs::OpenOptions::new()
            .write(true)
            .open(&self.log)?
            .set_len(0)?;
        Ok(n)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        pg_ctl_stop(&self.data);
    }
}

fn pg_cmd(bin: &str) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"])
        .arg(Path::new(PG_BIN).join(bin));
    c
}

/// A private MariaDB server, stopped on drop.
struct Maria {
    port: u16,
    child: Child,
    dir: TempDir,
}

impl Maria {
    fn start() -> Result<Self> {
        let dir = TempDir::new("mariadb")?;
        let data = dir.path().join("data");
        fs::create_dir_all(&data)?;
        run(Command::new("chmod").arg("755").arg(dir.path()))?;
        run(Command::new("chown")
            .args(["-R", "mysql:mysql"])
            .arg(dir.path()))?;
        run(Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                "--user=mysql",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .arg(format!("--datadir={}", data.display())))?;
        let port = free_port()?;
        let child = Command::new("/usr/sbin/mariadbd")
            .args([
                "--no-defaults",
                "--user=mysql",
                "--bind-address=127.0.0.1",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=512M",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--max-connections=100",
            ])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg(format!(
                "--socket={}",
                dir.path().join("mysqld.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("mysqld.pid").display()
            ))
            .arg(format!(
                "--log-error={}",
                dir.path().join("error.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting mariadbd")?;
        let mut me = Self { port, child, dir };
        let t0 = Instant::now();
        while me.sql("SELECT 1").is_err() {
            if let Some(st) = me.child.try_wait()? {
                bail!(
                    "mariadbd exited ({st}): {}",
                    fs::read_to_string(me.dir.path().join("error.log")).unwrap_or_default()
                );
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("mariadbd did not accept connections in 60 s");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        me.sql("CREATE DATABASE sbtest")?;
        Ok(me)
    }

    fn sql(&self, sql: &str) -> Result<String> {
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

    fn sysbench(&self, test: &str) -> Command {
        let mut c = Command::new("sysbench");
        c.arg(test)
            .args([
                "--db-driver=mysql",
                "--mysql-host=127.0.0.1",
                "--mysql-user=root",
                "--mysql-db=sbtest",
            ])
            .arg(format!("--mysql-port={}", self.port))
            .arg(format!("--tables={SB_TABLES}"))
            .arg(format!("--table-size={SB_ROWS}"));
        c
    }
}

impl Drop for Maria {
    fn drop(&mut self) {
        signal(self.child.id(), "TERM");
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `dbgov run`, killed on drop if still running.
struct Agent {
    child: Child,
    events: PathBuf,
    stderr: PathBuf,
    /// Shipping to Kafka: `kafka:BROKERS/TOPIC` of the audit topic, exported at stop.
    kafka_input: Option<String>,
    bin_path: PathBuf,
    _dir: TempDir,
}

/// A cgroup with a CPU quota (scenario 9): cgroup v1's `cpu` controller where it is mounted,
/// else cgroup v2's `cpu.max`. Dropping it moves its processes back to the root group and
/// removes it.
struct CpuLimit {
    dir: PathBuf,
    root: PathBuf,
}

impl CpuLimit {
    fn new(percent: u32) -> Result<Self> {
        let v1 = Path::new("/sys/fs/cgroup/cpu");
        let name = format!("dbgov-bench-{}", std::process::id());
        let period = 100_000u32;
        let quota = period / 100 * percent;
        if v1.join("cpu.cfs_quota_us").exists() {
            let dir = v1.join(&name);
            let _ = fs::create_dir(&dir);
            fs::write(dir.join("cpu.cfs_period_us"), period.to_string())
                .with_context(|| format!("{}: cpu.cfs_period_us", dir.display()))?;
            fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())
                .with_context(|| format!("{}: cpu.cfs_quota_us", dir.display()))?;
            return Ok(Self {
                dir,
                root: v1.to_owned(),
            });
        }
        let v2 = Path::new("/sys/fs/cgroup");
        if !v2.join("cgroup.controllers").exists() {
            bail!("no cgroup CPU controller (neither /sys/fs/cgroup/cpu nor cgroup v2)");
        }
        let _ = fs::write(v2.join("cgroup.subtree_control"), "+cpu");
        let dir = v2.join(&name);
        let _ = fs::create_dir(&dir);
        fs::write(dir.join("cpu.max"), format!("{quota} {period}")).with_context(|| {
            format!(
                "{}: cpu.max (is the cpu controller enabled?)",
                dir.display()
            )
        })?;
        Ok(Self {
            dir,
            root: v2.to_owned(),
        })
    }

    /// Moves a process (all its threads) into the group.
    fn add(&self, pid: u32) -> Result<()> {
        fs::write(self.dir.join("cgroup.procs"), pid.to_string())
            .with_context(|| format!("moving {pid} into {}", self.dir.display()))
    }
}

impl Drop for CpuLimit {
    fn drop(&mut self) {
        if let Ok(procs) = fs::read_to_string(self.dir.join("cgroup.procs")) {
            for p in procs.lines() {
                let _ = fs::write(self.root.join("cgroup.procs"), p);
            }
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

/// A local Kafka-protocol broker (tansu, memory storage) for scenarios 1k and 8.
struct Broker {
    child: Child,
    port: u16,
    /// Topics and state directories are unique per run.
    runs: u32,
}

impl Broker {
    fn bin() -> Option<PathBuf> {
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

    fn start(work: &Path) -> Result<Self> {
        let bin = Self::bin().context("tansu is not installed (cargo xtask setup)")?;
        let port = free_port()?;
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
            .stdout(fs::File::create(work.join("tansu.log"))?)
            .stderr(fs::File::create(work.join("tansu.err"))?)
            .spawn()
            .context("starting tansu")?;
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("tansu did not listen on port {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            child,
            port,
            runs: 0,
        })
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn pause(&self, on: bool) {
        signal(self.child.id(), if on { "STOP" } else { "CONT" });
    }

    /// A config file for one agent run: its own topics and spool. Returns (config, audit
    /// topic, state directory).
    fn run_config(&mut self, work: &Path) -> Result<(PathBuf, String, PathBuf)> {
        self.runs += 1;
        let n = self.runs;
        let state = work.join(format!("kafka-state-{n}"));
        let config = work.join(format!("kafka-{n}.yaml"));
        let audit = format!("bench{n}.audit");
        fs::write(
            &config,
            format!(
                "state_dir: {}\nkafka:\n  topics: {{audit: {audit}, alerts: bench{n}.alerts, checkpoints: bench{n}.checkpoints}}\n  close_timeout_secs: 120\n",
                state.display()
            ),
        )?;
        Ok((config, audit, state))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.pause(false);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one agent run measured.
#[derive(Clone, Debug, Default)]
struct AgentRun {
    /// CPU seconds (user + system) of the agent process during the measured interval.
    cpu_s: f64,
    /// CPU seconds the agent's kernel programs ran during the measured interval (in the
    /// contexts of the processes whose syscalls they hook, so not in `cpu_s`), from the
    /// kernel's BPF run-time statistics; `None` where they could not be read.
    kernel_s: Option<f64>,
    wall_s: f64,
    hwm_kb: u64,
    /// RSS by kind just before the stop: anonymous (heap), file-backed, shared memory (the
    /// ring buffer's mapping counts here).
    rss_anon_kb: u64,
    rss_file_kb: u64,
    rss_shmem_kb: u64,
    /// Resident pages of the agent's BPF map mappings (the ring buffer's data pages are mapped
    /// twice, so a 64 MiB ring shows as 128 MiB here), from /proc/PID/smaps.
    bpf_map_rss_kb: u64,
    /// Statement events of the benchmark client's connections.
    client_statements: u64,
    /// Of those, events whose answer was cut (`outcome.status: incomplete`).
    client_incomplete: u64,
    /// Kernel records the gap events say were lost.
    gap_records: u64,
    /// All statement events.
    statements: u64,
    gap_events: u64,
    gap_bytes: u64,
    /// Gap events by reason, e.g. `missing_bytes x3, ring_buffer_full x1`.
    gap_reasons: String,
    /// `dbgov: stopped after ...` line.
    summary: String,
    exit: Option<i32>,
    events_bytes: u64,
    /// From the agent's `dbgov: ring buffer peak ...` line at the stop: the ring's size and
    /// peak fill, the record bytes read and in how many drains.
    ring: RingLine,
}

/// The agent's stop line `dbgov: ring buffer peak P of S bytes (x%); read B bytes in D drains
/// over T s (largest drain L bytes)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct RingLine {
    size: u64,
    peak: u64,
    bytes: u64,
    drains: u64,
    largest: u64,
}

impl RingLine {
    fn parse(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("dbgov: ring buffer peak ")?;
        let num = |after: &str| -> Option<u64> {
            let i = rest.find(after)? + after.len();
            rest[i..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        };
        Some(Self {
            peak: rest.split(' ').next()?.parse().ok()?,
            size: num(" of ")?,
            bytes: num("; read ")?,
            drains: num(" bytes in ")?,
            largest: num("(largest drain ")?,
        })
    }

    fn json(&self) -> Value {
        json!({"size_bytes": self.size, "peak_bytes": self.peak, "read_bytes": self.bytes,
               "drains": self.drains, "largest_drain_bytes": self.largest})
    }
}

impl AgentRun {
    fn json(&self) -> Value {
        json!({
            "cpu_seconds": self.cpu_s,
            "kernel_program_cpu_seconds": self.kernel_s,
            "wall_seconds": self.wall_s,
            "peak_rss_kb": self.hwm_kb,
            "rss_at_stop_kb": {"anon": self.rss_anon_kb, "file": self.rss_file_kb, "shmem": self.rss_shmem_kb,
                               "bpf_map_mappings": self.bpf_map_rss_kb},
            "client_statement_events": self.client_statements,
            "client_incomplete_events": self.client_incomplete,
            "gap_records": self.gap_records,
            "statement_events": self.statements,
            "gap_events": self.gap_events,
            "gap_bytes": self.gap_bytes,
            "gap_reasons": self.gap_reasons,
            "events_file_bytes": self.events_bytes,
            "ring_buffer": self.ring.json(),
            "summary": self.summary,
            "exit_code": self.exit,
        })
    }
}

fn clk_tck() -> f64 {
    output(Command::new("getconf").arg("CLK_TCK"))
        .trim()
        .parse::<f64>()
        .unwrap_or(100.0)
}

/// Time a process has spent on a CPU, in nanoseconds (`/proc/PID/schedstat`, first field).
fn sched_ns(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Time all threads of a process have spent on a CPU, in nanoseconds.
fn threads_sched_ns(pid: u32) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Nanoseconds the BPF programs a process holds open have run (the sum of `run_time_ns` in
/// /proc/PID/fdinfo of its program fds), counted while `kernel.bpf_stats_enabled` is 1.
fn bpf_run_ns(pid: u32) -> Option<u64> {
    let mut total = None;
    for e in fs::read_dir(format!("/proc/{pid}/fdinfo")).ok()?.flatten() {
        let Ok(info) = fs::read_to_string(e.path()) else {
            continue;
        };
        if !info.contains("prog_tag:") {
            continue;
        }
        let ns = info
            .lines()
            .find_map(|l| l.strip_prefix("run_time_ns:"))
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(ns) = ns {
            total = Some(total.unwrap_or(0) + ns);
        }
    }
    total
}

/// `kernel.bpf_stats_enabled` set to 1 while it lives (the kernel then times every BPF
/// program run, at the cost of two clock reads per run), and back to what it was after.
struct BpfStats {
    old: String,
}

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Scenario 4's row of the kernel programs' CPU (per workload and over scenario 1).
const KERNEL_COST_METRIC: &str = "kernel programs' CPU s per 10,000 statements (run in the clients' and servers' syscalls, not in the agent's CPU above)";

impl BpfStats {
    /// `None` when the statistics could not be switched on (then nothing is reported, rather
    /// than a run time of zero).
    fn enable() -> Option<Self> {
        let old = fs::read_to_string(BPF_STATS).ok()?;
        fs::write(BPF_STATS, "1").ok()?;
        Some(Self { old })
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = fs::write(BPF_STATS, self.old.trim());
    }
}

/// Resident kB of the mappings named `anon_inode:bpf-map` in /proc/PID/smaps.
fn bpf_map_rss_kb(pid: u32) -> u64 {
    let Ok(s) = fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return 0;
    };
    let mut in_map = false;
    let mut total = 0;
    for l in s.lines() {
        let mut f = l.split_whitespace();
        let first = f.next().unwrap_or("");
        if first.contains('-') && first.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            in_map = l.trim_end().ends_with("anon_inode:bpf-map");
        } else if in_map && first == "Rss:" {
            total += f.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    total
}

fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

impl Agent {
    fn start(bin: &Path, pg_port: u16, my_port: u16, record: Option<&Path>) -> Result<Self> {
        Self::start_to(bin, pg_port, my_port, record, None)
    }

    /// With TLS read through the per-call probes (`--tls-capture uprobe`; the default is
    /// `keylog`).
    fn start_uprobe(bin: &Path, pg_port: u16, my_port: u16) -> Result<Self> {
        Self::start_args(
            bin,
            pg_port,
            my_port,
            None,
            None,
            &["--tls-capture", "uprobe"],
        )
    }

    /// With `kafka` = (brokers, config file, audit topic): ships to Kafka instead of a file.
    fn start_to(
        bin: &Path,
        pg_port: u16,
        my_port: u16,
        record: Option<&Path>,
        kafka: Option<(&str, &Path, &str)>,
    ) -> Result<Self> {
        Self::start_args(bin, pg_port, my_port, record, kafka, &[])
    }

    fn start_args(
        bin: &Path,
        pg_port: u16,
        my_port: u16,
        record: Option<&Path>,
        kafka: Option<(&str, &Path, &str)>,
        extra: &[&str],
    ) -> Result<Self> {
        let dir = TempDir::new("agent")?;
        let events = dir.path().join("events.jsonl");
        let ready = dir.path().join("ready");
        let stderr = dir.path().join("stderr.log");
        let mut c = Command::new(bin);
        c.arg("run")
            .arg("--postgres-port")
            .arg(pg_port.to_string())
            .arg("--mysql-port")
            .arg(my_port.to_string())
            .arg("--ready-file")
            .arg(&ready);
        let mut kafka_input = None;
        match kafka {
            Some((brokers, config, topic)) => {
                c.arg("--output")
                    .arg(format!("kafka:{brokers}"))
                    .arg("--config")
                    .arg(config);
                kafka_input = Some(format!("kafka:{brokers}/{topic}"));
            }
            None => {
                c.arg("--output").arg(format!("jsonl:{}", events.display()));
            }
        }
        if let Some(r) = record {
            // Raw bytes of the benchmark's own synthetic workload.
            c.arg("--record").arg(r).arg("--keep-literals");
        }
        c.args(extra);
        let child = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut a = Self {
            child,
            events,
            stderr,
            kafka_input,
            bin_path: bin.to_owned(),
            _dir: dir,
        };
        let t0 = Instant::now();
        while !ready.exists() {
            if let Some(st) = a.child.try_wait()? {
                bail!(
                    "dbgov exited early ({st}): {}",
                    fs::read_to_string(&a.stderr).unwrap_or_default()
                );
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("dbgov did not become ready in 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(a)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn ticks(&self) -> u64 {
        cpu_ticks(self.pid()).unwrap_or(0)
    }

    /// Waits (at most `max`) until the agent has caught up: no CPU used for 300 ms.
    fn wait_idle(&self, max: Duration) {
        let t0 = Instant::now();
        let mut last = self.ticks();
        while t0.elapsed() < max {
            std::thread::sleep(Duration::from_millis(300));
            let now = self.ticks();
            if now == last {
                return;
            }
            last = now;
        }
    }

    /// SIGTERM, wait for the flush, count the events. `client_marker` selects the benchmark
    /// client's statement events (a substring of the JSON line).
    fn stop(mut self, client_marker: &str, into: &mut AgentRun) -> Result<()> {
        into.hwm_kb = status_kb(self.pid(), "VmHWM:").unwrap_or(0);
        into.rss_anon_kb = status_kb(self.pid(), "RssAnon:").unwrap_or(0);
        into.rss_file_kb = status_kb(self.pid(), "RssFile:").unwrap_or(0);
        into.rss_shmem_kb = status_kb(self.pid(), "RssShmem:").unwrap_or(0);
        into.bpf_map_rss_kb = bpf_map_rss_kb(self.pid());
        signal(self.pid(), "TERM");
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait()? {
                into.exit = st.code();
                break;
            }
            if t0.elapsed() > Duration::from_secs(120) {
                let _ = self.child.kill();
                bail!("dbgov did not exit within 120 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let err = fs::read_to_string(&self.stderr).unwrap_or_default();
        into.summary = err
            .lines()
            .rev()
            .find(|l| l.starts_with("dbgov: stopped"))
            .unwrap_or("")
            .to_owned();
        into.ring = err
            .lines()
            .rev()
            .find_map(RingLine::parse)
            .unwrap_or_default();
        if into.exit != Some(0) {
            bail!("dbgov exited with {:?}: {}", into.exit, tail(&err, 2000));
        }
        if let Some(input) = &self.kafka_input {
            // What reached the broker, as a JSON-lines copy (re-deliveries dropped).
            run(Command::new(&self.bin_path)
                .arg("export")
                .arg("--input")
                .arg(input)
                .arg("--out")
                .arg(&self.events))?;
        }
        let c = count_events(&self.events, client_marker)?;
        into.client_statements = c.client_statements;
        into.client_incomplete = c.client_incomplete;
        into.gap_records = c.gap_records;
        into.statements = c.statements;
        into.gap_events = c.gaps;
        into.gap_bytes = c.gap_bytes;
        into.gap_reasons = c
            .gap_reasons
            .iter()
            .map(|(r, n)| format!("{r} x{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        into.events_bytes = fs::metadata(&self.events).map(|m| m.len()).unwrap_or(0);
        Ok(())
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

/// Bytes of the files in `dir`.
/// `dbgov proxy` in front of a benchmark server, writing its events to a JSON-lines file.
struct Proxy {
    child: Child,
    port: u16,
    events: PathBuf,
}

impl Proxy {
    fn start(bin: &Path, pg_port: u16, work: &Path) -> Result<Self> {
        let port = free_port()?;
        let events = work.join("proxy-events.jsonl");
        let _ = fs::remove_file(&events);
        let child = Command::new(bin)
            .args(["proxy", "--engine", "postgresql", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--upstream")
            .arg(format!("127.0.0.1:{pg_port}"))
            .arg("--output")
            .arg(format!("jsonl:{}", events.display()))
            .stdout(Stdio::null())
            .stderr(fs::File::create(work.join("proxy.log"))?)
            .spawn()
            .context("starting dbgov proxy")?;
        let mut me = Self {
            child,
            port,
            events,
        };
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(st) = me.child.try_wait()? {
                bail!("dbgov proxy exited ({st})");
            }
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("dbgov proxy did not listen in 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(me)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, wait, and count the statement events of pgbench's connections (its set-up
    /// connection adds a handful to the benchmark's).
    fn stop(mut self) -> Result<u64> {
        signal(self.child.id(), "TERM");
        let t0 = Instant::now();
        while self.child.try_wait()?.is_none() {
            if t0.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                bail!("dbgov proxy did not exit within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut n = 0;
        for l in BufReader::new(fs::File::open(&self.events)?).lines() {
            let l = l?;
            if l.contains("\"kind\":\"statement\"") && l.contains("\"application\":\"pgbench\"") {
                n += 1;
            }
        }
        let _ = fs::remove_file(&self.events);
        Ok(n)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn tail(s: &str, n: usize) -> &str {
    let mut i = s.len().saturating_sub(n);
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

#[derive(Default)]
struct EventCounts {
    statements: u64,
    client_statements: u64,
    /// Client statement events with `outcome.status: incomplete` (the answer was cut).
    client_incomplete: u64,
    gaps: u64,
    gap_bytes: u64,
    gap_records: u64,
    /// Gap events by `gap.reason`.
    gap_reasons: BTreeMap<String, u64>,
}

/// Counts events in a JSON-lines file. Substring tests keep this fast on the gigabytes a
/// saturated run writes; gap events are parsed.
fn count_events(path: &Path, client_marker: &str) -> Result<EventCounts> {
    let mut c = EventCounts::default();
    let Ok(f) = fs::File::open(path) else {
        return Ok(c);
    };
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let s = String::from_utf8_lossy(&line);
        if s.contains("\"kind\":\"statement\"") {
            c.statements += 1;
            if s.contains(client_marker) {
                c.client_statements += 1;
                if s.contains("\"status\":\"incomplete\"") {
                    c.client_incomplete += 1;
                }
            }
        } else if s.contains("\"kind\":\"gap\"") {
            c.gaps += 1;
            if let Ok(v) = serde_json::from_str::<Value>(&s) {
                c.gap_bytes += v["gap"]["bytes"].as_u64().unwrap_or(0);
                c.gap_records += v["gap"]["events"].as_u64().unwrap_or(0);
                let reason = v["gap"]["reason"].as_str().unwrap_or("?").to_owned();
                *c.gap_reasons.entry(reason).or_default() += 1;
            }
        }
    }
    Ok(c)
}

fn count_lines_containing(path: &Path, needle: &str) -> Result<u64> {
    let Ok(f) = fs::File::open(path) else {
        return Ok(0);
    };
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut line = Vec::with_capacity(1024);
    let mut n = 0;
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if String::from_utf8_lossy(&line).contains(needle) {
            n += 1;
        }
    }
    Ok(n)
}

/// Samples once a second whether a compiler (someone else's build) is running: the machine
/// has two cores, so such a run's figures are disturbed and the report says so.
struct BusySampler {
    busy: Arc<AtomicU64>,
    samples: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BusySampler {
    fn start() -> Self {
        let busy = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, n, st) = (busy.clone(), samples.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                if compiler_running() {
                    b.fetch_add(1, Ordering::Relaxed);
                }
                n.fetch_add(1, Ordering::Relaxed);
                for _ in 0..10 {
                    if st.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        Self {
            busy,
            samples,
            stop,
            thread: Some(thread),
        }
    }

    fn busy_samples(&self) -> u64 {
        self.busy.load(Ordering::Relaxed)
    }

    fn share(&self) -> f64 {
        self.busy_samples() as f64 / self.samples.load(Ordering::Relaxed).max(1) as f64
    }
}

impl Drop for BusySampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn compiler_running() -> bool {
    let Ok(rd) = fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
            && fs::read_to_string(e.path().join("comm"))
                .map(|c| {
                    matches!(
                        c.trim(),
                        "rustc" | "clippy-driver" | "cc1" | "cc1plus" | "bpf-linker"
                    )
                })
                .unwrap_or(false)
    })
}

// ---------------------------------------------------------------------------------------------
// Statistics

fn median(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn fmt_dur(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

// ---------------------------------------------------------------------------------------------
// pgbench and sysbench

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cond {
    None,
    Agent,
    /// The agent shipping to Kafka.
    Kafka,
    Pgaudit,
    /// pgbench through `dbgov proxy`.
    Proxy,
    /// The agent reading TLS with `--tls-capture uprobe`.
    Uprobe,
    /// The agent with the kernel's BPF run-time statistics on: one extra run per workload of
    /// scenario 1 that times the kernel programs. Its throughput is in no median: the
    /// statistics cost every program run two clock reads (about 60 to 95 ns here), which
    /// neither pgaudit nor an agent in production pays.
    AgentStats,
}

impl Cond {
    fn name(self) -> &'static str {
        match self {
            Cond::Proxy => "proxy",
            Cond::None => "none",
            Cond::Agent => "agent",
            Cond::Kafka => "kafka",
            Cond::Pgaudit => "pgaudit",
            Cond::Uprobe => "agent (uprobe)",
            Cond::AgentStats => "agent (BPF statistics)",
        }
    }
}

#[derive(Clone, Copy)]
struct Workload {
    select_only: bool,
    mode: &'static str,
    /// `pgbench -C`: a new connection for every transaction.
    churn: bool,
    /// `sslmode=require`: TLS between pgbench and the server (scenario 1t).
    tls: bool,
}

impl Workload {
    fn name(&self) -> String {
        format!(
            "{} {}{}",
            if self.select_only {
                "select-only"
            } else {
                "tpcb-like"
            },
            self.mode,
            if self.churn { " -C" } else { "" },
        ) + if self.tls { " sslmode=require" } else { "" }
    }

    fn statements_per_tx(&self) -> u64 {
        if self.select_only {
            1
        } else {
            7
        }
    }

    /// Statements per transaction that pgaudit `read,write` logs (not BEGIN/END).
    fn audited_per_tx(&self) -> u64 {
        if self.select_only {
            1
        } else {
            5
        }
    }
}

const WORKLOADS: [Workload; 4] = [
    Workload {
        select_only: true,
        mode: "simple",
        churn: false,
        tls: false,
    },
    Workload {
        select_only: true,
        mode: "prepared",
        churn: false,
        tls: false,
    },
    Workload {
        select_only: false,
        mode: "simple",
        churn: false,
        tls: false,
    },
    Workload {
        select_only: false,
        mode: "prepared",
        churn: false,
        tls: false,
    },
];

/// Scenario 7: select-only with a new connection per transaction, as PHP pages, cron jobs and
/// one-shot `psql -c` calls connect.
const CHURN: Workload = Workload {
    select_only: true,
    mode: "simple",
    churn: true,
    tls: false,
};

/// Scenario 1t: select-only prepared over TLS.
const TLS: Workload = Workload {
    select_only: true,
    mode: "prepared",
    churn: false,
    tls: true,
};

/// One measured client run (pgbench or sysbench) under one condition.
#[derive(Clone, Default)]
struct Run {
    tps: f64,
    transactions: u64,
    failed: u64,
    /// Statements executed (pgbench: transactions x statements per transaction; sysbench: its
    /// query count).
    statements: u64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    avg_ms: Option<f64>,
    latency_samples: u64,
    agent: Option<AgentRun>,
    audit_lines: Option<u64>,
    /// A compiler ran on the machine during this run (the figures are disturbed).
    busy: bool,
}

impl Run {
    fn json(&self, cond: Cond, round: u32) -> Value {
        json!({
            "condition": cond.name(),
            "round": round,
            "tps": self.tps,
            "transactions": self.transactions,
            "failed_transactions": self.failed,
            "statements_executed": self.statements,
            "latency_p50_ms": self.p50_ms,
            "latency_p99_ms": self.p99_ms,
            "latency_avg_ms": self.avg_ms,
            "latency_samples": self.latency_samples,
            "agent": self.agent.as_ref().map(AgentRun::json),
            "pgaudit_lines": self.audit_lines,
            "machine_busy": self.busy,
        })
    }
}

fn field<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .map(str::trim)
}

fn first_number(s: &str) -> Option<f64> {
    let t: String = s
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    t.parse().ok()
}

fn pgbench(
    port: u16,
    w: Workload,
    secs: u64,
    rate: Option<u32>,
    sampling: f64,
    logdir: &Path,
) -> Result<Run> {
    let _ = fs::remove_dir_all(logdir);
    fs::create_dir_all(logdir)?;
    let mut c = Command::new(Path::new(PG_BIN).join("pgbench"));
    c.args(["-h", "127.0.0.1", "-U", "postgres", "-n"])
        .arg("-p")
        .arg(port.to_string())
        .arg("-c")
        .arg(CLIENTS.to_string())
        .arg("-j")
        .arg(THREADS.to_string())
        .arg("-T")
        .arg(secs.to_string())
        .arg("-M")
        .arg(w.mode)
        .arg("-l")
        .arg("--log-prefix")
        .arg(logdir.join("tx"));
    if w.select_only {
        c.arg("-S");
    }
    if w.churn {
        c.arg("-C");
    }
    // Explicit either way: the server offers TLS once scenario 1t has switched it on.
    c.env("PGSSLMODE", if w.tls { "require" } else { "disable" });
    if let Some(r) = rate {
        c.arg("-R").arg(r.to_string());
    }
    if sampling < 1.0 {
        c.arg(format!("--sampling-rate={sampling}"));
    }
    c.arg("bench").current_dir(logdir);
    let out = run(&mut c)?;
    let transactions = field(&out, "number of transactions actually processed:")
        .and_then(first_number)
        .context("pgbench printed no transaction count")? as u64;
    let failed = field(&out, "number of failed transactions:")
        .and_then(first_number)
        .unwrap_or(0.0) as u64;
    let tps = field(&out, "tps =")
        .and_then(first_number)
        .context("pgbench printed no tps")?;
    let avg_ms = field(&out, "latency average =").and_then(first_number);
    // Per-transaction log: client_id tx_no latency_us script_no epoch us [lag_us].
    let mut lat: Vec<u64> = Vec::new();
    for e in fs::read_dir(logdir)?.flatten() {
        let f = BufReader::new(fs::File::open(e.path())?);
        for l in f.lines() {
            let l = l?;
            if let Some(v) = l.split_whitespace().nth(2).and_then(|x| x.parse().ok()) {
                lat.push(v);
            }
        }
    }
    let _ = fs::remove_dir_all(logdir);
    lat.sort_unstable();
    let ms = |v: Option<u64>| v.map(|us| us as f64 / 1000.0);
    Ok(Run {
        tps,
        transactions,
        failed,
        statements: transactions * w.statements_per_tx(),
        p50_ms: ms(percentile(&lat, 0.50)),
        p99_ms: ms(percentile(&lat, 0.99)),
        avg_ms,
        latency_samples: lat.len() as u64,
        agent: None,
        audit_lines: None,
        busy: false,
    })
}

fn sysbench_run(m: &Maria, test: &str, secs: u64) -> Result<Run> {
    let out = run(m.sysbench(test).args([
        &format!("--threads={CLIENTS}"),
        &format!("--time={secs}"),
        "--percentile=99",
        "--histogram=on",
        "--db-ps-mode=auto",
        "--report-interval=0",
        "run",
    ]))?;
    let tps = field(&out, "transactions:")
        .and_then(|s| s.split('(').nth(1))
        .and_then(first_number)
        .context("sysbench printed no transaction rate")?;
    let transactions = field(&out, "transactions:")
        .and_then(first_number)
        .unwrap_or(0.0) as u64;
    let queries = field(&out, "queries:")
        .and_then(first_number)
        .unwrap_or(0.0) as u64;
    let p99 = field(&out, "99th percentile:").and_then(first_number);
    let avg = field(&out, "avg:").and_then(first_number);
    // Histogram lines: "   value |****   count".
    let mut hist: Vec<(f64, u64)> = Vec::new();
    for l in out.lines() {
        let Some((v, rest)) = l.split_once('|') else {
            continue;
        };
        if let (Ok(v), Some(Ok(n))) = (
            v.trim().parse::<f64>(),
            rest.split_whitespace().last().map(str::parse::<u64>),
        ) {
            hist.push((v, n));
        }
    }
    let total: u64 = hist.iter().map(|h| h.1).sum();
    let p50 = if total > 0 {
        let mut acc = 0;
        hist.iter()
            .find(|(_, n)| {
                acc += n;
                acc * 2 >= total
            })
            .map(|h| h.0)
    } else {
        None
    };
    Ok(Run {
        tps,
        transactions,
        failed: field(&out, "ignored errors:")
            .and_then(first_number)
            .unwrap_or(0.0) as u64,
        statements: queries,
        p50_ms: p50,
        p99_ms: p99,
        avg_ms: avg,
        latency_samples: total,
        agent: None,
        audit_lines: None,
        busy: false,
    })
}

// ---------------------------------------------------------------------------------------------
// The benchmark

/// One row of the result table.
struct Row {
    scenario: String,
    metric: String,
    base: String,
    subject: String,
    ratio: Option<f64>,
    target: String,
    met: Option<bool>,
}

/// Runs of one workload: per condition, per round.
#[derive(Default)]
struct Series {
    runs: BTreeMap<&'static str, Vec<(u32, Run)>>,
}

impl Series {
    fn push(&mut self, cond: Cond, round: u32, r: Run) {
        self.runs.entry(cond.name()).or_default().push((round, r));
    }

    fn of(&self, cond: Cond) -> Vec<&Run> {
        self.runs
            .get(cond.name())
            .map(|v| v.iter().map(|(_, r)| r).collect())
            .unwrap_or_default()
    }

    fn med(&self, cond: Cond, f: impl Fn(&Run) -> Option<f64>) -> Option<f64> {
        median(
            &self
                .of(cond)
                .iter()
                .filter_map(|r| f(r))
                .collect::<Vec<_>>(),
        )
    }

    fn json(&self) -> Value {
        let mut all = Vec::new();
        for (c, v) in &self.runs {
            for (round, r) in v {
                let cond = match *c {
                    "agent" => Cond::Agent,
                    "kafka" => Cond::Kafka,
                    "pgaudit" => Cond::Pgaudit,
                    _ => Cond::None,
                };
                all.push(r.json(cond, *round));
            }
        }
        Value::Array(all)
    }
}

struct Progress {
    t0: Instant,
    planned: f64,
    done: f64,
    step: u32,
    steps: u32,
}

impl Progress {
    fn begin(&mut self, label: &str) {
        self.step += 1;
        let el = self.t0.elapsed().as_secs_f64();
        let remaining = (self.planned - self.done).max(0.0);
        let eta = if self.done > 0.0 {
            remaining * el / self.done
        } else {
            remaining
        };
        eprintln!(
            "[{}/{}] {label}   (elapsed {}, ETA {})",
            self.step,
            self.steps,
            fmt_dur(el),
            fmt_dur(eta)
        );
    }

    fn end(&mut self, planned: f64) {
        self.done += planned;
    }
}

struct Bench {
    bin: PathBuf,
    plan: Plan,
    work: TempDir,
    tck: f64,
    rows: Vec<Row>,
    json: serde_json::Map<String, Value>,
    notes: Vec<String>,
    progress: Progress,
    sampler: BusySampler,
    /// The analysis_throughput example binary, or why there is none.
    example: Option<std::result::Result<PathBuf, String>>,
    /// Seconds spent building before the benchmark started.
    build_secs: f64,
    busy_runs: u32,
    runs: u32,
    /// The local Kafka broker of scenarios 1k and 8.
    broker: Option<Broker>,
}

/// Seconds of overhead per run, for the ETA (agent start, stop and event counting).
const AGENT_OVERHEAD: f64 = 6.0;
const RUN_OVERHEAD: f64 = 1.0;

impl Bench {
    fn new(bin: PathBuf, plan: Plan) -> Result<Self> {
        let (planned, steps) = Self::estimate(&plan);
        Ok(Self {
            bin,
            work: TempDir::new("work")?,
            tck: clk_tck(),
            rows: Vec::new(),
            json: serde_json::Map::new(),
            notes: Vec::new(),
            progress: Progress {
                t0: Instant::now(),
                planned,
                done: 0.0,
                step: 0,
                steps,
            },
            plan,
            sampler: BusySampler::start(),
            example: None,
            build_secs: 0.0,
            busy_runs: 0,
            runs: 0,
            broker: None,
        })
    }

    /// Marks `r` busy if a compiler ran since `before` (a `busy_samples` reading).
    fn mark_busy(&mut self, r: &mut Run, before: u64) {
        // The sampler looks once a second; a run is short, so look once more now.
        r.busy = self.sampler.busy_samples() > before || compiler_running();
        self.runs += 1;
        if r.busy {
            self.busy_runs += 1;
        }
    }

    fn estimate(p: &Plan) -> (f64, u32) {
        let r = p.rounds as f64;
        let mut secs = 40.0; // servers, data
        let mut steps = 1;
        let conds_sat = 1.0
            + [p.wants("1"), p.wants("1c"), p.wants("1k")]
                .iter()
                .filter(|w| **w)
                .count() as f64;
        if p.wants("1") || p.wants("1c") || p.wants("1k") {
            secs += 4.0 * r * (conds_sat * (p.sat_secs as f64 + RUN_OVERHEAD) + AGENT_OVERHEAD);
            steps += 4 * p.rounds * conds_sat as u32;
            if p.wants("1") {
                // One agent run per workload with the BPF statistics on.
                secs += 4.0 * (p.sat_secs as f64 + RUN_OVERHEAD + AGENT_OVERHEAD);
                steps += 4;
            }
        }
        if p.wants("1b") || p.wants("1c") {
            secs += r * (conds_sat * (p.rate_secs as f64 + RUN_OVERHEAD) + AGENT_OVERHEAD);
            steps += p.rounds * conds_sat as u32;
        }
        if p.wants("6") {
            secs += 2.0 * r * (2.0 * (p.sat_secs as f64 + RUN_OVERHEAD) + 2.0);
            steps += 4 * p.rounds;
        }
        if p.wants("7") {
            secs += r * (2.0 * (p.sat_secs as f64 + RUN_OVERHEAD) + AGENT_OVERHEAD);
            steps += 2 * p.rounds;
        }
        if p.wants("2") {
            secs +=
                20.0 + 2.0 * r * (2.0 * (p.sysbench_secs as f64 + RUN_OVERHEAD) + AGENT_OVERHEAD);
            steps += 4 * p.rounds;
        }
        if p.wants("5") {
            secs += p.replay_secs * 1.9 + 2.0;
            steps += 1;
        }
        if p.wants("analysis") {
            secs += 15.0;
            steps += 1;
        }
        if p.wants("8") {
            secs += 60.0 + 2.0 * p.sat_secs as f64;
            steps += 2;
        }
        if p.wants("9") {
            secs += r * (p.sat_secs as f64 + RUN_OVERHEAD + AGENT_OVERHEAD + 10.0);
            steps += p.rounds;
        }
        if p.wants("1t") {
            secs += 5.0 + r * (2.0 * (p.sat_secs as f64 + RUN_OVERHEAD) + AGENT_OVERHEAD);
            steps += 2 * p.rounds;
        }
        (secs, steps)
    }

    /// Room for bursts: the ring's highest fill over the runs, the median rate at which the
    /// kernel produced records during a saturated run, and how long the ring holds that rate
    /// (its size over the rate), which is how far the agent may fall behind without a loss.
    fn ring_row<'a>(&mut self, label: &str, runs: impl Iterator<Item = &'a AgentRun>) {
        let secs = self.plan.sat_secs as f64;
        let rings: Vec<RingLine> = runs.map(|a| a.ring).filter(|r| r.size > 0).collect();
        if rings.is_empty() || secs <= 0.0 {
            return;
        }
        let peak = rings.iter().map(|r| r.peak).max().unwrap_or(0);
        let size = rings[0].size;
        let mut rates: Vec<f64> = rings.iter().map(|r| r.bytes as f64 / secs).collect();
        rates.sort_by(f64::total_cmp);
        let rate = rates[rates.len() / 2];
        let largest = rings.iter().map(|r| r.largest).max().unwrap_or(0);
        let holds_ms = if rate > 0.0 {
            format!("{:.0}", size as f64 / rate * 1000.0)
        } else {
            "-".into()
        };
        self.row(
            label,
            "ring buffer: peak fill % / records MB/s / ms of that rate the ring holds / largest drain KiB",
            format!("{} MiB", size >> 20),
            format!(
                "{:.1} / {:.1} / {holds_ms} / {}",
                peak as f64 * 100.0 / size as f64,
                rate / 1e6,
                largest >> 10
            ),
            None,
            "-",
            None,
        );
    }

    #[allow(clippy::too_many_arguments)] // one argument per table column
    fn row(
        &mut self,
        scenario: &str,
        metric: &str,
        base: String,
        subject: String,
        ratio: Option<f64>,
        target: &str,
        met: Option<bool>,
    ) {
        self.rows.push(Row {
            scenario: scenario.to_owned(),
            metric: metric.to_owned(),
            base,
            subject,
            ratio,
            target: target.to_owned(),
            met,
        });
    }

    fn run_all(&mut self) -> Result<()> {
        let p = &self.plan;
        let need_pg = ["1", "1b", "1c", "1k", "1t", "6", "7", "8", "9"]
            .iter()
            .any(|s| p.wants(s));
        let need_pgaudit = p.wants("1c");
        let need_maria = p.wants("2");
        let mut what = Vec::new();
        if need_pg {
            what.push("PostgreSQL (plain)");
        }
        if need_pgaudit {
            what.push("PostgreSQL (pgaudit)");
        }
        if need_maria {
            what.push("MariaDB");
        }
        self.progress.begin(&format!(
            "starting servers and loading data: {}",
            if what.is_empty() {
                "none needed".to_owned()
            } else {
                what.join(", ")
            }
        ));
        let pg = if need_pg {
            Some(Pg::start("pg", false)?)
        } else {
            None
        };
        let pga = if need_pgaudit {
            Some(Pg::start("pgaudit", true)?)
        } else {
            None
        };
        let maria = if need_maria {
            Some(Maria::start()?)
        } else {
            None
        };
        let my_port = maria.as_ref().map(|m| m.port).unwrap_or(3306);
        if p.wants("1k") || p.wants("8") {
            self.broker = Some(Broker::start(self.work.path())?);
        }
        for s in [&pg, &pga].into_iter().flatten() {
            run(Command::new(Path::new(PG_BIN).join("pgbench"))
                .args(["-i", "-q", "-h", "127.0.0.1", "-U", "postgres"])
                .arg("-s")
                .arg(SCALE.to_string())
                .arg("-p")
                .arg(s.port.to_string())
                .arg("bench"))?;
            s.psql(&["VACUUM ANALYZE", "CHECKPOINT"], "bench")?;
            // Warm the caches (not measured).
            let wl = self.work.path().join("warmup");
            pgbench(s.port, WORKLOADS[1], self.plan.warmup_secs, None, 0.01, &wl)?;
        }
        if let Some(pa) = &pga {
            pa.take_audit_lines()?;
        }
        if let (Some(m), true) = (&maria, p.wants("2")) {
            run(m.sysbench("oltp_read_write").arg("prepare"))?;
            run(m.sysbench("oltp_read_only").args([
                "--threads=4",
                &format!("--time={}", self.plan.warmup_secs),
                "run",
            ]))?;
        }
        self.progress.end(40.0);

        // A failing scenario is reported and the others still run.
        let mut failed: Vec<String> = Vec::new();
        let mut check = |name: &str, r: Result<()>, notes: &mut Vec<String>| {
            if let Err(e) = r {
                eprintln!("      scenario {name} failed: {e:#}");
                notes.push(format!("Scenario {name} failed: {e:#}"));
                failed.push(name.to_owned());
            }
        };
        if let Some(pg) = &pg {
            if self.plan.wants("1") || self.plan.wants("1c") || self.plan.wants("1k") {
                let r = self.scenario1(pg, pga.as_ref(), my_port);
                check("1", r, &mut self.notes);
            }
            if self.plan.wants("1b") || self.plan.wants("1c") {
                let r = self.scenario1b(pg, pga.as_ref(), my_port);
                check("1b", r, &mut self.notes);
            }
            if self.plan.wants("6") {
                let r = self.scenario6(pg);
                check("6", r, &mut self.notes);
            }
            if self.plan.wants("7") {
                let r = self.scenario7(pg, my_port);
                check("7", r, &mut self.notes);
            }
            if self.plan.wants("9") {
                let r = self.scenario9(pg, my_port);
                check("9", r, &mut self.notes);
            }
            // Last on this server: it switches TLS on.
            if self.plan.wants("1t") {
                let r = self.scenario1t(pg, my_port);
                check("1t", r, &mut self.notes);
            }
        }
        if let (Some(m), true) = (&maria, self.plan.wants("2")) {
            let pg_port = pg.as_ref().map(|p| p.port).unwrap_or(5432);
            let r = self.scenario2(m, pg_port);
            check("2", r, &mut self.notes);
        }
        if self.plan.wants("8") {
            let r = self.scenario8(pg.as_ref(), my_port);
            check("8", r, &mut self.notes);
        }
        drop(pga);
        drop(pg);
        drop(maria);
        if self.plan.wants("5") {
            let r = self.scenario5();
            check("5", r, &mut self.notes);
        }
        if self.plan.wants("analysis") {
            let r = self.analysis();
            check("analysis", r, &mut self.notes);
        }
        if self.plan.wants("report") {
            let r = self.scenario_report();
            check("report", r, &mut self.notes);
        }
        if !failed.is_empty() {
            bail!("scenario(s) {} failed (see the notes)", failed.join(", "));
        }
        Ok(())
    }

    /// The conditions in round `round`, rotated so no condition always runs first.
    fn order(conds: &[Cond], round: u32) -> Vec<Cond> {
        let n = conds.len();
        (0..n).map(|i| conds[(i + round as usize) % n]).collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn measure_pg(
        &mut self,
        cond: Cond,
        pg: &Pg,
        pga: Option<&Pg>,
        my_port: u16,
        w: Workload,
        secs: u64,
        rate: Option<u32>,
    ) -> Result<Run> {
        let server = match cond {
            Cond::Pgaudit => pga.context("no pgaudit server")?,
            _ => pg,
        };
        if !w.select_only {
            // What pgbench does without -n, done outside its connections.
            server.psql(
                &[
                    "VACUUM pgbench_branches, pgbench_tellers",
                    "TRUNCATE pgbench_history",
                ],
                "bench",
            )?;
        }
        if cond == Cond::Pgaudit {
            server.take_audit_lines()?;
        }
        let logdir = self.work.path().join("pgbench-log");
        let sampling = if rate.is_some() {
            1.0
        } else {
            SATURATED_LOG_SAMPLING
        };
        let agent = match cond {
            Cond::Agent | Cond::AgentStats => {
                Some(Agent::start(&self.bin, pg.port, my_port, None)?)
            }
            Cond::Uprobe => Some(Agent::start_uprobe(&self.bin, pg.port, my_port)?),
            Cond::Kafka => {
                let work = self.work.path().to_owned();
                let b = self.broker.as_mut().context("no Kafka broker")?;
                let (config, topic, _) = b.run_config(&work)?;
                let brokers = b.addr();
                Some(Agent::start_to(
                    &self.bin,
                    pg.port,
                    my_port,
                    None,
                    Some((&brokers, &config, &topic)),
                ))
                .transpose()?
            }
            _ => None,
        };
        let cpu0 = agent.as_ref().map(Agent::ticks);
        // The kernel programs' run time, in the runs made for it only (timing them adds two
        // clock reads per program run, which the compared runs must not pay).
        let stats = (cond == Cond::AgentStats && agent.is_some())
            .then(BpfStats::enable)
            .flatten();
        let bpf0 = agent
            .as_ref()
            .filter(|_| stats.is_some())
            .and_then(|a| bpf_run_ns(a.pid()));
        let t = Instant::now();
        let b0 = self.sampler.busy_samples();
        let mut r = pgbench(server.port, w, secs, rate, sampling, &logdir)?;
        self.mark_busy(&mut r, b0);
        if let (Some(a), Some(cpu0)) = (agent, cpu0) {
            let wall = t.elapsed().as_secs_f64();
            a.wait_idle(Duration::from_secs(30));
            let kernel_s = bpf0
                .zip(bpf_run_ns(a.pid()))
                .map(|(b0, b1)| b1.saturating_sub(b0) as f64 / 1e9);
            drop(stats);
            let mut ar = AgentRun {
                cpu_s: a.ticks().saturating_sub(cpu0) as f64 / self.tck,
                kernel_s,
                wall_s: wall,
                ..AgentRun::default()
            };
            a.stop("\"application\":\"pgbench\"", &mut ar)?;
            r.agent = Some(ar);
        }
        if cond == Cond::Pgaudit {
            r.audit_lines = Some(server.take_audit_lines()?);
        }
        Ok(r)
    }

    /// Scenario 7: connection churn (`pgbench -C -S`). The agent's CPU per new connection
    /// (pairing the two local ends, identity, session set-up, its three events and the one
    /// statement), and whether every statement gave exactly one event. CPU comes from
    /// `/proc/PID/schedstat` (nanoseconds; clock ticks are too coarse for a few thousand
    /// connections), and the agent's idle rate, measured just before the run, is subtracted
    /// for the marginal figure.
    /// Scenario 6: pgbench direct and through `dbgov proxy`, side by side.
    fn scenario6(&mut self, pg: &Pg) -> Result<()> {
        let conds = [Cond::None, Cond::Proxy];
        let logdir = self.work.path().join("pgbench-log");
        let mut per_workload = serde_json::Map::new();
        for w in [WORKLOADS[1], WORKLOADS[3]] {
            let mut s = Series::default();
            let mut proxy_cpu_us: Vec<f64> = Vec::new();
            let mut complete: Vec<f64> = Vec::new();
            for round in 1..=self.plan.rounds {
                for cond in Self::order(&conds, round) {
                    self.progress.begin(&format!(
                        "6 pgbench {} round {round}/{}: {} ({} s)",
                        w.name(),
                        self.plan.rounds,
                        if cond == Cond::Proxy {
                            "through the proxy"
                        } else {
                            "direct"
                        },
                        self.plan.sat_secs
                    ));
                    let secs = self.plan.sat_secs;
                    let b0 = self.sampler.busy_samples();
                    let mut r = if cond == Cond::Proxy {
                        let px = Proxy::start(&self.bin, pg.port, self.work.path())?;
                        let c0 = threads_sched_ns(px.pid());
                        let r = pgbench(px.port, w, secs, None, SATURATED_LOG_SAMPLING, &logdir)?;
                        let cpu = threads_sched_ns(px.pid()).saturating_sub(c0) as f64;
                        proxy_cpu_us.push(cpu / r.statements.max(1) as f64 / 1e3);
                        let events = px.stop()?;
                        // pgbench's own statements: its set-up connection runs a few more.
                        complete.push(events as f64 / r.statements.max(1) as f64);
                        r
                    } else {
                        pgbench(pg.port, w, secs, None, SATURATED_LOG_SAMPLING, &logdir)?
                    };
                    self.mark_busy(&mut r, b0);
                    eprintln!(
                        "      tps {:.0}, p50 {:.3} ms{}",
                        r.tps,
                        r.p50_ms.unwrap_or(0.0),
                        if cond == Cond::Proxy {
                            format!(
                                ", proxy cpu {:.1} us per statement, events {:.3} per statement",
                                proxy_cpu_us.last().copied().unwrap_or(0.0),
                                complete.last().copied().unwrap_or(0.0)
                            )
                        } else {
                            String::new()
                        }
                    );
                    self.progress.end(secs as f64 + RUN_OVERHEAD + 2.0);
                    s.push(cond, round, r);
                }
            }
            let tps_direct = s.med(Cond::None, |r| Some(r.tps));
            let tps_proxy = s.med(Cond::Proxy, |r| Some(r.tps));
            let p50_direct = s.med(Cond::None, |r| r.p50_ms);
            let p50_proxy = s.med(Cond::Proxy, |r| r.p50_ms);
            let added_us = match (p50_direct, p50_proxy) {
                (Some(d), Some(p)) => Some((p - d) * 1000.0 / w.statements_per_tx() as f64),
                _ => None,
            };
            let target = if w.select_only { 0.80 } else { 0.90 };
            let r = ratio(tps_proxy, tps_direct);
            self.row(
                &format!("6 {}", w.name()),
                "TPS, through the proxy vs direct",
                opt3(tps_direct),
                opt3(tps_proxy),
                r,
                &format!("≥ {target:.2}"),
                r.map(|v| v >= target),
            );
            self.row(
                &format!("6 {}", w.name()),
                "added p50 latency per statement, µs",
                p50_direct
                    .map(|v| format!("{:.0} (p50 direct, µs)", v * 1000.0))
                    .unwrap_or("-".into()),
                added_us.map(|v| format!("{v:.0}")).unwrap_or("-".into()),
                None,
                "≤ 100",
                added_us.map(|v| v <= 100.0),
            );
            self.row(
                &format!("6 {}", w.name()),
                "proxy CPU per statement, µs; audit events per statement executed",
                "-".into(),
                format!(
                    "{}; {}",
                    median(&proxy_cpu_us)
                        .map(|v| format!("{v:.1}"))
                        .unwrap_or("-".into()),
                    median(&complete)
                        .map(|v| format!("{v:.3}"))
                        .unwrap_or("-".into())
                ),
                None,
                "-",
                None,
            );
            per_workload.insert(
                w.name(),
                json!({
                    "runs": s.json(),
                    "proxy_cpu_us_per_statement": proxy_cpu_us,
                    "proxy_events_per_statement": complete,
                    "added_p50_us_per_statement": added_us,
                }),
            );
        }
        self.json
            .insert("scenario_6".into(), Value::Object(per_workload));
        Ok(())
    }

    /// Scenario 9: overload. pgbench select-only prepared, saturated, with the agent held to
    /// [`OVERLOAD_PERCENT`] of one core by a cgroup CPU quota: the share of the statements
    /// executed that got a complete event, an incomplete one (the answer shed) and none, and
    /// whether every loss is counted in gap events. After pgbench stops the agent is released
    /// from the quota so that it drains the ring quickly (what was lost was lost while it was
    /// held).
    /// Scenario 1t: pgbench select-only prepared with `sslmode=require`, without the agent and
    /// with it reading TLS each of its two ways, side by side in one run. `uprobe`: uprobes on
    /// libssl's `SSL_read`/`SSL_write` (and their `_ex` forms), where every call traps into the
    /// kernel, in pgbench and in the server's backends alike. `keylog` (the default): a probe on
    /// OpenSSL 3's `EVP_KDF_derive` takes the session secrets once per handshake and the agent
    /// decrypts the records the syscall tracepoints captured.
    fn scenario1t(&mut self, pg: &Pg, my_port: u16) -> Result<()> {
        self.progress
            .begin("1t switching TLS on in the PostgreSQL server");
        pg.enable_tls()?;
        self.progress.end(5.0);
        let w = TLS;
        let conds = [Cond::None, Cond::Agent, Cond::Uprobe];
        let mut s = Series::default();
        for round in 1..=self.plan.rounds {
            for cond in Self::order(&conds, round) {
                let planned = self.plan.sat_secs as f64
                    + RUN_OVERHEAD
                    + if cond != Cond::None {
                        AGENT_OVERHEAD
                    } else {
                        0.0
                    };
                self.progress.begin(&format!(
                    "1t pgbench {} round {round}/{}: {} ({} s)",
                    w.name(),
                    self.plan.rounds,
                    cond.name(),
                    self.plan.sat_secs
                ));
                let r = self.measure_pg(cond, pg, None, my_port, w, self.plan.sat_secs, None)?;
                eprintln!(
                    "      tps {:.0}, p99 {} ms{}",
                    r.tps,
                    opt3(r.p99_ms),
                    r.agent
                        .as_ref()
                        .map(|a| format!(
                            ", agent cpu {:.2} s, events {}/{} executed, gaps {} ({})",
                            a.cpu_s, a.client_statements, r.statements, a.gap_events, a.gap_reasons
                        ))
                        .unwrap_or_default()
                );
                if let Some(a) = r.agent.as_ref().filter(|a| a.gap_events > 0) {
                    self.notes.push(format!(
                        "Scenario 1t, round {round}: {} gap events: {}.",
                        a.gap_events, a.gap_reasons
                    ));
                }
                self.progress.end(planned);
                s.push(cond, round, r);
            }
        }
        for (cond, how) in [
            (Cond::Agent, "keylog, the default"),
            (Cond::Uprobe, "uprobe"),
        ] {
            self.rows_1t(&s, cond, &format!("1t pgbench {} ({how})", w.name()));
        }
        self.json.insert("scenario_1t_runs".into(), s.json());
        Ok(())
    }

    /// The rows of scenario 1t for one way of reading TLS.
    fn rows_1t(&mut self, s: &Series, cond: Cond, label: &str) {
        let b = s.med(Cond::None, |r| Some(r.tps));
        let a = s.med(cond, |r| Some(r.tps));
        let rt = ratio(a, b);
        self.row(
            label,
            "TPS (median)",
            opt0(b),
            opt0(a),
            rt,
            ">= 0.85",
            rt.map(|x| x >= 0.85),
        );
        let f = |r: &Run| r.p99_ms;
        let (pb, pa) = (s.med(Cond::None, f), s.med(cond, f));
        self.row(
            label,
            "latency p99 ms",
            opt3(pb),
            opt3(pa),
            ratio(pa, pb),
            "-",
            None,
        );
        let runs = s.of(cond);
        let executed: u64 = runs.iter().map(|r| r.statements).sum();
        let events: u64 = runs
            .iter()
            .filter_map(|r| r.agent.as_ref().map(|a| a.client_statements))
            .sum();
        let gaps: u64 = runs
            .iter()
            .filter_map(|r| r.agent.as_ref().map(|a| a.gap_events))
            .sum();
        let c = ratio(Some(events as f64), Some(executed as f64));
        self.row(
            label,
            "statement events / statements executed",
            executed.to_string(),
            events.to_string(),
            c,
            "1.000 (+-0.1%)",
            c.map(|x| (x - 1.0).abs() <= 0.001),
        );
        self.row(
            label,
            "gap events",
            "0".into(),
            gaps.to_string(),
            None,
            "0",
            Some(gaps == 0),
        );
        let cost = s.med(cond, |r| {
            r.agent
                .as_ref()
                .map(|a| a.cpu_s * 1e6 / r.statements.max(1) as f64)
        });
        self.row(
            label,
            "agent CPU us per statement (median)",
            "-".into(),
            cost.map(|x| format!("{x:.1}")).unwrap_or("-".into()),
            None,
            "-",
            None,
        );
    }

    fn scenario9(&mut self, pg: &Pg, my_port: u16) -> Result<()> {
        let w = WORKLOADS[1];
        let logdir = self.work.path().join("pgbench-log");
        let mut s = Series::default();
        for round in 1..=self.plan.rounds {
            self.progress.begin(&format!(
                "9 overload: pgbench {} with the agent at {OVERLOAD_PERCENT}% of one core, round {round}/{} ({} s)",
                w.name(),
                self.plan.rounds,
                self.plan.sat_secs
            ));
            let limit = CpuLimit::new(OVERLOAD_PERCENT)?;
            let agent = Agent::start(&self.bin, pg.port, my_port, None)?;
            limit.add(agent.pid())?;
            let cpu0 = agent.ticks();
            let t = Instant::now();
            let b0 = self.sampler.busy_samples();
            let mut r = pgbench(
                pg.port,
                w,
                self.plan.sat_secs,
                None,
                SATURATED_LOG_SAMPLING,
                &logdir,
            )?;
            self.mark_busy(&mut r, b0);
            let wall = t.elapsed().as_secs_f64();
            let cpu_s = agent.ticks().saturating_sub(cpu0) as f64 / self.tck;
            drop(limit);
            agent.wait_idle(Duration::from_secs(60));
            let mut ar = AgentRun {
                cpu_s,
                wall_s: wall,
                ..AgentRun::default()
            };
            agent.stop("\"application\":\"pgbench\"", &mut ar)?;
            let executed = r.statements.max(1) as f64;
            let complete = ar.client_statements.saturating_sub(ar.client_incomplete);
            let missing = r.statements.saturating_sub(ar.client_statements);
            eprintln!(
                "      tps {:.0}; of {} statements: {:.3} complete, {:.3} incomplete, {:.3} without an event; {} gap events ({} records, {} bytes); agent CPU {:.1}% of one core",
                r.tps,
                r.statements,
                complete as f64 / executed,
                ar.client_incomplete as f64 / executed,
                missing as f64 / executed,
                ar.gap_events,
                ar.gap_records,
                ar.gap_bytes,
                cpu_s / wall.max(1e-9) * 100.0
            );
            self.progress
                .end(self.plan.sat_secs as f64 + RUN_OVERHEAD + AGENT_OVERHEAD + 10.0);
            r.agent = Some(ar);
            s.push(Cond::Agent, round, r);
        }
        const A: Cond = Cond::Agent;
        // The share of the statements executed, per run, then the median over rounds.
        let share = |f: fn(&Run, &AgentRun) -> u64| {
            s.med(A, |r| {
                r.agent
                    .as_ref()
                    .map(|a| f(r, a) as f64 / r.statements.max(1) as f64)
            })
        };
        let label = format!(
            "9 overload {} (agent at {OVERLOAD_PERCENT}% of one core)",
            w.name()
        );
        let executed = s.med(A, |r| Some(r.statements as f64));
        self.row(
            &label,
            "statements executed",
            opt0(executed),
            "-".into(),
            None,
            "-",
            None,
        );
        let complete = share(|_, a| a.client_statements.saturating_sub(a.client_incomplete));
        let incomplete = share(|_, a| a.client_incomplete);
        let missing = share(|r, a| r.statements.saturating_sub(a.client_statements));
        for (m, v) in [
            ("share with a complete event", complete),
            ("share with an incomplete event (answer shed)", incomplete),
            ("share without an event", missing),
        ] {
            self.row(&label, m, "-".into(), opt3(v), None, "-", None);
        }
        // Every statement without an event must be accounted for by a gap.
        let accounted = s.of(A).iter().all(|r| {
            r.agent
                .as_ref()
                .is_some_and(|a| r.statements <= a.client_statements || a.gap_events > 0)
        });
        let gaps = s.med(A, |r| r.agent.as_ref().map(|a| a.gap_events as f64));
        let records = s.med(A, |r| r.agent.as_ref().map(|a| a.gap_records as f64));
        self.row(
            &label,
            "gap events (median; records lost)",
            "-".into(),
            format!("{} ({})", opt0(gaps), opt0(records)),
            None,
            "every loss in a gap",
            Some(accounted),
        );
        let cpu = s.med(A, |r| {
            r.agent
                .as_ref()
                .map(|a| a.cpu_s / a.wall_s.max(1e-9) * 100.0)
        });
        self.row(
            &label,
            "agent CPU, % of one core (median)",
            "-".into(),
            cpu.map(|x| format!("{x:.1}%")).unwrap_or("-".into()),
            None,
            &format!("<= {OVERLOAD_PERCENT}% (the quota)"),
            None,
        );
        self.json.insert("scenario_9_runs".into(), s.json());
        Ok(())
    }

    fn scenario7(&mut self, pg: &Pg, my_port: u16) -> Result<()> {
        const IDLE_SECS: f64 = 3.0;
        let conds = [Cond::None, Cond::Agent];
        let mut s = Series::default();
        let mut marginal_us: Vec<f64> = Vec::new();
        let mut total_us: Vec<f64> = Vec::new();
        let logdir = self.work.path().join("pgbench-log");
        for round in 1..=self.plan.rounds {
            for cond in Self::order(&conds, round) {
                self.progress.begin(&format!(
                    "7 pgbench {} round {round}/{}: {} ({} s)",
                    CHURN.name(),
                    self.plan.rounds,
                    cond.name(),
                    self.plan.sat_secs
                ));
                let secs = self.plan.sat_secs;
                let mut r;
                if cond == Cond::Agent {
                    let a = Agent::start(&self.bin, pg.port, my_port, None)?;
                    std::thread::sleep(Duration::from_secs(1));
                    let i0 = sched_ns(a.pid());
                    std::thread::sleep(Duration::from_secs_f64(IDLE_SECS));
                    let idle_rate = sched_ns(a.pid()).saturating_sub(i0) as f64 / IDLE_SECS;
                    let t = Instant::now();
                    let c0 = sched_ns(a.pid());
                    let b0 = self.sampler.busy_samples();
                    r = pgbench(pg.port, CHURN, secs, None, SATURATED_LOG_SAMPLING, &logdir)?;
                    self.mark_busy(&mut r, b0);
                    let wall = t.elapsed().as_secs_f64();
                    a.wait_idle(Duration::from_secs(30));
                    let cpu_ns = sched_ns(a.pid()).saturating_sub(c0) as f64;
                    let span = t.elapsed().as_secs_f64();
                    let n = r.transactions.max(1) as f64;
                    total_us.push(cpu_ns / n / 1e3);
                    marginal_us.push((cpu_ns - idle_rate * span).max(0.0) / n / 1e3);
                    let mut ar = AgentRun {
                        cpu_s: cpu_ns / 1e9,
                        wall_s: wall,
                        ..AgentRun::default()
                    };
                    // Only the benchmark's own statement: pgbench's set-up connection also runs a few.
                    a.stop("SELECT abalance FROM pgbench_accounts", &mut ar)?;
                    r.agent = Some(ar);
                } else {
                    let b0 = self.sampler.busy_samples();
                    r = pgbench(pg.port, CHURN, secs, None, SATURATED_LOG_SAMPLING, &logdir)?;
                    self.mark_busy(&mut r, b0);
                }
                eprintln!(
                    "      tps {:.0} (connections/s){}",
                    r.tps,
                    r.agent
                        .as_ref()
                        .map(|a| format!(
                            ", agent cpu {:.3} s, {:.1} us per connection ({:.1} marginal), events {}/{} executed, gaps {}",
                            a.cpu_s,
                            total_us.last().copied().unwrap_or(0.0),
                            marginal_us.last().copied().unwrap_or(0.0),
                            a.client_statements,
                            r.statements,
                            a.gap_events
                        ))
                        .unwrap_or_default()
                );
                self.progress
                    .end(secs as f64 + RUN_OVERHEAD + if cond == Cond::Agent { 5.0 } else { 0.0 });
                s.push(cond, round, r);
            }
        }
        let tps_none = s.med(Cond::None, |r| Some(r.tps));
        let tps_agent = s.med(Cond::Agent, |r| Some(r.tps));
        let total = median(&total_us);
        let marginal = median(&marginal_us);
        let complete = s.med(Cond::Agent, |r| {
            r.agent
                .as_ref()
                .map(|a| a.client_statements as f64 / r.statements.max(1) as f64)
        });
        let gaps = s.med(Cond::Agent, |r| {
            r.agent.as_ref().map(|a| a.gap_events as f64)
        });
        self.row(
            "7 churn",
            "agent CPU per new connection, µs (pgbench -C -S; total / idle subtracted)",
            "-".into(),
            format!(
                "{} / {}",
                total.map(|v| format!("{v:.1}")).unwrap_or("-".into()),
                marginal.map(|v| format!("{v:.1}")).unwrap_or("-".into())
            ),
            None,
            "≤ 50 (idle subtracted)",
            marginal.map(|v| v <= 50.0),
        );
        self.row(
            "7 churn",
            "statement events / statements executed (exactly once); gap events",
            "1.000; 0".into(),
            format!(
                "{}; {}",
                complete.map(|v| format!("{v:.3}")).unwrap_or("-".into()),
                gaps.map(|v| format!("{v:.0}")).unwrap_or("-".into())
            ),
            complete,
            "= 1.000; 0",
            complete.map(|v| (v - 1.0).abs() < 1e-9 && gaps == Some(0.0)),
        );
        self.row(
            "7 churn",
            "TPS (connections/s), agent vs none",
            opt3(tps_none),
            opt3(tps_agent),
            ratio(tps_agent, tps_none),
            "-",
            None,
        );
        self.json.insert(
            "scenario_7".into(),
            json!({
                "runs": s.json(),
                "agent_cpu_us_per_connection": total_us,
                "agent_cpu_us_per_connection_idle_subtracted": marginal_us,
            }),
        );
        Ok(())
    }

    fn scenario1(&mut self, pg: &Pg, pga: Option<&Pg>, my_port: u16) -> Result<()> {
        let mut conds = vec![Cond::None];
        if self.plan.wants("1") {
            conds.push(Cond::Agent);
        }
        if self.plan.wants("1k") && self.broker.is_some() {
            conds.push(Cond::Kafka);
        }
        if pga.is_some() {
            conds.push(Cond::Pgaudit);
        }
        let mut all = serde_json::Map::new();
        let mut series_all: Vec<(Workload, Series)> = Vec::new();
        for w in WORKLOADS {
            let mut s = Series::default();
            for round in 1..=self.plan.rounds {
                for cond in Self::order(&conds, round) {
                    let planned = self.plan.sat_secs as f64
                        + RUN_OVERHEAD
                        + if matches!(cond, Cond::Agent | Cond::Kafka) {
                            AGENT_OVERHEAD
                        } else {
                            0.0
                        };
                    self.progress.begin(&format!(
                        "1 pgbench {} round {round}/{}: {} ({} s)",
                        w.name(),
                        self.plan.rounds,
                        cond.name(),
                        self.plan.sat_secs
                    ));
                    let r = self.measure_pg(cond, pg, pga, my_port, w, self.plan.sat_secs, None)?;
                    eprintln!(
                        "      tps {:.0}, p50 {} ms, p99 {} ms{}{}",
                        r.tps,
                        opt3(r.p50_ms),
                        opt3(r.p99_ms),
                        r.agent
                            .as_ref()
                            .map(|a| format!(
                                ", agent cpu {:.2} s, kernel programs {} s, events {}/{} executed, gaps {}",
                                a.cpu_s,
                                a.kernel_s.map_or("-".into(), |k| format!("{k:.2}")),
                                a.client_statements,
                                r.statements,
                                a.gap_events
                            ))
                            .unwrap_or_default(),
                        if r.busy {
                            "  [a compiler was running]"
                        } else {
                            ""
                        }
                    );
                    self.progress.end(planned);
                    s.push(cond, round, r);
                }
            }
            if conds.contains(&Cond::Agent) {
                // The kernel programs' CPU, from a run of its own (see Cond::AgentStats).
                self.progress.begin(&format!(
                    "1 pgbench {}: agent with BPF statistics, for the kernel programs' CPU ({} s)",
                    w.name(),
                    self.plan.sat_secs
                ));
                let r = self.measure_pg(
                    Cond::AgentStats,
                    pg,
                    pga,
                    my_port,
                    w,
                    self.plan.sat_secs,
                    None,
                )?;
                eprintln!(
                    "      tps {:.0} (in no median), kernel programs {} s, events {}/{} executed",
                    r.tps,
                    r.agent
                        .as_ref()
                        .and_then(|a| a.kernel_s)
                        .map_or("-".into(), |k| format!("{k:.2}")),
                    r.agent.as_ref().map_or(0, |a| a.client_statements),
                    r.statements,
                );
                self.progress
                    .end(self.plan.sat_secs as f64 + RUN_OVERHEAD + AGENT_OVERHEAD);
                s.push(Cond::AgentStats, self.plan.rounds + 1, r);
            }
            all.insert(w.name(), s.json());
            series_all.push((w, s));
        }
        self.json
            .insert("scenario_1_runs".into(), Value::Object(all));

        // 1: overhead; 1c: pgaudit.
        for (w, s) in &series_all {
            let name = format!("1 pgbench {}", w.name());
            for (subject, label, target) in [
                (Cond::Agent, name.clone(), true),
                (
                    Cond::Kafka,
                    format!("1k pgbench {} (kafka)", w.name()),
                    true,
                ),
                (
                    Cond::Pgaudit,
                    format!("1c pgaudit (subject) {}", w.name()),
                    false,
                ),
            ] {
                if s.of(subject).is_empty() {
                    continue;
                }
                let b = s.med(Cond::None, |r| Some(r.tps));
                let a = s.med(subject, |r| Some(r.tps));
                let rt = ratio(a, b);
                self.row(
                    &label,
                    "TPS (median)",
                    opt0(b),
                    opt0(a),
                    rt,
                    if target { ">= 0.97" } else { "anchor" },
                    if target { rt.map(|x| x >= 0.97) } else { None },
                );
                for (m, f) in [
                    (
                        "latency p50 ms",
                        (|r: &Run| r.p50_ms) as fn(&Run) -> Option<f64>,
                    ),
                    ("latency p99 ms", |r: &Run| r.p99_ms),
                ] {
                    let b = s.med(Cond::None, f);
                    let a = s.med(subject, f);
                    self.row(&label, m, opt3(b), opt3(a), ratio(a, b), "-", None);
                }
                if subject == Cond::Pgaudit {
                    let lines: u64 = s.of(subject).iter().filter_map(|r| r.audit_lines).sum();
                    let exp: u64 = s
                        .of(subject)
                        .iter()
                        .map(|r| r.transactions * w.audited_per_tx())
                        .sum();
                    self.row(
                        &label,
                        "audit log lines / read+write statements",
                        exp.to_string(),
                        lines.to_string(),
                        ratio(Some(lines as f64), Some(exp as f64)),
                        "anchor",
                        None,
                    );
                }
            }
        }

        // 3: completeness; 4: cost.
        let mut tot_cpu = 0.0;
        let mut tot_kernel: Option<f64> = Some(0.0);
        let mut tot_kernel_stmts = 0u64;
        let mut tot_stmts = 0u64;
        let mut hwm = 0u64;
        let mut gaps_all = 0u64;
        for (w, s, cond) in series_all
            .iter()
            .flat_map(|(w, s)| [(w, s, Cond::Agent), (w, s, Cond::Kafka)])
        {
            let runs = s.of(cond);
            if runs.is_empty() {
                continue;
            }
            let tag = if cond == Cond::Kafka { " (kafka)" } else { "" };
            let executed: u64 = runs.iter().map(|r| r.statements).sum();
            let seen: u64 = runs
                .iter()
                .filter_map(|r| r.agent.as_ref())
                .map(|a| a.client_statements)
                .sum();
            let gaps: u64 = runs
                .iter()
                .filter_map(|r| r.agent.as_ref())
                .map(|a| a.gap_events)
                .sum();
            let cpu: f64 = runs
                .iter()
                .filter_map(|r| r.agent.as_ref())
                .map(|a| a.cpu_s)
                .sum();
            // The kernel programs' CPU comes from the run made for it (Agent only).
            let stats_runs = if cond == Cond::Agent {
                s.of(Cond::AgentStats)
            } else {
                Vec::new()
            };
            let kernel_executed: u64 = stats_runs.iter().map(|r| r.statements).sum();
            let kernel: Option<f64> = if stats_runs.is_empty() {
                None
            } else {
                stats_runs
                    .iter()
                    .filter_map(|r| r.agent.as_ref())
                    .map(|a| a.kernel_s)
                    .sum()
            };
            if cond == Cond::Agent {
                gaps_all += gaps;
                tot_cpu += cpu;
                tot_stmts += executed;
                tot_kernel = tot_kernel.zip(kernel).map(|(a, b)| a + b);
                tot_kernel_stmts += kernel_executed;
            }
            hwm = hwm.max(
                runs.iter()
                    .filter_map(|r| r.agent.as_ref())
                    .map(|a| a.hwm_kb)
                    .max()
                    .unwrap_or(0),
            );
            let rt = ratio(Some(seen as f64), Some(executed as f64));
            let label = format!("3 completeness {}{tag}", w.name());
            self.row(
                &label,
                "statement events / statements executed",
                executed.to_string(),
                seen.to_string(),
                rt,
                "1.000 (+-0.1%)",
                rt.map(|x| (0.999..=1.001).contains(&x)),
            );
            self.row(
                &label,
                "gap events",
                "0".into(),
                gaps.to_string(),
                None,
                "0",
                Some(gaps == 0),
            );
            let per10k = if executed > 0 {
                Some(cpu / executed as f64 * 10_000.0)
            } else {
                None
            };
            self.row(
                &format!("4 agent cost {}{tag}", w.name()),
                "agent CPU s per 10,000 statements",
                "-".into(),
                opt3(per10k),
                None,
                COST_TARGET_TEXT,
                per10k.map(|x| x <= COST_TARGET),
            );
            let kernel10k = kernel
                .filter(|_| kernel_executed > 0)
                .map(|k| k / kernel_executed as f64 * 10_000.0);
            self.row(
                &format!("4 agent cost {}{tag}", w.name()),
                KERNEL_COST_METRIC,
                "-".into(),
                opt3(kernel10k),
                None,
                "-",
                None,
            );
            self.ring_row(
                &format!("4 agent cost {}{tag}", w.name()),
                runs.iter().filter_map(|r| r.agent.as_ref()),
            );
        }
        if tot_stmts > 0 {
            let per10k = tot_cpu / tot_stmts as f64 * 10_000.0;
            self.row(
                "4 agent cost, all of scenario 1",
                "agent CPU s per 10,000 statements",
                "-".into(),
                format!("{per10k:.3}"),
                None,
                COST_TARGET_TEXT,
                Some(per10k <= COST_TARGET),
            );
            self.notes.push(
                "Scenario 4's kernel programs' CPU is the kernel's BPF run time (kernel.bpf_stats_enabled, on during one extra saturated agent run per workload of scenario 1, whose throughput is in no median: timing adds two clock reads per program run): CPU the hooks take inside the clients' and servers' syscalls, which the agent's own CPU does not include.".into(),
            );
            self.row(
                "4 agent cost, all of scenario 1",
                KERNEL_COST_METRIC,
                "-".into(),
                opt3(
                    tot_kernel
                        .filter(|_| tot_kernel_stmts > 0)
                        .map(|k| k / tot_kernel_stmts as f64 * 10_000.0),
                ),
                None,
                "-",
                None,
            );
            let mb = hwm as f64 / 1024.0;
            self.row(
                "4 agent cost, all of scenario 1",
                "peak RSS MB (VmHWM)",
                "-".into(),
                format!("{mb:.1}"),
                None,
                "<= 100",
                Some(mb <= 100.0),
            );
            // What the peak is made of, from the run with the highest peak.
            if let Some(a) = series_all
                .iter()
                .flat_map(|(_, s)| s.of(Cond::Agent))
                .filter_map(|r| r.agent.as_ref())
                .max_by_key(|a| a.hwm_kb)
            {
                let m = |kb: u64| kb as f64 / 1024.0;
                self.row(
                    "4 agent cost, all of scenario 1",
                    "peak RSS MB without the BPF ring-buffer mapping (VmHWM - bpf-map Rss)",
                    "-".into(),
                    format!("{:.1}", m(a.hwm_kb.saturating_sub(a.bpf_map_rss_kb))),
                    None,
                    "<= 100",
                    Some(a.hwm_kb.saturating_sub(a.bpf_map_rss_kb) <= 100 * 1024),
                );
                let text = format!(
                    "{:.1} / {:.1} / {:.1}",
                    m(a.rss_anon_kb),
                    m(a.rss_file_kb.saturating_sub(a.bpf_map_rss_kb)),
                    m(a.bpf_map_rss_kb)
                );
                self.row(
                    "4 agent cost, all of scenario 1",
                    "RSS MB at stop: anon / file / bpf-map mappings",
                    "-".into(),
                    text,
                    None,
                    "-",
                    None,
                );
            }
            self.row(
                "3 completeness, all of scenario 1",
                "gap events",
                "0".into(),
                gaps_all.to_string(),
                None,
                "0",
                Some(gaps_all == 0),
            );
        }
        Ok(())
    }

    fn scenario1b(&mut self, pg: &Pg, pga: Option<&Pg>, my_port: u16) -> Result<()> {
        let w = WORKLOADS[1];
        let mut conds = vec![Cond::None];
        if self.plan.wants("1b") {
            conds.push(Cond::Agent);
        }
        if pga.is_some() {
            conds.push(Cond::Pgaudit);
        }
        let mut s = Series::default();
        for round in 1..=self.plan.rounds {
            for cond in Self::order(&conds, round) {
                let planned = self.plan.rate_secs as f64
                    + RUN_OVERHEAD
                    + if cond == Cond::Agent {
                        AGENT_OVERHEAD
                    } else {
                        0.0
                    };
                self.progress.begin(&format!(
                    "1b pgbench {} -R {RATE} round {round}/{}: {} ({} s)",
                    w.name(),
                    self.plan.rounds,
                    cond.name(),
                    self.plan.rate_secs
                ));
                let r =
                    self.measure_pg(cond, pg, pga, my_port, w, self.plan.rate_secs, Some(RATE))?;
                eprintln!(
                    "      tps {:.0}, p50 {} ms, p99 {} ms{}{}",
                    r.tps,
                    opt3(r.p50_ms),
                    opt3(r.p99_ms),
                    r.agent
                        .as_ref()
                        .map(|a| format!(
                            ", agent CPU {:.1}% of one core",
                            a.cpu_s / a.wall_s.max(1e-9) * 100.0
                        ))
                        .unwrap_or_default(),
                    if r.busy {
                        "  [a compiler was running]"
                    } else {
                        ""
                    }
                );
                self.progress.end(planned);
                s.push(cond, round, r);
            }
        }
        self.json.insert("scenario_1b_runs".into(), s.json());
        if let Some(b) = s.med(Cond::None, |r| Some(r.tps)) {
            if b < RATE as f64 * 0.95 {
                self.notes.push(format!(
                    "Scenario 1b: even without the agent the server reached only {b:.0} of the {RATE} TPS asked for, so it was saturated and its latencies include queueing (schedule lag)."
                ));
            }
        }
        let label = format!("1b pgbench {} -R {RATE}", w.name());
        for (subject, label, target) in [
            (Cond::Agent, label.clone(), true),
            (
                Cond::Pgaudit,
                format!("1c pgaudit (subject) {} -R {RATE}", w.name()),
                false,
            ),
        ] {
            if s.of(subject).is_empty() {
                continue;
            }
            let b = s.med(Cond::None, |r| Some(r.tps));
            let a = s.med(subject, |r| Some(r.tps));
            self.row(
                &label,
                "TPS achieved (median)",
                opt0(b),
                opt0(a),
                ratio(a, b),
                "-",
                None,
            );
            // p50 at most 1.05 (batch 1), p99 at most 1.10 (issue 9).
            for (m, f, limit, limit_text) in [
                (
                    "latency p50 ms",
                    (|r: &Run| r.p50_ms) as fn(&Run) -> Option<f64>,
                    1.05,
                    "<= 1.05",
                ),
                ("latency p99 ms", |r: &Run| r.p99_ms, 1.10, "<= 1.10"),
            ] {
                let b = s.med(Cond::None, f);
                let a = s.med(subject, f);
                let rt = ratio(a, b);
                self.row(
                    &label,
                    m,
                    opt3(b),
                    opt3(a),
                    rt,
                    if target { limit_text } else { "anchor" },
                    if target { rt.map(|x| x <= limit) } else { None },
                );
            }
            if subject == Cond::Agent {
                let share = s.med(Cond::Agent, |r| {
                    r.agent
                        .as_ref()
                        .map(|a| a.cpu_s / a.wall_s.max(1e-9) * 100.0)
                });
                self.row(
                    &label,
                    "agent CPU, % of one core (median)",
                    "-".into(),
                    share.map(|x| format!("{x:.1}%")).unwrap_or("-".into()),
                    None,
                    "-",
                    None,
                );
            }
        }
        Ok(())
    }

    fn scenario2(&mut self, m: &Maria, pg_port: u16) -> Result<()> {
        let conds = [Cond::None, Cond::Agent];
        let mut all = serde_json::Map::new();
        for test in ["oltp_read_only", "oltp_read_write"] {
            let mut s = Series::default();
            for round in 1..=self.plan.rounds {
                for cond in Self::order(&conds, round) {
                    let planned = self.plan.sysbench_secs as f64
                        + RUN_OVERHEAD
                        + if cond == Cond::Agent {
                            AGENT_OVERHEAD
                        } else {
                            0.0
                        };
                    self.progress.begin(&format!(
                        "2 sysbench {test} round {round}/{}: {} ({} s)",
                        self.plan.rounds,
                        cond.name(),
                        self.plan.sysbench_secs
                    ));
                    let agent = if cond == Cond::Agent {
                        Some(Agent::start(&self.bin, pg_port, m.port, None)?)
                    } else {
                        None
                    };
                    let cpu0 = agent.as_ref().map(Agent::ticks);
                    let t = Instant::now();
                    let b0 = self.sampler.busy_samples();
                    let mut r = sysbench_run(m, test, self.plan.sysbench_secs)?;
                    self.mark_busy(&mut r, b0);
                    if let (Some(a), Some(cpu0)) = (agent, cpu0) {
                        let wall = t.elapsed().as_secs_f64();
                        a.wait_idle(Duration::from_secs(30));
                        let mut ar = AgentRun {
                            cpu_s: a.ticks().saturating_sub(cpu0) as f64 / self.tck,
                            wall_s: wall,
                            ..AgentRun::default()
                        };
                        a.stop("\"comm\":\"sysbench\"", &mut ar)?;
                        r.agent = Some(ar);
                    }
                    eprintln!(
                        "      tps {:.0}, p50 {} ms, p99 {} ms{}{}",
                        r.tps,
                        opt3(r.p50_ms),
                        opt3(r.p99_ms),
                        r.agent
                            .as_ref()
                            .map(|a| format!(
                                ", agent cpu {:.2} s, events {}/{} executed, gaps {}",
                                a.cpu_s, a.client_statements, r.statements, a.gap_events
                            ))
                            .unwrap_or_default(),
                        if r.busy {
                            "  [a compiler was running]"
                        } else {
                            ""
                        }
                    );
                    self.progress.end(planned);
                    s.push(cond, round, r);
                }
            }
            let label = format!("2 sysbench {test}");
            let b = s.med(Cond::None, |r| Some(r.tps));
            let a = s.med(Cond::Agent, |r| Some(r.tps));
            let rt = ratio(a, b);
            self.row(
                &label,
                "TPS (median)",
                opt0(b),
                opt0(a),
                rt,
                ">= 0.97",
                rt.map(|x| x >= 0.97),
            );
            for (mname, f) in [
                (
                    "latency p50 ms (histogram)",
                    (|r: &Run| r.p50_ms) as fn(&Run) -> Option<f64>,
                ),
                ("latency p99 ms", |r: &Run| r.p99_ms),
            ] {
                let b = s.med(Cond::None, f);
                let a = s.med(Cond::Agent, f);
                self.row(&label, mname, opt3(b), opt3(a), ratio(a, b), "-", None);
            }
            let runs = s.of(Cond::Agent);
            let executed: u64 = runs.iter().map(|r| r.statements).sum();
            let seen: u64 = runs
                .iter()
                .filter_map(|r| r.agent.as_ref())
                .map(|a| a.client_statements)
                .sum();
            let gaps: u64 = runs
                .iter()
                .filter_map(|r| r.agent.as_ref())
                .map(|a| a.gap_events)
                .sum();
            let cpu: f64 = runs
                .iter()
                .filter_map(|r| r.agent.as_ref())
                .map(|a| a.cpu_s)
                .sum();
            let rt = ratio(Some(seen as f64), Some(executed as f64));
            self.row(
                &label,
                "statement events / queries executed",
                executed.to_string(),
                seen.to_string(),
                rt,
                "1.000 (+-0.1%)",
                rt.map(|x| (0.999..=1.001).contains(&x)),
            );
            self.row(
                &label,
                "gap events",
                "0".into(),
                gaps.to_string(),
                None,
                "0",
                Some(gaps == 0),
            );
            let per10k = if executed > 0 {
                Some(cpu / executed as f64 * 10_000.0)
            } else {
                None
            };
            self.row(
                &label,
                "agent CPU s per 10,000 statements",
                "-".into(),
                opt3(per10k),
                None,
                COST_TARGET_TEXT,
                per10k.map(|x| x <= COST_TARGET),
            );
            self.ring_row(&label, runs.iter().filter_map(|r| r.agent.as_ref()));
            all.insert(test.to_owned(), s.json());
        }
        self.json
            .insert("scenario_2_runs".into(), Value::Object(all));
        Ok(())
    }

    fn scenario5(&mut self) -> Result<()> {
        self.progress.begin(&format!(
            "5 dbgov replay {CAPTURE_XZ} --output none (about {:.0} s)",
            self.plan.replay_secs
        ));
        let label = "5 offline pipeline (replay of the recorded mix)";
        let res = self.replay_capture();
        match res {
            Ok(v) => {
                let r = &v["result"];
                let spcs = r["statements_per_cpu_second"].as_f64();
                self.row(
                    label,
                    "statements per CPU-second (one core), --output none",
                    "-".into(),
                    opt0(spcs),
                    None,
                    ">= 400,000",
                    spcs.map(|x| x >= 400_000.0),
                );
                let jspcs = v["jsonl_result"]["statements_per_cpu_second"].as_f64();
                self.row(
                    label,
                    "statements per CPU-second (one core), --output jsonl:FILE",
                    "-".into(),
                    opt0(jspcs),
                    None,
                    ">= 400,000",
                    jspcs.map(|x| x >= 400_000.0),
                );
                self.row(
                    label,
                    "statements per wall-second",
                    "-".into(),
                    opt0(r["statements_per_second"].as_f64()),
                    None,
                    "-",
                    None,
                );
                let per_pass = v["calibration"]["statements"].as_u64().unwrap_or(0);
                let recorded = v["capture"]["statements"].as_u64();
                self.notes.push(format!(
                    "Scenario 5 replayed {CAPTURE_XZ} ({:.1} MB uncompressed, {} records; {}) {} times, {per_pass} statements per pass.",
                    v["capture_bytes"].as_f64().unwrap_or(0.0) / 1e6,
                    v["calibration"]["records"],
                    v["capture"]["workload"].as_str().unwrap_or("mixed workload"),
                    v["repeat"]
                ));
                if let Some(rec) = recorded.filter(|&n| n != per_pass) {
                    self.notes.push(format!(
                        "The live agent saw {rec} statements while recording the capture, but one replay pass reports {per_pass}: the replay and the live pipeline disagree (so the statements-per-CPU-second figure is off by up to {:.2}x).",
                        per_pass as f64 / rec.max(1) as f64
                    ));
                }
                self.json.insert("scenario_5".into(), v);
            }
            Err(e) => {
                self.row(
                    label,
                    "statements per CPU-second (one core)",
                    "-".into(),
                    "failed".into(),
                    None,
                    ">= 400,000",
                    None,
                );
                self.notes.push(format!(
                    "Scenario 5 failed: {e:#}. If the capture format changed, record it anew with `cargo xtask bench --record-mix`."
                ));
            }
        }
        self.progress.end(self.plan.replay_secs * 1.9 + 2.0);
        Ok(())
    }

    /// Scenario report: `dbgov report` over a trail of about 1,000,000 events, written by
    /// replaying the committed capture (a valid hash chain), in each format: wall time and
    /// peak resident memory of the report process.
    fn scenario_report(&mut self) -> Result<()> {
        self.progress
            .begin("report: dbgov report over 1,000,000 events (about 90 s)");
        let label = "report over 1,000,000 events";
        let cap = self.decompress_capture()?;
        let trail = self.work.path().join("report-trail.jsonl");
        let _ = fs::remove_file(&trail);
        // 44 passes of the mix are just over a million events.
        let st = Command::new(&self.bin)
            .arg("replay")
            .arg(&cap)
            .args(["--keep-literals", "--repeat", "44", "--output"])
            .arg(format!("jsonl:{}", trail.display()))
            .stdout(std::process::Stdio::null())
            .status()?;
        if !st.success() {
            bail!("dbgov replay failed ({st})");
        }
        // Counted while streaming: this process's memory would show in the child's peak
        // (Linux keeps the high-water mark across fork and exec).
        let events = {
            use std::io::BufRead;
            std::io::BufReader::new(fs::File::open(&trail)?)
                .split(b'\n')
                .count() as u64
        };
        let mut json = serde_json::Map::new();
        json.insert("events".into(), events.into());
        json.insert(
            "trail_bytes".into(),
            fs::metadata(&trail).map(|m| m.len()).unwrap_or(0).into(),
        );
        for format in ["html", "markdown", "json"] {
            let out = self.work.path().join(format!("report.{format}"));
            let t0 = std::time::Instant::now();
            let child = Command::new(&self.bin)
                .arg("report")
                .arg("--input")
                .arg(format!("jsonl:{}", trail.display()))
                .args(["--format", format, "--out"])
                .arg(&out)
                .stderr(std::process::Stdio::null())
                .spawn()?;
            let (code, rss_kib) = wait_rusage(child)?;
            let secs = t0.elapsed().as_secs_f64();
            if code != 0 {
                bail!("dbgov report --format {format} exited {code}");
            }
            self.row(
                label,
                &format!("{format}: seconds"),
                "-".into(),
                format!("{secs:.1}"),
                None,
                "< 30",
                Some(secs < 30.0),
            );
            self.row(
                label,
                &format!("{format}: peak memory, MiB"),
                "-".into(),
                format!("{:.1}", rss_kib as f64 / 1024.0),
                None,
                "bounded",
                None,
            );
            json.insert(
                format.into(),
                serde_json::json!({"seconds": secs, "peak_rss_kib": rss_kib}),
            );
        }
        self.notes.push(format!(
            "Scenario report: the trail is {events} events ({:.0} MB) from 44 replays of {CAPTURE_XZ} (values kept); each format read it once, checking its chain.",
            json["trail_bytes"].as_f64().unwrap_or(0.0) / 1e6
        ));
        let _ = fs::remove_file(&trail);
        self.json
            .insert("scenario_report".into(), Value::Object(json));
        self.progress.end(90.0);
        Ok(())
    }

    /// Decompresses the committed capture and replays it: once to calibrate, then as many
    /// times as fill `replay_secs`.
    fn replay_capture(&self) -> Result<Value> {
        let cap = self.decompress_capture()?;
        let meta: Value = fs::read_to_string(root_dir().join(CAPTURE_META))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        self.replay_file(&cap, meta)
    }

    /// The committed capture, decompressed into the work directory.
    fn decompress_capture(&self) -> Result<PathBuf> {
        let xz = root_dir().join(CAPTURE_XZ);
        if !xz.exists() {
            bail!("{CAPTURE_XZ} is missing; record it with `cargo xtask bench --record-mix`");
        }
        if !ok(Command::new("xz").arg("--version")) {
            bail!("xz is missing (Debian package xz-utils: apt-get install xz-utils)");
        }
        let cap = self.work.path().join("mixed.dbgovrec");
        let out = fs::File::create(&cap)?;
        let st = Command::new("xz")
            .arg("-dc")
            .arg(&xz)
            .stdout(out)
            .status()
            .context("running xz")?;
        if !st.success() {
            bail!("xz -dc {} failed ({st})", xz.display());
        }
        Ok(cap)
    }

    fn replay_file(&self, cap: &Path, meta: Value) -> Result<Value> {
        let replay = |repeat: u32, output: &str| -> Result<Value> {
            let out = Command::new(&self.bin)
                .arg("replay")
                .arg(cap)
                .arg("--repeat")
                .arg(repeat.to_string())
                .arg("--output")
                .arg(output)
                .stdin(Stdio::null())
                .output()
                .context("running dbgov replay")?;
            let err = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                bail!("dbgov replay failed ({}): {}", out.status, tail(&err, 2000));
            }
            let line = err
                .lines()
                .rev()
                .find(|l| l.trim_start().starts_with('{'))
                .context("dbgov replay printed no statistics")?;
            Ok(serde_json::from_str(line)?)
        };
        let first = replay(1, "none")?;
        let wall = first["wall_seconds"].as_f64().unwrap_or(0.1).max(0.001);
        let n = ((self.plan.replay_secs / wall).ceil() as u32).clamp(1, 10_000);
        let v = replay(n, "none")?;
        // The same into a JSON-lines file: a quarter of the passes (about 1.6 KB per event).
        let jsonl = self.work.path().join("replay.jsonl");
        let nj = (n / 4).max(1);
        let vj = replay(nj, &format!("jsonl:{}", jsonl.display()));
        let _ = fs::remove_file(&jsonl);
        let vj = vj?;
        let bytes = fs::metadata(cap).map(|m| m.len()).unwrap_or(0);
        let _ = fs::remove_file(cap);
        Ok(
            json!({"calibration": first, "repeat": n, "result": v, "capture": meta,
                  "capture_bytes": bytes, "jsonl_repeat": nj, "jsonl_result": vj}),
        )
    }

    /// Scenario 8: Kafka delivery. (a) Events per second from a full spool to the local broker:
    /// the committed capture is replayed into a spool while no broker listens, then
    /// `dbgov ship` sends it. (b) The agent's memory while the broker is down (frozen) under
    /// saturated pgbench, sampled after each half of the outage, then completeness once the
    /// broker is back.
    fn scenario8(&mut self, pg: Option<&Pg>, my_port: u16) -> Result<()> {
        const REPEAT: u32 = 8;
        self.progress.begin(&format!(
            "8 Kafka: the committed capture x{REPEAT} into a spool, then shipped to the local broker"
        ));
        let cap = self.decompress_capture()?;
        let work = self.work.path().to_owned();
        let b = self.broker.as_mut().context("no Kafka broker")?;
        let (config, _topic, state) = b.run_config(&work)?;
        let brokers = b.addr();
        let fill = work.join("kafka-fill.yaml");
        fs::write(
            &fill,
            format!(
                "state_dir: {}\nkafka:\n  close_timeout_secs: 0\n",
                state.display()
            ),
        )?;
        let nobody = format!("127.0.0.1:{}", free_port()?);
        let st = Command::new(&self.bin)
            .arg("replay")
            .arg(&cap)
            .args(["--repeat", &REPEAT.to_string()])
            .arg("--config")
            .arg(&fill)
            .arg("--output")
            .arg(format!("kafka:{nobody}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !st.success() {
            bail!("filling the spool with dbgov replay failed ({st})");
        }
        let _ = fs::remove_file(&cap);
        let spool_mb = dir_bytes(&state.join("spool")) as f64 / 1e6;
        let out = run(Command::new(&self.bin)
            .arg("ship")
            .arg("--config")
            .arg(&config)
            .arg("--output")
            .arg(format!("kafka:{brokers}")))?;
        let v: Value = serde_json::from_str(out.trim()).context("dbgov ship printed no JSON")?;
        let eps = v["events_per_second"].as_f64();
        let acked = v["acknowledged"].as_u64().unwrap_or(0);
        eprintln!(
            "      {acked} events ({spool_mb:.0} MB of spool) shipped at {} events/s",
            opt0(eps)
        );
        self.row(
            "8 Kafka delivery, spool to local broker",
            &format!("events/s (dbgov ship of {acked} events, {spool_mb:.0} MB)"),
            "-".into(),
            opt0(eps),
            None,
            ">= 100000",
            eps.map(|x| x >= 100_000.0),
        );
        self.json.insert("scenario_8_ship".into(), v);
        self.progress.end(30.0);

        let Some(pg) = pg else {
            return Ok(());
        };
        let secs = self.plan.sat_secs;
        self.progress.begin(&format!(
            "8 Kafka: broker frozen for 2 x {secs} s of pgbench select-only prepared; agent memory"
        ));
        let b = self.broker.as_mut().context("no Kafka broker")?;
        let (config, topic, state) = b.run_config(&work)?;
        let brokers = b.addr();
        // Room for the whole outage at full rate (about 2.5 GB): this measures memory and
        // catching up, not the spool's cap (the Kafka tests cover a full spool).
        let mut yaml = fs::read_to_string(&config)?;
        yaml.push_str("spool:\n  max_mib: 8192\n");
        fs::write(&config, yaml)?;
        let agent = Agent::start_to(
            &self.bin,
            pg.port,
            my_port,
            None,
            Some((&brokers, &config, &topic)),
        )?;
        // Let the agent create its topics, then freeze the broker.
        std::thread::sleep(Duration::from_secs(3));
        if let Some(b) = &self.broker {
            b.pause(true);
        }
        let logdir = self.work.path().join("pgbench-log-8");
        let mut executed = 0;
        let mut rss = Vec::new();
        let mut spool = Vec::new();
        for _ in 0..2 {
            let r = pgbench(pg.port, WORKLOADS[1], secs, None, 0.01, &logdir)?;
            executed += r.statements;
            agent.wait_idle(Duration::from_secs(20));
            rss.push(status_kb(agent.pid(), "VmRSS:").unwrap_or(0) as f64 / 1024.0);
            spool.push(dir_bytes(&state.join("spool")) as f64 / 1e6);
        }
        if let Some(b) = &self.broker {
            b.pause(false);
        }
        let mut ar = AgentRun::default();
        agent.stop("\"application\":\"pgbench\"", &mut ar)?;
        let grown = rss[1] - rss[0];
        eprintln!(
            "      agent RSS {:.1} MB then {:.1} MB, spool {:.0} MB then {:.0} MB; after recovery {}/{} statements, {} gaps",
            rss[0], rss[1], spool[0], spool[1], ar.client_statements, executed, ar.gap_events
        );
        let label = "8 Kafka, broker down under pgbench -S prepared";
        self.row(
            label,
            "agent RSS MB after the 1st / 2nd half of the outage",
            "-".into(),
            format!("{:.1} / {:.1}", rss[0], rss[1]),
            None,
            "bounded (2nd half grows < 16 MB)",
            Some(grown < 16.0),
        );
        self.row(
            label,
            "spool MB after the 1st / 2nd half (the backlog is on disk)",
            "-".into(),
            format!("{:.0} / {:.0}", spool[0], spool[1]),
            None,
            "-",
            None,
        );
        self.row(
            label,
            "gap events on the topic",
            "0".into(),
            ar.gap_events.to_string(),
            None,
            "0",
            Some(ar.gap_events == 0),
        );
        let rt = ratio(Some(ar.client_statements as f64), Some(executed as f64));
        self.row(
            label,
            "statement events on the topic after recovery / statements executed",
            executed.to_string(),
            ar.client_statements.to_string(),
            rt,
            "1.000 (+-0.1%)",
            rt.map(|x| (0.999..=1.001).contains(&x)),
        );
        self.json.insert(
            "scenario_8_outage".into(),
            json!({"rss_mb": rss, "spool_mb": spool, "executed": executed,
                   "events": ar.client_statements, "gaps": ar.gap_events}),
        );
        self.progress.end(2.0 * secs as f64 + 30.0);
        Ok(())
    }

    /// The SQL analysis throughput example (another part of the project), when it exists.
    fn analysis(&mut self) -> Result<()> {
        self.progress.begin(
            "5b SQL analysis alone: the analysis_throughput example on the committed corpora",
        );
        let label = "5b SQL analysis alone (example analysis_throughput, committed corpora)";
        let exe = match self.example.clone() {
            Some(Ok(p)) => p,
            other => {
                let why = match other {
                    Some(Err(e)) => e,
                    _ => "example not built".to_owned(),
                };
                let short = if why == "example not present" {
                    why.clone()
                } else {
                    "failed".to_owned()
                };
                self.row(
                    label,
                    "statements per second",
                    "-".into(),
                    short,
                    None,
                    "-",
                    None,
                );
                if why != "example not present" {
                    self.notes.push(format!("The {EXAMPLE} example: {why}"));
                }
                self.progress.end(15.0);
                return Ok(());
            }
        };
        let secs = if self.plan.quick { "1" } else { "3" };
        let out = Command::new(&exe)
            .args(["--secs", secs])
            .current_dir(root_dir())
            .stdin(Stdio::null())
            .output();
        let parsed = match &out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .rev()
                .find_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
                .filter(Value::is_object),
            _ => None,
        };
        match parsed {
            Some(v) => {
                for (key, what) in [
                    (
                        "cold_per_sec",
                        "statements per second, cold (parse every statement)",
                    ),
                    (
                        "warm_per_sec",
                        "statements per second, warm (fingerprint cache hits)",
                    ),
                ] {
                    self.row(
                        label,
                        what,
                        "-".into(),
                        opt0(v[key].as_f64()),
                        None,
                        "-",
                        None,
                    );
                }
                self.json.insert("analysis_throughput".into(), v);
            }
            None => {
                let why = match &out {
                    Ok(o) => tail(&String::from_utf8_lossy(&o.stderr), 600).to_owned(),
                    Err(e) => e.to_string(),
                };
                self.row(
                    label,
                    "statements per second",
                    "-".into(),
                    "failed".into(),
                    None,
                    "-",
                    None,
                );
                self.notes.push(format!(
                    "The analysis_throughput example failed: {}",
                    why.trim()
                ));
            }
        }
        self.progress.end(15.0);
        Ok(())
    }

    fn render(&self, elapsed: f64, err: Option<&anyhow::Error>) -> (String, Value) {
        let mut md = String::new();
        let kind = match (self.plan.only.is_empty(), self.plan.quick) {
            (false, _) => "partial",
            (true, true) => "quick",
            (true, false) => "full",
        };
        md.push_str(&format!(
            "# dbgov benchmark ({kind} run)\n\n{} rounds per condition, {} s per saturated run, {} s per fixed-rate run; pgbench scale {SCALE}, {CLIENTS} clients, {THREADS} threads; sysbench {SB_TABLES} tables x {SB_ROWS} rows, {CLIENTS} threads. Medians over rounds; conditions alternate within each round. Benchmark time {} (plus {} building the agent and the example). Host: {} CPUs, kernel {}.\n\n",
            self.plan.rounds,
            self.plan.sat_secs,
            self.plan.rate_secs,
            fmt_dur(elapsed),
            fmt_dur(self.build_secs),
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            output(Command::new("uname").arg("-r")).trim(),
        ));
        md.push_str("| scenario | metric | none / baseline | agent (or subject) | ratio | target | met? |\n");
        md.push_str("|---|---|---:|---:|---:|---|---|\n");
        for r in &self.rows {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                r.scenario,
                r.metric,
                r.base,
                r.subject,
                r.ratio.map(|x| format!("{x:.3}")).unwrap_or("-".into()),
                r.target,
                match r.met {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "-",
                }
            ));
        }
        let mut notes = self.notes.clone();
        if self.busy_runs > 0 {
            notes.insert(
                0,
                format!(
                    "The machine was busy: a compiler (another build) was running during {} of {} measured runs ({:.0}% of the samples over the whole benchmark). On 2 cores this takes CPU from the database, the clients and the agent alike; treat the ratios as rough.",
                    self.busy_runs,
                    self.runs,
                    self.sampler.share() * 100.0
                ),
            );
        }
        if let Some(e) = err {
            notes.insert(0, format!("The run ended with an error: {e:#}"));
        }
        if !notes.is_empty() {
            md.push_str("\nNotes:\n");
            for n in &notes {
                md.push_str(&format!("- {n}\n"));
            }
        }
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "scenario": r.scenario, "metric": r.metric, "baseline": r.base,
                    "agent": r.subject, "ratio": r.ratio, "target": r.target, "met": r.met,
                })
            })
            .collect();
        let mut js = serde_json::Map::new();
        js.insert(
            "run".into(),
            json!({
                "kind": kind,
                "rounds": self.plan.rounds,
                "saturated_seconds": self.plan.sat_secs,
                "rate_seconds": self.plan.rate_secs,
                "sysbench_seconds": self.plan.sysbench_secs,
                "pgbench": {"scale": SCALE, "clients": CLIENTS, "threads": THREADS, "rate": RATE,
                            "log_sampling_at_saturation": SATURATED_LOG_SAMPLING},
                "sysbench": {"tables": SB_TABLES, "table_size": SB_ROWS, "threads": CLIENTS},
                "elapsed_seconds": elapsed,
                "build_seconds": self.build_secs,
                "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
                "kernel": output(Command::new("uname").arg("-r")).trim(),
                "agent_binary": self.bin.display().to_string(),
                "measured_runs": self.runs,
                "runs_with_a_compiler_running": self.busy_runs,
                "compiler_running_share": self.sampler.share(),
                "error": err.map(|e| format!("{e:#}")),
            }),
        );
        js.insert("rows".into(), Value::Array(rows));
        js.insert("notes".into(), json!(notes));
        for (k, v) in &self.json {
            js.insert(k.clone(), v.clone());
        }
        (md, Value::Object(js))
    }
}

fn opt0(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.0}")).unwrap_or("-".into())
}

fn opt3(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or("-".into())
}

// ---------------------------------------------------------------------------------------------
// Scenario 5's capture

/// Records the mixed workload of scenario 5 into bench/capture/: pgbench tpcb-like (prepared and
/// simple), select-only (extended and simple), psql reporting queries (bench/workload/
/// reporting.sql, some failing on purpose), sysbench read/write (prepared statements) and
/// read-only (text protocol). The capture is stored xz-compressed: records are fixed-size
/// ring-buffer slots, mostly padding.
fn record_mix(bin: &Path) -> Result<()> {
    if !ok(Command::new("xz").arg("--version")) {
        bail!("xz is missing (Debian package xz-utils: apt-get install xz-utils)");
    }
    let out = root_dir().join(CAPTURE_XZ);
    if let Some(d) = out.parent() {
        fs::create_dir_all(d)?;
    }
    step("starting PostgreSQL and MariaDB");
    let pg = Pg::start("rec-pg", false)?;
    let m = Maria::start()?;
    run(Command::new(Path::new(PG_BIN).join("pgbench"))
        .args(["-i", "-q", "-s", "1", "-h", "127.0.0.1", "-U", "postgres"])
        .arg("-p")
        .arg(pg.port.to_string())
        .arg("bench"))?;
    let sb = |test: &str| {
        let mut c = Command::new("sysbench");
        c.arg(test)
            .args([
                "--db-driver=mysql",
                "--mysql-host=127.0.0.1",
                "--mysql-user=root",
                "--mysql-db=sbtest",
                "--tables=2",
                "--table-size=10000",
            ])
            .arg(format!("--mysql-port={}", m.port));
        c
    };
    run(sb("oltp_read_write").arg("prepare"))?;
    let tmp = TempDir::new("rec")?;
    let rec = tmp.path().join("mixed.dbgovrec");
    step("recording (dbgov run --record)");
    let agent = Agent::start(bin, pg.port, m.port, Some(&rec))?;
    let pgb = |args: &[&str]| -> Result<String> {
        run(Command::new(Path::new(PG_BIN).join("pgbench"))
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-n",
                "-c",
                "2",
                "-j",
                "1",
            ])
            .arg("-p")
            .arg(pg.port.to_string())
            .args(args)
            .arg("bench"))
    };
    pgb(&["-M", "prepared", "-t", "400"])?;
    pgb(&["-M", "simple", "-t", "400"])?;
    pgb(&["-M", "extended", "-S", "-t", "1500"])?;
    pgb(&["-M", "simple", "-S", "-t", "1500"])?;
    let sql = root_dir().join(REPORTING_SQL);
    for _ in 0..5 {
        // Errors in the script are deliberate (failed statements are part of the mix).
        let _ = Command::new(Path::new(PG_BIN).join("psql"))
            .args([
                "-X",
                "-q",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "bench",
            ])
            .arg("-p")
            .arg(pg.port.to_string())
            .arg("-f")
            .arg(&sql)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    for (test, ps) in [("oltp_read_write", "auto"), ("oltp_read_only", "disable")] {
        run(sb(test)
            .args(["--threads=2", "--time=0", "--events=150"])
            .arg(format!("--db-ps-mode={ps}"))
            .arg("run"))?;
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut ar = AgentRun::default();
    agent.stop("\"kind\":\"statement\"", &mut ar)?;
    let raw = fs::metadata(&rec).map(|m| m.len()).unwrap_or(0);
    step("compressing (xz -9)");
    let st = Command::new("xz")
        .args(["-9", "-T1", "-c"])
        .arg(&rec)
        .stdout(fs::File::create(&out)?)
        .status()
        .context("running xz")?;
    if !st.success() {
        bail!("xz failed ({st})");
    }
    let meta = json!({
        "file": CAPTURE_XZ,
        "uncompressed_bytes": raw,
        "statements": ar.statements,
        "gap_events": ar.gap_events,
        "agent_summary": ar.summary,
        "workload": "pgbench scale 1, 2 clients: tpcb-like prepared and simple (400 tx each per client), select-only extended and simple (1500 tx each per client); psql bench/workload/reporting.sql x5; sysbench 2x10000 rows, 2 threads: oltp_read_write prepared and oltp_read_only text protocol (150 tx each)",
        "recorded_with": "cargo xtask bench --record-mix",
    });
    fs::write(
        root_dir().join(CAPTURE_META),
        serde_json::to_string_pretty(&meta)? + "\n",
    )?;
    let size = fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "\nrecorded {} ({:.1} MB compressed, {:.1} MB raw): {} statement events, {} gap events; {}",
        out.display(),
        size as f64 / 1e6,
        raw as f64 / 1e6,
        ar.statements,
        ar.gap_events,
        ar.summary
    );
    Ok(())
}

/// Waits for a child; its exit code and peak resident memory in KiB (from wait4's rusage).
fn wait_rusage(child: std::process::Child) -> Result<(i32, i64)> {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be filled in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with valid pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    if r < 0 {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, ru.ru_maxrss))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_ring_line_is_read() {
        let l = "dbgov: ring buffer peak 1048576 of 16777216 bytes (6.3%); read 987654321 bytes in 2345 drains over 17.2 s (largest drain 524288 bytes)";
        assert_eq!(
            RingLine::parse(l),
            Some(RingLine {
                size: 16 << 20,
                peak: 1 << 20,
                bytes: 987_654_321,
                drains: 2345,
                largest: 512 << 10,
            })
        );
        assert_eq!(RingLine::parse("dbgov: stopped after 1 records"), None);
    }
}
