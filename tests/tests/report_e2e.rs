//! `dbgov report` over a trail the real agent wrote while known people and services ran known
//! statements against a real PostgreSQL: the figures are checked against what was run, in all
//! three formats; the HTML is rendered by headless Chromium; candidate policies are tried on
//! the trail (what-if).
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use dbgov_tests::*;
use serde_json::Value;

const ALICE: &str = "dbgov_ralice";
const APP: &str = "dbgov_rapp";

/// psql over TCP as the database superuser, run by `who` (a person with a login uid, or a
/// service without one).
fn psql_as(pg: &Postgres, login_uid: Option<u32>, user: &str, sql: &str) -> Result<String> {
    let cmd = format!(
        "psql -X -q -h 127.0.0.1 -p {} -U postgres -d prod_shop -v ON_ERROR_STOP=1 -c \"{}\"",
        pg.port,
        sql.replace('"', "\\\"")
    );
    match login_uid {
        Some(uid) => run(&mut as_user_with_login(uid, user, &cmd)),
        // A service: no login uid (unset is 4294967295), whatever the test runner has.
        None => run(Command::new("sh").arg("-c").arg(format!(
            "echo 4294967295 > /proc/self/loginuid 2>/dev/null; exec runuser -u {user} -- sh -c '{}'",
            cmd.replace('\'', "'\\''")
        ))),
    }
}

/// The trail: returns the events file, the agent's public key and its directory.
fn make_trail(dir: &TempDir) -> Result<(PathBuf, PathBuf)> {
    let alice = ensure_user(ALICE)?;
    ensure_user(APP)?;
    let pg = Postgres::start()?;
    pg.psql_admin("CREATE DATABASE prod_shop")?;
    run(pg.psql().args([
        "-d",
        "prod_shop",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "CREATE TABLE customers (id int PRIMARY KEY, email text, last_name text); \
         INSERT INTO customers VALUES (1, 'a@example.com', 'Ames'), (2, 'b@example.org', 'Bo')",
    ]))?;
    let keys = dir.path().join("keys");
    run(Command::new(agent_bin())
        .arg("keygen")
        .arg("--out")
        .arg(&keys))?;
    let events = dir.path().join("trail.jsonl");
    let agent = Agent::start_writing_to(
        Some(&events),
        &[
            "--postgres-port",
            &pg.port.to_string(),
            "--signing-key",
            &keys.join("signing.key").to_string_lossy(),
        ],
    )?;
    // A person: three reads of e-mail addresses, a table created and dropped on prod.
    for _ in 0..3 {
        psql_as(&pg, Some(alice), ALICE, "SELECT email FROM customers")?;
    }
    psql_as(&pg, Some(alice), ALICE, "CREATE TABLE scratch (a int)")?;
    psql_as(&pg, Some(alice), ALICE, "DROP TABLE scratch")?;
    // A service: two reads of e-mails and names, an UPDATE of every row.
    for _ in 0..2 {
        psql_as(&pg, None, APP, "SELECT email, last_name FROM customers")?;
    }
    psql_as(&pg, None, APP, "UPDATE customers SET last_name = 'X'")?;
    agent.wait_for("the 8 statements", |ev| statements(ev).len() >= 8)?;
    std::thread::sleep(Duration::from_millis(500));
    let (code, ev) = agent.stop()?;
    assert_eq!(code, 0);
    assert_eq!(statements(&ev).len(), 8, "{}", dump(&ev));
    Ok((events, keys.join("signing.pub")))
}

fn report(input: &Path, format: &str, out: &Path, extra: &[&str]) -> Result<String> {
    let o = Command::new(agent_bin())
        .arg("report")
        .arg("--input")
        .arg(format!("jsonl:{}", input.display()))
        .args(["--format", format, "--out"])
        .arg(out)
        .args(extra)
        .output()?;
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    anyhow::ensure!(o.status.success(), "dbgov report failed: {err}");
    Ok(err)
}

