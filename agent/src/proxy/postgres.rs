//! The PostgreSQL relay. Client frames are split and decoded by the agent's
//! [`FrontendDecoder`]; each Query and Parse is decided before it is forwarded. A refused
//! statement never reaches the server: the client gets an ErrorResponse (SQLSTATE 42501) and,
//! in the extended protocol, every message up to the next Sync is dropped, so the session
//! stays usable. Server frames pass unchanged, except DataRows of statements with masked
//! columns.
//!
//! What the proxy answers itself must come after the server's answers to what was sent
//! before: the client side numbers every message that ends in a ReadyForQuery (startup,
//! Query, Sync, FunctionCall) and the server side counts the ReadyForQuery messages, so each
//! injected answer goes out at its place.
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::mask::{mask_value, plan};
use super::tls::{plain, split, Rd, Wr};
use super::{lock, Conn, Decision, ProxyError, Refusal, Shared};
use crate::policy::{ColumnMask, MaskStyle};
use crate::protocol::postgres::encode;
use crate::protocol::postgres::{
    BackendDecoder, BackendMessage, FieldDescription, FrontendDecoder, FrontendMessage,
};
use crate::session::postgres::PgSession;
use crate::session::{Flow, ResultColumn, SessionOptions};

/// SQLSTATE of a refused statement: insufficient_privilege.
const REFUSED: &str = "42501";

/// An answer the proxy writes to the client in the server's place.
#[derive(Debug)]
struct Inject {
    /// Goes out once this many ReadyForQuery messages reached the client ...
    after: u64,
    /// ... or, when set, just before ReadyForQuery number `after` (an error inside a batch
    /// the server also answers).
    before_rfq: bool,
    bytes: Bytes,
}

/// A forwarded message whose answer may carry rows: what to mask in them.
#[derive(Debug)]
struct InFlight {
    /// The ReadyForQuery that ends its batch.
    sync: u64,
    kind: Unit,
    masks: Arc<Vec<ColumnMask>>,
    /// What the statement reads, when it has masks.
    facts: Option<Arc<Facts>>,
    /// The prepared statement it runs or describes (extended protocol).
    stmt: Option<String>,
    /// Execute: the result formats of its Bind.
    formats: Arc<Vec<i16>>,
}

/// What a statement with masks reads, to name the result columns.
#[derive(Debug, Default)]
struct Facts {
    /// The statement's only table, to name columns the wire gives by table OID.
    table: Option<String>,
    /// Bare names (lower case) of the columns it reads: a result column named otherwise is an
    /// alias, whose value may be a masked column's.
    read: std::collections::HashSet<String>,
    /// It reads `*` (result columns then carry their own names).
    star: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Query,
    Describe,
    Execute,
}

/// What a prepared statement was decided with.
#[derive(Clone, Debug)]
struct Prepared {
    masks: Arc<Vec<ColumnMask>>,
    facts: Option<Arc<Facts>>,
    /// The statement's name (for a portal: the statement it was bound from).
    name: String,
    /// A portal's result formats.
    formats: Arc<Vec<i16>>,
}

type Queue = Arc<Mutex<VecDeque<InFlight>>>;

const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
const GSSENC_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];

/// Answers the client's SSLRequest / GSSENCRequest before its startup packet: `S` and a TLS
/// handshake when the proxy has a certificate, `N` otherwise. Returns the connection (plain
/// or TLS) and the bytes of the startup packet already read.
async fn client_handshake(
    mut client: TcpStream,
    sh: &Shared,
    conn: &Conn,
) -> Result<(Rd, Wr, BytesMut), ProxyError> {
    let mut head = [0u8; 8];
    loop {
        client.read_exact(&mut head).await?;
        if head == GSSENC_REQUEST {
            client.write_all(b"N").await?;
            continue;
        }
        if head != SSL_REQUEST {
            let (r, w) = plain(client);
            return Ok((r, w, BytesMut::from(&head[..])));
        }
        match &sh.cfg.client_tls {
            Some(acceptor) => {
                client.write_all(b"S").await?;
                let tls = acceptor
                    .accept(client)
                    .await
                    .map_err(|e| ProxyError::Tls(format!("client handshake: {e}")))?;
                conn.client_tls
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                let (r, w) = split(tls);
                return Ok((r, w, BytesMut::new()));
            }
            None => client.write_all(b"N").await?,
        }
    }
}

