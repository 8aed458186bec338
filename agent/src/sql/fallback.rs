//! Text-level help around sqlparser, for statements it does not take as sent.
//!
//! - [`mysql_unwrap`]: MySQL executable comments (`/*!40101 SET NAMES utf8 */`) are SQL to the
//!   server but comments to sqlparser; their markers are blanked so the content is parsed.
//! - [`mysql_relaxed`]: MySQL modifiers that sqlparser 0.59 rejects or misreads and that name
//!   no table or column (`SQL_CALC_FOUND_ROWS`, `SQL_NO_CACHE`, ..., `WITH ROLLUP`) are blanked
//!   out before parsing.
//! - [`recover`]: when a text still does not parse (or is too long or deep to parse), the kind
//!   and tables of each statement come from its normalised text: statements are split at `;`
//!   (outside BEGIN ... END bodies); a statement of a multi-statement text that parses on its own
//!   is analysed by sqlparser; otherwise [`statement_tables`] reads DML and queries with a scan
//!   of their FROM/JOIN/INTO/UPDATE/USING lists (leaving out CTE names and table functions) and
//!   commands at the fixed places their forms name tables (`VACUUM t`, `CLUSTER t USING i`,
//!   `CREATE TABLE p PARTITION OF t`, `ALTER TABLE t ATTACH PARTITION p`, `CREATE TRIGGER ...
//!   ON t`, `COMMENT ON COLUMN t.c`, `GRANT ... ON t`, `LOAD DATA ... INTO TABLE t`, `HANDLER
//!   t`, ...). Queries embedded in such statements (`CREATE VIEW v AS ...`, `EXPLAIN ...`,
//!   `PREPARE p AS ...`, `CREATE SCHEMA s CREATE TABLE ...`) are parsed with sqlparser when they
//!   can be, and scanned otherwise. Bodies (functions, DO blocks, triggers, events) are literals
//!   in the normalised text and so name no table.
//!
//! Everything here works on any text and never panics.

use super::{resolve, Dialect};

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

/// Tokens of one normalised statement (words, quoted identifiers and single characters), each
/// with its byte offset in the statement.
fn lex(text: &str) -> (Vec<Tok>, Vec<usize>) {
    let mut out = Vec::new();
    let mut offs = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        offs.push(at);
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
    (out, offs)
}

