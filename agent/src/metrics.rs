//! Prometheus metrics for operators (`--metrics ADDR`, `metrics:` in the configuration):
//! `/metrics` in the OpenMetrics text format and `/healthz`, served by hyper on the agent's or
//! the proxy's event loop. Every name starts with `dbgov_`.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Errors starting the metrics endpoint.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot listen for metrics on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabel {
    pub verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EngineLabel {
    pub engine: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabel {
    pub direction: String,
}

/// The buckets of the proxy's added latency: 10 µs to about 5 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_01, 2.0, 20))
}

type Seconds = Gauge<f64, AtomicU64>;

/// A hook run before each scrape.
pub type Refresh = Box<dyn Fn(&Metrics) + Send + Sync>;

/// The metrics of one agent or proxy. Cheap to clone (shared atomics).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    ready: Arc<AtomicBool>,
    /// Called before each scrape, to bring counts kept elsewhere up to date.
    refresh: Arc<std::sync::OnceLock<Refresh>>,
    /// Ring-buffer records read from the kernel.
    pub records: Counter,
    /// Records that did not decode (counted in gaps too).
    pub malformed_records: Counter,
    /// Statements seen (agent) or relayed (proxy).
    pub statements: Counter,
    /// Events sealed into the trail, by kind (gaps and checkpoints included).
    pub events: Family<KindLabel, Counter>,
    /// Events the output refused because it was full, by reason.
    pub events_dropped: Family<ReasonLabel, Counter>,
    /// Gap events.
    pub gaps: Counter,
    /// Bytes the kernel could not hand over, by reason.
    pub lost_bytes: Family<ReasonLabel, Counter>,
    /// Bytes of events waiting for the output (channel and spool).
    pub output_backlog_bytes: Gauge,
    /// Connections being followed (agent) or relayed (proxy).
    pub connections: Gauge,
    /// Client connections the proxy accepted.
    pub connections_accepted: Counter,
    /// Policy verdicts, by verdict.
    pub verdicts: Family<VerdictLabel, Counter>,
    /// Statement texts that did not parse, by engine.
    pub parse_errors: Family<EngineLabel, Counter>,
    /// The Kafka spool's size and cap.
    pub spool_bytes: Gauge,
    pub spool_max_bytes: Gauge,
    /// How long the oldest event not yet acknowledged by Kafka has waited.
    pub spool_oldest_age: Seconds,
    /// Messages handed to librdkafka and not yet acknowledged.
    pub kafka_queue: Gauge,
    /// Kafka errors, by kind (`delivery`: a failed delivery report; `broker`: the client
    /// cannot reach or use the brokers).
    pub kafka_errors: Family<KindLabel, Counter>,
    /// Unix time of the last acknowledgement (0: none yet).
    pub kafka_last_delivery: Seconds,
    /// The kernel ring buffer's size, and the most it held since the previous scrape.
    pub ring_size_bytes: Gauge,
    pub ring_peak_bytes: Gauge,
    ring_peak: Arc<AtomicU64>,
    /// 1 while the agent yields the CPU (`scheduling: adaptive`, keeping up), else 0.
    pub yielding: Gauge,
    /// Times the agent stopped yielding because the ring filled.
    pub boosts: Counter,
    /// Times capture stopped reading the ring because the output was behind.
    pub output_pauses: Counter,
    /// The time the proxy adds, per direction (`request`: from reading the client's bytes to
    /// writing them to the server, judging included; `response`: the other way, masking
    /// included).
    pub proxy_added: Family<DirectionLabel, Histogram, fn() -> Histogram>,
    cpu_seconds: Seconds,
    rss_bytes: Gauge,
    start_time: Seconds,
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("dbgov");
        let m = Self {
            registry: Arc::new(Registry::default()),
            ready: Arc::new(AtomicBool::new(false)),
            refresh: Arc::new(std::sync::OnceLock::new()),
            records: Counter::default(),
            malformed_records: Counter::default(),
            statements: Counter::default(),
            events: Family::default(),
            events_dropped: Family::default(),
            gaps: Counter::default(),
            lost_bytes: Family::default(),
            output_backlog_bytes: Gauge::default(),
            connections: Gauge::default(),
            connections_accepted: Counter::default(),
            verdicts: Family::default(),
            parse_errors: Family::default(),
            spool_bytes: Gauge::default(),
            spool_max_bytes: Gauge::default(),
            spool_oldest_age: Gauge::default(),
            kafka_queue: Gauge::default(),
            kafka_errors: Family::default(),
            kafka_last_delivery: Gauge::default(),
            ring_size_bytes: Gauge::default(),
            ring_peak_bytes: Gauge::default(),
            ring_peak: Arc::new(AtomicU64::new(0)),
            yielding: Gauge::default(),
            boosts: Counter::default(),
            output_pauses: Counter::default(),
            proxy_added: Family::new_with_constructor(latency_histogram),
            cpu_seconds: Gauge::default(),
            rss_bytes: Gauge::default(),
            start_time: Gauge::default(),
        };
        m.start_time.set(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );
        r.register(
            "records",
            "Ring-buffer records read from the kernel",
            m.records.clone(),
        );
        r.register(
            "malformed_records",
            "Ring-buffer records that did not decode",
            m.malformed_records.clone(),
        );
        r.register(
            "statements",
            "Statements seen (agent) or relayed (proxy)",
            m.statements.clone(),
        );
        r.register(
            "events",
            "Events sealed into the trail, by kind (statement, session_start, session_end, gap, checkpoint, approval)",
            m.events.clone(),
        );
        r.register(
            "events_dropped",
            "Events the output refused because its backlog or spool was full, by reason (each is counted in a gap event)",
            m.events_dropped.clone(),
        );
        r.register("gaps", "Gap events written", m.gaps.clone());
        r.register(
            "lost_bytes",
            "Bytes the kernel could not hand over, by reason",
            m.lost_bytes.clone(),
        );
        r.register(
            "output_backlog_bytes",
            "Bytes of events waiting for the output (channel and spool)",
            m.output_backlog_bytes.clone(),
        );
        r.register(
            "connections",
            "Database connections followed (agent) or relayed (proxy)",
            m.connections.clone(),
        );
        r.register(
            "proxy_connections_accepted",
            "Client connections the proxy accepted",
            m.connections_accepted.clone(),
        );
        r.register(
            "verdicts",
            "Policy verdicts, by verdict (allow, alert, mask, hold, block)",
            m.verdicts.clone(),
        );
        r.register(
            "parse_errors",
            "Statement texts that did not parse, by engine",
            m.parse_errors.clone(),
        );
        r.register(
            "spool_bytes",
            "Bytes in the Kafka spool (0 without Kafka)",
            m.spool_bytes.clone(),
        );
        r.register(
            "spool_max_bytes",
            "The Kafka spool's size cap (0 without Kafka)",
            m.spool_max_bytes.clone(),
        );
        r.register(
            "spool_oldest_age_seconds",
            "How long the oldest event not yet acknowledged by Kafka has waited (0 when none waits)",
            m.spool_oldest_age.clone(),
        );
        r.register(
            "kafka_queue_messages",
            "Messages handed to librdkafka and not yet acknowledged",
            m.kafka_queue.clone(),
        );
        r.register(
            "kafka_errors",
            "Kafka errors, by kind (delivery: a failed delivery report, sent again; broker: the brokers cannot be reached or used)",
            m.kafka_errors.clone(),
        );
        r.register(
            "kafka_last_delivery_timestamp_seconds",
            "Unix time of the last event Kafka acknowledged (0: none yet)",
            m.kafka_last_delivery.clone(),
        );
        r.register(
            "ring_buffer_size_bytes",
            "Size of the kernel ring buffer the probes write to",
            m.ring_size_bytes.clone(),
        );
        r.register(
            "ring_buffer_peak_used_bytes",
            "The most the kernel ring buffer held (as the probes saw it) since the previous scrape",
            m.ring_peak_bytes.clone(),
        );
        r.register(
            "cpu_yielding",
            "1 while the agent yields the CPU to other work (scheduling: adaptive, keeping up), else 0",
            m.yielding.clone(),
        );
        r.register(
            "cpu_boosts",
            "Times the agent stopped yielding the CPU because the ring buffer filled",
            m.boosts.clone(),
        );
        r.register(
            "output_pauses",
            "Times capture stopped reading the kernel ring buffer because the output was behind (the records waited in the ring; a full spool with on_full: pause counts too)",
            m.output_pauses.clone(),
        );
        r.register(
            "proxy_added_latency_seconds",
            "Time the proxy adds, by direction (request: client bytes read to written to the server, judging and holds included; response: server bytes read to written to the client, masking included)",
            m.proxy_added.clone(),
        );
        r.register(
            "process_start_time_seconds",
            "Unix time this process started",
            m.start_time.clone(),
        );
        r.register(
            "process_cpu_seconds",
            "CPU time of this process (user and system)",
            m.cpu_seconds.clone(),
        );
        r.register(
            "process_resident_memory_bytes",
            "Resident memory of this process",
            m.rss_bytes.clone(),
        );
        Self {
            registry: Arc::new(r),
            ..m
        }
    }

    /// Sets the hook run before each scrape (once; later calls are ignored).
    pub fn on_scrape(&self, f: Refresh) {
        let _ = self.refresh.set(f);
    }

    /// Marks the process ready (probes attached, or the proxy listening) or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Brings a counter up to a cumulative total kept elsewhere.
    pub fn advance(counter: &Counter, total: u64) {
        let now = counter.get();
        if total > now {
            counter.inc_by(total - now);
        }
    }

    /// Brings the verdict and parse-error counters up to a judge's totals.
    pub fn set_judge(&self, c: &crate::judge::JudgeCounts) {
        use crate::judge::JudgeCounts;
        for (i, v) in JudgeCounts::VERDICTS.iter().enumerate() {
            let ctr = self.verdicts.get_or_create(&VerdictLabel {
                verdict: (*v).to_owned(),
            });
            Self::advance(&ctr, c.verdicts[i]);
        }
        for (i, e) in JudgeCounts::ENGINES.iter().enumerate() {
            let ctr = self.parse_errors.get_or_create(&EngineLabel {
                engine: (*e).to_owned(),
            });
            Self::advance(&ctr, c.parse_errors[i]);
        }
    }

    /// Notes how full the kernel ring buffer was (the peak is reported at the next scrape).
    pub fn note_ring_used(&self, bytes: u64) {
        self.ring_peak.fetch_max(bytes, Ordering::Relaxed);
    }

    /// Records time the proxy added in one direction.
    pub fn proxy_added(&self, direction: &'static str, d: std::time::Duration) {
        self.proxy_added
            .get_or_create(&DirectionLabel {
                direction: direction.to_owned(),
            })
            .observe(d.as_secs_f64());
    }

    /// Brings the event counters up to an output's counts.
    pub fn set_output(&self, c: &crate::sink::OutputCounts) {
        for (i, k) in crate::audit::Kind::ALL.iter().enumerate() {
            let ctr = self.events.get_or_create(&KindLabel {
                kind: k.as_str().to_owned(),
            });
            Self::advance(&ctr, c.sealed[i]);
        }
        if let Some(r) = c.drop_reason {
            let ctr = self.events_dropped.get_or_create(&ReasonLabel {
                reason: serde_json::to_string(&r)
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_owned(),
            });
            Self::advance(&ctr, c.dropped);
        }
    }

    /// Brings the spool and Kafka figures up to date (a Kafka output only).
    pub fn set_spool(&self, sh: &crate::sink::spool::Shared, cap: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let now = crate::sink::spool::unix_ms();
        self.spool_bytes
            .set(i64::try_from(sh.bytes.load(Relaxed)).unwrap_or(i64::MAX));
        self.spool_max_bytes
            .set(i64::try_from(cap).unwrap_or(i64::MAX));
        self.spool_oldest_age.set(sh.oldest_age(now));
        let k = &sh.kafka;
        self.kafka_queue
            .set(i64::try_from(k.queue_messages.load(Relaxed)).unwrap_or(i64::MAX));
        for (kind, n) in [
            ("delivery", k.delivery_errors.load(Relaxed)),
            ("broker", k.broker_errors.load(Relaxed)),
        ] {
            let ctr = self.kafka_errors.get_or_create(&KindLabel {
                kind: kind.to_owned(),
            });
            Self::advance(&ctr, n);
        }
        self.kafka_last_delivery
            .set(k.last_delivery_ms.load(Relaxed) as f64 / 1000.0);
    }

    /// Reads this process's CPU time and resident memory from /proc/self.
    fn sample_process(&self) {
        // SAFETY: sysconf has no preconditions.
        let (tick, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the command name, which ends with the last ')'.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<&str> = rest.split_whitespace().collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            // utime and stime are fields 14 and 15 (index 11 and 12 here); rss is 24 (21).
            if tick > 0 {
                self.cpu_seconds
                    .set((num(11) + num(12)) as f64 / tick as f64);
            }
            self.rss_bytes.set(
                i64::try_from(num(21))
                    .unwrap_or(i64::MAX)
                    .saturating_mul(page.max(0)),
            );
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        if let Some(f) = self.refresh.get() {
            f(self);
        }
        self.sample_process();
        self.ring_peak_bytes
            .set(i64::try_from(self.ring_peak.swap(0, Ordering::Relaxed)).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Serves `/metrics` and `/healthz` on `addr` until the process ends.
    pub async fn serve(&self, addr: SocketAddr) -> Result<(), MetricsError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| MetricsError::Listen { addr, source })?;
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let me = me.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let me = me.clone();
                        async move { Ok::<_, Infallible>(me.answer(&req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(())
    }

    fn answer<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        let (status, ctype, body) = match req.uri().path() {
            "/metrics" => (
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                self.render(),
            ),
            "/healthz" if self.ready.load(Ordering::Relaxed) => {
                (StatusCode::OK, "text/plain", "ok\n".to_owned())
            }
            "/healthz" => (
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "starting\n".to_owned(),
            ),
            _ => (
                StatusCode::NOT_FOUND,
                "text/plain",
                "not found: try /metrics or /healthz\n".to_owned(),
            ),
        };
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
            resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        resp
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_start_with_dbgov_and_counters_advance_to_totals() {
        let m = Metrics::new();
        Metrics::advance(&m.statements, 7);
        Metrics::advance(&m.statements, 5);
        m.lost_bytes
            .get_or_create(&ReasonLabel {
                reason: "ring_buffer_full".into(),
            })
            .inc_by(100);
        m.proxy_added("request", std::time::Duration::from_micros(30));
        m.proxy_added("request", std::time::Duration::from_millis(3));
        let mut c = crate::sink::OutputCounts {
            drop_reason: Some(crate::audit::GapReason::SpoolFull),
            dropped: 4,
            ..Default::default()
        };
        c.sealed[crate::audit::Kind::Statement as usize] = 3;
        c.sealed[crate::audit::Kind::Checkpoint as usize] = 1;
        m.set_output(&c);
        m.note_ring_used(1000);
        m.note_ring_used(600);
        let text = m.render();
        assert!(text.contains("dbgov_statements_total 7\n"), "{text}");
        assert!(
            text.contains("dbgov_events_total{kind=\"statement\"} 3\n")
                && text.contains("dbgov_events_total{kind=\"checkpoint\"} 1\n")
                && text.contains("dbgov_events_dropped_total{reason=\"spool_full\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("dbgov_proxy_added_latency_seconds_count{direction=\"request\"} 2\n"),
            "{text}"
        );
        // 30 µs falls in the 40 µs bucket, 3 ms in the 5.12 ms one.
        assert!(
            text.contains(
                "dbgov_proxy_added_latency_seconds_bucket{le=\"0.00004\",direction=\"request\"} 1\n"
            ),
            "{text}"
        );
        // The ring's peak is reported once, then starts again.
        assert!(
            text.contains("dbgov_ring_buffer_peak_used_bytes 1000\n"),
            "{text}"
        );
        assert!(m.render().contains("dbgov_ring_buffer_peak_used_bytes 0\n"));
        assert!(
            text.contains("dbgov_lost_bytes_total{reason=\"ring_buffer_full\"} 100"),
            "{text}"
        );
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(l.starts_with("dbgov_"), "{l}");
        }
        assert!(text.contains("dbgov_process_resident_memory_bytes "));
        let req = Request::get("/healthz").body(()).expect("request");
        assert_eq!(m.answer(&req).status(), StatusCode::SERVICE_UNAVAILABLE);
        m.set_ready(true);
        assert_eq!(m.answer(&req).status(), StatusCode::OK);
    }
}
