//! `dbgov proxy`: a protocol-aware relay in front of one PostgreSQL or MySQL server that
//! applies the policies before the server sees a statement.
//!
//! listener -> protocol (whole frames, forwarded unchanged) -> judge -> forward | block |
//! hold | mask -> session (the agent's state machines, fed what was forwarded) -> audit ->
//! sink. The relays ([`postgres`], [`mysql`]) own the sockets; everything they decide goes
//! through [`Shared::decide`], which calls the same [`Judge`] as the agent, and every event
//! goes through [`Conn::feed`] and the same [`Output`].
pub mod control;
pub mod mask;
pub mod mysql;
pub mod postgres;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use tokio::sync::{oneshot, Notify};

use crate::audit::{self, Approval, ApprovalStatus, Clock, Event, IdGen, Kind};
use crate::identity::ProcessInfo;
use crate::judge::{Engine, Judge, Judgement, Request, NO_TAGS};
use crate::policy::{Action, ColumnMask};
use crate::session::{Conversation, SessionEvent, SessionInfo, StatementRecord, Status};
use crate::sink::{Output, Route};

/// Errors of the proxy.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot reach the upstream server {addr}: {source}")]
    Upstream {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("client sent a bad frame: {0}")]
    ClientFrame(String),
    #[error("server sent a bad frame: {0}")]
    ServerFrame(String),
    #[error("output: {0}")]
    Output(#[from] crate::sink::SinkError),
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    #[error("control token file {path}: {source}")]
    Token {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What `dbgov proxy` is told.
#[derive(Clone)]
pub struct ProxyConfig {
    pub listen: SocketAddr,
    pub upstream: String,
    pub engine: Engine,
    /// The control API (approvals, identity announcements, block signals).
    pub control: Option<SocketAddr>,
    /// The shared secret of the control API (required with `control`).
    pub control_token: Option<String>,
    /// A held statement not decided in this time is refused.
    pub hold_timeout: Duration,
    /// How long a new connection waits for its identity announcement.
    pub identity_wait: Duration,
    /// Without an announced identity, refuse the connection (else go on with what the wire
    /// says: the db user and the client address).
    pub require_identity: bool,
    /// Largest frame a client may send; a larger one ends that session with an error.
    pub max_frame: usize,
    /// Keep literal values in texts and messages (off: redacted like the agent's events).
    pub keep_literals: bool,
    /// TLS offered to clients (PostgreSQL SSLRequest answered `S`).
    pub client_tls: Option<tokio_rustls::TlsAcceptor>,
    /// TLS to the server.
    pub upstream_tls: Option<tls::Upstream>,
    /// TLS on the control API.
    pub control_tls: Option<tokio_rustls::TlsAcceptor>,
    /// Where the policies come from (reloaded on SIGHUP); `None`: the built-in pack.
    pub policy_dir: Option<std::path::PathBuf>,
    /// Serve Prometheus metrics and `/healthz` here.
    pub metrics: Option<SocketAddr>,
}

impl std::fmt::Debug for tls::Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upstream({:?})", self.name)
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 6432)),
            upstream: "127.0.0.1:5432".into(),
            engine: Engine::Postgres,
            control: None,
            control_token: None,
            hold_timeout: Duration::from_secs(60),
            identity_wait: Duration::from_millis(50),
            require_identity: false,
            max_frame: 16 << 20,
            keep_literals: false,
            client_tls: None,
            upstream_tls: None,
            control_tls: None,
            policy_dir: None,
            metrics: None,
        }
    }
}

/// The proxy's answer to one statement.
#[derive(Debug)]
pub enum Decision {
    /// Send it on; mask these classes in its results.
    Forward {
        masks: Arc<Vec<ColumnMask>>,
        approval: Option<Approval>,
    },
    /// Answer with an error instead; the server never sees it.
    Refuse(Refusal),
}

/// Why a statement was refused, for the client's error and the event.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub message: String,
    pub rule: Option<String>,
    pub approval: Option<Approval>,
}

/// A held statement waiting for `dbgov approve` or `dbgov deny`.
struct Held {
    reply: oneshot::Sender<(bool, Option<String>, Option<u64>)>,
    conn: u64,
}

