//! Coverage corpus tests: `agent/tests/corpus/coverage-{postgres,mysql}.sql` hold several
//! hundred real-world statements per engine (PostgreSQL's and pgaudit's regression SQL, sysbench,
//! WordPress, Drupal, mysqldump, ORM output, MySQL's test suite and manual), each with the
//! statement kind and tables a careful reader expects. Unlike `corpus_tests`, which checks
//! columns too and wants every entry to parse, this measures how often the analyzer gets kind
//! and tables right *whether or not sqlparser parses the text* (the keyword fallback must cover
//! the rest), prints the rate per engine with the misses, and fails below [`MIN_RATE`].
//!
//! File format (documented again at the top of each file): `--#` lines are comments; an entry
//! starts with `--@ KIND: table, table` (or `--@ KIND` for no table) and its statement is every
//! following line up to the next `--@` line, trimmed. Run with `--nocapture` to see the rates.

use super::{Analyzer, AnalyzerConfig, Dialect, SqlError};

/// Lowest accepted share of entries with the right kind and tables, per engine.
const MIN_RATE: f64 = 0.99;

const POSTGRES: &str = include_str!("../../tests/corpus/coverage-postgres.sql");
const MYSQL: &str = include_str!("../../tests/corpus/coverage-mysql.sql");

/// One corpus entry.
#[derive(Debug)]
struct Case {
    /// 1-based line of the `--@` header.
    line: usize,
    kind: String,
    tables: Vec<String>,
    sql: String,
}

fn parse_corpus(name: &str, text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("--#") {
            continue;
        }
        if let Some(header) = line.strip_prefix("--@") {
            let (kind, tables) = header.split_once(':').unwrap_or((header, ""));
            let mut tables: Vec<String> = tables
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
            tables.sort();
            tables.dedup();
            cases.push(Case {
                line: i + 1,
                kind: kind.trim().to_string(),
                tables,
                sql: String::new(),
            });
            continue;
        }
        match cases.last_mut() {
            Some(c) => {
                c.sql.push_str(line);
                c.sql.push('\n');
            }
            None => assert!(
                line.trim().is_empty(),
                "{name}:{}: text before the first `--@` entry",
                i + 1
            ),
        }
    }
    for c in &mut cases {
        c.sql = c.sql.trim().to_string();
        assert!(!c.sql.is_empty(), "{name}:{}: entry without SQL", c.line);
        assert!(
            !c.kind.is_empty(),
            "{name}:{}: entry without a kind",
            c.line
        );
    }
    cases
}

/// Outcome of checking one corpus.
#[derive(Debug, Default)]
struct Coverage {
    total: usize,
    parsed: usize,
    right: usize,
    misses: Vec<String>,
}

impl Coverage {
    fn rate(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        self.right as f64 / self.total as f64
    }
}

fn measure(dialect: Dialect, name: &str, text: &str) -> Coverage {
    let cases = parse_corpus(name, text);
    let mut seen = std::collections::HashMap::new();
    for c in &cases {
        if let Some(first) = seen.insert(c.sql.as_str(), c.line) {
            panic!(
                "{name}:{}: same statement as line {first}; keep entries distinct",
                c.line
            );
        }
    }
    let mut an = Analyzer::new(AnalyzerConfig::default());
    let mut cov = Coverage {
        total: cases.len(),
        ..Coverage::default()
    };
    for c in &cases {
        let (a, _) = an.analyze(dialect, &c.sql);
        if a.parse_error.is_none() {
            cov.parsed += 1;
        }
        if a.kind == c.kind && a.tables == c.tables {
            cov.right += 1;
            continue;
        }
        let mut why = Vec::new();
        if a.kind != c.kind {
            why.push(format!("kind: expected {}, got {}", c.kind, a.kind));
        }
        if a.tables != c.tables {
            why.push(format!(
                "tables: expected [{}], got [{}]",
                c.tables.join(", "),
                a.tables.join(", ")
            ));
        }
        if let Some(e) = &a.parse_error {
            why.push(format!("parse error: {e}"));
        }
        let first_line = c.sql.lines().next().unwrap_or("");
        cov.misses.push(format!(
            "{name}:{}: {first_line}\n    {}",
            c.line,
            why.join("\n    ")
        ));
    }
    cov
}

fn run(dialect: Dialect, engine: &str, name: &str, text: &str) {
    let cov = measure(dialect, name, text);
    let summary = format!(
        "{engine} coverage: {}/{} = {:.1}% (parsed {})",
        cov.right,
        cov.total,
        cov.rate() * 100.0,
        cov.parsed
    );
    println!("{summary}");
    for m in &cov.misses {
        println!("  miss {m}");
    }
    assert!(cov.total >= 300, "{name}: only {} entries", cov.total);
    assert!(
        cov.rate() >= MIN_RATE,
        "{summary}, below {:.0}%; misses:\n{}",
        MIN_RATE * 100.0,
        cov.misses.join("\n")
    );
}

#[test]
fn postgres_coverage() {
    run(
        Dialect::Postgres,
        "postgres",
        "coverage-postgres.sql",
        POSTGRES,
    );
}

#[test]
fn mysql_coverage() {
    run(Dialect::MySql, "mysql", "coverage-mysql.sql", MYSQL);
}

#[test]
fn corpus_format() {
    let cases = parse_corpus(
        "inline",
        "--# header\n\n--@ SELECT: b, a\nSELECT *\n  FROM a, b;\n\n--# between\n--@ BEGIN\nBEGIN\n",
    );
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].kind, "SELECT");
    assert_eq!(cases[0].tables, ["a", "b"]);
    assert_eq!(cases[0].sql, "SELECT *\n  FROM a, b;");
    assert_eq!(cases[0].line, 3);
    assert_eq!(cases[1].kind, "BEGIN");
    assert!(cases[1].tables.is_empty());
    assert_eq!(cases[1].sql, "BEGIN");
}

/// The fallback sees mostly broken text: every statement of both coverage corpora, cut at about
/// 40 places and with bytes flipped, in both dialects, never panics and keeps the invariants.
#[test]
fn cut_and_corrupted_coverage_corpus_never_panics() {
    let mut an = Analyzer::new(AnalyzerConfig::default());
    let mut failures = Vec::new();
    let mut seed: u64 = 0x0123_4567_89ab_cdef;
    let internal = SqlError::Internal.to_string();
    for (name, text) in [
        ("coverage-postgres.sql", POSTGRES),
        ("coverage-mysql.sql", MYSQL),
    ] {
        for case in parse_corpus(name, text) {
            let bytes = case.sql.as_bytes();
            let step = (bytes.len() / 40).max(1);
            let mut variants: Vec<Vec<u8>> = (0..=bytes.len())
                .step_by(step)
                .map(|cut| bytes.get(..cut).unwrap_or_default().to_vec())
                .collect();
            for _ in 0..3 {
                let mut b = bytes.to_vec();
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed % (b.len().max(1) as u64)) as usize;
                if let Some(x) = b.get_mut(i) {
                    *x = (seed >> 40) as u8;
                }
                variants.push(b);
            }
            for v in variants {
                let t = String::from_utf8_lossy(&v);
                for d in [Dialect::Postgres, Dialect::MySql] {
                    let (a, _) = an.analyze(d, &t);
                    let ok = a.kind.bytes().all(|c| !c.is_ascii_lowercase())
                        && a.kinds.first().map(String::as_str).unwrap_or("") == a.kind
                        && a.parse_error.as_deref() != Some(internal.as_str());
                    if !ok && failures.len() < 20 {
                        failures.push(format!("{t:?} -> {a:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
