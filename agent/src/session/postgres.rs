//! PostgreSQL conversation: pairs client requests (simple and extended protocol, COPY) with the
//! server's responses and reports one [`StatementRecord`] per Query message and per Execute.
//!
//! Responses arrive in request order, so the state is a queue of outstanding requests. Named
//! and unnamed prepared statements and portals are tracked per connection, including pipelined
//! messages before a Sync. An Execute of a statement prepared before the agent joined still
//! yields a statement (with `text: None` and the statement name).
use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::protocol::postgres::{
    BackendDecoder, BackendMessage, FieldDescription, FrontendDecoder, FrontendMessage, GapFit,
    DEFAULT_MAX_FRAME,
};
use crate::session::{
    Conversation, Flow, GapReason, RequestRecord, ResultColumn, SessionEvent, SessionInfo,
    SessionOptions, StatementRecord, Status, VersionedInfo,
};

/// Upper bound on tracked prepared statements and portals per connection.
const MAX_PREPARED: usize = 10_000;
/// Upper bound on the outstanding request queue (a client pipelining more is reported as a gap).
const MAX_QUEUE: usize = 100_000;

#[derive(Clone, Debug)]
struct Prepared {
    /// Checked as UTF-8 (invalid sequences replaced) once, at Parse.
    text: Arc<str>,
    /// The statement's name, for the records of its executions (made once, at Parse).
    name: Arc<str>,
    params: u16,
    columns: Arc<[ResultColumn]>,
    /// The Parse was not captured whole: `text` is its head.
    truncated: bool,
}

#[derive(Clone, Debug)]
struct Portal {
    statement: Arc<str>,
    text: Option<Arc<str>>,
    truncated: bool,
    params: u32,
    values: Option<Vec<Option<String>>>,
    columns: Arc<[ResultColumn]>,
}

#[derive(Debug)]
enum Pending {
    Simple(Box<StatementRecord>),
    Parse {
        name: String,
        text: Bytes,
        start_ns: u64,
    },
    Bind {
        portal: String,
        start_ns: u64,
    },
    Describe {
        portal: bool,
        name: String,
    },
    /// An Execute, with the portal it runs.
    Execute(Box<StatementRecord>, String),
    Close,
    Sync,
}

/// Prepared statements or portals by name. The unnamed one (`""`), which PostgreSQL replaces
/// at every Parse or Bind and most drivers use for most statements, is kept apart from the
/// map: comparing an empty key calls `memcmp` on an unallocated pointer, and glibc's AVX-512
/// `memcmp` then makes a masked load the CPU has to suppress, which cost about 90 ns a compare
/// on this project's machines (a map lookup of a short name costs under 5).
struct Named<T> {
    unnamed: Option<T>,
    /// foldhash, seeded per map: names are the client's, but looked up on every Bind and
    /// Execute, where SipHash cost more than the rest of the lookup.
    named: foldhash::HashMap<String, T>,
}

impl<T> Default for Named<T> {
    fn default() -> Self {
        Self {
            unnamed: None,
            named: foldhash::HashMap::default(),
        }
    }
}

impl<T> Named<T> {
    fn get(&self, name: &str) -> Option<&T> {
        if name.is_empty() {
            self.unnamed.as_ref()
        } else {
            self.named.get(name)
        }
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        if name.is_empty() {
            self.unnamed.as_mut()
        } else {
            self.named.get_mut(name)
        }
    }

    fn remove(&mut self, name: &str) -> Option<T> {
        if name.is_empty() {
            self.unnamed.take()
        } else {
            self.named.remove(name)
        }
    }

    /// Defines `name`; a new name is dropped once [`MAX_PREPARED`] are held (its statements
    /// are still reported, without their text).
    fn insert(&mut self, name: String, v: T) {
        if name.is_empty() {
            self.unnamed = Some(v);
        } else if self.named.len() < MAX_PREPARED || self.named.contains_key(&name) {
            self.named.insert(name, v);
        }
    }
}

/// Makes `slot` share `v`, unless it does already (no reference count to raise and lower).
fn share<T: ?Sized>(slot: &mut Arc<T>, v: &Arc<T>) {
    if !Arc::ptr_eq(slot, v) {
        *slot = v.clone();
    }
}

/// As [`share`], for a slot that may be empty.
fn share_opt<T: ?Sized>(slot: &mut Option<Arc<T>>, v: &Arc<T>) {
    if !slot.as_ref().is_some_and(|a| Arc::ptr_eq(a, v)) {
        *slot = Some(v.clone());
    }
}

