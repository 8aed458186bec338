//! The `dbgov` command line: `dbgov run` captures live traffic, `dbgov replay` feeds a capture
//! file through the userspace pipeline.
mod config_cmd;
mod proxy_cmd;
mod report_cmd;
mod status_cmd;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};

use dbgov::audit::{self, Clock};
use dbgov::capture::{Capture, Watch};
use dbgov::config::Config;
use dbgov::pipeline::{Pipeline, PipelineConfig};
use dbgov::policy::Policy;
use dbgov::sink::Output;
use dbgov::sql::AnalyzerConfig;

/// mimalloc serves the pipeline's few small allocations per statement more cheaply than the
/// system allocator (README: Performance).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h` of the v3 sources that libmimalloc-sys
/// builds; the crate names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Memory freed is given back to the system at once, as glibc's allocator does for large
/// blocks: with mimalloc's default delay (10 ms) the live agent's peak RSS was about 30 MB
/// higher (105 MB against 73 MB under saturated pgbench).
fn allocator_setup() {
    // SAFETY: sets an option of the global allocator; any value is valid for this option.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

#[derive(Parser)]
#[command(
    name = "dbgov",
    version,
    about = "eBPF database-governance agent: sees every PostgreSQL and MySQL statement on this host and says who ran it",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Capture database traffic with eBPF and write one audit event per statement (needs root,
    /// or CAP_BPF and CAP_PERFMON).
    Run(Box<RunArgs>),
    /// Feed a capture file (from `run --record`) through reassembly, decoding, analysis, policy
    /// and serialisation as fast as possible, and report the throughput (JSON on stderr).
    /// `cpu_seconds` counts the passes' work; building the pipeline for each pass (compiling
    /// the policies, once per agent start in `run`) is reported apart as `setup_cpu_seconds`.
    Replay(ReplayArgs),
    /// Check or try out policy files without capturing anything.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Check that a trail is complete and unaltered: per agent stream, `integrity.seq` runs
    /// without holes and every event's hash chains to the previous one. Exits 0 with a
    /// summary, or 1 naming the first bad event and the kind of fault (modified, deleted,
    /// reordered, inserted).
    Verify(VerifyArgs),
    /// Make an Ed25519 key pair for signed checkpoints: DIR/signing.key (mode 0600, for
    /// `dbgov run --signing-key`) and DIR/signing.pub (for `dbgov verify --pubkey`).
    Keygen {
        /// The directory to write the two files to (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Copy a trail from Kafka into a JSON-lines file: every stream in `seq` order, exact
    /// re-deliveries dropped (for `verify`, reports, grep, or a SIEM import).
    Export(ExportArgs),
    /// Send what waits in the spool (events an agent could not deliver before it stopped) to
    /// Kafka, without capturing, and exit once it is delivered.
    Ship(ShipArgs),
    /// Follow a trail as `tail -f` does: show its last events, then each new one as it is
    /// written, one readable line per event (or the JSON lines), optionally filtered. A
    /// JSON-lines file is followed through rotation and truncation.
    Tail(TailArgs),
    /// Relay clients to a PostgreSQL or MySQL server and apply the policies before the
    /// server sees a statement: block (a protocol-native error), hold for approval, mask
    /// result columns. Writes the same audit events as the agent, with `source: proxy`.
    Proxy(Box<proxy_cmd::ProxyArgs>),
    /// Approve a statement the proxy holds (through its control API).
    Approve(proxy_cmd::DecideArgs),
    /// Deny a statement the proxy holds.
    Deny(proxy_cmd::DecideArgs),
    /// Evidence for a compliance review from a trail: scope and integrity, coverage, who
    /// touched which data classes, enforcement, schema changes, activity, top statements,
    /// framework controls, and optionally what candidate policies would have changed. One
    /// self-contained HTML page, Markdown, or JSON.
    Report(Box<report_cmd::ReportArgs>),
    /// Ask a running agent or proxy (its --metrics address) how it is: one summary line;
    /// exit 1 when it is not ready (probes detached, starting or stopping) or its Kafka
    /// spool is over 80% full.
    Status(status_cmd::StatusArgs),
    /// Check a configuration file, or print the shipped default.
    #[command(subcommand)]
    Config(config_cmd::ConfigCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell), e.g.
    /// `dbgov completions bash > /etc/bash_completion.d/dbgov`.
    Completions { shell: clap_complete::Shell },
    /// Write the man pages (dbgov.1 and one per subcommand) to DIR.
    Man {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Args)]
struct TailArgs {
    /// The trail: `jsonl:PATH` (or just PATH) or `kafka:BROKERS/TOPIC`.
    #[arg(long, value_name = "jsonl:PATH|kafka:BROKERS/TOPIC")]
    input: String,
    /// `pretty` (one line per event), `json` (the events as stored), or `auto`: pretty on a
    /// terminal, JSON lines into a pipe or a file.
    #[arg(long, value_name = "FORMAT", default_value = "auto")]
    output: TailOutput,
    /// Colours of the pretty view (`auto` follows the terminal and NO_COLOR).
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    color: dbgov::sink::Color,
    /// Show this many of the last matching events before following (per partition on Kafka).
    #[arg(short = 'n', long, value_name = "N", default_value_t = 10)]
    lines: u64,
    /// Print what is there and exit instead of waiting for more.
    #[arg(long)]
    no_follow: bool,
    /// Only events at or after this time: RFC 3339 (2026-12-02T15:00:00Z) or an age (10m, 2h,
    /// 1d). Reads the trail from its start.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only this OS user's events (`client.user`); repeatable (any of them).
    #[arg(long = "user", value_name = "USER")]
    users: Vec<String>,
    /// Only events of people who logged in as this user (`client.login_user`); repeatable.
    #[arg(long = "login-user", value_name = "USER")]
    login_users: Vec<String>,
    /// Only this database (`db.name`); repeatable.
    #[arg(long = "db", value_name = "NAME")]
    dbs: Vec<String>,
    /// Only statements touching this data class (`pii.email`) or class family (`pii`);
    /// repeatable.
    #[arg(long = "class", value_name = "CLASS")]
    classes: Vec<String>,
    /// Only statements with this verdict: allow, alert, mask, hold, block; repeatable.
    #[arg(long = "verdict", value_name = "VERDICT")]
    verdicts: Vec<String>,
    /// Times in UTC instead of the local time zone.
    #[arg(long)]
    utc: bool,
    /// A librdkafka setting for reading from Kafka (`security.protocol=SSL`, ...); repeatable.
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    kafka_properties: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TailOutput {
    Auto,
    Pretty,
    Json,
}

#[derive(Args)]
struct ExportArgs {
    /// `kafka:BROKERS/TOPIC`.
    #[arg(long, value_name = "kafka:BROKERS/TOPIC")]
    input: String,
    /// The JSON-lines file to write (replaced).
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// A librdkafka setting (`security.protocol=SSL`, ...); repeatable.
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    kafka_properties: Vec<String>,
}

#[derive(Args)]
struct ShipArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Give up after this many seconds (what is not delivered stays in the spool).
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

#[derive(Args)]
struct VerifyArgs {
    /// The trail: `jsonl:PATH` (a JSON-lines file as `dbgov run --output jsonl:PATH` writes),
    /// or `kafka:BROKERS/TOPIC` (the audit topic, read from the beginning to its current end;
    /// partitions are merged by stream and seq, exact re-deliveries are dropped).
    #[arg(long, value_name = "jsonl:PATH|kafka:BROKERS/TOPIC")]
    input: String,
    /// The public key (`signing.pub` from `dbgov keygen`): check every checkpoint's
    /// signature. Without it, checkpoints are counted but not checked.
    #[arg(long, value_name = "FILE")]
    pubkey: Option<PathBuf>,
    /// A librdkafka setting for reading from Kafka (`security.protocol=SSL`, ...); repeatable.
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    kafka_properties: Vec<String>,
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// Validate a policy directory (classes/, rules/ and workloads/); exits 1 with file:line
    /// errors.
    Check {
        /// The directory holding classes/ and rules/.
        dir: PathBuf,
    },
    /// Print the classification and verdict the agent would attach to a statement, as JSON.
    Test(Box<PolicyTestArgs>),
}

#[derive(Args)]
struct PolicyTestArgs {
    /// Policy directory (default: the built-in pack).
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// `postgresql` or `mysql`.
    #[arg(long, default_value = "postgresql")]
    engine: String,
    /// The SQL statement.
    #[arg(long)]
    statement: String,
    /// The OS user of the client process.
    #[arg(long)]
    user: Option<String>,
    /// The login user behind the client (audit loginuid).
    #[arg(long)]
    login_user: Option<String>,
    /// The database name.
    #[arg(long)]
    db: Option<String>,
    /// The database user.
    #[arg(long)]
    db_user: Option<String>,
    /// `host.environment`.
    #[arg(long)]
    environment: Option<String>,
    /// The client's executable (`client.exe`; also its workload unless --unit is given).
    #[arg(long, value_name = "PATH")]
    exe: Option<String>,
    /// The client's systemd unit (`ml-train-nightly.service`).
    #[arg(long, value_name = "UNIT")]
    unit: Option<String>,
    /// The client's command line.
    #[arg(long, value_name = "CMDLINE")]
    cmdline: Option<String>,
    /// `db.application`: PostgreSQL application_name, MySQL program_name.
    #[arg(long, value_name = "NAME")]
    application: Option<String>,
    /// A `statement.tags` entry (as a sqlcommenter comment would give), `key=value`;
    /// repeatable.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
}

#[derive(Args, Clone)]
pub(crate) struct CommonArgs {
    /// YAML configuration file (see README: Configuration).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Where events go: `pretty` (one readable line per event on stdout), `stdout` (JSON
    /// lines), `jsonl:PATH` (appends), `kafka:BROKERS` (through the spool under --state-dir;
    /// topics and security settings in the config file) or `none`. Default: `pretty` when
    /// stdout is a terminal, JSON lines on stdout otherwise.
    #[arg(long, value_name = "SPEC")]
    pub(crate) output: Option<String>,
    /// Colours of the pretty view: `auto` (on a terminal, unless NO_COLOR is set), `always`,
    /// `never`.
    #[arg(long, value_name = "WHEN")]
    pub(crate) color: Option<dbgov::sink::Color>,
    /// Event format: `native` (dbgov.audit/v1) or `ocsf` (OCSF Datastore Activity, 6005).
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: Option<dbgov::sink::Format>,
    /// Sign checkpoints with this Ed25519 key (from `dbgov keygen`).
    #[arg(long, value_name = "FILE")]
    pub(crate) signing_key: Option<PathBuf>,
    /// A signed checkpoint after this many events (default 10000; also every
    /// checkpoint.interval_secs, default 10 s).
    #[arg(long, value_name = "N")]
    pub(crate) checkpoint_events: Option<u64>,
    /// State directory (the Kafka spool lives in STATE_DIR/spool); default /var/lib/dbgov.
    #[arg(long, value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
    /// Directory with `classes/` and `rules/` YAML files (default: the built-in pack).
    #[arg(long, value_name = "DIR")]
    pub(crate) policy_dir: Option<PathBuf>,
    /// Value of `host.environment` on every event, e.g. `prod`.
    #[arg(long, value_name = "NAME")]
    pub(crate) environment: Option<String>,
    /// A `host.labels` entry, `key=value`; repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub(crate) labels: Vec<String>,
    /// Turn redaction off: literal values and comments in `statement.text`, SQL and passwords
    /// in `client.cmdline`, values in error messages (default: replaced by `?`). A risk: the
    /// trail then holds the data it audits.
    #[arg(long)]
    pub(crate) keep_literals: bool,
    /// Record bound parameter values of prepared statements (default: not recorded).
    #[arg(long)]
    pub(crate) record_params: bool,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Watch this PostgreSQL TCP port (default 5432); repeatable. Replaces the configured list.
    #[arg(long = "postgres-port", value_name = "N")]
    postgres_ports: Vec<u16>,
    /// Watch this MySQL/MariaDB TCP port (default 3306); repeatable. Replaces the configured list.
    #[arg(long = "mysql-port", value_name = "N")]
    mysql_ports: Vec<u16>,
    /// Watch this PostgreSQL Unix socket path (a `*` matches the port); repeatable. Added to the defaults.
    #[arg(long = "postgres-socket", value_name = "PATH")]
    postgres_sockets: Vec<String>,
    /// Watch this MySQL/MariaDB Unix socket path; repeatable. Added to the defaults.
    #[arg(long = "mysql-socket", value_name = "PATH")]
    mysql_sockets: Vec<String>,
    /// Create this file once every probe is attached, so scripts can wait for it.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
    /// Also save the raw capture records to FILE (for `dbgov replay`). The file holds the
    /// raw protocol bytes: every value, and authentication exchanges. Treat it as a secret;
    /// it is created 0600 and needs --keep-literals (redaction cannot apply to raw bytes).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Announce to the `dbgov proxy` whose control API is at ADDR which process and person
    /// opened each watched connection to it, and signal it the statements this agent judges
    /// `block`. Needs --control-token-file; watch the proxy's port (--postgres-port /
    /// --mysql-port) so its connections are seen.
    #[arg(long, value_name = "ADDR")]
    proxy_control: Option<String>,
    /// File holding the proxy control API's shared token.
    #[arg(long, value_name = "FILE")]
    control_token_file: Option<PathBuf>,
    /// The proxy's control API is served over TLS: verify it against these CAs (PEM).
    #[arg(long, value_name = "FILE")]
    control_ca: Option<PathBuf>,
    /// The name the control API's certificate must carry (default: the host of
    /// --proxy-control).
    #[arg(long, value_name = "NAME")]
    control_server_name: Option<String>,
    /// Serve Prometheus metrics (`/metrics`) and `/healthz` on ADDR (or `metrics:` in the
    /// config), e.g. 127.0.0.1:9187.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    /// A database address (`ip:port`) that must be reached through the proxy: a watched
    /// connection straight to it is flagged on its session_start (policy alert, rule
    /// `bypass-proxy`); the proxy's own connections are not. Repeatable.
    #[arg(long = "require-proxy", value_name = "ADDR")]
    require_proxy: Vec<std::net::SocketAddr>,
    /// How TLS plaintext is obtained (or `tls_capture:` in the config). `keylog` (the default)
    /// takes OpenSSL 3's TLS 1.3 secrets or TLS 1.2 key block once per handshake and decrypts
    /// the captured records, with no per-call cost (TLS 1.2 with a CBC suite is reported not
    /// inspectable); `uprobe` traps on every SSL_read/SSL_write in every process that maps
    /// libssl and reads any TLS version and suite.
    #[arg(long, value_name = "MODE")]
    tls_capture: Option<dbgov::config::TlsCapture>,
    /// How the data syscalls are hooked (or `syscall_hooks:` in the config). `auto` (the
    /// default) uses `raw` where the kernel accepts it, else `tracepoints`; `raw`: two BTF
    /// programs on raw_syscalls/sys_enter and sys_exit, about half the kernel's per-call
    /// overhead; `tracepoints`: the syscalls/sys_enter_* and sys_exit_* tracepoints of the data
    /// syscalls only.
    #[arg(long, value_name = "MODE")]
    syscall_hooks: Option<dbgov::config::SyscallHooks>,
}

#[derive(Args)]
struct ReplayArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The capture file.
    file: PathBuf,
    /// Replay the file this many times (for throughput measurements): each pass starts with
    /// no connection open and cold caches of analyses and verdicts, as an agent does at start,
    /// all of them use the policies compiled once (as an agent's, whose matchers keep the
    /// states they build), and all of them write to one output (one hash-chained stream).
    #[arg(long, default_value_t = 1)]
    repeat: u32,
}

fn main() {
    allocator_setup();
    let cli = Cli::parse();
    let code = match cli.cmd {
        Cmd::Run(a) => exit_code(run_main(*a)),
        Cmd::Replay(a) => exit_code(replay(a)),
        Cmd::Policy(PolicyCmd::Check { dir }) => exit_code(policy_check(&dir)),
        Cmd::Policy(PolicyCmd::Test(a)) => exit_code(policy_test(*a)),
        Cmd::Verify(a) => exit_code(verify(a)),
        Cmd::Keygen { out } => exit_code(keygen(&out)),
        Cmd::Export(a) => exit_code(export(a)),
        Cmd::Ship(a) => exit_code(ship(a)),
        Cmd::Tail(a) => exit_code(tail(a)),
        Cmd::Proxy(a) => exit_code(proxy_cmd::proxy(*a)),
        Cmd::Approve(a) => exit_code(proxy_cmd::decide(a, true)),
        Cmd::Deny(a) => exit_code(proxy_cmd::decide(a, false)),
        Cmd::Config(c) => exit_code(config_cmd::config(c)),
        Cmd::Report(a) => exit_code(report_cmd::report(*a)),
        Cmd::Status(a) => exit_code(status_cmd::status(a)),
        Cmd::Completions { shell } => {
            config_cmd::completions(<Cli as clap::CommandFactory>::command(), shell);
            0
        }
        Cmd::Man { out } => exit_code(config_cmd::man(
            <Cli as clap::CommandFactory>::command(),
            &out,
        )),
    };
    std::process::exit(code);
}

fn exit_code(r: Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            if let Some(p) = e.downcast_ref::<PrivilegeError>() {
                eprintln!("dbgov: {p}");
                return 2;
            }
            eprintln!("dbgov: {e:#}");
            1
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct PrivilegeError(String);

/// The capabilities `dbgov run` needs, with what each is for (the agent unit grants exactly
/// these; root has them all).
const RUN_CAPABILITIES: &[(u32, &str, &str)] = &[
    (39, "CAP_BPF", "to load the eBPF programs and create their maps"),
    (
        38,
        "CAP_PERFMON",
        "to attach tracepoints and uprobes (perf events)",
    ),
    (
        19,
        "CAP_SYS_PTRACE",
        "to read /proc/PID/exe, environ, fd and maps of other users' processes, for who ran a statement",
    ),
    (
        2,
        "CAP_DAC_READ_SEARCH",
        "to read tracefs, and files owned by other users such as the signing key",
    ),
];

/// The effective capability set of this process.
fn effective_capabilities() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

/// Which of the needed capabilities `caps` lacks. CAP_SYS_ADMIN stands in for CAP_BPF and
/// CAP_PERFMON (as the kernel allows); CAP_SYS_PTRACE is needed only when processes are
/// resolved.
fn missing_capabilities(caps: u64, resolve_processes: bool) -> Vec<(&'static str, &'static str)> {
    const CAP_SYS_ADMIN: u32 = 21;
    let has = |bit: u32| caps & (1u64 << bit) != 0;
    RUN_CAPABILITIES
        .iter()
        .filter(|&&(bit, name, _)| {
            let sys_admin_covers = matches!(name, "CAP_BPF" | "CAP_PERFMON") && has(CAP_SYS_ADMIN);
            let unused = name == "CAP_SYS_PTRACE" && !resolve_processes;
            !has(bit) && !sys_admin_covers && !unused
        })
        .map(|&(_, name, why)| (name, why))
        .collect()
}

/// Checks the effective capabilities before touching the kernel, and names each one missing
/// (root in a unit with a reduced bounding set is checked too).
fn check_privileges(resolve_processes: bool) -> Result<()> {
    let missing = missing_capabilities(effective_capabilities(), resolve_processes);
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing
        .iter()
        .map(|(n, why)| format!("{n} ({why})"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(PrivilegeError(format!(
        "dbgov run is missing {} capabilit{}: {list}. Run it as root (sudo), or grant them with AmbientCapabilities= as the shipped dbgov-agent.service does.",
        missing.len(),
        if missing.len() == 1 { "y" } else { "ies" },
    ))
    .into())
}

pub(crate) fn load_config(c: &CommonArgs) -> Result<Config> {
    let mut cfg = match &c.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(o) = &c.output {
        cfg.output = o.clone();
    }
    if let Some(f) = c.format {
        cfg.format = f;
    }
    if let Some(w) = c.color {
        cfg.color = w;
    }
    if let Some(k) = &c.signing_key {
        cfg.signing_key = Some(k.clone());
    }
    if let Some(n) = c.checkpoint_events {
        cfg.checkpoint.events = n;
    }
    if let Some(d) = &c.state_dir {
        cfg.state_dir = d.clone();
    }
    if let Some(d) = &c.policy_dir {
        cfg.policy_dir = Some(d.clone());
    }
    if let Some(e) = &c.environment {
        cfg.environment = Some(e.clone());
    }
    for l in &c.labels {
        let Some((k, v)) = l.split_once('=') else {
            bail!("--label expects KEY=VALUE, got {l:?}")
        };
        cfg.labels.insert(k.to_owned(), v.to_owned());
    }
    cfg.keep_literals |= c.keep_literals;
    cfg.record_params |= c.record_params;
    Ok(cfg)
}

fn build_pipeline(cfg: &Config, clock: Clock, resolve_identity: bool) -> Result<Pipeline> {
    let host = host_of(cfg);
    let out = open_output(cfg, &host)?;
    let policy = load_policy(cfg)?;
    pipeline_over(cfg, policy, clock, resolve_identity, out, host)
}

/// This host as events name it (read once per start: the output and the pipeline share it).
fn host_of(cfg: &Config) -> audit::Host {
    audit::host_info(cfg.environment.clone(), cfg.labels.clone())
}

/// The configured policies, loaded and compiled.
fn load_policy(cfg: &Config) -> Result<Arc<Policy>> {
    let policy = match &cfg.policy_dir {
        Some(d) => {
            Policy::load_dir(d).with_context(|| format!("loading policies from {}", d.display()))?
        }
        None => Policy::builtin().context("loading the built-in policy pack")?,
    };
    Ok(Arc::new(policy))
}

/// The configured output, opened (its sink thread started).
fn open_output(cfg: &Config, host: &audit::Host) -> Result<Output> {
    let opts = cfg
        .output_options()
        .map_err(|e| anyhow::anyhow!("output: {e}"))?;
    Output::open(&opts, host).context("opening the output")
}

/// A pipeline writing to `out` (the policies loaded and compiled).
fn pipeline_over(
    cfg: &Config,
    policy: Arc<Policy>,
    clock: Clock,
    resolve_identity: bool,
    out: Output,
    host: audit::Host,
) -> Result<Pipeline> {
    let pc = PipelineConfig::from_config(cfg, host, policy, resolve_identity);
    let mut p = Pipeline::new(pc, clock, out);
    p.set_tag_keys(cfg.tag_keys.clone());
    Ok(p)
}

/// The configuration `dbgov run` works with: the file, then the flags over it.
fn run_config(a: &RunArgs) -> Result<Config> {
    let mut cfg = load_config(&a.common)?;
    if !a.postgres_ports.is_empty() {
        cfg.postgres_ports = a.postgres_ports.clone();
    }
    if !a.mysql_ports.is_empty() {
        cfg.mysql_ports = a.mysql_ports.clone();
    }
    cfg.postgres_sockets
        .extend(a.postgres_sockets.iter().cloned());
    cfg.mysql_sockets.extend(a.mysql_sockets.iter().cloned());
    if let Some(addr) = &a.proxy_control {
        cfg.proxy_control.address = Some(addr.clone());
    }
    if let Some(f) = &a.control_token_file {
        cfg.proxy_control.token_file = Some(f.clone());
    }
    if let Some(f) = &a.control_ca {
        cfg.proxy_control.ca = Some(f.clone());
    }
    if let Some(n) = &a.control_server_name {
        cfg.proxy_control.server_name = Some(n.clone());
    }
    if !a.require_proxy.is_empty() {
        cfg.identity.require_proxy = a.require_proxy.clone();
    }
    if a.metrics.is_some() {
        cfg.metrics = a.metrics;
    }
    if let Some(m) = a.tls_capture {
        cfg.tls_capture = m;
    }
    if let Some(m) = a.syscall_hooks {
        cfg.syscall_hooks = m;
    }
    cfg.validate()?;
    Ok(cfg)
}

fn run_main(a: RunArgs) -> Result<()> {
    let cfg = run_config(&a)?;
    check_privileges(cfg.identity.processes)?;
    if a.record.is_some() && !cfg.keep_literals {
        bail!(
            "--record saves raw protocol bytes, values and authentication exchanges included, \
             which redaction cannot cover; add --keep-literals (or `keep_literals: true`) to \
             accept that, and keep the file secret"
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(a, cfg))
}

async fn run(a: RunArgs, mut cfg: Config) -> Result<()> {
    tracing_init();
    let (pg, my) = dbgov::capture::engine_ids();
    let mut ports: Vec<(u16, u32)> = cfg.postgres_ports.iter().map(|&p| (p, pg)).collect();
    ports.extend(cfg.mysql_ports.iter().map(|&p| (p, my)));
    let watch = Watch {
        ports,
        unix_paths: cfg.socket_paths()?,
        ring_bytes: cfg.ring_buffer_mib << 20,
        shed_percent: cfg.ring_buffer_shed_percent,
        hooks: cfg.syscall_hooks,
    };
    let clock = Clock::now();
    // One agent per state directory: a second one would report every statement twice.
    let _lock = dbgov::files::InstanceLock::acquire(&cfg.state_dir, "agent")?;
    let mut pipeline = build_pipeline(&cfg, clock, cfg.identity.processes)?;
    let metrics = dbgov::metrics::Metrics::new();
    metrics.ring_size_bytes.set(i64::from(watch.ring_bytes));
    if let Some(addr) = cfg.metrics {
        metrics.serve(addr).await?;
    }
    let pc = &cfg.proxy_control;
    match (&pc.address, &pc.token_file) {
        (Some(addr), Some(f)) => {
            let token = std::fs::read_to_string(f)
                .with_context(|| format!("reading the control token from {}", f.display()))?;
            let token = token.trim().to_owned();
            if token.is_empty() {
                bail!("the control token file {} is empty", f.display());
            }
            let tls =
                proxy_cmd::control_tls(addr, pc.ca.as_deref(), pc.server_name.as_deref())?;
            pipeline.set_announcer(
                dbgov::control::Announcer::spawn(addr.clone(), token, tls)
                    .context("starting the proxy announcer")?,
            );
        }
        (Some(_), None) => bail!(
            "--proxy-control (proxy_control.address) needs --control-token-file (proxy_control.token_file)"
        ),
        (None, _) => {}
    }
    pipeline.set_require_proxy(cfg.identity.require_proxy.clone());
    let mut capture = Capture::start(&watch)?;
    capture.set_tls_capture(cfg.tls_capture);
    pipeline.set_tls_keylog(cfg.tls_capture == dbgov::config::TlsCapture::Keylog);
    let mut recorder = match &a.record {
        Some(p) => Some(
            dbgov::record::Writer::create(p, clock.offset_ns())
                .with_context(|| format!("creating {}", p.display()))?,
        ),
        None => None,
    };
    // Linux lets only CAP_SYS_ADMIN create uprobes (CAP_PERFMON was enough from Linux 5.8
    // until a fix restored that check): without it, TLS plaintext is not captured and TLS sessions are reported as not
    // inspectable, which the hardened unit accepts.
    const CAP_SYS_ADMIN: u32 = 21;
    if effective_capabilities() & (1u64 << CAP_SYS_ADMIN) == 0 {
        capture.disable_tls();
        eprintln!(
            "dbgov: TLS plaintext capture is off: the kernel creates uprobes only for CAP_SYS_ADMIN, \
             which this agent does not hold; sessions over TLS are reported as not inspectable \
             (README: Install on a host, TLS)"
        );
    }
    for t in capture.attach_tls_everywhere() {
        match t.result {
            Ok(()) => tracing::info!(lib = %t.path, "TLS uprobes attached"),
            Err(e) => {
                tracing::warn!(lib = %t.path, error = %e, "TLS uprobes not attached; TLS sessions through it are reported as not inspectable")
            }
        }
    }
    for ev in capture.seed(&watch) {
        pipeline.seed_connection(&ev)?;
        for t in capture.attach_tls_calls_for(ev.hdr.tgid) {
            match t.result {
                Ok(()) => {
                    tracing::info!(lib = %t.path, pid = ev.hdr.tgid, "TLS uprobes attached for a process with open connections")
                }
                Err(e) => {
                    tracing::warn!(lib = %t.path, pid = ev.hdr.tgid, error = %e, "TLS uprobes not attached; its TLS sessions opened before the agent started are reported as not inspectable")
                }
            }
        }
    }
    let ring = capture.ring()?;
    #[allow(deprecated)]
    let mut ring = AsyncFd::new(ring).context("registering the ring buffer with the event loop")?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut stamp = cfg.policy_dir.as_deref().map(policy_stamp);
    let mut sigint = signal(SignalKind::interrupt())?;
    if let Some(p) = &a.ready_file {
        use std::io::Write;
        dbgov::files::open_private(p, true)
            .and_then(|mut f| f.write_all(format!("{}\n", std::process::id()).as_bytes()))
            .with_context(|| format!("writing ready file {}", p.display()))?;
    }
    tracing::info!(ports = ?cfg.postgres_ports, mysql_ports = ?cfg.mysql_ports, "dbgov capturing");
    // Yield the CPU while keeping up (every thread exists by now; later ones inherit).
    let mut adapt = match cfg.scheduling {
        dbgov::config::Scheduling::Adaptive if dbgov::sched::can_return() => {
            match dbgov::sched::set_all_threads(true) {
                Ok(()) => {
                    if let Err(e) = dbgov::sched::start_watchdog() {
                        tracing::warn!("scheduling: no watchdog thread: {e}");
                    }
                    Some(dbgov::sched::Adaptive::new(u64::from(watch.ring_bytes)))
                }
                Err(e) => {
                    tracing::warn!("scheduling: adaptive is off: {e}");
                    None
                }
            }
        }
        dbgov::config::Scheduling::Adaptive => {
            eprintln!(
                "dbgov: scheduling: adaptive is off: leaving SCHED_IDLE again needs CAP_SYS_NICE or \
                 LimitNICE=+0 (RLIMIT_NICE 20); the agent runs at its normal priority"
            );
            None
        }
        dbgov::config::Scheduling::Normal => None,
    };
    metrics.yielding.set(i64::from(adapt.is_some()));
    // Every probe is attached and the open connections are seeded.
    metrics.set_ready(true);
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("capturing"),
    ]);
    // One line on stderr so a person at a terminal knows it is running before the first event.
    let ports = |p: &[u16]| p.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    eprintln!(
        "dbgov: capturing PostgreSQL on port {} and MySQL on port {} (and their local sockets); events to {}; Ctrl-C stops",
        ports(&cfg.postgres_ports),
        ports(&cfg.mysql_ports),
        match cfg.output.as_str() {
            "auto" if std::io::IsTerminal::is_terminal(&std::io::stdout()) => "this terminal",
            "auto" | "stdout" | "-" | "json" => "stdout (JSON lines)",
            "pretty" => "stdout (one line per event)",
            other => other,
        }
    );
    let mut flush_tick = tokio::time::interval(Duration::from_millis(200));
    // The kernel wakes the agent when 256 KiB are waiting or a new client process connects;
    // otherwise it drains on this timer: every 5 ms while batches are large, backing off to
    // 20 ms while they stay under 512 records (an idle agent wakes 50 times a second). The
    // longest interval is at most half of `sched::STARVED_AFTER`, or the watchdog would take
    // a quiet loop for a starved one.
    const DRAIN_MIN: Duration = Duration::from_millis(5);
    const DRAIN_MAX: Duration = Duration::from_millis(20);
    const DRAIN_BATCH: u64 = 512;
    let mut drain_every = DRAIN_MIN;
    let drain_timer = tokio::time::sleep(drain_every);
    tokio::pin!(drain_timer);
    let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
    let mut last_counters = [0u64; agent_common::COUNTERS_LEN as usize];
    let mut ring_use = RingUse::new(u64::from(cfg.ring_buffer_mib) << 20);
    let mut last_reap = Instant::now();
    let mut last_sweep = Instant::now();
    let mut was_paused = false;
    loop {
        dbgov::sched::heartbeat();
        if dbgov::sched::take_rescue() {
            if let Some(a) = adapt.as_mut() {
                a.rescued();
                metrics.boosts.inc();
                metrics.yielding.set(0);
                tracing::debug!("scheduling: starved while yielding; back to the normal priority");
            }
        }
        // An output that is behind (or a full spool set to `pause`): the records wait in the
        // ring (the kernel sheds response bytes first and counts what it cannot store) until
        // the output has room. The ring is not watched meanwhile: past 256 KiB every record
        // the kernel adds would wake the agent for nothing; the drain timer looks instead.
        let paused = pipeline.output_paused();
        if paused && !was_paused {
            metrics.output_pauses.inc();
            if metrics.output_pauses.get() == 1 {
                tracing::info!(
                    "the output is behind: capture waits for it, and records wait in the ring buffer meanwhile (dbgov_output_pauses_total counts these)"
                );
            }
        }
        was_paused = paused;
        tokio::select! {
            guard = ring.readable_mut(), if !paused => {
                let mut guard = guard?;
                drain(guard.get_inner_mut(), &mut recorder, &mut pipeline, &mut ring_use, true, &mut |b| {
                    adapt_to(&mut adapt, &metrics, b)
                })?;
                guard.clear_ready();
                after_batch(&mut pipeline, &mut capture);
                // Activity: drain at the short interval again.
                if drain_every != DRAIN_MIN {
                    drain_every = DRAIN_MIN;
                    drain_timer.as_mut().reset(tokio::time::Instant::now() + drain_every);
                }
            }
            () = &mut drain_timer => {
                let n = if pipeline.output_paused() {
                    pipeline.flush()?;
                    // The ring fills while the output catches up: the agent stops yielding
                    // once it holds a sixteenth of its size, as when decoding falls behind.
                    let c = capture.counters()?;
                    adapt_to(&mut adapt, &metrics, c[agent_common::CNT_RING_USED_PEAK as usize]);
                    0
                } else {
                    drain(ring.get_mut(), &mut recorder, &mut pipeline, &mut ring_use, true, &mut |b| {
                        adapt_to(&mut adapt, &metrics, b)
                    })?
                };
                after_batch(&mut pipeline, &mut capture);
                // Each wakeup costs the agent tens of microseconds on a VM: drain small batches
                // less often. A busy ring wakes the agent by itself (256 KiB waiting). A paused
                // capture looks again soon.
                drain_every = if n < DRAIN_BATCH && !pipeline.output_paused() {
                    (drain_every * 2).min(DRAIN_MAX)
                } else {
                    DRAIN_MIN
                };
                drain_timer.as_mut().reset(tokio::time::Instant::now() + drain_every);
            }
            _ = flush_tick.tick() => {
                pipeline.flush()?;
            }
            _ = housekeeping.tick() => {
                let now = audit::now_monotonic_ns();
                let c = capture.counters()?;
                report_losses(&mut pipeline, &last_counters, &c, now)?;
                update_metrics(&metrics, &pipeline, &c);
                ring_use.peak(c[agent_common::CNT_RING_USED_PEAK as usize]);
                adapt_to(&mut adapt, &metrics, c[agent_common::CNT_RING_USED_PEAK as usize]);
                if let Some(a) = adapt.as_mut() {
                    if a.tick(Instant::now()) == dbgov::sched::Change::ToIdle {
                        apply_sched(&mut adapt, &metrics, true);
                    }
                }
                if c[agent_common::CNT_RING_USED_PEAK as usize] > 0 {
                    if let Err(e) = capture.reset_ring_peak() {
                        tracing::debug!("ring-buffer peak: {e}");
                    }
                }
                last_counters = c;
                // First take in what the kernel already produced: a short-lived client that
                // exited since the last drain still has its statements in the ring, and ending
                // its session before reading them would lose them. So nothing is reaped while
                // capture is paused (records may still wait in the ring).
                if last_reap.elapsed() >= Duration::from_secs(1) && !pipeline.output_paused() {
                    drain(ring.get_mut(), &mut recorder, &mut pipeline, &mut ring_use, true, &mut |b| {
                        adapt_to(&mut adapt, &metrics, b)
                    })?;
                    after_batch(&mut pipeline, &mut capture);
                    // A drain cut short by the output leaves records in the ring: reap later.
                    if !pipeline.output_paused() {
                        let now = audit::now_monotonic_ns();
                        pipeline.report_opaque_tls(now, 2_000_000_000)?;
                        let dead = pipeline.reap(now)?;
                        capture.forget(&dead);
                        last_reap = Instant::now();
                        if last_sweep.elapsed() >= Duration::from_secs(30) {
                            let n = capture.sweep();
                            tracing::debug!(entries = n, "kernel entries of exited processes removed");
                            last_sweep = Instant::now();
                        }
                    }
                }
                if let Some(r) = recorder.as_mut() {
                    r.flush()?;
                }
                if let Some(dir) = cfg.policy_dir.as_deref() {
                    let now_stamp = policy_stamp(dir);
                    if stamp.as_ref() != Some(&now_stamp) {
                        stamp = Some(now_stamp);
                        reload_policy(&cfg, &mut pipeline, "a policy file changed");
                    }
                }
            }
            _ = sighup.recv() => {
                notify(&[sd_notify::NotifyState::Reloading]);
                reload_config(&a, &mut cfg, &mut pipeline);
                reload_policy(&cfg, &mut pipeline, "SIGHUP");
                stamp = cfg.policy_dir.as_deref().map(policy_stamp);
                notify(&[sd_notify::NotifyState::Ready]);
            }
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
    }
    metrics.set_ready(false);
    notify(&[sd_notify::NotifyState::Stopping]);
    // Finish at the normal priority, whatever the host is doing.
    if adapt.as_ref().is_some_and(dbgov::sched::Adaptive::idle) {
        apply_sched(&mut adapt, &metrics, false);
    }
    // Drain what the kernel already produced, then end every open session. An output that is
    // behind gets up to 10 s to take it; after that it is handed everything (the backlog cap
    // then drops and counts what does not fit).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pausable = Instant::now() < deadline;
        drain(
            ring.get_mut(),
            &mut recorder,
            &mut pipeline,
            &mut ring_use,
            pausable,
            &mut |_| {},
        )?;
        if !pausable || !pipeline.output_paused() {
            break;
        }
        while pipeline.output_paused() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            pipeline.flush()?;
        }
    }
    let now = audit::now_monotonic_ns();
    let c = capture.counters()?;
    ring_use.peak(c[agent_common::CNT_RING_USED_PEAK as usize]);
    report_losses(&mut pipeline, &last_counters, &c, now)?;
    pipeline.close_all(now)?;
    // An output that is still failing gets 2 s more before the events are given up.
    let (lost, kept) = pipeline.close_output(Duration::from_secs(2))?;
    if let Some(r) = recorder.as_mut() {
        r.flush()?;
    }
    if let Some(p) = &a.ready_file {
        let _ = std::fs::remove_file(p);
    }
    let s = &pipeline.stats;
    eprintln!(
        "dbgov: stopped after {} records, {} statements, {} events, {} gaps",
        s.records, s.statements, s.events, s.gaps
    );
    eprintln!("dbgov: {}", ring_use.summary());
    if kept > 0 {
        eprintln!(
            "dbgov: {kept} events wait in the spool for Kafka; they are sent at the next start"
        );
    }
    if lost > 0 {
        bail!("the output kept failing: {lost} events were not written");
    }
    Ok(())
}

/// How the kernel ring buffer was used over the agent's run, said once at the stop so that
/// its size can be chosen from measurements (see the README on room for bursts).
struct RingUse {
    size: u64,
    peak: u64,
    bytes: u64,
    drains: u64,
    largest: u64,
    since: Instant,
}

impl RingUse {
    fn new(size: u64) -> Self {
        Self {
            size,
            peak: 0,
            bytes: 0,
            drains: 0,
            largest: 0,
            since: Instant::now(),
        }
    }

    /// The kernel's peak fill since its last reset.
    fn peak(&mut self, used: u64) {
        self.peak = self.peak.max(used);
    }

    fn drained(&mut self, bytes: u64) {
        if bytes > 0 {
            self.drains += 1;
            self.bytes += bytes;
            self.largest = self.largest.max(bytes);
        }
    }

    /// One line: the peak fill, what was read and in how many drains.
    fn summary(&self) -> String {
        let secs = self.since.elapsed().as_secs_f64();
        format!(
            "ring buffer peak {} of {} bytes ({:.1}%); read {} bytes in {} drains over {:.1} s (largest drain {} bytes)",
            self.peak,
            self.size,
            self.peak as f64 * 100.0 / self.size.max(1) as f64,
            self.bytes,
            self.drains,
            secs,
            self.largest
        )
    }
}

/// Feeds every record waiting in the ring to the pipeline (and the recorder), or (`pausable`)
/// stops early once the output is behind (the rest waits in the ring). Returns how many.
fn drain(
    rb: &mut aya::maps::RingBuf<aya::maps::MapData>,
    recorder: &mut Option<dbgov::record::Writer>,
    pipeline: &mut Pipeline,
    ring_use: &mut RingUse,
    pausable: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    // `progress` learns how many bytes this drain has read so far, every 256 KiB and at the
    // end (adaptive scheduling reacts to a backlog before the drain is over).
    const STEP: u64 = 256 << 10;
    let (mut n, mut bytes, mut next) = (0, 0u64, STEP);
    while let Some(item) = rb.next() {
        if let Some(r) = recorder.as_mut() {
            r.write(&item)?;
        }
        pipeline.handle_record(&item)?;
        n += 1;
        bytes += item.len() as u64;
        if bytes >= next {
            progress(bytes);
            next = bytes + STEP;
            if pausable && pipeline.output_paused() {
                break;
            }
        }
    }
    progress(bytes);
    ring_use.drained(bytes);
    // At most one hand-over to the output per drain cycle, once the batch is large or old
    // enough (an idle drain hands over what has waited).
    pipeline.flush_due()?;
    Ok(n)
}

/// `scheduling: adaptive`: the ring held `bytes`; stop yielding if the agent falls behind.
fn adapt_to(adapt: &mut Option<dbgov::sched::Adaptive>, m: &dbgov::metrics::Metrics, bytes: u64) {
    dbgov::sched::heartbeat();
    if adapt.as_mut().map(|a| a.observe(bytes)) == Some(dbgov::sched::Change::ToNormal) {
        m.boosts.inc();
        apply_sched(adapt, m, false);
    }
}

/// Moves every thread to `SCHED_IDLE` (`idle`) or back; on failure adaptive scheduling ends
/// at the normal priority.
fn apply_sched(
    adapt: &mut Option<dbgov::sched::Adaptive>,
    m: &dbgov::metrics::Metrics,
    idle: bool,
) {
    match dbgov::sched::set_all_threads(idle) {
        Ok(()) => {
            m.yielding.set(i64::from(idle));
            tracing::debug!(idle, "scheduling changed");
        }
        Err(e) => {
            tracing::warn!("scheduling: adaptive is off: {e}");
            let _ = dbgov::sched::set_all_threads(false);
            m.yielding.set(0);
            *adapt = None;
        }
    }
}

/// Work after a batch of ring records: TLS uprobes for new processes, and dropping the kernel
/// watch of mirror ends.
fn after_batch(pipeline: &mut Pipeline, capture: &mut Capture) {
    for pid in std::mem::take(&mut pipeline.new_pids) {
        for t in capture.attach_tls_for(pid) {
            if let Err(e) = t.result {
                tracing::warn!(lib = %t.path, error = %e, "TLS uprobes not attached");
            }
        }
    }
    let keys = std::mem::take(&mut pipeline.drop_keys);
    capture.forget(&keys);
}

/// Brings the metrics up to the pipeline's and the kernel's counts (every second).
fn update_metrics(m: &dbgov::metrics::Metrics, p: &Pipeline, kernel: &[u64]) {
    use dbgov::metrics::{Metrics, ReasonLabel};
    let s = &p.stats;
    Metrics::advance(&m.records, s.records);
    Metrics::advance(&m.malformed_records, s.malformed_records);
    Metrics::advance(&m.statements, s.statements);
    m.set_output(&p.output().counts());
    Metrics::advance(&m.gaps, s.gaps);
    for (reason, idx) in [
        ("ring_buffer_full", agent_common::CNT_RING_FULL_BYTES),
        ("truncated", agent_common::CNT_TRUNC_BYTES),
        ("shed_response", agent_common::CNT_SHED_BYTES),
    ] {
        let c = m.lost_bytes.get_or_create(&ReasonLabel {
            reason: reason.to_owned(),
        });
        Metrics::advance(&c, kernel[idx as usize]);
    }
    m.output_backlog_bytes
        .set(i64::try_from(p.output_backlog()).unwrap_or(i64::MAX));
    m.connections
        .set(i64::try_from(p.connections()).unwrap_or(i64::MAX));
    m.set_judge(&p.judge_counts());
    if let (Some(sh), Some((_, cap))) = (p.output().spool_shared(), p.spool_usage()) {
        m.set_spool(sh, cap);
    }
    m.note_ring_used(kernel[agent_common::CNT_RING_USED_PEAK as usize]);
}

/// Tells systemd (a `Type=notify` unit) about the agent's state; nothing without a unit.
pub(crate) fn notify(state: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(false, state) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Re-reads the configuration file on SIGHUP. Policies, sqlcommenter tag keys and the
/// addresses that must go through the proxy change at once; a changed setting that needs a
/// restart (ports, outputs, state directory, ...) is named and keeps its old value.
fn reload_config(a: &RunArgs, cfg: &mut Config, pipeline: &mut Pipeline) {
    let new = match run_config(a) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "dbgov: SIGHUP: configuration NOT reloaded, the previous one stays in force: {e:#}"
            );
            return;
        }
    };
    let mut restart = Vec::new();
    macro_rules! changed {
        ($($f:ident).+) => {
            if format!("{:?}", cfg.$($f).+) != format!("{:?}", new.$($f).+) {
                restart.push(stringify!($($f).+));
            }
        };
    }
    changed!(output);
    changed!(format);
    changed!(color);
    changed!(postgres_ports);
    changed!(mysql_ports);
    changed!(postgres_sockets);
    changed!(mysql_sockets);
    changed!(environment);
    changed!(labels);
    changed!(keep_literals);
    changed!(record_params);
    changed!(ring_buffer_mib);
    changed!(ring_buffer_shed_percent);
    changed!(scheduling);
    changed!(tls_capture);
    changed!(syscall_hooks);
    changed!(max_statement_bytes);
    changed!(state_dir);
    changed!(signing_key);
    changed!(checkpoint);
    changed!(spool);
    changed!(kafka);
    changed!(identity.processes);
    changed!(proxy_control);
    changed!(metrics);
    if !restart.is_empty() {
        eprintln!(
            "dbgov: SIGHUP: changed settings that take effect at the next restart: {}",
            restart.join(", ")
        );
    }
    cfg.policy_dir = new.policy_dir;
    cfg.tag_keys = new.tag_keys;
    pipeline.set_tag_keys(cfg.tag_keys.clone());
    cfg.identity.require_proxy = new.identity.require_proxy;
    pipeline.set_require_proxy(cfg.identity.require_proxy.clone());
}

/// Reloads the policy directory; on error the previous policies stay in force.
fn reload_policy(cfg: &Config, pipeline: &mut Pipeline, why: &str) {
    let Some(dir) = cfg.policy_dir.as_deref() else {
        eprintln!("dbgov: {why}: using the built-in policy pack, nothing to reload");
        return;
    };
    match Policy::load_dir(dir) {
        Ok(p) => {
            pipeline.set_policy(p);
            eprintln!("dbgov: {why}: policies reloaded from {}", dir.display());
        }
        Err(e) => {
            eprintln!("dbgov: {why}: policies NOT reloaded, the previous ones stay in force: {e}")
        }
    }
}

fn report_losses(p: &mut Pipeline, last: &[u64], now_c: &[u64], now: u64) -> Result<()> {
    use agent_common::*;
    use dbgov::audit::GapReason;
    let d = |i: u32| now_c[i as usize].saturating_sub(last[i as usize]);
    if d(CNT_RING_FULL_CHUNKS) > 0 {
        p.host_gap(
            GapReason::RingBufferFull,
            d(CNT_RING_FULL_BYTES),
            d(CNT_RING_FULL_CHUNKS),
            now,
        )?;
    }
    if d(CNT_TRUNC_CHUNKS) > 0 {
        p.host_gap(
            GapReason::Truncated,
            d(CNT_TRUNC_BYTES),
            d(CNT_TRUNC_CHUNKS),
            now,
        )?;
    }
    if d(CNT_RING_FULL_CONN) > 0 {
        p.host_gap(
            GapReason::RingBufferFullConnectionEvents,
            0,
            d(CNT_RING_FULL_CONN),
            now,
        )?;
    }
    if d(CNT_STASH_FULL) > 0 {
        p.host_gap(GapReason::StashFull, 0, d(CNT_STASH_FULL), now)?;
    }
    for (i, what) in [
        (
            CNT_MAP_FULL_CONNS,
            "CONNS: connections not watched (more than 65536 at once)",
        ),
        (
            CNT_MAP_FULL_LISTENERS,
            "LISTENERS: database server sockets not recorded (more than 4096)",
        ),
        (
            CNT_MAP_FULL_PENDING,
            "PENDING: connects, accepts, binds or dups in flight not followed",
        ),
        (
            CNT_MAP_FULL_FDS,
            "CLIENT_FDS: client connections of one process beyond 8 not followed across fork, exec and close_range",
        ),
    ] {
        if d(i) > 0 {
            p.host_gap_detail(GapReason::KernelMapFull, what.to_string(), d(i), now)?;
        }
    }
    if d(CNT_SSL_STALE) > 0 {
        p.host_gap(GapReason::TlsCallLost, 0, d(CNT_SSL_STALE), now)?;
    }
    if d(CNT_TLS_SECRET_LOST) > 0 {
        p.host_gap_detail(
            GapReason::TlsUndecryptable,
            "TLS secrets lost (the ring buffer was full): the sessions whose handshakes they \
             belong to stay not inspectable"
                .to_owned(),
            d(CNT_TLS_SECRET_LOST),
            now,
        )?;
    }
    Ok(())
}

/// Diagnostics on stderr: `DBGOV_LOG` sets the level (default `warn`; nothing is logged
/// per event at `info`), `DBGOV_LOG_FORMAT=json` writes one JSON object per line (for
/// journald or a log shipper).
pub(crate) fn tracing_init() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("DBGOV_LOG").unwrap_or_else(|_| "warn".into());
    let b = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let _ = if std::env::var("DBGOV_LOG_FORMAT").is_ok_and(|f| f == "json") {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

fn replay(a: ReplayArgs) -> Result<()> {
    tracing_init();
    let mut cfg = load_config(&a.common)?;
    if a.common.output.is_none() {
        cfg.output = "none".into();
    }
    let capture = dbgov::record::read_all(Path::new(&a.file))
        .with_context(|| format!("reading {}", a.file.display()))?;
    let offset = capture.clock_offset_ns;
    let bytes = capture.bytes();
    let mut total_statements = 0;
    // As in an agent, the output is opened and the policies are compiled once, and each pass
    // starts a fresh pipeline (new connections, cold caches of analyses and verdicts) writing
    // to it with those policies (whose matchers, as in an agent that runs on, keep the states
    // they built lazily). Opening the output, compiling the policies and building each
    // pipeline happen once per agent start; their cost is counted apart from the statements'.
    // The last pass counts closing the output (the last writes).
    let (mut wall, mut cpu, mut setup_cpu) = (0.0f64, 0.0f64, 0.0f64);
    let setup0 = cpu_seconds();
    let host = host_of(&cfg);
    let mut out = Some(open_output(&cfg, &host)?);
    let policy = load_policy(&cfg)?;
    setup_cpu += cpu_seconds() - setup0;
    let passes = a.repeat.max(1);
    let mut lost = 0;
    for pass in 0..passes {
        let setup0 = cpu_seconds();
        let Some(o) = out.take() else {
            bail!("the output was closed before the last pass");
        };
        let mut p = pipeline_over(
            &cfg,
            Arc::clone(&policy),
            Clock::with_offset(offset),
            false,
            o,
            host.clone(),
        )?;
        // A capture made in keylog mode holds ciphertext and the secrets that open it; one made
        // with uprobes holds plaintext, which takes over from any ciphertext as it does live.
        p.set_tls_keylog(true);
        let start = Instant::now();
        let cpu0 = cpu_seconds();
        setup_cpu += cpu0 - setup0;
        for (i, r) in capture.records_prefetched().enumerate() {
            p.handle_record(r)?;
            if i % 4096 == 4095 {
                p.flush()?;
                // What an agent hands to the kernel after each batch (mirror ends to stop
                // capturing, processes for the TLS uprobes) has no kernel here: emptied, as
                // an agent's drain does, so that it does not grow through the pass.
                p.drop_keys.clear();
                p.new_pids.clear();
            }
        }
        p.close_all(0)?;
        total_statements += p.stats.statements;
        if pass + 1 == passes {
            let (l, kept) = p.close_output(Duration::from_secs(2))?;
            lost += l;
            if kept > 0 {
                eprintln!(
                    "dbgov: {kept} events wait in the spool for Kafka; they are sent at the next start"
                );
            }
        } else {
            out = Some(p.into_output());
        }
        cpu += cpu_seconds() - cpu0;
        wall += start.elapsed().as_secs_f64();
    }
    let out = serde_json::json!({
        "records": capture.len() as u64 * a.repeat.max(1) as u64,
        "bytes": bytes as u64 * a.repeat.max(1) as u64,
        "statements": total_statements,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "setup_cpu_seconds": setup_cpu,
        "statements_per_second": total_statements as f64 / wall.max(1e-9),
        "statements_per_cpu_second": total_statements as f64 / cpu.max(1e-9),
    });
    eprintln!("{out}");
    if lost > 0 {
        bail!("the output kept failing: {lost} events were not written");
    }
    Ok(())
}

pub(crate) fn kafka_input(input: &str) -> Result<(&str, &str)> {
    input
        .strip_prefix("kafka:")
        .and_then(|r| r.rsplit_once('/'))
        .filter(|(b, t)| !b.is_empty() && !t.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "expected kafka:BROKERS/TOPIC (e.g. kafka:127.0.0.1:9092/dbgov.audit), got {input:?}"
            )
        })
}

