//! Everything after the kernel: raw ring-buffer records in, audit events out.
//!
//! The same [`Pipeline`] runs for live capture (`dbgov run`) and offline (`dbgov replay`), so
//! every stage after the kernel is exercised by both. Per connection it keeps the reassembly
//! state, the protocol conversation and the process identity. A loopback connection is seen
//! twice (client socket and server socket): the two are paired by their addresses and only the
//! client side is decoded, so each statement yields exactly one event naming both processes.
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use agent_common::{
    ConnEvent, Direction, EventHeader, EventKind, Source, CONN_EV_LOCAL_MIRROR, ENGINE_MYSQL,
    FAMILY_INET, FAMILY_INET6, FAMILY_UNIX, ROLE_CLIENT, ROLE_SERVER, SOCK_ID_TCP, SOCK_ID_UNIX,
};

use crate::audit::{self, Clock, Event, Host, IdGen, Kind};
use crate::identity::{IdentityCache, ProcessInfo};
use crate::judge::{Judge, Request};
use crate::policy::Policy;
use crate::session::mysql::MysqlSession;
use crate::session::postgres::PgSession;
use crate::session::{
    Conversation, Flow, SessionEvent, SessionInfo, SessionOptions, StatementRecord,
};
use crate::sink::{Output, Route, SinkError};
use crate::sql::AnalyzerConfig;
use crate::stream::{Assembler, Piece};

/// Errors of the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Sink(#[from] SinkError),
}

pub use crate::judge::Engine;

/// Settings of the userspace pipeline.
pub struct PipelineConfig {
    pub host: Host,
    pub policy: Arc<Policy>,
    pub analyzer: AnalyzerConfig,
    pub session: SessionOptions,
    /// Resolve process identities from /proc (off for replays of foreign captures).
    pub resolve_identity: bool,
}

impl PipelineConfig {
    /// The pipeline settings a configuration file describes, with its host, policy and
    /// whether process identities are resolved.
    pub fn from_config(
        cfg: &crate::config::Config,
        host: Host,
        policy: impl Into<Arc<Policy>>,
        resolve_identity: bool,
    ) -> Self {
        Self {
            host,
            policy: policy.into(),
            analyzer: AnalyzerConfig {
                max_statement_bytes: cfg.max_statement_bytes,
                keep_literals: cfg.keep_literals,
                ..AnalyzerConfig::default()
            },
            session: SessionOptions {
                record_params: cfg.record_params,
                ..SessionOptions::default()
            },
            resolve_identity,
        }
    }
}

/// What the pipeline keeps of its [`PipelineConfig`] (the policy and analyzer settings go to
/// the [`Judge`]).
struct Settings {
    host: Host,
    session: SessionOptions,
    resolve_identity: bool,
}

/// `gap.detail` of a response cut under load.
const SHED_DETAIL: &str = "response shed under load: the ring buffer was over its shedding threshold, so only the first 512 bytes of this read or write were captured; the statements it answered are reported incomplete";

/// Counters the pipeline keeps about itself.

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub records: u64,
    pub malformed_records: u64,
    pub statements: u64,
    pub events: u64,
    pub gaps: u64,
    pub unknown_conn_chunks: u64,
}

/// Key pairing the two local ends of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum PairKey {
    /// (client ip, client port, server port).
    Tcp(IpAddr, u16, u16),
    /// The inode of the server end of a Unix socket connection.
    Unix(u64),
    /// The kernel address of the server end's `struct sock` of a Unix socket connection.
    Sock(u64),
}

struct Conn {
    id: u64,
    role: u32,
    engine: Engine,
    transport: &'static str,
    tgid: u32,
    fd: u32,
    client_addr: Option<String>,
    server_addr: Option<String>,
    pair: Option<PairKey>,
    /// Key for first-come pairing when exact pairing fails.
    fallback: Option<FallbackKey>,
    /// When the connection was opened (monotonic ns).
    opened_ns: u64,
    /// A Unix server end whose socket inode is still unknown (the accepting process closed its
    /// copy before we looked): resolved from the first data chunk's process.
    unix_unpaired: bool,
    peer: Option<u64>,
    /// The other end of a loopback pair is decoded instead of this one.
    mirror: bool,
    /// The kernel recognised this server end as the mirror of a local client end and does
    /// not capture it (no data, and no close record: it goes when its client end goes).
    kernel_mirror: bool,
    session: Box<dyn Conversation>,
    asm: [Assembler; 2],
    /// Plaintext streams from the TLS library uprobes.
    tls_asm: [Assembler; 2],
    /// Plaintext has been seen: syscall (ciphertext) chunks are ignored from then on.
    tls_plain: bool,
    /// Open before the agent started: joined mid-stream (`session.mid_session`).
    mid_session: bool,
    /// A session_start has been written.
    started: bool,
    /// Gap events of this connection, coalesced per kind and second.
    gaps: crate::coalesce::Coalescer,
    /// When the session turned out to be TLS with no plaintext yet (monotonic ns).
    tls_pending_since: Option<u64>,
    process: Option<Arc<ProcessInfo>>,
    /// JSON of the connection parts of statement events, reused while nothing changes.
    frags: Option<Box<Fragments>>,
    /// Keylog capture: the ciphertext decrypted with secrets from the kernel.
    tls: Option<Box<crate::tls::TlsSession>>,
    /// The decrypted plaintext has reached the session decoder.
    tls_decrypted: bool,
}

/// A TLS secret waiting for the connection it opens.
struct PendingSecret {
    /// `TLS_SECRET_CLIENT`, `TLS_SECRET_SERVER` or `TLS12_KEY_BLOCK`.
    which: u32,
    secret: Vec<u8>,
    ts_ns: u64,
}

/// Secrets kept per process while no connection takes them; older ones go first.
const MAX_SECRETS_PER_PROCESS: usize = 64;
/// A secret no connection took within this long is dropped.
const SECRET_TTL_NS: u64 = 30_000_000_000;

/// When exact pairing is impossible: the two ends of a local connection to the same server
/// port or socket path, matched first come, first served.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum FallbackKey {
    Tcp(u16),
    Unix(String),
}

/// How long an unpaired local end waits for its other end.
const FALLBACK_WINDOW_NS: u64 = 2_000_000_000;

/// Serialised `client`, `server`, `db` and `session` parts of a connection's events, with
/// what they were built from.
struct Fragments {
    key: FragKey,
    client: Box<serde_json::value::RawValue>,
    server: Box<serde_json::value::RawValue>,
    db: Box<serde_json::value::RawValue>,
    session: Box<serde_json::value::RawValue>,
    /// `integrity.context_hash` of this connection's context with the pipeline's `host`
    /// (computed once here instead of for every statement).
    context_hash: [u8; 64],
}

#[derive(PartialEq)]
struct FragKey {
    tgid: u32,
    process: usize,
    peer_tgid: Option<u32>,
    peer_process: usize,
    /// [`crate::session::Conversation::info_version`]: the session facts the parts hold.
    info_version: u64,
    client_addr: Option<String>,
}

fn raw<T: serde::Serialize>(v: &T) -> Result<Box<serde_json::value::RawValue>, PipelineError> {
    serde_json::value::to_raw_value(v).map_err(|e| PipelineError::Sink(SinkError::Serialise(e)))
}

