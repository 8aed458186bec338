//! SQL analysis: turns one statement text (as seen on the wire) into an [`Analysis`]: statement
//! kind, tables, columns read and written, `*` selections, WHERE presence, a literal-free
//! fingerprint and redacted text. Owns the per-fingerprint LRU cache ([`Analyzer`]) so that
//! statements differing only in literal values or whitespace are parsed once.
//!
//! Pipeline per call: [`normalize::scan`] (cheap, never fails) produces the normalised text and
//! this text's literals; the xxh3-64 hash of the normalised text is the fingerprint and, with the
//! dialect, the cache key; only on a miss is the text parsed with sqlparser and walked by
//! [`resolve`]. `redacted_text` is the normalised text (identical for every text of a
//! fingerprint), unless [`AnalyzerConfig::keep_literals`] asks for the original text.

mod normalize;
mod resolve;

use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use lru::LruCache;
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect};
use sqlparser::parser::Parser;

/// Why a statement has no parsed analysis; rendered into [`Analysis::parse_error`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SqlError {
    /// sqlparser rejected the text.
    #[error("{0}")]
    Parse(String),
    /// The text is longer than [`AnalyzerConfig::max_statement_bytes`].
    #[error("statement exceeds {0} bytes; not parsed")]
    TooLong(usize),
    /// The parser or the walker panicked (a bug); the statement is treated as unparsed.
    #[error("internal error while analysing the statement")]
    Internal,
}

/// SQL dialect of the server the statement was sent to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
}

/// What one statement text does. Shared through the cache by every text of a fingerprint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Analysis {
    /// Upper-case kind of the first statement: `"SELECT"`, `"INSERT"`, `"UPDATE"`, `"DELETE"`,
    /// `"DROP TABLE"`, `"DROP DATABASE"`, `"TRUNCATE"`, `"CREATE TABLE"`, `"ALTER TABLE"`,
    /// `"BEGIN"`, `"COMMIT"`, `"SET"`, `"SHOW"`, `"COPY"`, `"USE"`, ...; `"UNKNOWN"` for text
    /// that does not start with a SQL command keyword; `""` for empty text.
    pub kind: String,
    /// Kind of every statement in the text, in order (`kinds[0] == kind` when non-empty).
    pub kinds: Vec<String>,
    /// Real tables, schema-qualified where written, lower-cased unless quoted; sorted, unique.
    pub tables: Vec<String>,
    /// `table.column` read (table as in `tables`); sorted, unique.
    pub columns_read: Vec<String>,
    /// `table.column` written (UPDATE SET targets, INSERT column lists); sorted, unique.
    pub columns_written: Vec<String>,
    /// Tables selected with `*` or `t.*`.
    pub star: Vec<String>,
    /// Column references that could not be tied to one table (bare names with several or no
    /// tables in scope, or `q.col` with an unknown qualifier).
    pub unresolved_columns: Vec<String>,
    /// When the text has UPDATE/DELETE statements: every one of them has a WHERE clause.
    /// Otherwise: some WHERE clause exists.
    pub has_where: bool,
    /// 16 lowercase hex chars: xxh3-64 of the normalised text.
    pub fingerprint: String,
    /// The normalised text (literals as `?`, placeholders kept), or the original text when
    /// [`AnalyzerConfig::keep_literals`] is set.
    pub redacted_text: String,
    /// Why the text was not parsed; kind and kinds then come from the first keywords.
    pub parse_error: Option<String>,
    /// Number of non-empty statements in the text.
    pub statement_count: usize,
}

/// Analyzer settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnalyzerConfig {
    /// Number of fingerprints kept (at least 1 is used).
    pub cache_entries: usize,
    /// Longer texts are fingerprinted over this prefix and not parsed.
    pub max_statement_bytes: usize,
    /// Put the original text (with literals) in `redacted_text`.
    pub keep_literals: bool,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        AnalyzerConfig {
            cache_entries: 4096,
            max_statement_bytes: 65536,
            keep_literals: false,
        }
    }
}

