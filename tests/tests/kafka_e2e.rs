//! Kafka delivery against a real Kafka-protocol broker (tansu): every statement reaches the
//! audit topic and the trail verifies, signatures included; a 60 s broker outage and a kill -9
//! of the agent lose nothing (after deduplication on `event_id`, as at-least-once delivery
//! requires), and cost no gap events.
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dbgov_tests::*;
use serde_json::Value;

/// Statement texts (redacted) of the events, after dropping re-deliveries by `event_id`.
fn dedup(msgs: &[(i32, i64, Value)]) -> Vec<Value> {
    let mut seen = HashSet::new();
    msgs.iter()
        .filter(|(_, _, v)| seen.insert(v["event_id"].as_str().unwrap_or("").to_owned()))
        .map(|(_, _, v)| v.clone())
        .collect()
}

/// How many statement events carry each marker text `SELECT ? AS {prefix}_{i}`.
fn marker_counts(ev: &[Value], prefix: &str) -> BTreeMap<u64, usize> {
    let mut m = BTreeMap::new();
    for e in statements(ev) {
        let t = e["statement"]["text"].as_str().unwrap_or("");
        if let Some(i) = t
            .strip_prefix(&format!("SELECT ? AS {prefix}_"))
            .and_then(|n| n.trim_end_matches(';').parse::<u64>().ok())
        {
            *m.entry(i).or_default() += 1;
        }
    }
    m
}

fn verify_kafka(broker: &Broker, pubkey: Option<&std::path::Path>) -> anyhow::Result<String> {
    let mut c = Command::new(agent_bin());
    c.args(["verify", "--input"])
        .arg(format!("kafka:{}/dbgov.audit", broker.addr()));
    if let Some(k) = pubkey {
        c.arg("--pubkey").arg(k);
    }
    let out = c.output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(out.status.success(), "dbgov verify failed: {text}");
    Ok(text)
}