/// `a == b`, without a `memcmp` call for empty strings (see [`Named`]).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// The PostgreSQL [`Conversation`].
pub struct PgSession {
    opts: SessionOptions,
    info: VersionedInfo,
    fe: FrontendDecoder,
    be: BackendDecoder,
    fe_buf: BytesMut,
    be_buf: BytesMut,
    fe_resync: bool,
    be_resync: bool,
    queue: VecDeque<Pending>,
    statements: Named<Prepared>,
    portals: Named<Portal>,
    started: bool,
    ended: bool,
    /// Bytes of COPY data seen for the statement in progress.
    copy_bytes: u64,
    /// Bytes are TLS records the agent cannot read.
    opaque: bool,
    /// DataRows since the last CommandComplete.
    sub_rows: u64,
    /// Joined mid-session and no server bytes seen yet: trust a clean frame boundary.
    be_join: bool,
    /// The frontend message being handled was not captured whole.
    fe_truncated: bool,
    /// Server bytes were dropped to realign on a ReadyForQuery: the statement that
    /// ReadyForQuery completes may have lost its CommandComplete or ErrorResponse.
    be_dropped: bool,
    /// The columns of the last RowDescription, for the decoder's
    /// [`BackendMessage::RowDescriptionAgain`].
    last_columns: Arc<[ResultColumn]>,
}

/// The server side's decoder: it reports a repeated RowDescription as such, and the session
/// reuses the columns it made of the last one.
fn backend_decoder() -> BackendDecoder {
    let mut d = BackendDecoder::new(DEFAULT_MAX_FRAME);
    d.remember_row_descriptions();
    d
}

/// The client's decoder: Bind values are kept only when they are recorded.
fn frontend_decoder(d: FrontendDecoder, opts: &SessionOptions) -> FrontendDecoder {
    if opts.record_params {
        d
    } else {
        d.without_param_values()
    }
}

impl PgSession {
    pub fn new(opts: SessionOptions) -> Self {
        Self {
            fe: frontend_decoder(FrontendDecoder::new(DEFAULT_MAX_FRAME), &opts),
            opts,
            info: VersionedInfo::new(SessionInfo {
                inspectable: true,
                ..Default::default()
            }),
            be: backend_decoder(),
            fe_buf: BytesMut::new(),
            be_buf: BytesMut::new(),
            fe_resync: false,
            be_resync: false,
            queue: VecDeque::new(),
            statements: Named::default(),
            portals: Named::default(),
            started: false,
            ended: false,
            copy_bytes: 0,
            opaque: false,
            sub_rows: 0,
            be_join: false,
            fe_truncated: false,
            be_dropped: false,
            last_columns: Arc::default(),
        }
    }

    /// A session joined after its startup phase (connection found open at agent start): both
    /// directions resynchronise on the first plausible boundary.
    pub fn mid_session(opts: SessionOptions) -> Self {
        let mut s = Self::new(opts);
        s.fe = frontend_decoder(FrontendDecoder::mid_session(DEFAULT_MAX_FRAME), &s.opts);
        s.fe_resync = true;
        s.be_resync = true;
        s.be_join = true;
        s
    }

    /// Reports a request at request time, when asked to.
    /// Reports a request when asked to; the text and name are copied only then.
    fn request(
        &self,
        text: Option<&str>,
        prepared: bool,
        statement_name: Option<&str>,
        ts_ns: u64,
        out: &mut Vec<SessionEvent>,
    ) {
        if self.opts.request_events {
            out.push(SessionEvent::Request(Box::new(RequestRecord {
                text: text.map(str::to_owned),
                prepared,
                statement_name: statement_name.map(str::to_owned),
                ts_ns,
            })));
        }
    }

    fn start(&mut self, out: &mut Vec<SessionEvent>) {
        if !self.started {
            self.started = true;
            out.push(SessionEvent::Start(self.info.clone()));
        }
    }