/// An identity announced by an agent for a client address.
#[derive(Clone, Debug)]
struct Announced {
    client: audit::Client,
    at: Instant,
}

/// A block signal from an agent: refuse this fingerprint on this connection.
#[derive(Clone, Debug)]
struct BlockSignal {
    rule: String,
    at: Instant,
}

/// State shared by every connection.
pub struct Shared {
    pub cfg: ProxyConfig,
    pub metrics: crate::metrics::Metrics,
    judge: Mutex<Judge>,
    out: Mutex<Output>,
    host: audit::Host,
    /// `host`, serialised once.
    host_raw: Box<RawValue>,
    ids: IdGen,
    clock: Clock,
    next_conn: AtomicU64,
    holds: Mutex<HashMap<String, Held>>,
    /// (fingerprint, identity) -> approved until.
    grants: Mutex<HashMap<(String, String), (Instant, Approval)>>,
    identities: Mutex<HashMap<SocketAddr, Announced>>,
    announced: Notify,
    signals: Mutex<HashMap<(SocketAddr, String), BlockSignal>>,
}

/// Locks, recovering the data if another task panicked while holding the lock (the data is
/// plain bookkeeping that stays consistent between statements).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Announcements and signals older than this are forgotten.
const ANNOUNCE_TTL: Duration = Duration::from_secs(600);

impl Shared {
    pub fn new(cfg: ProxyConfig, judge: Judge, out: Output, host: audit::Host) -> Self {
        Self {
            cfg,
            metrics: crate::metrics::Metrics::new(),
            judge: Mutex::new(judge),
            out: Mutex::new(out),
            host_raw: raw(&host).unwrap_or_default(),
            host,
            ids: IdGen::new(),
            clock: Clock::now(),
            next_conn: AtomicU64::new(1),
            holds: Mutex::new(HashMap::new()),
            grants: Mutex::new(HashMap::new()),
            identities: Mutex::new(HashMap::new()),
            announced: Notify::new(),
            signals: Mutex::new(HashMap::new()),
        }
    }

    /// Writes one event.
    fn emit<T: serde::Serialize>(&self, ev: &T, kind: Kind, session: u64, alert: bool) {
        self.emit_json(&audit::Ser(ev), kind, session, alert)
    }

    /// Writes one event with its own JSON writer.
    fn emit_json<T: audit::WriteJson + ?Sized>(
        &self,
        ev: &T,
        kind: Kind,
        session: u64,
        alert: bool,
    ) {
        let mut out = lock(&self.out);
        if let Err(e) = out.write_json(ev, Route::session(kind, session, alert)) {
            tracing::error!("output: {e}");
        }
    }

    /// Hands buffered events to the sink (called every 100 ms and at shutdown).
    pub fn flush(&self) {
        if let Err(e) = lock(&self.out).flush() {
            tracing::error!("output: {e}");
        }
    }

    /// Closes the output, waiting up to `grace` for deliveries.
    pub fn close(&self, grace: Duration) {
        if let Err(e) = lock(&self.out).close(grace) {
            tracing::error!("closing the output: {e}");
        }
    }

    /// Records an agent's announcement of who is behind `addr`.
    pub fn announce(&self, addr: SocketAddr, client: audit::Client) {
        let mut ids = lock(&self.identities);
        ids.retain(|_, a| a.at.elapsed() < ANNOUNCE_TTL);
        ids.insert(
            addr,
            Announced {
                client,
                at: Instant::now(),
            },
        );
        drop(ids);
        self.announced.notify_waiters();
    }

    /// Reloads the policies from the configured directory (SIGHUP); on an error the previous
    /// ones stay in force.
    pub fn reload_policy(&self) {
        let Some(dir) = &self.cfg.policy_dir else {
            eprintln!("dbgov proxy: SIGHUP: using the built-in policy pack, nothing to reload");
            return;
        };
        match crate::policy::Policy::load_dir(dir) {
            Ok(p) => {
                lock(&self.judge).set_policy(p);
                eprintln!(
                    "dbgov proxy: SIGHUP: policies reloaded from {}",
                    dir.display()
                );
            }
            Err(e) => eprintln!(
                "dbgov proxy: SIGHUP: policies NOT reloaded, the previous ones stay in force: {e}"
            ),
        }
    }