pub(crate) fn kafka_props(kv: &[String]) -> Result<BTreeMap<String, String>> {
    let mut props = BTreeMap::new();
    for s in kv {
        let Some((k, v)) = s.split_once('=') else {
            bail!("--kafka-property expects KEY=VALUE, got {s:?}");
        };
        props.insert(k.to_owned(), v.to_owned());
    }
    Ok(props)
}

fn export(a: ExportArgs) -> Result<()> {
    use std::io::Write;
    tracing_init();
    let (brokers, topic) = kafka_input(&a.input)?;
    let props = kafka_props(&a.kafka_properties)?;
    eprintln!("dbgov: reading {topic} from {brokers} ...");
    let msgs = dbgov::sink::kafka::read_topic(brokers, topic, &props, Duration::from_secs(10))?;
    // Order by stream and seq; events without a place in a chain keep their read order.
    let mut keyed: Vec<((String, u64), &[u8])> = Vec::with_capacity(msgs.len());
    let mut seen = std::collections::HashSet::new();
    let mut dups = 0u64;
    for (i, (_, _, b)) in msgs.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_slice(b).unwrap_or_default();
        let key = match (
            v["integrity"]["stream"].as_str(),
            v["integrity"]["seq"].as_u64(),
        ) {
            (Some(s), Some(q)) => (s.to_owned(), q),
            _ => (String::new(), i as u64),
        };
        if !key.0.is_empty() && !seen.insert(key.clone()) {
            dups += 1;
            continue;
        }
        keyed.push((key, b));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let f =
        std::fs::File::create(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let mut w = std::io::BufWriter::new(f);
    for (_, b) in &keyed {
        w.write_all(b)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    eprintln!(
        "dbgov: wrote {} events to {} ({dups} re-deliveries dropped)",
        keyed.len(),
        a.out.display()
    );
    Ok(())
}

fn ship(a: ShipArgs) -> Result<()> {
    tracing_init();
    let cfg = load_config(&a.common)?;
    let opts = cfg
        .output_options()
        .map_err(|e| anyhow::anyhow!("output: {e}"))?;
    let dbgov::sink::OutputSpec::Kafka(brokers) = &opts.spec else {
        bail!("dbgov ship needs --output kafka:BROKERS (or output: kafka:... in the config)");
    };
    let waiting = dbgov::sink::spool::waiting(&opts.spool.dir)?;
    eprintln!(
        "dbgov: {waiting} events wait in {}; sending them to {brokers}",
        opts.spool.dir.display()
    );
    let t0 = Instant::now();
    let d = dbgov::sink::kafka::ship(
        brokers,
        &opts.kafka,
        opts.spool.clone(),
        Duration::from_secs(a.timeout),
    )?;
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "acknowledged": d.acked,
            "left_in_spool": d.kept,
            "delivery_seconds": d.seconds,
            "wall_seconds": wall,
            "events_per_second": d.acked as f64 / d.seconds.max(1e-9),
        })
    );
    if d.kept > 0 {
        bail!(
            "{} events could not be delivered in {} s; they stay in the spool",
            d.kept,
            a.timeout
        );
    }
    Ok(())
}

