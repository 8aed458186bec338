//! Agent configuration: a YAML file (`--config`), overridden by command-line flags.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Errors loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_yaml::Error,
    },
    #[error("invalid config: {key}: {msg}")]
    Invalid { key: &'static str, msg: String },
}

impl ConfigError {
    fn invalid(key: &'static str, msg: impl Into<String>) -> Self {
        Self::Invalid {
            key,
            msg: msg.into(),
        }
    }
}

/// How the agent's threads are scheduled (see `sched.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheduling {
    /// `SCHED_IDLE` while the agent keeps up, `SCHED_OTHER` when the ring fills.
    #[default]
    Adaptive,
    /// Always `SCHED_OTHER` (the unit's or the shell's priority).
    Normal,
}

/// How the plaintext of TLS sessions is obtained (see `tls.rs` and the README's TLS section).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum TlsCapture {
    /// Uprobes on `SSL_read`/`SSL_write` (and their `_ex` forms) in every process that maps
    /// libssl: any TLS version and cipher suite; a trap per call, in every such process.
    Uprobe,
    /// The default. OpenSSL 3: a probe on its key derivation hands over the TLS 1.3 traffic
    /// secrets or the TLS 1.2 key block once per handshake and the agent decrypts the captured
    /// records; no per-call cost. TLS 1.2 with a CBC suite, and TLS 1.1 or older, are reported
    /// not inspectable. Processes holding connections when the agent starts, and older libssl
    /// versions, keep the per-call probes.
    #[default]
    Keylog,
}

/// How the data syscalls (`read`, `write`, `sendto`, `recvfrom`, `readv`, `writev`, `sendmsg`,
/// `recvmsg`) are hooked (see the README's Performance section).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SyscallHooks {
    /// The default: `raw` where the kernel accepts it, else `tracepoints` (the start-up log
    /// says which).
    #[default]
    Auto,
    /// Two BTF tracepoint programs on `raw_syscalls/sys_enter` and `sys_exit`: about half the
    /// kernel's per-call overhead of `tracepoints`, but they run (and return at once) for
    /// every other syscall on the host too. Needs kernel BTF; start-up fails without it.
    Raw,
    /// The `syscalls/sys_enter_*` and `sys_exit_*` tracepoints of the data syscalls only.
    Tracepoints,
}

/// The configuration file format. Every field is optional.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `auto` (the default: `pretty` on a terminal, else `stdout`), `pretty`, `stdout`
    /// (JSON lines), `jsonl:PATH`, `kafka:BROKERS` or `none`.
    pub output: String,
    /// Colours of the pretty view: `auto` (a terminal, unless `NO_COLOR` is set), `always`,
    /// `never`.
    pub color: crate::sink::Color,
    /// TCP ports of PostgreSQL servers (client or server side).
    pub postgres_ports: Vec<u16>,
    /// TCP ports of MySQL/MariaDB servers.
    pub mysql_ports: Vec<u16>,
    /// PostgreSQL Unix socket paths or globs (`/var/run/postgresql/.s.PGSQL.*`).
    pub postgres_sockets: Vec<String>,
    /// MySQL/MariaDB Unix socket paths or globs.
    pub mysql_sockets: Vec<String>,
    /// `host.environment` on every event, e.g. `prod`.
    pub environment: Option<String>,
    /// `host.labels` on every event.
    pub labels: BTreeMap<String, String>,
    /// Directory with `classes/` and `rules/`; the built-in pack when unset.
    pub policy_dir: Option<PathBuf>,
    /// Keep literal values in `statement.text` (off: literals become `?`).
    pub keep_literals: bool,
    /// Record bound parameter values in `statement.param_values` (off by default).
    pub record_params: bool,
    /// sqlcommenter keys kept in `statement.tags` (default: the sqlcommenter keys).
    pub tag_keys: Vec<String>,
    /// Ring buffer size in MiB (power of two).
    pub ring_buffer_mib: u32,
    /// While the ring is at least this full (percent), responses are shed: each read or write
    /// of a database's answer keeps its first 512 bytes. 100: never shed.
    pub ring_buffer_shed_percent: u8,
    /// `adaptive` (yield the CPU while keeping up, compete when behind) or `normal`.
    pub scheduling: Scheduling,
    /// `keylog` (the default) or `uprobe`: how TLS plaintext is obtained.
    pub tls_capture: TlsCapture,
    /// `auto` (the default), `raw` or `tracepoints`: how the data syscalls are hooked.
    pub syscall_hooks: SyscallHooks,
    /// Statements longer than this are not parsed.
    pub max_statement_bytes: usize,
    /// `native` (dbgov.audit/v1) or `ocsf` (OCSF Datastore Activity, class 6005).
    pub format: crate::sink::Format,
    /// Where the agent keeps state: the Kafka spool lives in `<state_dir>/spool`.
    pub state_dir: PathBuf,
    /// Ed25519 key (from `dbgov keygen`) that signs checkpoints; none: no checkpoints.
    pub signing_key: Option<PathBuf>,
    pub checkpoint: CheckpointConfig,
    pub spool: SpoolConfig,
    pub kafka: KafkaConfig,
    /// `dbgov proxy` settings (flags override them).
    pub proxy: ProxyFileConfig,
    /// How the agent finds out who is behind a connection.
    pub identity: IdentityConfig,
    /// The `dbgov proxy` this agent announces identities to (`dbgov run --proxy-control`).
    pub proxy_control: ProxyControlConfig,
    /// Serve Prometheus metrics (`/metrics`) and `/healthz` here, e.g. `127.0.0.1:9187`.
    pub metrics: Option<std::net::SocketAddr>,
}