/// Reads the audit topic until `pred` holds over the deduplicated events.
fn wait_topic(
    broker: &Broker,
    what: &str,
    limit: Duration,
    pred: impl Fn(&[Value]) -> bool,
) -> anyhow::Result<Vec<Value>> {
    let t0 = Instant::now();
    loop {
        let ev = dedup(&broker.read("dbgov.audit").unwrap_or_default());
        if pred(&ev) {
            return Ok(ev);
        }
        if t0.elapsed() > limit {
            anyhow::bail!(
                "timed out waiting for {what}: {} events on the topic",
                ev.len()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// `dbgov run --output kafka:BROKER --postgres-port PG` plus `args`.
fn kafka_agent(broker: &Broker, pg: &Postgres, args: &[&str]) -> anyhow::Result<Agent> {
    let port = pg.port.to_string();
    let mut all = vec!["--postgres-port", &port];
    all.extend_from_slice(args);
    Agent::start_with_output(&format!("kafka:{}", broker.addr()), &all)
}

/// Runs `SELECT 0 AS {prefix}_0`, waits until it is on the topic (the agent and its topics
/// are up), then freezes the broker.
fn first_statement_then_freeze(
    pg: &Postgres,
    dir: &TempDir,
    broker: &Broker,
    prefix: &str,
) -> anyhow::Result<()> {
    pg.psql_script(dir, "first.sql", &format!("SELECT 0 AS {prefix}_0;\n"))?;
    wait_topic(
        broker,
        "the first statement",
        Duration::from_secs(30),
        |ev| marker_counts(ev, prefix).len() == 1,
    )?;
    broker.pause(true);
    Ok(())
}

/// Starts an agent whose spool (under `state`) has the settings `spool` (YAML under
/// `spool:`), delivers `SELECT 0 AS {prefix}_0`, freezes the broker, runs statements
/// `{prefix}_1` to `{prefix}_{n-1}`, waits `settle` and thaws the broker.
#[allow(clippy::too_many_arguments)]
fn flood_a_frozen_broker(
    pg: &Postgres,
    broker: &Broker,
    dir: &TempDir,
    state: &Path,
    spool: &str,
    prefix: &str,
    n: usize,
    settle: Duration,
) -> anyhow::Result<Agent> {
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!("state_dir: {}\nspool:\n{spool}", state.display()),
    )?;
    let agent = kafka_agent(broker, pg, &["--config", &config.to_string_lossy()])?;
    first_statement_then_freeze(pg, dir, broker, prefix)?;
    let mut sql = String::new();
    for i in 1..n {
        sql.push_str(&format!("SELECT {i} AS {prefix}_{i};\n"));
    }
    pg.psql_script(dir, &format!("{prefix}1.sql"), &sql)?;
    std::thread::sleep(settle);
    broker.pause(false);
    Ok(agent)
}

fn prerequisites() -> bool {
    require_agent()
        && require(Postgres::available(), "PostgreSQL 15 server binaries")
        && require(
            Broker::available(),
            "tansu, the Kafka-protocol broker (cargo xtask setup)",
        )
}

#[test]
fn every_statement_reaches_the_audit_topic_and_the_signed_trail_verifies() -> anyhow::Result<()> {
    if !prerequisites() {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let broker = Broker::start()?;
    let dir = TempDir::new("kafka-e2e")?;
    let keys = dir.path().join("keys");
    run(Command::new(agent_bin())
        .arg("keygen")
        .arg("--out")
        .arg(&keys))?;
    let state = dir.path().join("state");
    let agent = kafka_agent(
        &broker,
        &pg,
        &[
            "--state-dir",
            &state.to_string_lossy(),
            "--signing-key",
            &keys.join("signing.key").to_string_lossy(),
            "--checkpoint-events",
            "250",
        ],
    )?;
    let mut sql = String::new();
    for i in 0..1000 {
        sql.push_str(&format!("SELECT {i} AS k_{i};\n"));
    }
    // And one statement the built-in pack does not allow silently (an unbounded DELETE is
    // held): it goes to the alerts topic too.
    sql.push_str(
        "CREATE TABLE kafka_alert_probe (id int);\nDELETE FROM kafka_alert_probe;\nDROP TABLE kafka_alert_probe;\n",
    );
    pg.psql_script(&dir, "k.sql", &sql)?;
    let (code, _) = agent.stop()?;
    assert_eq!(code, 0);
    let msgs = broker.read("dbgov.audit")?;
    let ev = dedup(&msgs);
    let counts = marker_counts(&ev, "k");
    assert_eq!(
        counts.len(),
        1000,
        "statements missing on the topic ({} events): {}",
        ev.len(),
        dump(
            &statements(&ev)
                .into_iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
        )
    );
    assert!(
        counts.values().all(|&n| n == 1),
        "a statement twice: {counts:?}"
    );
    // Checkpoints: signed every 250 events, also on their own topic.
    let cps = broker.read("dbgov.checkpoints")?;
    assert!(cps.len() >= 4, "{} checkpoints", cps.len());
    assert!(cps.iter().all(|(_, _, v)| v["kind"] == "checkpoint"));
    // Alerts: exactly the events whose verdict is not allow.
    let alerts = dedup(&broker.read("dbgov.alerts").unwrap_or_default());
    let not_allowed: Vec<&Value> = ev
        .iter()
        .filter(|e| {
            e["policy"]["verdict"]
                .as_str()
                .is_some_and(|v| v != "allow")
        })
        .collect();
    assert!(
        !not_allowed.is_empty(),
        "the unbounded DELETE was allowed silently"
    );
    assert_eq!(alerts.len(), not_allowed.len());
    // One session stays in one partition, in order.
    let mut part_of: BTreeMap<String, i32> = BTreeMap::new();
    for (p, _, v) in &msgs {
        if let Some(s) = v["session"]["id"].as_str() {
            assert_eq!(*part_of.entry(s.to_owned()).or_insert(*p), *p);
        }
    }
    let summary = verify_kafka(&broker, Some(&keys.join("signing.pub")))?;
    assert!(summary.contains("all signatures valid"), "{summary}");
    assert!(
        summary.contains(" 0 events after the last checkpoint"),
        "{summary}"
    );
    Ok(())
}

#[test]
fn a_60_second_broker_outage_loses_nothing() -> anyhow::Result<()> {
    if !prerequisites() {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let broker = Broker::start()?;
    let dir = TempDir::new("kafka-outage")?;
    let state = dir.path().join("state");
    let mport = free_port();
    let maddr = format!("127.0.0.1:{mport}");
    let mut agent = kafka_agent(
        &broker,
        &pg,
        &["--state-dir", &state.to_string_lossy(), "--metrics", &maddr],
    )?;
    first_statement_then_freeze(&pg, &dir, &broker, "o")?;
    let t0 = Instant::now();
    let mut n = 1;
    let mut stalled_seen = None;
    while t0.elapsed() < Duration::from_secs(60) {
        pg.psql_script(&dir, "o.sql", &format!("SELECT {n} AS o_{n};\n"))?;
        n += 1;
        std::thread::sleep(Duration::from_millis(200));
        // The operator's view of the outage, after 20 s of it.
        if stalled_seen.is_none() && t0.elapsed() > Duration::from_secs(20) {
            let (_, page) = http_get(mport, "/metrics")?;
            let oldest = metric(&page, "dbgov_spool_oldest_age_seconds").unwrap_or(0.0);
            assert!((15.0..60.0).contains(&oldest), "oldest {oldest}: {page}");
            let last = metric(&page, "dbgov_kafka_last_delivery_timestamp_seconds");
            assert!(last.is_some_and(|t| t > 1e9), "{page}");
            assert!(
                metric(&page, "dbgov_kafka_queue_messages").is_some_and(|q| q >= 1.0),
                "{page}"
            );
            let st = Command::new(agent_bin())
                .args(["status", "--metrics", &maddr, "--max-delivery-stall", "10s"])
                .output()?;
            let err = String::from_utf8_lossy(&st.stderr).into_owned();
            assert_eq!(st.status.code(), Some(1), "{err}");
            assert!(err.contains("no delivery to Kafka for "), "{err}");
            // With the default (5 minutes) the same agent is still healthy.
            let st = Command::new(agent_bin())
                .args(["status", "--metrics", &maddr])
                .output()?;
            assert!(
                st.status.success(),
                "{}",
                String::from_utf8_lossy(&st.stderr)
            );
            stalled_seen = Some(oldest);
        }
    }
    assert!(stalled_seen.is_some());
    assert!(
        agent.is_running(),
        "the agent stopped: {}",
        agent.stderr_text()
    );
    broker.pause(false);
    for k in n..n + 20 {
        pg.psql_script(&dir, "o.sql", &format!("SELECT {k} AS o_{k};\n"))?;
    }
    let total = n + 20;
    wait_topic(
        &broker,
        "the spool to drain",
        Duration::from_secs(120),
        |ev| marker_counts(ev, "o").len() as u64 == total,
    )?;
    // Delivered again: nothing waits, the last delivery is recent, and status is healthy
    // with a short limit too.
    let t1 = Instant::now();
    loop {
        let (_, page) = http_get(mport, "/metrics")?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs_f64();
        let last = metric(&page, "dbgov_kafka_last_delivery_timestamp_seconds").unwrap_or(0.0);
        if metric(&page, "dbgov_spool_oldest_age_seconds") == Some(0.0) && now - last < 30.0 {
            assert!(
                metric(&page, "dbgov_events_total{kind=\"statement\"}")
                    .is_some_and(|s| s >= total as f64),
                "{page}"
            );
            break;
        }
        assert!(t1.elapsed() < Duration::from_secs(30), "{page}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let st = Command::new(agent_bin())
        .args(["status", "--metrics", &maddr, "--max-delivery-stall", "10s"])
        .output()?;
    let out = String::from_utf8_lossy(&st.stdout).into_owned();
    assert!(
        st.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(out.contains("last Kafka delivery "), "{out}");
    // The trouble is logged once per change of state, never once per event.
    let log = agent.stderr_text();
    let kafka_lines = log.lines().filter(|l| l.contains("Kafka")).count();
    assert!(
        kafka_lines <= 4,
        "{kafka_lines} log lines about Kafka:\n{log}"
    );
    let (code, _) = agent.stop()?;
    assert_eq!(code, 0);
    let ev = dedup(&broker.read("dbgov.audit")?);
    let counts = marker_counts(&ev, "o");
    assert_eq!(counts.len() as u64, total);
    assert!(counts.values().all(|&c| c == 1), "{counts:?}");
    assert!(
        of_kind(&ev, "gap").is_empty(),
        "gaps: {}",
        dump(&of_kind(&ev, "gap").into_iter().cloned().collect::<Vec<_>>())
    );
    verify_kafka(&broker, None)?;
    // A report straight from the topic: every statement, the chain intact.
    let out = dir.path().join("report.json");
    let r = Command::new(agent_bin())
        .args(["report", "--input"])
        .arg(format!("kafka:{}/dbgov.audit", broker.addr()))
        .args(["--format", "json", "--out"])
        .arg(&out)
        .output()?;
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rep: Value = serde_json::from_slice(&std::fs::read(&out)?)?;
    assert_eq!(
        rep["statements"],
        statements(&ev).len(),
        "{}",
        rep["integrity"]
    );
    assert_eq!(rep["integrity"]["status"], "intact", "{}", rep["integrity"]);
    assert_eq!(
        rep["coverage"]["fully_parsed_percent"], 100.0,
        "{}",
        rep["coverage"]
    );
    Ok(())
}

#[test]
fn a_killed_agent_sends_its_spool_after_restart() -> anyhow::Result<()> {
    if !prerequisites() {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let broker = Broker::start()?;
    let dir = TempDir::new("kafka-crash")?;
    let state = dir.path().join("state");
    let state = state.to_string_lossy().into_owned();
    let args = ["--state-dir", state.as_str()];
    let mut agent = kafka_agent(&broker, &pg, &args)?;
    // The broker freezes, so the events wait in the spool, unacknowledged.
    first_statement_then_freeze(&pg, &dir, &broker, "c")?;
    let mut sql = String::new();
    for i in 1..200 {
        sql.push_str(&format!("SELECT {i} AS c_{i};\n"));
    }
    pg.psql_script(&dir, "c1.sql", &sql)?;
    // Let the pipeline hand them to the spool, then kill -9.
    std::thread::sleep(Duration::from_secs(2));
    agent.child.kill()?;
    agent.child.wait()?;
    broker.pause(false);
    let agent = kafka_agent(&broker, &pg, &args)?;
    let mut sql = String::new();
    for i in 200..400 {
        sql.push_str(&format!("SELECT {i} AS c_{i};\n"));
    }
    pg.psql_script(&dir, "c2.sql", &sql)?;
    wait_topic(
        &broker,
        "all 400 statements",
        Duration::from_secs(60),
        |ev| marker_counts(ev, "c").len() == 400,
    )?;
    let (code, _) = agent.stop()?;
    assert_eq!(code, 0);
    let ev = dedup(&broker.read("dbgov.audit")?);
    let counts = marker_counts(&ev, "c");
    assert_eq!(counts.len(), 400);
    assert!(counts.values().all(|&c| c == 1));
    // Two agent streams, both intact.
    let out = verify_kafka(&broker, None)?;
    assert!(out.contains("in 2 stream(s)"), "{out}");
    Ok(())
}

#[test]
fn a_full_spool_drops_the_newest_events_and_counts_them_on_the_chain() -> anyhow::Result<()> {
    if !prerequisites() {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let broker = Broker::start()?;
    let dir = TempDir::new("kafka-spool-full")?;
    // About 3 MiB of events against a 1 MiB spool.
    let agent = flood_a_frozen_broker(
        &pg,
        &broker,
        &dir,
        &dir.path().join("state"),
        "  max_mib: 1\n  on_full: drop_newest\n",
        "f",
        2000,
        Duration::from_secs(2),
    )?;
    let ev = wait_topic(
        &broker,
        "the spool_full gap",
        Duration::from_secs(60),
        |ev| ev.iter().any(|e| e["gap"]["reason"] == "spool_full"),
    )?;
    let (code, _) = agent.stop()?;
    assert_eq!(code, 0);
    let ev = dedup(
        &broker
            .read("dbgov.audit")
            .unwrap_or(Vec::new())
            .into_iter()
            .chain(ev.into_iter().map(|v| (0, 0, v)))
            .collect::<Vec<_>>(),
    );
    let found = marker_counts(&ev, "f");
    let gaps: Vec<&Value> = of_kind(&ev, "gap");
    assert_eq!(
        gaps.len(),
        1,
        "{}",
        dump(&gaps.iter().map(|g| (*g).clone()).collect::<Vec<_>>())
    );
    let g = gaps[0];
    assert_eq!(g["gap"]["reason"], "spool_full");
    let dropped = g["gap"]["events"].as_u64().unwrap_or(0);
    assert!(
        g["gap"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("events dropped from ")),
        "{g}"
    );
    let lost = 2000 - found.len() as u64;
    // Every lost statement is counted (the count also covers the session's end event).
    assert!(lost > 0, "the spool never filled");
    assert!(
        dropped >= lost && dropped <= lost + 2,
        "dropped {dropped}, statements lost {lost}"
    );
    assert!(found.values().all(|&c| c == 1));
    // The drops happened before sealing: the chain has no hole.
    verify_kafka(&broker, None)?;
    Ok(())
}

/// `dbgov tail --input kafka:` follows the audit topic: a new statement shows up, and
/// `--no-follow` with a filter prints exactly the matching events on the topic.
#[test]
fn tail_follows_the_audit_topic() -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader};
    use std::sync::{Arc, Mutex};
    if !prerequisites() {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let broker = Broker::start()?;
    let dir = TempDir::new("kafka-tail")?;
    let state = dir.path().join("state");
    let agent = kafka_agent(&broker, &pg, &["--state-dir", &state.to_string_lossy()])?;
    // The topic exists once the first statement is on it.
    pg.psql_script(&dir, "first.sql", "SELECT 0 AS tail_0;\n")?;
    wait_topic(
        &broker,
        "the first statement",
        Duration::from_secs(30),
        |ev| marker_counts(ev, "tail").len() == 1,
    )?;
    let input = format!("kafka:{}/dbgov.audit", broker.addr());
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Command::new(agent_bin())
        .args(["tail", "--output", "json", "-n", "0", "--input", &input])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let out = child.stdout.take();
    let follower = Kill(child);
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let l2 = lines.clone();
    std::thread::spawn(move || {
        if let Some(out) = out {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                l2.lock().map(|mut v| v.push(l)).ok();
            }
        }
    });
    // Give the consumer a moment to be assigned at the end of the partitions.
    std::thread::sleep(Duration::from_secs(2));
    pg.psql_script(&dir, "second.sql", "SELECT 1 AS tail_1;\n")?;
    let t0 = Instant::now();
    loop {
        let seen = lines.lock().map(|v| v.clone()).unwrap_or_default();
        let ev: Vec<Value> = seen
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if marker_counts(&ev, "tail").contains_key(&1) {
            break;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("dbgov tail did not show the new statement: {seen:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(follower);
    let (code, _) = agent.stop()?;
    assert_eq!(code, 0);
    let on_topic = dedup(&broker.read("dbgov.audit")?);
    let want: HashSet<String> = on_topic
        .iter()
        .filter(|e| e["kind"] == "statement" && e["policy"]["verdict"] == "allow")
        .filter_map(|e| e["event_id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        want.len() >= 2 && want.len() < on_topic.len(),
        "{}",
        dump(&on_topic)
    );
    let out = Command::new(agent_bin())
        .args(["tail", "--no-follow", "--output", "json", "-n", "1000"])
        .args(["--input", &input, "--verdict", "allow"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: HashSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["event_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        got, want,
        "--verdict allow: every (allowed) statement, nothing else"
    );
    Ok(())
}

/// Inside its own PID namespace (a container) the agent still recognises its own process in
/// the kernel. The broker's port is watched as a PostgreSQL port here, so the agent's own
/// Kafka connection is on a watched port: were the agent not filtered out, it would decode its
/// own Kafka traffic as PostgreSQL (gaps, and events about itself, shipped again, in a loop).
#[test]
fn in_its_own_pid_namespace_the_agent_does_not_capture_itself() -> anyhow::Result<()> {
    if !prerequisites() || !require(std::path::Path::new("/usr/bin/unshare").exists(), "unshare") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let broker = Broker::start()?;
    let dir = TempDir::new("pidns")?;
    let ready = dir.path().join("ready");
    let stderr = dir.path().join("stderr.log");
    let mut child = Command::new("/usr/bin/unshare")
        .args(["--pid", "--fork", "--kill-child=SIGTERM"])
        .arg(agent_bin())
        .arg("run")
        .arg("--output")
        .arg(format!("kafka:127.0.0.1:{}", broker.port))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--ready-file")
        .arg(&ready)
        .args(["--postgres-port", &pg.port.to_string()])
        .args(["--postgres-port", &broker.port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr)?)
        .spawn()?;
    let t0 = Instant::now();
    while !ready.exists() {
        assert!(
            child.try_wait()?.is_none() && t0.elapsed() < Duration::from_secs(60),
            "the agent did not start: {}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    run(pg.psql().args(["-c", "SELECT 1 AS in_a_namespace"]))?;
    // Time for the agent to ship its events over the watched port.
    std::thread::sleep(Duration::from_secs(3));
    // unshare itself ignores SIGTERM: stop the agent, its child, as an init system would.
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))?;
    let agent_pid = children.split_whitespace().next().unwrap_or_default();
    run(Command::new("kill").args(["-TERM", agent_pid]))?;
    let _ = child.wait()?;
    let t0 = Instant::now();
    let summary = loop {
        let log = std::fs::read_to_string(&stderr).unwrap_or_default();
        if let Some(l) = log.lines().find(|l| l.contains("dbgov: stopped after")) {
            break l.to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no summary from the agent:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // "dbgov: stopped after R records, S statements, E events, G gaps"
    let count = |what: &str| -> u64 {
        summary
            .split(", ")
            .find(|p| p.ends_with(what))
            .and_then(|p| p.split_whitespace().rev().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX)
    };
    assert_eq!(count(" statements"), 1, "{summary}");
    assert_eq!(
        count(" gaps"),
        0,
        "the agent decoded its own traffic: {summary}"
    );
    Ok(())
}

/// A torn spool: the agent is killed with events waiting in the spool, and the spool's last
/// segment is then cut in the middle of a record. At the next start the damaged record is cut,
/// a `spool_damaged` gap says so on the chain, and every other event is delivered.
#[test]
fn a_torn_spool_is_cut_reported_and_the_rest_delivered() -> anyhow::Result<()> {
    if !prerequisites() {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let broker = Broker::start()?;
    let dir = TempDir::new("kafka-torn")?;
    let state = dir.path().join("state");
    let state_s = state.to_string_lossy().into_owned();
    let args = ["--state-dir", state_s.as_str()];
    let mut agent = kafka_agent(&broker, &pg, &args)?;
    first_statement_then_freeze(&pg, &dir, &broker, "t")?;
    let mut sql = String::new();
    for i in 1..200 {
        sql.push_str(&format!("SELECT {i} AS t_{i};\n"));
    }
    pg.psql_script(&dir, "t1.sql", &sql)?;
    std::thread::sleep(Duration::from_secs(2));
    agent.child.kill()?;
    agent.child.wait()?;
    // Cut the newest segment 7 bytes short: its last record is torn.
    let mut segs: Vec<_> = std::fs::read_dir(state.join("spool"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    let last = segs.last().expect("a spool segment");
    let len = std::fs::metadata(last)?.len();
    assert!(len > 1000, "events wait in the spool ({len} bytes)");
    std::fs::OpenOptions::new()
        .write(true)
        .open(last)?
        .set_len(len - 7)?;
    broker.pause(false);
    let agent = kafka_agent(&broker, &pg, &args)?;
    pg.psql_admin("SELECT 1 AS t_after")?;
    let ev = wait_topic(
        &broker,
        "the spool's events and the damage report",
        Duration::from_secs(60),
        |ev| {
            ev.iter().any(|e| e["gap"]["reason"] == "spool_damaged")
                && statements(ev).iter().any(|e| {
                    e["statement"]["text"]
                        .as_str()
                        .is_some_and(|t| t.ends_with("t_after"))
                })
        },
    )?;
    let (code, _) = agent.stop()?;
    assert_eq!(code, 0);
    let gap = ev
        .iter()
        .find(|e| e["gap"]["reason"] == "spool_damaged")
        .unwrap();
    assert!(gap["gap"]["bytes"].as_u64().unwrap_or(0) > 0, "{gap}");
    // Everything before the torn record is delivered: at most the last one is lost.
    let ev = dedup(&broker.read("dbgov.audit")?);
    let delivered = marker_counts(&ev, "t").len();
    assert!(delivered >= 199, "{delivered} of 200 statements delivered");
    Ok(())
}

/// Unmounts a test filesystem, whatever happens.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The disk under the spool fills up (a 1 MiB tmpfs) while the broker is frozen: the agent
/// neither panics nor stops capturing; the spool's `on_full: drop_newest` holds, the dropped
/// events are counted in a gap on the chain, and everything else reaches the topic once the
/// broker is back.
#[test]
fn a_full_disk_under_the_spool_drops_the_newest_and_counts_them() -> anyhow::Result<()> {
    if !prerequisites() {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let broker = Broker::start()?;
    let dir = TempDir::new("kafka-disk-full")?;
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state)?;
    run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&state))?;
    let _mount = Mount(state.clone());
    let agent = flood_a_frozen_broker(
        &pg,
        &broker,
        &dir,
        &state,
        "  max_mib: 2\n  on_full: drop_newest\n",
        "d",
        3000,
        Duration::from_secs(3),
    )?;
    // The output drops the newest events until the spool drains and there is room again; the
    // gap that counts them is written then.
    let log_tail = |e: anyhow::Error| {
        let log = agent.stderr_text();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        e.context(format!("the agent's log ends:\n{}", tail.join("\n")))
    };
    wait_topic(
        &broker,
        "the count of what the full disk dropped",
        Duration::from_secs(90),
        |ev| ev.iter().any(|e| e["gap"]["reason"] == "spool_full"),
    )
    .map_err(log_tail)?;
    // With room again, the next statement is delivered.
    pg.psql_admin("SELECT 1 AS d_after")?;
    let ev = wait_topic(
        &broker,
        "the statement after the full disk",
        Duration::from_secs(60),
        |ev| {
            statements(ev).iter().any(|e| {
                e["statement"]["text"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("d_after"))
            })
        },
    )
    .map_err(log_tail)?;
    let (code, _) = agent.stop()?;
    assert_eq!(code, 0, "no panic, a clean exit");
    let dropped: u64 = ev
        .iter()
        .filter(|e| e["gap"]["reason"] == "spool_full")
        .map(|e| e["gap"]["events"].as_u64().unwrap_or(0))
        .sum();
    let delivered = marker_counts(&ev, "d").len() as u64;
    assert!(dropped > 0, "the full disk dropped events");
    assert!(
        delivered < 3000,
        "{delivered} statements delivered through a 1 MiB disk"
    );
    // Every statement is either on the topic or counted in a gap (the gap also counts the
    // session events dropped with them).
    assert!(
        delivered + dropped >= 3000,
        "{delivered} delivered + {dropped} counted < 3000"
    );
    Ok(())
}
