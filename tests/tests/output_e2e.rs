//! The output fails (a full disk): capture goes on, nothing is lost once space is back, the
//! agent says so once in its log, and it still exits 0 on SIGTERM. The output is slow (its
//! reader stops reading): capture pauses, and nothing is lost either.
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dbgov_tests::*;
use serde_json::Value;

fn marked(ev: &[Value]) -> Vec<&Value> {
    statements(ev)
        .into_iter()
        .filter(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("full_disk_marker"))
        })
        .collect()
}

#[test]
fn a_full_disk_does_not_stop_capture_and_loses_nothing() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    // A small filesystem of its own for the events file, filled up before the statements.
    let dir = TempDir::new("fulldisk")?;
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt)?;
    run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&mnt))?;
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let events = mnt.join("events.jsonl");
    let mut agent =
        Agent::start_writing_to(Some(&events), &["--postgres-port", &pg.port.to_string()])?;
    let filler = mnt.join("filler");
    // dd stops with "No space left on device": that is the point.
    let _ = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", filler.display()))
        .args(["bs=4k", "count=1000"])
        .output()?;
    // 200 statements, one Query each.
    let mut sql = String::new();
    for i in 0..200 {
        sql.push_str(&format!("SELECT {i} AS full_disk_marker;\n"));
    }
    let script = dir.path().join("script.sql");
    std::fs::write(&script, sql)?;
    run(pg.psql().arg("-f").arg(&script))?;
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        agent.is_running(),
        "the agent stopped: {}",
        agent.stderr_text()
    );
    let log = agent.stderr_text();
    assert_eq!(
        log.matches("cannot write events").count(),
        1,
        "one log line for the failing output: {log}"
    );
    // Space again: everything waiting is written, in order, and no gap was needed.
    std::fs::remove_file(&filler)?;
    let ev = agent.wait_for("the 200 statements", |ev| marked(ev).len() >= 200)?;
    assert!(
        agent.stderr_text().contains("writing events again"),
        "{}",
        agent.stderr_text()
    );
    let (code, ev2) = agent.stop()?;
    assert_eq!(code, 0, "SIGTERM must flush and exit 0");
    let marks = marked(&ev2);
    assert_eq!(marks.len(), 200, "{}", dump(&ev));
    let texts: Vec<&str> = marks
        .iter()
        .filter_map(|e| e["statement"]["text"].as_str())
        .collect();
    assert!(
        texts.iter().all(|t| *t == "SELECT ? AS full_disk_marker;"),
        "{texts:?}"
    );
    assert!(
        of_kind(&ev2, "gap").is_empty(),
        "{}",
        dump(
            &of_kind(&ev2, "gap")
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        )
    );
    Ok(())
}

/// A working but slow output: the agent writes to a pipe nobody reads while pgbench runs
/// 100,000 select-only transactions (well over 100 MB of events, more than the 64 MiB an
/// output may keep waiting in memory). Capture pauses instead of dropping events: the records
/// wait in the kernel ring (64 MiB here), and once the reader reads again every statement is
/// one event, with no gap, and the chain verifies.
#[test]
fn a_slow_output_pauses_capture_and_loses_nothing() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 and pgbench") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    pgbench_init(pg.port)?;
    let dir = TempDir::new("slowout")?;
    let config = dir.path().join("agent.yaml");
    std::fs::write(&config, "ring_buffer_mib: 64\n")?;
    let ready = dir.path().join("ready");
    let stderr = dir.path().join("stderr.log");
    let mut child = Command::new(agent_bin())
        .args(["run", "--output", "stdout", "--ready-file"])
        .arg(&ready)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--postgres-port", &pg.port.to_string(), "--config"])
        .arg(&config)
        .env("DBGOV_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr)?)
        .spawn()?;
    let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
    let t0 = Instant::now();
    while !ready.exists() {
        anyhow::ensure!(child.try_wait()?.is_none(), "dbgov exited: {}", log());
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(60), "not ready in 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nobody reads the agent's stdout while pgbench runs.
    let (processed, _) = pgbench_run(
        pg.port,
        &[
            "-M", "prepared", "-S", "-n", "-c", "4", "-j", "2", "-t", "25000",
        ],
        false,
    )?;
    assert_eq!(processed, 100_000);
    assert!(
        log().contains("the output is behind"),
        "capture paused for the output: {}",
        log()
    );
    let selects = |l: &str| {
        l.contains("\"kind\":\"statement\"") && l.contains("abalance FROM pgbench_accounts")
    };
    // Now read again.
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::new(AtomicU64::new(0));
    let out = child.stdout.take().expect("piped stdout");
    let reader = {
        let (lines, seen) = (lines.clone(), seen.clone());
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if selects(&l) {
                    seen.fetch_add(1, Ordering::Relaxed);
                }
                lines.lock().expect("lines").push(l);
            }
        })
    };
    let t0 = Instant::now();
    while seen.load(Ordering::Relaxed) < processed && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = child.wait()?;
    reader.join().expect("reader");
    assert!(st.success(), "exit {st}: {}", log());
    let lines = std::mem::take(&mut *lines.lock().expect("lines"));
    let ev: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l))
        .collect::<Result<_, _>>()?;
    let gaps = of_kind(&ev, "gap");
    assert!(
        gaps.is_empty(),
        "{} gaps: {}",
        gaps.len(),
        dump(&gaps.into_iter().cloned().collect::<Vec<_>>())
    );
    let n = lines.iter().filter(|l| selects(l)).count() as u64;
    assert_eq!(n, processed, "statement events vs transactions pgbench ran");
    // The trail is whole: its hash chain verifies.
    let trail = dir.path().join("trail.jsonl");
    std::fs::write(&trail, lines.join("\n") + "\n")?;
    run(Command::new(agent_bin())
        .arg("verify")
        .arg("--input")
        .arg(format!("jsonl:{}", trail.display())))?;
    Ok(())
}