fn keygen(dir: &Path) -> Result<()> {
    let (k, p, id) = dbgov::audit::checkpoint::keygen(dir)?;
    println!(
        "wrote {} (secret, mode 0600: `dbgov run --signing-key {}`) and {} (`dbgov verify --pubkey {}`); key id {id}",
        k.display(),
        k.display(),
        p.display(),
        p.display()
    );
    Ok(())
}

fn verify(a: VerifyArgs) -> Result<()> {
    tracing_init();
    let key = match &a.pubkey {
        Some(p) => Some(dbgov::audit::checkpoint::load_public_key(p)?),
        None => None,
    };
    let (name, result) =
        if let Some(path) = a.input.strip_prefix("jsonl:").filter(|p| !p.is_empty()) {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
            (
                path.to_owned(),
                dbgov::verify::check(text.lines(), key.as_ref()),
            )
        } else if a.input.starts_with("kafka:") {
            let (brokers, topic) = kafka_input(&a.input)?;
            let props = kafka_props(&a.kafka_properties)?;
            eprintln!("dbgov: reading {topic} from {brokers} ...");
            // Checked as it is read: only ids and hashes are kept, not the events.
            let mut check = dbgov::verify::PartitionCheck::new(key.as_ref());
            let mut first_fault = None;
            let mut n = 0u64;
            dbgov::sink::kafka::read_topic_each(
                brokers,
                topic,
                &props,
                Duration::from_secs(10),
                |p, o, b| {
                    n += 1;
                    match check.push(p, o, b) {
                        Ok(_) => true,
                        Err(f) => {
                            first_fault = Some(f);
                            false
                        }
                    }
                },
            )?;
            eprintln!("dbgov: {n} messages read");
            let result = match first_fault {
                Some(f) => Err(f),
                None => check.finish(),
            };
            (format!("{brokers}/{topic}"), result)
        } else {
            bail!(
                "--input must be jsonl:PATH or kafka:BROKERS/TOPIC, not {:?}",
                a.input
            );
        };
    match result {
        Ok(s) => {
            let signed = if s.signatures_checked {
                format!("{} checkpoints, all signatures valid", s.checkpoints)
            } else {
                format!(
                    "{} checkpoints (signatures not checked: no --pubkey)",
                    s.checkpoints
                )
            };
            let last_cp = match &s.last_checkpoint {
                Some((stream, seq, at)) => {
                    format!("last checkpoint: stream {stream} seq {seq} signed at {at}")
                }
                None => "no checkpoint".to_owned(),
            };
            println!(
                "{name}: intact: {} events in {} stream(s), {} gap events, from {} to {}; {signed}; {last_cp}; {} events after the last checkpoint{}",
                s.events,
                s.streams.len(),
                s.gaps,
                s.first_time.as_deref().unwrap_or("-"),
                s.last_time.as_deref().unwrap_or("-"),
                s.unsigned_tail,
                if s.duplicates > 0 { format!("; {} re-deliveries ignored", s.duplicates) } else { String::new() },
            );
            Ok(())
        }
        Err(f) => bail!(
            "{name}: {}: {} (stream {}, seq {})",
            f.at,
            f.fault.as_str(),
            f.stream.as_deref().unwrap_or("-"),
            f.seq.map(|s| s.to_string()).unwrap_or("-".into())
        ),
    }
}