/// The userspace pipeline.
pub struct Pipeline {
    cfg: Settings,
    clock: Clock,
    ids: IdGen,
    times: audit::TimeFormat,
    identity: IdentityCache,
    judge: Judge,
    /// `keep_literals`: error messages and command lines unredacted.
    keep_literals: bool,
    /// Boxed: a connection is taken out and put back for every record, and moving a pointer
    /// is cheaper than moving the connection. Keys are the kernel's own connection ids.
    conns: foldhash::HashMap<u64, Box<Conn>>,
    pairs: HashMap<(PairKey, u32), u64>,
    /// Ends of local connections whose exact pairing failed (the process or socket was gone
    /// before /proc could be read), by fallback key, oldest first: (conn id, open time).
    fallback: HashMap<(FallbackKey, u32), std::collections::VecDeque<(u64, u64)>>,
    /// Unix socket peer lookups (live capture only).
    sockdiag: Option<crate::sockdiag::SockDiag>,
    out: Output,
    /// `host`, serialised once.
    host_raw: Box<serde_json::value::RawValue>,
    /// The `client` JSON of each process without its closing `addr` (see `client_raw`).
    client_json: HashMap<usize, (Arc<ProcessInfo>, String)>,
    scratch: Vec<SessionEvent>,
    pub stats: Stats,
    /// Processes seen on new connections since the caller last drained this (to attach the
    /// TLS uprobes to the libraries they map).
    pub new_pids: Vec<u32>,
    /// (tgid, fd) of mirror ends (the server side of a local pair) the kernel no longer needs
    /// to capture: the client side carries the same bytes. Drained by the caller.
    pub drop_keys: Vec<(u32, u32)>,
    /// Identity announcements and block signals to a `dbgov proxy`, when configured.
    announcer: Option<crate::control::Announcer>,
    /// Database addresses that must be reached through a proxy: a direct connection is
    /// flagged on its `session_start` (`policy.rules: [bypass-proxy]`).
    require_proxy: Vec<std::net::SocketAddr>,
    /// Keylog capture: ciphertext of TLS sessions is decrypted here (see [`crate::tls`]).
    keylog: bool,
    /// TLS secrets from the kernel not yet matched to a connection, by process.
    secrets: foldhash::HashMap<u32, Vec<PendingSecret>>,
    /// Connections holding records they have no secret for yet.
    tls_waiting: Vec<u64>,
    /// Decrypted plaintext of one chunk, reused.
    tls_scratch: Vec<u8>,
}

/// The [`crate::tls`] direction of a flow.
fn tls_dir(flow: Flow) -> usize {
    match flow {
        Flow::ClientToServer => crate::tls::CLIENT_TO_SERVER,
        Flow::ServerToClient => crate::tls::SERVER_TO_CLIENT,
    }
}

/// Which kernel secret protects a flow.
fn tls_secret_for(flow: Flow) -> u32 {
    match flow {
        Flow::ClientToServer => agent_common::TLS_SECRET_CLIENT,
        Flow::ServerToClient => agent_common::TLS_SECRET_SERVER,
    }
}

fn flow_of(role: u32, dir: Direction) -> Flow {
    match (role == ROLE_SERVER, dir) {
        (false, Direction::Egress) | (true, Direction::Ingress) => Flow::ClientToServer,
        _ => Flow::ServerToClient,
    }
}

fn ip_of(family: u32, addr: &[u8; 16]) -> Option<IpAddr> {
    match family {
        FAMILY_INET => Some(IpAddr::V4(Ipv4Addr::new(
            addr[0], addr[1], addr[2], addr[3],
        ))),
        FAMILY_INET6 => {
            let v6 = Ipv6Addr::from(*addr);
            Some(
                v6.to_ipv4_mapped()
                    .map(IpAddr::V4)
                    .unwrap_or(IpAddr::V6(v6)),
            )
        }
        _ => None,
    }
}

fn fmt_addr(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v) => format!("{v}:{port}"),
        IpAddr::V6(v) => format!("[{v}]:{port}"),
    }
}

fn cstr_path(p: &[u8]) -> String {
    let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
    String::from_utf8_lossy(&p[..end]).into_owned()
}

/// Reads a `#[repr(C)]` POD record from the front of `b`, with a length check.
fn read_pod<T: Copy>(b: &[u8]) -> Option<T> {
    if b.len() < std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: length checked above; T is a plain repr(C) type without invalid bit patterns
    // (integers and byte arrays only); read_unaligned copes with any alignment.
    Some(unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) })
}

impl Pipeline {
    /// The sqlcommenter keys kept in `statement.tags` (configuration `tag_keys`).
    pub fn set_tag_keys(&mut self, keys: Vec<String>) {
        self.judge.set_tag_keys(keys);
    }

    pub fn new(cfg: PipelineConfig, clock: Clock, out: Output) -> Self {
        let PipelineConfig {
            host,
            policy,
            analyzer,
            session,
            resolve_identity,
        } = cfg;
        let cfg = Settings {
            host,
            session,
            resolve_identity,
        };
        let keep_literals = analyzer.keep_literals;
        let judge = Judge::new(policy, analyzer);
        let mut identity = IdentityCache::default();
        identity.set_redact(!keep_literals);
        let host_raw = serde_json::value::to_raw_value(&cfg.host).unwrap_or_else(|_| {
            serde_json::value::RawValue::from_string("null".into()).unwrap_or_default()
        });
        Self {
            host_raw,
            cfg,
            clock,
            ids: IdGen::new(),
            times: audit::TimeFormat::default(),
            identity,
            judge,
            keep_literals,
            conns: foldhash::HashMap::default(),
            pairs: HashMap::new(),
            sockdiag: None,
            fallback: HashMap::new(),
            out,
            client_json: HashMap::new(),
            scratch: Vec::new(),
            stats: Stats::default(),
            new_pids: Vec::new(),
            drop_keys: Vec::new(),
            announcer: None,
            require_proxy: Vec::new(),
            keylog: false,
            secrets: Default::default(),
            tls_waiting: Vec::new(),
            tls_scratch: Vec::new(),
        }
    }

    /// `tls_capture: keylog` (and replays): TLS sessions are decrypted with the secrets the
    /// kernel sends.
    pub fn set_tls_keylog(&mut self, on: bool) {
        self.keylog = on;
    }

    /// Database addresses that must be reached through a proxy (`--require-proxy`).
    pub fn set_require_proxy(&mut self, addrs: Vec<std::net::SocketAddr>) {
        self.require_proxy = addrs;
    }

    /// A connection that goes straight to a database the configuration says must be reached
    /// through the proxy (the proxy's own connections excepted).
    fn bypasses_proxy(&self, conn: &Conn) -> Option<String> {
        if self.require_proxy.is_empty() || conn.transport != "tcp" {
            return None;
        }
        let process = if conn.role == ROLE_CLIENT {
            conn.process.as_deref()
        } else {
            conn.peer
                .and_then(|p| self.conns.get(&p))
                .and_then(|p| p.process.as_deref())
        };
        if process.is_some_and(|p| p.comm == "dbgov") {
            return None;
        }
        let server = conn.server_addr.as_deref()?;
        let hit = self
            .require_proxy
            .iter()
            .find(|a| match server.strip_prefix(':') {
                // Seen from the server's side: only the port is known.
                Some(port) => port.parse::<u16>().ok() == Some(a.port()),
                None => server.parse::<std::net::SocketAddr>().ok() == Some(**a),
            })?;
        Some(format!(
            "direct connection to {hit}, which must be reached through the proxy"
        ))
    }

    /// Sends identity announcements and block signals to a proxy's control API. Sessions
    /// opened from now on report their requests as they are sent, so a statement this agent
    /// judges `block` is signalled before its response.
    pub fn set_announcer(&mut self, a: crate::control::Announcer) {
        self.announcer = Some(a);
        self.cfg.session.request_events = true;
    }

    /// Judges a request as it is sent and signals the proxy when the verdict is `block` (the
    /// verdict is cached: the statement's own event later costs a lookup).
    fn signal_request(&mut self, conn: &Conn, req: &crate::session::RequestRecord) {
        let Some(an) = &self.announcer else { return };
        if conn.role != ROLE_CLIENT {
            return;
        }
        let (Some(c), Some(s)) = (endpoint(&conn.client_addr), endpoint(&conn.server_addr)) else {
            return;
        };
        let info = conn.session.info();
        let j = self.judge.judge(&Request {
            engine: conn.engine,
            db_name: info.database.as_deref(),
            db_user: info.user.as_deref(),
            db_application: info.application.as_deref(),
            text: req.text.as_deref(),
            tag: None,
            columns: &[],
            process: conn.process.as_ref(),
            host: &self.cfg.host,
            tags: &crate::judge::NO_TAGS,
        });
        if j.verdict.action != crate::policy::Action::Block {
            return;
        }
        let Some(a) = j.analysis() else { return };
        an.send(crate::control::ControlEvent::Block {
            client_addr: c,
            server_addr: s,
            fingerprint: a.fingerprint.clone(),
            rule: j.verdict.rules.first().cloned().unwrap_or_default(),
        });
    }

