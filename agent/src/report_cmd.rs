//! `dbgov report`: reads a trail once, checks its chain and folds it into a report.
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use clap::Args;

use dbgov::report::controls::ControlMap;
use dbgov::report::render::{render, Format};
use dbgov::report::{Builder, IntegrityResult};
use dbgov::verify::{Fault, Finding, Summary};

#[derive(Args)]
pub struct ReportArgs {
    /// The trail: `jsonl:PATH` or `kafka:BROKERS/TOPIC` (the audit topic, from its beginning).
    #[arg(long, value_name = "jsonl:PATH|kafka:BROKERS/TOPIC")]
    input: String,
    /// Only events at or after this time: RFC 3339 or an age (`7d`, `12h`). The chain is
    /// still checked over the whole input.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only events before this time: RFC 3339 or an age.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Check checkpoint signatures with this public key (`signing.pub` from `dbgov keygen`).
    #[arg(long, value_name = "FILE")]
    pubkey: Option<PathBuf>,
    /// `html` (one self-contained page), `markdown` or `json` (the aggregates, for other tools).
    #[arg(long, value_name = "FORMAT", default_value = "html")]
    format: Format,
    /// Where to write the report (created mode 0600).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Map sections to framework controls (YAML: `controls: [{framework, id, title,
    /// sections}]`); default: SOC 2 CC6.1, CC6.6, CC7.2, CC8.1 and PCI DSS 10.2.
    #[arg(long, value_name = "FILE")]
    control_map: Option<PathBuf>,
    /// Re-judge every statement with the policies in DIR and add the verdicts that would
    /// change (what a candidate rule would have blocked or alerted).
    #[arg(long, value_name = "DIR")]
    what_if_policies: Option<PathBuf>,
    /// A librdkafka setting for reading from Kafka; repeatable.
    #[arg(long = "kafka-property", value_name = "KEY=VALUE")]
    kafka_properties: Vec<String>,
}

fn bound(s: &Option<String>, now: SystemTime, what: &str) -> Result<Option<String>> {
    s.as_deref()
        .map(|s| {
            dbgov::tail::parse_since(s, now)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                .with_context(|| format!("--{what}"))
        })
        .transpose()
}

/// Progress on stderr, at most once a second.
struct Progress {
    t0: Instant,
    last: Instant,
    total_bytes: Option<u64>,
}

impl Progress {
    fn tick(&mut self, events: u64, bytes: u64) {
        if self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = Instant::now();
        match self.total_bytes.filter(|t| *t > 0) {
            Some(t) => eprint!(
                "\rdbgov report: {events} events read ({:.0}%, {:.0} s)   ",
                bytes as f64 * 100.0 / t as f64,
                self.t0.elapsed().as_secs_f64()
            ),
            None => eprint!(
                "\rdbgov report: {events} events read ({:.0} s)   ",
                self.t0.elapsed().as_secs_f64()
            ),
        }
        let _ = std::io::stderr().flush();
    }
}

fn integrity(r: std::result::Result<Summary, Finding>) -> IntegrityResult {
    match r {
        Ok(s) => IntegrityResult {
            status: "intact".into(),
            first_fault: None,
            streams: s.streams.len() as u64,
            checkpoints: s.checkpoints,
            signatures_checked: s.signatures_checked,
            unsigned_tail: s.unsigned_tail,
            duplicates: s.duplicates,
        },
        Err(f) => IntegrityResult {
            status: f.fault.as_str().to_owned(),
            first_fault: Some(format!(
                "{} (stream {}, seq {})",
                f.at,
                f.stream.as_deref().unwrap_or("-"),
                f.seq.map_or_else(|| "-".to_owned(), |q| q.to_string())
            )),
            ..Default::default()
        },
    }
}