/// Connects to the server, over TLS when configured (the server must accept it).
async fn connect_upstream(sh: &Shared) -> Result<(Rd, Wr), ProxyError> {
    let upstream_err = |source| ProxyError::Upstream {
        addr: sh.cfg.upstream.clone(),
        source,
    };
    let mut server = TcpStream::connect(&sh.cfg.upstream)
        .await
        .map_err(upstream_err)?;
    let _ = server.set_nodelay(true);
    let Some(up) = &sh.cfg.upstream_tls else {
        return Ok(plain(server));
    };
    server.write_all(&SSL_REQUEST).await?;
    let mut answer = [0u8; 1];
    server.read_exact(&mut answer).await?;
    if answer[0] != b'S' {
        return Err(ProxyError::Tls(format!(
            "the server {} refused TLS",
            sh.cfg.upstream
        )));
    }
    let tls = up
        .connector
        .connect(up.name.clone(), server)
        .await
        .map_err(|e| ProxyError::Tls(format!("server handshake: {e}")))?;
    Ok(split(tls))
}

/// Relays one client connection to the upstream server.
pub async fn relay(
    client: TcpStream,
    peer: SocketAddr,
    sh: &Arc<Shared>,
) -> Result<(), ProxyError> {
    let session = Box::new(PgSession::new(SessionOptions::default()));
    let conn = match Conn::open(sh, peer, session).await {
        Ok(c) => Arc::new(c),
        Err(r) => {
            let mut out = BytesMut::new();
            encode::error_response(&mut out, "FATAL", "28000", &r.message, None, None);
            let mut client = client;
            client.write_all(&out).await?;
            return Ok(());
        }
    };
    let _ = client.set_nodelay(true);
    let (mut cr, cw, first) = client_handshake(client, sh, &conn).await?;
    let (sr, mut sw) = connect_upstream(sh).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let queue: Queue = Arc::new(Mutex::new(VecDeque::new()));
    let back = tokio::spawn(server_to_client(
        sr,
        cw,
        rx,
        conn.clone(),
        sh.clone(),
        queue.clone(),
    ));
    let front = client_to_server(&mut cr, &mut sw, first, tx, &conn, sh, &queue).await;
    super::finish(front, back, &mut sw, &conn, sh).await
}

/// State of the client-to-server side.
struct Front {
    /// ReadyForQuery messages the forwarded messages will produce.
    sent_sync: u64,
    /// In the extended protocol: a refused message drops everything up to Sync.
    discard: Option<Refusal>,
    /// Messages forwarded since the last Sync.
    batch_forwarded: bool,
    statements: HashMap<String, Prepared>,
    /// Portal -> (statement, result formats).
    portals: HashMap<String, (String, Arc<Vec<i16>>)>,
}