    /// Replaces the policies (reload).
    pub fn set_policy(&mut self, policy: impl Into<Arc<Policy>>) {
        self.judge.set_policy(policy);
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Hands what is waiting to the output. Once the output has room again after dropping
    /// events (its backlog or spool was full), a gap event on the chain says how many and when.
    pub fn flush(&mut self) -> Result<(), PipelineError> {
        self.report_drops(false)?;
        self.out.flush()?;
        Ok(())
    }

    /// As [`Self::flush`] after a drain of the ring: the output thread is woken once the
    /// batch is large or old enough (see [`Output::flush_due`]).
    pub fn flush_due(&mut self) -> Result<(), PipelineError> {
        self.report_drops(false)?;
        self.out.flush_due()?;
        Ok(())
    }

    /// The gap event for events the output refused: once it has room, or (`now`) at shutdown
    /// even while it is still full.
    fn report_drops(&mut self, now: bool) -> Result<(), PipelineError> {
        if let Some((bytes, detail)) = self.out.take_spool_damage() {
            let ev = self.host_gap_event(
                audit::GapReason::SpoolDamaged,
                Some(detail),
                bytes,
                0,
                audit::now_monotonic_ns(),
            );
            self.stats.events += 1;
            self.out.write_always(&ev, Route::host(Kind::Gap))?;
        }
        if let Some((reason, lost, detail)) = self.out.take_dropped(now) {
            let ev = self.host_gap_event(reason, Some(detail), 0, lost, audit::now_monotonic_ns());
            self.stats.events += 1;
            self.out.write_always(&ev, Route::host(Kind::Gap))?;
        }
        Ok(())
    }

    /// The output is full and configured to pause capture (`spool.on_full: pause`).
    pub fn output_paused(&self) -> bool {
        self.out.paused()
    }

    /// The output's hash-chain stream id.
    pub fn stream(&self) -> &str {
        self.out.stream()
    }

    /// What the judge has judged so far.
    pub fn judge_counts(&self) -> crate::judge::JudgeCounts {
        self.judge.counts()
    }

    /// The Kafka spool's size and cap in bytes (`None` without Kafka).
    pub fn spool_usage(&self) -> Option<(u64, u64)> {
        self.out.spool_usage()
    }

    /// The output, for metrics.
    pub fn output(&self) -> &Output {
        &self.out
    }

    /// Bytes of events waiting for the output (channel and spool).
    pub fn output_backlog(&self) -> u64 {
        self.out.backlog()
    }

    /// Number of connections being tracked.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Feeds one raw ring-buffer record.
    pub fn handle_record(&mut self, rec: &[u8]) -> Result<(), PipelineError> {
        self.stats.records += 1;
        let Some(hdr) = read_pod::<EventHeader>(rec) else {
            self.stats.malformed_records += 1;
            return Ok(());
        };
        match EventKind::from_u32(hdr.kind) {
            Some(EventKind::Data) => {
                let hl = std::mem::size_of::<EventHeader>();
                let Some(data) = rec.get(hl..hl + hdr.captured_len as usize) else {
                    self.stats.malformed_records += 1;
                    return Ok(());
                };
                self.on_data(&hdr, data)
            }
            Some(EventKind::ConnOpen) => {
                // Older capture files hold shorter records: 216 bytes before `login_uid` and
                // `comm` were added, 232 before the kernel's socket identity. Zero-fill the
                // tail (socket identity unknown) and, for the oldest, the login uid.
                const V1_LEN: usize = 216;
                const V2_LEN: usize = 232;
                let full = std::mem::size_of::<ConnEvent>();
                if rec.len() < V1_LEN {
                    self.stats.malformed_records += 1;
                    return Ok(());
                }
                let mut buf = vec![0u8; full];
                let n = rec.len().min(full);
                buf[..n].copy_from_slice(&rec[..n]);
                match read_pod::<ConnEvent>(&buf) {
                    Some(mut ev) => {
                        if rec.len() < V2_LEN {
                            ev.login_uid = u32::MAX;
                        }
                        self.on_open(&ev)
                    }
                    None => {
                        self.stats.malformed_records += 1;
                        Ok(())
                    }
                }
            }
            Some(EventKind::ConnClose) => self.on_close(hdr.conn_id, hdr.ts_ns),
            Some(EventKind::Truncated) => self.on_truncated(&hdr),
            Some(EventKind::Uncaptured) => self.on_uncaptured(&hdr),
            Some(EventKind::Exec) => {
                self.on_exec(&hdr);
                Ok(())
            }
            Some(EventKind::TlsSecret) => {
                let hl = std::mem::size_of::<EventHeader>();
                let Some(secret) = rec.get(hl..hl + hdr.captured_len as usize) else {
                    self.stats.malformed_records += 1;
                    return Ok(());
                };
                self.on_tls_secret(&hdr, secret)
            }
            None => {
                self.stats.malformed_records += 1;
                Ok(())
            }
        }
    }

    /// Registers a connection found open at startup (from /proc). Its streams are joined
    /// mid-session, so both decoders resynchronise first.
    #[allow(clippy::too_many_arguments)]
    pub fn seed_connection(&mut self, ev: &ConnEvent) -> Result<(), PipelineError> {
        self.open(ev, true)
    }

    fn on_open(&mut self, ev: &ConnEvent) -> Result<(), PipelineError> {
        self.open(ev, false)
    }

    fn open(&mut self, ev: &ConnEvent, mid_session: bool) -> Result<(), PipelineError> {
        let engine = if ev.engine == ENGINE_MYSQL {
            Engine::Mysql
        } else {
            Engine::Postgres
        };
        let session: Box<dyn Conversation> = match (engine, mid_session) {
            (Engine::Postgres, false) => Box::new(PgSession::new(self.cfg.session.clone())),
            (Engine::Postgres, true) => Box::new(PgSession::mid_session(self.cfg.session.clone())),
            (Engine::Mysql, _) => Box::new(MysqlSession::new(self.cfg.session.clone())),
        };
        let tgid = ev.hdr.tgid;
        let fd = ev.hdr.fd;
        let process = self.lookup(tgid).or_else(|| self.identity_from_event(ev));
        let (mut client_addr, mut pair) = (None, None);
        let mut unix_unpaired = false;
        let server_addr;
        let kernel_id = ev.sock_id == SOCK_ID_TCP || ev.sock_id == SOCK_ID_UNIX;
        let transport = if ev.family == FAMILY_UNIX {
            let mut path = Some(cstr_path(&ev.path)).filter(|p| !p.is_empty());
            if ev.sock_id == SOCK_ID_UNIX {
                // The kernel read both ends' `struct sock` addresses: the client's peer is the
                // accepted socket of the server end.
                pair = Some(PairKey::Sock(if ev.role == ROLE_CLIENT {
                    ev.peer_sock
                } else {
                    ev.sock
                }));
                if path.is_none() && ev.role != ROLE_CLIENT {
                    path = crate::sockdiag::socket_inode(tgid, fd).and_then(unix_path_of);
                }
            } else {
                let own = crate::sockdiag::socket_inode(tgid, fd);
                if ev.role == ROLE_CLIENT {
                    pair = own.and_then(|i| self.unix_peer(i)).map(PairKey::Unix);
                } else {
                    pair = own.map(PairKey::Unix);
                    unix_unpaired = own.is_none() && self.cfg.resolve_identity;
                    if path.is_none() {
                        path = own.and_then(unix_path_of);
                    }
                }
            }
            client_addr = path.clone();
            server_addr = path;
            "unix"
        } else if ev.sock_id == SOCK_ID_TCP {
            // The kernel read the socket's own tuple at connect/accept: exact, and no race
            // with a client that has already closed or reused the fd.
            let local = ip_of(ev.family, &ev.local_addr);
            let remote = ip_of(ev.family, &ev.remote_addr);
            let (lport, rport) = (ev.local_port as u16, ev.remote_port as u16);
            if ev.role == ROLE_CLIENT {
                server_addr = remote.map(|ip| fmt_addr(ip, rport));
                if let Some(lip) = local {
                    client_addr = Some(fmt_addr(lip, lport));
                    pair = Some(PairKey::Tcp(lip, lport, rport));
                }
            } else {
                server_addr = Some(format!(":{lport}"));
                if let Some(rip) = remote {
                    client_addr = Some(fmt_addr(rip, rport));
                    pair = Some(PairKey::Tcp(rip, rport, lport));
                }
            }
            "tcp"
        } else {
            let ip = ip_of(ev.family, &ev.addr);
            if ev.role == ROLE_CLIENT {
                server_addr = ip.map(|ip| fmt_addr(ip, ev.port as u16));
                if let Some((lip, lport)) = local_endpoint(tgid, fd) {
                    client_addr = Some(fmt_addr(lip, lport));
                    pair = Some(PairKey::Tcp(lip, lport, ev.port as u16));
                }
            } else {
                server_addr = Some(format!(":{}", ev.port));
                if let Some(ip) = ip.filter(|_| ev.peer_port != 0) {
                    client_addr = Some(fmt_addr(ip, ev.peer_port as u16));
                    pair = Some(PairKey::Tcp(ip, ev.peer_port as u16, ev.port as u16));
                }
            }
            "tcp"
        };
        // Local connections can fall back to first-come pairing: Unix sockets always, TCP when
        // the client address is loopback (server side) or the server is (client side). Not
        // needed when the kernel gave the socket's identity: the key is exact.
        let is_local_tcp = |a: &Option<String>| {
            a.as_deref()
                .is_some_and(|x| x.starts_with("127.") || x.starts_with("[::1]"))
        };
        let fallback_key = if kernel_id {
            None
        } else if transport == "unix" {
            server_addr.clone().map(FallbackKey::Unix)
        } else if (ev.role == ROLE_CLIENT && is_local_tcp(&server_addr))
            || (ev.role == ROLE_SERVER && is_local_tcp(&client_addr))
        {
            Some(FallbackKey::Tcp(ev.port as u16))
        } else {
            None
        };
        let mut conn = Box::new(Conn {
            id: ev.hdr.conn_id,
            role: ev.role,
            engine,
            transport,
            tgid,
            fd,
            client_addr,
            server_addr,
            pair,
            fallback: None,
            opened_ns: ev.hdr.ts_ns,
            unix_unpaired,
            peer: None,
            mirror: false,
            kernel_mirror: ev.flags & CONN_EV_LOCAL_MIRROR != 0,
            session,
            asm: [Assembler::new(), Assembler::new()],
            tls_asm: [Assembler::new(), Assembler::new()],
            tls_plain: false,
            mid_session,
            started: false,
            gaps: Default::default(),
            tls_pending_since: None,
            process,
            frags: None,
            tls: None,
            tls_decrypted: false,
        });
        self.new_pids.push(tgid);
        self.announce(&conn);
        conn.fallback = fallback_key;
        self.link_pair(&mut conn);
        if conn.peer.is_none() {
            self.link_fallback(&mut conn);
        }
        if let Some(old) = self.conns.insert(conn.id, conn) {
            self.forget_pair(&old);
        }
        Ok(())
    }

    /// Tells the proxy (if configured) who opened a client connection.
    fn announce(&self, conn: &Conn) {
        let (Some(a), Some(p)) = (&self.announcer, &conn.process) else {
            return;
        };
        if conn.role != ROLE_CLIENT || conn.transport != "tcp" {
            return;
        }
        let (Some(c), Some(s)) = (endpoint(&conn.client_addr), endpoint(&conn.server_addr)) else {
            return;
        };
        // The process's command line is already redacted (unless keep_literals).
        let client = audit::Client::from_process(p, conn.client_addr.clone());
        a.send(crate::control::ControlEvent::Connect {
            client_addr: c,
            server_addr: s,
            client: Box::new(client),
        });
    }

    /// Pairs `conn` with the other local end of its connection, if that end is known: the
    /// server end becomes a mirror (not decoded) and the client end names the server process.
    fn link_pair(&mut self, conn: &mut Conn) {
        let Some(key) = conn.pair else { return };
        let other_role = if conn.role == ROLE_CLIENT {
            ROLE_SERVER
        } else {
            ROLE_CLIENT
        };
        if let Some(&peer_id) = self.pairs.get(&(key, other_role)) {
            if let Some(peer) = self.conns.get_mut(&peer_id) {
                peer.peer = Some(conn.id);
                conn.peer = Some(peer_id);
                if conn.role == ROLE_CLIENT {
                    peer.mirror = true;
                } else {
                    conn.mirror = true;
                    if conn.client_addr.is_none() {
                        conn.client_addr = peer.client_addr.clone();
                        conn.server_addr = peer.server_addr.clone();
                    }
                }
            }
        }
        self.pairs.insert((key, conn.role), conn.id);
    }

    /// First-come pairing of local ends: a client whose exact key could not be read is matched
    /// with the oldest unpaired server end of the same port or path opened in the last two
    /// seconds, and the other way round. Only ends that are themselves unpaired take part, so
    /// an exactly paired connection is never disturbed; a mismatch between two concurrent
    /// sessions can only swap their `server.pid`, never duplicate or lose statements.
    fn link_fallback(&mut self, conn: &mut Conn) {
        let Some(key) = conn.fallback.clone() else {
            return;
        };
        // A client with an exact key pairs exactly or not at all.
        if conn.role == ROLE_CLIENT && conn.pair.is_some() {
            return;
        }
        let other_role = if conn.role == ROLE_CLIENT {
            ROLE_SERVER
        } else {
            ROLE_CLIENT
        };
        let now = conn.opened_ns;
        if let Some(q) = self.fallback.get_mut(&(key.clone(), other_role)) {
            while let Some((peer_id, opened)) = q.pop_front() {
                if now.saturating_sub(opened) > FALLBACK_WINDOW_NS && opened < now {
                    continue;
                }
                let Some(peer) = self.conns.get_mut(&peer_id) else {
                    continue;
                };
                if peer.peer.is_some() {
                    continue;
                }
                peer.peer = Some(conn.id);
                conn.peer = Some(peer_id);
                if conn.role == ROLE_CLIENT {
                    peer.mirror = true;
                } else {
                    conn.mirror = true;
                    if conn.client_addr.is_none() {
                        conn.client_addr = peer.client_addr.clone();
                    }
                }
                return;
            }
        }
        // Servers always wait here (their clients may fail the exact lookup); clients only when
        // their exact lookup failed.
        let q = self.fallback.entry((key, conn.role)).or_default();
        while q
            .front()
            .is_some_and(|&(_, t)| now.saturating_sub(t) > FALLBACK_WINDOW_NS)
        {
            q.pop_front();
        }
        if q.len() < 4096 {
            q.push_back((conn.id, now));
        }
    }

    fn unix_peer(&mut self, inode: u64) -> Option<u64> {
        if !self.cfg.resolve_identity {
            return None;
        }
        if self.sockdiag.is_none() {
            self.sockdiag = crate::sockdiag::SockDiag::open().ok();
        }
        self.sockdiag.as_mut()?.peer(inode).ok().flatten()
    }

    fn forget_pair(&mut self, c: &Conn) {
        if let Some(key) = c.pair {
            if self.pairs.get(&(key, c.role)) == Some(&c.id) {
                self.pairs.remove(&(key, c.role));
            }
        }
        if let Some(p) = c.peer {
            if let Some(peer) = self.conns.get_mut(&p) {
                peer.peer = None;
            }
        }
    }

    /// What the kernel recorded about the process at connect/accept, for a process that exited
    /// before /proc could be read (a short `psql -c`): pid, comm, uid, gid and login uid.
    fn identity_from_event(&mut self, ev: &ConnEvent) -> Option<Arc<ProcessInfo>> {
        if !self.cfg.resolve_identity || ev.comm[0] == 0 {
            return None;
        }
        let login_uid = (ev.login_uid != u32::MAX).then_some(ev.login_uid);
        Some(Arc::new(ProcessInfo {
            pid: ev.hdr.tgid,
            comm: cstr_path(&ev.comm),
            uid: ev.hdr.uid,
            user: self.identity.user_name(ev.hdr.uid),
            gid: ev.hdr.gid,
            groups: self.identity.group_name(ev.hdr.gid).into_iter().collect(),
            login_uid,
            login_user: login_uid.and_then(|u| self.identity.user_name(u)),
            // The executable's name as the kernel saw it: the process is gone.
            workload: Some(cstr_path(&ev.comm)),
            ..Default::default()
        }))
    }

    fn lookup(&mut self, pid: u32) -> Option<Arc<ProcessInfo>> {
        if !self.cfg.resolve_identity {
            return None;
        }
        self.identity.lookup(pid).ok()
    }

    fn on_data(&mut self, hdr: &EventHeader, data: &[u8]) -> Result<(), PipelineError> {
        let Some(dir) = Direction::from_u32(hdr.direction) else {
            self.stats.malformed_records += 1;
            return Ok(());
        };
        let Some(mut conn) = self.conns.remove(&hdr.conn_id) else {
            self.stats.unknown_conn_chunks += 1;
            return Ok(());
        };
        if conn.tgid != hdr.tgid {
            // A forking server handed the connection to a child (PostgreSQL's backend). A
            // mirror end only names the server: the child runs the parent's executable, so
            // the /proc lookup is saved.
            conn.tgid = hdr.tgid;
            if !conn.mirror {
                conn.process = self.lookup(hdr.tgid);
            }
        }
        if conn.unix_unpaired {
            conn.unix_unpaired = false;
            if let Some(own) = crate::sockdiag::socket_inode(hdr.tgid, conn.fd) {
                conn.pair = Some(PairKey::Unix(own));
                if conn.server_addr.is_none() {
                    conn.server_addr = unix_path_of(own);
                    conn.client_addr = conn.server_addr.clone();
                }
                self.link_pair(&mut conn);
            }
        }
        if conn.mirror {
            // Stop capturing this end in the kernel: its bytes arrive from the client end.
            self.drop_keys.push((hdr.tgid, conn.fd));
            self.conns.insert(conn.id, conn);
            return Ok(());
        }
        let flow = flow_of(conn.role, dir);
        let mut events = std::mem::take(&mut self.scratch);
        let plaintext = matches!(
            Source::from_u32(hdr.source),
            Some(Source::SslRead | Source::SslWrite)
        );
        if plaintext && !conn.tls_plain {
            conn.tls_plain = true;
            conn.tls_pending_since = None;
            conn.tls = None;
            if !conn.tls_decrypted {
                conn.session.tls_plaintext();
            }
        }
        if !plaintext && !conn.tls_plain && self.keylog && conn.session.info().tls {
            self.decrypt(&mut conn, dir, hdr, data, &mut events);
        } else if plaintext || !conn.tls_plain {
            let session = &mut conn.session;
            let asm = if plaintext {
                &mut conn.tls_asm[dir as usize]
            } else {
                &mut conn.asm[dir as usize]
            };
            asm.push(hdr.stream_offset, data, |piece| match piece {
                Piece::Data(d) => session.on_data(flow, d, hdr.ts_ns, &mut events),
                Piece::Gap(n) => session.on_gap(flow, n, hdr.ts_ns, &mut events),
            });
        }
        if !conn.tls_plain
            && !conn.tls_decrypted
            && conn.tls_pending_since.is_none()
            && conn.session.info().tls
        {
            conn.tls_pending_since = Some(hdr.ts_ns);
        }
        let r = self.emit_all(&mut conn, &mut events, hdr.ts_ns);
        self.scratch = events;
        self.conns.insert(conn.id, conn);
        r
    }

    /// The kernel did not capture the tail of a syscall: the hole is reported to the session
    /// now, before the peer's answer to the cut message arrives.
    /// A hole the kernel left in a response, or mid-stream: see [`agent_common::TRUNC_SHED`].
    fn on_truncated(&mut self, hdr: &EventHeader) -> Result<(), PipelineError> {
        let Some(dir) = Direction::from_u32(hdr.direction) else {
            self.stats.malformed_records += 1;
            return Ok(());
        };
        let Some(mut conn) = self.conns.remove(&hdr.conn_id) else {
            return Ok(());
        };
        let plaintext = matches!(
            Source::from_u32(hdr.source),
            Some(Source::SslRead | Source::SslWrite)
        );
        if conn.mirror || (!plaintext && conn.tls_plain) {
            self.conns.insert(conn.id, conn);
            return Ok(());
        }
        if !plaintext && self.keylog && conn.session.info().tls {
            // A hole in the ciphertext: the TLS layer looks for the next record, and the
            // statements it carried are the session's gap.
            let flow = flow_of(conn.role, dir);
            let mut events = std::mem::take(&mut self.scratch);
            let tls = conn.tls.get_or_insert_with(Default::default);
            let session = &mut conn.session;
            let decrypted = conn.tls_decrypted;
            conn.asm[dir as usize].skip(hdr.stream_offset, u64::from(hdr.total_len), |piece| {
                if let Piece::Gap(n) = piece {
                    tls.gap(tls_dir(flow), n);
                    if decrypted {
                        session.on_gap(flow, n, hdr.ts_ns, &mut events);
                    }
                }
            });
            let r = self.emit_all(&mut conn, &mut events, hdr.ts_ns);
            self.scratch = events;
            self.conns.insert(conn.id, conn);
            return r;
        }
        let flow = flow_of(conn.role, dir);
        let mut events = std::mem::take(&mut self.scratch);
        let session = &mut conn.session;
        let asm = if plaintext {
            &mut conn.tls_asm[dir as usize]
        } else {
            &mut conn.asm[dir as usize]
        };
        asm.skip(hdr.stream_offset, u64::from(hdr.total_len), |piece| {
            if let Piece::Gap(n) = piece {
                session.on_gap(flow, n, hdr.ts_ns, &mut events);
            }
        });
        if hdr.captured_len == agent_common::TRUNC_SHED {
            for e in &mut events {
                if let SessionEvent::Gap { detail, .. } = e {
                    detail.get_or_insert_with(|| SHED_DETAIL.to_owned());
                }
            }
        }
        let r = self.emit_all(&mut conn, &mut events, hdr.ts_ns);
        self.scratch = events;
        self.conns.insert(conn.id, conn);
        r
    }

    /// A watched socket used a syscall whose bytes are not captured: a gap naming it
    /// (coalesced per connection like every gap). The decoders are left alone: such a call
    /// usually moves whole messages, and the next captured one decodes as usual.
    fn on_uncaptured(&mut self, hdr: &EventHeader) -> Result<(), PipelineError> {
        let (Some(dir), Some(source)) = (
            Direction::from_u32(hdr.direction),
            Source::from_u32(hdr.source),
        ) else {
            self.stats.malformed_records += 1;
            return Ok(());
        };
        let Some(mut conn) = self.conns.remove(&hdr.conn_id) else {
            return Ok(());
        };
        self.stats.gaps += 1;
        let flow = flow_of(conn.role, dir);
        let mut gaps = Vec::new();
        conn.gaps.gap(
            hdr.ts_ns,
            audit::GapReason::UncapturedSyscall,
            flow,
            u64::from(hdr.total_len),
            Some(format!(
                "{} on this connection: its bytes are not captured",
                source.name()
            )),
            &mut gaps,
        );
        let r = self.write_gaps(&mut conn, &mut gaps, hdr.ts_ns);
        self.conns.insert(conn.id, conn);
        r
    }

    /// The process holding a watched connection ran `execve`: what it is now (executable,
    /// command line, workload) is read again, and the connection's later statements carry it.
    fn on_exec(&mut self, hdr: &EventHeader) {
        self.identity.forget(hdr.tgid);
        let process = self.lookup(hdr.tgid);
        if let Some(conn) = self.conns.get_mut(&hdr.conn_id) {
            conn.tgid = hdr.tgid;
            if !conn.mirror {
                conn.process = process;
            }
        }
    }

    fn on_close(&mut self, conn_id: u64, ts: u64) -> Result<(), PipelineError> {
        let Some(mut conn) = self.conns.remove(&conn_id) else {
            return Ok(());
        };
        // A server end the kernel does not watch has no close of its own.
        if let Some(p) = conn.peer {
            if self.conns.get(&p).is_some_and(|m| m.kernel_mirror) {
                if let Some(m) = self.conns.remove(&p) {
                    self.forget_pair(&m);
                }
            }
        }
        self.forget_pair(&conn);
        if conn.mirror {
            return Ok(());
        }
        let mut events = std::mem::take(&mut self.scratch);
        if conn.tls_pending_since.is_some() && !conn.started {
            conn.started = true;
            events.push(SessionEvent::Start(conn.session.info().clone()));
        }
        conn.session.on_close(ts, &mut events);
        let r = self.emit_all(&mut conn, &mut events, ts);
        self.scratch = events;
        r
    }

    /// Ciphertext of a TLS session (keylog capture): decrypted, and the plaintext decoded.
    fn decrypt(
        &mut self,
        conn: &mut Conn,
        dir: Direction,
        hdr: &EventHeader,
        data: &[u8],
        events: &mut Vec<SessionEvent>,
    ) {
        let flow = flow_of(conn.role, dir);
        let d = tls_dir(flow);
        let tls = conn.tls.get_or_insert_with(Default::default);
        let mut plain = std::mem::take(&mut self.tls_scratch);
        plain.clear();
        let mut losses = Vec::new();
        let mut holes = 0u64;
        conn.asm[dir as usize].push(hdr.stream_offset, data, |piece| match piece {
            Piece::Data(b) => losses.extend(tls.push(d, b, &mut plain)),
            Piece::Gap(n) => {
                tls.gap(d, n);
                holes += n;
            }
        });
        // A TLS 1.2 key block opens both directions: the other one's plaintext goes first.
        let mut both = [Vec::new(), Vec::new()];
        if tls.waiting(d) {
            if let Some(list) = self.secrets.get_mut(&conn.tgid) {
                let which = tls_secret_for(flow);
                if let Some(i) = list.iter().position(|s| {
                    (s.which == which && tls.offer(d, &s.secret, &mut plain))
                        || (s.which == agent_common::TLS12_KEY_BLOCK
                            && tls.offer_key_block(&s.secret, &mut both))
                }) {
                    list.remove(i);
                }
            }
            if tls.waiting(d) && !self.tls_waiting.contains(&conn.id) {
                self.tls_waiting.push(conn.id);
            }
        }
        let unsupported = tls.unsupported();
        let [c2s, s2c] = both;
        let other = if d == crate::tls::CLIENT_TO_SERVER {
            plain.extend_from_slice(&c2s);
            (Flow::ServerToClient, s2c)
        } else {
            plain.extend_from_slice(&s2c);
            (Flow::ClientToServer, c2s)
        };
        self.tls_plaintext(conn, other.0, &other.1, 0, hdr.ts_ns, events);
        match losses.first().map(|l| l.at.min(plain.len())) {
            // Plaintext is missing where a record did not decrypt: the decoder is told there,
            // and resynchronises on what follows.
            Some(at) => {
                self.tls_plaintext(conn, flow, &plain[..at], holes, hdr.ts_ns, events);
                if conn.tls_decrypted {
                    let lost = losses.iter().map(|l| l.bytes).sum::<u64>().max(1);
                    conn.session.on_gap(flow, lost, hdr.ts_ns, events);
                }
                self.tls_plaintext(conn, flow, &plain[at..], 0, hdr.ts_ns, events);
            }
            None => self.tls_plaintext(conn, flow, &plain, holes, hdr.ts_ns, events),
        }
        self.tls_scratch = plain;
        for l in losses {
            events.push(SessionEvent::Gap {
                flow,
                bytes: l.bytes,
                reason: audit::GapReason::TlsUndecryptable,
                detail: Some(l.detail.to_owned()),
            });
        }
        if let Some(why) = unsupported {
            // Reported once: the session stays not inspectable.
            conn.tls = Some(Box::new(crate::tls::TlsSession::closed()));
            events.push(SessionEvent::Gap {
                flow,
                bytes: 0,
                reason: audit::GapReason::TlsUndecryptable,
                detail: Some(why.to_owned()),
            });
        }
    }

    /// Plaintext decrypted from `flow` goes to the session decoder; the first of it turns the
    /// session inspectable, as the uprobes' plaintext does.
    fn tls_plaintext(
        &mut self,
        conn: &mut Conn,
        flow: Flow,
        plain: &[u8],
        holes: u64,
        ts: u64,
        events: &mut Vec<SessionEvent>,
    ) {
        if !plain.is_empty() && !conn.tls_decrypted {
            conn.tls_decrypted = true;
            conn.tls_pending_since = None;
            conn.session.tls_plaintext();
        }
        if !conn.tls_decrypted {
            return;
        }
        if holes > 0 {
            conn.session.on_gap(flow, holes, ts, events);
        }
        if !plain.is_empty() {
            conn.session.on_data(flow, plain, ts, events);
        }
    }

    /// A TLS secret from the kernel: offered to the connections of its process that wait
    /// for one, else kept for the next.
    fn on_tls_secret(&mut self, hdr: &EventHeader, secret: &[u8]) -> Result<(), PipelineError> {
        let which = hdr.direction;
        self.tls_waiting.retain(|id| {
            self.conns
                .get(id)
                .and_then(|c| c.tls.as_ref())
                .is_some_and(|t| t.waiting(0) || t.waiting(1))
        });
        let candidates: Vec<u64> = self
            .tls_waiting
            .iter()
            .copied()
            .filter(|id| self.conns.get(id).is_some_and(|c| c.tgid == hdr.tgid))
            .collect();
        for id in candidates {
            let Some(mut conn) = self.conns.remove(&id) else {
                continue;
            };
            // Plaintext per direction, client to server first.
            let mut plain = [Vec::new(), Vec::new()];
            let taken = conn.tls.as_mut().is_some_and(|t| match which {
                agent_common::TLS_SECRET_CLIENT => {
                    t.offer(crate::tls::CLIENT_TO_SERVER, secret, &mut plain[0])
                }
                agent_common::TLS_SECRET_SERVER => {
                    t.offer(crate::tls::SERVER_TO_CLIENT, secret, &mut plain[1])
                }
                _ => t.offer_key_block(secret, &mut plain),
            });
            let mut r = Ok(());
            if taken {
                let mut events = std::mem::take(&mut self.scratch);
                for (flow, p) in [Flow::ClientToServer, Flow::ServerToClient]
                    .into_iter()
                    .zip(&plain)
                {
                    self.tls_plaintext(&mut conn, flow, p, 0, hdr.ts_ns, &mut events);
                }
                r = self.emit_all(&mut conn, &mut events, hdr.ts_ns);
                self.scratch = events;
            }
            self.conns.insert(id, conn);
            r?;
            if taken {
                return Ok(());
            }
        }
        let list = self.secrets.entry(hdr.tgid).or_default();
        if list.len() >= MAX_SECRETS_PER_PROCESS {
            list.remove(0);
        }
        list.push(PendingSecret {
            which,
            secret: secret.to_vec(),
            ts_ns: hdr.ts_ns,
        });
        Ok(())
    }

    /// Drops TLS secrets no connection took (handshakes of other programs, mirror ends).
    fn expire_secrets(&mut self, now_ns: u64) {
        self.secrets.retain(|_, list| {
            list.retain(|s| now_ns.saturating_sub(s.ts_ns) < SECRET_TTL_NS);
            !list.is_empty()
        });
    }

    /// TLS sessions whose plaintext never arrived (a static or unknown TLS library) get one
    /// `session_start` with `session.inspectable: false`, so they are never silent.
    pub fn report_opaque_tls(&mut self, now_ns: u64, after_ns: u64) -> Result<(), PipelineError> {
        self.expire_secrets(now_ns);
        let ids: Vec<u64> = self
            .conns
            .values()
            .filter(|c| {
                !c.started
                    && !c.mirror
                    && c.tls_pending_since
                        .is_some_and(|t| now_ns.saturating_sub(t) >= after_ns)
            })
            .map(|c| c.id)
            .collect();
        for id in ids {
            if let Some(mut conn) = self.conns.remove(&id) {
                let mut events = vec![SessionEvent::Start(conn.session.info().clone())];
                let r = self.emit_all(&mut conn, &mut events, now_ns);
                self.conns.insert(id, conn);
                r?;
            }
        }
        Ok(())
    }

    /// Ends sessions whose process is gone (a process exit closes its sockets without a
    /// `close` syscall). Returns the (tgid, fd) keys to drop from the kernel map.
    pub fn reap(&mut self, now_ns: u64) -> Result<Vec<(u32, u32)>, PipelineError> {
        let dead: Vec<u64> = self
            .conns
            .values()
            .filter(|c| !crate::identity::alive(c.tgid))
            .map(|c| c.id)
            .collect();
        let mut keys = Vec::new();
        for id in dead {
            if let Some(c) = self.conns.get(&id) {
                keys.push((c.tgid, c.fd));
                self.identity.forget(c.tgid);
            }
            self.on_close(id, now_ns)?;
        }
        Ok(keys)
    }

    /// Ends every session (shutdown).
    pub fn close_all(&mut self, now_ns: u64) -> Result<(), PipelineError> {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            self.on_close(id, now_ns)?;
        }
        self.flush()
    }