    fn on_frontend(&mut self, msg: FrontendMessage, ts: u64, out: &mut Vec<SessionEvent>) {
        if self.queue.len() >= MAX_QUEUE {
            self.fail_all(ts, out);
            out.push(SessionEvent::Gap {
                flow: Flow::ServerToClient,
                bytes: 0,
                reason: GapReason::QueueOverflow,
                detail: Some(format!("{MAX_QUEUE} requests in flight")),
            });
        }
        match msg {
            FrontendMessage::Startup { params, .. } => {
                for (k, v) in params {
                    match k.as_str() {
                        "user" => self.info.edit().user = Some(v),
                        "database" => self.info.edit().database = Some(v),
                        "application_name" => self.info.edit().application = Some(v),
                        _ => {}
                    }
                }
                if self.info.database.is_none() {
                    self.info.edit().database = self.info.user.clone();
                }
            }
            FrontendMessage::SslRequest | FrontendMessage::GssEncRequest => {
                self.be.expect_ssl_response();
            }
            FrontendMessage::CancelRequest { .. } => {}
            FrontendMessage::Query { text } => {
                self.copy_bytes = 0;
                let text = lossy(&text);
                self.request(Some(&*text), false, None, ts, out);
                let mut rec = StatementRecord::new(Some(text), ts);
                rec.truncated = self.fe_truncated;
                self.queue.push_back(Pending::Simple(Box::new(rec)));
            }
            FrontendMessage::Parse {
                name,
                text,
                param_types,
            } => {
                self.statements.insert(
                    name.clone(),
                    Prepared {
                        text: lossy(&text),
                        name: name.as_str().into(),
                        params: param_types,
                        columns: Arc::default(),
                        truncated: self.fe_truncated,
                    },
                );
                if self.opts.request_events {
                    self.request(Some(&*lossy(&text)), true, Some(&name), ts, out);
                }
                self.queue.push_back(Pending::Parse {
                    name,
                    text,
                    start_ns: ts,
                });
            }
            FrontendMessage::Bind {
                portal,
                statement,
                params,
                param_count,
                param_formats,
                ..
            } => {
                let prepared = self.statements.get(&statement);
                let values = self.opts.record_params.then(|| {
                    params
                        .iter()
                        .enumerate()
                        .map(|(i, p)| {
                            p.as_ref().map(|v| {
                                let fmt = match param_formats.len() {
                                    0 => 0,
                                    1 => param_formats[0],
                                    _ => param_formats.get(i).copied().unwrap_or(0),
                                };
                                if fmt == 0 {
                                    crate::protocol::bytes_to_text(v)
                                } else {
                                    crate::protocol::bytes_to_hex(v)
                                }
                            })
                        })
                        .collect()
                });
                let truncated = prepared.is_some_and(|s| s.truncated);
                if let Some(p) = self.portals.get_mut(&portal) {
                    // The portal redefined (the unnamed one, at every Bind of most drivers):
                    // updated in place, and what it shares with its statement already (the
                    // same statement bound again) is kept, not cloned and dropped.
                    match prepared {
                        Some(s) => {
                            share_opt(&mut p.text, &s.text);
                            share(&mut p.columns, &s.columns);
                            share(&mut p.statement, &s.name);
                        }
                        None => {
                            p.text = None;
                            p.columns = Arc::default();
                            p.statement = statement.into();
                        }
                    }
                    p.truncated = truncated;
                    p.params = param_count;
                    p.values = values;
                } else {
                    let p = Portal {
                        text: prepared.map(|s| s.text.clone()),
                        truncated,
                        columns: prepared.map(|s| s.columns.clone()).unwrap_or_default(),
                        statement: prepared.map_or_else(|| statement.into(), |s| s.name.clone()),
                        params: param_count,
                        values,
                    };
                    self.portals.insert(portal.clone(), p);
                }
                self.queue.push_back(Pending::Bind {
                    portal,
                    start_ns: ts,
                });
            }
            FrontendMessage::Describe { portal, name } => {
                self.queue.push_back(Pending::Describe { portal, name });
            }
            FrontendMessage::Execute { portal, .. } => {
                self.copy_bytes = 0;
                let p = self.portals.get(&portal);
                let mut rec = StatementRecord::new(p.and_then(|p| p.text.clone()), ts);
                rec.prepared = true;
                rec.truncated = p.is_some_and(|p| p.truncated);
                rec.statement_name = Some(match p {
                    Some(p) => p.statement.clone(),
                    None => portal.as_str().into(),
                });
                rec.params = p.map(|p| p.params);
                rec.param_values = p.and_then(|p| p.values.clone());
                rec.columns = p.map(|p| p.columns.clone()).unwrap_or_default();
                self.request(
                    rec.text.as_deref(),
                    true,
                    rec.statement_name.as_deref(),
                    ts,
                    out,
                );
                self.queue
                    .push_back(Pending::Execute(Box::new(rec), portal));
            }
            FrontendMessage::Close { portal, name } => {
                if portal {
                    self.portals.remove(&name);
                } else {
                    self.statements.remove(&name);
                }
                self.queue.push_back(Pending::Close);
            }
            FrontendMessage::Sync => self.queue.push_back(Pending::Sync),
            FrontendMessage::Flush => {}
            FrontendMessage::Terminate => {
                self.fail_all(ts, out);
                if !self.ended {
                    self.ended = true;
                    out.push(SessionEvent::End);
                }
            }
            FrontendMessage::CopyData { len } => self.copy_bytes += len as u64,
            FrontendMessage::CopyDone | FrontendMessage::CopyFail { .. } => {}
            FrontendMessage::Auth | FrontendMessage::FunctionCall => {}
            FrontendMessage::Oversize { tag, len } => {
                if tag == b'Q' {
                    let mut rec = StatementRecord::new(None, ts);
                    rec.error_message =
                        Some(format!("query of {len} bytes exceeds the decoder limit"));
                    self.queue.push_back(Pending::Simple(Box::new(rec)));
                } else if tag == b'P' || tag == b'B' || tag == b'E' {
                    out.push(SessionEvent::Gap {
                        flow: Flow::ClientToServer,
                        bytes: len as u64,
                        reason: GapReason::OversizeFrame,
                        detail: None,
                    });
                }
            }
        }
    }

