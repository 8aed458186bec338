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
    let (mut cr, cw) = client.into_split();
    let (sr, mut sw) = server.into_split();
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let ctx: Shared2 = Arc::new(Mutex::new(None));
    let caps = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let back = tokio::spawn(server_to_client(
        sr,
        cw,
        rx,
        conn.clone(),
        sh.clone(),
        ctx.clone(),
        caps.clone(),
    ));
    let r = client_to_server(&mut cr, &mut sw, tx, &conn, sh, &ctx, &caps).await;
    let _ = sw.shutdown().await;
    let back = back.await;
    conn.close(sh);
    r?;
    match back {
        Ok(r) => r,
        Err(e) => Err(ProxyError::ServerFrame(format!("relay task: {e}"))),
    }
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

async fn client_to_server(
    cr: &mut tokio::net::tcp::OwnedReadHalf,
    sw: &mut tokio::net::tcp::OwnedWriteHalf,
    tx: mpsc::UnboundedSender<Bytes>,
    conn: &Arc<Conn>,
    sh: &Arc<Shared>,
    ctx: &Shared2,
    caps: &std::sync::atomic::AtomicU64,
) -> Result<(), ProxyError> {
    let mut buf = BytesMut::with_capacity(16 << 10);
    let mut hello_seen = false;
    loop {
        if cr.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
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
            if !hello_seen {
                hello_seen = true;
                match ClientHello::parse(&p.payload) {
                    Ok(ClientHello::Response(r)) => {
                        caps.store(r.capabilities, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(ClientHello::SslRequest { .. }) => {
                        let mut out = BytesMut::new();
                        encode::err_packet(
                            &mut out,
                            2,
                            1045,
                            "08004",
                            "dbgov proxy: TLS to the proxy is not configured; connect without TLS",
                        );
                        let _ = tx.send(out.freeze());
                        return Ok(());
                    }
                    Err(_) => {}
                }
                forward(sw, &raw, conn, sh).await?;
                continue;
            }
            if p.seq != 0 {
                // Authentication exchanges and the like.
                forward(sw, &raw, conn, sh).await?;
                continue;
            }
            let c = caps.load(std::sync::atomic::Ordering::Relaxed);
            let (text, prepared) = match Command::parse(&p.payload, c) {
                Ok(Command::Query { text, .. }) => (text, false),
                Ok(Command::StmtPrepare { text }) => (text, true),
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
    }
}

async fn forward(
    sw: &mut tokio::net::tcp::OwnedWriteHalf,
    raw: &[u8],
    conn: &Conn,
    sh: &Shared,
) -> Result<(), ProxyError> {
    sw.write_all(raw).await?;
    conn.feed(sh, Flow::ClientToServer, raw);
    Ok(())
}

async fn server_to_client(
    mut sr: tokio::net::tcp::OwnedReadHalf,
    mut cw: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    conn: Arc<Conn>,
    sh: Arc<Shared>,
    ctx: Shared2,
    caps: Arc<std::sync::atomic::AtomicU64>,
) -> Result<(), ProxyError> {
    let mut buf = BytesMut::with_capacity(64 << 10);
    let mut out = BytesMut::with_capacity(64 << 10);
    let mut greeted = false;
    let mut open = true;
    loop {
        tokio::select! {
            r = sr.read_buf(&mut buf) => {
                let start = buf.len() - r?;
                if buf.len() == start {
                    break;
                }
                conn.feed(&sh, Flow::ServerToClient, &buf[start..]);
                loop {
                    let (raw, p) = match next_raw_packet(&mut buf, usize::MAX >> 8) {
                        Ok(Some(x)) => x,
                        Ok(None) => break,
                        Err(e) => {
                            cw.write_all(&out).await?;
                            return Err(ProxyError::ServerFrame(e.to_string()));
                        }
                    };
                    if !greeted {
                        greeted = true;
                        out.extend_from_slice(&without_ssl(&raw));
                        continue;
                    }
                    let c = caps.load(std::sync::atomic::Ordering::Relaxed);
                    let mut g = lock(&ctx);
                    match g.as_mut() {
                        Some(m) => {
                            on_result_packet(m, &raw, &p, c, &sh, &mut out);
                            if m.state == RState::Done {
                                *g = None;
                            }
                        }
                        None => out.extend_from_slice(&raw),
                    }
                }
                cw.write_all(&out).await?;
                out.clear();
            }
            inj = rx.recv(), if open => match inj {
                None => open = false,
                Some(b) => cw.write_all(&b).await?,
            },
        }
    }
    let _ = cw.shutdown().await;
    Ok(())
}

/// The greeting with CLIENT_SSL cleared (the proxy does not offer TLS to clients).
fn without_ssl(raw: &[u8]) -> Vec<u8> {
    let mut v = raw.to_vec();
    // Payload: protocol version, server version (NUL-terminated), connection id (4),
    // auth data part 1 (8), filler (1), capability flags (2, little endian).
    if let Some(nul) = v.get(5..).and_then(|p| p.iter().position(|&b| b == 0)) {
        let at = 5 + nul + 1 + 4 + 8 + 1;
        if let Some(b) = v.get_mut(at + 1) {
            *b &= !((capabilities::CLIENT_SSL >> 8) as u8);
        }
    }
    v
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
