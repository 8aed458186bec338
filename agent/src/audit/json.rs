//! A hand-written JSON writer for the one event written per statement. serde_json writes
//! every member name through its byte-by-byte escaping loop; here names are literals and
//! strings are scanned eight bytes at a time for the three things JSON escapes. The output is
//! byte for byte what serde_json writes for the same value (see the tests), so the hash chain
//! and `dbgov verify` see no difference.
use std::collections::BTreeMap;

use super::{Outcome, StatementEvent, StatementRef};
use crate::policy::{Action, Level};
use crate::session::Status;

/// An event the [`super::Encoder`] writes as one JSON object.
pub trait WriteJson {
    /// Appends the event's JSON object (no trailing newline) to `out`.
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;

    /// As [`WriteJson::write_json`], and returns where in `out` the connection's context was
    /// written, if the event has one: the bytes from the `"host"` key to the end of the
    /// `session` value (`"host":{..},"client":{..},"server":{..},"db":{..},"session":{..}`),
    /// which the [`super::Encoder`] hashes once per distinct context.
    fn write_json_context(&self, out: &mut Vec<u8>) -> Result<Option<Context>, serde_json::Error> {
        self.write_json(out).map(|()| None)
    }
}

/// Where [`WriteJson::write_json_context`] wrote an event's context.
pub struct Context {
    /// The context's bytes in the output.
    pub range: std::ops::Range<usize>,
    /// Their `context_hash`, when the event's writer knows it already (see
    /// [`super::StatementEvent::context_hash`]); otherwise the encoder computes it.
    pub hash: Option<[u8; 64]>,
    /// Where the event's `statement` value was written (after the context), which the
    /// encoder hashes apart as well.
    pub statement: Option<std::ops::Range<usize>>,
    /// Its `statement_hash`, when the writer knows it already (a reused [`WholeStatement`]).
    pub statement_hash: Option<[u8; 64]>,
}

/// Appends a connection's context as an event holds it:
/// `"host":{..},"client":{..},"server":{..},"db":{..},"session":{..}`.
pub fn context(
    out: &mut Vec<u8>,
    [host, client, server, db, session]: [&serde_json::value::RawValue; 5],
) {
    for (name, raw) in [
        (&b"\"host\":"[..], host),
        (b",\"client\":", client),
        (b",\"server\":", server),
        (b",\"db\":", db),
        (b",\"session\":", session),
    ] {
        out.extend_from_slice(name);
        out.extend_from_slice(raw.get().as_bytes());
    }
}

/// Any serde value, written by serde_json.
pub struct Ser<'a, T: ?Sized>(pub &'a T);