    /// Records an agent's block signal for a statement shape on a connection.
    pub fn signal_block(&self, addr: SocketAddr, fingerprint: String, rule: String) {
        let mut s = lock(&self.signals);
        s.retain(|_, b| b.at.elapsed() < ANNOUNCE_TTL);
        s.insert(
            (addr, fingerprint),
            BlockSignal {
                rule,
                at: Instant::now(),
            },
        );
    }

    /// The identity announced for `addr`, waiting up to `identity_wait` for it.
    async fn identity(&self, addr: SocketAddr) -> Option<audit::Client> {
        let deadline = tokio::time::Instant::now() + self.cfg.identity_wait;
        loop {
            let notified = self.announced.notified();
            if let Some(a) = lock(&self.identities).get(&addr) {
                return Some(a.client.clone());
            }
            if self.cfg.control.is_none()
                || tokio::time::timeout_at(deadline, notified).await.is_err()
            {
                return None;
            }
        }
    }

    /// Decides a held statement (`dbgov approve` / `dbgov deny`). False when no statement
    /// waits under that id.
    pub fn resolve_hold(
        &self,
        id: &str,
        approve: bool,
        by: Option<String>,
        for_secs: Option<u64>,
    ) -> bool {
        match lock(&self.holds).remove(id) {
            Some(h) => {
                tracing::info!(
                    "hold {id} on connection {} {} by {}",
                    h.conn,
                    if approve { "approved" } else { "denied" },
                    by.as_deref().unwrap_or("?")
                );
                h.reply.send((approve, by, for_secs)).is_ok()
            }
            None => false,
        }
    }

    /// Ids of the statements waiting for a decision.
    pub fn pending_holds(&self) -> Vec<String> {
        lock(&self.holds).keys().cloned().collect()
    }

    /// Judges a request and applies block signals and holds: the one decision per statement.
    async fn decide(&self, conn: &Conn, text: &str) -> Decision {
        let (verdict, fingerprint) = {
            let info = lock(&conn.session).info().clone();
            let j = conn.judge(self, &info, Some(text), None, &[]);
            let fp = j
                .analysis()
                .map(|a| a.fingerprint.clone())
                .unwrap_or_default();
            (j.verdict, fp)
        };
        let signal = lock(&self.signals)
            .get(&(conn.peer, fingerprint.clone()))
            .cloned();
        if let Some(s) = signal {
            return Decision::Refuse(Refusal {
                message: format!("blocked by dbgov: an agent signalled rule {}", s.rule),
                rule: Some(s.rule),
                approval: None,
            });
        }
        let masks = Arc::new(verdict.masks.clone());
        let rule = verdict.rules.first().cloned();
        match verdict.action {
            Action::Block => Decision::Refuse(Refusal {
                message: format!(
                    "blocked by dbgov: {}",
                    verdict.message.as_deref().unwrap_or("policy")
                ),
                rule,
                approval: None,
            }),
            Action::Hold => self.hold(conn, text, fingerprint, masks, rule).await,
            _ => Decision::Forward {
                masks,
                approval: None,
            },
        }
    }