fn policy_check(dir: &Path) -> Result<()> {
    let p = Policy::load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{}: ok ({} classes, {} rules, {} workload entries, precedence {:?})",
        dir.display(),
        p.class_ids().len(),
        p.rule_ids().len(),
        p.workload_purposes().len(),
        p.precedence()
    );
    Ok(())
}

fn policy_test(a: PolicyTestArgs) -> Result<()> {
    use dbgov::judge::{Engine, Judge, Request};
    let policy = match &a.policies {
        Some(d) => Policy::load_dir(d).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Policy::builtin()?,
    };
    let Some(engine) = Engine::parse(&a.engine) else {
        bail!("--engine must be postgresql or mysql, not {:?}", a.engine);
    };
    // The same judge the agent runs: analysis, classification and every statement of a
    // multi-statement request.
    let mut judge = Judge::new(policy, AnalyzerConfig::default());
    let process = std::sync::Arc::new(dbgov::identity::ProcessInfo {
        user: a.user.clone(),
        login_user: a.login_user.clone(),
        exe: a.exe.clone(),
        cmdline: a.cmdline.clone(),
        unit: a.unit.clone(),
        workload: dbgov::identity::workload(a.unit.as_deref(), None, None, None, a.exe.as_deref()),
        ..Default::default()
    });
    let mut tags = BTreeMap::new();
    for t in &a.tags {
        let Some((k, v)) = t.split_once('=') else {
            bail!("--tag expects KEY=VALUE, got {t:?}")
        };
        tags.insert(k.to_owned(), v.to_owned());
    }
    let host = dbgov::audit::Host {
        environment: a.environment.clone(),
        ..Default::default()
    };
    let j = judge.judge(&Request {
        engine,
        db_name: a.db.as_deref(),
        db_user: a.db_user.as_deref(),
        db_application: a.application.as_deref(),
        text: Some(&a.statement),
        tag: None,
        columns: &[],
        process: Some(&process),
        host: &host,
        tags: &tags,
    });
    let v = &j.verdict;
    let out = serde_json::json!({
        "statement": {
            "text": j.text(),
            "kind": j.kind(),
            "tables": j.tables(),
            "columns": {"read": j.read(), "written": j.written()},
            "parse_error": j.analysis().and_then(|a| a.parse_error.as_deref()),
            "tags": j.tags,
            "trace_id": j.trace.as_ref().map(|t| &t.0),
            "span_id": j.trace.as_ref().map(|t| &t.1),
        },
        "client": {"workload": process.workload, "purpose": v.purpose},
        "classification": {"classes": v.classes, "level": v.level},
        "policy": {"verdict": v.action, "rules": v.rules, "severity": v.severity, "message": v.message},
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Modification times of the policy files, to notice edits.
fn policy_stamp(dir: &Path) -> Vec<(PathBuf, std::time::SystemTime)> {
    let mut v = Vec::new();
    for sub in ["classes", "rules", "workloads"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
                    v.push((e.path(), m));
                }
            }
        }
    }
    v.sort();
    v
}

