//! `dbgov proxy`, `dbgov approve` and `dbgov deny`: the command-line side of the proxy.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use dbgov::audit;
use dbgov::judge::{Engine, Judge};
use dbgov::policy::Policy;
use dbgov::proxy::control::{self, Message, Op};
use dbgov::proxy::{ProxyConfig, Shared};
use dbgov::sink::Output;
use dbgov::sql::AnalyzerConfig;

use crate::{load_config, tracing_init, CommonArgs};

#[derive(Args)]
pub struct ProxyArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Serve Prometheus metrics (`/metrics`) and `/healthz` on ADDR (or `metrics:` in the
    /// config), e.g. 127.0.0.1:9188.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Address clients connect to instead of the server (or `proxy.listen` in the config).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The database server, `host:port` (or `proxy.upstream`).
    #[arg(long, value_name = "ADDR")]
    pub upstream: Option<String>,
    /// `postgresql` or `mysql` (MariaDB too) (or `proxy.engine`).
    #[arg(long, value_name = "ENGINE", value_parser = parse_engine)]
    pub engine: Option<EngineArg>,
    /// Directory with `classes/`, `rules/` and `workloads/` (default: the built-in pack);
    /// the same as --policy-dir.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// Serve the control API here (approvals, identity announcements and block signals
    /// from agents). Needs --control-token-file.
    #[arg(long, value_name = "ADDR")]
    pub control: Option<SocketAddr>,
    /// File holding the control API's shared token (one line).
    #[arg(long, value_name = "FILE")]
    pub control_token_file: Option<PathBuf>,
    /// Serve the control API over TLS with this certificate chain (PEM); needs
    /// --control-tls-key. Agents and `dbgov approve` then pass --control-ca.
    #[arg(long, value_name = "FILE", requires = "control_tls_key")]
    pub control_tls_cert: Option<PathBuf>,
    /// The private key of --control-tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "control_tls_cert")]
    pub control_tls_key: Option<PathBuf>,
    /// A held statement not approved within this time is refused (`60s`, `5m`; default 60s,
    /// or `proxy.hold_timeout_secs`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub hold_timeout: Option<Duration>,
    /// How long a new connection waits for an agent to announce who opened it (default
    /// 50ms, or `proxy.identity_wait_ms`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub identity_wait: Option<Duration>,
    /// Refuse connections no agent announced (default: go on with the db user and the
    /// client address; or `proxy.require_identity`).
    #[arg(long)]
    pub require_identity: bool,
    /// Largest message a client may send, in bytes; a larger one ends that session with an
    /// error (default 16 MiB, or `proxy.max_frame_bytes`).
    #[arg(long, value_name = "BYTES")]
    pub max_frame: Option<usize>,
    /// Offer TLS to clients with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Reach the server over TLS, verifying its certificate against --upstream-ca.
    #[arg(long, requires = "upstream_ca")]
    pub upstream_tls: bool,
    /// CA certificates (PEM) the server's certificate must chain to.
    #[arg(long, value_name = "FILE")]
    pub upstream_ca: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the host of --upstream).
    #[arg(long, value_name = "NAME")]
    pub upstream_server_name: Option<String>,
    /// Worker threads (default 1: the relay is mostly system calls; more threads pay off only
    /// with many busy connections on a host with cores to spare).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Clone, Copy)]
pub struct EngineArg(Engine);

fn parse_engine(s: &str) -> Result<EngineArg, String> {
    Engine::parse(s)
        .map(EngineArg)
        .ok_or_else(|| format!("unknown engine {s:?}: postgresql or mysql"))
}

#[derive(Args)]
pub struct DecideArgs {
    /// The approval id (from the approval event, or the client's error).
    pub id: String,
    /// The proxy's control API.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6480")]
    pub control: String,
    /// File holding the control API's shared token.
    #[arg(long, value_name = "FILE")]
    pub control_token_file: PathBuf,
    /// The proxy's control API is served over TLS: verify it against these CAs (PEM).
    #[arg(long, value_name = "FILE")]
    pub control_ca: Option<PathBuf>,
    /// The name the control API's certificate must carry (default: the host of --control).
    #[arg(long, value_name = "NAME")]
    pub control_server_name: Option<String>,
    /// Also approve the same statement shape from the same identity for this long (`10m`).
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub for_: Option<Duration>,
}

fn read_token(path: &PathBuf) -> Result<String> {
    let t = std::fs::read_to_string(path)
        .with_context(|| format!("reading the control token from {}", path.display()))?;
    let t = t.trim().to_owned();
    if t.is_empty() {
        bail!("the control token file {} is empty", path.display());
    }
    Ok(t)
}