async fn client_to_server(
    cr: &mut Rd,
    sw: &mut Wr,
    first: BytesMut,
    tx: mpsc::UnboundedSender<Inject>,
    conn: &Arc<Conn>,
    sh: &Arc<Shared>,
    queue: &Queue,
) -> Result<(), ProxyError> {
    let mut dec = FrontendDecoder::new(sh.cfg.max_frame);
    let mut buf = first;
    buf.reserve(16 << 10);
    let mut out = BytesMut::with_capacity(16 << 10);
    let mut f = Front {
        sent_sync: 0,
        discard: None,
        batch_forwarded: false,
        statements: HashMap::new(),
        portals: HashMap::new(),
    };
    let inject = |after: u64, before_rfq: bool, bytes: BytesMut| {
        let _ = tx.send(Inject {
            after,
            before_rfq,
            bytes: bytes.freeze(),
        });
    };
    let mut started = false;
    loop {
        // The startup packet's head may already be buffered (read with the SSLRequest check).
        if (started || buf.is_empty()) && cr.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        started = true;
        let t0 = std::time::Instant::now();
        loop {
            let (raw, msg) = match dec.next_frame(&mut buf) {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(e) => {
                    let mut err = BytesMut::new();
                    let text = format!("dbgov proxy: {e}; closing the session");
                    encode::error_response(&mut err, "FATAL", "08P01", &text, None, None);
                    flush(sw, &mut out, conn, sh).await?;
                    inject(f.sent_sync, false, err);
                    return Err(ProxyError::ClientFrame(e.to_string()));
                }
            };
            match msg {
                FrontendMessage::SslRequest | FrontendMessage::GssEncRequest => {
                    // Only before the startup packet (answered in `client_handshake`); a
                    // second request is refused.
                    inject(f.sent_sync, false, BytesMut::from(&b"N"[..]));
                    dec.expect_startup();
                }
                FrontendMessage::Startup { .. } | FrontendMessage::FunctionCall => {
                    f.sent_sync += 1;
                    out.extend_from_slice(&raw);
                }
                FrontendMessage::Query { text } => {
                    let text = String::from_utf8_lossy(&text).into_owned();
                    flush(sw, &mut out, conn, sh).await?;
                    match sh.decide(conn, &text).await {
                        Decision::Forward { masks, approval } => {
                            conn.approved(&text, approval);
                            f.sent_sync += 1;
                            lock(queue).push_back(InFlight {
                                sync: f.sent_sync,
                                kind: Unit::Query,
                                facts: facts(sh, conn, &text, &masks),
                                masks,
                                stmt: None,
                                formats: Arc::new(Vec::new()),
                            });
                            out.extend_from_slice(&raw);
                        }
                        Decision::Refuse(r) => {
                            conn.refused(sh, &text, false, &r, REFUSED);
                            let status = conn_status(conn);
                            let mut err = refusal_frame(&r);
                            encode::ready_for_query(&mut err, status);
                            inject(f.sent_sync, false, err);
                        }
                    }
                }
                FrontendMessage::Parse { name, text, .. } => {
                    if f.discard.is_some() {
                        continue;
                    }
                    let text = String::from_utf8_lossy(&text).into_owned();
                    flush(sw, &mut out, conn, sh).await?;
                    match sh.decide(conn, &text).await {
                        Decision::Forward { masks, approval } => {
                            conn.approved(&text, approval);
                            let facts = facts(sh, conn, &text, &masks);
                            f.statements.insert(
                                name.clone(),
                                Prepared {
                                    masks,
                                    facts,
                                    name,
                                    formats: Arc::new(Vec::new()),
                                },
                            );
                            f.batch_forwarded = true;
                            out.extend_from_slice(&raw);
                        }
                        Decision::Refuse(r) => {
                            conn.refused(sh, &text, true, &r, REFUSED);
                            f.discard = Some(r);
                        }
                    }
                }
                FrontendMessage::Bind {
                    portal,
                    statement,
                    result_formats,
                    ..
                } if f.discard.is_none() => {
                    f.portals
                        .insert(portal, (statement, Arc::new(result_formats.to_vec())));
                    f.batch_forwarded = true;
                    out.extend_from_slice(&raw);
                }
                FrontendMessage::Describe { portal, name } if f.discard.is_none() => {
                    f.in_flight(queue, Unit::Describe, portal, &name);
                    out.extend_from_slice(&raw);
                }
                FrontendMessage::Execute { portal, .. } if f.discard.is_none() => {
                    f.in_flight(queue, Unit::Execute, true, &portal);
                    out.extend_from_slice(&raw);
                }
                FrontendMessage::Sync => {
                    match f.discard.take() {
                        Some(r) if f.batch_forwarded => {
                            // The server answers what was sent before; the refusal goes
                            // right before its ReadyForQuery.
                            f.sent_sync += 1;
                            out.extend_from_slice(&raw);
                            inject(f.sent_sync, true, refusal_frame(&r));
                        }
                        Some(r) => {
                            let mut err = refusal_frame(&r);
                            encode::ready_for_query(&mut err, conn_status(conn));
                            inject(f.sent_sync, false, err);
                        }
                        None => {
                            f.sent_sync += 1;
                            out.extend_from_slice(&raw);
                        }
                    }
                    f.batch_forwarded = false;
                }
                FrontendMessage::Terminate => {
                    out.extend_from_slice(&raw);
                    flush(sw, &mut out, conn, sh).await?;
                    return Ok(());
                }
                _ if f.discard.is_some() => {}
                _ => {
                    f.batch_forwarded = true;
                    out.extend_from_slice(&raw);
                }
            }
        }
        flush(sw, &mut out, conn, sh).await?;
        sh.metrics.proxy_added("request", t0.elapsed());
    }
}

impl Front {
    /// A Describe or Execute forwarded in the current batch: what to mask in its answer.
    fn in_flight(&mut self, queue: &Queue, kind: Unit, portal: bool, name: &str) {
        let p = self.prepared_of(portal, name);
        lock(queue).push_back(InFlight {
            sync: self.sent_sync + 1,
            kind,
            masks: p.masks,
            facts: p.facts,
            stmt: Some(p.name),
            formats: p.formats,
        });
        self.batch_forwarded = true;
    }

