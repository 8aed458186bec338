//! Fault injection with real components: hostile sizes against the agent's memory.
//! Real eBPF, PostgreSQL 15, a hand-written v3 client (`scripts/pg_oversize.py`).
use std::path::Path;
use std::process::Command;

use anyhow::Context;
use dbgov_tests::*;
use serde_json::Value;

/// The agent's peak resident memory (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .unwrap_or(u64::MAX)
}

fn statement<'a>(ev: &'a [Value], suffix: &str) -> Option<&'a Value> {
    ev.iter().find(|e| {
        e["kind"] == "statement"
            && e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.trim_end().ends_with(suffix))
    })
}

/// A 1 GiB claimed frame, a 10 MiB query and a 100 MB result: the agent's memory stays
/// bounded, each is reported (a gap for the impossible frame, the statements with their
/// truncation), and the next statement is captured as usual.
#[test]
fn oversize_frames_queries_and_results_keep_memory_bounded() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;
    let before = peak_rss_mib(agent.child.id());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg_oversize.py");
    run(Command::new(python()).arg(&script).arg(pg.port.to_string()))?;
    let ev = agent.wait_for("the statement after the oversize input", |ev| {
        statement(ev, "AS after_oversize").is_some()
    })?;
    let peak = peak_rss_mib(agent.child.id());
    let (code, all) = agent.stop()?;
    assert_eq!(code, 0);
    let ev = if all.len() >= ev.len() { all } else { ev };
    // The ring buffer mapping (16 MiB) and the decoders' bounded buffers; never the sizes the
    // client claimed or sent.
    assert!(
        peak < 256,
        "peak RSS {peak} MiB (at start {before} MiB) after a 1 GiB frame, a 10 MiB query and a 100 MB result"
    );
    // The impossible frame is one statement event that says so, with no text.
    let huge = ev
        .iter()
        .find(|e| {
            e["kind"] == "statement"
                && e["outcome"]["error_message"]
                    .as_str()
                    .is_some_and(|m| m.contains("bytes exceeds the decoder limit"))
        })
        .unwrap_or_else(|| panic!("the 1 GiB frame is reported:\n{}", dump(&ev)));
    assert!(huge["statement"]["text"].is_null(), "{huge}");
    let ten = ev
        .iter()
        .find(|e| {
            e["kind"] == "statement"
                && e["statement"]["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("SELECT length("))
        })
        .unwrap_or_else(|| panic!("the 10 MiB query:\n{}", dump(&ev)));
    assert_eq!(ten["statement"]["truncated"], true, "{ten}");
    assert!(
        ten["statement"]["text"].as_str().unwrap_or("").len() < 1 << 20,
        "the event does not carry 10 MiB"
    );
    let hundred = statement(&ev, "FROM generate_series(?, ?)")
        .or_else(|| statement(&ev, "generate_series(1, 100)"))
        .unwrap_or_else(|| panic!("the 100 MB result's statement:\n{}", dump(&ev)));
    assert!(hundred["outcome"].is_object(), "{hundred}");
    Ok(())
}

/// Ring-buffer saturation with shedding off (`ring_buffer_shed_percent: 100`): a 1 MiB ring
/// and 1.2 GB of results read 16 KiB at a time. The loss is reported with counts
/// (`ring_buffer_full`), the agent recovers, and the next statements, from the same connection
/// and from another process, are captured and attributed correctly.
#[test]
fn a_saturated_ring_buffer_is_counted_and_the_agent_recovers() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let dir = TempDir::new("ring")?;
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        "ring_buffer_mib: 1\nring_buffer_shed_percent: 100\n",
    )?;
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--config",
        &config.to_string_lossy(),
    ])?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg_flood.py");
    run(Command::new(python())
        .arg(&script)
        .arg(pg.port.to_string())
        .arg("20"))?;
    run(pg.psql().args(["-c", "SELECT 2 AS after_flood_psql"]))?;
    let ev = agent.wait_for("the statements after the flood", |ev| {
        statement(ev, "AS after_flood").is_some() && statement(ev, "AS after_flood_psql").is_some()
    })?;
    let (code, all) = agent.stop()?;
    assert_eq!(code, 0);
    let ev = if all.len() >= ev.len() { all } else { ev };
    let lost: u64 = of_kind(&ev, "gap")
        .iter()
        .filter(|g| g["gap"]["reason"] == "ring_buffer_full")
        .map(|g| g["gap"]["events"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        lost > 0,
        "the flood overflowed a 1 MiB ring:\n{}",
        dump(&ev)
    );
    let after = statement(&ev, "AS after_flood").unwrap();
    assert!(
        after["client"]["cmdline"]
            .as_str()
            .is_some_and(|c| c.contains("pg_flood.py")),
        "{after}"
    );
    let psql = statement(&ev, "AS after_flood_psql").unwrap();
    assert_eq!(psql["client"]["comm"], "psql", "{psql}");
    assert_eq!(psql["outcome"]["rows"], 1, "{psql}");
    Ok(())
}