pub fn report(a: ReportArgs) -> Result<()> {
    crate::tracing_init();
    let now = SystemTime::now();
    let since = bound(&a.since, now, "since")?;
    let until = bound(&a.until, now, "until")?;
    let key = match &a.pubkey {
        Some(p) => Some(dbgov::audit::checkpoint::load_public_key(p)?),
        None => None,
    };
    let controls = match &a.control_map {
        Some(p) => ControlMap::load(p)?,
        None => ControlMap::builtin(),
    };
    let mut b = Builder::new(&a.input, since, until);
    if let Some(d) = &a.what_if_policies {
        let p = dbgov::policy::Policy::load_dir(d)
            .with_context(|| format!("loading the candidate policies from {}", d.display()))?;
        b = b.with_what_if(dbgov::report::whatif::WhatIf::new(
            p,
            &d.display().to_string(),
        ));
    }
    let mut progress = Progress {
        t0: Instant::now(),
        last: Instant::now(),
        total_bytes: None,
    };
    let mut events = 0u64;
    let checked = if let Some(path) = a.input.strip_prefix("jsonl:").filter(|p| !p.is_empty()) {
        let open = || {
            std::fs::File::open(path)
                .map(|f| std::io::BufReader::with_capacity(1 << 20, f))
                .with_context(|| format!("reading {path}"))
        };
        let mut rd = open()?;
        progress.total_bytes = std::fs::metadata(path).ok().map(|m| m.len());
        let mut check = dbgov::verify::LineCheck::new(key.as_ref());
        let mut fault: Option<Finding> = None;
        let (mut line, mut bytes) = (String::new(), 0u64);
        loop {
            line.clear();
            let n = rd.read_line(&mut line)?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            events += 1;
            if fault.is_none() {
                if let Err(f) = check.push(&line) {
                    fault = Some(f);
                }
            }
            b.push_line(&line);
            progress.tick(events, bytes);
        }
        match fault {
            // A missing event that comes later in the file was reordered, not deleted.
            Some(mut f) if f.fault == Fault::Deleted => {
                if let Some((stream, seq)) = check.missing() {
                    let later = open()?.lines().map_while(Result::ok).any(|l| {
                        serde_json::from_str::<serde_json::Value>(&l).is_ok_and(|v| {
                            v["integrity"]["stream"] == stream.as_str()
                                && v["integrity"]["seq"] == seq
                        })
                    });
                    if later {
                        f.fault = Fault::Reordered;
                    }
                }
                Err(f)
            }
            Some(f) => Err(f),
            None => Ok(check.finish()),
        }
    } else if a.input.starts_with("kafka:") {
        let (brokers, topic) = crate::kafka_input(&a.input)?;
        let props = crate::kafka_props(&a.kafka_properties)?;
        eprintln!("dbgov report: reading {topic} from {brokers} ...");
        let mut check = dbgov::verify::PartitionCheck::new(key.as_ref());
        let mut fault = None;
        dbgov::sink::kafka::read_topic_each(
            brokers,
            topic,
            &props,
            Duration::from_secs(10),
            |p, o, payload| {
                events += 1;
                // A re-delivery (at-least-once) is counted once.
                let mut new = true;
                if fault.is_none() {
                    match check.push(p, o, payload) {
                        Ok(n) => new = n,
                        Err(f) => fault = Some(f),
                    }
                }
                if let (true, Ok(s)) = (new, std::str::from_utf8(payload)) {
                    b.push_line(s);
                }
                progress.tick(events, 0);
                true
            },
        )?;
        match fault {
            Some(f) => Err(f),
            None => check.finish(),
        }
    } else {
        bail!(
            "--input must be jsonl:PATH or kafka:BROKERS/TOPIC, not {:?}",
            a.input
        );
    };
    if progress.t0.elapsed() >= Duration::from_secs(1) {
        eprintln!();
    }
    let r = b.finish(integrity(checked), &controls);
    let text = render(&r, a.format)?;
    let mut f = dbgov::files::open_private(&a.out, true)
        .with_context(|| format!("writing {}", a.out.display()))?;
    f.write_all(text.as_bytes())?;
    eprintln!(
        "dbgov report: {events} events ({} in range, {} statements), chain {}; wrote {} in {:.1} s",
        r.scope.events,
        r.statements,
        r.integrity.status,
        a.out.display(),
        progress.t0.elapsed().as_secs_f64()
    );
    Ok(())
}