    /// The output, for a pipeline that follows this one (`dbgov replay --repeat`): the
    /// connections must have been closed ([`Self::close_all`]).
    pub fn into_output(self) -> Output {
        self.out
    }

    /// Shuts the output down: a last checkpoint, then what is waiting is written, waiting up
    /// to `grace` for a failing output. Returns (events lost, events kept in the spool).
    pub fn close_output(
        &mut self,
        grace: std::time::Duration,
    ) -> Result<(u64, u64), PipelineError> {
        Ok(self.out.close(grace)?)
    }

    /// Emits a host-level gap event with a detail (which kernel table was full).
    pub fn host_gap_detail(
        &mut self,
        reason: audit::GapReason,
        detail: String,
        events: u64,
        now_ns: u64,
    ) -> Result<(), PipelineError> {
        let ev = self.host_gap_event(reason, Some(detail), 0, events, now_ns);
        self.write(&ev, Route::host(Kind::Gap))
    }

    /// Emits a host-level gap event (kernel loss counters).
    pub fn host_gap(
        &mut self,
        reason: audit::GapReason,
        bytes: u64,
        events: u64,
        now_ns: u64,
    ) -> Result<(), PipelineError> {
        let ev = self.host_gap_event(reason, None, bytes, events, now_ns);
        self.write(&ev, Route::host(Kind::Gap))
    }