/// The rows of one class and OS user, summed: (reads, writes, any row a person, tables).
/// (A client that exits before the agent reads its /proc entry can come out with fewer
/// identity fields, as a row of its own; the sum is what that user did.)
fn row(rows: &[Value], class: &str, user: &str) -> (u64, u64, bool, Vec<String>) {
    let mine: Vec<&Value> = rows
        .iter()
        .filter(|r| r["class"] == class && r["identity"]["user"] == user)
        .collect();
    assert!(!mine.is_empty(), "no {class} row for {user}: {rows:?}");
    let mut tables: Vec<String> = mine
        .iter()
        .flat_map(|r| r["tables"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    tables.sort();
    tables.dedup();
    (
        mine.iter().filter_map(|r| r["reads"].as_u64()).sum(),
        mine.iter().filter_map(|r| r["writes"].as_u64()).sum(),
        mine.iter().any(|r| r["identity"]["person"] == true),
        tables,
    )
}

#[test]
fn the_report_counts_what_was_run_in_every_format_and_chromium_renders_it() -> Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15") {
        return Ok(());
    }
    let dir = TempDir::new("report")?;
    let (trail, pubkey) = make_trail(&dir)?;
    let pk = pubkey.to_string_lossy().into_owned();

    // JSON: the aggregates.
    let json_out = dir.path().join("report.json");
    report(&trail, "json", &json_out, &["--pubkey", &pk])?;
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json_out)?)?;
    assert_eq!(r["statements"], 8);
    assert_eq!(r["integrity"]["status"], "intact", "{}", r["integrity"]);
    assert_eq!(r["integrity"]["signatures_checked"], true);
    assert!(r["integrity"]["checkpoints"].as_u64() >= Some(1));
    let rows = r["sensitive"].as_array().context("sensitive")?;
    assert_eq!(
        row(rows, "pii.email", ALICE),
        (3, 0, true, vec!["customers".to_owned()]),
        "{rows:?}"
    );
    assert!(rows
        .iter()
        .any(|r| r["identity"]["login_user"] == ALICE && r["class"] == "pii.email"));
    assert_eq!(
        row(rows, "pii.email", APP),
        (2, 0, false, vec!["customers".to_owned()]),
        "{rows:?}"
    );
    assert_eq!(
        row(rows, "pii.name", APP),
        (2, 1, false, vec!["customers".to_owned()]),
        "{rows:?}"
    );
    // Nothing else touched sensitive data.
    assert!(
        rows.iter().all(
            |r| (r["identity"]["user"] == ALICE && r["class"] == "pii.email")
                || (r["identity"]["user"] == APP
                    && (r["class"] == "pii.email" || r["class"] == "pii.name"))
        ),
        "{rows:?}"
    );
    // People come before services in a class.
    let emails: Vec<&Value> = rows.iter().filter(|r| r["class"] == "pii.email").collect();
    assert_eq!(emails[0]["identity"]["person"], true);
    let e = &r["enforcement"];
    assert_eq!(
        (
            e["blocked"].as_u64(),
            e["held"].as_u64(),
            e["alerts"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{e}"
    );
    let entries = e["entries"].as_array().context("entries")?;
    let blocked = entries
        .iter()
        .find(|x| x["verdict"] == "block")
        .context("blocked entry")?;
    assert_eq!(blocked["statement"], "DROP TABLE scratch");
    assert!(blocked["rules"]
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x == "block-destructive-ddl-prod")));
    assert!(blocked["identity"]
        .as_str()
        .is_some_and(|i| i.starts_with(ALICE)));
    let held = entries
        .iter()
        .find(|x| x["verdict"] == "hold")
        .context("held")?;
    // Redacted, as in the trail.
    assert_eq!(held["statement"], "UPDATE customers SET last_name = ?");
    assert_eq!(r["schema_change_count"], 2);
    let hours = r["activity"]["postgresql/prod_shop"]
        .as_object()
        .context("activity")?;
    let total: u64 = hours
        .values()
        .filter_map(|h| h["statements"].as_u64())
        .sum();
    assert_eq!(total, 8);
    let top = r["top_statements"]["postgresql/prod_shop"]
        .as_array()
        .context("top")?;
    assert_eq!(top[0]["count"], 3);
    assert_eq!(top[0]["text"], "SELECT email FROM customers");
    assert_eq!(r["coverage"]["fully_parsed_percent"], 100.0);
    assert_eq!(r["coverage"]["sessions"], 8);
    let controls: Vec<&str> = r["controls"]
        .as_array()
        .context("controls")?
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(controls, ["CC6.1", "CC6.6", "CC7.2", "CC8.1", "10.2"]);

    // Markdown: the same figures as tables.
    let md_out = dir.path().join("report.md");
    report(&trail, "markdown", &md_out, &["--pubkey", &pk])?;
    let md = std::fs::read_to_string(&md_out)?;
    for want in [
        "| Blocked | 1 |",
        "| Held | 1 |",
        "| Alerts | 1 |",
        "| 3 | SELECT email FROM customers | pii.email |",
        "| SOC 2 | CC8.1 |",
    ] {
        assert!(md.contains(want), "missing {want:?} in:\n{md}");
    }
    // Every row of the JSON is a row of the Markdown table, with the same figures.
    for r in rows {
        let want = format!(
            "| {} | confidential | {} | {} | postgres | - | {} | {} | customers |",
            r["class"].as_str().unwrap_or(""),
            if r["identity"]["person"] == true {
                "person"
            } else {
                "service"
            },
            r["label"].as_str().unwrap_or(""),
            r["reads"],
            r["writes"]
        );
        assert!(md.contains(&want), "missing {want:?} in:\n{md}");
    }
    assert!(md.contains(&format!(
        "| pii.email | confidential | person | {ALICE} (psql) |"
    )));

    // HTML: one self-contained page, rendered by headless Chromium.
    let html_out = dir.path().join("report.html");
    report(&trail, "html", &html_out, &["--pubkey", &pk])?;
    let html = std::fs::read_to_string(&html_out)?;
    for banned in ["<script", "src=", "href=", "@import", "url("] {
        assert!(
            !html.contains(banned),
            "external or active content: {banned}"
        );
    }
    assert!(html.contains("Trail complete and unaltered."));
    // `DBGOV_SAMPLE_DIR=docs` keeps this run's reports as the samples the README links to.
    // Run from the trail's directory, so the samples name it `trail.jsonl`.
    if let Ok(d) = std::env::var("DBGOV_SAMPLE_DIR") {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(d);
        for (format, name) in [
            ("html", "sample-report.html"),
            ("markdown", "sample-report.md"),
        ] {
            run(Command::new(agent_bin())
                .current_dir(dir.path())
                .args([
                    "report",
                    "--input",
                    "jsonl:trail.jsonl",
                    "--pubkey",
                    "keys/signing.pub",
                ])
                .args(["--format", format, "--out"])
                .arg(d.join(name)))?;
        }
    }
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {c}"))
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !require(chromium.is_some(), "chromium (Debian's chromium package)") {
        return Ok(());
    }
    let chromium = chromium.unwrap_or("chromium");
    let shot = dir.path().join("report.png");
    let url = format!("file://{}", html_out.display());
    let headless = |extra: &[&str]| {
        Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1200,2400",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("chrome").display()
            ))
            .args(extra)
            .arg(&url)
            .output()
    };
    let o = headless(&[&format!("--screenshot={}", shot.display())])?;
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "chromium failed: {log}");
    let png = std::fs::read(&shot).context("the screenshot")?;
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    // No console messages at all (the page has no scripts; a console line is an error).
    assert!(
        !log.lines()
            .any(|l| l.contains("CONSOLE") || l.contains("Uncaught")),
        "{log}"
    );
    // The DOM as Chromium built it has the charts: one SVG per database with a bar per hour.
    let o = headless(&["--dump-dom"])?;
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(dom.matches("<svg").count() >= 1, "{dom}");
    assert!(dom.contains("class=\"bar\""), "{dom}");
    assert!(dom.contains("7. Top statements"));
    Ok(())
}