/// The same flood with shedding on (the default, at half the ring): the kernel cuts the
/// responses, not the requests. Every flood statement is one event (those whose answer was
/// cut are `incomplete`), the cut is a gap that says it was shed, counted in
/// `dbgov_lost_bytes_total{reason="shed_response"}`, and the statements after it are complete.
#[test]
fn under_load_responses_are_shed_first_and_every_statement_is_still_reported() -> anyhow::Result<()>
{
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let dir = TempDir::new("shed")?;
    let config = dir.path().join("agent.yaml");
    std::fs::write(&config, "ring_buffer_mib: 1\n")?;
    let mport = free_port();
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--config",
        &config.to_string_lossy(),
        "--metrics",
        &format!("127.0.0.1:{mport}"),
    ])?;
    // Adaptive scheduling (the default): a quiet agent yields the CPU.
    let (_, quiet) = http_get(mport, "/metrics")?;
    assert_eq!(metric(&quiet, "dbgov_cpu_yielding"), Some(1.0), "{quiet}");
    let rounds = 20;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg_flood.py");
    run(Command::new(python())
        .arg(&script)
        .arg(pg.port.to_string())
        .arg(rounds.to_string()))?;
    run(pg.psql().args(["-c", "SELECT 2 AS after_flood_psql"]))?;
    agent.wait_for("the statements after the flood", |ev| {
        statement(ev, "AS after_flood").is_some() && statement(ev, "AS after_flood_psql").is_some()
    })?;
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (_, page) = http_get(mport, "/metrics")?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let floods: Vec<&Value> = statements(&ev)
        .into_iter()
        .filter(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("AS flood FROM"))
        })
        .collect();
    assert_eq!(floods.len(), rounds, "{}", dump(&ev));
    let incomplete = floods
        .iter()
        .filter(|e| e["outcome"]["status"] == "incomplete")
        .count();
    let shed: Vec<&Value> = of_kind(&ev, "gap")
        .into_iter()
        .filter(|g| {
            g["gap"]["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("response shed under load"))
        })
        .collect();
    let ring_full: u64 = of_kind(&ev, "gap")
        .iter()
        .filter(|g| g["gap"]["reason"] == "ring_buffer_full")
        .map(|g| g["gap"]["events"].as_u64().unwrap_or(0))
        .sum();
    eprintln!(
        "{rounds} flood statements reported, {incomplete} incomplete; {} shed gaps; {ring_full} records lost to a full ring",
        shed.len()
    );
    assert!(
        incomplete >= 1 && !shed.is_empty(),
        "{incomplete} incomplete, {} shed gaps:\n{}",
        shed.len(),
        dump(&of_kind(&ev, "gap").into_iter().cloned().collect::<Vec<_>>())
    );
    assert!(
        shed.iter().all(|g| g["gap"]["flow"] == "server_to_client"),
        "{}",
        dump(&shed.into_iter().cloned().collect::<Vec<_>>())
    );
    assert!(
        metric(&page, "dbgov_lost_bytes_total{reason=\"shed_response\"}").is_some_and(|b| b > 0.0),
        "{page}"
    );
    // The backlog made the agent stop yielding and compete for the CPU.
    assert!(
        metric(&page, "dbgov_cpu_boosts_total").is_some_and(|b| b >= 1.0),
        "{page}"
    );
    let after = statement(&ev, "AS after_flood").context("after_flood")?;
    assert_eq!(after["outcome"]["status"], "ok", "{after}");
    let psql = statement(&ev, "AS after_flood_psql").context("after_flood_psql")?;
    assert_eq!(psql["outcome"]["rows"], 1, "{psql}");
    Ok(())
}

