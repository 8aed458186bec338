//! Table-driven corpus tests: `agent/tests/corpus/{postgres,mysql}.yaml` hold realistic
//! statements (OLTP, ORM output, reporting, DDL, transaction and session control) with the
//! kind, tables, columns read and columns written that a careful reader expects. Every entry is
//! checked and all mismatches are reported together. An entry marked `known_gap: "<why>"` is a
//! documented limitation: it is listed, not failed (and fails if it starts to pass, so that the
//! marker is removed). An entry marked `parses: false` is text sqlparser rejects, whose kind
//! comes from the keyword fallback; any other entry must parse.
//!
//! Conventions of the expectations (see also the header of each corpus file):
//! - `tables`: real tables and views the statement names (schema-qualified where written,
//!   lower-cased unless quoted), including tables referenced by foreign keys; not CTE names,
//!   derived tables or table functions; not databases, schemas, indexes or sequences.
//! - `read` / `written`: `table.column` data accesses of DML and queries. A bare column is
//!   attributed only when exactly one real table is in scope (no schema knowledge); DDL column
//!   definitions are not accesses, except that CREATE TABLE ... AS SELECT writes the new
//!   table's columns. `excluded.col`, `VALUES(col)` and row aliases in upserts name the proposed
//!   row, not stored data.

use super::{Analyzer, AnalyzerConfig, Dialect};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    sql: String,
    kind: String,
    tables: Vec<String>,
    read: Vec<String>,
    written: Vec<String>,
    #[serde(default)]
    known_gap: Option<String>,
    #[serde(default = "yes")]
    parses: bool,
}

fn yes() -> bool {
    true
}

const POSTGRES_YAML: &str = include_str!("../../tests/corpus/postgres.yaml");
const MYSQL_YAML: &str = include_str!("../../tests/corpus/mysql.yaml");

fn load(name: &str, yaml: &str) -> Vec<Entry> {
    match serde_yaml::from_str(yaml) {
        Ok(e) => e,
        Err(e) => panic!("{name}: corpus does not load: {e}"),
    }
}

/// Every corpus statement with its dialect (for the robustness tests).
pub(super) fn statements() -> Vec<(Dialect, String)> {
    let mut out = Vec::new();
    for (d, name, yaml) in [
        (Dialect::Postgres, "postgres.yaml", POSTGRES_YAML),
        (Dialect::MySql, "mysql.yaml", MYSQL_YAML),
    ] {
        out.extend(load(name, yaml).into_iter().map(|e| (d, e.sql)));
    }
    out
}

/// Outcome of checking one corpus.
#[derive(Debug, Default)]
struct Report {
    entries: usize,
    mismatches: Vec<String>,
    gaps: Vec<String>,
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

fn yaml_list(v: &[String]) -> String {
    format!("[{}]", v.join(", "))
}

fn check_corpus(dialect: Dialect, name: &str, yaml: &str) -> Report {
    let entries = load(name, yaml);
    let mut an = Analyzer::new(AnalyzerConfig::default());
    let mut report = Report {
        entries: entries.len(),
        ..Report::default()
    };
    for (i, e) in entries.iter().enumerate() {
        let (a, _) = an.analyze(dialect, &e.sql);
        let mut diffs = Vec::new();
        if a.kind != e.kind {
            diffs.push(format!("kind: expected {}, got {}", e.kind, a.kind));
        }
        for (field, expected, got) in [
            ("tables", &e.tables, &a.tables),
            ("read", &e.read, &a.columns_read),
            ("written", &e.written, &a.columns_written),
        ] {
            let expected = sorted(expected);
            if &expected != got {
                diffs.push(format!(
                    "{field}: expected {}, got {}",
                    yaml_list(&expected),
                    yaml_list(got)
                ));
            }
        }
        match (&a.parse_error, e.parses) {
            (Some(err), true) => diffs.push(format!("parse error: {err}")),
            (None, false) => diffs.push("parses now; drop `parses: false`".to_string()),
            _ => {}
        }
        let head = format!("{name}[{i}] {}", e.sql);
        match (&e.known_gap, diffs.is_empty()) {
            (None, true) => {}
            (None, false) => report
                .mismatches
                .push(format!("{head}\n    {}", diffs.join("\n    "))),
            (Some(why), false) => report.gaps.push(format!(
                "{head}\n    gap: {why}\n    {}",
                diffs.join("\n    ")
            )),
            (Some(_), true) => report.mismatches.push(format!(
                "{head}\n    known gap now passes; remove `known_gap`"
            )),
        }
    }
    report
}

fn run(dialect: Dialect, name: &str, yaml: &str) {
    let r = check_corpus(dialect, name, yaml);
    if !r.gaps.is_empty() {
        eprintln!(
            "{name}: {} known gap(s):\n{}",
            r.gaps.len(),
            r.gaps.join("\n")
        );
    }
    assert!(
        r.mismatches.is_empty(),
        "{name}: {} of {} entries mismatch:\n{}",
        r.mismatches.len(),
        r.entries,
        r.mismatches.join("\n")
    );
    assert!(r.entries >= 150, "{name}: only {} entries", r.entries);
    assert!(
        r.gaps.len() * 20 <= r.entries,
        "{name}: {} known gaps is more than 5% of {} entries",
        r.gaps.len(),
        r.entries
    );
}

#[test]
fn postgres_corpus() {
    run(Dialect::Postgres, "postgres.yaml", POSTGRES_YAML);
}

#[test]
fn mysql_corpus() {
    run(Dialect::MySql, "mysql.yaml", MYSQL_YAML);
}