    fn prepared_of(&self, portal: bool, name: &str) -> Prepared {
        let (stmt, formats) = if portal {
            match self.portals.get(name) {
                Some((s, fm)) => (s.as_str(), fm.clone()),
                None => ("", Arc::new(Vec::new())),
            }
        } else {
            (name, Arc::new(Vec::new()))
        };
        let mut p = self.statements.get(stmt).cloned().unwrap_or(Prepared {
            masks: Arc::new(Vec::new()),
            facts: None,
            name: stmt.to_owned(),
            formats: Arc::new(Vec::new()),
        });
        p.formats = formats;
        p
    }
}

/// What a statement with masks reads (from its cached analysis); nothing for the others.
fn facts(sh: &Shared, conn: &Conn, text: &str, masks: &[ColumnMask]) -> Option<Arc<Facts>> {
    if masks.is_empty() {
        return None;
    }
    let info = lock(&conn.session).info().clone();
    let j = conn.judge(sh, &info, Some(text), None, &[]);
    let a = j.analysis();
    Some(Arc::new(Facts {
        table: match j.tables() {
            [t] => Some(t.clone()),
            _ => None,
        },
        read: j
            .read()
            .iter()
            .map(|c| c.rsplit('.').next().unwrap_or(c).to_lowercase())
            .collect(),
        star: a.is_some_and(|a| !a.star.is_empty()),
    }))
}

/// The last transaction status the server reported.
fn conn_status(conn: &Conn) -> u8 {
    let s = conn.pg_status.load(std::sync::atomic::Ordering::Relaxed);
    if s == 0 {
        b'I'
    } else {
        s
    }
}

fn refusal_frame(r: &Refusal) -> BytesMut {
    let mut out = BytesMut::new();
    let detail = r.rule.as_deref().map(|id| format!("rule: {id}"));
    let hint = r
        .approval
        .as_ref()
        .map(|a| format!("approval id: {}", a.id));
    encode::error_response(
        &mut out,
        "ERROR",
        REFUSED,
        &r.message,
        detail.as_deref(),
        hint.as_deref(),
    );
    out
}

/// Writes what was gathered to the server and feeds it to the session.
async fn flush(
    sw: &mut Wr,
    out: &mut BytesMut,
    conn: &Conn,
    sh: &Shared,
) -> Result<(), ProxyError> {
    if out.is_empty() {
        return Ok(());
    }
    sw.write_all(out).await?;
    conn.feed(sh, Flow::ClientToServer, out);
    out.clear();
    Ok(())
}

/// State of the server-to-client side.
struct Back {
    seen_rfq: u64,
    pending: Vec<Inject>,
    /// How to mask the rows of the result being relayed.
    plan: Option<Vec<Option<(MaskStyle, usize)>>>,
    /// The result has a masked column in binary format: its rows are dropped and its end
    /// becomes an error.
    refuse: Option<String>,
    /// The columns of prepared statements, from their RowDescriptions: an Execute without a
    /// Describe in its batch (what drivers do after the first) is masked from these.
    described: HashMap<String, Vec<FieldDescription>>,
}

/// Prepared statements whose columns are remembered per connection.
const MAX_DESCRIBED: usize = 1024;

/// Why a result must be refused: a masked column in binary format.
fn binary_refusal(
    fields: &[FieldDescription],
    plan: &[Option<(MaskStyle, usize)>],
) -> Option<String> {
    fields
        .iter()
        .zip(plan)
        .find(|(f, m)| m.is_some() && f.format != 0)
        .map(|(f, _)| {
            format!(
                "refused by dbgov: column {} must be masked and is returned in binary format",
                f.name
            )
        })
}

/// A statement's described columns with the result formats of a Bind (none: text; one: for
/// all; else one per column).
fn with_formats(fields: &[FieldDescription], formats: &[i16]) -> Vec<FieldDescription> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| FieldDescription {
            format: match formats.len() {
                0 => 0,
                1 => formats[0],
                _ => formats.get(i).copied().unwrap_or(0),
            },
            ..f.clone()
        })
        .collect()
}

