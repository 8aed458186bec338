//! The live view for a person at a terminal: `dbgov run` in a real terminal (tmux) draws one
//! line per event, and `dbgov tail` follows a trail as it is written, with filters. Real
//! eBPF, PostgreSQL 15 and psql, as root.
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use dbgov_tests::*;
use serde_json::Value;

const WIDTH: usize = 120;

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A private tmux server with one pane of WIDTH columns running `cmd`.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(tag: &str, cmd: &str) -> Result<Self> {
        let socket = format!("dbgov-{tag}-{}", std::process::id());
        let st = Command::new("tmux")
            .args(["-u", "-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &WIDTH.to_string(), "-y", "50", "-s", "view"])
            .arg(cmd)
            .status()?;
        if !st.success() {
            bail!("tmux new-session failed: {st}");
        }
        Ok(Self { socket })
    }

    /// The pane as shown, wrapped lines joined (so a line wider than the pane shows as
    /// longer), escape sequences included.
    fn capture(&self) -> Result<String> {
        let o = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J", "-e"])
            .args(["-t", "view", "-S", "-", "-E", "-"])
            .output()?;
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> Result<String> {
        let t0 = Instant::now();
        loop {
            let s = self.capture()?;
            if pred(&s) {
                return Ok(s);
            }
            if t0.elapsed() > Duration::from_secs(30) {
                bail!("timed out waiting for {what}; the pane shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn send(&self, keys: &str) -> Result<()> {
        Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "view", keys])
            .status()?;
        Ok(())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The agent treats SIGHUP as "reload", so closing the terminal would leave it
        // running: stop what the pane's shell started first.
        if let Ok(o) = Command::new("tmux")
            .args(["-L", &self.socket, "list-panes", "-a", "-F", "#{pane_pid}"])
            .output()
        {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("pkill").args(["-TERM", "-P", pid]).status();
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        if esc {
            esc = !c.is_ascii_alphabetic();
        } else if c == '\u{1b}' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs the agent in a tmux pane (environment `env`), then psql statements from
/// dbgov_alice's login session as `postgres`, and returns the pane once they are drawn and the
/// agent has exited on Ctrl-C.
fn pane_of_a_session(pg: &Postgres, env: &str, tag: &str) -> Result<String> {
    let login_uid = ensure_user("dbgov_alice")?;
    let dir = TempDir::new(tag)?;
    let ready = dir.path().join("ready");
    let cmd = format!(
        "env {env} {} run --postgres-port {} --ready-file {} --state-dir {} 2>{}; echo AGENT-EXITED $?; sleep 60",
        agent_bin().display(),
        pg.port,
        ready.display(),
        dir.path().display(),
        dir.path().join("stderr.log").display()
    );
    let tmux = Tmux::start(tag, &cmd)?;
    let t0 = Instant::now();
    while !ready.exists() {
        if t0.elapsed() > Duration::from_secs(60) {
            bail!(
                "dbgov did not become ready in the pane:\n{}\n{}",
                tmux.capture()?,
                std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let long = format!(
        "SELECT ssn FROM customers WHERE {}",
        ["id IS NOT NULL"; 30].join(" AND ")
    );
    let script = format!("SELECT * FROM customers;\nSELECT * FROM no_such_table;\n{long};\n");
    std::fs::write(dir.path().join("s.sql"), script)?;
    // Readable by the postgres user.
    Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir.path())
        .status()?;
    let psql = format!(
        "psql -X -q -h 127.0.0.1 -p {} -d postgres -f {}",
        pg.port,
        dir.path().join("s.sql").display()
    );
    let out = as_user_with_login(login_uid, "postgres", &psql).output()?;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no_such_table"),
        "psql ran: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.wait_for("the three statements and the session end", |s| {
        s.contains("SELECT * FROM customers")
            && s.contains("no_such_table")
            && s.contains("SELECT ssn FROM customers")
            && s.contains("session end")
    })?;
    tmux.send("C-c")?;
    tmux.wait_for("the agent to exit on Ctrl-C", |s| {
        s.contains("AGENT-EXITED")
    })
}

fn check_lines(pane: &str) -> Vec<String> {
    let plain = strip_ansi(pane);
    let lines: Vec<String> = plain.lines().map(str::to_owned).collect();
    for l in &lines {
        assert!(
            l.chars().count() <= WIDTH,
            "a line is wider than the {WIDTH}-column pane ({} columns): {l:?}\n{plain}",
            l.chars().count()
        );
    }
    let one = |needle: &str| -> String {
        let hits: Vec<&String> = lines.iter().filter(|l| l.contains(needle)).collect();
        assert_eq!(hits.len(), 1, "one line with {needle:?}:\n{plain}");
        hits[0].clone()
    };
    let read = one("SELECT * FROM customers");
    for part in [
        "dbgov_alice→postgres",
        " psql ",
        "pg/postgres",
        " ALERT ",
        "[pii.email,pii.ssn]",
        " 1 row ",
    ] {
        assert!(read.contains(part), "{part:?} in {read:?}\n{plain}");
    }
    let err = one("no_such_table");
    assert!(err.contains("ERR 42P01"), "{err:?}");
    assert!(err.contains("allow"), "{err:?}");
    let long = one("SELECT ssn FROM customers");
    assert!(
        long.ends_with('…') && long.chars().count() == WIDTH,
        "a long statement is cut at the pane's width: {long:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("dbgov_alice→postgres") && l.contains("session start")),
        "{plain}"
    );
    assert_eq!(
        pane.matches("AGENT-EXITED 0").count(),
        1,
        "Ctrl-C stops the agent with status 0:\n{plain}"
    );
    lines
}

#[test]
fn pretty_view_in_a_real_terminal_names_the_person_the_verdict_and_the_classes() -> Result<()> {
    if !require_agent()
        || !require(Postgres::available(), "PostgreSQL 15 server binaries")
        || !require(tmux_available(), "tmux (cargo xtask setup installs it)")
    {
        return Ok(());
    }
    let pg = Postgres::start()?;
    pg.psql_admin("CREATE TABLE customers (id int, email text, ssn text); INSERT INTO customers VALUES (1, 'a@example.com', '123-45-6789')")?;

    // NO_COLOR: no escape sequence at all, and everything else as with colours.
    let pane = pane_of_a_session(&pg, "NO_COLOR=1", "nocolor")?;
    check_lines(&pane);
    assert!(
        !pane.contains('\u{1b}'),
        "no ANSI codes with NO_COLOR:\n{pane:?}"
    );

    // On the same terminal without NO_COLOR the view is coloured: the verdict stands out.
    let pane = pane_of_a_session(&pg, "-u NO_COLOR -u CLICOLOR TERM=xterm-256color", "color")?;
    check_lines(&pane);
    let read = pane
        .lines()
        .find(|l| l.contains("SELECT * FROM customers"))
        .context("the statement line")?;
    assert!(
        read.contains('\u{1b}') && strip_ansi(read).contains(" ALERT "),
        "coloured on a terminal: {read:?}"
    );
    Ok(())
}

/// A `dbgov tail` that is stopped when the test ends, whichever way it ends.
struct Follower(std::process::Child);

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines `dbgov tail` printed, with when each arrived.
type Printed = Arc<Mutex<Vec<(Instant, String)>>>;

fn spawn_tail(args: &[&str]) -> Result<(Follower, Printed)> {
    let mut child = Command::new(agent_bin())
        .arg("tail")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let out = child.stdout.take().context("tail's stdout")?;
    let l2 = lines.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            l2.lock().expect("lock").push((Instant::now(), l));
        }
    });
    Ok((Follower(child), lines))
}

fn tail_json(events: &Path, filter: &[&str]) -> Result<BTreeSet<String>> {
    let out = Command::new(agent_bin())
        .args(["tail", "--no-follow", "--output", "json", "-n", "100000"])
        .arg("--input")
        .arg(format!("jsonl:{}", events.display()))
        .args(filter)
        .output()?;
    if !out.status.success() {
        bail!(
            "dbgov tail failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).context("tail --output json prints events")?;
            Ok(v["event_id"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

#[test]
fn tail_follows_a_trail_as_it_is_written_and_filters_select_exactly() -> Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15 server binaries") {
        return Ok(());
    }
    let pg = Postgres::start()?;
    pg.psql_admin("CREATE TABLE customers (id int, email text, ssn text); INSERT INTO customers VALUES (1, 'a@example.com', '123-45-6789'); CREATE TABLE items (id int, name text)")?;
    pg.psql_admin("CREATE DATABASE shop")?;
    let login_uid = ensure_user("dbgov_alice")?;
    let dir = TempDir::new("tail")?;
    let events = dir.path().join("events.jsonl");
    let agent = Agent::start_writing_to(Some(&events), &["--postgres-port", &pg.port.to_string()])?;
    let (follower, lines) = spawn_tail(&[
        "--input",
        &format!("jsonl:{}", events.display()),
        "--output",
        "pretty",
        "--color",
        "never",
        "-n",
        "0",
    ])?;
    // Each statement: when it reached the file, when tail printed it.
    let statements = [
        ("postgres", "postgres", "SELECT email, ssn FROM customers"),
        ("postgres", "shop", "SELECT current_database()"),
        ("root", "postgres", "SELECT name FROM items"),
        ("root", "shop", "SELECT session_user"),
    ];
    for (user, db, sql) in statements {
        let cmd = format!(
            "psql -X -q -h 127.0.0.1 -U postgres -p {} -d {db} -c '{sql}'",
            pg.port
        );
        let out = as_user_with_login(login_uid, user, &cmd).output()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let t0 = Instant::now();
        let written = loop {
            if agent.events().iter().any(|e| e["statement"]["text"] == sql) {
                break Instant::now();
            }
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("the agent did not write {sql:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let shown = loop {
            let hit = lines
                .lock()
                .expect("lock")
                .iter()
                .find(|(_, l)| l.contains(sql))
                .map(|(t, _)| *t);
            if let Some(t) = hit {
                break t;
            }
            if written.elapsed() > Duration::from_secs(5) {
                bail!("dbgov tail did not show {sql:?} within 5 s of it being written");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let lag = shown.saturating_duration_since(written);
        assert!(
            lag < Duration::from_secs(1),
            "{sql:?} appeared {lag:?} after it was written"
        );
        eprintln!("tail showed {sql:?} {lag:?} after it was written");
    }
    drop(follower);
    let (_, all) = agent.stop()?;
    let shown = lines.lock().expect("lock").len();
    assert!(
        shown >= statements.len(),
        "tail printed {shown} lines for {} statements",
        statements.len()
    );

    // Filters select exactly the events the trail says match, and no other.
    let ids = |pred: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
        all.iter()
            .filter(|e| pred(e))
            .map(|e| e["event_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let is = |e: &Value, k: &str| e["kind"] == k;
    let session_or_statement =
        |e: &Value| is(e, "statement") || is(e, "session_start") || is(e, "session_end");
    let cases: Vec<(Vec<&str>, BTreeSet<String>)> = vec![
        (
            vec!["--user", "root"],
            ids(&|e| session_or_statement(e) && e["client"]["user"] == "root"),
        ),
        (
            vec!["--login-user", "dbgov_alice", "--db", "shop"],
            ids(&|e| {
                session_or_statement(e)
                    && e["client"]["login_user"] == "dbgov_alice"
                    && e["db"]["name"] == "shop"
            }),
        ),
        (
            vec!["--class", "pii"],
            ids(&|e| {
                is(e, "statement")
                    && e["classification"]["classes"].as_array().is_some_and(|c| {
                        c.iter()
                            .any(|c| c.as_str().is_some_and(|c| c.starts_with("pii.")))
                    })
            }),
        ),
        (
            vec!["--verdict", "alert", "--verdict", "block"],
            ids(&|e| {
                is(e, "statement")
                    && (e["policy"]["verdict"] == "alert" || e["policy"]["verdict"] == "block")
            }),
        ),
        (vec![], ids(&|_| true)),
    ];
    let everything = ids(&|_| true);
    for (args, want) in cases {
        assert!(!want.is_empty(), "{args:?} matches something in the trail");
        if !args.is_empty() {
            assert!(
                want.len() < everything.len(),
                "{args:?} leaves something out"
            );
        }
        let got = tail_json(&events, &args)?;
        assert_eq!(got, want, "dbgov tail {args:?}");
    }
    Ok(())
}
