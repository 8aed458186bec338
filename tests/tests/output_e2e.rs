//! The output fails (a full disk): capture goes on, nothing is lost once space is back, the
//! agent says so once in its log, and it still exits 0 on SIGTERM.
use std::process::Command;
use std::time::Duration;

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
