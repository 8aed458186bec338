//! Statement normalisation: a hand-written, dialect-aware scanner that turns any text (any bytes,
//! never panicking) into the canonical normalised form used for the fingerprint, the cache key and
//! `redacted_text`, and collects the literal values of *this* text for value detectors.
//!
//! The normalised form is: comments dropped; every literal (quoted string, number, dollar-quoted
//! string, hex/bit/national/escape string) replaced by `?`; placeholders (`$1`, `?`) kept as
//! written; unquoted words lower-cased (so `TRUE`, `FALSE` and `NULL` stay as `true`, `false`,
//! `null`); quoted identifiers kept verbatim with their quotes; tokens re-spaced canonically (one
//! space between tokens, none after `(`/`[`/`.`/`::`, none before `)`/`]`/`,`/`;`/`.`/`::`, none
//! between a function name and its `(`); empty statements and trailing `;` dropped. Two texts that
//! differ only in literal values, whitespace, comments or keyword case therefore normalise to the
//! same string.

/// The result of scanning one text.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    /// The normalised text (see the module doc).
    pub normalized: String,
    /// Literal values in text order: strings unquoted and unescaped, numbers as written.
    pub literals: Vec<String>,
    /// Byte ranges of the literals in the scanned text, in order.
    pub spans: Vec<(usize, usize)>,
    /// Byte ranges of the comments (`/* */`, `--`, `#`; not MySQL's executable `/*! */`), in
    /// order: redacted in the shown text, read for sqlcommenter tags.
    pub comments: Vec<(usize, usize)>,
    /// Number of non-empty `;`-separated statements.
    pub statements: usize,
    /// Number of operators (`=`, `+`, `and`, `or`, ...): a bound on how deep a parsed expression
    /// tree can be, used to decide whether parsing needs a large stack.
    pub operators: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    Word,
    Quoted,
    Literal,
    Param,
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Comma,
    Dot,
    DoubleColon,
    Op,
    Other,
}

/// Words after which `(` is preceded by a space (keywords), as opposed to function names.
#[cfg(test)]
const SPACED_BEFORE_PAREN: &[&str] = &[
    "all",
    "and",
    "any",
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
    "recursive",
    "returning",
    "select",
    "set",
    "some",
    "then",
    "union",
    "using",
    "values",
    "when",
    "where",
    "with",
];

/// Whether `word` is a keyword after which `(` is preceded by a space (as opposed to a function
/// name); a `match`, so most words cost no string comparison. Mirrored by the test list
/// `SPACED_BEFORE_PAREN`.
fn spaced_before_paren(word: &[u8]) -> bool {
    matches!(
        word,
        b"all"
            | b"and"
            | b"any"
            | b"as"
            | b"between"
            | b"by"
            | b"else"
            | b"except"
            | b"exists"
            | b"from"
            | b"having"
            | b"in"
            | b"intersect"
            | b"into"
            | b"is"
            | b"join"
            | b"lateral"
            | b"like"
            | b"not"
            | b"on"
            | b"or"
            | b"over"
            | b"recursive"
            | b"returning"
            | b"select"
            | b"set"
            | b"some"
            | b"then"
            | b"union"
            | b"using"
            | b"values"
            | b"when"
            | b"where"
            | b"with"
    )
}

struct Out {
    /// The normalised text being built, as bytes (only whole UTF-8 sequences are pushed).
    text: Vec<u8>,
    prev: Option<Tok>,
    /// Where the last word pushed starts in `text` (meaningful when `prev` is a word).
    prev_word_start: usize,
    statement_has_tokens: bool,
    statements: usize,
    operators: usize,
}

impl Out {
    /// Pushes an unquoted word (whole UTF-8 sequences), lower-cased, without an intermediate
    /// allocation. `ascii` tells that the word has no byte >= 0x80.
    #[inline]
    fn push_word(&mut self, raw: &[u8], ascii: bool) {
        self.begin(Tok::Word);
        let start = self.text.len();
        if ascii {
            self.text.extend(raw.iter().map(u8::to_ascii_lowercase));
        } else {
            match std::str::from_utf8(raw) {
                Ok(word) => {
                    let mut utf8 = [0u8; 4];
                    for ch in word.chars().flat_map(char::to_lowercase) {
                        self.text
                            .extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
                    }
                }
                Err(_) => self.text.extend_from_slice(raw),
            }
        }
        if raw.len() <= 3 {
            let word = self.text.get(start..).unwrap_or_default();
            if word == b"and" || word == b"or" {
                self.operators += 1;
            }
        }
        self.prev_word_start = start;
        self.prev = Some(Tok::Word);
    }