    async fn hold(
        &self,
        conn: &Conn,
        text: &str,
        fingerprint: String,
        masks: Arc<Vec<ColumnMask>>,
        rule: Option<String>,
    ) -> Decision {
        let who = conn.identity_key();
        let key = (fingerprint, who);
        {
            let mut g = lock(&self.grants);
            g.retain(|_, (until, _)| *until > Instant::now());
            if let Some((_, a)) = g.get(&key) {
                return Decision::Forward {
                    masks,
                    approval: Some(a.clone()),
                };
            }
        }
        let id = self.ids.next();
        let (tx, rx) = oneshot::channel();
        lock(&self.holds).insert(
            id.clone(),
            Held {
                reply: tx,
                conn: conn.num,
            },
        );
        let mut approval = Approval {
            id: id.clone(),
            status: ApprovalStatus::Requested,
            by: None,
            for_secs: None,
        };
        conn.approval_event(self, text, &approval);
        self.flush();
        let outcome = tokio::time::timeout(self.cfg.hold_timeout, rx).await;
        lock(&self.holds).remove(&id);
        let message = match outcome {
            Ok(Ok((true, by, for_secs))) => {
                approval.status = ApprovalStatus::Approved;
                approval.by = by;
                approval.for_secs = for_secs;
                conn.approval_event(self, text, &approval);
                if let Some(s) = for_secs.filter(|s| *s > 0) {
                    lock(&self.grants).insert(
                        key,
                        (Instant::now() + Duration::from_secs(s), approval.clone()),
                    );
                }
                return Decision::Forward {
                    masks,
                    approval: Some(approval),
                };
            }
            Ok(Ok((false, by, _))) => {
                approval.status = ApprovalStatus::Denied;
                approval.by = by;
                format!("denied by dbgov: held statement {id} was denied")
            }
            _ => {
                approval.status = ApprovalStatus::TimedOut;
                format!(
                    "refused by dbgov: held statement {id} was not approved within {} s",
                    self.cfg.hold_timeout.as_secs()
                )
            }
        };
        conn.approval_event(self, text, &approval);
        Decision::Refuse(Refusal {
            message,
            rule,
            approval: Some(approval),
        })
    }
}

/// One proxied connection: its identity, the agent's session state machine fed with what
/// was forwarded, and the approvals its statements went through.
pub struct Conn {
    pub num: u64,
    id: String,
    pub peer: SocketAddr,
    engine: Engine,
    client: audit::Client,
    process: Option<Arc<ProcessInfo>>,
    session: Mutex<Box<dyn Conversation>>,
    /// Approvals of forwarded statements, by text, until their event is written.
    approvals: Mutex<HashMap<String, Approval>>,
    /// The connection parts of its events (`client`, `server`, `db`, `session`), serialised
    /// once and again only when the session facts change.
    frags: Mutex<Option<Frags>>,
    /// The client reached the proxy over TLS.
    pub client_tls: std::sync::atomic::AtomicBool,
    /// The session's start was written (its end is written only then).
    started: std::sync::atomic::AtomicBool,
    /// PostgreSQL: the transaction status of the last ReadyForQuery (0 before the first).
    pg_status: std::sync::atomic::AtomicU8,
}

fn raw<T: serde::Serialize>(v: &T) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(v).ok()
}

/// A connection's event parts as JSON.
struct Frags {
    info: SessionInfo,
    client: Box<RawValue>,
    server: Box<RawValue>,
    db: Box<RawValue>,
    session: Box<RawValue>,
}

/// The judge's view of an announced client.
fn process_of(c: &audit::Client) -> ProcessInfo {
    ProcessInfo {
        pid: c.pid.unwrap_or(0),
        comm: c.comm.clone().unwrap_or_default(),
        exe: c.exe.clone(),
        cmdline: c.cmdline.clone(),
        uid: c.uid.unwrap_or(u32::MAX),
        user: c.user.clone(),
        gid: c.gid.unwrap_or(u32::MAX),
        groups: c.groups.clone(),
        login_uid: c.login_uid,
        login_user: c.login_user.clone(),
        cgroup: c.cgroup.clone(),
        container_id: c.container_id.clone(),
        pod_uid: c.pod_uid.clone(),
        unit: c.unit.clone(),
        ancestors: c.ancestors.clone(),
        workload: c.workload.clone(),
        ..ProcessInfo::default()
    }
}

impl Conn {
    /// A new connection from `peer`, with the identity its agent announced (if any).
    async fn open(
        sh: &Shared,
        peer: SocketAddr,
        session: Box<dyn Conversation>,
    ) -> Result<Conn, Refusal> {
        let announced = sh.identity(peer).await;
        if announced.is_none() && sh.cfg.require_identity {
            return Err(Refusal {
                message: format!(
                    "refused by dbgov: no agent announced the client {peer} (identity required)"
                ),
                rule: None,
                approval: None,
            });
        }
        let process = announced.as_ref().map(process_of).map(Arc::new);
        let mut client = announced.unwrap_or_default();
        client.addr = Some(peer.to_string());
        client.purpose = None;
        Ok(Conn {
            num: sh.next_conn.fetch_add(1, Ordering::Relaxed),
            id: sh.ids.next(),
            peer,
            engine: sh.cfg.engine,
            client,
            process,
            session: Mutex::new(session),
            approvals: Mutex::new(HashMap::new()),
            pg_status: std::sync::atomic::AtomicU8::new(0),
            started: std::sync::atomic::AtomicBool::new(false),
            client_tls: std::sync::atomic::AtomicBool::new(false),
            frags: Mutex::new(None),
        })
    }

