//! The kernel's tables cannot be used to blind the agent: socket files named like database
//! sockets do not stop it from starting, sockets created after start-up are matched by pattern,
//! a failed bind does not make a listener, and a full table is reported as a gap.
//! Real eBPF, PostgreSQL 15, psql.
use std::path::Path;
use std::process::Command;

use dbgov_tests::*;

/// Removes the decoy files it made in /tmp, whatever happens.
struct Decoys(Vec<std::path::PathBuf>);

impl Drop for Decoys {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[test]
fn decoy_socket_files_do_not_stop_start_up_and_new_sockets_are_matched() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    // 300 files in /tmp matching the default pattern /tmp/.s.PGSQL.* (the kernel's old exact
    // table held 256, and start-up failed).
    let decoys = Decoys(
        (0..300)
            .map(|i| {
                std::path::PathBuf::from(format!(
                    "/tmp/.s.PGSQL.dbgov-decoy-{}-{i}",
                    std::process::id()
                ))
            })
            .collect(),
    );
    for p in &decoys.0 {
        std::fs::write(p, b"")?;
    }
    // A directory that has no socket yet when the agent starts.
    let dir = TempDir::new("socks")?;
    run(Command::new("chmod").arg("755").arg(dir.path()))?;
    let pattern = format!("{}/.s.PGSQL.*", dir.path().display());
    // Only the pattern is watched (not the server's TCP port).
    let agent = Agent::start(&["--postgres-socket", &pattern])?;
    let name = format!(".s.PGSQL.{}", pg.port);
    std::os::unix::fs::symlink(pg.socket_dir.join(&name), dir.path().join(&name))?;
    run(Command::new("runuser")
        .args(["-u", "postgres", "--", "psql", "-X", "-q", "-h"])
        .arg(dir.path())
        .args(["-p", &pg.port.to_string(), "-d", "postgres", "-c"])
        .arg("SELECT 1 AS via_a_new_socket"))?;
    let ev = agent.wait_for("the statement through the new socket", |ev| {
        statements(ev).iter().any(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.ends_with("via_a_new_socket"))
        })
    })?;
    let (code, _) = agent.stop()?;
    assert_eq!(code, 0);
    let st = statements(&ev)
        .into_iter()
        .find(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.ends_with("via_a_new_socket"))
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(st["client"]["user"], "postgres", "{st}");
    drop(decoys);
    Ok(())
}

#[test]
fn a_failed_bind_is_no_listener_and_a_full_listener_table_is_a_gap() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let dir = TempDir::new("listeners")?;
    let pattern = format!("{}/.s.PGSQL.*", dir.path().display());
    let port = pg.port.to_string();
    let agent = Agent::start(&["--postgres-port", &port, "--postgres-socket", &pattern])?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/listeners.py");
    // The table holds 4096 listeners.
    run(Command::new(python())
        .arg(&script)
        .arg(&port)
        .arg(dir.path())
        .arg("4200"))?;
    pg.psql_admin("SELECT 1 AS marker")?;
    let ev = agent.wait_for("the marker and the full table's gap", |ev| {
        statements(ev).iter().any(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.ends_with("marker"))
        }) && of_kind(ev, "gap")
            .iter()
            .any(|g| g["gap"]["reason"] == "kernel_map_full")
    })?;
    let (code, all) = agent.stop()?;
    assert_eq!(code, 0);
    let ev = if all.len() >= ev.len() { all } else { ev };
    let full: Vec<_> = of_kind(&ev, "gap")
        .into_iter()
        .filter(|g| g["gap"]["reason"] == "kernel_map_full")
        .collect();
    let counted: u64 = full
        .iter()
        .filter(|g| {
            g["gap"]["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("LISTENERS"))
        })
        .map(|g| g["gap"]["events"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        counted >= 4200 - 4096,
        "the listeners beyond the table are counted ({counted}):\n{}",
        dump(&ev)
    );
    // The socket whose bind to the server's port failed, and that then served something else,
    // was never taken for the database: the marker's session is the only one.
    let sessions = of_kind(&ev, "session_start");
    assert_eq!(sessions.len(), 1, "{}", dump(&ev));
    assert!(
        !of_kind(&ev, "gap")
            .iter()
            .any(|g| g["gap"]["reason"] == "decode_error"),
        "{}",
        dump(&ev)
    );
    Ok(())
}