    /// Gives a RowDescription's columns to what it answers: a Describe (of a portal: the
    /// Executes queued for it and its prepared statement; of a statement: the statement),
    /// or the query or execution under way.
    fn row_description(&mut self, cols: Arc<[ResultColumn]>) {
        match self.queue.front_mut() {
            Some(Pending::Describe { portal, name }) => {
                if *portal {
                    // Drivers that Bind, Describe the portal, then Execute (psycopg 3,
                    // node-postgres): the answer belongs to the Executes of that portal
                    // already queued, and is kept with the prepared statement for
                    // later executions.
                    let name = name.clone();
                    self.queue.pop_front();
                    if let Some(p) = self.portals.get_mut(&name) {
                        // The same description again (a statement described at every
                        // execution) leaves what holds it already untouched.
                        // A portal holds its statement's columns from its Bind on: when it
                        // has these, so has the statement.
                        if !Arc::ptr_eq(&p.columns, &cols) {
                            p.columns = cols.clone();
                            if let Some(s) = self.statements.get_mut(&p.statement) {
                                share(&mut s.columns, &cols);
                            }
                        }
                    }
                    for q in self.queue.iter_mut() {
                        match q {
                            Pending::Execute(r, p) if same(p, &name) => {
                                share(&mut r.columns, &cols);
                            }
                            // A later Bind may redefine the portal.
                            Pending::Bind { portal, .. } if same(portal, &name) => break,
                            _ => {}
                        }
                    }
                } else {
                    if let Some(s) = self.statements.get_mut(name) {
                        s.columns = cols;
                    }
                    self.queue.pop_front();
                }
            }
            Some(Pending::Simple(r)) | Some(Pending::Execute(r, _)) => {
                r.columns = cols;
            }
            _ => {}
        }
    }

    fn finish(&mut self, mut rec: Box<StatementRecord>, ts: u64, out: &mut Vec<SessionEvent>) {
        rec.end_ns = ts;
        if rec.status != Status::Ok {
            self.sub_rows = 0;
        }
        if self.copy_bytes > 0 {
            rec.copy_bytes = Some(self.copy_bytes);
            self.copy_bytes = 0;
        }
        out.push(SessionEvent::Statement(rec));
    }

    /// Drops requests up to (not including) the next Sync, after an error in an extended batch.
    fn skip_to_sync(&mut self) {
        while let Some(p) = self.queue.front() {
            if matches!(p, Pending::Sync) {
                break;
            }
            self.queue.pop_front();
        }
    }