    /// Whether the word just pushed is a keyword after which `(` is spaced.
    fn prev_word_spaced(&self) -> bool {
        spaced_before_paren(self.text.get(self.prev_word_start..).unwrap_or_default())
    }

    /// Pushes a one-byte token (no `memcpy` call for a single byte).
    #[inline]
    fn push_byte(&mut self, tok: Tok, c: u8) {
        self.begin(tok);
        self.text.push(c);
        self.prev = Some(tok);
    }

    #[inline]
    fn push(&mut self, tok: Tok, s: &str) {
        self.begin(tok);
        match s.as_bytes() {
            [c] => self.text.push(*c),
            bytes => self.text.extend_from_slice(bytes),
        }
        if tok == Tok::Op {
            self.operators += 1;
        }
        self.prev = Some(tok);
    }

    /// Starts a statement if needed and writes the space before a token of kind `tok`.
    #[inline]
    fn begin(&mut self, tok: Tok) {
        if !self.statement_has_tokens {
            if self.statements > 0 {
                self.text.extend_from_slice(b"; ");
            }
            self.statements += 1;
            self.statement_has_tokens = true;
            self.prev = None;
        }
        if self.needs_space(tok) {
            self.text.push(b' ');
        }
    }

    fn needs_space(&self, cur: Tok) -> bool {
        let Some(prev) = self.prev else {
            return false;
        };
        if matches!(
            prev,
            Tok::Open | Tok::OpenBracket | Tok::Dot | Tok::DoubleColon
        ) {
            return false;
        }
        match cur {
            Tok::Close | Tok::CloseBracket | Tok::Comma | Tok::Dot | Tok::DoubleColon => false,
            Tok::Open => match prev {
                Tok::Word => self.prev_word_spaced(),
                Tok::Quoted => false,
                _ => true,
            },
            Tok::OpenBracket => !matches!(
                prev,
                Tok::Word | Tok::Quoted | Tok::Close | Tok::CloseBracket | Tok::Param
            ),
            _ => true,
        }
    }

    fn end_statement(&mut self) {
        self.statement_has_tokens = false;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Postgres,
    MySql,
}

impl From<super::Dialect> for Flavor {
    fn from(d: super::Dialect) -> Self {
        match d {
            super::Dialect::Postgres => Flavor::Postgres,
            super::Dialect::MySql => Flavor::MySql,
        }
    }
}

const SPACE: u8 = 1;
const WORD_START: u8 = 2;
const WORD_CONT: u8 = 4;
const OP_PG: u8 = 8;
const OP_MY: u8 = 16;

/// Character classes of every byte value (one load per test in the scanner's loops).
static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0usize;
    while i < 256 {
        let b = i as u8;
        let mut c = 0u8;
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            c |= SPACE;
        }
        if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 {
            c |= WORD_START | WORD_CONT;
        }
        if b.is_ascii_digit() || b == b'$' {
            c |= WORD_CONT;
        }
        if matches!(
            b,
            b'+' | b'-'
                | b'*'
                | b'/'
                | b'<'
                | b'>'
                | b'='
                | b'~'
                | b'!'
                | b'@'
                | b'#'
                | b'%'
                | b'^'
                | b'&'
                | b'|'
                | b'`'
                | b'?'
        ) {
            c |= OP_PG;
        }
        if matches!(
            b,
            b'+' | b'-'
                | b'*'
                | b'/'
                | b'<'
                | b'>'
                | b'='
                | b'~'
                | b'!'
                | b'%'
                | b'^'
                | b'&'
                | b'|'
                | b':'
        ) {
            c |= OP_MY;
        }
        t[i] = c;
        i += 1;
    }
    t
}

fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