/// Words skipped before a table name in the simple command forms handled here.
const SKIPPED: &[&str] = &[
    "analyze",
    "binary",
    "concurrently",
    "delayed",
    "disable_page_skipping",
    "exists",
    "foreign",
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
    "offline",
    "online",
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

/// Words that continue a FROM clause and so cannot be a table alias.
const CLAUSE_WORDS: &[&str] = &[
    "as",
    "connect",
    "cross",
    "do",
    "except",
    "fetch",
    "for",
    "force",
    "from",
    "full",
    "group",
    "having",
    "ignore",
    "inner",
    "intersect",
    "into",
    "join",
    "lateral",
    "left",
    "limit",
    "lock",
    "natural",
    "offset",
    "on",
    "order",
    "outer",
    "partition",
    "qualify",
    "returning",
    "right",
    "select",
    "set",
    "straight_join",
    "tablesample",
    "then",
    "union",
    "use",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
];

/// Words that may precede `(` without making it a function call's argument list.
const NOT_CALLS: &[&str] = &[
    "all",
    "and",
    "any",
    "array",
    "as",
    "between",
    "by",
    "else",
    "except",
    "exists",
    "from",
    "having",
    "in",
    "intersect",
    "into",
    "is",
    "join",
    "lateral",
    "like",
    "not",
    "on",
    "or",
    "over",
    "returning",
    "select",
    "set",
    "some",
    "table",
    "then",
    "union",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
];

/// Object types after `GRANT ... ON` and `REVOKE ... ON` that are not tables.
const NOT_TABLE_OBJECTS: &[&str] = &[
    "all",
    "database",
    "domain",
    "foreign",
    "function",
    "functions",
    "language",
    "large",
    "parameter",
    "procedure",
    "procedures",
    "routine",
    "routines",
    "schema",
    "schemas",
    "sequence",
    "sequences",
    "tablespace",
    "type",
    "types",
];

/// Words that start a statement embedded in another (EXPLAIN, PREPARE, DECLARE, ANALYZE).
const STATEMENT_STARTS: &[&str] = &[
    "create", "delete", "execute", "insert", "merge", "replace", "select", "table", "update",
    "values", "with",
];

fn sorted_contains(list: &[&str], w: &str) -> bool {
    list.binary_search(&w).is_ok()
}

/// The identifier at token `k`: a quoted name, or a word that can be a name.
fn ident_at(toks: &[Tok], k: usize) -> Option<String> {
    match toks.get(k)? {
        Tok::Word(w)
            if w.starts_with(|c: char| c.is_alphabetic() || c == '_')
                && !sorted_contains(NOT_NAMES, w) =>
        {
            Some(w.clone())
        }
        Tok::Quoted(q) => Some(q.clone()),
        _ => None,
    }
}

/// `ident(.ident)*` at token `k`, and the index after it. `db.*` is not a name.
fn name_at(toks: &[Tok], mut k: usize) -> Option<(String, usize)> {
    let mut name = ident_at(toks, k)?;
    k += 1;
    while toks.get(k) == Some(&Tok::Punct('.')) {
        name.push('.');
        name.push_str(&ident_at(toks, k + 1)?);
        k += 2;
    }
    Some((name, k))
}

struct Cursor<'a> {
    text: &'a str,
    toks: Vec<Tok>,
    offs: Vec<usize>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        let (toks, offs) = lex(text);
        Cursor {
            text,
            toks,
            offs,
            pos: 0,
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn tok(&self, i: usize) -> Option<&Tok> {
        self.toks.get(i)
    }

    fn word_at(&self, i: usize) -> Option<&str> {
        match self.toks.get(i) {
            Some(Tok::Word(w)) => Some(w.as_str()),
            _ => None,
        }
    }

    fn is_word(&self, w: &str) -> bool {
        self.word_at(self.pos) == Some(w)
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    /// Moves past `w` when it is next.
    fn eat(&mut self, w: &str) -> bool {
        let hit = self.is_word(w);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// The statement text from token `i` on (empty past the end).
    fn rest_from(&self, i: usize) -> &'a str {
        self.offs
            .get(i)
            .and_then(|&o| self.text.get(o..))
            .unwrap_or("")
    }

    /// The statement text of tokens `[i, j)`.
    fn slice(&self, i: usize, j: usize) -> &'a str {
        let a = self.offs.get(i).copied().unwrap_or(self.text.len());
        let b = self.offs.get(j).copied().unwrap_or(self.text.len());
        self.text.get(a..b.max(a)).unwrap_or("")
    }

    /// Index of the token after the balanced group opened at `i` (which must be `(`).
    fn group_end(&self, i: usize) -> usize {
        let mut depth = 0usize;
        let mut k = i;
        while let Some(t) = self.toks.get(k) {
            match t {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => depth = depth.saturating_sub(1),
                _ => {}
            }
            k += 1;
            if depth == 0 {
                break;
            }
        }
        k
    }

    /// Skips a balanced parenthesised group when one starts here.
    fn skip_parens(&mut self) {
        if self.is_punct('(') {
            self.pos = self.group_end(self.pos);
        }
    }

    /// Skips [`SKIPPED`] words and option lists in parentheses.
    fn skip_modifiers(&mut self) {
        loop {
            match self.peek() {
                Some(Tok::Word(w)) if sorted_contains(SKIPPED, w) => self.pos += 1,
                Some(Tok::Punct('(')) => self.skip_parens(),
                _ => return,
            }
        }
    }

    /// `ident(.ident)*`
    fn name(&mut self) -> Option<String> {
        let (name, next) = name_at(&self.toks, self.pos)?;
        self.pos = next;
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

    /// Index of the first `w` at parenthesis depth 0 from the cursor on.
    fn find_top(&self, w: &str) -> Option<usize> {
        let mut depth = 0usize;
        for (k, t) in self.toks.iter().enumerate().skip(self.pos) {
            match t {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => depth = depth.saturating_sub(1),
                Tok::Word(x) if depth == 0 && x == w => return Some(k),
                _ => {}
            }
        }
        None
    }

    /// Moves past the first `w` word outside parentheses; false when there is none.
    fn past_top(&mut self, w: &str) -> bool {
        match self.find_top(w) {
            Some(k) => {
                self.pos = k + 1;
                true
            }
            None => {
                self.pos = self.toks.len();
                false
            }
        }
    }

    /// Moves past the first `on` word outside parentheses; false when there is none.
    fn past_on(&mut self) -> bool {
        self.past_top("on")
    }
}

/// What the fallback found for a text sqlparser rejected.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// Kind of every statement, in order.
    pub kinds: Vec<String>,
    /// Tables of all statements.
    pub tables: std::collections::BTreeSet<String>,
}

/// Kind and tables of every statement of a normalised text that sqlparser rejected as a whole.
/// Statements are split at `;` outside BEGIN ... END blocks (stored program bodies). With
/// `parse`, each statement of a multi-statement text is first tried with sqlparser on its own,
/// and embedded queries (of views, CREATE TABLE AS, EXPLAIN, ...) are parsed where possible;
/// without it (texts too long or too deep to parse) everything comes from the keyword rules.
pub(crate) fn recover(dialect: Dialect, normalized: &str, parse: bool) -> Recovered {
    let pieces = split_statements(normalized);
    let mut out = Recovered::default();
    for piece in &pieces {
        if parse && pieces.len() > 1 {
            if let Some((kind, tables)) = parse_one(dialect, piece) {
                out.kinds.push(kind);
                out.tables.extend(tables);
                continue;
            }
        }
        let kind = resolve::kind_from_text(piece);
        out.tables
            .extend(statement_tables(dialect, &kind, piece, parse));
        out.kinds.push(kind);
    }
    out
}

/// Kind and tables of one statement text when sqlparser takes it as exactly one statement.
fn parse_one(dialect: Dialect, text: &str) -> Option<(String, Vec<String>)> {
    match super::parse_and_walk(dialect, text) {
        Ok(p) if p.count == 1 => {
            let kind = p.kinds.into_iter().next()?;
            Some((kind, p.collected.tables.into_iter().collect()))
        }
        _ => None,
    }
}

/// Tables of a statement embedded in another one: parsed when possible, else by the rules.
fn any_tables(dialect: Dialect, text: &str, parse: bool) -> Vec<String> {
    if parse {
        if let Some((_, tables)) = parse_one(dialect, text) {
            return tables;
        }
    }
    let kind = resolve::kind_from_text(text);
    statement_tables(dialect, &kind, text, parse)
}

/// Splits a normalised text into statements at `; `, keeping the bodies of stored programs,
/// triggers, events (BEGIN ... END, PostgreSQL `BEGIN ATOMIC`) and rules (`DO (...; ...)`)
/// whole.
fn split_statements(normalized: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut piece_start = 0;
    let mut depth = 0i64;
    let mut blocky = false;
    loop {
        let rest = normalized.get(piece_start..).unwrap_or("");
        let (piece_end, next) = match rest.find("; ") {
            Some(k) => (piece_start + k, Some(piece_start + k + 2)),
            None => (normalized.len(), None),
        };
        let piece = normalized.get(piece_start..piece_end).unwrap_or("");
        // Only statements that carry a body can go on past a `;`: anywhere else, a stray
        // `begin` or `(` must not hide the statements that follow.
        if piece_start == start {
            let kind = resolve::kind_from_text(piece);
            blocky = matches!(
                kind.as_str(),
                "CREATE PROCEDURE"
                    | "CREATE FUNCTION"
                    | "CREATE TRIGGER"
                    | "CREATE EVENT"
                    | "ALTER EVENT"
                    | "ALTER PROCEDURE"
                    | "ALTER FUNCTION"
                    | "CREATE RULE"
            );
        }
        if blocky {
            depth = (depth + block_delta(piece, depth > 0)).max(0);
        }
        match next {
            Some(n) if depth > 0 => piece_start = n,
            Some(n) => {
                out.push(normalized.get(start..piece_end).unwrap_or("").trim());
                start = n;
                piece_start = n;
            }
            None => {
                out.push(normalized.get(start..).unwrap_or("").trim());
                break;
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Change in nesting over one `;`-separated piece: `(` and `)`; `begin` (not the transaction
/// command that starts a statement) and `case` open, `end` closes unless it ends an IF or loop.
fn block_delta(piece: &str, inside: bool) -> i64 {
    let c = Cursor::new(piece);
    let mut delta = 0i64;
    for (k, t) in c.toks.iter().enumerate() {
        let w = match t {
            Tok::Word(w) => w,
            // A statement does not end inside parentheses (PostgreSQL rule actions).
            Tok::Punct('(') => {
                delta += 1;
                continue;
            }
            Tok::Punct(')') => {
                delta -= 1;
                continue;
            }
            _ => continue,
        };
        match w.as_str() {
            "begin" => {
                let txn = matches!(c.word_at(k + 1), Some("work" | "transaction"));
                if (k > 0 || inside) && !txn {
                    delta += 1;
                }
            }
            "case" => delta += 1,
            "end"
                if !matches!(
                    c.word_at(k + 1),
                    Some("if" | "loop" | "while" | "repeat" | "for")
                ) =>
            {
                delta -= 1;
            }
            _ => {}
        }
    }
    delta
}

/// Tables named by one normalised statement of kind `kind` (from `kind_from_text`) that sqlparser
/// rejected: DML and queries by a scan of their FROM/JOIN/INTO/UPDATE/USING lists, commands by
/// the places their forms name tables at. See the corpus files for the conventions.
pub(crate) fn statement_tables(
    dialect: Dialect,
    kind: &str,
    statement: &str,
    parse: bool,
) -> Vec<String> {
    let mut c = Cursor::new(statement);
    let first = match c.word_at(0) {
        Some(w) => w.to_string(),
        None => return Vec::new(),
    };
    c.pos = 1;
    match kind {
        "SELECT" | "INSERT" | "REPLACE" | "UPDATE" | "DELETE" | "MERGE" => scan_relations(&c),
        "EXPLAIN" | "ANALYZE" | "DESCRIBE" | "PREPARE" | "DECLARE" => {
            embedded(dialect, kind, &mut c, parse)
        }
        "LOCK" => {
            // PostgreSQL `LOCK [TABLE] [ONLY] a, b IN mode`; MySQL `LOCK TABLES a [AS x] READ
            // [LOCAL], b WRITE`.
            c.skip_modifiers();
            let mut names = Vec::new();
            while let Some(n) = c.name() {
                names.push(n);
                while c.peek().is_some() && !c.is_punct(',') {
                    if c.is_punct('(') {
                        c.skip_parens();
                    } else {
                        c.pos += 1;
                    }
                }
                if !c.is_punct(',') {
                    break;
                }
                c.pos += 1;
                c.skip_modifiers();
            }
            names
        }
        "VACUUM" | "TRUNCATE" | "OPTIMIZE" | "REPAIR" | "CHECKSUM" | "CHECK" | "REFRESH"
        | "HANDLER" => {
            c.skip_modifiers();
            let names = c.name_list();
            if kind == "HANDLER" {
                names.into_iter().take(1).collect()
            } else {
                names
            }
        }
        "CACHE" => {
            c.eat("index");
            c.name_list()
        }
        "FLUSH" => {
            c.eat("no_write_to_binlog");
            c.eat("local");
            if c.is_word("table") || c.is_word("tables") {
                c.skip_modifiers();
                c.name_list()
            } else {
                Vec::new()
            }
        }
        "LOAD" => {
            if c.is_word("index") {
                if c.past_top("cache") {
                    return c.name_list();
                }
            } else if let Some(k) = c.find_top("into") {
                c.pos = k + 1;
                c.eat("table");
                return c.name().into_iter().collect();
            }
            Vec::new()
        }
        "COPY" => {
            c.skip_modifiers();
            if c.is_punct('(') {
                let end = c.group_end(c.pos);
                let inner = c.slice(c.pos + 1, end.saturating_sub(1));
                return any_tables(dialect, inner, parse);
            }
            c.name().into_iter().collect()
        }
        "CLUSTER" => {
            c.eat("verbose");
            c.skip_parens();
            let Some(first_name) = c.name() else {
                return Vec::new();
            };
            // Old form: `CLUSTER index ON table`.
            if c.eat("on") {
                return c.name().into_iter().collect();
            }
            vec![first_name]
        }
        "REINDEX" => {
            c.skip_parens();
            if c.eat("table") {
                c.eat("concurrently");
                return c.name().into_iter().collect();
            }
            Vec::new()
        }
        "SHOW" => show_tables(&mut c),
        "GRANT" | "REVOKE" => grant_tables(&mut c),
        "COMMENT" => {
            if c.past_on() {
                object_tables(&mut c)
            } else {
                Vec::new()
            }
        }
        "SECURITY LABEL" => {
            if c.past_on() {
                object_tables(&mut c)
            } else {
                Vec::new()
            }
        }
        "CREATE TABLE" | "CREATE FOREIGN TABLE" => create_table(dialect, &mut c, parse),
        "CREATE VIEW" | "CREATE MATERIALIZED VIEW" => {
            if !c.past_top("view") {
                return Vec::new();
            }
            c.skip_modifiers();
            let mut names: Vec<String> = c.name().into_iter().collect();
            names.extend(as_query_tables(dialect, &mut c, parse));
            names
        }
        "ALTER TABLE" | "ALTER FOREIGN TABLE" | "ALTER VIEW" | "ALTER MATERIALIZED VIEW" => {
            alter_table(dialect, &mut c, parse)
        }
        "DROP TABLE" | "DROP VIEW" | "DROP MATERIALIZED VIEW" | "DROP FOREIGN TABLE" => {
            c.skip_modifiers();
            c.name_list()
        }
        "CREATE INDEX" | "DROP INDEX" => {
            if c.past_on() {
                c.skip_modifiers();
                c.name_list().into_iter().take(1).collect()
            } else {
                Vec::new()
            }
        }
        "CREATE TRIGGER" | "ALTER TRIGGER" | "DROP TRIGGER" | "CREATE RULE" | "ALTER RULE"
        | "DROP RULE" | "DROP POLICY" => on_table(&mut c).into_iter().collect(),
        "CREATE POLICY" | "ALTER POLICY" => {
            let mut names: Vec<String> = on_table(&mut c).into_iter().collect();
            names.extend(subquery_tables(dialect, &c, parse));
            names
        }
        "CREATE SCHEMA" => schema_elements(dialect, &c, parse),
        "ALTER SEQUENCE" => {
            if c.past_top("owned") && c.eat("by") {
                if let Some(n) = c.name() {
                    if let Some((table, _column)) = n.rsplit_once('.') {
                        return vec![table.to_string()];
                    }
                }
            }
            Vec::new()
        }
        "CREATE STATISTICS" => {
            if c.past_top("from") {
                c.name_list()
            } else {
                Vec::new()
            }
        }
        "CREATE PUBLICATION" | "ALTER PUBLICATION" => {
            let mut names = Vec::new();
            while let Some(k) = c.find_top("table") {
                c.pos = k + 1;
                c.eat("only");
                names.extend(c.name_list());
            }
            names
        }
        "RENAME TABLE" => {
            c.eat("table");
            let mut names = Vec::new();
            while let Some(n) = c.name() {
                names.push(n);
                if !(c.eat("to") || c.is_punct(',')) {
                    break;
                }
                if c.is_punct(',') {
                    c.pos += 1;
                }
            }
            names
        }
        _ if first == "table" => scan_relations(&c),
        _ => Vec::new(),
    }
}

/// EXPLAIN, ANALYZE, DESCRIBE, PREPARE and DECLARE: the tables of the statement they carry, or
/// the table they describe (`EXPLAIN t`, `DESCRIBE t [col]`).
fn embedded(dialect: Dialect, kind: &str, c: &mut Cursor<'_>, parse: bool) -> Vec<String> {
    match kind {
        "PREPARE" => {
            // `PREPARE name [(types)] AS statement`; MySQL `PREPARE name FROM 'text'` is a string.
            if !c.past_top("as") {
                return Vec::new();
            }
        }
        "DECLARE" => {
            if !c.past_top("for") {
                return Vec::new();
            }
        }
        _ => {
            // Options: `(ANALYZE, COSTS OFF)`, `ANALYZE VERBOSE`, `FORMAT = JSON`, `EXTENDED`.
            loop {
                match c.peek() {
                    Some(Tok::Punct('(')) => c.skip_parens(),
                    Some(Tok::Punct('=')) => c.pos += 2,
                    Some(Tok::Word(w))
                        if matches!(
                            w.as_str(),
                            "analyze"
                                | "verbose"
                                | "extended"
                                | "partitions"
                                | "format"
                                | "local"
                                | "no_write_to_binlog"
                                | "table"
                                | "full"
                        ) =>
                    {
                        c.pos += 1
                    }
                    _ => break,
                }
            }
            let starts = matches!(c.peek(), Some(Tok::Word(w)) if sorted_contains(STATEMENT_STARTS, w))
                || c.is_punct('(');
            if !starts {
                if c.is_word("for") {
                    return Vec::new();
                }
                if kind == "ANALYZE" {
                    return c.name_list();
                }
                return c.name().into_iter().collect();
            }
        }
    }
    any_tables(dialect, c.rest_from(c.pos), parse)
}

/// CREATE TABLE: the new table, PARTITION OF parent, LIKE source, INHERITS parents, REFERENCES
/// targets, MySQL MERGE `UNION = (...)`, and the query of AS SELECT / MySQL `... SELECT`.
fn create_table(dialect: Dialect, c: &mut Cursor<'_>, parse: bool) -> Vec<String> {
    c.eat("or");
    c.eat("replace");
    c.skip_modifiers();
    let Some(name) = c.name() else {
        return Vec::new();
    };
    let mut names = vec![name];
    if c.eat("partition") && c.eat("of") {
        names.extend(c.name());
    }
    if c.eat("like") {
        names.extend(c.name());
    }
    let body_start = c.pos;
    if c.is_punct('(') {
        if c.word_at(c.pos + 1) == Some("like") {
            c.pos += 2;
            names.extend(c.name());
        }
        c.pos = c.group_end(body_start);
    }
    names.extend(references(c, body_start));
    // After the column list: INHERITS (...), UNION = (...), and a query.
    let mut k = c.pos;
    while let Some(t) = c.tok(k) {
        match t {
            Tok::Word(w) if (w == "inherits" || w == "union") => {
                let mut j = k + 1;
                if c.tok(j) == Some(&Tok::Punct('=')) {
                    j += 1;
                }
                if c.tok(j) == Some(&Tok::Punct('(')) {
                    let mut sub = Cursor::new(c.slice(j + 1, c.group_end(j).saturating_sub(1)));
                    names.extend(sub.name_list());
                    k = c.group_end(j);
                    continue;
                }
            }
            Tok::Word(w) if w == "as" || w == "select" || w == "with" => {
                let at = if w == "as" { k + 1 } else { k };
                c.pos = at;
                let query = strip_view_suffix(c.rest_from(at));
                names.extend(any_tables(dialect, query, parse));
                break;
            }
            Tok::Punct('(') => {
                // `... AS (SELECT ...)` is handled above; other groups are options.
                k = c.group_end(k);
                continue;
            }
            _ => {}
        }
        k += 1;
    }
    names
}

/// Tables after REFERENCES anywhere from token `from` on.
fn references(c: &Cursor<'_>, from: usize) -> Vec<String> {
    let mut names = Vec::new();
    for (k, t) in c.toks.iter().enumerate().skip(from) {
        if matches!(t, Tok::Word(w) if w == "references") {
            names.extend(name_at(&c.toks, k + 1).map(|(n, _)| n));
        }
    }
    names
}

/// `... AS query [WITH [NO] DATA | WITH [CASCADED|LOCAL] CHECK OPTION]`: the query's tables.
fn as_query_tables(dialect: Dialect, c: &mut Cursor<'_>, parse: bool) -> Vec<String> {
    match c.find_top("as") {
        Some(k) => any_tables(dialect, strip_view_suffix(c.rest_from(k + 1)), parse),
        None => Vec::new(),
    }
}

/// The text without a trailing `with [no] data` or `with [cascaded|local] check option`.
fn strip_view_suffix(text: &str) -> &str {
    let t = text.trim_end();
    for suffix in [
        " with no data",
        " with data",
        " with cascaded check option",
        " with local check option",
        " with check option",
    ] {
        if let Some(head) = t.strip_suffix(suffix) {
            return head;
        }
    }
    t
}

/// ALTER TABLE / VIEW / MATERIALIZED VIEW / FOREIGN TABLE: the relation, a new name, and the
/// tables named by ATTACH/DETACH PARTITION, [NO] INHERIT, REFERENCES, EXCHANGE PARTITION ...
/// WITH TABLE, and MySQL `ALTER VIEW v AS query`.
fn alter_table(dialect: Dialect, c: &mut Cursor<'_>, parse: bool) -> Vec<String> {
    c.skip_modifiers();
    // `ALTER TABLE ALL IN TABLESPACE x SET TABLESPACE y` names no table.
    if c.is_word("all") && c.word_at(c.pos + 1) == Some("in") {
        return Vec::new();
    }
    let Some(name) = c.name() else {
        return Vec::new();
    };
    let mut names = vec![name];
    if c.is_punct('*') {
        c.pos += 1;
    }
    let start = c.pos;
    names.extend(references(c, start));
    while let Some(t) = c.peek().cloned() {
        c.pos += 1;
        let Tok::Word(w) = t else {
            if t == Tok::Punct('(') {
                c.pos = c.group_end(c.pos - 1);
            }
            continue;
        };
        match w.as_str() {
            "attach" | "detach" if c.eat("partition") => names.extend(c.name()),
            "exchange" if c.eat("partition") => {
                c.name();
                if c.eat("with") && c.eat("table") {
                    names.extend(c.name());
                }
            }
            "inherit" => names.extend(c.name()),
            "rename" => {
                if c.eat("to") || c.eat("as") {
                    names.extend(c.name());
                } else if !matches!(
                    c.word_at(c.pos),
                    Some("column" | "constraint" | "index" | "key")
                ) {
                    // MySQL `RENAME t2`; PostgreSQL `RENAME col TO new` renames a column.
                    let save = c.pos;
                    if let Some(n) = c.name() {
                        if c.is_word("to") {
                            c.pos = save + 1;
                        } else {
                            names.push(n);
                        }
                    }
                }
            }
            "as" => {
                names.extend(any_tables(dialect, c.rest_from(c.pos), parse));
                break;
            }
            _ => {}
        }
    }
    names
}

/// The table after the first top-level `ON` (triggers, policies, rules): `ON t`, or for rules
/// `ON event TO t`.
fn on_table(c: &mut Cursor<'_>) -> Option<String> {
    if !c.past_on() {
        return None;
    }
    if matches!(
        c.word_at(c.pos),
        Some("select" | "insert" | "update" | "delete")
    ) && c.word_at(c.pos + 1) == Some("to")
    {
        c.pos += 2;
    }
    c.name()
}

/// After `COMMENT ON` / `SECURITY LABEL ... ON`: the relation the object belongs to.
fn object_tables(c: &mut Cursor<'_>) -> Vec<String> {
    let Some(Tok::Word(object)) = c.peek().cloned() else {
        return Vec::new();
    };
    c.pos += 1;
    match object.as_str() {
        "table" | "view" => c.name().into_iter().collect(),
        "materialized" | "foreign" => {
            c.pos += 1;
            c.name().into_iter().collect()
        }
        "column" => match c.name() {
            Some(n) => n
                .rsplit_once('.')
                .map(|(t, _)| vec![t.to_string()])
                .unwrap_or_default(),
            None => Vec::new(),
        },
        "trigger" | "policy" | "rule" | "constraint" => {
            c.name();
            if c.eat("on") && !c.is_word("domain") {
                c.name().into_iter().collect()
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

/// GRANT/REVOKE ... ON [TABLE] t, ...: the tables (not schemas, functions, `db.*`, roles).
fn grant_tables(c: &mut Cursor<'_>) -> Vec<String> {
    if !c.past_on() {
        return Vec::new();
    }
    if let Some(Tok::Word(w)) = c.peek() {
        if sorted_contains(NOT_TABLE_OBJECTS, w) {
            return Vec::new();
        }
    }
    c.eat("table");
    c.name_list()
}

/// SHOW forms that name a table: `SHOW [FULL] COLUMNS|FIELDS|INDEX|INDEXES|KEYS FROM|IN t
/// [FROM|IN db]` and `SHOW CREATE TABLE|VIEW t`.
fn show_tables(c: &mut Cursor<'_>) -> Vec<String> {
    c.eat("full");
    c.eat("extended");
    if c.eat("create") {
        if c.eat("table") || c.eat("view") {
            return c.name().into_iter().collect();
        }
        return Vec::new();
    }
    if !matches!(
        c.word_at(c.pos),
        Some("columns" | "fields" | "index" | "indexes" | "keys")
    ) {
        return Vec::new();
    }
    c.pos += 1;
    if !(c.eat("from") || c.eat("in")) {
        return Vec::new();
    }
    let Some(t) = c.name() else {
        return Vec::new();
    };
    if c.eat("from") || c.eat("in") {
        if let Some(db) = c.name() {
            return vec![format!("{db}.{t}")];
        }
    }
    vec![t]
}

/// CREATE SCHEMA ... followed by CREATE/GRANT elements: the tables of each element.
fn schema_elements(dialect: Dialect, c: &Cursor<'_>, parse: bool) -> Vec<String> {
    let mut starts = Vec::new();
    let mut depth = 0usize;
    for (k, t) in c.toks.iter().enumerate().skip(1) {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth = depth.saturating_sub(1),
            Tok::Word(w) if depth == 0 && (w == "create" || w == "grant") => starts.push(k),
            _ => {}
        }
    }
    let mut names = Vec::new();
    for (n, &k) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(c.toks.len());
        names.extend(any_tables(dialect, c.slice(k, end).trim(), parse));
    }
    names
}

/// Tables of the `(SELECT ...)` subqueries anywhere in the statement (policy expressions).
fn subquery_tables(dialect: Dialect, c: &Cursor<'_>, parse: bool) -> Vec<String> {
    let mut names = Vec::new();
    let mut k = 0;
    while k < c.toks.len() {
        if c.tok(k) == Some(&Tok::Punct('(')) && matches!(c.word_at(k + 1), Some("select" | "with"))
        {
            let end = c.group_end(k);
            names.extend(any_tables(
                dialect,
                c.slice(k + 1, end.saturating_sub(1)),
                parse,
            ));
            k = end;
        } else {
            k += 1;
        }
    }
    names
}

/// Names defined by WITH lists (`name [(cols)] AS [NOT] [MATERIALIZED] (...)`) anywhere.
fn cte_names(c: &Cursor<'_>) -> Vec<String> {
    let mut names = Vec::new();
    for (k, t) in c.toks.iter().enumerate() {
        if !matches!(t, Tok::Word(w) if w == "with") {
            continue;
        }
        let mut j = k + 1;
        if c.word_at(j) == Some("recursive") {
            j += 1;
        }
        while let Some(n) = ident_at(&c.toks, j) {
            j += 1;
            if c.tok(j) == Some(&Tok::Punct('(')) {
                j = c.group_end(j);
            }
            if c.word_at(j) != Some("as") {
                break;
            }
            j += 1;
            if c.word_at(j) == Some("not") {
                j += 1;
            }
            if c.word_at(j) == Some("materialized") {
                j += 1;
            }
            if c.tok(j) != Some(&Tok::Punct('(')) {
                break;
            }
            names.push(n);
            j = c.group_end(j);
            if c.tok(j) != Some(&Tok::Punct(',')) {
                break;
            }
            j += 1;
        }
    }
    names
}

/// Paren roles in [`scan_relations`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Paren {
    /// A function call's arguments: `FROM` inside is part of the call (`extract(x from y)`).
    Call,
    /// A derived table or parenthesised join in a FROM list; the list may go on after it.
    FromItem,
    Other,
}

/// Tables of a DML statement or query: the names after FROM, JOIN, INTO, UPDATE, USING (not
/// `USING (cols)`), TABLE, and leading INSERT/REPLACE targets; not CTE names or table functions.
fn scan_relations(c: &Cursor<'_>) -> Vec<String> {
    let ctes = cte_names(c);
    let mut out = Vec::new();
    let mut stack: Vec<Paren> = Vec::new();
    let mut k = 0;
    while let Some(t) = c.tok(k) {
        match t {
            Tok::Punct('(') => {
                let call = match c.tok(k.wrapping_sub(1)) {
                    Some(Tok::Word(w)) => !sorted_contains(NOT_CALLS, w),
                    Some(Tok::Quoted(_)) => true,
                    _ => false,
                };
                stack.push(if call { Paren::Call } else { Paren::Other });
                k += 1;
            }
            Tok::Punct(')') => {
                k += 1;
                if stack.pop() == Some(Paren::FromItem) {
                    k = item_tail(c, k);
                    if c.tok(k) == Some(&Tok::Punct(',')) {
                        k = from_list(c, k + 1, false, &ctes, &mut out, &mut stack);
                    }
                }
            }
            Tok::Word(w) => {
                let in_call = stack.last() == Some(&Paren::Call);
                let prev = c.tok(k.wrapping_sub(1));
                let at_start = matches!(prev, None | Some(Tok::Punct('(' | ')' | ';')));
                let intro = match w.as_str() {
                    "from" => !in_call && prev != Some(&Tok::Word("distinct".to_string())),
                    "join" => true,
                    // MySQL `STRAIGHT_JOIN` joins, except as a SELECT modifier.
                    "straight_join" => !matches!(
                        c.word_at(k.wrapping_sub(1)),
                        Some(
                            "select"
                                | "all"
                                | "distinct"
                                | "distinctrow"
                                | "high_priority"
                                | "sql_small_result"
                                | "sql_big_result"
                                | "sql_buffer_result"
                                | "sql_no_cache"
                                | "sql_calc_found_rows"
                        )
                    ),
                    "into" => {
                        !in_call
                            && !matches!(c.word_at(k + 1), Some("outfile" | "dumpfile"))
                            && !c.word_at(k + 1).is_some_and(|n| n.starts_with('@'))
                    }
                    "update" => at_start,
                    "insert" | "replace" => at_start && c.word_at(k + 1) != Some("into"),
                    "using" => c.tok(k + 1) != Some(&Tok::Punct('(')),
                    "table" => at_start,
                    _ => false,
                };
                k += 1;
                if intro {
                    // After INTO, INSERT and REPLACE a `(` is the column list, not a call.
                    let target = matches!(w.as_str(), "into" | "insert" | "replace");
                    k = from_list(c, k, target, &ctes, &mut out, &mut stack);
                }
            }
            _ => k += 1,
        }
    }
    out.retain(|n| n != "dual");
    out
}

/// Reads a list of relations starting at token `k`; returns where scanning resumes. A `(`
/// item is left for the caller's scan (its contents are scanned too) and marked so that the
/// list resumes after its `)`.
fn from_list(
    c: &Cursor<'_>,
    mut k: usize,
    target: bool,
    ctes: &[String],
    out: &mut Vec<String>,
    stack: &mut Vec<Paren>,
) -> usize {
    loop {
        while matches!(
            c.word_at(k),
            Some(
                "only"
                    | "lateral"
                    | "low_priority"
                    | "quick"
                    | "ignore"
                    | "delayed"
                    | "high_priority"
                    | "into"
                    | "table"
                    | "temp"
                    | "temporary"
                    | "unlogged"
            )
        ) {
            k += 1;
        }
        if c.tok(k) == Some(&Tok::Punct('(')) {
            stack.push(Paren::FromItem);
            return k + 1;
        }
        let Some((name, next)) = name_at(&c.toks, k) else {
            return k;
        };
        k = next;
        if !target && c.tok(k) == Some(&Tok::Punct('(')) {
            // A table function: its arguments are scanned by the caller.
            return k;
        }
        if !ctes.contains(&name) {
            out.push(name);
        }
        if c.tok(k) == Some(&Tok::Punct('*')) {
            k += 1;
        }
        k = item_tail(c, k);
        if c.tok(k) != Some(&Tok::Punct(',')) {
            return k;
        }
        k += 1;
    }
}

/// Skips what may follow a relation in a FROM list: alias, column aliases, MySQL PARTITION
/// (...) and index hints, TABLESAMPLE.
fn item_tail(c: &Cursor<'_>, mut k: usize) -> usize {
    loop {
        match c.tok(k) {
            Some(Tok::Word(w)) if w == "partition" && c.tok(k + 1) == Some(&Tok::Punct('(')) => {
                k = c.group_end(k + 1);
            }
            Some(Tok::Word(w))
                if matches!(w.as_str(), "use" | "force" | "ignore")
                    && matches!(c.word_at(k + 1), Some("index" | "key")) =>
            {
                k += 2;
                while c.tok(k).is_some() && c.tok(k) != Some(&Tok::Punct('(')) {
                    k += 1;
                }
                k = c.group_end(k);
            }
            Some(Tok::Word(w)) if w == "tablesample" => {
                k += 2;
                if c.tok(k) == Some(&Tok::Punct('(')) {
                    k = c.group_end(k);
                }
                if c.word_at(k) == Some("repeatable") && c.tok(k + 1) == Some(&Tok::Punct('(')) {
                    k = c.group_end(k + 1);
                }
            }
            Some(Tok::Word(w)) if w == "as" => k += 1,
            Some(Tok::Word(w)) if !sorted_contains(CLAUSE_WORDS, w) && !w.starts_with('@') => {
                k += 1;
                if c.tok(k) == Some(&Tok::Punct('(')) {
                    k = c.group_end(k);
                }
            }
            Some(Tok::Quoted(_)) => k += 1,
            Some(Tok::Punct('(')) if c.word_at(k.wrapping_sub(1)).is_some() || k > 0 => {
                // Column list of an INSERT target or of an alias.
                k = c.group_end(k);
            }
            _ => return k,
        }
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
            ("SELECT", "select * from users", &["users"]),
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
            assert_eq!(
                statement_tables(Dialect::Postgres, kind, text, false),
                tables,
                "{text}"
            );
        }
    }
}