    /// Who is behind the connection, for `--for` approvals.
    fn identity_key(&self) -> String {
        let info = lock(&self.session).info().clone();
        format!(
            "{}|{}|{}",
            self.client
                .login_user
                .as_deref()
                .or(self.client.user.as_deref())
                .unwrap_or(""),
            info.user.as_deref().unwrap_or(""),
            self.peer.ip()
        )
    }

    fn judge(
        &self,
        sh: &Shared,
        info: &SessionInfo,
        text: Option<&str>,
        tag: Option<&str>,
        columns: &[crate::session::ResultColumn],
    ) -> Judgement {
        lock(&sh.judge).judge(&Request {
            engine: self.engine,
            db_name: info.database.as_deref(),
            db_user: info.user.as_deref(),
            db_application: info.application.as_deref(),
            text,
            tag,
            columns,
            process: self.process.as_ref(),
            host: &sh.host,
            tags: &NO_TAGS,
        })
    }

    /// Feeds bytes that were forwarded (client to server) or received (server to client) to
    /// the session state machine and writes the events it produces.
    pub fn feed(&self, sh: &Shared, flow: crate::session::Flow, data: &[u8]) {
        let now = audit::now_monotonic_ns();
        let mut evs = Vec::new();
        let info = {
            let mut s = lock(&self.session);
            s.on_data(flow, data, now, &mut evs);
            s.info().clone()
        };
        self.write_events(sh, &info, evs);
    }

    /// The connection ended.
    pub fn close(&self, sh: &Shared) {
        let now = audit::now_monotonic_ns();
        let mut evs = Vec::new();
        let info = {
            let mut s = lock(&self.session);
            s.on_close(now, &mut evs);
            s.info().clone()
        };
        self.write_events(sh, &info, evs);
        if self.started.load(Ordering::Relaxed) {
            let ev = self.base(sh, Kind::SessionEnd, now, &info);
            sh.emit(&ev, Kind::SessionEnd, self.num, false);
        }
    }

    fn write_events(&self, sh: &Shared, info: &SessionInfo, evs: Vec<SessionEvent>) {
        for e in evs {
            match e {
                SessionEvent::Start(i) => {
                    self.started.store(true, Ordering::Relaxed);
                    let ev = self.base(sh, Kind::SessionStart, audit::now_monotonic_ns(), &i);
                    sh.emit(&ev, Kind::SessionStart, self.num, false);
                }
                SessionEvent::Statement(rec) => {
                    let approval = if lock(&self.approvals).is_empty() {
                        None
                    } else {
                        rec.text
                            .as_deref()
                            .and_then(|t| lock(&self.approvals).remove(t))
                    };
                    self.write_statement(sh, info, &rec, approval.as_ref(), Kind::Statement, None);
                }
                SessionEvent::Gap {
                    flow,
                    bytes,
                    reason,
                    detail,
                } => {
                    let mut ev = self.base(sh, Kind::Gap, audit::now_monotonic_ns(), info);
                    ev.gap = Some(audit::Gap {
                        reason,
                        detail,
                        bytes,
                        flow: Some(flow),
                        events: None,
                    });
                    sh.emit(&ev, Kind::Gap, self.num, false);
                }
                SessionEvent::Update(_) | SessionEvent::End | SessionEvent::Request(_) => {}
            }
        }
    }