#[cfg(test)]
fn is_word_start(b: u8) -> bool {
    class(b) & WORD_START != 0
}

fn is_word_cont(b: u8) -> bool {
    class(b) & WORD_CONT != 0
}

#[cfg(test)]
fn is_space(b: u8) -> bool {
    class(b) & SPACE != 0
}

fn is_op_char(f: Flavor, b: u8) -> bool {
    let mask = match f {
        Flavor::Postgres => OP_PG,
        Flavor::MySql => OP_MY,
    };
    class(b) & mask != 0
}

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn slice(text: &str, start: usize, end: usize) -> &str {
    text.get(start..end).unwrap_or("")
}

/// Scans `text` for `dialect` into a new [`Scanned`] (tests; the analyzer uses [`scan_into`]).
#[cfg(test)]
pub(crate) fn scan(dialect: super::Dialect, text: &str) -> Scanned {
    let mut s = Scanned::default();
    scan_into(dialect, text, &mut s);
    s
}

/// Scans `text` for `dialect` into `into`, reusing its buffers' capacity (the analyzer scans on
/// every call, cache hit or not: this keeps the normalised text and the spans free of
/// allocations). Never panics; every byte sequence is accepted.
pub(crate) fn scan_into(dialect: super::Dialect, text: &str, into: &mut Scanned) {
    let f = Flavor::from(dialect);
    let b = text.as_bytes();
    let n = b.len();
    let mut buf = std::mem::take(&mut into.normalized).into_bytes();
    buf.clear();
    // Normalised text is usually a little longer than the original (`a=1` -> `a = ?`).
    buf.reserve((n + n / 4 + 16).min(1 << 17));
    let mut out = Out {
        text: buf,
        prev: None,
        prev_word_start: 0,
        statement_has_tokens: false,
        statements: 0,
        operators: 0,
    };
    let literals = &mut into.literals;
    let spans = &mut into.spans;
    let comments = &mut into.comments;
    literals.clear();
    spans.clear();
    comments.clear();
    let mut in_mysql_exec_comment = false;
    let mut i = 0usize;
    while i < n {
        let c = at(b, i);
        let c1 = at(b, i + 1);
        // One dispatch on the first byte of the token (a jump table): spaces, comments, words,
        // numbers, quotes and punctuation.
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => i += 1,
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | 0x80..=0xff => {
                let mut j = i + 1;
                let mut high = c;
                while j < n {
                    let d = at(b, j);
                    if !is_word_cont(d) {
                        break;
                    }
                    high |= d;
                    j += 1;
                }
                let raw = b.get(i..j).unwrap_or_default();
                let next = at(b, j);
                if next == b'\'' && is_string_prefix(raw, f) {
                    let backslash = f == Flavor::MySql || raw.eq_ignore_ascii_case(b"e");
                    let (end, value) = scan_quoted(text, j, b'\'', backslash);
                    literals.push(value);
                    out.push_byte(Tok::Literal, b'?');
                    spans.push((i, end));
                    i = end;
                } else if f == Flavor::Postgres
                    && raw.eq_ignore_ascii_case(b"u")
                    && next == b'&'
                    && at(b, j + 1) == b'\''
                {
                    let (end, value) = scan_quoted(text, j + 1, b'\'', false);
                    literals.push(value);
                    out.push_byte(Tok::Literal, b'?');
                    spans.push((i, end));
                    i = end;
                } else {
                    out.push_word(raw, high < 0x80);
                    i = j;
                }
            }
            b'0'..=b'9' => {
                let end = scan_number(b, i);
                if end < n && is_word_cont(at(b, end)) {
                    // Identifier starting with digits (MySQL allows `1table`).
                    let mut j = end;
                    while j < n && is_word_cont(at(b, j)) {
                        j += 1;
                    }
                    let w = b.get(i..j).unwrap_or_default();
                    out.push_word(w, w.is_ascii());
                    i = j;
                } else {
                    literals.push(slice(text, i, end).to_string());
                    out.push_byte(Tok::Literal, b'?');
                    spans.push((i, end));
                    i = end;
                }
            }
            b'-' if c1 == b'-' && (f == Flavor::Postgres || i + 2 >= n || at(b, i + 2) <= b' ') => {
                let end = skip_line(b, i);
                comments.push((i, end));
                i = end;
            }
            b'#' if f == Flavor::MySql => {
                let end = skip_line(b, i);
                comments.push((i, end));
                i = end;
            }
            b'/' if c1 == b'*' => {
                if f == Flavor::MySql && at(b, i + 2) == b'!' {
                    // MySQL executable comment: its content is SQL.
                    i += 3;
                    while i < n && at(b, i).is_ascii_digit() {
                        i += 1;
                    }
                    in_mysql_exec_comment = true;
                } else {
                    let end = skip_block_comment(b, i, f == Flavor::Postgres);
                    comments.push((i, end));
                    i = end;
                }
            }
            b'*' if c1 == b'/' && in_mysql_exec_comment => {
                in_mysql_exec_comment = false;
                i += 2;
            }
            b';' => {
                out.end_statement();
                i += 1;
            }
            b'(' => {
                out.push_byte(Tok::Open, b'(');
                i += 1;
            }
            b')' => {
                out.push_byte(Tok::Close, b')');
                i += 1;
            }
            b'[' => {
                out.push_byte(Tok::OpenBracket, b'[');
                i += 1;
            }
            b']' => {
                out.push_byte(Tok::CloseBracket, b']');
                i += 1;
            }
            b',' => {
                out.push_byte(Tok::Comma, b',');
                i += 1;
            }
            b'\'' => {
                let (end, value) = scan_quoted(text, i, b'\'', f == Flavor::MySql);
                literals.push(value);
                out.push_byte(Tok::Literal, b'?');
                spans.push((i, end));
                i = end;
            }
            b'"' if f == Flavor::MySql => {
                let (end, value) = scan_quoted(text, i, b'"', true);
                literals.push(value);
                out.push_byte(Tok::Literal, b'?');
                spans.push((i, end));
                i = end;
            }
            b'"' => {
                let (end, _) = scan_quoted(text, i, b'"', false);
                out.push(Tok::Quoted, slice(text, i, end));
                i = end;
            }
            b'`' if f == Flavor::MySql => {
                let (end, _) = scan_quoted(text, i, b'`', false);
                out.push(Tok::Quoted, slice(text, i, end));
                i = end;
            }
            b'$' if f == Flavor::Postgres => {
                if c1.is_ascii_digit() {
                    let mut j = i + 1;
                    while j < n && at(b, j).is_ascii_digit() {
                        j += 1;
                    }
                    out.push(Tok::Param, slice(text, i, j));
                    i = j;
                } else if let Some((end, value)) = scan_dollar_quoted(text, i) {
                    literals.push(value);
                    out.push_byte(Tok::Literal, b'?');
                    spans.push((i, end));
                    i = end;
                } else {
                    out.push_byte(Tok::Other, b'$');
                    i += 1;
                }
            }
            b'?' if f == Flavor::MySql => {
                out.push_byte(Tok::Param, b'?');
                i += 1;
            }
            b'@' if f == Flavor::MySql => {
                let mut j = i + 1;
                if at(b, j) == b'@' {
                    j += 1;
                }
                while j < n && is_word_cont(at(b, j)) {
                    j += 1;
                }
                let w = b.get(i..j).unwrap_or_default();
                out.push_word(w, w.is_ascii());
                i = j;
            }
            b':' if c1 == b':' && f == Flavor::Postgres => {
                out.push(Tok::DoubleColon, "::");
                i += 2;
            }
            b'.' if c1.is_ascii_digit() && !follows_name(b, i) => {
                let end = scan_number(b, i);
                literals.push(slice(text, i, end).to_string());
                out.push_byte(Tok::Literal, b'?');
                spans.push((i, end));
                i = end;
            }
            b'.' => {
                out.push_byte(Tok::Dot, b'.');
                i += 1;
            }
            _ if is_op_char(f, c) => {
                let end = scan_operator(b, i, f);
                out.push(Tok::Op, slice(text, i, end));
                i = end;
            }
            _ => {
                // Anything else: one character (a whole UTF-8 sequence never starts here because
                // bytes >= 0x80 start words), printable ASCII kept, control bytes replaced.
                if c.is_ascii_graphic() {
                    out.push(Tok::Other, slice(text, i, i + 1));
                } else {
                    out.push(Tok::Other, "\u{fffd}");
                }
                i += 1;
            }
        }
    }
    into.normalized = String::from_utf8(out.text)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    into.statements = out.statements;
    into.operators = out.operators;
}

