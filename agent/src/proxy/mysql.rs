//! The MySQL / MariaDB relay. Packets are split whole by the agent's decoder and forwarded
//! unchanged; each COM_QUERY and COM_STMT_PREPARE is decided before it is forwarded. A
//! refused command never reaches the server: the client gets ERR 1142 (SQLSTATE 42000) with
//! the rule, and the session goes on. Text result rows of statements with masked columns
//! are rewritten; a prepared statement (binary rows) with masked columns is refused.
//!
//! The greeting's CLIENT_SSL is cleared, so clients stay in plaintext to the proxy (and the
//! proxy can read what they send).
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
use crate::protocol::mysql::{
    capabilities, encode, next_raw_packet, status, ClientHello, ColumnCount, ColumnDefinition,
    Command, OkPacket, Packet,
};
use crate::session::mysql::MysqlSession;
use crate::session::{Flow, SessionOptions};

/// ER_TABLEACCESS_DENIED_ERROR.
const REFUSED_CODE: u16 = 1142;
const REFUSED_STATE: &str = "42000";
const REFUSED_TEXT: &str = "1142/42000";

/// What the server side masks in the answer to the command in flight.
#[derive(Debug, Default)]
struct MaskCtx {
    masks: Arc<Vec<ColumnMask>>,
    state: RState,
    names: Vec<String>,
    computed: Vec<bool>,
    plan: Vec<Option<(MaskStyle, usize)>>,
    /// Columns left to read.
    left: u64,
    /// Rows cannot be masked (no metadata): drop them and end with an error.
    refuse: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum RState {
    #[default]
    First,
    Columns,
    Eof,
    Rows,
    Done,
}

type Shared2 = Arc<Mutex<Option<MaskCtx>>>;

/// Relays one client connection to the upstream server.
pub async fn relay(
    client: TcpStream,
    peer: SocketAddr,
    sh: &Arc<Shared>,
) -> Result<(), ProxyError> {
    let session = Box::new(MysqlSession::new(SessionOptions::default()));
    let conn = match Conn::open(sh, peer, session).await {
        Ok(c) => Arc::new(c),
        Err(r) => {
            let mut out = BytesMut::new();
            encode::err_packet(&mut out, 0, 1045, "28000", &r.message);
            let mut client = client;
            client.write_all(&out).await?;
            return Ok(());
        }
    };
    let server = TcpStream::connect(&sh.cfg.upstream)
        .await
        .map_err(|source| ProxyError::Upstream {
            addr: sh.cfg.upstream.clone(),
            source,
        })?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let Some(h) = handshake(client, server, &conn, sh).await? else {
        conn.close(sh);
        return Ok(());
    };
    let Handshaken {
        client: (mut cr, cw),
        server: (sr, mut sw),
        client_buf,
        server_buf,
        capabilities,
    } = h;
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let ctx: Shared2 = Arc::new(Mutex::new(None));
    let back = tokio::spawn(server_to_client(
        sr,
        cw,
        server_buf,
        rx,
        conn.clone(),
        sh.clone(),
        ctx.clone(),
        capabilities,
    ));
    let front = client_to_server(
        &mut cr,
        &mut sw,
        client_buf,
        tx,
        &conn,
        sh,
        &ctx,
        capabilities,
    )
    .await;
    super::finish(front, back, &mut sw, &conn, sh).await
}

/// Both connections once the client is authenticated.
struct Handshaken {
    client: (Rd, Wr),
    server: (Rd, Wr),
    /// Bytes read past the handshake.
    client_buf: BytesMut,
    server_buf: BytesMut,
    /// The client's capabilities.
    capabilities: u64,
}

/// Reads one whole packet from `r` into `buf`; `None` at the end of the stream.
async fn read_packet(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<(Bytes, Packet)>, ProxyError> {
    loop {
        match next_raw_packet(buf, max) {
            Ok(Some(p)) => return Ok(Some(p)),
            Ok(None) => {}
            Err(e) => return Err(ProxyError::ClientFrame(e.to_string())),
        }
        if r.read_buf(buf).await? == 0 {
            return Ok(None);
        }
    }
}

/// A packet with another sequence id (handshake packets move by one around an SSL switch).
fn reseq(raw: &[u8], seq: u8) -> Vec<u8> {
    let mut v = raw.to_vec();
    if let Some(b) = v.get_mut(3) {
        *b = seq;
    }
    v
}

/// `raw` with CLIENT_SSL set or cleared in the capability flags at `at` (payload offset).
fn with_ssl_flag(raw: &[u8], at: usize, on: bool) -> Vec<u8> {
    let mut v = raw.to_vec();
    let bit = (capabilities::CLIENT_SSL >> 8) as u8;
    if let Some(b) = v.get_mut(4 + at + 1) {
        if on {
            *b |= bit;
        } else {
            *b &= !bit;
        }
    }
    v
}

/// Offset of the capability flags in the greeting's payload.
fn greeting_caps_at(raw: &[u8]) -> Option<usize> {
    let nul = raw.get(5..)?.iter().position(|&b| b == 0)?;
    Some(1 + nul + 1 + 4 + 8 + 1)
}

/// The connection phase: the greeting, the client's answer (with TLS from the client when
/// the proxy has a certificate and the client asks), TLS to the server when configured, and
/// the authentication exchange, with sequence ids shifted where one side saw an SSL request
/// the other did not. The session state machine is fed the plaintext view (as if neither side
/// used TLS). `None` when the connection ended during the handshake.
async fn handshake(
    client: TcpStream,
    server: TcpStream,
    conn: &Conn,
    sh: &Shared,
) -> Result<Option<Handshaken>, ProxyError> {
    let max = sh.cfg.max_frame;
    let (mut client, mut server) = (client, server);
    let mut sbuf = BytesMut::new();
    let mut cbuf = BytesMut::new();
    // 1. The greeting.
    let Some((raw, p)) = read_packet(&mut server, &mut sbuf, usize::MAX >> 8).await? else {
        return Ok(None);
    };
    if p.is_err() {
        client.write_all(&raw).await?;
        return Ok(None);
    }
    let caps_at = greeting_caps_at(&raw);
    let server_ssl = caps_at
        .and_then(|a| raw.get(4 + a + 1))
        .is_some_and(|b| b & (capabilities::CLIENT_SSL >> 8) as u8 != 0);
    if sh.cfg.upstream_tls.is_some() && !server_ssl {
        return Err(ProxyError::Tls(format!(
            "the server {} does not offer TLS",
            sh.cfg.upstream
        )));
    }
    let offer = sh.cfg.client_tls.is_some();
    let (to_client, plain_view) = match caps_at {
        Some(a) => (with_ssl_flag(&raw, a, offer), with_ssl_flag(&raw, a, false)),
        None => (raw.to_vec(), raw.to_vec()),
    };
    client.write_all(&to_client).await?;
    conn.feed(sh, Flow::ServerToClient, &plain_view);
    // 2. The client's answer: an SSL request first, or the handshake response.
    let Some((raw, p)) = read_packet(&mut client, &mut cbuf, max).await? else {
        return Ok(None);
    };
    let (mut cr, mut cw): (Rd, Wr);
    let mut client_shift = 0u8;
    let (raw, p) = match ClientHello::parse(&p.payload) {
        Ok(ClientHello::SslRequest { .. }) => {
            let Some(acceptor) = &sh.cfg.client_tls else {
                let mut out = BytesMut::new();
                encode::err_packet(
                    &mut out,
                    2,
                    1045,
                    "08004",
                    "dbgov proxy: TLS to the proxy is not configured; connect without TLS",
                );
                client.write_all(&out).await?;
                return Ok(None);
            };
            let tls = acceptor
                .accept(client)
                .await
                .map_err(|e| ProxyError::Tls(format!("client handshake: {e}")))?;
            conn.client_tls
                .store(true, std::sync::atomic::Ordering::Relaxed);
            (cr, cw) = split(tls);
            client_shift = 1;
            cbuf.clear();
            match read_packet(&mut cr, &mut cbuf, max).await? {
                Some(x) => x,
                None => return Ok(None),
            }
        }
        _ => {
            (cr, cw) = plain(client);
            (raw, p)
        }
    };
    let capabilities = match ClientHello::parse(&p.payload) {
        Ok(ClientHello::Response(r)) => r.capabilities,
        _ => 0,
    };
    // 3. TLS to the server: an SSL request built from the client's answer, then the switch.
    let mut server_shift = 0u8;
    let (mut sr, mut sw): (Rd, Wr) = match &sh.cfg.upstream_tls {
        Some(up) => {
            let mut req = BytesMut::new();
            let head = p.payload.get(..32).unwrap_or(&p.payload[..]);
            let mut payload = head.to_vec();
            payload.resize(32, 0);
            payload[1] |= (capabilities::CLIENT_SSL >> 8) as u8;
            req.extend_from_slice(&[32, 0, 0, 1]);
            req.extend_from_slice(&payload);
            server.write_all(&req).await?;
            let tls = up
                .connector
                .connect(up.name.clone(), server)
                .await
                .map_err(|e| ProxyError::Tls(format!("server handshake: {e}")))?;
            server_shift = 1;
            split(tls)
        }
        None => plain(server),
    };
    let response = reseq(
        &with_ssl_flag(&raw, 0, server_shift == 1),
        p.seq.wrapping_sub(client_shift).wrapping_add(server_shift),
    );
    sw.write_all(&response).await?;
    conn.feed(
        sh,
        Flow::ClientToServer,
        &reseq(
            &with_ssl_flag(&raw, 0, false),
            p.seq.wrapping_sub(client_shift),
        ),
    );
    // 4. Authentication, until the server's OK or ERR.
    loop {
        tokio::select! {
            r = read_packet(&mut sr, &mut sbuf, usize::MAX >> 8) => {
                let Some((raw, p)) = r? else { return Ok(None) };
                let done = matches!(p.first(), Some(0x00) | Some(0xFF));
                cw.write_all(&reseq(&raw, p.seq.wrapping_sub(server_shift).wrapping_add(client_shift))).await?;
                conn.feed(sh, Flow::ServerToClient, &reseq(&raw, p.seq.wrapping_sub(server_shift)));
                if done {
                    if p.is_err() {
                        return Ok(None);
                    }
                    break;
                }
            }
            r = read_packet(&mut cr, &mut cbuf, max) => {
                let Some((raw, p)) = r? else { return Ok(None) };
                sw.write_all(&reseq(&raw, p.seq.wrapping_sub(client_shift).wrapping_add(server_shift))).await?;
                conn.feed(sh, Flow::ClientToServer, &reseq(&raw, p.seq.wrapping_sub(client_shift)));
            }
        }
    }
    Ok(Some(Handshaken {
        client: (cr, cw),
        server: (sr, sw),
        client_buf: cbuf,
        server_buf: sbuf,
        capabilities,
    }))
}

fn refusal(r: &Refusal) -> Bytes {
    let mut out = BytesMut::new();
    let mut text = r.message.clone();
    if let Some(rule) = &r.rule {
        text.push_str(&format!(" (rule {rule})"));
    }
    if let Some(a) = &r.approval {
        text.push_str(&format!(" (approval id {})", a.id));
    }
    encode::err_packet(&mut out, 1, REFUSED_CODE, REFUSED_STATE, &text);
    out.freeze()
}

#[allow(clippy::too_many_arguments)]
async fn client_to_server(
    cr: &mut Rd,
    sw: &mut Wr,
    mut buf: BytesMut,
    tx: mpsc::UnboundedSender<Bytes>,
    conn: &Arc<Conn>,
    sh: &Arc<Shared>,
    ctx: &Shared2,
    caps: u64,
) -> Result<(), ProxyError> {
    buf.reserve(16 << 10);
    let mut first = true;
    loop {
        if (!first || buf.is_empty()) && cr.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        first = false;
        let t0 = std::time::Instant::now();
        loop {
            let (raw, p) = match next_raw_packet(&mut buf, sh.cfg.max_frame) {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(e) => {
                    let mut out = BytesMut::new();
                    let text = format!("dbgov proxy: {e}; closing the session");
                    encode::err_packet(&mut out, 1, 1153, "08S01", &text);
                    let _ = tx.send(out.freeze());
                    return Err(ProxyError::ClientFrame(e.to_string()));
                }
            };
            if p.seq != 0 {
                // Continuations (COM_CHANGE_USER's authentication, LOCAL INFILE data).
                forward(sw, &raw, conn, sh).await?;
                continue;
            }
            let (text, prepared) = match Command::parse(&p.payload, caps) {
                Ok(Command::Query { text, .. }) => (text, false),
                Ok(Command::StmtPrepare { text }) => (text.into(), true),
                _ => {
                    forward(sw, &raw, conn, sh).await?;
                    continue;
                }
            };
            match sh.decide(conn, &text).await {
                Decision::Forward { masks, approval } => {
                    if prepared && !masks.is_empty() {
                        let r = Refusal {
                            message: "refused by dbgov: this statement reads masked columns, \
                                      and prepared statements return binary rows that cannot \
                                      be masked; run it as a plain query"
                                .into(),
                            rule: masks.first().map(|m| m.rule.clone()),
                            approval,
                        };
                        conn.refused(sh, &text, true, &r, REFUSED_TEXT);
                        let _ = tx.send(refusal(&r));
                        continue;
                    }
                    conn.approved(&text, approval);
                    *lock(ctx) = (!masks.is_empty()).then(|| MaskCtx {
                        masks,
                        ..MaskCtx::default()
                    });
                    forward(sw, &raw, conn, sh).await?;
                }
                Decision::Refuse(r) => {
                    conn.refused(sh, &text, prepared, &r, REFUSED_TEXT);
                    let _ = tx.send(refusal(&r));
                }
            }
        }
        sh.metrics.proxy_added("request", t0.elapsed());
    }
}

async fn forward(sw: &mut Wr, raw: &[u8], conn: &Conn, sh: &Shared) -> Result<(), ProxyError> {
    sw.write_all(raw).await?;
    conn.feed(sh, Flow::ClientToServer, raw);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn server_to_client(
    mut sr: Rd,
    mut cw: Wr,
    mut buf: BytesMut,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    conn: Arc<Conn>,
    sh: Arc<Shared>,
    ctx: Shared2,
    caps: u64,
) -> Result<(), ProxyError> {
    buf.reserve(64 << 10);
    let mut out = BytesMut::with_capacity(64 << 10);
    let mut open = true;
    // Bytes read with the end of the handshake are relayed first.
    let mut pending = !buf.is_empty();
    let mut fresh = Bytes::new();
    if pending {
        fresh = Bytes::copy_from_slice(&buf[..]);
    }
    loop {
        if pending {
            pending = false;
        } else {
            tokio::select! {
                r = sr.read_buf(&mut buf) => {
                    let start = buf.len() - r?;
                    if buf.len() == start {
                        break;
                    }
                    // The audit work comes after the client has its answer (off the
                    // latency path); the session sees the server's bytes as they came.
                    fresh = Bytes::copy_from_slice(&buf[start..]);
                }
                inj = rx.recv(), if open => {
                    match inj {
                        None => open = false,
                        Some(b) => cw.write_all(&b).await?,
                    }
                    continue;
                }
            }
        }
        let t0 = std::time::Instant::now();
        loop {
            let (raw, p) = match next_raw_packet(&mut buf, usize::MAX >> 8) {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(e) => {
                    cw.write_all(&out).await?;
                    return Err(ProxyError::ServerFrame(e.to_string()));
                }
            };
            let mut g = lock(&ctx);
            match g.as_mut() {
                Some(m) => {
                    on_result_packet(m, &raw, &p, caps, &sh, &mut out);
                    if m.state == RState::Done {
                        *g = None;
                    }
                }
                None => out.extend_from_slice(&raw),
            }
        }
        cw.write_all(&out).await?;
        sh.metrics.proxy_added("response", t0.elapsed());
        out.clear();
        conn.feed(&sh, Flow::ServerToClient, &fresh);
    }
    let _ = cw.shutdown().await;
    Ok(())
}

/// One packet of the answer to a command whose rows are masked.
fn on_result_packet(
    m: &mut MaskCtx,
    raw: &[u8],
    p: &Packet,
    caps: u64,
    sh: &Shared,
    out: &mut BytesMut,
) {
    let deprecate_eof = caps & capabilities::CLIENT_DEPRECATE_EOF != 0;
    match m.state {
        RState::First => {
            match p.first() {
                Some(0x00) => {
                    m.state = if more_results(&p.payload) {
                        RState::First
                    } else {
                        RState::Done
                    };
                }
                Some(0xFF) | Some(0xFB) | None => m.state = RState::Done,
                _ => match ColumnCount::parse(&p.payload) {
                    Ok(cc) if cc.metadata_follows => {
                        m.left = cc.count;
                        m.names.clear();
                        m.computed.clear();
                        m.state = RState::Columns;
                    }
                    _ => {
                        m.refuse = true;
                        m.state = if deprecate_eof {
                            RState::Rows
                        } else {
                            RState::Eof
                        };
                    }
                },
            }
            out.extend_from_slice(raw);
        }
        RState::Columns => {
            match ColumnDefinition::parse(&p.payload, false) {
                Ok(cd) => {
                    let computed = cd.org_table.is_empty();
                    let col = if cd.org_name.is_empty() {
                        &cd.name
                    } else {
                        &cd.org_name
                    };
                    m.names.push(if computed {
                        col.clone()
                    } else {
                        format!("{}.{col}", cd.org_table)
                    });
                    m.computed.push(computed);
                }
                Err(_) => {
                    m.names.push(String::new());
                    m.computed.push(true);
                }
            }
            m.left = m.left.saturating_sub(1);
            if m.left == 0 {
                let j = lock(&sh.judge);
                m.plan = plan(j.policy(), &m.masks, &m.names, &m.computed);
                drop(j);
                m.state = if deprecate_eof {
                    RState::Rows
                } else {
                    RState::Eof
                };
            }
            out.extend_from_slice(raw);
        }
        RState::Eof => {
            m.state = RState::Rows;
            out.extend_from_slice(raw);
        }
        RState::Rows => {
            if p.is_result_terminator() || p.is_err() {
                if m.refuse && !p.is_err() {
                    encode::err_packet(
                        out,
                        p.seq,
                        REFUSED_CODE,
                        REFUSED_STATE,
                        "refused by dbgov: the result has masked columns the proxy cannot read",
                    );
                    m.state = RState::Done;
                    return;
                }
                m.state = if !p.is_err() && terminator_more(&p.payload) {
                    RState::First
                } else {
                    RState::Done
                };
                out.extend_from_slice(raw);
                return;
            }
            if m.refuse {
                return;
            }
            if m.plan.iter().all(Option::is_none) {
                out.extend_from_slice(raw);
                return;
            }
            match encode::text_row_values(&p.payload, m.plan.len()) {
                Ok(values) => {
                    let masked: Vec<Option<Vec<u8>>> = values
                        .iter()
                        .zip(&m.plan)
                        .map(|(v, how)| match (v, how) {
                            (None, _) => None,
                            (Some(v), None) => Some(v.to_vec()),
                            (Some(v), Some((style, keep))) => mask_value(v, *style, *keep),
                        })
                        .collect();
                    encode::text_row(out, p.seq, &masked);
                }
                Err(_) => {
                    // Never pass an unreadable row through unmasked.
                    let nulls: Vec<Option<&[u8]>> = vec![None; m.plan.len()];
                    encode::text_row(out, p.seq, &nulls);
                }
            }
        }
        RState::Done => out.extend_from_slice(raw),
    }
}

fn more_results(ok: &[u8]) -> bool {
    OkPacket::parse(ok, true).is_ok_and(|o| o.status & status::SERVER_MORE_RESULTS_EXISTS != 0)
}

fn terminator_more(payload: &[u8]) -> bool {
    crate::protocol::mysql::terminator_status(payload, true)
        .is_ok_and(|s| s & status::SERVER_MORE_RESULTS_EXISTS != 0)
}
