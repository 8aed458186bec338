//! Bytes moved through syscalls the agent does not capture leave a trace: a client that
//! sends a query with sendfile(2), splice(2) or sendmmsg(2) to a real PostgreSQL gets a `gap` event with
//! reason `uncaptured_syscall` naming the syscall on its session, and the session's next
//! statement is decoded as usual. Real eBPF, PostgreSQL 15, a hand-written v3 client.
use std::path::Path;
use std::process::Command;

use dbgov_tests::*;

#[test]
fn sendfile_splice_and_sendmmsg_on_a_watched_socket_become_named_gaps() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg_uncaptured.py");
    for mode in ["sendfile", "splice", "sendmmsg"] {
        run(Command::new(python())
            .arg(&script)
            .arg(pg.port.to_string())
            .arg(mode))?;
    }
    agent.wait_for("both clients' last statements", |ev| {
        ["after_sendfile", "after_splice", "after_sendmmsg"]
            .iter()
            .all(|m| {
                statements(ev).iter().any(|e| {
                    e["statement"]["text"]
                        .as_str()
                        .is_some_and(|t| t.ends_with(m))
                })
            })
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    for mode in ["sendfile", "splice", "sendmmsg"] {
        let after = statements(&ev)
            .into_iter()
            .find(|e| {
                e["statement"]["text"]
                    .as_str()
                    .is_some_and(|t| t.ends_with(&format!("after_{mode}")))
            })
            .unwrap_or_else(|| panic!("the statement after {mode}:\n{}", dump(&ev)));
        let session = &after["session"]["id"];
        let gaps: Vec<_> = of_kind(&ev, "gap")
            .into_iter()
            .filter(|g| &g["session"]["id"] == session)
            .collect();
        assert_eq!(
            gaps.len(),
            1,
            "one gap on the {mode} session:\n{}",
            dump(&ev)
        );
        let g = &gaps[0]["gap"];
        assert_eq!(g["reason"], "uncaptured_syscall", "{g}");
        assert_eq!(g["flow"], "client_to_server", "{g}");
        assert!(
            g["detail"].as_str().is_some_and(|d| d.starts_with(mode)),
            "the gap names {mode}: {g}"
        );
        // sendfile and splice say how much they move; sendmmsg's sizes are in its vector.
        let size = if mode == "sendmmsg" {
            0
        } else {
            22 + mode.len() as u64
        };
        assert_eq!(g["bytes"], size, "the query's size: {g}");
        // The query itself went past the agent: it is the gap, not an event.
        assert!(
            !statements(&ev).iter().any(|e| e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.ends_with(&format!("via_{mode}")))),
            "{}",
            dump(&ev)
        );
    }
    Ok(())
}

/// An unrelated socket moved onto a watched fd number with dup2(2) is not decoded as the
/// session: the watch ends there (a session_end), and the bytes written through the new socket
/// cause no decode errors.
#[test]
fn a_socket_moved_onto_a_watched_fd_ends_the_watch() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg_uncaptured.py");
    run(Command::new(python())
        .arg(&script)
        .arg(pg.port.to_string())
        .arg("dup2"))?;
    let ev = agent.wait_for("the session's end", |ev| {
        statements(ev).iter().any(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.ends_with("before_dup2"))
        }) && !of_kind(ev, "session_end").is_empty()
    })?;
    let (code, all) = agent.stop()?;
    assert_eq!(code, 0);
    let ev = if all.len() >= ev.len() { all } else { ev };
    let session = statements(&ev)
        .into_iter()
        .find(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.ends_with("before_dup2"))
        })
        .map(|e| e["session"]["id"].clone())
        .unwrap_or_default();
    let on_session: Vec<_> = ev
        .iter()
        .filter(|e| e["session"]["id"] == session)
        .collect();
    assert!(
        on_session.iter().any(|e| e["kind"] == "session_end"),
        "{}",
        dump(&ev)
    );
    assert!(
        !on_session.iter().any(|e| e["kind"] == "gap"),
        "the bytes written through the replaced fd were decoded as the session:\n{}",
        dump(&ev)
    );
    Ok(())
}

/// A client cannot amplify the trail: 2000 sendfile(2) calls on one connection, within a few
/// seconds, give a handful of gap events whose counts add up to 2000.
#[test]
fn a_flood_of_uncaptured_calls_is_coalesced_and_counted() -> anyhow::Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    let agent = Agent::start(&["--postgres-port", &pg.port.to_string()])?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg_uncaptured.py");
    let t0 = std::time::Instant::now();
    run(Command::new(python())
        .arg(&script)
        .arg(pg.port.to_string())
        .arg("flood"))?;
    let took = t0.elapsed().as_secs();
    agent.wait_for("the flood's last statement", |ev| {
        statements(ev).iter().any(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.ends_with("after_flood"))
        }) && !of_kind(ev, "session_end").is_empty()
    })?;
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    let gaps: Vec<_> = of_kind(&ev, "gap")
        .into_iter()
        .filter(|g| g["gap"]["reason"] == "uncaptured_syscall")
        .collect();
    let counted: u64 = gaps
        .iter()
        .map(|g| g["gap"]["events"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(counted, 2000, "every call is counted:\n{}", dump(&ev));
    // One event at the first call, then at most one per second of flooding (and one at the end).
    assert!(
        gaps.len() as u64 <= took + 3,
        "{} gap events for {took} s of flooding",
        gaps.len()
    );
    Ok(())
}

/// A TLS call that never returns (a signal handler jumps out of a blocked `SSL_read`, so its
/// return probe never fires) does not silence the thread: its later plain connection is
/// captured, and the lost call is reported. `scripts/ssl_stale.c`, built here with gcc against
/// the system's OpenSSL, against PostgreSQL with TLS.
#[test]
fn a_tls_call_without_its_return_does_not_silence_the_thread() -> anyhow::Result<()> {
    if !require_agent()
        || !require(Postgres::available(), "PostgreSQL 15 server binaries")
        || !require(
            Path::new("/usr/include/openssl/ssl.h").exists(),
            "OpenSSL headers (libssl-dev) and gcc",
        )
    {
        return Ok(());
    }
    let dir = TempDir::new("ssl-stale")?;
    let bin = dir.path().join("ssl_stale");
    run(Command::new("gcc")
        .args(["-O1", "-o"])
        .arg(&bin)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ssl_stale.c"))
        .args(["-lssl", "-lcrypto"]))?;
    let pg = Postgres::start_with(true)?;
    // The per-call probes are what this is about.
    let agent = Agent::start(&[
        "--postgres-port",
        &pg.port.to_string(),
        "--tls-capture",
        "uprobe",
    ])?;
    run(Command::new(&bin).arg(pg.port.to_string()))?;
    let ev = agent.wait_for("the plain connection's statement", |ev| {
        statements(ev).iter().any(|e| {
            e["statement"]["text"]
                .as_str()
                .is_some_and(|t| t.ends_with("after_stale_tls"))
        })
    })?;
    let (code, all) = agent.stop()?;
    assert_eq!(code, 0);
    let ev = if all.len() >= ev.len() { all } else { ev };
    assert!(
        of_kind(&ev, "gap")
            .iter()
            .any(|g| g["gap"]["reason"] == "tls_call_lost"),
        "the lost TLS call is reported:\n{}",
        dump(&ev)
    );
    Ok(())
}