    fn on_backend(&mut self, msg: BackendMessage, ts: u64, out: &mut Vec<SessionEvent>) {
        match msg {
            BackendMessage::SslResponse { accepted } => {
                if accepted {
                    // Ciphertext from here on. The pipeline either feeds the plaintext from the
                    // TLS library uprobes (see `tls_plaintext`) or reports the session as not
                    // inspectable.
                    self.info.edit().tls = true;
                    self.info.edit().inspectable = false;
                    self.opaque = true;
                } else {
                    self.fe.expect_startup();
                }
            }
            BackendMessage::Authentication { .. } => {}
            BackendMessage::ParameterStatus { name, value } => match name.as_str() {
                "server_version" => self.info.edit().server_version = Some(value),
                "application_name"
                    if self.started && self.info.application.as_deref() != Some(value.as_str()) =>
                {
                    self.info.edit().application = Some(value);
                    out.push(SessionEvent::Update(self.info.clone()));
                }
                "application_name" if !self.started => {
                    self.info.edit().application = Some(value).filter(|v| !v.is_empty())
                }
                _ => {}
            },
            BackendMessage::BackendKeyData { pid } => {
                self.info.edit().backend_id = Some(pid as u64)
            }
            BackendMessage::ReadyForQuery { .. } => {
                self.start(out);
                // Completes a simple query, or answers a Sync.
                let dropped = std::mem::take(&mut self.be_dropped);
                while let Some(p) = self.queue.pop_front() {
                    match p {
                        Pending::Simple(mut rec) => {
                            if dropped && rec.status == Status::Ok {
                                // Its answer may have been in the bytes dropped to realign.
                                rec.status = Status::Incomplete;
                            }
                            self.finish(rec, ts, out);
                            break;
                        }
                        Pending::Sync => break,
                        Pending::Execute(mut rec, _) => {
                            rec.status = Status::Incomplete;
                            self.finish(rec, ts, out);
                        }
                        _ => {}
                    }
                }
            }
            BackendMessage::RowDescription { fields } => {
                // The names move from the decoded message: no copy per column.
                let cols: Arc<[ResultColumn]> = fields.into_iter().map(column).collect();
                self.last_columns = cols.clone();
                self.row_description(cols);
            }
            BackendMessage::RowDescriptionAgain => self.row_description(self.last_columns.clone()),
            BackendMessage::NoData => {
                if matches!(self.queue.front(), Some(Pending::Describe { .. })) {
                    self.queue.pop_front();
                }
            }
            BackendMessage::ParameterDescription { count } => {
                if let Some(Pending::Describe {
                    portal: false,
                    name,
                }) = self.queue.front()
                {
                    if let Some(s) = self.statements.get_mut(name) {
                        s.params = count;
                    }
                }
            }
            BackendMessage::DataRow => self.sub_rows += 1,
            BackendMessage::CommandComplete {
                command: cmd,
                rows: n,
            } => {
                let counted = std::mem::take(&mut self.sub_rows);
                let n = n.or((counted > 0).then_some(counted));
                match self.queue.front_mut() {
                    Some(Pending::Simple(r)) => {
                        // Several statements in one Query: rows add up, the first tag names it.
                        if let Some(n) = n {
                            r.rows = Some(r.rows.unwrap_or(0) + n);
                        }
                        if r.tag.is_none() {
                            r.tag = Some(cmd);
                        }
                    }
                    Some(Pending::Execute(_, _)) => {
                        if let Some(Pending::Execute(mut r, _)) = self.queue.pop_front() {
                            r.rows = n;
                            r.tag = Some(cmd);
                            self.finish(r, ts, out);
                        }
                    }
                    _ => {}
                }
            }
            BackendMessage::EmptyQueryResponse => {
                if let Some(Pending::Execute(_, _)) = self.queue.front() {
                    if let Some(Pending::Execute(r, _)) = self.queue.pop_front() {
                        self.finish(r, ts, out);
                    }
                }
            }
            BackendMessage::PortalSuspended => {
                if let Some(Pending::Execute(_, _)) = self.queue.front() {
                    if let Some(Pending::Execute(mut r, _)) = self.queue.pop_front() {
                        let counted = std::mem::take(&mut self.sub_rows);
                        r.rows = Some(counted);
                        self.finish(r, ts, out);
                    }
                }
            }
            BackendMessage::ErrorResponse(f) => {
                let code = f.code.clone();
                let message = f.message.clone();
                match self.queue.pop_front() {
                    Some(Pending::Simple(mut r)) => {
                        r.status = Status::Error;
                        r.error_code = code;
                        r.error_message = message;
                        // Completed by the ReadyForQuery that follows.
                        self.queue.push_front(Pending::Simple(r));
                    }
                    Some(Pending::Execute(mut r, _)) => {
                        r.status = Status::Error;
                        r.error_code = code;
                        r.error_message = message;
                        self.finish(r, ts, out);
                        self.skip_to_sync();
                    }
                    Some(Pending::Parse {
                        name,
                        text,
                        start_ns,
                    }) => {
                        let mut r = StatementRecord::new(Some(lossy(&text)), start_ns);
                        r.prepared = true;
                        r.statement_name = Some(name.as_str().into());
                        r.status = Status::Error;
                        r.error_code = code;
                        r.error_message = message;
                        self.statements.remove(&name);
                        self.finish(Box::new(r), ts, out);
                        self.skip_to_sync();
                    }
                    Some(Pending::Bind { portal, start_ns }) => {
                        let p = self.portals.remove(&portal);
                        let mut r =
                            StatementRecord::new(p.as_ref().and_then(|p| p.text.clone()), start_ns);
                        r.prepared = true;
                        r.statement_name = p.map(|p| p.statement);
                        r.status = Status::Error;
                        r.error_code = code;
                        r.error_message = message;
                        self.finish(Box::new(r), ts, out);
                        self.skip_to_sync();
                    }
                    Some(Pending::Sync) => {
                        // An error outside any request (e.g. during startup): keep the Sync.
                        self.queue.push_front(Pending::Sync);
                    }
                    Some(_) => self.skip_to_sync(),
                    None => {
                        if !self.started {
                            // Authentication failed: the session never started.
                            let mut r = StatementRecord::new(None, ts);
                            r.status = Status::Error;
                            r.error_code = code;
                            r.error_message = message;
                            r.tag = Some("LOGIN".into());
                            self.start(out);
                            self.finish(Box::new(r), ts, out);
                        }
                    }
                }
            }
            BackendMessage::ParseComplete => {
                if matches!(self.queue.front(), Some(Pending::Parse { .. })) {
                    self.queue.pop_front();
                }
            }
            BackendMessage::BindComplete => {
                if matches!(self.queue.front(), Some(Pending::Bind { .. })) {
                    self.queue.pop_front();
                }
            }
            BackendMessage::CloseComplete => {
                if matches!(self.queue.front(), Some(Pending::Close)) {
                    self.queue.pop_front();
                }
            }
            BackendMessage::CopyData { len } => self.copy_bytes += len as u64,
            BackendMessage::CopyInResponse
            | BackendMessage::CopyOutResponse
            | BackendMessage::CopyBothResponse
            | BackendMessage::CopyDone
            | BackendMessage::NoticeResponse
            | BackendMessage::Notification
            | BackendMessage::NegotiateProtocolVersion
            | BackendMessage::FunctionCallResponse
            | BackendMessage::Oversize { .. } => {}
        }
    }