/// Cache counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Calls answered from the cache.
    pub hits: u64,
    /// Calls that analysed the text.
    pub misses: u64,
    /// Fingerprints currently cached.
    pub entries: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct CacheKey {
    dialect: Dialect,
    fingerprint: u64,
    truncated: bool,
}

/// Statement analyzer with an LRU cache keyed by (dialect, fingerprint).
pub struct Analyzer {
    config: AnalyzerConfig,
    cache: LruCache<CacheKey, Arc<Analysis>>,
    hits: u64,
    misses: u64,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Analyzer {
    /// An analyzer with an empty cache.
    pub fn new(config: AnalyzerConfig) -> Self {
        let cap = NonZeroUsize::new(config.cache_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        Analyzer {
            config,
            cache: LruCache::new(cap),
            hits: 0,
            misses: 0,
        }
    }

    /// Returns the analysis (shared from the cache when the fingerprint was seen before) and the
    /// literal values found in *this* text (strings unquoted, numbers as written), for value
    /// detectors. Never panics.
    pub fn analyze(&mut self, dialect: Dialect, text: &str) -> (Arc<Analysis>, Vec<String>) {
        let max = self.config.max_statement_bytes;
        let truncated = text.len() > max;
        let scanned_text = if truncated {
            prefix_at_boundary(text, max)
        } else {
            text
        };
        let normalize::Scanned {
            normalized,
            literals,
            statements,
        } = normalize::scan(dialect, scanned_text);
        let key = CacheKey {
            dialect,
            fingerprint: xxhash_rust::xxh3::xxh3_64(normalized.as_bytes()),
            truncated,
        };
        let cached = match self.cache.get(&key) {
            Some(a) if a.redacted_text == normalized => Some(Arc::clone(a)),
            _ => None,
        };
        let analysis = match cached {
            Some(a) => {
                self.hits += 1;
                a
            }
            None => {
                self.misses += 1;
                let a = Arc::new(build(
                    dialect,
                    text,
                    normalized,
                    key.fingerprint,
                    statements,
                    truncated.then_some(max),
                ));
                self.cache.put(key, Arc::clone(&a));
                a
            }
        };
        if self.config.keep_literals {
            let mut own = (*analysis).clone();
            own.redacted_text = text.to_string();
            return (Arc::new(own), literals);
        }
        (analysis, literals)
    }

    /// Cache counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits,
            misses: self.misses,
            entries: self.cache.len(),
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
fn prefix_at_boundary(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

fn build(
    dialect: Dialect,
    text: &str,
    normalized: String,
    fingerprint: u64,
    statements: usize,
    too_long: Option<usize>,
) -> Analysis {
    let mut a = Analysis {
        fingerprint: format!("{fingerprint:016x}"),
        statement_count: statements,
        ..Analysis::default()
    };
    let parsed = match too_long {
        Some(limit) => Err(SqlError::TooLong(limit)),
        None if statements == 0 => Ok(Vec::new()),
        None => parse(dialect, text),
    };
    match parsed {
        Ok(stmts) => {
            let mut c = resolve::Collected::default();
            let walked = catch_unwind(AssertUnwindSafe(|| {
                for s in &stmts {
                    c.statement(s);
                }
                stmts
                    .iter()
                    .map(resolve::statement_kind)
                    .collect::<Vec<_>>()
            }));
            match walked {
                Ok(kinds) => {
                    a.kinds = kinds;
                    a.kind = a.kinds.first().cloned().unwrap_or_default();
                    a.statement_count = stmts.len();
                    a.has_where = c.dml_where.unwrap_or(c.any_where);
                    a.tables = c.tables.into_iter().collect();
                    a.columns_read = c.read.into_iter().collect();
                    a.columns_written = c.written.into_iter().collect();
                    a.star = c.star.into_iter().collect();
                    a.unresolved_columns = c.unresolved.into_iter().collect();
                }
                Err(_) => unparsed(&mut a, &normalized, SqlError::Internal),
            }
        }
        Err(e) => unparsed(&mut a, &normalized, e),
    }
    a.redacted_text = normalized;
    a
}

fn unparsed(a: &mut Analysis, normalized: &str, e: SqlError) {
    a.parse_error = Some(e.to_string());
    a.kinds = normalized
        .split("; ")
        .filter(|s| !s.is_empty())
        .map(resolve::kind_from_text)
        .collect();
    a.kind = a.kinds.first().cloned().unwrap_or_default();
}

fn parse(dialect: Dialect, text: &str) -> Result<Vec<sqlparser::ast::Statement>, SqlError> {
    let result = catch_unwind(|| match dialect {
        Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, text),
        Dialect::MySql => Parser::parse_sql(&MySqlDialect {}, text),
    });
    match result {
        Ok(Ok(stmts)) => Ok(stmts),
        Ok(Err(e)) => Err(SqlError::Parse(e.to_string())),
        Err(_) => Err(SqlError::Internal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_stage() {
        for n in [500usize, 1000, 2000, 5000, 13000] {
            let mut t = String::from("SELECT 1 FROM t WHERE a = 1");
            for _ in 0..n {
                t.push_str(" OR a = 1");
            }
            let stage = std::env::var("STAGE").unwrap_or_default();
            let h = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || {
                    let stmts = parse(Dialect::Postgres, &t).unwrap();
                    if stage == "parse" {
                        std::mem::forget(stmts);
                        return "parsed";
                    }
                    if stage == "drop" {
                        drop(stmts);
                        return "dropped";
                    }
                    let mut c = resolve::Collected::default();
                    for s in &stmts {
                        c.statement(s);
                    }
                    std::mem::forget(stmts);
                    "walked"
                })
                .unwrap();
            println!("{n}: {:?}", h.join());
        }
    }

    #[test]
    fn deep() {
        for n in [100usize, 1000, 5000, 13000] {
            let mut t = String::from("SELECT 1 FROM t WHERE a = 1");
            for _ in 0..n {
                t.push_str(" OR a = 1");
            }
            let h = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || {
                    let mut a = Analyzer::new(AnalyzerConfig {
                        max_statement_bytes: 1 << 20,
                        ..AnalyzerConfig::default()
                    });
                    let start = std::time::Instant::now();
                    let (r, _) = a.analyze(Dialect::Postgres, &t);
                    (
                        r.parse_error.clone(),
                        r.columns_read.clone(),
                        start.elapsed(),
                    )
                })
                .unwrap();
            println!("{n}: {:?}", h.join());
        }
        for n in [100usize, 1000, 10000] {
            let t = format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n));
            let mut a = Analyzer::new(AnalyzerConfig::default());
            let (r, _) = a.analyze(Dialect::Postgres, &t);
            println!("parens {n}: {:?}", r.parse_error);
        }
    }

    #[test]
    fn explore() {
        let mut a = Analyzer::new(AnalyzerConfig::default());
        for (d, t) in [
            (Dialect::Postgres, "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, CURRENT_TIMESTAMP);"),
            (Dialect::Postgres, "SELECT u.email, o.total FROM public.users u JOIN orders o ON o.user_id = u.id WHERE u.id = $1"),
            (Dialect::MySql, "INSERT INTO t (a) VALUES (DEFAULT), (@x)"),
            (Dialect::MySql, "USE shop"),
            (Dialect::Postgres, "WITH r AS (SELECT id FROM users WHERE active) SELECT * FROM r JOIN orders ON orders.uid = r.id"),
            (Dialect::Postgres, "DROP TABLE IF EXISTS a, s.b CASCADE"),
            (Dialect::Postgres, "COPY users (id, email) TO STDOUT"),
            (Dialect::Postgres, "CREATE UNIQUE INDEX i ON users (email)"),
            (Dialect::Postgres, "GRANT SELECT ON users TO bob"),
            (Dialect::Postgres, "LISTEN chan"),
            (Dialect::Postgres, "SELECT now(), count(*) FROM generate_series(1, 10) g"),
        ] {
            let (r, l) = a.analyze(d, t);
            println!("{t}\n{r:?} {l:?}\n");
        }
    }
}
