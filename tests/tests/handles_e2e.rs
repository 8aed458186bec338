//! A database connection that moves between file descriptors and processes stays in the trail,
//! or leaves a gap naming how it got away. `scripts/pg_handles.py` does each trick against a
//! real PostgreSQL 15 while the agent (real eBPF) watches: dup, fcntl(F_DUPFD), fork, exec,
//! SCM_RIGHTS, io_uring and close_range.
use std::path::Path;
use std::process::Command;

use dbgov_tests::*;
use serde_json::Value;

/// Runs the script in each mode against one agent, then waits for the last statement of each.
fn run_modes(modes: &[&str], last: &[&str]) -> anyhow::Result<Option<Vec<Value>>> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(None);
    }
    let pg = Postgres::start()?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg_handles.py");
    for mode in modes {
        run(Command::new(python())
            .arg(&script)
            .arg(pg.port.to_string())
            .arg(mode))?;
    }
    let seen = agent.wait_for("each mode's last statement and session end", |ev| {
        last.iter().all(|m| statement(ev, m).is_some())
            && of_kind(ev, "session_end").len() >= modes.len()
    })?;
    let (code, all) = agent.stop()?;
    assert_eq!(code, 0);
    Ok(Some(if all.len() >= seen.len() { all } else { seen }))
}

/// The statement event whose text ends with `SELECT 1 AS <name>`.
fn statement<'a>(ev: &'a [Value], name: &str) -> Option<&'a Value> {
    ev.iter().find(|e| {
        e["kind"] == "statement"
            && e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.ends_with(&format!(" AS {name}")))
    })
}

fn session_of(ev: &[Value], name: &str) -> Value {
    statement(ev, name).unwrap_or_else(|| panic!("no statement {name}:\n{}", dump(ev)))["session"]
        ["id"]
        .clone()
}

fn on_session<'a>(ev: &'a [Value], session: &Value) -> Vec<&'a Value> {
    ev.iter()
        .filter(|e| &e["session"]["id"] == session)
        .collect()
}

#[test]
fn duplicated_descriptors_are_one_session_to_the_last_close() -> anyhow::Result<()> {
    let Some(ev) = run_modes(&["dup", "fcntl"], &["dup_after_close", "fcntl_after_close"])? else {
        return Ok(());
    };
    for mode in ["dup", "fcntl"] {
        let session = session_of(&ev, &format!("{mode}_before"));
        for step in ["through_copy", "after_close"] {
            assert_eq!(
                session_of(&ev, &format!("{mode}_{step}")),
                session,
                "{mode}: the copy carries the same session:\n{}",
                dump(&ev)
            );
        }
        let events = on_session(&ev, &session);
        assert!(
            !events.iter().any(|e| e["kind"] == "gap"),
            "{mode}: no gap:\n{}",
            dump(&ev)
        );
        // Closing the original is not the end: the copy still works. The session ends once.
        let ends = events.iter().filter(|e| e["kind"] == "session_end").count();
        assert_eq!(ends, 1, "{mode}:\n{}", dump(&ev));
        let end_at = events
            .iter()
            .position(|e| e["kind"] == "session_end")
            .unwrap_or(0);
        let last_at = events
            .iter()
            .position(|e| {
                e["statement"]["text"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("_after_close"))
            })
            .unwrap_or(usize::MAX);
        assert!(last_at < end_at, "{mode}: ended before its last statement");
    }
    Ok(())
}

#[test]
fn a_forked_child_and_an_exec_keep_the_session_with_their_own_identity() -> anyhow::Result<()> {
    let Some(ev) = run_modes(&["fork", "exec"], &["fork_after", "exec_after"])? else {
        return Ok(());
    };
    let session = session_of(&ev, "fork_before");
    let child = statement(&ev, "fork_in_child").expect("the child's statement");
    assert_eq!(child["session"]["id"], session, "{}", dump(&ev));
    assert_eq!(session_of(&ev, "fork_after"), session);
    let parent_pid = &statement(&ev, "fork_before").unwrap()["client"]["pid"];
    assert!(parent_pid.is_u64());
    assert_ne!(
        &child["client"]["pid"], parent_pid,
        "the child's statement is attributed to the child"
    );
    assert_eq!(
        &statement(&ev, "fork_after").unwrap()["client"]["pid"],
        parent_pid
    );
    assert!(!on_session(&ev, &session).iter().any(|e| e["kind"] == "gap"));

    // After execve the same process is another program: its statements say so.
    let session = session_of(&ev, "exec_before");
    let after = statement(&ev, "exec_after").expect("the exec'd program's statement");
    assert_eq!(after["session"]["id"], session, "{}", dump(&ev));
    let before = statement(&ev, "exec_before").unwrap();
    assert_eq!(after["client"]["pid"], before["client"]["pid"]);
    let cmd = |e: &Value| e["client"]["cmdline"].as_str().unwrap_or("").to_string();
    assert!(!cmd(before).contains("exec-child"), "{}", cmd(before));
    assert!(
        cmd(after).contains("exec-child"),
        "the identity is read again after exec: {}",
        cmd(after)
    );
    Ok(())
}

#[test]
fn scm_rights_io_uring_and_close_range_are_signalled_or_ended() -> anyhow::Result<()> {
    let Some(ev) = run_modes(
        &["scm_rights", "io_uring", "close_range"],
        &["scm_rights_after", "io_uring_after", "close_range_before"],
    )?
    else {
        return Ok(());
    };
    for (mode, name, hidden) in [
        ("scm_rights", "SCM_RIGHTS", "scm_rights_received"),
        ("io_uring", "io_uring", "io_uring_via"),
    ] {
        let session = session_of(&ev, &format!("{mode}_before"));
        assert_eq!(session_of(&ev, &format!("{mode}_after")), session);
        let gaps: Vec<_> = on_session(&ev, &session)
            .into_iter()
            .filter(|e| e["kind"] == "gap")
            .collect();
        assert!(
            gaps.iter()
                .any(|g| g["gap"]["reason"] == "uncaptured_syscall"
                    && g["gap"]["detail"]
                        .as_str()
                        .is_some_and(|d| d.starts_with(name))),
            "{mode}: a gap naming {name}:\n{}",
            dump(&ev)
        );
        // What went through the unwatched path is the gap, not a statement.
        assert!(statement(&ev, hidden).is_none(), "{}", dump(&ev));
    }
    // close_range: the watch ends with the fd; the socket that takes its number is not
    // decoded as the session.
    let session = session_of(&ev, "close_range_before");
    let events = on_session(&ev, &session);
    assert!(events.iter().any(|e| e["kind"] == "session_end"));
    assert!(
        !events.iter().any(|e| e["kind"] == "gap"),
        "bytes of the socket that took the closed fd's number were decoded:\n{}",
        dump(&ev)
    );
    Ok(())
}