#[test]
fn what_if_counts_the_verdicts_a_candidate_rule_would_change() -> Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15") {
        return Ok(());
    }
    let dir = TempDir::new("report-whatif")?;
    let (trail, _) = make_trail(&dir)?;
    // The built-in pack plus one candidate rule: block any SELECT that reads e-mail addresses.
    let cand = dir.path().join("candidate");
    run(Command::new("cp")
        .arg("-r")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies"))
        .arg(&cand))?;
    std::fs::write(
        cand.join("rules/40-candidate.yaml"),
        "rules:\n  - id: block-email-select\n    match:\n      kind: [SELECT]\n      classes: [pii.email]\n    action: block\n    severity: high\n",
    )?;
    let out = dir.path().join("whatif.json");
    report(
        &trail,
        "json",
        &out,
        &["--what-if-policies", &cand.to_string_lossy()],
    )?;
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
    let w = &r["what_if"];
    assert_eq!(w["judged"], 8, "{w}");
    // The five SELECTs that read e-mail addresses (3 by the person, 2 by the service), and
    // nothing else.
    assert_eq!(w["changed"], 5, "{w}");
    let changes = w["changes"].as_array().context("changes")?;
    assert_eq!(changes.len(), 1, "{w}");
    assert_eq!(changes[0]["rule"], "block-email-select");
    assert_eq!(changes[0]["old"], "allow");
    assert_eq!(changes[0]["new"], "block");
    assert_eq!(changes[0]["count"], 5);
    assert!(changes[0]["examples"].as_array().is_some_and(|e| e
        .iter()
        .all(|x| x.as_str().is_some_and(|t| t.contains("email")))));
    // The same pack without the candidate changes nothing: what-if is the agent's judge.
    let same = dir.path().join("same.json");
    report(
        &trail,
        "json",
        &same,
        &[
            "--what-if-policies",
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../policies")
                .to_string_lossy(),
        ],
    )?;
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&same)?)?;
    assert_eq!(r["what_if"]["changed"], 0, "{}", r["what_if"]);
    Ok(())
}

#[test]
fn a_tampered_trail_is_reported_as_such() -> Result<()> {
    if !require_agent() || !require(Postgres::available(), "PostgreSQL 15") {
        return Ok(());
    }
    let dir = TempDir::new("report-tamper")?;
    let (trail, _) = make_trail(&dir)?;
    let text = std::fs::read_to_string(&trail)?;
    // Delete one line in the middle.
    let lines: Vec<&str> = text.lines().collect();
    let mid = lines.len() / 2;
    let cut: String = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != mid)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let bad = dir.path().join("cut.jsonl");
    std::fs::write(&bad, cut)?;
    let out = dir.path().join("cut.md");
    report(&bad, "markdown", &out, &[])?;
    let md = std::fs::read_to_string(&out)?;
    assert!(
        md.contains(&format!("FAULT: deleted at line {}", mid + 1)),
        "{md}"
    );
    Ok(())
}