fn is_string_prefix(raw: &[u8], f: Flavor) -> bool {
    match raw {
        b"e" | b"E" | b"b" | b"B" | b"x" | b"X" | b"n" | b"N" => true,
        _ => f == Flavor::MySql && raw.first() == Some(&b'_'),
    }
}

/// Whether the byte before `i` ends a name, making a `.` at `i` a qualifier dot.
fn follows_name(b: &[u8], i: usize) -> bool {
    i > 0 && {
        let p = at(b, i - 1);
        is_word_cont(p) || matches!(p, b'"' | b'`' | b')' | b']')
    }
}

fn skip_line(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && at(b, i) != b'\n' {
        i += 1;
    }
    i
}

/// Skips a `/* ... */` comment starting at `i`; PostgreSQL nests them, MySQL does not.
fn skip_block_comment(b: &[u8], mut i: usize, nested: bool) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        if at(b, i) == b'/' && at(b, i + 1) == b'*' {
            if depth == 0 || nested {
                depth += 1;
            }
            i += 2;
        } else if at(b, i) == b'*' && at(b, i + 1) == b'/' {
            depth = depth.saturating_sub(1);
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Scans a quoted token starting at the opening quote `start`. Doubled quotes escape the quote;
/// with `backslash`, `\x` escapes too. Unterminated tokens run to the end of the text. Returns the
/// end offset and the unescaped content.
fn scan_quoted(text: &str, start: usize, quote: u8, backslash: bool) -> (usize, String) {
    let b = text.as_bytes();
    let n = b.len();
    // Fast path: no escape before the closing quote; the value is a slice of the text.
    let body = start + 1;
    let special = b
        .get(body..)
        .unwrap_or_default()
        .iter()
        .position(|&c| c == quote || (backslash && c == b'\\'));
    match special {
        None => return (n, slice(text, body, n).to_string()),
        Some(p) if at(b, body + p) == quote && at(b, body + p + 1) != quote => {
            return (body + p + 1, slice(text, body, body + p).to_string());
        }
        Some(_) => {}
    }
    let mut value: Vec<u8> = Vec::with_capacity(32);
    let mut i = body;
    let owned = |v: Vec<u8>| {
        String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    };
    while i < n {
        let c = at(b, i);
        if c == quote {
            if at(b, i + 1) == quote {
                value.push(quote);
                i += 2;
                continue;
            }
            return (i + 1, owned(value));
        }
        if backslash && c == b'\\' && i + 1 < n {
            let e = at(b, i + 1);
            match e {
                b'n' => value.push(b'\n'),
                b't' => value.push(b'\t'),
                b'r' => value.push(b'\r'),
                b'0' => value.push(0),
                b'b' => value.push(8),
                b'Z' => value.push(26),
                _ => value.push(e),
            }
            i += 2;
            continue;
        }
        value.push(c);
        i += 1;
    }
    (n, owned(value))
}

/// Scans a PostgreSQL dollar-quoted string (`$$...$$`, `$tag$...$tag$`) at `start`; `None` when
/// the `$` does not open one.
fn scan_dollar_quoted(text: &str, start: usize) -> Option<(usize, String)> {
    let b = text.as_bytes();
    let mut j = start + 1;
    if j < b.len() && (at(b, j).is_ascii_alphabetic() || at(b, j) == b'_' || at(b, j) >= 0x80) {
        while j < b.len()
            && (at(b, j).is_ascii_alphanumeric() || at(b, j) == b'_' || at(b, j) >= 0x80)
        {
            j += 1;
        }
    }
    if at(b, j) != b'$' {
        return None;
    }
    let delim = text.get(start..=j)?;
    let body_start = j + 1;
    let rest = text.get(body_start..).unwrap_or("");
    match rest.find(delim) {
        Some(pos) => {
            let value = rest.get(..pos).unwrap_or("").to_string();
            Some((body_start + pos + delim.len(), value))
        }
        None => Some((text.len(), rest.to_string())),
    }
}

/// Scans a numeric literal starting at `start` (a digit, or `.` followed by a digit).
fn scan_number(b: &[u8], start: usize) -> usize {
    let n = b.len();
    let mut i = start;
    if at(b, i) == b'0' && matches!(at(b, i + 1), b'x' | b'X') && at(b, i + 2).is_ascii_hexdigit() {
        i += 2;
        while i < n && (at(b, i).is_ascii_hexdigit() || at(b, i) == b'_') {
            i += 1;
        }
        return i;
    }
    if at(b, i) == b'0'
        && matches!(at(b, i + 1), b'b' | b'B')
        && matches!(at(b, i + 2), b'0' | b'1')
    {
        i += 2;
        while i < n && matches!(at(b, i), b'0' | b'1' | b'_') {
            i += 1;
        }
        return i;
    }
    while i < n && (at(b, i).is_ascii_digit() || at(b, i) == b'_') {
        i += 1;
    }
    if at(b, i) == b'.' {
        i += 1;
        while i < n && (at(b, i).is_ascii_digit() || at(b, i) == b'_') {
            i += 1;
        }
    }
    if matches!(at(b, i), b'e' | b'E') {
        let sign = usize::from(matches!(at(b, i + 1), b'+' | b'-'));
        if at(b, i + 1 + sign).is_ascii_digit() {
            i += 1 + sign;
            while i < n && at(b, i).is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// Scans a run of operator characters, stopping before a comment start. PostgreSQL's rule that a
/// multi-character operator cannot end in `+`/`-` (unless it contains one of `~!@#%^&|`?`) is
/// applied so that `=-1` scans as `=` then `-`.
fn scan_operator(b: &[u8], start: usize, f: Flavor) -> usize {
    let mut i = start;
    while i < b.len() && is_op_char(f, at(b, i)) {
        if i > start {
            let c = at(b, i);
            let c1 = at(b, i + 1);
            if (c == b'-' && c1 == b'-') || (c == b'/' && c1 == b'*') {
                break;
            }
        }
        i += 1;
    }
    let run = b.get(start..i).unwrap_or(&[]);
    if run.len() > 1 && !run.iter().any(|c| b"~!@#%^&|`?".contains(c)) {
        while i > start + 1 && matches!(at(b, i - 1), b'+' | b'-') {
            i -= 1;
        }
    }
    i.max(start + 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sql::Dialect;

    fn norm(d: Dialect, s: &str) -> String {
        scan(d, s).normalized
    }

    #[test]
    fn class_table_matches_definitions() {
        for b in 0..=255u8 {
            assert_eq!(
                is_word_start(b),
                b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
            );
            assert_eq!(
                is_word_cont(b),
                b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
            );
            assert_eq!(
                is_space(b),
                matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
            );
            assert_eq!(
                is_op_char(Flavor::Postgres, b),
                b"+-*/<>=~!@#%^&|`?".contains(&b)
            );
            assert_eq!(is_op_char(Flavor::MySql, b), b"+-*/<>=~!%^&|:".contains(&b));
        }
    }

    #[test]
    fn scan_into_reuses_buffers() {
        let mut s = Scanned::default();
        scan_into(Dialect::Postgres, "SELECT 'a', 1 FROM t; SELECT 2", &mut s);
        assert_eq!(s.normalized, "select ?, ? from t; select ?");
        assert_eq!(s.literals, vec!["a", "1", "2"]);
        assert_eq!(s.statements, 2);
        scan_into(Dialect::MySql, "BEGIN", &mut s);
        assert_eq!(s.normalized, "begin");
        assert!(s.literals.is_empty() && s.spans.is_empty());
        assert_eq!(s.statements, 1);
    }

    #[test]
    fn keyword_list_is_sorted() {
        for w in SPACED_BEFORE_PAREN {
            assert!(spaced_before_paren(w.as_bytes()), "{w}");
        }
        for w in [
            "count", "max", "coalesce", "nextval", "f", "", "selects", "i",
        ] {
            assert!(!spaced_before_paren(w.as_bytes()), "{w}");
        }
        let mut sorted = SPACED_BEFORE_PAREN.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, SPACED_BEFORE_PAREN);
    }

    #[test]
    fn normalises_pgbench() {
        let s = scan(
            Dialect::Postgres,
            "UPDATE pgbench_accounts SET abalance = abalance + -42 WHERE aid = 5;",
        );
        assert_eq!(
            s.normalized,
            "update pgbench_accounts set abalance = abalance + - ? where aid = ?"
        );
        assert_eq!(s.literals, vec!["42", "5"]);
        assert_eq!(s.statements, 1);
    }

    #[test]
    fn whitespace_case_comments_and_literals_do_not_matter() {
        let a = norm(
            Dialect::Postgres,
            "SELECT abalance FROM pgbench_accounts WHERE aid = 5;",
        );
        let b = norm(
            Dialect::Postgres,
            "select  abalance\n\tfrom pgbench_accounts /* c */ where aid=123 -- x\n",
        );
        assert_eq!(a, b);
        assert_eq!(a, "select abalance from pgbench_accounts where aid = ?");
    }

    #[test]
    fn canonical_spacing() {
        assert_eq!(
            norm(
                Dialect::Postgres,
                "SELECT count( * ),u.id,x::text FROM t WHERE a IN(1,2) AND f (x)>=3.5e3"
            ),
            "select count(*), u.id, x::text from t where a in (?, ?) and f(x) >= ?"
        );
        assert_eq!(
            norm(Dialect::Postgres, "SELECT a[1] FROM t WHERE b=-1"),
            "select a[?] from t where b = - ?"
        );
    }

    #[test]
    fn strings_and_escapes() {
        let s = scan(
            Dialect::Postgres,
            "SELECT 'it''s', E'a\\'b', $$x;y$$, $tag$ z $tag$, \"Mixed\", $1",
        );
        assert_eq!(s.normalized, "select ?, ?, ?, ?, \"Mixed\", $1");
        assert_eq!(s.literals, vec!["it's", "a'b", "x;y", " z "]);
        let m = scan(
            Dialect::MySql,
            "SELECT `Col`, \"dq\", 'a\\'b', x'ff', _utf8mb4'hi', ? FROM t # c\n",
        );
        assert_eq!(m.normalized, "select `Col`, ?, ?, ?, ?, ? from t");
        assert_eq!(m.literals, vec!["dq", "a'b", "ff", "hi"]);
    }

    #[test]
    fn numbers_and_words() {
        let s = scan(Dialect::MySql, "SELECT 0x1F, .5, 1e-3, 1table FROM t2");
        assert_eq!(s.normalized, "select ?, ?, ?, 1table from t2");
        assert_eq!(s.literals, vec!["0x1F", ".5", "1e-3"]);
    }

    #[test]
    fn mysql_comments() {
        assert_eq!(
            norm(Dialect::MySql, "/*!40101 SET NAMES utf8 */; SELECT 1--1"),
            "set names utf8; select ? - - ?"
        );
        assert_eq!(norm(Dialect::MySql, "SELECT 1 -- comment\n"), "select ?");
    }

    #[test]
    fn statements_counted() {
        let s = scan(Dialect::Postgres, ";; BEGIN; SELECT 1;; COMMIT;");
        assert_eq!(s.normalized, "begin; select ?; commit");
        assert_eq!(s.statements, 3);
        assert_eq!(scan(Dialect::Postgres, "  ;  ").statements, 0);
    }

    #[test]
    fn unterminated_and_junk_never_panic() {
        for t in [
            "'abc",
            "\"abc",
            "$tag$ abc",
            "/* abc",
            "E'\\",
            "$",
            "0x",
            "1e",
            "\u{0}\u{1}\u{7f}ÿ€",
            "U&",
            "--",
            "@",
            "`",
        ] {
            let _ = scan(Dialect::Postgres, t);
            let _ = scan(Dialect::MySql, t);
        }
        assert_eq!(norm(Dialect::Postgres, "'abc"), "?");
        assert_eq!(norm(Dialect::Postgres, "\u{1}x"), "\u{fffd} x");
    }
}