impl<T: serde::Serialize + ?Sized> WriteJson for Ser<'_, T> {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(out, self.0)
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `w` is below 0x20, `"` or `\`.
#[inline]
fn special(w: u64) -> bool {
    let below = w.wrapping_sub(LO * 0x20) & !w;
    let q = w ^ (LO * u64::from(b'"'));
    let quote = q.wrapping_sub(LO) & !q;
    let b = w ^ (LO * u64::from(b'\\'));
    let backslash = b.wrapping_sub(LO) & !b;
    (below | quote | backslash) & HI != 0
}

/// The bytes of `t` (fewer than eight) as one word for [`special`]: two overlapping loads
/// cover them all (some bytes appear twice), and a space (never escaped) fills the rest.
/// Built in registers: copying the tail into a stack buffer and loading it back as a word
/// stalls the load on the byte stores (no store forwarding), which cost more than the whole
/// scan of a short string (about 4% of the agent's CPU in a live profile).
#[inline]
fn tail_word(t: &[u8]) -> u64 {
    const SPACES: u64 = LO * 0x20;
    let n = t.len();
    debug_assert!(n < 8);
    match t {
        [] => SPACES,
        [a] => (SPACES << 8) | u64::from(*a),
        [a, b] | [a, b, _] => {
            let head = u64::from(u16::from_le_bytes([*a, *b]));
            let tail = u64::from(u16::from_le_bytes([t[n - 2], t[n - 1]]));
            head | (tail << 16) | (SPACES << 32)
        }
        [a, b, c, d, ..] => {
            let head = u64::from(u32::from_le_bytes([*a, *b, *c, *d]));
            let tail = u64::from(u32::from_le_bytes([t[n - 4], t[n - 3], t[n - 2], t[n - 1]]));
            head | (tail << 32)
        }
    }
}

/// `s`, which holds nothing JSON escapes (ids, times, the schema name), as a JSON string.
fn plain(out: &mut Vec<u8>, s: &str) {
    debug_assert!(!s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'));
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// `s` as a JSON string, escaped as serde_json escapes it.
pub fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.push(b'"');
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        if let Some(Ok(w)) = bytes.get(i..i + 8).map(<[u8; 8]>::try_from) {
            if !special(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        } else if let Some(tail) = bytes.get(i..) {
            // Fewer than eight bytes left: one test of a word made of them.
            if !special(tail_word(tail)) {
                break;
            }
        }
        let b = bytes[i];
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ],
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn u64_(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => u64_(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

fn bool_(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

fn strings(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, s);
    }
    out.push(b']');
}

fn map(out: &mut Vec<u8>, m: &BTreeMap<String, String>) {
    out.push(b'{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, k);
        out.push(b':');
        string(out, v);
    }
    out.push(b'}');
}

fn action(a: Action) -> &'static str {
    match a {
        Action::Allow => "\"allow\"",
        Action::Alert => "\"alert\"",
        Action::Mask => "\"mask\"",
        Action::Hold => "\"hold\"",
        Action::Block => "\"block\"",
    }
}

fn level(l: Option<Level>) -> &'static str {
    match l {
        None => "null",
        Some(Level::Public) => "\"public\"",
        Some(Level::Internal) => "\"internal\"",
        Some(Level::Confidential) => "\"confidential\"",
        Some(Level::Restricted) => "\"restricted\"",
    }
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Ok => "\"ok\"",
        Status::Error => "\"error\"",
        Status::Incomplete => "\"incomplete\"",
    }
}

/// The part of a `statement` value that depends on its analysis alone, from `,"fingerprint":`
/// to the `parse_error` value, rendered once per analysis (a shape seen again costs a copy
/// instead of escaping its fingerprint, tables and columns anew). The text is not in it: the
/// text shown keeps the client's case and spacing, which the analysis's normalised text does
/// not.
#[derive(Debug)]
pub struct Rendered(Box<[u8]>);

impl Rendered {
    /// Renders what of `a` a statement event shows besides the text: its fingerprint, tables,
    /// columns read and written (as analysed) and parse error.
    pub fn of(a: &crate::sql::Analysis) -> Self {
        let mut tail = Vec::new();
        statement_tail(
            &mut tail,
            Some(&a.fingerprint),
            &a.tables,
            &a.columns_read,
            &a.columns_written,
            a.parse_error.as_deref(),
        );
        Self(tail.into_boxed_slice())
    }
}

/// A whole `statement` value as written for one analysis, with the parts of it that come from
/// the client (the text as sent, the kind, the prepared statement's name and parameter count,
/// the truncation) and its `statement_hash`. An event of the same analysis whose client parts
/// are equal and which has no other part of its own (parameter values, COPY bytes, tags,
/// trace) writes these bytes again instead of rendering and hashing them: a prepared
/// statement executed again, or a query sent again with other literals.
#[derive(Debug)]
pub struct WholeStatement {
    text: Option<Box<str>>,
    kind: Option<Box<str>>,
    prepared: bool,
    name: Option<Box<str>>,
    params: Option<u32>,
    truncated: bool,
    json: Box<[u8]>,
    hash: [u8; 64],
}

impl WholeStatement {
    /// Whether `s` writes nothing but its client parts and its analysis's rendered parts.
    fn plain(s: &StatementRef<'_>) -> bool {
        s.rendered.is_some()
            && s.param_values.is_none()
            && s.copy_bytes.is_none()
            && s.tags.is_empty()
            && s.trace_id.is_none()
            && s.span_id.is_none()
    }

    /// Whether `s` (plain, of the analysis holding this) writes exactly these bytes.
    fn fits(&self, s: &StatementRef<'_>) -> bool {
        self.prepared == s.prepared
            && self.params == s.params
            && self.truncated == s.truncated
            && self.text.as_deref() == s.text
            && self.kind.as_deref() == s.kind
            && self.name.as_deref() == s.name
    }

    fn of(s: &StatementRef<'_>, json: &[u8]) -> Self {
        Self {
            text: s.text.map(Into::into),
            kind: s.kind.map(Into::into),
            prepared: s.prepared,
            name: s.name.map(Into::into),
            params: s.params,
            truncated: s.truncated,
            json: json.into(),
            hash: super::context_hash(json),
        }
    }
}

/// Writes `s`'s `statement` value, reusing (or keeping) its analysis's [`WholeStatement`]
/// when it can; returns the value's `statement_hash` when known.
fn statement_value(out: &mut Vec<u8>, s: &StatementRef<'_>) -> Option<[u8; 64]> {
    let Some(memo) = s.whole.filter(|_| WholeStatement::plain(s)) else {
        statement(out, s);
        return None;
    };
    match memo.get() {
        Some(w) if w.fits(s) => {
            debug_assert!(whole_renders_as(&w.json, s), "a reused statement differs");
            out.extend_from_slice(&w.json);
            Some(w.hash)
        }
        Some(_) => {
            statement(out, s);
            None
        }
        None => {
            let start = out.len();
            statement(out, s);
            let w = WholeStatement::of(s, out.get(start..).unwrap_or_default());
            let hash = w.hash;
            memo.set(w);
            Some(hash)
        }
    }
}

fn statement_tail(
    out: &mut Vec<u8>,
    fingerprint: Option<&str>,
    tables: &[String],
    read: &[String],
    written: &[String],
    parse_error: Option<&str>,
) {
    out.extend_from_slice(b",\"fingerprint\":");
    opt_str(out, fingerprint);
    out.extend_from_slice(b",\"tables\":");
    strings(out, tables);
    out.extend_from_slice(b",\"columns\":{\"read\":");
    strings(out, read);
    out.extend_from_slice(b",\"written\":");
    strings(out, written);
    out.extend_from_slice(b"},\"parse_error\":");
    opt_str(out, parse_error);
}

/// Whether `render` writes exactly `bytes` (debug builds check each reuse of a [`Rendered`]
/// with it, in a reused buffer: the allocation count of a replay stays what release builds do).
fn renders_as(bytes: &[u8], render: impl Fn(&mut Vec<u8>)) -> bool {
    thread_local! {
        static CHECK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    CHECK.with_borrow_mut(|b| {
        b.clear();
        render(b);
        b == bytes
    })
}

/// Whether `s` writes exactly `bytes` (debug builds check each reuse of a [`WholeStatement`]
/// with it, in a reused buffer of its own: [`statement`] checks its rendered part in the
/// other).
fn whole_renders_as(bytes: &[u8], s: &StatementRef<'_>) -> bool {
    thread_local! {
        static CHECK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    CHECK.with_borrow_mut(|b| {
        b.clear();
        statement(b, s);
        b == bytes
    })
}

fn statement(out: &mut Vec<u8>, s: &StatementRef<'_>) {
    out.extend_from_slice(b"{\"text\":");
    opt_str(out, s.text);
    out.extend_from_slice(b",\"kind\":");
    opt_str(out, s.kind);
    out.extend_from_slice(b",\"prepared\":");
    bool_(out, s.prepared);
    out.extend_from_slice(b",\"name\":");
    opt_str(out, s.name);
    out.extend_from_slice(b",\"params\":");
    opt_u64(out, s.params.map(u64::from));
    out.extend_from_slice(b",\"param_values\":");
    match s.param_values {
        None => out.extend_from_slice(b"null"),
        Some(vs) => {
            out.push(b'[');
            for (i, v) in vs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                opt_str(out, v.as_deref());
            }
            out.push(b']');
        }
    }
    let tail = |out: &mut Vec<u8>| {
        statement_tail(
            out,
            s.fingerprint,
            s.tables,
            &s.columns.read,
            s.columns.written,
            s.parse_error,
        )
    };
    match s.rendered {
        Some(r) => {
            debug_assert!(renders_as(&r.0, tail), "a reused statement part differs");
            out.extend_from_slice(&r.0);
        }
        None => tail(out),
    }
    // The usual end (no COPY, not cut, no tags, no trace) in one copy.
    if s.copy_bytes.is_none()
        && !s.truncated
        && s.tags.is_empty()
        && s.trace_id.is_none()
        && s.span_id.is_none()
    {
        out.extend_from_slice(
            b",\"copy_bytes\":null,\"truncated\":false,\"tags\":{},\"trace_id\":null,\"span_id\":null}",
        );
        return;
    }
    out.extend_from_slice(b",\"copy_bytes\":");
    opt_u64(out, s.copy_bytes);
    out.extend_from_slice(b",\"truncated\":");
    bool_(out, s.truncated);
    out.extend_from_slice(b",\"tags\":");
    map(out, s.tags);
    out.extend_from_slice(b",\"trace_id\":");
    opt_str(out, s.trace_id);
    out.extend_from_slice(b",\"span_id\":");
    opt_str(out, s.span_id);
    out.push(b'}');
}

fn outcome(out: &mut Vec<u8>, o: &Outcome) {
    out.extend_from_slice(b"{\"status\":");
    out.extend_from_slice(status(o.status).as_bytes());
    out.extend_from_slice(b",\"rows\":");
    opt_u64(out, o.rows);
    out.extend_from_slice(b",\"error_code\":");
    opt_str(out, o.error_code.as_deref());
    out.extend_from_slice(b",\"error_message\":");
    opt_str(out, o.error_message.as_deref());
    out.extend_from_slice(b",\"duration_us\":");
    opt_u64(out, o.duration_us);
    out.push(b'}');
}

impl WriteJson for StatementEvent<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        self.write_json_context(out).map(|_| ())
    }

    fn write_json_context(&self, out: &mut Vec<u8>) -> Result<Option<Context>, serde_json::Error> {
        out.extend_from_slice(b"{\"schema\":");
        plain(out, self.schema);
        out.extend_from_slice(b",\"event_id\":");
        plain(out, self.event_id);
        out.extend_from_slice(b",\"time\":");
        plain(out, self.time);
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(self.kind.as_str().as_bytes());
        out.push(b'"');
        if let Some(s) = self.source {
            out.extend_from_slice(b",\"source\":");
            string(out, s);
        }
        out.push(b',');
        let context_start = out.len();
        context(
            out,
            [self.host, self.client, self.server, self.db, self.session],
        );
        let range = context_start..out.len();
        out.extend_from_slice(b",\"statement\":");
        let statement_start = out.len();
        let statement_hash = statement_value(out, &self.statement);
        let statement_range = statement_start..out.len();
        if let Some(o) = &self.outcome {
            out.extend_from_slice(b",\"outcome\":");
            outcome(out, o);
        }
        // Most statements touch no class and are allowed by no rule: those parts are written
        // whole, in one copy each.
        let c = &self.classification;
        if c.classes.is_empty() && c.level.is_none() {
            out.extend_from_slice(b",\"classification\":{\"classes\":[],\"level\":null}");
        } else {
            out.extend_from_slice(b",\"classification\":{\"classes\":");
            strings(out, c.classes);
            out.extend_from_slice(b",\"level\":");
            out.extend_from_slice(level(c.level).as_bytes());
            out.push(b'}');
        }
        let p = &self.policy;
        if p.verdict == Action::Allow
            && p.rules.is_empty()
            && p.severity.is_none()
            && p.message.is_none()
        {
            out.extend_from_slice(
                b",\"policy\":{\"verdict\":\"allow\",\"rules\":[],\"severity\":null,\"message\":null}",
            );
        } else {
            out.extend_from_slice(b",\"policy\":{\"verdict\":");
            out.extend_from_slice(action(p.verdict).as_bytes());
            out.extend_from_slice(b",\"rules\":");
            strings(out, p.rules);
            out.extend_from_slice(b",\"severity\":");
            opt_str(out, p.severity);
            out.extend_from_slice(b",\"message\":");
            opt_str(out, p.message);
            out.push(b'}');
        }
        if let Some(a) = self.approval {
            out.extend_from_slice(b",\"approval\":");
            serde_json::to_writer(&mut *out, a)?;
        }
        out.push(b'}');
        Ok(Some(Context {
            range,
            hash: self.context_hash,
            statement: Some(statement_range),
            statement_hash,
        }))
    }
}

#[cfg(test)]
impl<'a> StatementEvent<'a> {
    /// Tests: a statement event with its header, its context and a statement text, and every
    /// other part empty.
    pub(crate) fn bare(
        event_id: &'a str,
        time: &'a str,
        [host, client, server, db, session]: [&'a serde_json::value::RawValue; 5],
        text: Option<&'a str>,
    ) -> Self {
        use super::{ClassificationRef, ColumnsRef, Kind, PolicyRef, SCHEMA};
        static NO_TAGS: BTreeMap<String, String> = BTreeMap::new();
        StatementEvent {
            schema: SCHEMA,
            event_id,
            time,
            kind: Kind::Statement,
            source: None,
            host,
            client,
            server,
            db,
            session,
            statement: StatementRef {
                text,
                kind: None,
                prepared: false,
                name: None,
                params: None,
                param_values: None,
                fingerprint: None,
                tables: &[],
                columns: ColumnsRef {
                    read: std::borrow::Cow::Borrowed(&[]),
                    written: &[],
                },
                parse_error: None,
                copy_bytes: None,
                truncated: false,
                tags: &NO_TAGS,
                trace_id: None,
                span_id: None,
                rendered: None,
                whole: None,
            },
            outcome: None,
            classification: ClassificationRef {
                classes: &[],
                level: None,
            },
            policy: PolicyRef {
                verdict: Action::Allow,
                rules: &[],
                severity: None,
                message: None,
            },
            approval: None,
            context_hash: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{
        Approval, ApprovalStatus, ClassificationRef, ColumnsRef, Kind, PolicyRef, SCHEMA,
    };
    use serde_json::value::RawValue;

    #[test]
    fn strings_escape_as_serde_json_does() {
        let mut all = String::new();
        for c in (0u32..0x80).filter_map(char::from_u32) {
            all.push(c);
            all.push_str("abcdefghij");
        }
        let cases = [
            "",
            "plain ascii text longer than eight bytes",
            "\"",
            "\\",
            "a\"b\\c\nd\re\tf\u{8}g\u{c}h\u{1}i\u{1f}j\u{7f}",
            "é ü 漢字 😀 and a \"quote\" after 16 bytes........",
            "12345678\"12345678\\1234567\n",
            all.as_str(),
        ];
        // Every escaped byte (and a harmless one) at every place in strings of 1 to 20 bytes,
        // so that the eight-byte words and the shorter tail are both tested.
        let mut more = Vec::new();
        for len in 1..=20 {
            for at in 0..len {
                for c in ['"', '\\', '\n', '\u{0}', '\u{1f}', ' ', '~', 'é'] {
                    let mut t: String = "x".repeat(len - 1);
                    t.insert(at, c);
                    more.push(t);
                }
            }
        }
        // Two escaped bytes anywhere in strings of 2 to 12 bytes (the tail word holds some
        // bytes twice).
        for len in 2..=12 {
            for a in 0..len {
                for b in a + 1..len {
                    let mut t: Vec<char> = vec!['y'; len];
                    t[a] = '"';
                    t[b] = '\u{1}';
                    more.push(t.into_iter().collect());
                }
            }
        }
        for s in cases.into_iter().chain(more.iter().map(String::as_str)) {
            let mut mine = Vec::new();
            string(&mut mine, s);
            assert_eq!(
                String::from_utf8(mine).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn the_tail_word_finds_an_escaped_byte_at_any_place_and_only_then() {
        for len in 0..8 {
            let clean = vec![b'a'; len];
            assert!(!special(tail_word(&clean)), "{len} clean bytes");
            for at in 0..len {
                for c in [b'"', b'\\', b'\n', 0, 0x1f] {
                    let mut t = clean.clone();
                    t[at] = c;
                    assert!(special(tail_word(&t)), "{t:?}");
                }
            }
        }
    }

    fn event_bytes(fast: bool, ev: &StatementEvent<'_>) -> String {
        let mut out = Vec::new();
        if fast {
            ev.write_json(&mut out).unwrap();
        } else {
            serde_json::to_writer(&mut out, ev).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    /// `base` with the parts `a` renders (`r`, rendered from it): its fingerprint, tables,
    /// columns and parse error.
    fn analysed<'a>(
        a: &'a crate::sql::Analysis,
        r: &'a Rendered,
        base: StatementRef<'a>,
    ) -> StatementRef<'a> {
        StatementRef {
            fingerprint: Some(&a.fingerprint),
            tables: &a.tables,
            columns: ColumnsRef {
                read: std::borrow::Cow::Borrowed(&a.columns_read),
                written: &a.columns_written,
            },
            parse_error: a.parse_error.as_deref(),
            rendered: Some(r),
            ..base
        }
    }

    #[test]
    fn a_whole_statement_is_reused_only_where_it_writes_the_same_bytes() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        let (host, client, server, db, session) = (
            raw(r#"{"name":"h"}"#),
            raw(r#"{"pid":1}"#),
            raw(r#"{"pid":2}"#),
            raw(r#"{"engine":"postgresql"}"#),
            raw(r#"{"id":"0000000000000001"}"#),
        );
        let mut an = crate::sql::Analyzer::new(crate::sql::AnalyzerConfig::default());
        let text = "SELECT email FROM users WHERE id = $1";
        let (a, _) = an.analyze(crate::sql::Dialect::Postgres, text);
        let r = Rendered::of(&a);
        let mut tags = BTreeMap::new();
        tags.insert("app".to_string(), "billing".to_string());
        let empty = BTreeMap::new();
        let event = |text: &'static str,
                     name: Option<&'static str>,
                     params: Option<u32>,
                     truncated: bool,
                     tags: &'static BTreeMap<String, String>| {
            let base = StatementEvent::bare(
                "79a997a2-3db1-1b12-0000-00000000138b",
                "2026-11-26T05:43:50.468310434Z",
                [&host, &client, &server, &db, &session],
                None,
            );
            StatementEvent {
                statement: StatementRef {
                    text: Some(text),
                    kind: Some("SELECT"),
                    prepared: name.is_some(),
                    name,
                    params,
                    truncated,
                    tags,
                    whole: Some(&a.whole),
                    ..analysed(&a, &r, base.statement)
                },
                ..base
            }
        };
        let tags: &'static BTreeMap<String, String> = Box::leak(Box::new(tags));
        let empty: &'static BTreeMap<String, String> = Box::leak(Box::new(empty));
        let first = event(text, Some("P_1"), Some(1), false, empty);
        assert!(a.whole.get().is_none());
        assert_eq!(event_bytes(true, &first), event_bytes(false, &first));
        assert!(a.whole.get().is_some(), "the first plain statement is kept");
        // The same again (reused), then every client part changed in turn, then tags; the
        // kept value stays the first one's throughout.
        for ev in [
            event(text, Some("P_1"), Some(1), false, empty),
            event(text, Some("P_2"), Some(1), false, empty),
            event(text, None, Some(1), false, empty),
            event(text, Some("P_1"), Some(2), false, empty),
            event(text, Some("P_1"), Some(1), true, empty),
            event(
                "select email from users where id = $1",
                Some("P_1"),
                Some(1),
                false,
                empty,
            ),
            event(text, Some("P_1"), Some(1), false, tags),
            event(text, Some("P_1"), Some(1), false, empty),
        ] {
            assert_eq!(event_bytes(true, &ev), event_bytes(false, &ev));
        }
        // Through the encoder: the reused value's hash is its SHA-256, as for any other.
        let mut enc = crate::audit::Encoder::new("s".into());
        for _ in 0..2 {
            let mut out = Vec::new();
            enc.encode_json_into(&first, &mut out).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            // The value's bytes as written: from its key to the next part's.
            let line = String::from_utf8(out).unwrap();
            let start = line.find(",\"statement\":").unwrap() + ",\"statement\":".len();
            let end = start + line[start..].find(",\"classification\":").unwrap();
            assert_eq!(
                v["integrity"]["statement_hash"]
                    .as_str()
                    .unwrap()
                    .as_bytes(),
                &crate::audit::context_hash(&line.as_bytes()[start..end])
            );
        }
    }

    #[test]
    fn a_statement_event_is_written_byte_for_byte_as_serde_json_writes_it() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        let (host, client, server, db, session) = (
            raw(r#"{"name":"h","id":null,"environment":"prod","labels":{"a":"b"}}"#),
            raw(r#"{"pid":1,"purpose":null}"#),
            raw(r#"{"pid":2,"exe":null,"addr":"127.0.0.1:5432"}"#),
            raw(r#"{"engine":"postgresql","user":"u","name":"d","application":null}"#),
            raw(r#"{"id":"0000000000000001","tls":false}"#),
        );
        let tables = vec!["public.users".to_string(), "t\"x".to_string()];
        let read = vec!["public.users.email".to_string()];
        let written = vec!["t\"x.a\nb".to_string()];
        let mut tags = BTreeMap::new();
        tags.insert("app".to_string(), "billing".to_string());
        tags.insert("route".to_string(), "/a\\b".to_string());
        let classes = vec!["email".to_string(), "pii".to_string()];
        let rules = vec!["no-pii-export".to_string()];
        let params = vec![Some("x\u{1}".to_string()), None];
        let approval = Approval {
            id: "a1".into(),
            status: ApprovalStatus::Approved,
            by: Some("alice".into()),
            for_secs: Some(60),
        };
        let empty = BTreeMap::new();
        let full = StatementEvent {
            schema: SCHEMA,
            event_id: "79a997a2-3db1-1b12-0000-00000000138b",
            time: "2026-11-26T05:43:50.468310434Z",
            kind: Kind::Statement,
            source: Some("proxy"),
            host: &host,
            client: &client,
            server: &server,
            db: &db,
            session: &session,
            statement: StatementRef {
                text: Some("SELECT \"email\" FROM users WHERE note = '\t'"),
                kind: Some("SELECT"),
                prepared: true,
                name: Some("P_1"),
                params: Some(2),
                param_values: Some(&params),
                fingerprint: Some("d9f30254fbdb0c0d"),
                tables: &tables,
                columns: ColumnsRef {
                    read: std::borrow::Cow::Borrowed(&read),
                    written: &written,
                },
                parse_error: Some("unexpected \"token\""),
                copy_bytes: Some(12),
                truncated: true,
                tags: &tags,
                trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736"),
                span_id: Some("00f067aa0ba902b7"),
                rendered: None,
                whole: None,
            },
            outcome: Some(Outcome {
                status: Status::Error,
                rows: Some(3),
                error_code: Some("42501".into()),
                error_message: Some("permission denied for table \"users\"".into()),
                duration_us: Some(202),
            }),
            classification: ClassificationRef {
                classes: &classes,
                level: Some(Level::Restricted),
            },
            policy: PolicyRef {
                verdict: Action::Block,
                rules: &rules,
                severity: Some("high"),
                message: Some("no \"pii\""),
            },
            approval: Some(&approval),
            context_hash: None,
        };
        assert_eq!(event_bytes(true, &full), event_bytes(false, &full));
        // Parts rendered once for an analysis write what the fields would.
        let mut an = crate::sql::Analyzer::new(crate::sql::AnalyzerConfig::default());
        for text in [
            "SELECT \"e\tmail\", note FROM users u JOIN \"Or\"\"ders\" o ON o.uid = u.id WHERE u.id = 5 -- \u{2028}x",
            "UPDATE accounts SET balance = balance + 1 WHERE id = 2",
            "SELEC nonsense \u{1}",
        ] {
            let (a, _) = an.analyze(crate::sql::Dialect::Postgres, text);
            let r = Rendered::of(&a);
            let base = StatementEvent::bare(
                full.event_id,
                full.time,
                [&host, &client, &server, &db, &session],
                None,
            );
            let reused = StatementEvent {
                statement: StatementRef {
                    text: Some(&a.redacted_text),
                    ..analysed(&a, &r, base.statement)
                },
                ..base
            };
            assert_eq!(event_bytes(true, &reused), event_bytes(false, &reused), "{text}");
        }
        let minimal = StatementEvent::bare(
            full.event_id,
            full.time,
            [&host, &client, &server, &db, &session],
            None,
        );
        assert_eq!(event_bytes(true, &minimal), event_bytes(false, &minimal));
        for (a, l, s) in [
            (Action::Allow, Level::Public, Status::Ok),
            (Action::Alert, Level::Internal, Status::Incomplete),
            (Action::Mask, Level::Confidential, Status::Ok),
            (Action::Hold, Level::Restricted, Status::Error),
        ] {
            let ev = StatementEvent {
                kind: Kind::Approval,
                policy: PolicyRef {
                    verdict: a,
                    rules: &[],
                    severity: None,
                    message: None,
                },
                classification: ClassificationRef {
                    classes: &[],
                    level: Some(l),
                },
                outcome: Some(Outcome {
                    status: s,
                    ..Default::default()
                }),
                statement: StatementRef {
                    tags: &empty,
                    columns: ColumnsRef {
                        read: std::borrow::Cow::Borrowed(&[]),
                        written: &[],
                    },
                    ..minimal.statement
                },
                ..minimal
            };
            assert_eq!(event_bytes(true, &ev), event_bytes(false, &ev));
        }
    }

    #[test]
    fn a_context_hash_given_with_the_event_seals_the_same_line_as_one_computed() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        let parts = [
            raw(r#"{"name":"h","id":null,"environment":null,"labels":{}}"#),
            raw(r#"{"pid":7,"exe":"/usr/bin/psql","purpose":null}"#),
            raw(r#"{"pid":8,"exe":null,"addr":"127.0.0.1:5432"}"#),
            raw(r#"{"engine":"postgresql","user":"u","name":"d","application":"psql"}"#),
            raw(r#"{"id":"0000000000000002","tls":true}"#),
        ];
        let [host, client, server, db, session] = &parts;
        let refs = [&**host, &**client, &**server, &**db, &**session];
        let computed = StatementEvent::bare("e1", "t1", refs, Some("select 1"));
        let given = StatementEvent {
            context_hash: Some(crate::audit::context_hash_of(refs)),
            ..StatementEvent::bare("e1", "t1", refs, Some("select 1"))
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let (mut ea, mut eb) = (
            crate::audit::Encoder::new("s".into()),
            crate::audit::Encoder::new("s".into()),
        );
        for _ in 0..2 {
            ea.encode_json_into(&computed, &mut a).unwrap();
            eb.encode_json_into(&given, &mut b).unwrap();
        }
        assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
    }
}