    /// Reports every outstanding statement as incomplete and forgets the queue.
    fn fail_all(&mut self, ts: u64, out: &mut Vec<SessionEvent>) {
        while let Some(p) = self.queue.pop_front() {
            if let Pending::Simple(mut r) | Pending::Execute(mut r, _) = p {
                r.status = Status::Incomplete;
                self.finish(r, ts, out);
            }
        }
    }

    fn pump_frontend(&mut self, ts: u64, out: &mut Vec<SessionEvent>) {
        loop {
            if self.fe_resync {
                let dropped = self.fe.resync(&mut self.fe_buf);
                if self.fe_buf.is_empty() {
                    let _ = dropped;
                    return;
                }
                self.fe_resync = false;
            }
            match self.fe.decode(&mut self.fe_buf) {
                Ok(Some(m)) => {
                    let was_startup_ssl = matches!(
                        m,
                        FrontendMessage::SslRequest | FrontendMessage::GssEncRequest
                    );
                    self.on_frontend(m, ts, out);
                    if was_startup_ssl {
                        // Bytes after the request are TLS (or a new startup once refused).
                        self.fe.expect_startup();
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let n = self.fe_buf.len() as u64;
                    self.fe_resync = true;
                    out.push(SessionEvent::Gap {
                        flow: Flow::ClientToServer,
                        bytes: 0,
                        reason: GapReason::DecodeError,
                        detail: Some(e.to_string()),
                    });
                    let _ = n;
                    self.fail_all(ts, out);
                    self.be_resync = true;
                }
            }
        }
    }

    fn pump_backend(&mut self, ts: u64, out: &mut Vec<SessionEvent>) {
        loop {
            if self.be_join && !self.be_buf.is_empty() {
                self.be_join = false;
                if self.be.starts_with_frame(&self.be_buf) {
                    self.be_resync = false;
                }
            }
            if self.be_resync {
                if self.be.resync(&mut self.be_buf) > 0 {
                    self.be_dropped = true;
                }
                if self.be_buf.len() < 6 {
                    return;
                }
                self.be_resync = false;
            }
            match self.be.decode(&mut self.be_buf) {
                Ok(Some(m)) => self.on_backend(m, ts, out),
                Ok(None) => return,
                Err(e) => {
                    self.be_resync = true;
                    out.push(SessionEvent::Gap {
                        flow: Flow::ServerToClient,
                        bytes: 0,
                        reason: GapReason::DecodeError,
                        detail: Some(e.to_string()),
                    });
                    self.fail_all(ts, out);
                }
            }
        }
    }
}

fn column(f: FieldDescription) -> ResultColumn {
    ResultColumn {
        name: f.name,
        table_oid: (f.table_oid != 0).then_some(f.table_oid),
        attnum: (f.attnum > 0).then_some(f.attnum),
        ..Default::default()
    }
}

/// The text, shared from here on by the records and the prepared statement (one copy).
fn lossy(b: &[u8]) -> Arc<str> {
    crate::protocol::lossy(b).into()
}

impl Conversation for PgSession {
    fn on_data(&mut self, flow: Flow, data: &[u8], ts_ns: u64, out: &mut Vec<SessionEvent>) {
        if self.opaque {
            return;
        }
        match flow {
            Flow::ClientToServer => {
                self.fe_buf.extend_from_slice(data);
                self.pump_frontend(ts_ns, out);
            }
            Flow::ServerToClient => {
                self.be_buf.extend_from_slice(data);
                self.pump_backend(ts_ns, out);
            }
        }
    }