    /// Writes a statement's event (or, with `kind: Approval`, a held statement's approval
    /// event) from the connection's cached parts through the agent's borrowed event form: no
    /// copy of the connection parts per statement. `refused`: the proxy answered in the
    /// server's place; a refusal the policy did not decide itself (an agent's signal) is
    /// recorded as `block` with the rule that caused it.
    fn write_statement(
        &self,
        sh: &Shared,
        info: &SessionInfo,
        rec: &StatementRecord,
        approval: Option<&Approval>,
        kind: Kind,
        refused: Option<&Refusal>,
    ) {
        sh.metrics.statements.inc();
        let mut frags = lock(&self.frags);
        if frags.as_ref().is_none_or(|f| f.info != *info) {
            let base = self.base(sh, Kind::SessionStart, 0, info);
            let (Some(c), Some(s), Some(d), Some(x)) = (
                base.client.as_ref().and_then(raw),
                base.server.as_ref().and_then(raw),
                base.db.as_ref().and_then(raw),
                base.session.as_ref().and_then(raw),
            ) else {
                return;
            };
            *frags = Some(Frags {
                info: info.clone(),
                client: c,
                server: s,
                db: d,
                session: x,
            });
        }
        let Some(f) = frags.as_ref() else { return };
        let j = self.judge(
            sh,
            info,
            rec.text.as_deref(),
            rec.tag.as_deref(),
            &rec.columns,
        );
        let with_purpose = j
            .verdict
            .purpose
            .as_deref()
            .and_then(|p| audit::client_with_purpose(&f.client, p));
        let mut policy = j.policy_ref();
        let rules: Vec<String>;
        if let Some(r) = refused {
            if policy.verdict < Action::Hold {
                policy.verdict = Action::Block;
                if let Some(rule) = r.rule.as_ref().filter(|x| !policy.rules.contains(x)) {
                    rules = policy.rules.iter().chain([rule]).cloned().collect();
                    policy.rules = &rules;
                }
            }
        }
        let alert = kind == Kind::Approval || policy.verdict != Action::Allow;
        let (mut id, mut time) = ([0u8; 36], [0u8; 30]);
        let ev = audit::StatementEvent {
            schema: audit::SCHEMA,
            event_id: sh.ids.next_into(&mut id),
            time: audit::rfc3339_into(sh.clock.wall_ns(rec.start_ns), &mut time),
            kind,
            source: Some("proxy"),
            host: &sh.host_raw,
            client: with_purpose.as_deref().unwrap_or(&f.client),
            server: &f.server,
            db: &f.db,
            session: &f.session,
            statement: j.statement_ref(rec),
            outcome: (kind != Kind::Approval).then(|| audit::outcome_of(rec, sh.cfg.keep_literals)),
            classification: j.classification_ref(),
            policy,
            approval,
            context_hash: None,
        };
        sh.emit_json(&ev, kind, self.num, alert);
    }

    /// Remembers the approval of a statement about to be forwarded, for its event.
    fn approved(&self, text: &str, approval: Option<Approval>) {
        if let Some(a) = approval {
            lock(&self.approvals).insert(text.to_owned(), a);
        }
    }

    /// The event of a statement the proxy refused (the server never saw it).
    fn refused(&self, sh: &Shared, text: &str, prepared: bool, r: &Refusal, code: &str) {
        let info = lock(&self.session).info().clone();
        let mut rec = StatementRecord::new(Some(text.into()), audit::now_monotonic_ns());
        rec.prepared = prepared;
        rec.status = Status::Error;
        rec.error_code = Some(code.to_owned());
        rec.error_message = Some(r.message.clone());
        self.write_statement(
            sh,
            &info,
            &rec,
            r.approval.as_ref(),
            Kind::Statement,
            Some(r),
        );
    }

    /// An `approval` event: a held statement's request or decision.
    fn approval_event(&self, sh: &Shared, text: &str, a: &Approval) {
        let info = lock(&self.session).info().clone();
        let rec = StatementRecord::new(Some(text.into()), audit::now_monotonic_ns());
        self.write_statement(sh, &info, &rec, Some(a), Kind::Approval, None);
    }