/// `identity:` how the agent attributes connections.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Resolve each connection's process from /proc: pid, executable, command line, OS and
    /// login user, systemd unit, container (needs CAP_SYS_PTRACE). Off: the wire's identity
    /// only (database user, application name, tags).
    pub processes: bool,
    /// Database addresses (`ip:port`) that must be reached through the proxy: a direct
    /// connection is flagged (`bypass-proxy`).
    pub require_proxy: Vec<std::net::SocketAddr>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            processes: true,
            require_proxy: Vec::new(),
        }
    }
}

/// `proxy_control:` the proxy control API an agent announces identities to.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyControlConfig {
    /// The control API's address, `host:port`.
    pub address: Option<String>,
    /// File holding the shared token.
    pub token_file: Option<PathBuf>,
    /// Verify a TLS-served control API against these CAs (PEM).
    pub ca: Option<PathBuf>,
    /// The name its certificate must carry (default: the host of `address`).
    pub server_name: Option<String>,
}

/// `proxy:` the settings of `dbgov proxy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyFileConfig {
    /// Where clients connect (`0.0.0.0:6432`).
    pub listen: Option<std::net::SocketAddr>,
    /// The database server, `host:port`.
    pub upstream: Option<String>,
    /// `postgresql` or `mysql`.
    pub engine: Option<String>,
    /// The control API's address.
    pub control: Option<std::net::SocketAddr>,
    /// The control API's shared token (a file holding one line).
    pub control_token_file: Option<PathBuf>,
    /// How long a new connection waits for its identity announcement (default 50).
    pub identity_wait_ms: Option<u64>,
    /// Refuse connections no agent announced (default false: go on with what the wire says).
    pub require_identity: Option<bool>,
    /// A held statement not decided in this time is refused (default 60).
    pub hold_timeout_secs: Option<u64>,
    /// Largest client message (default 16 MiB).
    pub max_frame_bytes: Option<usize>,
}

/// `checkpoint:` when signed checkpoints are written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointConfig {
    /// At least this often while events flow (at most 60).
    pub interval_secs: u64,
    /// And after this many events.
    pub events: u64,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            interval_secs: 10,
            events: 10_000,
        }
    }
}

/// `spool:` the local spool in front of Kafka.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Size cap of the spool.
    pub max_mib: u64,
    /// fsync interval of the active segment.
    pub fsync_interval_ms: u64,
    /// fsync after every batch instead (slower, survives power loss to the last batch).
    pub fsync_every_batch: bool,
    /// `drop_newest` (count the loss in a `spool_full` gap) or `pause` (stop reading the
    /// kernel ring; the kernel counts the loss).
    pub on_full: crate::sink::OnFull,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            max_mib: 1024,
            fsync_interval_ms: 200,
            fsync_every_batch: false,
            on_full: crate::sink::OnFull::DropNewest,
        }
    }
}

