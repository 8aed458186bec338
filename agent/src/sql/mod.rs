//! SQL analysis: turns one statement text (as seen on the wire) into an [`Analysis`]: statement
//! kind, tables, columns read and written, `*` selections, WHERE presence, a literal-free
//! fingerprint and redacted text. Owns the per-fingerprint LRU cache ([`Analyzer`]) so that
//! statements differing only in literal values or whitespace are parsed once.
//!
//! Pipeline per call: `normalize::scan_into` (cheap, never fails, reuses the analyzer's buffers)
//! produces the normalised text and this text's literals; the xxh3-64 hash of the normalised text
//! is the fingerprint and, with the dialect, the cache key; only on a miss is the text parsed with
//! sqlparser (after the MySQL rewrites of `fallback`) and walked by `resolve`; when parsing fails,
//! `fallback::recover` gives the kind and tables of each statement (from sqlparser for the
//! statements of a multi-statement text that parse alone, else from keyword rules).
//! `redacted_text` is the normalised text (identical for every text of a fingerprint), unless
//! [`AnalyzerConfig::keep_literals`] asks for the original text.

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod coverage_tests;
mod dialect;
mod fallback;
#[cfg(test)]
mod fuzz_tests;
mod normalize;
mod resolve;
pub mod tags;

use std::num::NonZeroUsize;
use std::panic::catch_unwind;
use std::sync::Arc;

use lru::LruCache;
use sqlparser::ast::Statement;
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
    /// The text needs a helper thread with a large stack and none could be started.
    #[error("statement too complex to analyse")]
    TooComplex,
    /// Function calls nest deeper than [`MAX_CALL_NESTING`]: not given to the parser, whose
    /// time grows exponentially with that depth.
    #[error("function calls nested deeper than {0}; not parsed")]
    NestedCalls(usize),
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
    /// This analysis as statement events show it, rendered by the first event that needs it.
    pub rendered: Memo<crate::audit::json::Rendered>,
    /// A whole `statement` value of this analysis, rendered by the first event that could
    /// keep it, with the client's parts it holds (see [`crate::audit::json::WholeStatement`]).
    pub whole: Memo<crate::audit::json::WholeStatement>,
}

/// A value computed at most once from the immutable [`Analysis`] holding it (a rendering of
/// it), shared with it through the cache. Not part of the analysis: memos compare equal, and
/// a clone starts empty.
pub struct Memo<T>(std::sync::OnceLock<T>);

impl<T> Memo<T> {
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(f)
    }

    /// The value, if computed.
    pub fn get(&self) -> Option<&T> {
        self.0.get()
    }

    /// Keeps `v` unless a value is kept already (the first one stays).
    pub fn set(&self, v: T) {
        let _ = self.0.set(v);
    }
}

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Self(std::sync::OnceLock::new())
    }
}

impl<T> Clone for Memo<T> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl<T> PartialEq for Memo<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for Memo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
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

/// The result of [`Analyzer::analyze_text`].
#[derive(Clone, Debug)]
pub struct Analyzed {
    pub analysis: Arc<Analysis>,
    pub literals: Vec<String>,
    /// The statement as sent, with literals and comments redacted unless configured otherwise.
    pub text: Shown,
    /// sqlcommenter tags of this text (not cached: comments are not part of the fingerprint).
    pub tags: tags::Tags,
}

/// [`Analyzed::text`]: shared with the exact-text cache when the text repeats byte for byte (a
/// prepared statement's), so a repeat costs no copy; made for this statement otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shown {
    Shared(Arc<str>),
    Own(String),
}

impl Shown {
    pub fn as_str(&self) -> &str {
        match self {
            Shown::Shared(s) => s,
            Shown::Own(s) => s,
        }
    }
}

impl Default for Shown {
    fn default() -> Self {
        Shown::Own(String::new())
    }
}

impl std::ops::Deref for Shown {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<&str> for Shown {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Shown {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

/// `text` with its literals and comments redacted (as `statement.text` shows it), for SQL found
/// elsewhere (a command line).
pub fn redact_text(dialect: Dialect, text: &str) -> String {
    let mut s = normalize::Scanned::default();
    normalize::scan_into(dialect, text, &mut s);
    redacted(text, &s.spans, &s.comments)
}

/// `text` with every literal replaced by `?` and every comment's content by `?` (`/* ? */`,
/// `-- ?`, `# ?`): comments carry values too (`/* email='...' */`, sqlcommenter tags).
fn redacted(text: &str, literals: &[(usize, usize)], comments: &[(usize, usize)]) -> String {
    let mut shown = String::with_capacity(text.len());
    let mut last = 0;
    let (mut i, mut j) = (0, 0);
    loop {
        let lit = literals.get(i).copied();
        let com = comments.get(j).copied();
        let ((a, b), is_comment) = match (lit, com) {
            (Some(l), Some(c)) if c.0 < l.0 => {
                j += 1;
                (c, true)
            }
            (Some(l), _) => {
                i += 1;
                (l, false)
            }
            (None, Some(c)) => {
                j += 1;
                (c, true)
            }
            (None, None) => break,
        };
        if a < last || b > text.len() {
            continue;
        }
        shown.push_str(text.get(last..a).unwrap_or(""));
        if is_comment {
            let body = text.get(a..b).unwrap_or("");
            shown.push_str(if body.starts_with("/*") {
                "/* ? */"
            } else if body.starts_with('#') {
                "# ?"
            } else {
                "-- ?"
            });
        } else {
            shown.push('?');
        }
        last = b;
    }
    shown.push_str(text.get(last..).unwrap_or(""));
    shown
}

/// Statement analyzer with an LRU cache keyed by (dialect, fingerprint).
pub struct Analyzer {
    config: AnalyzerConfig,
    cache: LruCache<CacheKey, Arc<Analysis>>,
    /// Scanner buffers reused by every call.
    scratch: normalize::Scanned,
    /// Texts without literals or comments (a prepared statement's, or a query with bind
    /// parameters), as sent: such a text repeats byte for byte, and is answered without
    /// scanning it again.
    exact: foldhash::HashMap<u64, Exact>,
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
            scratch: normalize::Scanned::default(),
            exact: foldhash::HashMap::default(),
            hits: 0,
            misses: 0,
        }
    }

    /// Returns the analysis (shared from the cache when the fingerprint was seen before) and the
    /// literal values found in *this* text (strings unquoted, numbers as written), for value
    /// detectors. Never panics.
    pub fn analyze(&mut self, dialect: Dialect, text: &str) -> (Arc<Analysis>, Vec<String>) {
        let a = self.analyze_inner(dialect, text, false);
        (a.analysis, a.literals)
    }