    /// A host-level gap event (no connection), counted in the stats.
    fn host_gap_event(
        &mut self,
        reason: audit::GapReason,
        detail: Option<String>,
        bytes: u64,
        events: u64,
        now_ns: u64,
    ) -> Event {
        self.stats.gaps += 1;
        Event {
            gap: Some(audit::Gap {
                reason,
                detail,
                bytes,
                flow: None,
                events: Some(events),
            }),
            ..self.base_event(Kind::Gap, now_ns)
        }
    }

    fn write(&mut self, ev: &Event, route: Route) -> Result<(), PipelineError> {
        self.stats.events += 1;
        self.out.write(ev, route)?;
        Ok(())
    }

    fn base_event(&self, kind: Kind, ts_ns: u64) -> Event {
        Event::new(
            kind,
            self.ids.next(),
            audit::rfc3339(self.clock.wall_ns(ts_ns)),
            self.cfg.host.clone(),
        )
    }

    /// Fills the client/server/db/session parts of an event for `conn`.
    fn conn_event(&self, conn: &Conn, kind: Kind, ts_ns: u64) -> Event {
        let mut ev = self.base_event(kind, ts_ns);
        let (client_proc, server, db, session) = self.conn_parts(conn);
        ev.client = Some(match client_proc {
            Some(p) => audit::Client::from_process(&p, conn.client_addr.clone()),
            None => audit::Client {
                addr: conn.client_addr.clone(),
                ..Default::default()
            },
        });
        ev.server = Some(server);
        ev.db = Some(db);
        ev.session = Some(session);
        ev
    }