async fn server_to_client(
    mut sr: Rd,
    mut cw: Wr,
    mut rx: mpsc::UnboundedReceiver<Inject>,
    conn: Arc<Conn>,
    sh: Arc<Shared>,
    queue: Queue,
) -> Result<(), ProxyError> {
    let mut dec = BackendDecoder::new(usize::MAX >> 8);
    let mut buf = BytesMut::with_capacity(64 << 10);
    let mut out = BytesMut::with_capacity(64 << 10);
    let mut b = Back {
        seen_rfq: 0,
        pending: Vec::new(),
        plan: None,
        refuse: None,
        described: HashMap::new(),
    };
    let mut open = true;
    loop {
        tokio::select! {
            r = sr.read_buf(&mut buf) => {
                let start_len = buf.len() - r?;
                if buf.len() == start_len {
                    break;
                }
                let t0 = std::time::Instant::now();
                // The audit work comes after the client has its answer (off the latency
                // path); the session sees the server's bytes as they came.
                let fresh = Bytes::copy_from_slice(&buf[start_len..]);
                loop {
                    let (raw, msg) = match dec.next_frame(&mut buf) {
                        Ok(Some(x)) => x,
                        Ok(None) => break,
                        Err(e) => {
                            cw.write_all(&out).await?;
                            return Err(ProxyError::ServerFrame(e.to_string()));
                        }
                    };
                    on_backend(&mut b, raw, msg, &mut out, &conn, &sh, &queue);
                }
                cw.write_all(&out).await?;
                sh.metrics.proxy_added("response", t0.elapsed());
                out.clear();
                conn.feed(&sh, Flow::ServerToClient, &fresh);
            }
            inj = rx.recv(), if open => match inj {
                None => open = false,
                Some(i) if !i.before_rfq && i.after <= b.seen_rfq => {
                    cw.write_all(&i.bytes).await?;
                }
                Some(i) => b.pending.push(i),
            },
        }
    }
    let _ = cw.shutdown().await;
    Ok(())
}

fn on_backend(
    b: &mut Back,
    raw: Bytes,
    msg: BackendMessage,
    out: &mut BytesMut,
    conn: &Conn,
    sh: &Shared,
    queue: &Queue,
) {
    match msg {
        BackendMessage::RowDescription { fields } => {
            b.refuse = None;
            b.plan = row_plan(&fields, conn, sh, queue, &mut b.described);
            if let Some(p) = &b.plan {
                b.refuse = binary_refusal(&fields, p);
            }
            out.extend_from_slice(&raw);
        }
        BackendMessage::NoData => {
            pop_front_if(queue, Unit::Describe);
            out.extend_from_slice(&raw);
        }
        BackendMessage::DataRow => {
            if b.plan.is_none() && b.refuse.is_none() {
                described_plan(b, conn, sh, queue);
            }
            if b.refuse.is_some() {
                return;
            }
            match &b.plan {
                Some(p) if p.iter().any(Option::is_some) => mask_row(&raw, p, out),
                _ => out.extend_from_slice(&raw),
            }
        }
        BackendMessage::CommandComplete { .. }
        | BackendMessage::EmptyQueryResponse
        | BackendMessage::PortalSuspended => {
            pop_front_if(queue, Unit::Execute);
            b.plan = None;
            match b.refuse.take() {
                Some(m) => {
                    let mut e = BytesMut::new();
                    encode::error_response(&mut e, "ERROR", REFUSED, &m, None, None);
                    out.extend_from_slice(&e);
                }
                None => out.extend_from_slice(&raw),
            }
        }
        BackendMessage::ErrorResponse(_) => {
            b.plan = None;
            b.refuse = None;
            out.extend_from_slice(&raw);
        }
        BackendMessage::ReadyForQuery { status } => {
            b.seen_rfq += 1;
            let n = b.seen_rfq;
            conn.pg_status
                .store(status, std::sync::atomic::Ordering::Relaxed);
            lock(queue).retain(|q| q.sync > n);
            b.plan = None;
            b.refuse = None;
            let (now, later): (Vec<Inject>, Vec<Inject>) = std::mem::take(&mut b.pending)
                .into_iter()
                .partition(|i| i.after <= n);
            b.pending = later;
            for i in now.iter().filter(|i| i.before_rfq) {
                out.extend_from_slice(&i.bytes);
            }
            out.extend_from_slice(&raw);
            for i in now.iter().filter(|i| !i.before_rfq) {
                out.extend_from_slice(&i.bytes);
            }
        }
        _ => out.extend_from_slice(&raw),
    }
}

fn pop_front_if(queue: &Queue, unit: Unit) {
    let mut q = lock(queue);
    if q.front().is_some_and(|f| f.kind == unit) {
        q.pop_front();
    }
}