/// Both database servers restart while a client waits on a statement: the interrupted sessions
/// end cleanly, and the sessions opened after the restart are captured as usual.
#[test]
fn database_restarts_end_sessions_cleanly_and_new_ones_are_captured() -> anyhow::Result<()> {
    if !require_agent()
        || !require(Postgres::available(), "PostgreSQL 15 server binaries")
        || !require(Mariadb::available(), "MariaDB server (mariadbd)")
    {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let mut my = Mariadb::start()?;
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--mysql-port",
        &my.port.to_string(),
    ])?;
    let mut pg_client = pg
        .psql()
        .args(["-c", "SELECT 1 AS pg_before", "-c", "SELECT pg_sleep(20)"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut my_client = Command::new("mariadb")
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-uroot",
            "--skip-ssl",
            "-P",
        ])
        .arg(my.port.to_string())
        .args(["-e", "SELECT 1 AS my_before; SELECT SLEEP(20)"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    agent.wait_for("both clients' first statements", |ev| {
        statement(ev, "AS pg_before").is_some() && statement(ev, "AS my_before").is_some()
    })?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    pg.restart()?;
    my.restart()?;
    // The interrupted clients fail (their server went away); they do not hang.
    assert!(!pg_client.wait()?.success());
    assert!(!my_client.wait()?.success());
    run(pg.psql().args(["-c", "SELECT 2 AS pg_after"]))?;
    run(Command::new("mariadb")
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-uroot",
            "--skip-ssl",
            "-P",
        ])
        .arg(my.port.to_string())
        .args(["-e", "SELECT 2 AS my_after"]))?;
    let ev = agent.wait_for("the statements after the restarts", |ev| {
        statement(ev, "AS pg_after").is_some() && statement(ev, "AS my_after").is_some()
    })?;
    let (code, all) = agent.stop()?;
    assert_eq!(code, 0);
    let ev = if all.len() >= ev.len() { all } else { ev };
    for name in ["AS pg_before", "AS my_before"] {
        let session = &statement(&ev, name).unwrap()["session"]["id"];
        let on: Vec<_> = ev
            .iter()
            .filter(|e| &e["session"]["id"] == session)
            .collect();
        assert_eq!(
            on.iter().filter(|e| e["kind"] == "session_end").count(),
            1,
            "{name}: the interrupted session ends once:\n{}",
            dump(&ev)
        );
        // The statement that was running is reported (its outcome: the server's error, or
        // incomplete when the connection just closed).
        assert!(
            on.iter().any(|e| e["kind"] == "statement"
                && e["statement"]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("sleep(") || t.contains("SLEEP("))),
            "{name}: the interrupted statement is reported:\n{}",
            dump(&ev)
        );
    }
    for name in ["AS pg_after", "AS my_after"] {
        let st = statement(&ev, name).unwrap();
        assert_eq!(st["outcome"]["status"], "ok", "{st}");
        let session = &st["session"]["id"];
        assert!(
            !ev.iter()
                .any(|e| &e["session"]["id"] == session && e["kind"] == "gap"),
            "{}",
            dump(&ev)
        );
    }
    Ok(())
}