    /// The client process and the `server`, `db` and `session` parts of `conn`'s events.
    fn conn_parts(
        &self,
        conn: &Conn,
    ) -> (
        Option<Arc<ProcessInfo>>,
        audit::Server,
        audit::Db,
        audit::Session,
    ) {
        let peer = conn.peer.and_then(|p| self.conns.get(&p));
        let (client_proc, server_pid, server_exe) = if conn.role == ROLE_CLIENT {
            let sp = peer.and_then(|p| p.process.as_ref());
            // A local PostgreSQL server end is accepted by the postmaster and served by the
            // backend it forks, whose pid the server announced (BackendKeyData).
            let backend = match conn.engine {
                Engine::Postgres => conn
                    .session
                    .info()
                    .backend_id
                    .and_then(|b| u32::try_from(b).ok()),
                Engine::Mysql => None,
            };
            (
                conn.process.as_ref(),
                peer.map(|p| backend.unwrap_or(p.tgid)),
                sp.and_then(|p| p.exe.clone()),
            )
        } else {
            let cp = peer.and_then(|p| p.process.as_ref());
            (
                cp,
                Some(conn.tgid),
                conn.process.as_ref().and_then(|p| p.exe.clone()),
            )
        };
        let client_proc = client_proc.cloned();
        let server = audit::Server {
            pid: server_pid,
            exe: server_exe,
            addr: conn.server_addr.clone(),
        };
        let info = conn.session.info();
        let db = audit::Db {
            engine: conn.engine.name().into(),
            user: info.user.clone(),
            name: info.database.clone(),
            application: info.application.clone(),
        };
        (client_proc, server, db, session_fields(conn, info))
    }