/// How to mask each column of a RowDescription, from the statement it answers.
fn row_plan(
    fields: &[FieldDescription],
    conn: &Conn,
    sh: &Shared,
    queue: &Queue,
    described: &mut HashMap<String, Vec<FieldDescription>>,
) -> Option<Vec<Option<(MaskStyle, usize)>>> {
    let (masks, facts) = {
        let mut q = lock(queue);
        let front = q.front()?;
        let r = (front.masks.clone(), front.facts.clone());
        if front.kind != Unit::Query {
            if let Some(name) = &front.stmt {
                if described.len() < MAX_DESCRIBED || described.contains_key(name) {
                    described.insert(name.clone(), fields.to_vec());
                }
            }
        }
        if front.kind == Unit::Describe {
            // Its Execute follows with the same statement: keep the plan for its rows.
            q.pop_front();
        }
        r
    };
    plan_fields(fields, &masks, facts, conn, sh)
}

/// The plan for an Execute whose batch carried no RowDescription: from the columns its
/// statement was described with and the formats of its Bind. Without them the rows cannot
/// be masked, and are refused.
fn described_plan(b: &mut Back, conn: &Conn, sh: &Shared, queue: &Queue) {
    let (masks, facts, stmt, formats) = {
        let q = lock(queue);
        let Some(front) = q.front().filter(|f| f.kind == Unit::Execute) else {
            return;
        };
        if front.masks.is_empty() {
            return;
        }
        (
            front.masks.clone(),
            front.facts.clone(),
            front.stmt.clone().unwrap_or_default(),
            front.formats.clone(),
        )
    };
    match b.described.get(&stmt) {
        Some(fields) => {
            let fields = with_formats(fields, &formats);
            b.plan = plan_fields(&fields, &masks, facts, conn, sh);
            if let Some(p) = &b.plan {
                b.refuse = binary_refusal(&fields, p);
            }
        }
        None => {
            b.refuse = Some(
                "refused by dbgov: the result has columns to mask and the proxy did not see \
                 them described"
                    .into(),
            );
        }
    }
}

/// How to mask each of `fields` under `masks`.
fn plan_fields(
    fields: &[FieldDescription],
    masks: &Arc<Vec<ColumnMask>>,
    facts: Option<Arc<Facts>>,
    conn: &Conn,
    sh: &Shared,
) -> Option<Vec<Option<(MaskStyle, usize)>>> {
    if masks.is_empty() {
        return None;
    }
    let facts = facts.unwrap_or_default();
    let table = facts.table.clone();
    let columns: Vec<ResultColumn> = fields
        .iter()
        .map(|f| ResultColumn {
            name: f.name.clone(),
            table_oid: Some(f.table_oid),
            attnum: Some(f.attnum),
            ..ResultColumn::default()
        })
        .collect();
    let db = lock(&conn.session)
        .info()
        .database
        .clone()
        .unwrap_or_default();
    let j = lock(&sh.judge);
    let names: Vec<String> = columns
        .iter()
        .map(|c| {
            let oid = c.table_oid.unwrap_or(0);
            let t = j
                .table_of_oid(&db, oid)
                .map(str::to_owned)
                .or_else(|| table.clone().filter(|_| oid != 0));
            match t {
                Some(t) => format!("{t}.{}", c.name),
                None => c.name.clone(),
            }
        })
        .collect();
    // Expressions, and aliases of what the statement reads, may carry a masked value.
    let computed: Vec<bool> = fields
        .iter()
        .map(|f| f.table_oid == 0 || (!facts.star && !facts.read.contains(&f.name.to_lowercase())))
        .collect();
    Some(plan(j.policy(), masks, &names, &computed))
}

/// Rewrites one DataRow with the masked values.
fn mask_row(raw: &[u8], plan: &[Option<(MaskStyle, usize)>], out: &mut BytesMut) {
    let Ok(values) = encode::data_row_values(raw) else {
        // Not a row we can read: never pass it through unmasked.
        let nulls: Vec<Option<&[u8]>> = vec![None; plan.len()];
        encode::data_row(out, &nulls);
        return;
    };
    let masked: Vec<Option<Vec<u8>>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| match (v, plan.get(i).copied().flatten()) {
            (None, _) => None,
            (Some(v), None) => Some(v.to_vec()),
            (Some(v), Some((style, keep))) => mask_value(v, style, keep),
        })
        .collect();
    encode::data_row(out, &masked);
}
