//! Text-level help around sqlparser, for statements it does not take as sent.
//!
//! - [`mysql_unwrap`]: MySQL executable comments (`/*!40101 SET NAMES utf8 */`) are SQL to the
//!   server but comments to sqlparser; their markers are blanked so the content is parsed.
//! - [`mysql_relaxed`]: MySQL modifiers that sqlparser 0.59 rejects or misreads and that name
//!   no table or column (`SQL_CALC_FOUND_ROWS`, `SQL_NO_CACHE`, ..., `WITH ROLLUP`) are blanked
//!   out before parsing.
//! - [`tables_from_text`]: when a statement still does not parse (or is too long to parse), the
//!   tables named at the fixed places of simple command forms (`VACUUM t`, `REFRESH MATERIALIZED
//!   VIEW v`, `LOCK TABLE t`, `COPY t ...`, `TRUNCATE t`, `ALTER TABLE t ...`, `INSERT INTO t
//!   ...`, `CREATE INDEX i ON t`, ...) are read from the normalised text, so that an audit event
//!   still says which table an unparsed DDL or DML statement touches.
//!
//! Everything here works on any text and never panics.

/// Byte ranges `[start, end)` of the unquoted words of `text`, leaving out quoted sections and
/// comments (MySQL rules: `'`, `"`, `` ` `` quotes with backslash escapes; `#`, `-- `, `/* */`
/// comments; `/*!` is not skipped, its content is SQL).
fn mysql_words(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let n = b.len();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = at(i);
        match c {
            b'\'' | b'"' | b'`' => {
                i += 1;
                while i < n {
                    let d = at(i);
                    if d == b'\\' && c != b'`' {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if d == c {
                        if at(i) == c {
                            i += 1;
                            continue;
                        }
                        break;
                    }
                }
            }
            b'#' => {
                while i < n && at(i) != b'\n' {
                    i += 1;
                }
            }
            b'-' if at(i + 1) == b'-' && (at(i + 2) <= b' ') => {
                while i < n && at(i) != b'\n' {
                    i += 1;
                }
            }
            b'/' if at(i + 1) == b'*' && at(i + 2) != b'!' => {
                i += 2;
                while i < n && !(at(i) == b'*' && at(i + 1) == b'/') {
                    i += 1;
                }
                i += 2;
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < n && (at(i).is_ascii_alphanumeric() || at(i) == b'_' || at(i) == b'$') {
                    i += 1;
                }
                out.push((start, i));
            }
            _ if c.is_ascii_digit() => {
                while i < n && (at(i).is_ascii_alphanumeric() || at(i) == b'_') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Replaces the bytes of each range with spaces (ranges are on ASCII characters only).
fn blank(text: &str, ranges: &[(usize, usize)]) -> Option<String> {
    if ranges.is_empty() {
        return None;
    }
    let mut bytes = text.as_bytes().to_vec();
    for &(a, b) in ranges {
        for byte in bytes.get_mut(a..b).into_iter().flatten() {
            *byte = b' ';
        }
    }
    String::from_utf8(bytes).ok()
}

/// The text with MySQL executable-comment markers (`/*!`, `/*!40101`, and their `*/`) blanked;
/// `None` when it has none.
pub(crate) fn mysql_unwrap(text: &str) -> Option<String> {
    if !text.contains("/*!") {
        return None;
    }
    let b = text.as_bytes();
    let n = b.len();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut ranges = Vec::new();
    let mut in_exec = false;
    let mut i = 0;
    while i < n {
        let c = at(i);
        match c {
            b'\'' | b'"' | b'`' => {
                i += 1;
                while i < n {
                    let d = at(i);
                    if d == b'\\' && c != b'`' {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if d == c {
                        if at(i) == c {
                            i += 1;
                            continue;
                        }
                        break;
                    }
                }
            }
            b'/' if at(i + 1) == b'*' && at(i + 2) == b'!' && !in_exec => {
                let start = i;
                i += 3;
                while i < n && at(i).is_ascii_digit() {
                    i += 1;
                }
                ranges.push((start, i));
                in_exec = true;
            }
            b'/' if at(i + 1) == b'*' => {
                i += 2;
                while i < n && !(at(i) == b'*' && at(i + 1) == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'*' if at(i + 1) == b'/' && in_exec => {
                ranges.push((i, i + 2));
                in_exec = false;
                i += 2;
            }
            _ => i += 1,
        }
    }
    blank(text, &ranges)
}

/// Whether `hay` contains `needle` (lower-case ASCII), ignoring ASCII case.
fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    hay.iter().enumerate().any(|(i, &c)| {
        c.to_ascii_lowercase() == first
            && hay
                .get(i..i + needle.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

/// MySQL modifiers that sqlparser 0.59 rejects and that name no table or column.
const MYSQL_NOISE: &[&str] = &[
    "sql_big_result",
    "sql_buffer_result",
    "sql_cache",
    "sql_calc_found_rows",
    "sql_no_cache",
    "sql_small_result",
];

/// The text with [`MYSQL_NOISE`] words and `WITH ROLLUP` blanked; `None` when it has none.
pub(crate) fn mysql_relaxed(text: &str) -> Option<String> {
    // Cheap test first: every noise word starts with `sql_`, and ROLLUP is the other case.
    if !contains_ignore_ascii_case(text.as_bytes(), b"sql_")
        && !contains_ignore_ascii_case(text.as_bytes(), b"rollup")
    {
        return None;
    }
    let words = mysql_words(text);
    let word = |k: usize| {
        words
            .get(k)
            .and_then(|&(a, b)| text.get(a..b))
            .unwrap_or("")
    };
    let mut ranges = Vec::new();
    for (k, &range) in words.iter().enumerate() {
        let w = word(k);
        if MYSQL_NOISE.iter().any(|m| w.eq_ignore_ascii_case(m)) {
            ranges.push(range);
        } else if w.eq_ignore_ascii_case("rollup")
            && k >= 2
            && word(k - 1).eq_ignore_ascii_case("with")
            && !word(k + 1).eq_ignore_ascii_case("as")
        {
            let (a, _) = words.get(k - 1).copied().unwrap_or(range);
            // Only when nothing but blanks separates the two words.
            if text
                .get(a + 4..range.0)
                .is_some_and(|gap| gap.bytes().all(|c| c.is_ascii_whitespace()))
            {
                ranges.push((a, range.1));
            }
        }
    }
    blank(text, &ranges)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// Unquoted word (already lower-cased by normalisation).
    Word(String),
    /// Quoted identifier, quotes removed.
    Quoted(String),
    Punct(char),
}

/// Tokens of one normalised statement: words, quoted identifiers and single characters.
fn lex(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '"' || c == '`' {
            let mut value = String::new();
            while let Some((_, d)) = chars.next() {
                if d == c {
                    if chars.peek().is_some_and(|&(_, e)| e == c) {
                        chars.next();
                        value.push(c);
                        continue;
                    }
                    break;
                }
                value.push(d);
            }
            out.push(Tok::Quoted(value));
        } else if c.is_alphanumeric() || c == '_' || c == '@' {
            let mut w = String::from(c);
            while let Some(&(_, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' || d == '$' {
                    w.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Word(w));
        } else {
            out.push(Tok::Punct(c));
        }
    }
    out
}

/// Words skipped before a table name in the simple command forms handled here.
const SKIPPED: &[&str] = &[
    "analyze",
    "concurrently",
    "delayed",
    "disable_page_skipping",
    "exists",
    "freeze",
    "from",
    "full",
    "high_priority",
    "if",
    "ignore",
    "into",
    "local",
    "low_priority",
    "materialized",
    "no_write_to_binlog",
    "not",
    "only",
    "quick",
    "skip_locked",
    "table",
    "tables",
    "temp",
    "temporary",
    "unlogged",
    "verbose",
    "view",
];

/// Keywords that end a name list rather than being a table name (unquoted).
const NOT_NAMES: &[&str] = &[
    "as",
    "default",
    "from",
    "in",
    "on",
    "partition",
    "select",
    "set",
    "to",
    "using",
    "values",
    "where",
    "with",
];

struct Cursor {
    toks: Vec<Tok>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    /// Skips a balanced parenthesised group when one starts here.
    fn skip_parens(&mut self) {
        if !self.is_punct('(') {
            return;
        }
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            match t {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.pos += 1;
            if depth == 0 {
                return;
            }
        }
    }

    /// Skips [`SKIPPED`] words and option lists in parentheses.
    fn skip_modifiers(&mut self) {
        loop {
            match self.peek() {
                Some(Tok::Word(w)) if SKIPPED.binary_search(&w.as_str()).is_ok() => self.pos += 1,
                Some(Tok::Punct('(')) => self.skip_parens(),
                _ => return,
            }
        }
    }

    fn ident(&mut self) -> Option<String> {
        let s = match self.peek()? {
            Tok::Word(w)
                if w.starts_with(|c: char| c.is_alphabetic() || c == '_')
                    && NOT_NAMES.binary_search(&w.as_str()).is_err() =>
            {
                w.clone()
            }
            Tok::Quoted(q) => q.clone(),
            _ => return None,
        };
        self.pos += 1;
        Some(s)
    }

    /// `ident(.ident)*`
    fn name(&mut self) -> Option<String> {
        let mut name = self.ident()?;
        while self.is_punct('.') {
            self.pos += 1;
            name.push('.');
            name.push_str(&self.ident()?);
        }
        Some(name)
    }

    /// `name [*] [(...)] [, name ...]`
    fn name_list(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        while let Some(n) = self.name() {
            names.push(n);
            if self.is_punct('*') {
                self.pos += 1;
            }
            self.skip_parens();
            if !self.is_punct(',') {
                break;
            }
            self.pos += 1;
        }
        names
    }

    /// Moves past the first `on` word outside parentheses; false when there is none.
    fn past_on(&mut self) -> bool {
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            match t {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => depth = depth.saturating_sub(1),
                Tok::Word(w) if depth == 0 && w == "on" => {
                    self.pos += 1;
                    return true;
                }
                _ => {}
            }
            self.pos += 1;
        }
        false
    }
}

/// Tables named by one normalised statement of kind `kind` (from `kind_from_text`) when the
/// statement has one of the simple forms handled here; empty otherwise.
pub(crate) fn tables_from_text(kind: &str, statement: &str) -> Vec<String> {
    let mut c = Cursor {
        toks: lex(statement),
        pos: 0,
    };
    let first = match c.peek() {
        Some(Tok::Word(w)) => w.clone(),
        _ => return Vec::new(),
    };
    c.pos = 1;
    match (kind, first.as_str()) {
        // `TABLE t` is `SELECT * FROM t`.
        ("SELECT", "table")
        | ("VACUUM", _)
        | ("ANALYZE", _)
        | ("LOCK", _)
        | ("TRUNCATE", _)
        | ("OPTIMIZE", _)
        | ("REPAIR", _)
        | ("CHECKSUM", _)
        | ("REFRESH", _)
        | ("COPY", _)
        | ("INSERT", _)
        | ("REPLACE", _)
        | ("UPDATE", _)
        | ("DELETE", _) => {
            c.skip_modifiers();
            let names = c.name_list();
            // Single-table forms: only the first name is the target.
            if matches!(kind, "COPY" | "INSERT" | "REPLACE" | "UPDATE" | "DELETE") {
                names.into_iter().take(1).collect()
            } else {
                names
            }
        }
        ("ALTER TABLE", _) => {
            c.skip_modifiers();
            c.name_list().into_iter().take(1).collect()
        }
        ("CREATE TABLE", _) => {
            c.skip_modifiers();
            let mut names: Vec<String> = c.name().into_iter().collect();
            // `CREATE TABLE t LIKE s` and PostgreSQL's `CREATE TABLE t (LIKE s ...)`.
            if c.is_punct('(') {
                c.pos += 1;
            }
            if matches!(c.peek(), Some(Tok::Word(w)) if w == "like") {
                c.pos += 1;
                names.extend(c.name());
            }
            names
        }
        ("DROP TABLE" | "DROP VIEW" | "DROP MATERIALIZED VIEW", _) => {
            c.skip_modifiers();
            c.name_list()
        }
        ("CREATE INDEX" | "DROP INDEX", _) => {
            if c.past_on() {
                c.skip_modifiers();
                c.name_list().into_iter().take(1).collect()
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn skipped_words_are_sorted() {
        let mut sorted = SKIPPED.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, SKIPPED);
        let mut sorted = MYSQL_NOISE.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, MYSQL_NOISE);
        let mut sorted = NOT_NAMES.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, NOT_NAMES);
    }

    #[test]
    fn case_insensitive_contains() {
        assert!(contains_ignore_ascii_case(b"SELECT SQL_NO_CACHE", b"sql_"));
        assert!(contains_ignore_ascii_case(b"with Rollup", b"rollup"));
        assert!(!contains_ignore_ascii_case(b"SELECT sq", b"sql_"));
        assert!(!contains_ignore_ascii_case(b"", b"sql_"));
    }

    #[test]
    fn unwraps_executable_comments() {
        assert_eq!(
            mysql_unwrap("/*!40101 SET NAMES utf8 */").as_deref(),
            Some("         SET NAMES utf8   ")
        );
        assert_eq!(mysql_unwrap("SELECT '/*!' FROM t"), None);
        assert_eq!(mysql_unwrap("SELECT 1"), None);
        let t = "SELECT '/*!' /* x */ /*! STRAIGHT_JOIN */ 1";
        assert_eq!(
            mysql_unwrap(t).as_deref(),
            Some("SELECT '/*!' /* x */     STRAIGHT_JOIN    1")
        );
    }

    #[test]
    fn relaxes_mysql_modifiers() {
        assert_eq!(
            mysql_relaxed("SELECT SQL_CALC_FOUND_ROWS id FROM t GROUP BY a WITH  ROLLUP")
                .as_deref(),
            Some("SELECT                     id FROM t GROUP BY a             ")
        );
        assert_eq!(mysql_relaxed("SELECT 'sql_no_cache' FROM t"), None);
        assert_eq!(mysql_relaxed("WITH rollup AS (SELECT 1) SELECT 1"), None);
    }

    #[test]
    fn tables_of_simple_forms() {
        for (kind, text, tables) in [
            (
                "VACUUM",
                "vacuum analyze pgbench_branches",
                &["pgbench_branches"][..],
            ),
            ("VACUUM", "vacuum(verbose, analyze) a, b(x)", &["a", "b"]),
            (
                "REFRESH",
                "refresh materialized view concurrently s.mv with data",
                &["s.mv"],
            ),
            ("LOCK", "lock table only orders in share mode", &["orders"]),
            (
                "COPY",
                "copy \"T\" (a, b) from stdin with(freeze on)",
                &["T"],
            ),
            ("SELECT", "table users", &["users"]),
            ("SELECT", "select * from users", &[]),
            (
                "ALTER TABLE",
                "alter table `orders` disable keys",
                &["orders"],
            ),
            (
                "DROP TABLE",
                "drop table if exists a, b restrict cascade",
                &["a", "b"],
            ),
            (
                "CREATE TABLE",
                "create table t(like s including all)",
                &["t", "s"],
            ),
            (
                "CREATE TABLE",
                "create table if not exists t(id int) junk",
                &["t"],
            ),
            (
                "CREATE INDEX",
                "create index concurrently i on only t(a)",
                &["t"],
            ),
            ("DROP INDEX", "drop index concurrently if exists i", &[]),
            ("INSERT", "insert ignore into t(a) values (?)", &["t"]),
            ("DELETE", "delete from t where", &["t"]),
            (
                "OPTIMIZE",
                "optimize no_write_to_binlog table a, b",
                &["a", "b"],
            ),
            ("UNKNOWN", "frobnicate t", &[]),
            ("COPY", "copy (select a from t) to stdout with csv", &[]),
            ("DELETE", "delete from where", &[]),
            ("VACUUM", "vacuum", &[]),
            ("VACUUM", "", &[]),
            ("VACUUM", "vacuum \"unterminated", &["unterminated"]),
        ] {
            assert_eq!(tables_from_text(kind, text), tables, "{text}");
        }
    }
}
