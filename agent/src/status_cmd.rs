//! `dbgov status`: asks a running agent (or proxy) for its health and metrics and prints a
//! short summary. Exit status 1 when it is unhealthy.
use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use clap::Args;
use http_body_util::{BodyExt, Empty};

#[derive(Args)]
pub struct StatusArgs {
    /// The address the agent serves its metrics on (`--metrics` / `metrics:`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9187")]
    metrics: SocketAddr,
    /// Unhealthy when Kafka is configured, events wait, and none was delivered for this long.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    max_delivery_stall: std::time::Duration,
}

/// GET `path`: (status code, body).
async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<bytes::Bytes>::new())?;
    let resp = send.send_request(req).await?;
    let code = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((code, String::from_utf8_lossy(&body).into_owned()))
}

/// The value of a metric line (`name value`, or `name{labels} value` when `name` includes
/// its labels).
fn value(page: &str, name: &str) -> f64 {
    page.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .sum()
}

fn sum_prefix(page: &str, prefix: &str) -> f64 {
    page.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn mib(b: f64) -> String {
    format!("{:.1} MiB", b / (1024.0 * 1024.0))
}

/// The summary line and the reasons it is unhealthy. `now` is Unix time in seconds; `stall`
/// how long events may wait for Kafka with no delivery at all.
pub fn judge(healthz: u16, page: &str, now: f64, stall: f64) -> (String, Vec<String>) {
    let mut bad = Vec::new();
    if healthz != 200 {
        bad.push("not ready: probes not attached (starting or stopping)".to_owned());
    }
    let (spool, cap) = (
        value(page, "dbgov_spool_bytes"),
        value(page, "dbgov_spool_max_bytes"),
    );
    let spool_pct = if cap > 0.0 { spool * 100.0 / cap } else { 0.0 };
    if spool_pct > 80.0 {
        bad.push(format!(
            "the Kafka spool is {spool_pct:.0}% full ({} of {}): the broker is not taking events",
            mib(spool),
            mib(cap)
        ));
    }
    let kafka = cap > 0.0;
    let oldest = value(page, "dbgov_spool_oldest_age_seconds");
    let last = value(page, "dbgov_kafka_last_delivery_timestamp_seconds");
    let since_delivery = now - last.max(value(page, "dbgov_process_start_time_seconds"));
    // Events have waited this long without any delivery.
    let stalled = since_delivery.min(oldest);
    if kafka && oldest > 0.0 && stalled > stall {
        bad.push(format!(
            "no delivery to Kafka for {stalled:.0} s while events wait (the oldest for {oldest:.0} s; {} messages queued, {} broker and {} delivery errors)",
            value(page, "dbgov_kafka_queue_messages"),
            value(page, "dbgov_kafka_errors_total{kind=\"broker\"}"),
            value(page, "dbgov_kafka_errors_total{kind=\"delivery\"}"),
        ));
    }
    let peak = value(page, "dbgov_ring_buffer_peak_used_bytes");
    let ring = value(page, "dbgov_ring_buffer_size_bytes");
    let verdict = |v: &str| value(page, &format!("dbgov_verdicts_total{{verdict=\"{v}\"}}"));
    let line = format!(
        "{}: {} statements, {} events ({} dropped), {} gaps, {} bytes lost; verdicts: {} block, {} hold, {} alert; {} connections; {}backlog {}; spool {}; {} resident, {:.1} s CPU",
        if bad.is_empty() { "healthy" } else { "UNHEALTHY" },
        value(page, "dbgov_statements_total"),
        sum_prefix(page, "dbgov_events_total"),
        sum_prefix(page, "dbgov_events_dropped_total"),
        value(page, "dbgov_gaps_total"),
        sum_prefix(page, "dbgov_lost_bytes_total"),
        verdict("block"),
        verdict("hold"),
        verdict("alert"),
        value(page, "dbgov_connections"),
        if ring > 0.0 {
            format!("ring peak {:.0}% of {}; ", peak * 100.0 / ring, mib(ring))
        } else {
            String::new()
        },
        mib(value(page, "dbgov_output_backlog_bytes")),
        if kafka {
            format!(
                "{spool_pct:.0}% of {}, {}",
                mib(cap),
                if last > 0.0 {
                    format!("last Kafka delivery {:.0} s ago", (now - last).max(0.0))
                } else {
                    "no Kafka delivery yet".to_owned()
                }
            )
        } else {
            "none (no Kafka)".to_owned()
        },
        mib(value(page, "dbgov_process_resident_memory_bytes")),
        value(page, "dbgov_process_cpu_seconds"),
    );
    (line, bad)
}

pub fn status(a: StatusArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let addr = a.metrics;
    let (health, page) = rt.block_on(async {
        let h = get(addr, "/healthz").await.with_context(|| {
            format!(
                "no dbgov answers on {addr}: is it running with --metrics {addr} (or `metrics: {addr}`)?"
            )
        })?;
        let m = get(addr, "/metrics").await?;
        anyhow::Ok((h.0, m.1))
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let (line, bad) = judge(health, &page, now, a.max_delivery_stall.as_secs_f64());
    println!("dbgov at {addr}: {line}");
    if !bad.is_empty() {
        for b in &bad {
            eprintln!("dbgov: {b}");
        }
        bail!("unhealthy");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhealthy_when_not_ready_or_the_spool_is_over_80_percent() {
        let page = "dbgov_statements_total 12\ndbgov_spool_bytes 900\ndbgov_spool_max_bytes 1000\ndbgov_verdicts_total{verdict=\"block\"} 2\ndbgov_lost_bytes_total{reason=\"truncated\"} 5\ndbgov_lost_bytes_total{reason=\"ring_buffer_full\"} 7\n";
        let (line, bad) = judge(200, page, 1000.0, 300.0);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].contains("90% full"));
        assert!(line.starts_with("UNHEALTHY: 12 statements"), "{line}");
        assert!(
            line.contains("12 bytes lost") && line.contains("2 block"),
            "{line}"
        );
        let (line, bad) = judge(503, "dbgov_spool_max_bytes 0\n", 1000.0, 300.0);
        assert_eq!(bad.len(), 1);
        assert!(line.contains("spool none (no Kafka)"), "{line}");
        assert!(judge(200, "dbgov_statements_total 1\n", 1000.0, 300.0)
            .1
            .is_empty());
    }

    #[test]
    fn unhealthy_when_events_wait_for_kafka_with_no_delivery_for_too_long() {
        let page = |oldest: f64, last: f64| {
            format!(
                "dbgov_spool_bytes 10\ndbgov_spool_max_bytes 1000\ndbgov_process_start_time_seconds 100\n\
                 dbgov_spool_oldest_age_seconds {oldest}\ndbgov_kafka_last_delivery_timestamp_seconds {last}\n\
                 dbgov_kafka_errors_total{{kind=\"broker\"}} 4\n"
            )
        };
        // Delivered 1,000 s ago; the oldest waiting event waited 400 s: stalled.
        let (line, bad) = judge(200, &page(400.0, 2000.0), 3000.0, 300.0);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(
            bad[0].starts_with("no delivery to Kafka for 400 s") && bad[0].contains("4 broker"),
            "{bad:?}"
        );
        assert!(line.contains("last Kafka delivery 1000 s ago"), "{line}");
        // A backlog draining (a delivery 2 s ago) is healthy however old its oldest event.
        assert!(judge(200, &page(4000.0, 2998.0), 3000.0, 300.0)
            .1
            .is_empty());
        // Idle for an hour, then one event 10 s ago: healthy.
        assert!(judge(200, &page(10.0, 2000.0), 3000.0, 300.0).1.is_empty());
        // Nothing waits: healthy, however long since the last delivery.
        assert!(judge(200, &page(0.0, 0.0), 3000.0, 300.0).1.is_empty());
        // Never delivered since the start 2,900 s ago, with events waiting 600 s: stalled.
        let (line, bad) = judge(200, &page(600.0, 0.0), 3000.0, 300.0);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(line.contains("no Kafka delivery yet"), "{line}");
        // Without Kafka the rule does not apply.
        let (_, bad) = judge(
            200,
            "dbgov_spool_max_bytes 0\ndbgov_spool_oldest_age_seconds 999\n",
            3000.0,
            300.0,
        );
        assert!(bad.is_empty());
    }
}