    /// The work of both entry points; `want_text` asks for [`Analyzed::text`] (else it is left
    /// empty).
    fn analyze_inner(&mut self, dialect: Dialect, text: &str, want_text: bool) -> Analyzed {
        let max = self.config.max_statement_bytes;
        let truncated = text.len() > max;
        let exact_key = (!truncated && !self.config.keep_literals)
            .then(|| xxhash_rust::xxh3::xxh3_64_with_seed(text.as_bytes(), dialect as u64));
        if let Some(e) = exact_key.and_then(|k| self.exact.get(&k)) {
            if e.dialect == dialect && *e.text == *text {
                self.hits += 1;
                return Analyzed {
                    analysis: Arc::clone(&e.analysis),
                    literals: Vec::new(),
                    text: if want_text {
                        Shown::Shared(Arc::clone(&e.shown))
                    } else {
                        Shown::default()
                    },
                    tags: tags::Tags::default(),
                };
            }
        }
        let mut a = self.analyze_scanned(dialect, text, want_text);
        // Comments are left out too: a sqlcommenter comment (a trace id) differs on every call.
        let repeats = want_text && a.literals.is_empty() && self.scratch.comments.is_empty();
        if let Some(k) = exact_key.filter(|_| repeats) {
            if self.exact.len() >= self.config.cache_entries.max(1) {
                self.exact.clear();
            }
            let shown: Arc<str> = match std::mem::take(&mut a.text) {
                Shown::Shared(s) => s,
                Shown::Own(s) => s.into(),
            };
            a.text = Shown::Shared(Arc::clone(&shown));
            self.exact.insert(
                k,
                Exact {
                    dialect,
                    text: text.into(),
                    analysis: Arc::clone(&a.analysis),
                    shown,
                },
            );
        }
        a
    }