/// `kafka:` topics and producer settings (the brokers come from `output: kafka:BROKERS`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    pub topics: KafkaTopics,
    /// Create missing topics through the admin API.
    pub create_topics: bool,
    pub partitions: i32,
    pub replication: i32,
    /// `zstd` or `lz4`.
    pub compression: String,
    /// librdkafka properties passed through (`security.protocol`, `sasl.mechanism`,
    /// `sasl.username`, `ssl.ca.location`, ...).
    pub properties: BTreeMap<String, String>,
    /// At shutdown, wait this long for deliveries; the rest stays in the spool.
    pub close_timeout_secs: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaTopics {
    pub audit: String,
    pub alerts: String,
    pub checkpoints: String,
}

impl Default for KafkaTopics {
    fn default() -> Self {
        let k = crate::sink::kafka::KafkaOptions::default();
        Self {
            audit: k.topic_audit,
            alerts: k.topic_alerts,
            checkpoints: k.topic_checkpoints,
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        let k = crate::sink::kafka::KafkaOptions::default();
        Self {
            topics: KafkaTopics::default(),
            create_topics: k.create_topics,
            partitions: k.partitions,
            replication: k.replication,
            compression: k.compression,
            properties: BTreeMap::new(),
            close_timeout_secs: k.close_timeout.as_secs(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            output: "auto".into(),
            color: crate::sink::Color::Auto,
            tag_keys: crate::sql::tags::DEFAULT_KEYS
                .iter()
                .map(|k| k.to_string())
                .collect(),
            postgres_ports: vec![5432],
            mysql_ports: vec![3306],
            postgres_sockets: vec![
                "/run/postgresql/.s.PGSQL.*".into(),
                "/var/run/postgresql/.s.PGSQL.*".into(),
                "/tmp/.s.PGSQL.*".into(),
            ],
            mysql_sockets: vec![
                "/run/mysqld/mysqld.sock".into(),
                "/var/run/mysqld/mysqld.sock".into(),
            ],
            environment: None,
            labels: BTreeMap::new(),
            policy_dir: None,
            keep_literals: false,
            record_params: false,
            ring_buffer_mib: 16,
            ring_buffer_shed_percent: 50,
            scheduling: Scheduling::Adaptive,
            tls_capture: TlsCapture::default(),
            syscall_hooks: SyscallHooks::default(),
            max_statement_bytes: 64 * 1024,
            format: crate::sink::Format::Native,
            state_dir: PathBuf::from("/var/lib/dbgov"),
            signing_key: None,
            checkpoint: CheckpointConfig::default(),
            spool: SpoolConfig::default(),
            kafka: KafkaConfig::default(),
            proxy: ProxyFileConfig::default(),
            identity: IdentityConfig::default(),
            proxy_control: ProxyControlConfig::default(),
            metrics: None,
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let cfg = Self::parse(path, &text)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses configuration text (no validation); `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        serde_yaml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Parses configuration text given inline.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        Self::parse(Path::new("<inline>"), text)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.ring_buffer_mib.is_power_of_two() || self.ring_buffer_mib > 1024 {
            return Err(ConfigError::invalid(
                "ring_buffer_mib",
                format!(
                    "must be a power of two up to 1024, got {}",
                    self.ring_buffer_mib
                ),
            ));
        }
        if !(1..=100).contains(&self.ring_buffer_shed_percent) {
            return Err(ConfigError::invalid(
                "ring_buffer_shed_percent",
                format!(
                    "must be 1 to 100 (100: never shed), got {}",
                    self.ring_buffer_shed_percent
                ),
            ));
        }
        if self
            .postgres_ports
            .iter()
            .chain(&self.mysql_ports)
            .any(|&p| p == 0)
        {
            let key = if self.postgres_ports.contains(&0) {
                "postgres_ports"
            } else {
                "mysql_ports"
            };
            return Err(ConfigError::invalid(key, "port 0 cannot be watched"));
        }
        if !(1..=60).contains(&self.checkpoint.interval_secs) {
            return Err(ConfigError::invalid(
                "checkpoint.interval_secs",
                format!("must be 1 to 60, got {}", self.checkpoint.interval_secs),
            ));
        }
        self.socket_paths()?;
        for (key, zero) in [
            ("checkpoint.events", self.checkpoint.events == 0),
            ("spool.max_mib", self.spool.max_mib == 0),
            ("kafka.partitions", self.kafka.partitions < 1),
        ] {
            if zero {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        if let Err(e) = self.output.parse::<crate::sink::OutputSpec>() {
            return Err(ConfigError::invalid("output", e.to_string()));
        }
        if self.proxy_control.address.is_some() && self.proxy_control.token_file.is_none() {
            return Err(ConfigError::invalid(
                "proxy_control.token_file",
                "proxy_control.address needs a token file (the control API is authenticated)",
            ));
        }
        Ok(())
    }

    /// The configured socket paths as patterns the kernel matches (nothing is enumerated: any
    /// number of matching sockets, created before or after start-up, are watched).
    pub fn socket_paths(&self) -> Result<Vec<SocketPattern>, ConfigError> {
        let mut out = Vec::new();
        for (key, paths, engine) in [
            (
                "postgres_sockets",
                &self.postgres_sockets,
                agent_common::ENGINE_POSTGRES,
            ),
            (
                "mysql_sockets",
                &self.mysql_sockets,
                agent_common::ENGINE_MYSQL,
            ),
        ] {
            for p in paths {
                out.push(
                    SocketPattern::parse(p, engine).map_err(|m| ConfigError::invalid(key, m))?,
                );
            }
        }
        out.sort();
        out.dedup();
        if out.len() > 256 {
            return Err(ConfigError::invalid(
                "postgres_sockets",
                format!(
                    "{} socket paths are configured; at most 256 are supported",
                    out.len()
                ),
            ));
        }
        Ok(out)
    }
}

/// A watched Unix socket path: exact, or `PREFIX*SUFFIX` where `*` stands for any characters
/// but `/`. Matched by the kernel by pattern, so any number of sockets (and sockets created
/// after start-up) are covered without enumerating them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SocketPattern {
    pub prefix: String,
    /// `None` for an exact path.
    pub suffix: Option<String>,
    pub engine: u32,
}

impl SocketPattern {
    /// Parses a configured path. At most one `*`; the suffix after it is at most 16 bytes and
    /// the whole path shorter than a `sun_path`.
    pub fn parse(pattern: &str, engine: u32) -> Result<Self, String> {
        if !pattern.starts_with('/') {
            return Err(format!("socket path {pattern:?} is not absolute"));
        }
        if pattern.len() >= agent_common::UNIX_PATH_MAX {
            return Err(format!(
                "socket path {pattern:?} is longer than a Unix socket path can be ({} bytes)",
                agent_common::UNIX_PATH_MAX - 1
            ));
        }
        if pattern.contains(['?', '[']) {
            return Err(format!(
                "socket path {pattern:?}: only `*` is supported as a wildcard"
            ));
        }
        match pattern.split_once('*') {
            None => Ok(Self {
                prefix: pattern.to_string(),
                suffix: None,
                engine,
            }),
            Some((pre, suf)) => {
                if suf.contains('*') || suf.contains('/') {
                    return Err(format!(
                        "socket path {pattern:?}: one `*`, in the file name, is supported"
                    ));
                }
                if suf.len() > agent_common::SOCK_SUFFIX_MAX {
                    return Err(format!(
                        "socket path {pattern:?}: the part after `*` is longer than {} bytes",
                        agent_common::SOCK_SUFFIX_MAX
                    ));
                }
                Ok(Self {
                    prefix: pre.to_string(),
                    suffix: Some(suf.to_string()),
                    engine,
                })
            }
        }
    }

    /// Whether `path` matches (the kernel's rule, for sockets found in /proc at start-up).
    pub fn matches(&self, path: &str) -> bool {
        match &self.suffix {
            None => path == self.prefix,
            Some(suf) => {
                path.len() >= self.prefix.len() + suf.len()
                    && path.starts_with(&self.prefix)
                    && path.ends_with(suf.as_str())
                    && !path[self.prefix.len()..].contains('/')
            }
        }
    }
}

impl Config {
    /// The output settings this configuration describes.
    pub fn output_options(
        &self,
    ) -> Result<crate::sink::OutputOptions, Box<dyn std::error::Error + Send + Sync>> {
        use std::time::Duration;
        let signing_key = match &self.signing_key {
            Some(p) => Some(crate::audit::checkpoint::load_signing_key(p)?),
            None => None,
        };
        Ok(crate::sink::OutputOptions {
            spec: match self.output.parse()? {
                // The live view draws native events; OCSF goes out as JSON lines.
                crate::sink::OutputSpec::Pretty
                    if self.output == "auto" && self.format != crate::sink::Format::Native =>
                {
                    crate::sink::OutputSpec::Stdout
                }
                spec => spec,
            },
            format: self.format,
            color: self.color,
            backlog_bytes: crate::sink::DEFAULT_BACKLOG_BYTES,
            spool: crate::sink::SpoolOptions {
                dir: self.state_dir.join("spool"),
                max_bytes: self.spool.max_mib << 20,
                fsync_interval: Duration::from_millis(self.spool.fsync_interval_ms),
                fsync_every_batch: self.spool.fsync_every_batch,
                on_full: self.spool.on_full,
            },
            kafka: crate::sink::kafka::KafkaOptions {
                topic_audit: self.kafka.topics.audit.clone(),
                topic_alerts: self.kafka.topics.alerts.clone(),
                topic_checkpoints: self.kafka.topics.checkpoints.clone(),
                create_topics: self.kafka.create_topics,
                partitions: self.kafka.partitions,
                replication: self.kafka.replication,
                compression: self.kafka.compression.clone(),
                properties: self.kafka.properties.clone(),
                close_timeout: Duration::from_secs(self.kafka.close_timeout_secs),
            },
            signing_key,
            checkpoint_interval: Duration::from_secs(self.checkpoint.interval_secs),
            checkpoint_events: self.checkpoint.events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_globs() {
        let c = Config::default();
        c.validate().unwrap();
        let paths = c.socket_paths().unwrap();
        let engine = |p: &str| paths.iter().find(|s| s.matches(p)).map(|s| s.engine);
        assert_eq!(
            engine("/tmp/.s.PGSQL.5432"),
            Some(agent_common::ENGINE_POSTGRES)
        );
        assert_eq!(
            engine("/tmp/.s.PGSQL.5433"),
            Some(agent_common::ENGINE_POSTGRES)
        );
        assert_eq!(
            engine("/run/postgresql/.s.PGSQL.5432"),
            Some(agent_common::ENGINE_POSTGRES)
        );
        assert_eq!(engine("/tmp/.s.PGSQL"), None);
        assert_eq!(engine("/tmp/x/.s.PGSQL.1"), None);
        assert_eq!(
            engine("/run/mysqld/mysqld.sock"),
            Some(agent_common::ENGINE_MYSQL)
        );
        assert_eq!(engine("/run/mysqld/mysqld.sock2"), None);
    }

    #[test]
    fn socket_patterns_are_checked() {
        let pat = SocketPattern::parse("/tmp/mysql*.sock", 2).unwrap();
        assert!(pat.matches("/tmp/mysql-3307.sock"));
        assert!(!pat.matches("/tmp/mysql-3307.sock.lock"));
        assert!(!pat.matches("/tmp/mysql/a.sock"));
        assert!(SocketPattern::parse("relative/.s.PGSQL.*", 1).is_err());
        assert!(SocketPattern::parse("/a/*/b*", 1).is_err());
        assert!(SocketPattern::parse("/tmp/x*.a-very-long-suffix-here", 1).is_err());
        assert!(SocketPattern::parse(&format!("/{}", "a".repeat(120)), 1).is_err());
    }

    #[test]
    fn the_proxy_section_reads_and_refuses_unknown_keys() {
        let c: Config = serde_yaml::from_str(
            "proxy:\n  listen: 0.0.0.0:6432\n  upstream: db1:5432\n  engine: mysql\n  identity_wait_ms: 200\n  require_identity: true\n",
        )
        .unwrap();
        assert_eq!(c.proxy.listen, Some("0.0.0.0:6432".parse().unwrap()));
        assert_eq!(c.proxy.upstream.as_deref(), Some("db1:5432"));
        assert_eq!(c.proxy.identity_wait_ms, Some(200));
        assert_eq!(c.proxy.require_identity, Some(true));
        assert!(serde_yaml::from_str::<Config>("proxy:\n  identity_wait: 5\n").is_err());
    }

    #[test]
    fn unknown_field_is_an_error() {
        let e = serde_yaml::from_str::<Config>("prots: [1]").unwrap_err();
        assert!(e.to_string().contains("unknown field"));
    }
}