    fn base(&self, sh: &Shared, kind: Kind, ts_ns: u64, info: &SessionInfo) -> Event {
        let mut ev = Event::new(
            kind,
            sh.ids.next(),
            audit::rfc3339(sh.clock.wall_ns(ts_ns)),
            sh.host.clone(),
        );
        ev.source = Some("proxy".into());
        ev.client = Some(self.client.clone());
        ev.server = Some(audit::Server {
            pid: None,
            exe: None,
            addr: Some(sh.cfg.upstream.clone()),
        });
        ev.db = Some(audit::Db {
            engine: self.engine.name().into(),
            user: info.user.clone(),
            name: info.database.clone(),
            application: info.application.clone(),
        });
        ev.session = Some(audit::Session {
            id: self.id.clone(),
            transport: "tcp".into(),
            tls: info.tls || self.client_tls.load(Ordering::Relaxed),
            inspectable: info.inspectable,
            observed_at: "proxy".into(),
            server_version: info.server_version.clone(),
            backend_id: info.backend_id,
            mid_session: false,
        });
        ev
    }
}

/// Ends a relay: closes the server's write side, waits for the server-to-client side and
/// ends the session (its last events).
async fn finish(
    front: Result<(), ProxyError>,
    back: tokio::task::JoinHandle<Result<(), ProxyError>>,
    sw: &mut tls::Wr,
    conn: &Conn,
    sh: &Shared,
) -> Result<(), ProxyError> {
    use tokio::io::AsyncWriteExt;
    let _ = sw.shutdown().await;
    let back = back.await;
    conn.close(sh);
    front?;
    back.map_err(|e| ProxyError::ServerFrame(format!("relay task: {e}")))?
}

/// Runs the proxy until SIGTERM or SIGINT.
pub async fn run(sh: Arc<Shared>) -> Result<(), ProxyError> {
    let listener = tokio::net::TcpListener::bind(sh.cfg.listen)
        .await
        .map_err(|source| ProxyError::Listen {
            addr: sh.cfg.listen,
            source,
        })?;
    if let Some(addr) = sh.cfg.control {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ProxyError::Listen { addr, source })?;
        tokio::spawn(control::serve(l, sh.clone()));
    }
    let flusher = sh.clone();
    tokio::spawn(async move {
        let mut t = tokio::time::interval(Duration::from_millis(100));
        loop {
            t.tick().await;
            flusher.flush();
        }
    });
    tracing::info!(
        "dbgov proxy: {} on {} -> {}",
        sh.cfg.engine.name(),
        sh.cfg.listen,
        sh.cfg.upstream
    );
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    if let Some(addr) = sh.cfg.metrics {
        // The judge's counts are read at each scrape, not per statement.
        let weak = Arc::downgrade(&sh);
        sh.metrics.on_scrape(Box::new(move |m| {
            if let Some(sh) = weak.upgrade() {
                m.set_judge(&lock(&sh.judge).counts());
                let out = lock(&sh.out);
                m.set_output(&out.counts());
                if let (Some(sp), Some((_, cap))) = (out.spool_shared(), out.spool_usage()) {
                    m.set_spool(sp, cap);
                }
            }
        }));
        sh.metrics.serve(addr).await?;
    }
    // Listening: a `Type=notify` unit is ready.
    sh.metrics.set_ready(true);
    notify(&[sd_notify::NotifyState::Ready]);
    loop {
        tokio::select! {
            r = listener.accept() => {
                let (sock, peer) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of descriptors and the like: say so, wait a little, go on.
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let sh = sh.clone();
                sh.metrics.connections_accepted.inc();
                tokio::spawn(async move {
                    sh.metrics.connections.inc();
                    let r = match sh.cfg.engine {
                        Engine::Postgres => postgres::relay(sock, peer, &sh).await,
                        Engine::Mysql => mysql::relay(sock, peer, &sh).await,
                    };
                    sh.metrics.connections.dec();
                    if let Err(e) = r {
                        tracing::info!("{peer}: {e}");
                    }
                });
            }
            _ = hup.recv() => {
                notify(&[sd_notify::NotifyState::Reloading]);
                sh.reload_policy();
                notify(&[sd_notify::NotifyState::Ready]);
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    sh.metrics.set_ready(false);
    notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("dbgov proxy: stopping");
    sh.close(Duration::from_secs(5));
    Ok(())
}

/// Tells systemd (a `Type=notify` unit) about the proxy's state; nothing without a unit.
fn notify(state: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(false, state) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    // Hashing first makes the lengths equal and the comparison's time independent of both.
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cret", b"s3cres"));
        assert!(!same_secret(b"s3cret", b"s3cret "));
        assert!(!same_secret(b"", b"x"));
    }
}
