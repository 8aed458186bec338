//! The proxy's control API: one JSON object per line over TCP, each carrying the shared
//! token, answered by one JSON line. `dbgov approve` and `dbgov deny` decide held
//! statements; agents announce who is behind a client address and signal statements to
//! block. A request with a wrong token or in a bad shape is answered with an error, logged,
//! and changes nothing.
use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::{same_secret, Shared};
use crate::audit;

/// Longest request line accepted (an announcement with a long command line fits).
const MAX_LINE: usize = 64 << 10;

/// One request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// Approve a held statement; with `for_secs`, its shape from the same identity too.
    Approve {
        id: String,
        #[serde(default)]
        for_secs: Option<u64>,
        #[serde(default)]
        by: Option<String>,
    },
    Deny {
        id: String,
        #[serde(default)]
        by: Option<String>,
    },
    /// The ids waiting for a decision.
    List,
    /// An agent's first request: answered with the proxy's listen address.
    Hello,
    /// An agent saw `client` (its address and port as the proxy sees them) connect.
    Announce {
        client_addr: SocketAddr,
        client: Box<audit::Client>,
    },
    /// An agent judged a statement `block`: refuse it on that connection if not yet sent.
    Block {
        client_addr: SocketAddr,
        fingerprint: String,
        rule: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Message {
    pub token: String,
    #[serde(flatten)]
    pub op: Op,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
    /// The proxy's listen address (answer to `hello`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

impl Reply {
    fn error(e: impl Into<String>) -> Self {
        Reply {
            ok: false,
            error: Some(e.into()),
            ..Reply::default()
        }
    }
}

/// Serves the control API.
pub async fn serve(l: TcpListener, sh: Arc<Shared>) {
    loop {
        match l.accept().await {
            Ok((sock, peer)) => {
                let sh = sh.clone();
                tokio::spawn(async move {
                    let r = match sh.cfg.control_tls.clone() {
                        Some(acceptor) => match acceptor.accept(sock).await {
                            Ok(tls) => {
                                let (r, w) = super::tls::split(tls);
                                session(r, w, peer, &sh).await
                            }
                            Err(e) => {
                                tracing::warn!("control {peer}: TLS handshake: {e}");
                                return;
                            }
                        },
                        None => {
                            let (r, w) = super::tls::plain(sock);
                            session(r, w, peer, &sh).await
                        }
                    };
                    if let Err(e) = r {
                        tracing::debug!("control {peer}: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("control accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn session(
    r: super::tls::Rd,
    mut w: super::tls::Wr,
    peer: SocketAddr,
    sh: &Shared,
) -> std::io::Result<()> {
    let mut r = BufReader::new(r);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let reply = if line.len() > MAX_LINE {
            tracing::warn!("control {peer}: request longer than {MAX_LINE} bytes refused");
            Reply::error("request too long")
        } else {
            handle(&line, peer, sh)
        };
        let mut text = serde_json::to_vec(&reply).unwrap_or_else(|_| b"{\"ok\":false}".to_vec());
        text.push(b'\n');
        w.write_all(&text).await?;
        w.flush().await?;
        if line.len() > MAX_LINE {
            return Ok(());
        }
    }
}

use tokio::io::AsyncReadExt;

/// Answers one request line.
pub fn handle(line: &[u8], peer: SocketAddr, sh: &Shared) -> Reply {
    let msg: Message = match serde_json::from_slice(line) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("control {peer}: malformed request refused: {e}");
            return Reply::error(format!("malformed request: {e}"));
        }
    };
    let Some(token) = sh.cfg.control_token.as_deref() else {
        return Reply::error("the control API has no token configured");
    };
    if !same_secret(msg.token.as_bytes(), token.as_bytes()) {
        tracing::warn!("control {peer}: wrong token, request refused");
        return Reply::error("unauthorized");
    }
    match msg.op {
        Op::Approve { id, for_secs, by } => {
            if sh.resolve_hold(&id, true, by, for_secs) {
                Reply {
                    ok: true,
                    ..Reply::default()
                }
            } else {
                Reply::error(format!("no statement is held under id {id}"))
            }
        }
        Op::Deny { id, by } => {
            if sh.resolve_hold(&id, false, by, None) {
                Reply {
                    ok: true,
                    ..Reply::default()
                }
            } else {
                Reply::error(format!("no statement is held under id {id}"))
            }
        }
        Op::List => Reply {
            ok: true,
            pending: sh.pending_holds(),
            ..Reply::default()
        },
        Op::Hello => Reply {
            ok: true,
            listen: Some(sh.cfg.listen.to_string()),
            ..Reply::default()
        },
        Op::Announce {
            client_addr,
            client,
        } => {
            sh.announce(client_addr, *client);
            Reply {
                ok: true,
                ..Reply::default()
            }
        }
        Op::Block {
            client_addr,
            fingerprint,
            rule,
        } => {
            tracing::debug!("control {peer}: block signal for {client_addr}: rule {rule}");
            sh.signal_block(client_addr, fingerprint, rule);
            Reply {
                ok: true,
                ..Reply::default()
            }
        }
    }
}

/// Sends one request to a proxy's control API and returns its reply (for `dbgov approve`,
/// `dbgov deny` and the agent's announcer).
pub async fn request(
    addr: &str,
    tls: Option<&super::tls::Upstream>,
    msg: &Message,
) -> std::io::Result<Reply> {
    let sock = TcpStream::connect(addr).await?;
    let (r, mut w) = match tls {
        Some(t) => super::tls::split(t.connector.connect(t.name.clone(), sock).await?),
        None => super::tls::plain(sock),
    };
    let mut text = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    text.push(b'\n');
    w.write_all(&text).await?;
    w.flush().await?;
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).await?;
    if line.is_empty() {
        return Err(std::io::Error::other(
            "the control API closed the connection without an answer (if it is served over \
             TLS, pass --control-ca)",
        ));
    }
    serde_json::from_str(&line).map_err(|e| {
        std::io::Error::other(format!(
            "the control API's answer is not JSON ({e}); if it is served over TLS, pass \
             --control-ca"
        ))
    })
}