    /// The `client` part as JSON. The process's part is serialised once per process and
    /// reused by all its connections (a pool, `pgbench -C`); only `addr` differs.
    fn client_raw(
        &mut self,
        process: Option<&Arc<ProcessInfo>>,
        addr: &Option<String>,
    ) -> Result<Box<serde_json::value::RawValue>, PipelineError> {
        let Some(p) = process else {
            return raw(&audit::Client {
                addr: addr.clone(),
                ..Default::default()
            });
        };
        let k = Arc::as_ptr(p) as usize;
        if !self.client_json.contains_key(&k) {
            let full = serde_json::to_string(&audit::Client::from_process(p, None))
                .map_err(|e| PipelineError::Sink(SinkError::Serialise(e)))?;
            let Some(prefix) = full.strip_suffix("\"addr\":null}") else {
                return raw(&audit::Client::from_process(p, addr.clone()));
            };
            if self.client_json.len() >= 4096 {
                self.client_json.clear();
            }
            // The Arc is kept so that its address is not reused by another process's info.
            self.client_json.insert(k, (p.clone(), prefix.to_owned()));
        }
        let prefix = self
            .client_json
            .get(&k)
            .map(|(_, s)| s.as_str())
            .unwrap_or("");
        let a = serde_json::to_string(addr)
            .map_err(|e| PipelineError::Sink(SinkError::Serialise(e)))?;
        let mut s = String::with_capacity(prefix.len() + a.len() + 9);
        s.push_str(prefix);
        s.push_str("\"addr\":");
        s.push_str(&a);
        s.push('}');
        serde_json::value::RawValue::from_string(s)
            .map_err(|e| PipelineError::Sink(SinkError::Serialise(e)))
    }