/// The agent restarts in the middle of a session: the open connection is found again from
/// /proc, its next statement is captured and attributed, and the event says the session was
/// joined mid-stream.
#[test]
fn an_agent_restart_picks_up_open_sessions_and_marks_them() -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let port = pg.port.to_string();
    let first = Agent::start(&["--postgres-port", &port])?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg_interactive.py");
    let mut client = Command::new(python())
        .arg(&script)
        .arg(&port)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut stdin = client.stdin.take().expect("stdin");
    let mut stdout = std::io::BufReader::new(client.stdout.take().expect("stdout"));
    let mut ask = |name: &str| -> anyhow::Result<()> {
        writeln!(stdin, "{name}")?;
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        anyhow::ensure!(
            line.trim() == format!("done {name}"),
            "client said {line:?}"
        );
        Ok(())
    };
    ask("before_restart")?;
    let ev = first.wait_for("the statement before the restart", |ev| {
        statement(ev, "AS before_restart").is_some()
    })?;
    let before = statement(&ev, "AS before_restart").unwrap().clone();
    let (code, _) = first.stop()?;
    assert_eq!(code, 0);
    assert_eq!(before["session"]["mid_session"], false, "{before}");

    let second = Agent::start(&["--postgres-port", &port])?;
    ask("after_restart")?;
    let ev = second.wait_for("the statement after the restart", |ev| {
        statement(ev, "AS after_restart").is_some()
    })?;
    drop(stdin);
    let _ = client.wait();
    let (code, _) = second.stop()?;
    assert_eq!(code, 0);
    let after = statement(&ev, "AS after_restart").unwrap();
    assert_eq!(after["session"]["mid_session"], true, "{after}");
    assert_eq!(after["client"]["pid"], before["client"]["pid"], "{after}");
    assert!(
        after["client"]["cmdline"]
            .as_str()
            .is_some_and(|c| c.contains("pg_interactive.py")),
        "{after}"
    );
    assert_eq!(after["outcome"]["rows"], 1, "{after}");
    Ok(())
}

/// CPU hogs that never sleep, killed on drop.
struct Hogs(Vec<std::process::Child>);

impl Drop for Hogs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Adaptive scheduling on a host saturated by other processes: the agent's threads at
/// `SCHED_IDLE` get next to no CPU and could not notice anything, so the watchdog thread moves
/// them back to the normal priority (counted in `dbgov_cpu_boosts_total`), and a statement run
/// meanwhile is reported. One statement never fills a sixteenth of the ring, so only the
/// watchdog can have boosted the agent here.
#[test]
fn a_yielding_agent_starved_by_cpu_hogs_is_rescued_and_reports_statements() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let mport = free_port();
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--metrics",
        &format!("127.0.0.1:{mport}"),
    ])?;
    let (_, quiet) = http_get(mport, "/metrics")?;
    assert_eq!(metric(&quiet, "dbgov_cpu_yielding"), Some(1.0), "{quiet}");
    assert_eq!(
        metric(&quiet, "dbgov_cpu_boosts_total"),
        Some(0.0),
        "{quiet}"
    );
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hogs = Hogs(
        (0..cpus * 2)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()
            })
            .collect::<Result<_, _>>()?,
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    run(pg.psql().args(["-c", "SELECT 3 AS while_starved"]))?;
    agent.wait_for("the statement run while the host was saturated", |ev| {
        statement(ev, "AS while_starved").is_some()
    })?;
    let (_, page) = http_get(mport, "/metrics")?;
    drop(hogs);
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    assert!(
        metric(&page, "dbgov_cpu_boosts_total").is_some_and(|b| b >= 1.0),
        "the watchdog did not boost the starved agent:\n{page}"
    );
    let s = statement(&ev, "AS while_starved").context("while_starved")?;
    assert_eq!(s["outcome"]["rows"], 1, "{s}");
    assert!(of_kind(&ev, "gap").is_empty(), "{}", dump(&ev));
    Ok(())
}