    /// [`Analyzer::analyze_inner`] for a text not answered by the exact-text cache.
    fn analyze_scanned(&mut self, dialect: Dialect, text: &str, want_text: bool) -> Analyzed {
        let max = self.config.max_statement_bytes;
        let truncated = text.len() > max;
        let scanned_text = if truncated {
            prefix_at_boundary(text, max)
        } else {
            text
        };
        let scanned = &mut self.scratch;
        normalize::scan_into(dialect, scanned_text, scanned);
        // Exactly sized: the caller keeps these, the scratch buffer keeps its capacity.
        let mut literals = Vec::with_capacity(scanned.literals.len());
        literals.append(&mut scanned.literals);
        let key = CacheKey {
            dialect,
            fingerprint: xxhash_rust::xxh3::xxh3_64(scanned.normalized.as_bytes()),
            truncated,
        };
        let cached = match self.cache.get(&key) {
            Some(a) if a.redacted_text == scanned.normalized => Some(Arc::clone(a)),
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
                    &self.scratch,
                    key.fingerprint,
                    truncated.then_some(max),
                ));
                self.cache.put(key, Arc::clone(&a));
                a
            }
        };
        if self.config.keep_literals {
            let mut own = (*analysis).clone();
            own.redacted_text = text.to_string();
            return Analyzed {
                analysis: Arc::new(own),
                literals,
                text: if want_text {
                    Shown::Own(text.to_string())
                } else {
                    Shown::default()
                },
                tags: tags::from_comments(scanned_text, &self.scratch.comments),
            };
        }
        if !want_text {
            return Analyzed {
                analysis,
                literals,
                text: Shown::default(),
                tags: tags::Tags::default(),
            };
        }
        // Past `max_statement_bytes` only the head is analysed, but the whole text is shown:
        // its literals are found by a scan of the whole text, so none leaks from the tail.
        let whole;
        let scanned = if truncated {
            let mut w = normalize::Scanned::default();
            normalize::scan_into(dialect, text, &mut w);
            whole = w;
            &whole
        } else {
            &self.scratch
        };
        let tags = tags::from_comments(text, &scanned.comments);
        Analyzed {
            analysis,
            literals,
            text: Shown::Own(redacted(text, &scanned.spans, &scanned.comments)),
            tags,
        }
    }

    /// Like [`Analyzer::analyze`], and also returns this text with every literal replaced by
    /// `?` in place, keeping the client's own case, spacing and comments (or the text as sent
    /// when `keep_literals` is set). This is what the audit event shows.
    pub fn analyze_text(&mut self, dialect: Dialect, text: &str) -> Analyzed {
        self.analyze_inner(dialect, text, true)
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

/// An entry of [`Analyzer`]'s exact-text cache.
struct Exact {
    dialect: Dialect,
    text: Box<str>,
    analysis: Arc<Analysis>,
    /// [`Analyzed::text`] of this text (it has no comments, so no tags).
    shown: Arc<str>,
}

/// 16 lowercase hex digits.
fn hex16(v: u64) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    (0..16)
        .rev()
        .map(|i| char::from(DIGITS[((v >> (i * 4)) & 0xf) as usize]))
        .collect()
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
fn prefix_at_boundary(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// Texts with more operators than this are parsed and walked on a helper thread with a large
/// stack: expression trees (e.g. `a = 1 OR a = 2 OR ...`) are as deep as their operator chains,
/// and sqlparser's visitor recurses once per level.
const DEEP_OPERATORS: usize = 256;

/// Texts nested deeper than this go to the large-stack thread too. sqlparser recurses once per
/// nested subquery, EXPLAIN, CASE or NOT, and in a debug build 60 nested subqueries (within its
/// own recursion limit) overflow a 2 MiB stack.
const DEEP_NESTING: usize = 16;

/// A bound on how deep sqlparser recurses for a normalised text: the deepest parenthesis plus
/// the words it recurses on.
fn nesting(normalized: &str) -> usize {
    let (mut depth, mut deepest, mut words) = (0usize, 0usize, 0usize);
    for w in normalized.split(|c: char| {
        if c == '(' {
            depth += 1;
            deepest = deepest.max(depth);
        } else if c == ')' {
            depth = depth.saturating_sub(1);
        }
        !(c.is_ascii_alphanumeric() || c == '_')
    }) {
        if matches!(
            w,
            "select" | "explain" | "prepare" | "case" | "not" | "exists" | "insert" | "with"
        ) {
            words += 1;
        }
    }
    deepest + words
}

/// Deepest nesting of function calls (`name(` inside `name(`) that sqlparser is given. Its
/// parse time grows exponentially with this depth (about threefold per level on a call left
/// open: 0.3 s at 8, 4 s at 10, minutes at 12, found by fuzzing), so a client could stall the
/// agent with one short statement; deeper statements are reported unparsed instead.
pub const MAX_CALL_NESTING: usize = 6;

/// The deepest nesting of function calls in a normalized text: a `(` that follows a name
/// (not a keyword such as `IN`, `EXISTS`, `VALUES` or `OVER`).
fn call_nesting(normalized: &str) -> usize {
    const NOT_CALLS: &[&str] = &[
        "select",
        "in",
        "exists",
        "values",
        "from",
        "where",
        "and",
        "or",
        "not",
        "as",
        "on",
        "join",
        "using",
        "over",
        "when",
        "then",
        "else",
        "case",
        "any",
        "all",
        "some",
        "with",
        "union",
        "by",
        "lateral",
        "into",
        "set",
        "is",
        "like",
        "between",
        "return",
        "returning",
    ];
    let (mut stack, mut deepest, mut calls) = (Vec::<bool>::new(), 0usize, 0usize);
    let mut word = String::new();
    let (mut prev_word, mut ended) = (false, false);
    for c in normalized.chars() {
        match c {
            '(' => {
                let call = prev_word && !NOT_CALLS.contains(&word.to_ascii_lowercase().as_str());
                stack.push(call);
                if call {
                    calls += 1;
                    deepest = deepest.max(calls);
                }
                prev_word = false;
                word.clear();
            }
            ')' => {
                if stack.pop() == Some(true) {
                    calls = calls.saturating_sub(1);
                }
                prev_word = false;
                word.clear();
            }
            // A space ends the word, but a name followed by spaces and `(` is still a call.
            c if c.is_whitespace() => ended = true,
            c if c.is_alphanumeric() || c == '_' || c == '"' || c == '`' => {
                if !prev_word || ended {
                    word.clear();
                }
                ended = false;
                if word.len() < 16 {
                    word.push(c);
                }
                prev_word = true;
            }
            _ => {
                prev_word = false;
                word.clear();
            }
        }
    }
    deepest
}

fn build(
    dialect: Dialect,
    text: &str,
    scanned: &normalize::Scanned,
    fingerprint: u64,
    too_long: Option<usize>,
) -> Analysis {
    let mut a = Analysis {
        fingerprint: hex16(fingerprint),
        statement_count: scanned.statements,
        ..Analysis::default()
    };
    let deep = too_long.is_none() && nesting(&scanned.normalized) > DEEP_NESTING;
    let calls = call_nesting(&scanned.normalized);
    let parsed = match too_long {
        Some(limit) => Err(SqlError::TooLong(limit)),
        None if calls > MAX_CALL_NESTING => Err(SqlError::NestedCalls(MAX_CALL_NESTING)),
        None if scanned.statements == 0 => Ok(Parsed::default()),
        None if scanned.operators > DEEP_OPERATORS || deep => parse_on_big_stack(dialect, text),
        None => parse_and_walk(dialect, text),
    };
    match parsed {
        Ok(p) => {
            let c = p.collected;
            a.kind = p.kinds.first().cloned().unwrap_or_default();
            a.kinds = p.kinds;
            a.statement_count = p.count;
            a.has_where = c.dml_where.unwrap_or(c.any_where);
            a.tables = c.tables.into_iter().collect();
            a.columns_read = c.read.into_iter().collect();
            a.columns_written = c.written.into_iter().collect();
            a.star = c.star.into_iter().collect();
            a.unresolved_columns = c.unresolved.into_iter().collect();
        }
        Err(e) => {
            // Without the token it failed on: the message is cached per fingerprint.
            a.parse_error = Some(crate::redact::parse_error(&e.to_string()));
            // Texts too long or too deep to parse are not parsed piecewise either.
            // Nor are texts whose calls nest too deep: no piece of them goes to the parser.
            let parse = too_long.is_none()
                && scanned.operators <= DEEP_OPERATORS
                && !deep
                && calls <= MAX_CALL_NESTING;
            let r = fallback::recover(dialect, &scanned.normalized, parse);
            a.kinds = r.kinds;
            a.tables = r.tables.into_iter().collect();
            a.kind = a.kinds.first().cloned().unwrap_or_default();
            if !a.kinds.is_empty() {
                a.statement_count = a.kinds.len();
            }
        }
    }
    // MySQL's `DUAL` is no table.
    if dialect == Dialect::MySql {
        a.tables.retain(|t| t != "dual");
    }
    a.redacted_text = scanned.normalized.clone();
    a
}

/// What parsing and walking a text produced.
#[derive(Debug, Default)]
struct Parsed {
    kinds: Vec<String>,
    count: usize,
    collected: resolve::Collected,
}

/// Parse steps (expression starts and operator lookaheads, see [`dialect::Fast`]) allowed per
/// byte of text, above a floor. No statement of the committed corpora (or prefix of one) needs
/// more than one step per byte; the inputs that make sqlparser backtrack exponentially need
/// hundreds of thousands for a hundred bytes.
const PARSE_STEPS_PER_BYTE: u64 = 8;
const PARSE_STEPS_FLOOR: u64 = 1024;

fn parse_budget(len: usize) -> u64 {
    PARSE_STEPS_FLOOR.saturating_add(PARSE_STEPS_PER_BYTE.saturating_mul(len as u64))
}

fn parse_with(dialect: Dialect, text: &str) -> Result<Vec<Statement>, SqlError> {
    fn run<D: sqlparser::dialect::Dialect>(d: D, text: &str) -> Result<Vec<Statement>, SqlError> {
        let fast = dialect::Fast::new(d, parse_budget(text.len()));
        match Parser::parse_sql(&fast, text) {
            Ok(stmts) => Ok(stmts),
            Err(_) if fast.exhausted() => Err(SqlError::TooComplex),
            Err(e) => Err(SqlError::Parse(e.to_string())),
        }
    }
    match dialect {
        Dialect::Postgres => run(PostgreSqlDialect {}, text),
        Dialect::MySql => run(MySqlDialect {}, text),
    }
}

fn parse_sql(dialect: Dialect, text: &str) -> Result<Vec<Statement>, SqlError> {
    // MySQL: executable comments are SQL to the server; `--` followed by a line break is a
    // comment to the server but not to sqlparser; and modifiers sqlparser does not know
    // (`SQL_NO_CACHE`, `WITH ROLLUP`, ...) would be misread (`SELECT SQL_NO_CACHE id` parses as
    // a column aliased `id`) or rejected; they name no table or column.
    let rewritten = match dialect {
        Dialect::MySql => {
            let mut current = fallback::mysql_unwrap(text);
            for rewrite in [fallback::mysql_dash_comments, fallback::mysql_relaxed] {
                if let Some(next) = rewrite(current.as_deref().unwrap_or(text)) {
                    current = Some(next);
                }
            }
            current
        }
        Dialect::Postgres => None,
    };
    let text = rewritten.as_deref().unwrap_or(text);
    match parse_with(dialect, text) {
        Ok(stmts) => Ok(stmts),
        // sqlparser wants `COPY ... FROM STDIN` followed by `;` and the data, but on the wire the
        // statement comes alone (the data follows in CopyData messages).
        Err(e @ SqlError::Parse(_)) if dialect == Dialect::Postgres && is_copy_from_stdin(text) => {
            parse_with(dialect, &format!("{text};")).map_err(|_| e)
        }
        Err(e) => Err(e),
    }
}

fn is_copy_from_stdin(text: &str) -> bool {
    let t = text.trim_start();
    t.get(..4).is_some_and(|k| k.eq_ignore_ascii_case("copy"))
        && t.to_ascii_lowercase().contains("stdin")
}

fn parse_and_walk(dialect: Dialect, text: &str) -> Result<Parsed, SqlError> {
    let result = catch_unwind(|| {
        let stmts = parse_sql(dialect, text)?;
        let mut collected = resolve::Collected::default();
        for s in &stmts {
            collected.statement(s);
        }
        Ok(Parsed {
            kinds: stmts.iter().map(resolve::statement_kind).collect(),
            count: stmts.len(),
            collected,
        })
    });
    result.unwrap_or(Err(SqlError::Internal))
}

fn parse_on_big_stack(dialect: Dialect, text: &str) -> Result<Parsed, SqlError> {
    let stack = text.len().saturating_mul(1024).clamp(16 << 20, 128 << 20);
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("dbgov-sql-deep".to_string())
            .stack_size(stack)
            .spawn_scoped(scope, || parse_and_walk(dialect, text))
        {
            Ok(handle) => handle.join().unwrap_or(Err(SqlError::Internal)),
            Err(_) => Err(SqlError::TooComplex),
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn pg(text: &str) -> Arc<Analysis> {
        Analyzer::new(AnalyzerConfig::default())
            .analyze(Dialect::Postgres, text)
            .0
    }

    fn my(text: &str) -> Arc<Analysis> {
        Analyzer::new(AnalyzerConfig::default())
            .analyze(Dialect::MySql, text)
            .0
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn hex16_is_lowercase_padded_hex() {
        for v in [0u64, 1, 0xabc, u64::MAX, 0x0123_4567_89ab_cdef] {
            assert_eq!(hex16(v), format!("{v:016x}"));
        }
    }

    #[test]
    fn analyzer_is_send() {
        fn send<T: Send>() {}
        send::<Analyzer>();
        send::<Arc<Analysis>>();
    }

    #[test]
    fn pgbench_update() {
        let a = pg("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 5;");
        assert_eq!(a.kind, "UPDATE");
        assert_eq!(a.tables, v(&["pgbench_accounts"]));
        assert_eq!(
            a.columns_read,
            v(&["pgbench_accounts.abalance", "pgbench_accounts.aid"])
        );
        assert_eq!(a.columns_written, v(&["pgbench_accounts.abalance"]));
        assert!(a.has_where);
        assert_eq!(
            a.redacted_text,
            "update pgbench_accounts set abalance = abalance + ? where aid = ?"
        );
        assert_eq!(a.fingerprint.len(), 16);
        assert!(a
            .fingerprint
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(a.parse_error, None);
        assert_eq!(a.statement_count, 1);
    }

    #[test]
    fn pgbench_select_and_insert() {
        let a = pg("SELECT abalance FROM pgbench_accounts WHERE aid = 5;");
        assert_eq!(a.kind, "SELECT");
        assert_eq!(
            a.columns_read,
            v(&["pgbench_accounts.abalance", "pgbench_accounts.aid"])
        );
        assert!(a.has_where);
        let mut an = Analyzer::new(AnalyzerConfig::default());
        let (a, lits) = an.analyze(
            Dialect::Postgres,
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, CURRENT_TIMESTAMP);",
        );
        assert_eq!(a.kind, "INSERT");
        assert_eq!(a.tables, v(&["pgbench_history"]));
        assert_eq!(
            a.columns_written,
            v(&[
                "pgbench_history.aid",
                "pgbench_history.bid",
                "pgbench_history.delta",
                "pgbench_history.mtime",
                "pgbench_history.tid"
            ])
        );
        assert!(a.columns_read.is_empty());
        assert!(a.unresolved_columns.is_empty());
        assert!(!a.has_where);
        assert_eq!(lits, v(&["1", "2", "3", "4"]));
        assert_eq!(
            a.redacted_text,
            "insert into pgbench_history(tid, bid, aid, delta, mtime) values (?, ?, ?, ?, current_timestamp)"
        );
    }

    #[test]
    fn sysbench_statements() {
        let a = my("SELECT c FROM sbtest1 WHERE id=?");
        assert_eq!(a.columns_read, v(&["sbtest1.c", "sbtest1.id"]));
        assert_eq!(a.redacted_text, "select c from sbtest1 where id = ?");
        let a = my("SELECT DISTINCT c FROM sbtest3 WHERE id BETWEEN ? AND ? ORDER BY c");
        assert_eq!(a.columns_read, v(&["sbtest3.c", "sbtest3.id"]));
        let a = my("SELECT SUM(k) FROM sbtest2 WHERE id BETWEEN 10 AND 109");
        assert_eq!(a.columns_read, v(&["sbtest2.id", "sbtest2.k"]));
        let a = my("UPDATE sbtest1 SET k=k+1 WHERE id=?");
        assert_eq!(a.columns_written, v(&["sbtest1.k"]));
        assert_eq!(a.columns_read, v(&["sbtest1.id", "sbtest1.k"]));
        let a = my("DELETE FROM sbtest1 WHERE id=5");
        assert_eq!(a.kind, "DELETE");
        assert!(a.has_where);
        assert_eq!(a.columns_read, v(&["sbtest1.id"]));
        let a = my("INSERT INTO sbtest1 (id, k, c, pad) VALUES (?, ?, ?, ?)");
        assert_eq!(
            a.columns_written,
            v(&["sbtest1.c", "sbtest1.id", "sbtest1.k", "sbtest1.pad"])
        );
        assert_eq!(my("BEGIN").kind, "BEGIN");
        assert_eq!(my("COMMIT").kind, "COMMIT");
    }

    #[test]
    fn join_with_aliases() {
        let a = pg(
            "SELECT u.email, o.total FROM public.users u JOIN orders o ON o.user_id = u.id \
             WHERE u.id = $1 ORDER BY o.created_at",
        );
        assert_eq!(a.tables, v(&["orders", "public.users"]));
        assert_eq!(
            a.columns_read,
            v(&[
                "orders.created_at",
                "orders.total",
                "orders.user_id",
                "public.users.email",
                "public.users.id"
            ])
        );
        assert!(a.unresolved_columns.is_empty());
        // Bare columns with two tables in scope cannot be tied to one table.
        let a = pg("SELECT email, total FROM users, orders WHERE users.id = orders.user_id");
        assert_eq!(a.unresolved_columns, v(&["email", "total"]));
        assert_eq!(a.columns_read, v(&["orders.user_id", "users.id"]));
        // Unaliased qualified table referenced by its last part.
        let a = pg("SELECT users.email FROM public.users");
        assert_eq!(a.columns_read, v(&["public.users.email"]));
    }

    #[test]
    fn star_selections() {
        let a = pg("SELECT * FROM users");
        assert_eq!(a.star, v(&["users"]));
        let a = pg("SELECT u.*, o.id FROM users u JOIN orders o ON o.uid = u.id");
        assert_eq!(a.star, v(&["users"]));
        assert_eq!(a.columns_read, v(&["orders.id", "orders.uid", "users.id"]));
        let a = pg("SELECT count(*) FROM users");
        assert!(a.star.is_empty());
    }

    #[test]
    fn ctes_are_not_tables() {
        let a = pg("WITH recent AS (SELECT id, email FROM users WHERE created > now() - interval '1 day') \
             SELECT r.email FROM recent r JOIN orders ON orders.uid = r.id");
        assert_eq!(a.kind, "SELECT");
        assert_eq!(a.tables, v(&["orders", "users"]));
        assert_eq!(
            a.columns_read,
            v(&["orders.uid", "users.created", "users.email", "users.id"])
        );
        let a = pg("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 10) SELECT n FROM t");
        assert!(a.tables.is_empty());
        let a = pg("WITH d AS (DELETE FROM sessions RETURNING id) SELECT count(*) FROM d");
        assert_eq!(a.tables, v(&["sessions"]));
        assert!(!a.has_where);
        let a = pg("WITH x AS (SELECT 1) DELETE FROM sessions WHERE id IN (SELECT * FROM x)");
        assert_eq!(a.kind, "DELETE");
        assert!(a.has_where);
    }

    #[test]
    fn subqueries_have_their_own_scope() {
        let a = pg("SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE total > 100)");
        assert_eq!(a.tables, v(&["customers", "orders"]));
        assert_eq!(
            a.columns_read,
            v(&[
                "customers.id",
                "customers.name",
                "orders.customer_id",
                "orders.total"
            ])
        );
        let a = pg("SELECT s.n FROM (SELECT count(*) AS n FROM users) s");
        assert_eq!(a.tables, v(&["users"]));
        assert!(a.columns_read.is_empty());
        assert!(a.unresolved_columns.is_empty());
        // Correlated reference to an outer alias.
        let a = pg(
            "SELECT c.id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.cid = c.id)",
        );
        assert_eq!(a.columns_read, v(&["customers.id", "orders.cid"]));
        // Bare column of a derived table cannot be tied to a real table.
        let a = pg("SELECT email FROM (SELECT * FROM users) s");
        assert_eq!(a.star, v(&["users"]));
        assert_eq!(a.unresolved_columns, v(&["email"]));
        // Projection aliases in ORDER BY are not columns.
        let a = pg("SELECT a + b AS total FROM t ORDER BY total");
        assert_eq!(a.columns_read, v(&["t.a", "t.b"]));
        assert!(a.unresolved_columns.is_empty());
    }

    #[test]
    fn returning_update_from_and_upsert() {
        let a =
            pg("UPDATE users SET email = $1, updated = now() WHERE id = $2 RETURNING id, email");
        assert_eq!(a.columns_written, v(&["users.email", "users.updated"]));
        assert_eq!(a.columns_read, v(&["users.email", "users.id"]));
        let a = pg("UPDATE accounts a SET balance = a.balance - t.amount FROM transfers t WHERE t.src = a.id");
        assert_eq!(a.tables, v(&["accounts", "transfers"]));
        assert_eq!(a.columns_written, v(&["accounts.balance"]));
        assert_eq!(
            a.columns_read,
            v(&[
                "accounts.balance",
                "accounts.id",
                "transfers.amount",
                "transfers.src"
            ])
        );
        let a = pg("INSERT INTO users (id, email) VALUES (1, 'a@b.c') \
             ON CONFLICT (id) DO UPDATE SET email = excluded.email RETURNING *");
        assert_eq!(a.columns_written, v(&["users.email", "users.id"]));
        assert_eq!(a.columns_read, v(&["users.id"]));
        assert_eq!(a.star, v(&["users"]));
        let a = my("INSERT INTO t (a, b) VALUES (1, 2) ON DUPLICATE KEY UPDATE b = b + 1");
        assert_eq!(a.columns_written, v(&["t.a", "t.b"]));
        assert_eq!(a.columns_read, v(&["t.b"]));
        let a = pg("INSERT INTO archive (id, body) SELECT id, body FROM posts WHERE old");
        assert_eq!(a.tables, v(&["archive", "posts"]));
        assert_eq!(a.columns_read, v(&["posts.body", "posts.id", "posts.old"]));
        assert_eq!(a.columns_written, v(&["archive.body", "archive.id"]));
    }

    #[test]
    fn where_presence() {
        assert!(!pg("DELETE FROM users").has_where);
        assert!(!pg("UPDATE users SET active = false").has_where);
        assert!(
            !pg("UPDATE users SET score = (SELECT max(s) FROM scores WHERE scores.uid = 1)")
                .has_where
        );
        assert!(pg("DELETE FROM users WHERE id = 1").has_where);
        assert!(!pg("SELECT * FROM users").has_where);
        assert!(pg("SELECT * FROM users WHERE id = 1").has_where);
        let a = pg("DELETE FROM a WHERE id = 1; DELETE FROM b");
        assert_eq!(a.kinds, v(&["DELETE", "DELETE"]));
        assert!(!a.has_where);
    }

    #[test]
    fn ddl_kinds_and_tables() {
        let a = pg("DROP TABLE IF EXISTS users, audit.log CASCADE");
        assert_eq!(a.kind, "DROP TABLE");
        assert_eq!(a.tables, v(&["audit.log", "users"]));
        let a = pg("DROP DATABASE prod_main");
        assert_eq!(a.kind, "DROP DATABASE");
        assert!(a.tables.is_empty());
        assert_eq!(pg("DROP SCHEMA s CASCADE").kind, "DROP SCHEMA");
        assert_eq!(pg("DROP INDEX users_email_idx").kind, "DROP INDEX");
        assert_eq!(pg("DROP VIEW v").kind, "DROP VIEW");
        let a = pg("TRUNCATE TABLE users, orders");
        assert_eq!(a.kind, "TRUNCATE");
        assert_eq!(a.tables, v(&["orders", "users"]));
        let a = pg("CREATE TABLE t (id int primary key, email text)");
        assert_eq!(a.kind, "CREATE TABLE");
        assert_eq!(a.tables, v(&["t"]));
        let a = pg("ALTER TABLE users ADD COLUMN phone text");
        assert_eq!(a.kind, "ALTER TABLE");
        assert_eq!(a.tables, v(&["users"]));
        let a = pg("CREATE UNIQUE INDEX i ON users (email)");
        assert_eq!(a.kind, "CREATE INDEX");
        assert_eq!(a.tables, v(&["users"]));
        let a = my("DROP DATABASE shop");
        assert_eq!(a.kind, "DROP DATABASE");
        let a = my("USE shop");
        assert_eq!(a.kind, "USE");
        assert!(a.tables.is_empty());
        let a = my("TRUNCATE TABLE `Orders`");
        assert_eq!(a.tables, v(&["Orders"]));
        let a = my("RENAME TABLE a TO b");
        assert_eq!(a.kind, "RENAME TABLE");
        assert_eq!(a.tables, v(&["a", "b"]));
        let a = my("REPLACE INTO t (a) VALUES (1)");
        assert_eq!(a.kind, "REPLACE");
        assert_eq!(a.columns_written, v(&["t.a"]));
        let a = my("INSERT INTO t SET a = 1, b = 'x'");
        assert_eq!(a.columns_written, v(&["t.a", "t.b"]));
        let a = my("UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.b");
        assert_eq!(a.tables, v(&["t1", "t2"]));
        assert_eq!(a.columns_written, v(&["t1.a"]));
        assert!(!a.has_where);
        let a = my("DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id WHERE t2.x = 1");
        assert_eq!(a.tables, v(&["t1", "t2"]));
        assert!(a.has_where);
        assert_eq!(pg("CREATE ROLE bob LOGIN").kind, "CREATE ROLE");
        assert_eq!(pg("DROP ROLE bob").kind, "DROP ROLE");
        assert_eq!(my("DROP USER bob").kind, "DROP USER");
        assert_eq!(
            my("CREATE USER 'bob'@'%' IDENTIFIED BY 'pw'").kind,
            "CREATE USER"
        );
        assert_eq!(my("GRANT ALL ON shop.* TO 'bob'@'%'").kind, "GRANT");
    }

    #[test]
    fn misc_kinds() {
        assert_eq!(pg("SET search_path = public").kind, "SET");
        assert_eq!(pg("SHOW server_version").kind, "SHOW");
        assert_eq!(my("SHOW TABLES").kind, "SHOW");
        assert_eq!(pg("BEGIN").kind, "BEGIN");
        assert_eq!(pg("START TRANSACTION").kind, "BEGIN");
        assert_eq!(pg("ROLLBACK").kind, "ROLLBACK");
        assert_eq!(pg("LISTEN chan").kind, "LISTEN");
        let a = pg("COPY users (id, email) TO STDOUT");
        assert_eq!(a.kind, "COPY");
        assert_eq!(a.columns_read, v(&["users.email", "users.id"]));
        let a = pg("COPY users FROM STDIN");
        assert_eq!(a.tables, v(&["users"]));
        let a = pg("EXPLAIN SELECT email FROM users");
        assert_eq!(a.kind, "EXPLAIN");
        assert_eq!(a.columns_read, v(&["users.email"]));
        assert_eq!(pg("").kind, "");
        assert_eq!(pg("  ;  -- nothing\n").statement_count, 0);
    }

    #[test]
    fn mysql_backticks_and_quoting() {
        let a = my("SELECT `u`.`Email`, name FROM `shop`.`Users` AS `u` WHERE `u`.id = 7");
        assert_eq!(a.tables, v(&["shop.Users"]));
        assert_eq!(
            a.columns_read,
            v(&["shop.Users.Email", "shop.Users.id", "shop.Users.name"])
        );
        let a = pg("SELECT \"Email\" FROM \"Users\" WHERE ID = 1");
        assert_eq!(a.tables, v(&["Users"]));
        assert_eq!(a.columns_read, v(&["Users.Email", "Users.id"]));
        let a = pg("SELECT EMAIL FROM PUBLIC.USERS");
        assert_eq!(a.tables, v(&["public.users"]));
        assert_eq!(a.columns_read, v(&["public.users.email"]));
    }

    #[test]
    fn placeholders_kept_literals_returned() {
        let mut an = Analyzer::new(AnalyzerConfig::default());
        let (a, lits) = an.analyze(
            Dialect::Postgres,
            "SELECT * FROM users WHERE email = 'bob@example.com' AND id = $1 AND active = TRUE AND x IS NULL",
        );
        assert_eq!(
            a.redacted_text,
            "select * from users where email = ? and id = $1 and active = true and x is null"
        );
        assert_eq!(lits, v(&["bob@example.com"]));
        let (a, lits) = an.analyze(
            Dialect::MySql,
            "SELECT * FROM t WHERE a = ? AND b = 'x''y' AND c = 4111111111111111",
        );
        assert_eq!(
            a.redacted_text,
            "select * from t where a = ? and b = ? and c = ?"
        );
        assert_eq!(lits, v(&["x'y", "4111111111111111"]));
    }

    #[test]
    fn cache_shares_fingerprints() {
        let mut an = Analyzer::new(AnalyzerConfig::default());
        let (a1, l1) = an.analyze(
            Dialect::Postgres,
            "SELECT abalance FROM pgbench_accounts WHERE aid = 5;",
        );
        let (a2, l2) = an.analyze(
            Dialect::Postgres,
            "select   abalance\nFROM pgbench_accounts  WHERE aid=91234",
        );
        assert!(Arc::ptr_eq(&a1, &a2));
        assert_eq!(l1, v(&["5"]));
        assert_eq!(l2, v(&["91234"]));
        assert_eq!(
            an.stats(),
            CacheStats {
                hits: 1,
                misses: 1,
                entries: 1
            }
        );
        // Same text in the other dialect is a different cache entry.
        let (a3, _) = an.analyze(
            Dialect::MySql,
            "SELECT abalance FROM pgbench_accounts WHERE aid = 5",
        );
        assert_eq!(a3.fingerprint, a1.fingerprint);
        assert_eq!(an.stats().misses, 2);
        // A different statement is a different fingerprint.
        let (a4, _) = an.analyze(
            Dialect::Postgres,
            "SELECT bbalance FROM pgbench_branches WHERE bid = 5",
        );
        assert_ne!(a4.fingerprint, a1.fingerprint);
        assert_eq!(an.stats().misses, 3);
    }

    #[test]
    fn repeated_texts_without_literals_are_answered_as_sent() {
        let mut an = Analyzer::new(AnalyzerConfig::default());
        let text = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;";
        let first = an.analyze_text(Dialect::Postgres, text);
        let again = an.analyze_text(Dialect::Postgres, text);
        assert!(Arc::ptr_eq(&first.analysis, &again.analysis));
        assert_eq!(again.text, first.text);
        assert_eq!(again.text, text);
        // The text shown is shared with the cache, not copied per statement.
        match (&first.text, &again.text) {
            (Shown::Shared(a), Shown::Shared(b)) => assert!(Arc::ptr_eq(a, b)),
            other => panic!("not shared: {other:?}"),
        }
        assert!(again.literals.is_empty());
        assert_eq!(an.stats().hits, 1);
        assert_eq!(an.stats().misses, 1);
        // The same bytes in the other dialect are analysed for that dialect.
        let my = an.analyze_text(Dialect::MySql, text);
        assert_eq!(an.stats().misses, 2);
        assert!(!Arc::ptr_eq(&my.analysis, &first.analysis));
        // A text with a literal still gives this call's literal, and a comment its own tags.
        for (i, lit) in ["5", "6"].into_iter().enumerate() {
            let t = format!("SELECT abalance FROM pgbench_accounts WHERE aid = {lit}");
            let a = an.analyze_text(Dialect::Postgres, &t);
            assert_eq!(a.literals, v(&[lit]), "call {i}");
            assert_eq!(
                a.text,
                "SELECT abalance FROM pgbench_accounts WHERE aid = ?"
            );
        }
        for span in ["a", "b"] {
            let t = format!("SELECT a FROM t /*span_id='{span}'*/");
            let a = an.analyze_text(Dialect::Postgres, &t);
            assert_eq!(a.tags.0.get("span_id").map(String::as_str), Some(span));
            assert_eq!(a.text, "SELECT a FROM t /* ? */");
        }
        // A cut text is never answered from the exact cache.
        let mut small = Analyzer::new(AnalyzerConfig {
            max_statement_bytes: 10,
            ..AnalyzerConfig::default()
        });
        let long = "SELECT a, b, c FROM t WHERE x = $1";
        let one = small.analyze_text(Dialect::Postgres, long);
        let two = small.analyze_text(Dialect::Postgres, long);
        assert_eq!(one.text, two.text);
        assert!(small.exact.is_empty());
    }

    #[test]
    fn lru_eviction() {
        let mut an = Analyzer::new(AnalyzerConfig {
            cache_entries: 2,
            ..AnalyzerConfig::default()
        });
        for t in [
            "SELECT a FROM t",
            "SELECT b FROM t",
            "SELECT c FROM t",
            "SELECT a FROM t",
        ] {
            an.analyze(Dialect::Postgres, t);
        }
        assert_eq!(an.stats().misses, 4);
        assert_eq!(an.stats().entries, 2);
        let mut zero = Analyzer::new(AnalyzerConfig {
            cache_entries: 0,
            ..AnalyzerConfig::default()
        });
        zero.analyze(Dialect::Postgres, "SELECT 1");
        zero.analyze(Dialect::Postgres, "SELECT 2");
        assert_eq!(zero.stats().hits, 1);
    }

    #[test]
    fn keep_literals_fills_text_per_call() {
        let mut an = Analyzer::new(AnalyzerConfig {
            keep_literals: true,
            ..AnalyzerConfig::default()
        });
        let (a1, _) = an.analyze(Dialect::Postgres, "SELECT 1 FROM t WHERE x = 'a'");
        let (a2, _) = an.analyze(Dialect::Postgres, "SELECT 2 FROM t WHERE x = 'b'");
        assert_eq!(a1.redacted_text, "SELECT 1 FROM t WHERE x = 'a'");
        assert_eq!(a2.redacted_text, "SELECT 2 FROM t WHERE x = 'b'");
        assert_eq!(a1.fingerprint, a2.fingerprint);
        assert_eq!(an.stats().hits, 1);
    }

    #[test]
    fn unparseable_text() {
        let a = pg("SELEC * FROM users");
        assert!(a.parse_error.is_some());
        assert_eq!(a.kind, "UNKNOWN");
        let a = pg("SELECT * FROM WHERE users ((");
        assert!(a.parse_error.is_some());
        assert_eq!(a.kind, "SELECT");
        assert!(a.tables.is_empty());
        assert!(a.columns_read.is_empty());
        let a = pg("DROP TABLE users RESTRICT CASCADE nonsense here");
        assert!(a.parse_error.is_some());
        assert_eq!(a.kind, "DROP TABLE");
        let a = pg("CREATE OR REPLACE TEMPORARY VIEW v AS SELEC 1");
        assert_eq!(a.kind, "CREATE VIEW");
        let a = pg("WITH x AS (SELECT 1) DELETE FROM t WHERE (((");
        assert_eq!(a.kind, "DELETE");
        assert_eq!(pg("hello world").kind, "UNKNOWN");
    }

    #[test]
    fn binary_junk_never_panics() {
        let mut an = Analyzer::new(AnalyzerConfig::default());
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..300usize {
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push((seed >> 24) as u8);
            }
            let text = String::from_utf8_lossy(&bytes);
            for d in [Dialect::Postgres, Dialect::MySql] {
                let (a, _) = an.analyze(d, &text);
                assert_eq!(a.fingerprint.len(), 16);
            }
        }
        // SQL-ish junk built from SQL punctuation and keywords.
        let parts = [
            "'", "\"", "`", "$", "$$", "$a$", "(", ")", "--", "/*", "*/", "#", ";", "?", "$1",
            "select", "from", "where", "e'", "\\", "::", ".", "1.5e", "0x", "@", "/*!", "U&'",
        ];
        for i in 0..2000usize {
            let mut text = String::new();
            let mut k = i;
            for _ in 0..8 {
                text.push_str(parts[k % parts.len()]);
                text.push(' ');
                k = k / parts.len() + i * 7 + 3;
            }
            an.analyze(Dialect::Postgres, &text);
            an.analyze(Dialect::MySql, &text);
        }
    }

    #[test]
    fn overlong_statement_not_parsed() {
        let mut an = Analyzer::new(AnalyzerConfig {
            max_statement_bytes: 64,
            ..AnalyzerConfig::default()
        });
        let long = format!("SELECT {} FROM users WHERE id = 1", "é, ".repeat(40));
        let (a, _) = an.analyze(Dialect::Postgres, &long);
        assert_eq!(
            a.parse_error.as_deref(),
            Some("statement exceeds 64 bytes; not parsed")
        );
        assert_eq!(a.kind, "SELECT");
        assert!(a.tables.is_empty());
        assert_eq!(a.fingerprint.len(), 16);
        // The fingerprint covers the prefix only.
        let longer = format!("{long} AND more = 2");
        let (b, _) = an.analyze(Dialect::Postgres, &longer);
        assert_eq!(a.fingerprint, b.fingerprint);
        // A short statement equal to the prefix is a different entry (it is parsed).
        let (c, _) = an.analyze(Dialect::Postgres, "SELECT 1");
        assert!(c.parse_error.is_none());
    }

    #[test]
    fn overlong_statement_text_is_redacted_to_its_end() {
        // The analysed head ends inside a long literal: neither the head's part nor the tail
        // of that literal, nor a later literal, may show.
        let mut an = Analyzer::new(AnalyzerConfig {
            max_statement_bytes: 64,
            ..AnalyzerConfig::default()
        });
        let long = format!(
            "INSERT INTO big VALUES ('{}', 'ann@example.com', 42)",
            "y".repeat(500)
        );
        let a = an.analyze_text(Dialect::MySql, &long);
        assert_eq!(a.text, "INSERT INTO big VALUES (?, ?, ?)");
    }

    #[test]
    fn deep_nesting_does_not_overflow_a_small_stack() {
        // sqlparser recurses per nested subquery, EXPLAIN, CASE and NOT; analysis must survive
        // them on a thread with a 2 MiB stack (a tokio worker's), also in a debug build.
        let texts = [
            format!("{}select * from t", "explain ".repeat(60)),
            format!("select {}1{}", "(select ".repeat(60), ")".repeat(60)),
            format!(
                "select * from {}t{}",
                "(select * from ".repeat(60),
                ") x".repeat(60)
            ),
            format!(
                "{}select 1{}",
                "(select 1 union ".repeat(60),
                ")".repeat(60)
            ),
            format!("{}select 1", "insert into t ".repeat(60)),
            format!(
                "select {}1{}",
                "case when true then ".repeat(60),
                " end".repeat(60)
            ),
            format!("select {}1", "not ".repeat(3000)),
            format!("select {}1{}", "exists (select ".repeat(60), ")".repeat(60)),
        ];
        let handle = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let mut an = Analyzer::new(AnalyzerConfig::default());
                for t in &texts {
                    for d in [Dialect::Postgres, Dialect::MySql] {
                        let (a, _) = an.analyze(d, t);
                        assert!(!a.kind.is_empty(), "{t}");
                    }
                }
            })
            .unwrap();
        handle.join().unwrap();
        assert!(nesting("select a from t where b in (select c from u)") <= DEEP_NESTING);
    }

    #[test]
    fn deep_expressions_do_not_overflow_the_stack() {
        let mut t = String::from("SELECT 1 FROM t WHERE a = 1");
        while t.len() < 60_000 {
            t.push_str(" OR a = 1");
        }
        let mut an = Analyzer::new(AnalyzerConfig::default());
        let (a, _) = an.analyze(Dialect::Postgres, &t);
        assert_eq!(a.parse_error, None);
        assert_eq!(a.columns_read, v(&["t.a"]));
        let nested = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        let (a, _) = an.analyze(Dialect::Postgres, &nested);
        assert!(a.parse_error.is_some());
        assert_eq!(a.kind, "SELECT");
    }

    #[test]
    fn multi_statement_text() {
        let mut an = Analyzer::new(AnalyzerConfig::default());
        let (a, lits) = an.analyze(
            Dialect::Postgres,
            "BEGIN; UPDATE t SET x = 1 WHERE id = 2; SELECT y FROM u; COMMIT;",
        );
        assert_eq!(a.kind, "BEGIN");
        assert_eq!(a.kinds, v(&["BEGIN", "UPDATE", "SELECT", "COMMIT"]));
        assert_eq!(a.statement_count, 4);
        assert_eq!(a.tables, v(&["t", "u"]));
        assert_eq!(a.columns_written, v(&["t.x"]));
        assert_eq!(a.columns_read, v(&["t.id", "u.y"]));
        assert!(a.has_where);
        assert_eq!(lits, v(&["1", "2"]));
        assert_eq!(
            a.redacted_text,
            "begin; update t set x = ? where id = ?; select y from u; commit"
        );
        let (a, _) = an.analyze(Dialect::MySql, "SELECT 1; DROP TABLE users");
        assert_eq!(a.kinds, v(&["SELECT", "DROP TABLE"]));
        assert_eq!(a.tables, v(&["users"]));
        let (a, _) = an.analyze(Dialect::MySql, "SELECT 1; DROP TABLE users garbage garbage");
        assert!(a.parse_error.is_some());
        assert_eq!(a.kinds, v(&["SELECT", "DROP TABLE"]));
        assert_eq!(a.statement_count, 2);
    }

    #[test]
    fn comments_are_redacted_like_literals() {
        let mut an = Analyzer::new(AnalyzerConfig::default());
        let a = an.analyze_text(
            Dialect::Postgres,
            "/* email='ann@example.com' */ SELECT 1 -- ssn 123-45-6789\nFROM t WHERE a = 'x' /*action='y'",
        );
        assert_eq!(a.text, "/* ? */ SELECT ? -- ?\nFROM t WHERE a = ? /* ? */");
        let a = an.analyze_text(
            Dialect::MySql,
            "SELECT /*! STRAIGHT_JOIN */ a FROM t # note='x'\n/*app='z'*/",
        );
        assert_eq!(a.text, "SELECT /*! STRAIGHT_JOIN */ a FROM t # ?\n/* ? */");
        assert_eq!(a.tags.0.get("app").map(String::as_str), Some("z"));
        // keep_literals keeps comments too.
        let mut keep = Analyzer::new(AnalyzerConfig {
            keep_literals: true,
            ..AnalyzerConfig::default()
        });
        let a = keep.analyze_text(Dialect::Postgres, "SELECT 1 /*action='list'*/");
        assert_eq!(a.text, "SELECT 1 /*action='list'*/");
        assert_eq!(a.tags.0.get("action").map(String::as_str), Some("list"));
    }
}

#[cfg(test)]
mod nesting_tests {
    use super::*;

    /// Found by the `sql_analyzer` fuzz target: 524 bytes of nested, unclosed calls kept the
    /// parser busy for minutes. Now it is reported unparsed at once.
    #[test]
    fn deeply_nested_calls_are_not_given_to_the_parser() {
        let mut a = Analyzer::new(AnalyzerConfig::default());
        for dialect in [Dialect::Postgres, Dialect::MySql] {
            let open = format!("CALL p({}", "a(N".repeat(14));
            let closed = format!("SELECT {}1{}", "a(".repeat(24), ")".repeat(24));
            // Two statements: the fallback must not hand the deep one to the parser either.
            let two = format!("SELECT 1 FROM t; SELECT {}", "a(N".repeat(14));
            for text in [open, closed, two] {
                let r = a.analyze_text(dialect, &text);
                let err = r.analysis.parse_error.clone().unwrap_or_default();
                assert!(
                    err.contains("nested deeper than"),
                    "{dialect:?} {text}: {err}"
                );
            }
        }
        assert_eq!(call_nesting("select a(b(c(1)), (2)) from t"), 3);
        assert_eq!(call_nesting("select ((((1)))) from t"), 0);
        assert_eq!(
            call_nesting("select count(*) from t where x in (select max(y) from u)"),
            1
        );
        // Real statements at the limit still parse.
        let ok = a.analyze_text(
            Dialect::Postgres,
            "SELECT round(cast(sum(coalesce(nullif(trim(x), ''), '0')::int) AS numeric), 2) FROM t",
        );
        assert!(
            ok.analysis.parse_error.is_none(),
            "{:?}",
            ok.analysis.parse_error
        );
    }

    /// Found by fuzzing: parentheses and calls nested in `FROM` made sqlparser backtrack along
    /// exponentially many paths (a 118-byte statement held a fuzzing run past its 10 s limit).
    /// The parse budget stops it after a few thousand steps; the statement is still reported,
    /// unparsed, with the reason.
    #[test]
    fn backtracking_parentheses_in_from_stop_at_the_budget() {
        let shape = |calls: usize| {
            format!(
                "SELECT count( )* FrOM((( FrOM(((E((((((((((({} LIMIT 1 ) S",
                "LMSH((((".repeat(calls)
            )
        };
        // Unbounded, the parser's work grows about fourfold per call level.
        let steps = |text: &str| {
            let d = dialect::Fast::new(PostgreSqlDialect {}, u64::MAX);
            let _ = Parser::parse_sql(&d, text);
            d.steps()
        };
        let (three, four) = (steps(&shape(3)), steps(&shape(4)));
        assert!(four > 3 * three, "{three} then {four} steps");
        assert!(four > 20 * parse_budget(shape(4).len()), "{four} steps");
        let mut a = Analyzer::new(AnalyzerConfig::default());
        for calls in 2..=5 {
            let (r, _) = a.analyze(Dialect::Postgres, &shape(calls));
            assert_eq!(
                r.parse_error.as_deref(),
                Some("statement too complex to analyse"),
                "{calls}"
            );
            assert_eq!(r.kind, "SELECT");
        }
    }
}