    fn emit_all(
        &mut self,
        conn: &mut Conn,
        events: &mut Vec<SessionEvent>,
        ts: u64,
    ) -> Result<(), PipelineError> {
        let mut gaps = Vec::new();
        for e in events.drain(..) {
            match e {
                SessionEvent::Start(_) => {
                    conn.started = true;
                    self.write_session_event(conn, Kind::SessionStart, ts)?;
                }
                SessionEvent::Update(_) => {}
                SessionEvent::Request(req) => self.signal_request(conn, &req),
                SessionEvent::End => {
                    conn.gaps.flush(&mut gaps);
                    self.write_gaps(conn, &mut gaps, ts)?;
                    self.write_session_event(conn, Kind::SessionEnd, ts)?
                }
                SessionEvent::Gap {
                    flow,
                    bytes,
                    reason,
                    detail,
                } => {
                    self.stats.gaps += 1;
                    conn.gaps.gap(ts, reason, flow, bytes, detail, &mut gaps);
                    self.write_gaps(conn, &mut gaps, ts)?;
                }
                SessionEvent::Statement(rec) => {
                    self.stats.statements += 1;
                    conn.gaps.tick(ts, &mut gaps);
                    self.write_gaps(conn, &mut gaps, ts)?;
                    self.write_statement(conn, &rec)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the gap events the connection's coalescer released.
    fn write_gaps(
        &mut self,
        conn: &mut Conn,
        gaps: &mut Vec<crate::coalesce::GapOut>,
        ts: u64,
    ) -> Result<(), PipelineError> {
        for g in gaps.drain(..) {
            let mut ev = self.conn_event(conn, Kind::Gap, ts);
            ev.gap = Some(audit::Gap {
                reason: g.reason,
                detail: g.detail,
                bytes: g.bytes,
                flow: Some(g.flow),
                events: g.events,
            });
            self.write(&ev, Route::session(Kind::Gap, conn.id, false))?;
        }
        Ok(())
    }

    /// Builds (or reuses) the serialised connection parts of `conn`'s statement events.
    fn fragments(&mut self, conn: &mut Conn) -> Result<(), PipelineError> {
        let peer = conn.peer.and_then(|p| self.conns.get(&p));
        let process = conn
            .process
            .as_ref()
            .map(|p| Arc::as_ptr(p) as usize)
            .unwrap_or(0);
        let peer_tgid = peer.map(|p| p.tgid);
        let peer_process = peer
            .and_then(|p| p.process.as_ref())
            .map(|p| Arc::as_ptr(p) as usize)
            .unwrap_or(0);
        // Compared in place: nothing is cloned for a statement whose connection is unchanged.
        if conn.frags.as_ref().is_some_and(|f| {
            f.key.tgid == conn.tgid
                && f.key.process == process
                && f.key.peer_tgid == peer_tgid
                && f.key.peer_process == peer_process
                && f.key.client_addr == conn.client_addr
                && f.key.info_version == conn.session.info_version()
        }) {
            return Ok(());
        }
        let key = FragKey {
            tgid: conn.tgid,
            process,
            peer_tgid,
            peer_process,
            info_version: conn.session.info_version(),
            client_addr: conn.client_addr.clone(),
        };
        let (client_proc, server, db, session) = self.conn_parts(conn);
        let client = self.client_raw(client_proc.as_ref(), &conn.client_addr)?;
        let (server, db, session) = (raw(&server)?, raw(&db)?, raw(&session)?);
        let context_hash =
            audit::context_hash_of([&self.host_raw, &client, &server, &db, &session]);
        conn.frags = Some(Box::new(Fragments {
            key,
            client,
            server,
            db,
            session,
            context_hash,
        }));
        Ok(())
    }

    /// Writes a `session_start` or `session_end` from the connection's cached fragments (the
    /// same ones its statement events use: serialised once per connection).
    fn write_session_event(
        &mut self,
        conn: &mut Conn,
        kind: Kind,
        ts: u64,
    ) -> Result<(), PipelineError> {
        self.fragments(conn)?;
        let Some(frags) = conn.frags.as_deref() else {
            return Ok(());
        };
        let bypass = if kind == Kind::SessionStart {
            self.bypasses_proxy(conn)
        } else {
            None
        };
        let rules = [String::from("bypass-proxy")];
        let ev = audit::SessionEventRef {
            schema: audit::SCHEMA,
            event_id: self.ids.next(),
            time: audit::rfc3339(self.clock.wall_ns(ts)),
            kind,
            host: &self.host_raw,
            client: &frags.client,
            server: &frags.server,
            db: &frags.db,
            session: &frags.session,
            policy: bypass.as_deref().map(|m| audit::PolicyRef {
                verdict: crate::policy::Action::Alert,
                rules: &rules,
                severity: Some("high"),
                message: Some(m),
            }),
        };
        self.stats.events += 1;
        self.out
            .write(&ev, Route::session(kind, conn.id, bypass.is_some()))?;
        Ok(())
    }

    fn write_statement(
        &mut self,
        conn: &mut Conn,
        rec: &StatementRecord,
    ) -> Result<(), PipelineError> {
        self.fragments(conn)?;
        let process = if conn.role == ROLE_CLIENT {
            conn.process.as_ref()
        } else {
            conn.peer
                .and_then(|p| self.conns.get(&p))
                .and_then(|p| p.process.as_ref())
        };
        let info = conn.session.info();
        let j = self.judge.judge(&Request {
            engine: conn.engine,
            db_name: info.database.as_deref(),
            db_user: info.user.as_deref(),
            db_application: info.application.as_deref(),
            text: rec.text.as_deref(),
            tag: rec.tag.as_deref(),
            columns: &rec.columns,
            process,
            host: &self.cfg.host,
            tags: &crate::judge::NO_TAGS,
        });
        let verdict = &j.verdict;
        let Some(frags) = conn.frags.as_deref() else {
            return Ok(());
        };
        // `client.purpose` is per statement: the connection's client fragment ends with
        // `"purpose":null}`; a statement with a purpose gets its own copy.
        let with_purpose = verdict
            .purpose
            .as_deref()
            .and_then(|p| audit::client_with_purpose(&frags.client, p));
        let client = with_purpose.as_deref().unwrap_or(&frags.client);
        let mut id = [0u8; 36];
        let ev = audit::StatementEvent {
            schema: audit::SCHEMA,
            event_id: self.ids.next_into(&mut id),
            time: self.times.format(self.clock.wall_ns(rec.start_ns)),
            kind: Kind::Statement,
            source: None,
            host: &self.host_raw,
            client,
            server: &frags.server,
            db: &frags.db,
            session: &frags.session,
            statement: j.statement_ref(rec),
            outcome: Some(audit::outcome_of(rec, self.keep_literals)),
            classification: j.classification_ref(),
            policy: j.policy_ref(),
            approval: None,
            // The connection's own context (a purpose makes the client part per statement).
            context_hash: with_purpose.is_none().then_some(frags.context_hash),
        };
        self.stats.events += 1;
        let alert = verdict.action != crate::policy::Action::Allow;
        self.out
            .write_json(&ev, Route::session(Kind::Statement, conn.id, alert))?;
        Ok(())
    }
}

/// `ip:port` (or `[ip6]:port`) as a socket address.
fn endpoint(a: &Option<String>) -> Option<std::net::SocketAddr> {
    a.as_deref().and_then(|x| x.parse().ok())
}

fn session_fields(conn: &Conn, info: &SessionInfo) -> audit::Session {
    audit::Session {
        id: format!("{:016x}", conn.id),
        transport: conn.transport.into(),
        tls: info.tls,
        inspectable: info.inspectable,
        observed_at: if conn.role == ROLE_CLIENT {
            "client".into()
        } else {
            "server".into()
        },
        server_version: info.server_version.clone(),
        backend_id: info.backend_id,
        mid_session: conn.mid_session,
    }
}

/// The path a Unix socket is bound to (for an accepted socket, its listener's path), from
/// `/proc/net/unix`.
fn unix_path_of(inode: u64) -> Option<String> {
    let text = std::fs::read_to_string("/proc/net/unix").ok()?;
    crate::capture::parse_proc_net_unix(&text)
        .into_iter()
        .find(|u| u.inode == inode)
        .and_then(|u| u.path)
}

/// The local address of a process's TCP socket, from `/proc/PID/fd` and `/proc/net/tcp{,6}`.
pub fn local_endpoint(tgid: u32, fd: u32) -> Option<(IpAddr, u16)> {
    let link = std::fs::read_link(format!("/proc/{tgid}/fd/{fd}")).ok()?;
    let inode: u64 = link
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()?;
    for file in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{tgid}/net/{file}")).ok()?;
        for e in crate::capture::parse_proc_net_tcp(&text) {
            if e.inode == inode {
                return Some((e.local.0, e.local.1));
            }
        }
    }
    None
}