pub fn proxy(a: ProxyArgs) -> Result<()> {
    tracing_init();
    let mut common = a.common.clone();
    if a.policies.is_some() {
        common.policy_dir = a.policies.clone();
    }
    let cfg = load_config(&common)?;
    let pf = &cfg.proxy;
    let listen = a
        .listen
        .or(pf.listen)
        .context("where should the proxy listen? --listen ADDR (or proxy.listen in the config)")?;
    let upstream = a.upstream.clone().or(pf.upstream.clone()).context(
        "which server does the proxy relay to? --upstream HOST:PORT (or proxy.upstream)",
    )?;
    let engine = match (a.engine, pf.engine.as_deref()) {
        (Some(e), _) => e.0,
        (None, Some(e)) => Engine::parse(e)
            .with_context(|| format!("proxy.engine: unknown engine {e:?}: postgresql or mysql"))?,
        (None, None) => bail!("which protocol? --engine postgresql|mysql (or proxy.engine)"),
    };
    let control = a.control.or(pf.control);
    let control_token_file = a
        .control_token_file
        .clone()
        .or(pf.control_token_file.clone());
    let token = match (&control, &control_token_file) {
        (Some(_), Some(f)) => Some(read_token(f)?),
        (Some(_), None) => bail!("--control needs --control-token-file (the API is authenticated)"),
        (None, _) => None,
    };
    let opts = cfg
        .output_options()
        .map_err(|e| anyhow::anyhow!("output: {e}"))?;
    let labels: BTreeMap<String, String> = cfg.labels.clone();
    let host = audit::host_info(cfg.environment.clone(), labels);
    let policy = match &cfg.policy_dir {
        Some(d) => {
            Policy::load_dir(d).with_context(|| format!("loading policies from {}", d.display()))?
        }
        None => Policy::builtin().context("loading the built-in policy pack")?,
    };
    let mut judge = Judge::new(
        policy,
        AnalyzerConfig {
            max_statement_bytes: cfg.max_statement_bytes,
            keep_literals: cfg.keep_literals,
            ..AnalyzerConfig::default()
        },
    );
    judge.set_tag_keys(cfg.tag_keys.clone());
    let client_tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some(dbgov::proxy::tls::acceptor(c, k)?),
        _ => None,
    };
    let upstream_tls = match (a.upstream_tls, &a.upstream_ca) {
        (true, Some(ca)) => {
            let host = upstream
                .rsplit_once(':')
                .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
                .unwrap_or(&upstream);
            let name = a.upstream_server_name.as_deref().unwrap_or(host);
            Some(dbgov::proxy::tls::upstream(ca, name)?)
        }
        _ => None,
    };
    let control_tls = match (&a.control_tls_cert, &a.control_tls_key) {
        (Some(c), Some(k)) => Some(dbgov::proxy::tls::acceptor(c, k)?),
        _ => None,
    };
    // One thread by default: relaying is mostly syscalls, and on a small host a second worker
    // thread costs more in cross-thread wake-ups than it gains.
    let rt = match a.threads.unwrap_or(1) {
        0 | 1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()?,
    };
    let pc = ProxyConfig {
        listen,
        upstream,
        engine,
        control,
        control_token: token,
        hold_timeout: a
            .hold_timeout
            .or(pf.hold_timeout_secs.map(Duration::from_secs))
            .unwrap_or(Duration::from_secs(60)),
        identity_wait: a
            .identity_wait
            .or(pf.identity_wait_ms.map(Duration::from_millis))
            .unwrap_or(Duration::from_millis(50)),
        require_identity: a.require_identity || pf.require_identity.unwrap_or(false),
        max_frame: a.max_frame.or(pf.max_frame_bytes).unwrap_or(16 << 20),
        keep_literals: cfg.keep_literals,
        client_tls,
        upstream_tls,
        control_tls,
        policy_dir: cfg.policy_dir.clone(),
        metrics: a.metrics.or(cfg.metrics),
    };
    rt.block_on(async move {
        let out = Output::open(&opts, &host).context("opening the output")?;
        let sh = Arc::new(Shared::new(pc, judge, out, host));
        dbgov::proxy::run(sh).await?;
        Ok(())
    })
}

/// `dbgov approve` / `dbgov deny`.
pub fn decide(a: DecideArgs, approve: bool) -> Result<()> {
    let token = read_token(&a.control_token_file)?;
    let by = uzers::get_current_username().map(|u| u.to_string_lossy().into_owned());
    let op = if approve {
        Op::Approve {
            id: a.id.clone(),
            for_secs: a.for_.map(|d| d.as_secs()),
            by,
        }
    } else {
        Op::Deny {
            id: a.id.clone(),
            by,
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tls = control_tls(
        &a.control,
        a.control_ca.as_deref(),
        a.control_server_name.as_deref(),
    )?;
    let reply = rt
        .block_on(control::request(
            &a.control,
            tls.as_ref(),
            &Message { token, op },
        ))
        .with_context(|| format!("asking the proxy's control API at {}", a.control))?;
    if !reply.ok {
        bail!(
            "the proxy refused: {}",
            reply.error.unwrap_or_else(|| "no reason given".into())
        );
    }
    println!("{} {}", if approve { "approved" } else { "denied" }, a.id);
    Ok(())
}

/// How to verify a control API served over TLS: the CA file and the expected name (default:
/// the host part of `addr`). `None` without a CA file (plain TCP).
pub fn control_tls(
    addr: &str,
    ca: Option<&std::path::Path>,
    name: Option<&str>,
) -> Result<Option<dbgov::proxy::tls::Upstream>> {
    let Some(ca) = ca else { return Ok(None) };
    let host = addr
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or(addr);
    Ok(Some(dbgov::proxy::tls::upstream(ca, name.unwrap_or(host))?))
}