    fn on_gap(&mut self, flow: Flow, bytes: u64, ts_ns: u64, out: &mut Vec<SessionEvent>) {
        // A client write cut by the capture limit: the hole is inside the frame being
        // received, so framing holds. A Query or Parse is still reported from its head,
        // marked truncated, and nothing else is lost; the gap event still says how many bytes.
        if flow == Flow::ClientToServer && !self.fe_resync && !self.opaque {
            let fit = usize::try_from(bytes)
                .map(|n| self.fe.absorb_gap(&mut self.fe_buf, n))
                .unwrap_or(GapFit::Resync);
            if fit != GapFit::Resync {
                out.push(SessionEvent::Gap {
                    flow,
                    bytes,
                    reason: GapReason::MissingBytes,
                    detail: Some(
                        "inside a client message; the statement is reported truncated".into(),
                    ),
                });
                if let GapFit::Truncated(m) = fit {
                    self.fe_truncated = true;
                    self.on_frontend(m, ts_ns, out);
                    self.fe_truncated = false;
                }
                self.pump_frontend(ts_ns, out);
                return;
            }
        }
        self.be_join = false;
        out.push(SessionEvent::Gap {
            flow,
            bytes,
            reason: GapReason::MissingBytes,
            detail: None,
        });
        if self.opaque {
            return;
        }
        self.fail_all(ts_ns, out);
        match flow {
            Flow::ClientToServer => {
                self.fe_buf.clear();
                self.fe_resync = true;
            }
            Flow::ServerToClient => {
                self.be_buf.clear();
            }
        }
        // Responses can no longer be paired with certainty: realign on the next ReadyForQuery.
        self.be_resync = true;
    }

    fn on_close(&mut self, ts_ns: u64, out: &mut Vec<SessionEvent>) {
        self.fail_all(ts_ns, out);
        if !self.ended {
            self.ended = true;
            out.push(SessionEvent::End);
        }
    }

    fn info(&self) -> &SessionInfo {
        &self.info
    }

    fn info_version(&self) -> u64 {
        self.info.version()
    }

    fn tls_plaintext(&mut self) {
        // Also a session joined mid-stream, which never saw its SSLRequest.
        self.info.edit().tls = true;
        if self.opaque {
            self.opaque = false;
            self.info.edit().inspectable = true;
            self.fe_buf.clear();
            self.be_buf.clear();
            self.fe.expect_startup();
            self.be = backend_decoder();
        }
    }
}

#[cfg(test)]
mod tests;