fn cpu_seconds() -> f64 {
    let mut ru: libc::rusage = unsafe_zeroed_rusage();
    // SAFETY: ru is a valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn unsafe_zeroed_rusage() -> libc::rusage {
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

fn tail(a: TailArgs) -> Result<()> {
    use dbgov::sink::pretty::stdout_width;
    use dbgov::tail::{parse_since, parse_verdict, FileEvent, FileFollower, Filter, Last, POLL};
    use std::io::{IsTerminal, Write};
    tracing_init();
    let filter = Filter {
        users: a.users.clone(),
        login_users: a.login_users.clone(),
        dbs: a.dbs.clone(),
        classes: a.classes.clone(),
        verdicts: a
            .verdicts
            .iter()
            .map(|v| parse_verdict(v))
            .collect::<Result<_, _>>()?,
        since: match &a.since {
            Some(s) => Some(parse_since(s, std::time::SystemTime::now())?),
            None => None,
        },
    };
    let stdout_tty = std::io::stdout().is_terminal();
    let pretty = match a.output {
        TailOutput::Pretty => true,
        TailOutput::Json => false,
        TailOutput::Auto => stdout_tty,
    };
    let color = pretty && a.color.resolve_stdout();
    let utc = a.utc;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // One line in: the line to print, if the event matches.
    let show = |raw: &[u8]| -> Option<Vec<u8>> {
        let ev: dbgov::audit::Event = match serde_json::from_slice(raw) {
            Ok(ev) => ev,
            Err(e) => {
                if raw.iter().all(u8::is_ascii_whitespace) {
                    return None;
                }
                eprintln!("dbgov tail: skipped a line that is not a dbgov.audit/v1 event: {e}");
                return None;
            }
        };
        if !filter.matches(&ev) {
            return None;
        }
        if pretty {
            let opts = dbgov::view::ViewOptions {
                color,
                width: if stdout_tty { stdout_width() } else { None },
                utc,
            };
            let mut l = dbgov::view::render(&ev, &opts).into_bytes();
            l.push(b'\n');
            Some(l)
        } else {
            let mut l = raw.to_vec();
            l.push(b'\n');
            Some(l)
        }
    };
    // A reader that went away (`| head`) ends tail quietly.
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
    let write = |out: &mut dyn Write, l: &[u8]| -> Result<bool> {
        match out.write_all(l) {
            Ok(()) => Ok(true),
            Err(e) if gone(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    };
    let flush = |out: &mut dyn Write| -> Result<bool> {
        match out.flush() {
            Ok(()) => Ok(true),
            Err(e) if gone(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    };
    let lines = if a.since.is_some() { u64::MAX } else { a.lines };
    if a.input.starts_with("kafka:") {
        let (brokers, topic) = kafka_input(&a.input)?;
        let props = kafka_props(&a.kafka_properties)?;
        let timeout = Duration::from_secs(10);
        if a.no_follow {
            let mut last = Last::new(usize::try_from(lines).unwrap_or(usize::MAX));
            dbgov::sink::kafka::read_topic_each(brokers, topic, &props, timeout, |_, _, b| {
                if let Some(l) = show(b) {
                    last.push(l);
                }
                true
            })?;
            for l in last.drain() {
                if !write(&mut out, &l)? {
                    return Ok(());
                }
            }
            flush(&mut out)?;
            return Ok(());
        }
        let start = if a.since.is_some() {
            dbgov::sink::kafka::Start::Beginning
        } else {
            dbgov::sink::kafka::Start::Tail(a.lines)
        };
        let mut failed = None;
        dbgov::sink::kafka::follow_topic(brokers, topic, &props, timeout, start, |_, _, b| {
            match show(b) {
                Some(l) => match write(&mut out, &l).and_then(|ok| Ok(ok && flush(&mut out)?)) {
                    Ok(ok) => ok,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                },
                None => true,
            }
        })?;
        return failed.map_or(Ok(()), Err);
    }
    let path = a.input.strip_prefix("jsonl:").unwrap_or(&a.input);
    if path.is_empty() || path.contains(':') && !Path::new(path).exists() {
        bail!(
            "--input must be jsonl:PATH (or a path) or kafka:BROKERS/TOPIC, not {:?}",
            a.input
        );
    }
    let mut fol = FileFollower::open(Path::new(path), a.since.is_some())?;
    // The last events first, then follow.
    let mut last = Last::new(usize::try_from(lines).unwrap_or(usize::MAX));
    let first = fol.poll(|raw| {
        if let Some(l) = show(raw) {
            last.push(l);
        }
    })?;
    if first == Some(FileEvent::Missing) {
        if a.no_follow {
            bail!("{path} does not exist");
        }
        eprintln!("dbgov tail: waiting for {path} to appear");
    }
    for l in last.drain() {
        if !write(&mut out, &l)? {
            return Ok(());
        }
    }
    if !flush(&mut out)? || a.no_follow {
        return Ok(());
    }
    let mut missing = first == Some(FileEvent::Missing);
    loop {
        std::thread::sleep(POLL);
        let mut pending: Vec<Vec<u8>> = Vec::new();
        let what = fol.poll(|raw| {
            if let Some(l) = show(raw) {
                pending.push(l);
            }
        })?;
        match what {
            Some(FileEvent::Truncated) => {
                eprintln!("dbgov tail: {path} was truncated; reading it from its start")
            }
            Some(FileEvent::Rotated) => {
                eprintln!("dbgov tail: {path} was replaced (rotated); following the new file")
            }
            Some(FileEvent::Missing) if !missing => {
                eprintln!("dbgov tail: {path} is gone; waiting for it to appear again")
            }
            _ => {}
        }
        missing = what == Some(FileEvent::Missing);
        for l in &pending {
            if !write(&mut out, l)? {
                return Ok(());
            }
        }
        if !pending.is_empty() && !flush(&mut out)? {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{missing_capabilities, RingUse};

    /// The benchmark harness reads this line (xtask `RingLine::parse`): keep the two in step.
    #[test]
    fn the_ring_use_line_says_peak_bytes_and_drains() {
        let mut r = RingUse::new(16 << 20);
        r.peak(4096);
        r.peak(1 << 20);
        r.peak(0);
        r.drained(0);
        r.drained(300);
        r.drained(524_288);
        let line = r.summary();
        assert!(
            line.starts_with("ring buffer peak 1048576 of 16777216 bytes ("),
            "{line}"
        );
        assert!(
            line.contains("%); read 524588 bytes in 2 drains over "),
            "{line}"
        );
        assert!(line.ends_with(" s (largest drain 524288 bytes)"), "{line}");
    }

    fn names(caps: u64, processes: bool) -> Vec<&'static str> {
        missing_capabilities(caps, processes)
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    #[test]
    fn each_missing_capability_is_named() {
        let all: u64 = (1 << 39) | (1 << 38) | (1 << 19) | (1 << 2);
        assert!(names(all, true).is_empty());
        assert_eq!(names(all & !(1 << 39), true), ["CAP_BPF"]);
        assert_eq!(names(all & !(1 << 2), true), ["CAP_DAC_READ_SEARCH"]);
        assert_eq!(
            names(0, true),
            [
                "CAP_BPF",
                "CAP_PERFMON",
                "CAP_SYS_PTRACE",
                "CAP_DAC_READ_SEARCH"
            ]
        );
        // CAP_SYS_PTRACE only when processes are resolved; CAP_SYS_ADMIN covers BPF and PERFMON.
        assert_eq!(names(all & !(1 << 19), false), Vec::<&str>::new());
        assert_eq!(
            names((1 << 21) | (1 << 19) | (1 << 2), true),
            Vec::<&str>::new()
        );
    }
}
