//! The agent's side of the proxy's control API: identity announcements and block signals.
//!
//! The pipeline hands [`ControlEvent`]s to a bounded channel (never blocking capture); one
//! thread keeps a connection to the proxy's control API, learns the proxy's listen address
//! from it, and sends the events about connections to that address. When the proxy cannot be
//! reached the events are dropped and counted, with one log line per outage.
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use crate::audit;
use crate::proxy::control::{Message, Op, Reply};
use crate::proxy::tls::Upstream;

/// What the pipeline tells the announcer.
#[derive(Debug)]
pub enum ControlEvent {
    /// A watched client process connected from `client_addr` to `server_addr`.
    Connect {
        client_addr: SocketAddr,
        server_addr: SocketAddr,
        client: Box<audit::Client>,
    },
    /// The agent judged a statement on that connection `block`.
    Block {
        client_addr: SocketAddr,
        server_addr: SocketAddr,
        fingerprint: String,
        rule: String,
    },
}

/// The pipeline's handle: a bounded channel to the announcer thread.
#[derive(Clone)]
pub struct Announcer {
    tx: SyncSender<ControlEvent>,
}

impl Announcer {
    /// Starts the announcer thread for the proxy control API at `addr` (over TLS when `tls`
    /// says how to verify the proxy).
    pub fn spawn(addr: String, token: String, tls: Option<Upstream>) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(4096);
        std::thread::Builder::new()
            .name("dbgov-control".into())
            .spawn(move || run(addr, token, tls, rx))?;
        Ok(Self { tx })
    }

    /// Queues an event; drops it (with a log line) when the queue is full.
    pub fn send(&self, ev: ControlEvent) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(ev) {
            tracing::warn!("proxy control: queue full, an announcement was dropped");
        }
    }
}

/// A byte stream both ways: plain TCP or TLS.
trait Duplex: std::io::Read + Write + Send {}
impl<T: std::io::Read + Write + Send> Duplex for T {}

struct Link {
    stream: BufReader<Box<dyn Duplex>>,
    listen: Option<SocketAddr>,
}

fn connect(addr: &str, token: &str, tls: Option<&Upstream>) -> std::io::Result<Link> {
    let sa = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{addr}: no address")))?;
    let s = TcpStream::connect_timeout(&sa, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_nodelay(true)?;
    let stream: Box<dyn Duplex> = match tls {
        Some(t) => {
            Box::new(crate::proxy::tls::blocking_client(t, s).map_err(std::io::Error::other)?)
        }
        None => Box::new(s),
    };
    let mut link = Link {
        stream: BufReader::new(stream),
        listen: None,
    };
    let reply = link.request(&Message {
        token: token.to_owned(),
        op: Op::Hello,
    })?;
    if !reply.ok {
        return Err(std::io::Error::other(format!(
            "the proxy refused: {}",
            reply.error.unwrap_or_default()
        )));
    }
    link.listen = reply.listen.as_deref().and_then(|l| l.parse().ok());
    Ok(link)
}

impl Link {
    fn request(&mut self, msg: &Message) -> std::io::Result<Reply> {
        let mut line = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.stream.get_mut().write_all(&line)?;
        self.stream.get_mut().flush()?;
        let mut answer = String::new();
        if self.stream.read_line(&mut answer)? == 0 {
            return Err(std::io::Error::other(
                "the proxy closed the control connection",
            ));
        }
        serde_json::from_str(&answer).map_err(std::io::Error::other)
    }
}

/// A connection to `server` goes to the proxy listening on `listen`.
pub fn is_proxy(listen: SocketAddr, server: SocketAddr) -> bool {
    listen.port() == server.port()
        && (listen.ip().is_unspecified()
            || listen.ip() == server.ip()
            || (listen.ip().is_loopback() && server.ip().is_loopback()))
}

fn run(addr: String, token: String, tls: Option<Upstream>, rx: Receiver<ControlEvent>) {
    let mut link: Option<Link> = None;
    let mut down = false;
    for ev in rx {
        if link.is_none() {
            match connect(&addr, &token, tls.as_ref()) {
                Ok(l) => {
                    if down {
                        tracing::warn!("proxy control {addr}: reachable again");
                    }
                    down = false;
                    link = Some(l);
                }
                Err(e) => {
                    if !down {
                        tracing::warn!(
                            "proxy control {addr}: {e}; announcements are dropped until it answers"
                        );
                    }
                    down = true;
                    continue;
                }
            }
        }
        let Some(l) = link.as_mut() else { continue };
        let Some(listen) = l.listen else { continue };
        let op = match ev {
            ControlEvent::Connect {
                client_addr,
                server_addr,
                client,
            } if is_proxy(listen, server_addr) => Op::Announce {
                client_addr,
                client,
            },
            ControlEvent::Block {
                client_addr,
                server_addr,
                fingerprint,
                rule,
            } if is_proxy(listen, server_addr) => Op::Block {
                client_addr,
                fingerprint,
                rule,
            },
            _ => continue,
        };
        let msg = Message {
            token: token.clone(),
            op,
        };
        match l.request(&msg) {
            Ok(r) if r.ok => {}
            Ok(r) => tracing::warn!(
                "proxy control {addr}: refused: {}",
                r.error.unwrap_or_default()
            ),
            Err(e) => {
                tracing::warn!("proxy control {addr}: {e}; reconnecting");
                link = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_proxy;

    #[test]
    fn proxy_addresses() {
        let p = |s: &str| s.parse().unwrap_or_else(|_| unreachable!());
        assert!(is_proxy(p("0.0.0.0:6432"), p("10.0.0.5:6432")));
        assert!(is_proxy(p("127.0.0.1:6432"), p("127.0.0.1:6432")));
        assert!(is_proxy(p("127.0.0.1:6432"), p("127.0.0.2:6432")));
        assert!(!is_proxy(p("10.0.0.5:6432"), p("10.0.0.6:6432")));
        assert!(!is_proxy(p("0.0.0.0:6432"), p("10.0.0.5:5432")));
    }
}
