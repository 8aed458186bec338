//! The servers' own statement logs as the oracle for completeness (issue 11).
//!
//! PostgreSQL runs with `log_statement = all` and writes its log as CSV (`csvlog` through the
//! logging collector): one record per message, multi-line statements and `DETAIL` parameter lines
//! quoted inside their record, with the backend pid and `application_name` in their own columns.
//! MariaDB writes its general log to a file: one record per command, with the connection id.
//!
//! Both are read into per-session lists of statement texts (per PostgreSQL backend pid or MariaDB
//! connection id) and compared, in count and in order, with the agent's statement events for the
//! same `session.backend_id`.
//!
//! # What counts as a statement on the server side
//!
//! PostgreSQL:
//! - `LOG  statement: TEXT` (a simple-protocol Query message, one record for the whole string
//!   even when it carries several statements) and `LOG  execute NAME: TEXT` /
//!   `execute fetch from STMT/PORTAL: TEXT` (each extended-protocol Execute). Parse and Bind are
//!   not logged with `log_statement` alone, and the agent reports one event per Execute.
//! - A statement that fails before it is logged (a syntax error found by the parser, a Bind
//!   error) appears only as an `ERROR` record whose `query` column holds its text. An `ERROR`
//!   whose `query` is the text most recently logged for the same backend, and not yet matched
//!   with an error, belongs to that logged statement; any other `ERROR` with a `query` is a
//!   statement of its own.
//!
//! MariaDB (general log):
//! - `Query` records are statements (a multi-statement string is one record, as it is one
//!   COM_QUERY and one agent event). The server logs them before parsing, so syntax errors are
//!   there too.
//! - `Execute` records (COM_STMT_EXECUTE, logged with the parameter values substituted) are
//!   statements, except the one the server writes right after an SQL-level `EXECUTE` Query on
//!   the same connection.
//! - `Prepare`, `Connect`, `Quit`, `Init DB`, `Long Data`, `Close stmt`, `Reset stmt`, `Fetch`,
//!   `Field List`, `Ping` and the other administrative commands are not statements. A
//!   COM_STMT_PREPARE that fails is reported by the agent as a statement, but the general log
//!   cannot tell a failed prepare from a successful one: the workloads do not prepare invalid
//!   SQL through the binary protocol.
//!
//! # How texts are compared
//!
//! The agent replaces literals by `?` (the default redaction), the PostgreSQL log shows `$1`
//! placeholders, and MariaDB's `Execute` records show the bound values in place of `?`. Both sides
//! are reduced with the same [`normalize`]: comments dropped; quoted strings, numbers,
//! dollar-quoted strings, `$n` and `?` placeholders and the words `NULL`, `TRUE` and `FALSE` all
//! become `?`; unquoted words lower-cased; whitespace removed except one space between two words
//! or literals; trailing `;` dropped. Two texts that differ only in literal values, layout or
//! keyword case compare equal; a different table, column or operator does not.
//!
//! A statement longer than the capture limit may be reported with its text cut: an agent text
//! that is a prefix of exactly one server statement longer than 16 KiB of the same session
//! stands for that statement. (A cut text that leaks part of a literal is not a prefix.)
//!
//! The comparison aligns the two lists of a session by their longest common subsequence. What the
//! server logged and the agent did not report is *missing*; what the agent reported more often
//! than the server logged it is *duplicated* (or *invented* when the server never logged that text
//! on that session); the same text on both sides but at different places is *reordered*. A
//! matched statement that the agent reported with `outcome.status: incomplete` counts as
//! *incomplete*: the workloads wait for every answer, so the server completed it (statements
//! longer than 16 KiB excepted, which may be cut by the capture limit).
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;

/// Which server's rules apply to a text (quoting and comments differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
}

/// The comparison key of a statement text (see the module documentation).
pub fn normalize(text: &str, engine: Engine) -> String {
    let b: Vec<char> = text.chars().collect();
    let n = b.len();
    let mut out = String::with_capacity(text.len());
    // Whether the last token pushed was a word or a literal (a space separates two of them).
    let mut prev_wordish = false;
    let mut i = 0;
    let push_lit = |out: &mut String, prev_wordish: &mut bool| {
        if *prev_wordish {
            out.push(' ');
        }
        out.push('?');
        *prev_wordish = true;
    };
    while i < n {
        let c = b[i];
        let c1 = b.get(i + 1).copied().unwrap_or('\0');
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // Comments.
        if c == '-' && c1 == '-' {
            while i < n && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if engine == Engine::Mysql && c == '#' {
            while i < n && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && c1 == '*' {
            let mut depth = 0usize;
            while i < n {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth = depth.saturating_sub(1);
                    i += 2;
                    if depth == 0 || engine == Engine::Mysql {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            continue;
        }
        // Quoted strings (and MySQL double-quoted strings).
        if c == '\'' || (c == '"' && engine == Engine::Mysql) {
            // A string prefix written against the quote (E'', B'', X'', N'', _binary'') is part
            // of the literal: drop the word just pushed.
            if i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_') {
                drop_string_prefix(&mut out, &mut prev_wordish);
            }
            let backslash = engine == Engine::Mysql || {
                // E'...' strings take backslash escapes in PostgreSQL.
                i > 0 && matches!(b[i - 1], 'e' | 'E')
            };
            i += 1;
            while i < n {
                if backslash && b[i] == '\\' {
                    i += 2;
                    continue;
                }
                if b[i] == c {
                    if b.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            push_lit(&mut out, &mut prev_wordish);
            continue;
        }
        // Quoted identifiers: kept verbatim.
        if (c == '"' && engine == Engine::Postgres) || (c == '`' && engine == Engine::Mysql) {
            let start = i;
            i += 1;
            while i < n {
                if b[i] == c {
                    if b.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(n);
            if prev_wordish {
                out.push(' ');
            }
            out.extend(&b[start..i]);
            prev_wordish = true;
            continue;
        }
        // PostgreSQL `$1` placeholders and `$tag$ ... $tag$` strings.
        if c == '$' && engine == Engine::Postgres {
            if c1.is_ascii_digit() {
                i += 1;
                while i < n && b[i].is_ascii_digit() {
                    i += 1;
                }
                push_lit(&mut out, &mut prev_wordish);
                continue;
            }
            let mut j = i + 1;
            while j < n && (b[j].is_alphanumeric() || b[j] == '_') {
                j += 1;
            }
            if j < n && b[j] == '$' {
                let tag: Vec<char> = b[i..=j].to_vec();
                let mut k = j + 1;
                let mut end = n;
                while k + tag.len() <= n {
                    if b[k..k + tag.len()] == tag[..] {
                        end = k + tag.len();
                        break;
                    }
                    k += 1;
                }
                i = end;
                push_lit(&mut out, &mut prev_wordish);
                continue;
            }
        }
        // Numbers (a digit, or a dot followed by a digit, not inside a word).
        if c.is_ascii_digit() || (c == '.' && c1.is_ascii_digit()) {
            if c == '0' && matches!(c1, 'x' | 'X' | 'b' | 'B') {
                i += 2;
                while i < n && b[i].is_ascii_hexdigit() {
                    i += 1;
                }
            } else {
                while i < n && (b[i].is_ascii_digit() || b[i] == '.') {
                    i += 1;
                }
                if i < n && matches!(b[i], 'e' | 'E') {
                    let s = usize::from(matches!(b.get(i + 1), Some('+' | '-')));
                    if b.get(i + 1 + s).is_some_and(|d| d.is_ascii_digit()) {
                        i += 1 + s;
                        while i < n && b[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
            }
            push_lit(&mut out, &mut prev_wordish);
            continue;
        }
        if c == '?' {
            i += 1;
            push_lit(&mut out, &mut prev_wordish);
            continue;
        }
        // Words.
        if c.is_alphanumeric() || c == '_' || (c == '@' && engine == Engine::Mysql) {
            let start = i;
            i += 1;
            while i < n && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '$' || b[i] == '@') {
                i += 1;
            }
            let word: String = b[start..i].iter().collect::<String>().to_lowercase();
            if matches!(word.as_str(), "null" | "true" | "false") {
                push_lit(&mut out, &mut prev_wordish);
                continue;
            }
            if prev_wordish {
                out.push(' ');
            }
            out.push_str(&word);
            prev_wordish = true;
            continue;
        }
        // Any other character is a token of its own.
        out.push(c);
        prev_wordish = false;
        i += 1;
    }
    while out.ends_with(';') {
        out.pop();
    }
    out
}

/// Drops a string-literal prefix (`e`, `b`, `x`, `n`, `_charset`, and MariaDB's temporal
/// `timestamp`, `date`, `time`) just pushed, when it is written directly against the quote.
fn drop_string_prefix(out: &mut String, prev_wordish: &mut bool) {
    let last_word_start = out
        .rfind(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
        .map(|p| p + 1)
        .unwrap_or(0);
    let word = &out[last_word_start..];
    // MariaDB writes temporal parameters of an `Execute` as `TIMESTAMP'2024-01-02 03:04:05'`.
    let is_prefix = matches!(word, "e" | "b" | "x" | "n" | "timestamp" | "date" | "time")
        || word.starts_with('_');
    if is_prefix && !word.is_empty() {
        out.truncate(last_word_start);
        if out.ends_with(' ') {
            out.pop();
        }
        *prev_wordish = out
            .chars()
            .last()
            .is_some_and(|ch| ch.is_alphanumeric() || ch == '_' || ch == '?');
    }
}

/// One session as the server logged it.
#[derive(Debug, Default, Clone)]
pub struct ServerSession {
    /// The workload the session belongs to (PostgreSQL: its `application_name`; MariaDB: set by
    /// the caller from where its first record is in the log).
    pub label: String,
    /// Statement texts in the order the server logged them.
    pub statements: Vec<String>,
    /// Where the session's first record is in the log: the record index (0-based) in a
    /// PostgreSQL csvlog, the byte offset in a MariaDB general log.
    pub first_offset: usize,
}

/// Splits CSV text (RFC 4180 as PostgreSQL writes it) into records of fields.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                any = false;
            }
            '\r' => {}
            _ => field.push(c),
        }
    }
    if any {
        record.push(field);
        records.push(record);
    }
    records
}

/// PostgreSQL 15 csvlog columns used here.
const PG_PID: usize = 3;
const PG_SEVERITY: usize = 11;
const PG_MESSAGE: usize = 13;
const PG_QUERY: usize = 19;
const PG_APP: usize = 22;

/// The statements of a PostgreSQL csvlog, per backend pid.
pub fn postgres_sessions(csv: &str) -> BTreeMap<u64, ServerSession> {
    let mut sessions: BTreeMap<u64, ServerSession> = BTreeMap::new();
    // Per pid: the text last logged and not yet matched with an ERROR.
    let mut pending: HashMap<u64, String> = HashMap::new();
    for (offset, rec) in parse_csv(csv).into_iter().enumerate() {
        let field = |i: usize| rec.get(i).map(String::as_str).unwrap_or("");
        let Ok(pid) = field(PG_PID).parse::<u64>() else {
            continue;
        };
        let severity = field(PG_SEVERITY);
        let message = field(PG_MESSAGE);
        let text = match severity {
            "LOG" => {
                if let Some(t) = message.strip_prefix("statement: ") {
                    Some(t.to_string())
                } else if message.starts_with("execute ") {
                    message.find(": ").map(|p| message[p + 2..].to_string())
                } else {
                    None
                }
            }
            "ERROR" => {
                let q = field(PG_QUERY);
                if q.is_empty() {
                    None
                } else if pending.get(&pid).is_some_and(|p| p == q) {
                    pending.remove(&pid);
                    None
                } else {
                    // Never logged as a statement (parser or Bind error): a statement of its own,
                    // already answered by this error.
                    let s = sessions.entry(pid).or_insert_with(|| ServerSession {
                        first_offset: offset,
                        ..Default::default()
                    });
                    if s.label.is_empty() {
                        s.label = field(PG_APP).to_string();
                    }
                    s.statements.push(q.to_string());
                    None
                }
            }
            _ => None,
        };
        if let Some(t) = text {
            pending.insert(pid, t.clone());
            let s = sessions.entry(pid).or_insert_with(|| ServerSession {
                first_offset: offset,
                ..Default::default()
            });
            if s.label.is_empty() {
                s.label = field(PG_APP).to_string();
            }
            s.statements.push(t);
        }
    }
    sessions
}

/// The commands MariaDB writes to its general log (`Command` column).
const MYSQL_COMMANDS: &[&str] = &[
    "Sleep",
    "Quit",
    "Init DB",
    "Query",
    "Field List",
    "Create DB",
    "Drop DB",
    "Refresh",
    "Shutdown",
    "Statistics",
    "Processlist",
    "Connect",
    "Kill",
    "Debug",
    "Ping",
    "Time",
    "Delayed insert",
    "Change user",
    "Binlog Dump",
    "Table Dump",
    "Connect Out",
    "Register Slave",
    "Prepare",
    "Execute",
    "Long Data",
    "Close stmt",
    "Reset stmt",
    "Set option",
    "Fetch",
    "Daemon",
    "Unimpl get tid",
    "Reset connection",
    "Bulk_execute",
    "Slave_worker",
    "Slave_IO",
    "Slave_SQL",
    "Error",
];

/// One record of MariaDB's general log.
#[derive(Debug, Clone)]
pub struct GeneralLogRecord {
    pub conn: u64,
    pub command: String,
    pub argument: String,
    /// Byte offset of the record's line in the log.
    pub offset: usize,
}

/// Parses one general-log line that starts a record: `[YYMMDD HH:MM:SS]\t   ID Command\tArg`.
fn general_log_head(line: &str) -> Option<(u64, &'static str, &str)> {
    let (stamp, rest) = line.split_once('\t')?;
    if !stamp
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == ':')
    {
        return None;
    }
    let rest = rest.trim_start_matches(['\t', ' ']);
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    if digits == 0 {
        return None;
    }
    let conn: u64 = rest[..digits].parse().ok()?;
    let rest = rest[digits..].strip_prefix(' ')?;
    let (command, arg) = match rest.split_once('\t') {
        Some((c, a)) => (c, a),
        None => (rest, ""),
    };
    let command = MYSQL_COMMANDS.iter().find(|c| **c == command)?;
    Some((conn, command, arg))
}

/// Splits MariaDB's general log into records (continuation lines belong to the record before).
pub fn parse_general_log(text: &str) -> Vec<GeneralLogRecord> {
    let mut records: Vec<GeneralLogRecord> = Vec::new();
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        let here = offset;
        offset += line.len();
        let line = line.strip_suffix('\n').unwrap_or(line);
        if let Some((conn, command, arg)) = general_log_head(line) {
            records.push(GeneralLogRecord {
                conn,
                command: command.to_string(),
                argument: arg.to_string(),
                offset: here,
            });
        } else if line.starts_with("/usr/sbin/mariadbd, Version:")
            || line.starts_with("Tcp port:")
            || line.starts_with("Time\t")
        {
            // The header written when the log file is opened.
        } else if let Some(last) = records.last_mut() {
            last.argument.push('\n');
            last.argument.push_str(line);
        }
    }
    records
}

/// The statements of a MariaDB general log, per connection id (labels left empty).
pub fn mariadb_sessions(log: &str) -> BTreeMap<u64, ServerSession> {
    let mut sessions: BTreeMap<u64, ServerSession> = BTreeMap::new();
    let mut last_command: HashMap<u64, (String, String)> = HashMap::new();
    for r in parse_general_log(log) {
        let s = sessions.entry(r.conn).or_insert_with(|| ServerSession {
            first_offset: r.offset,
            ..Default::default()
        });
        let is_statement = match r.command.as_str() {
            "Query" => true,
            "Execute" | "Bulk_execute" => !last_command.get(&r.conn).is_some_and(|(c, a)| {
                c == "Query" && normalize(a, Engine::Mysql).starts_with("execute ")
            }),
            _ => false,
        };
        if is_statement {
            s.statements.push(r.argument.clone());
        }
        last_command.insert(r.conn, (r.command, r.argument));
    }
    sessions
}

/// The agent's statement events of one engine (`db.engine`: `postgresql` or `mysql`) per
/// `session.backend_id`, in the order written, and those without a backend id.
pub fn agent_sessions<'a>(
    events: &'a [Value],
    engine: &str,
) -> (BTreeMap<u64, Vec<&'a Value>>, Vec<&'a Value>) {
    let mut by = BTreeMap::<u64, Vec<&Value>>::new();
    let mut none = Vec::new();
    for e in events {
        if e["kind"] != "statement" || e["db"]["engine"] != engine {
            continue;
        }
        match e["session"]["backend_id"].as_u64() {
            Some(id) => by.entry(id).or_default().push(e),
            None => none.push(e),
        }
    }
    (by, none)
}

/// The text of a statement event (`<null>` for a statement prepared before the agent started).
pub fn event_text(e: &Value) -> &str {
    e["statement"]["text"].as_str().unwrap_or("<null>")
}

/// Differences between the server's and the agent's statements, summed over sessions.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sessions: usize,
    pub server: usize,
    pub agent: usize,
    pub missing: usize,
    pub invented: usize,
    pub duplicated: usize,
    pub reordered: usize,
    /// Statements the server completed that the agent reported with `outcome.status:
    /// incomplete` (statements cut by the capture limit excepted).
    pub incomplete: usize,
    /// A few examples of each difference, for the failure message.
    pub examples: Vec<String>,
}

impl Tally {
    pub fn is_clean(&self) -> bool {
        self.missing + self.invented + self.duplicated + self.reordered + self.incomplete == 0
    }

    pub fn add(&mut self, o: &Tally) {
        self.sessions += o.sessions;
        self.server += o.server;
        self.agent += o.agent;
        self.missing += o.missing;
        self.invented += o.invented;
        self.duplicated += o.duplicated;
        self.reordered += o.reordered;
        self.incomplete += o.incomplete;
        for e in &o.examples {
            if self.examples.len() < 40 {
                self.examples.push(e.clone());
            }
        }
    }

    fn example(&mut self, s: String) {
        if self.examples.len() < 12 {
            self.examples.push(s);
        }
    }
}

/// Longest common subsequence of two key lists: the matched pairs of indices, in order. Common
/// prefixes and suffixes are matched first, so the quadratic part only covers the differences.
fn lcs(a: &[String], b: &[String]) -> Vec<(usize, usize)> {
    let mut pre = 0;
    while pre < a.len() && pre < b.len() && a[pre] == b[pre] {
        pre += 1;
    }
    let mut suf = 0;
    while suf < a.len() - pre && suf < b.len() - pre && a[a.len() - 1 - suf] == b[b.len() - 1 - suf]
    {
        suf += 1;
    }
    let mut pairs: Vec<(usize, usize)> = (0..pre).map(|i| (i, i)).collect();
    let am = &a[pre..a.len() - suf];
    let bm = &b[pre..b.len() - suf];
    let (n, m) = (am.len(), bm.len());
    if n > 0 && m > 0 {
        if n.saturating_mul(m) <= 64_000_000 {
            // dp[i][j] = LCS length of am[i..] and bm[j..].
            let w = m + 1;
            let mut dp = vec![0u32; (n + 1) * w];
            for i in (0..n).rev() {
                for j in (0..m).rev() {
                    dp[i * w + j] = if am[i] == bm[j] {
                        dp[(i + 1) * w + j + 1] + 1
                    } else {
                        dp[(i + 1) * w + j].max(dp[i * w + j + 1])
                    };
                }
            }
            let (mut i, mut j) = (0, 0);
            while i < n && j < m {
                if am[i] == bm[j] {
                    pairs.push((pre + i, pre + j));
                    i += 1;
                    j += 1;
                } else if dp[(i + 1) * w + j] >= dp[i * w + j + 1] {
                    i += 1;
                } else {
                    j += 1;
                }
            }
        } else {
            // Too large to align exactly: greedy forward matching.
            let mut j = 0;
            for (i, k) in am.iter().enumerate() {
                if let Some(p) = bm[j..].iter().position(|x| x == k) {
                    pairs.push((pre + i, pre + j + p));
                    j += p + 1;
                }
            }
        }
    }
    pairs.extend((0..suf).map(|k| (a.len() - suf + k, b.len() - suf + k)));
    pairs
}

/// Server statements longer than this (in bytes) may be reported with a cut text.
const TRUNCATION_MIN: usize = 16 * 1024;

/// Compares one session: the server's statement texts with the agent's, in order. An agent
/// text that is a prefix of one server statement longer than 16 KiB of the same session counts
/// as that statement (a statement cut by the capture limit is reported with the part captured).
pub fn compare_session(id: u64, server: &[String], agent: &[String], engine: Engine) -> Tally {
    align(id, server, agent, engine).0
}

/// [`compare_session`], also returning the matched (server, agent) index pairs.
fn align(
    id: u64,
    server: &[String],
    agent: &[String],
    engine: Engine,
) -> (Tally, Vec<(usize, usize)>) {
    let sk: Vec<String> = server.iter().map(|t| normalize(t, engine)).collect();
    let mut ak: Vec<String> = agent.iter().map(|t| normalize(t, engine)).collect();
    // A statement longer than the capture limit may be reported with its text cut: an agent
    // text that is a prefix of exactly one long server statement of the session stands for it.
    for k in ak.iter_mut() {
        if k.len() < 8 || sk.contains(k) {
            continue;
        }
        let mut long: Vec<&String> = server
            .iter()
            .zip(&sk)
            .filter(|(raw, key)| raw.len() > TRUNCATION_MIN && key.starts_with(k.as_str()))
            .map(|(_, key)| key)
            .collect();
        long.sort();
        long.dedup();
        if let [full] = long[..] {
            *k = full.clone();
        }
    }
    let pairs = lcs(&sk, &ak);
    let mut matched_s = vec![false; sk.len()];
    let mut matched_a = vec![false; ak.len()];
    for &(i, j) in &pairs {
        matched_s[i] = true;
        matched_a[j] = true;
    }
    let mut t = Tally {
        sessions: 1,
        server: sk.len(),
        agent: ak.len(),
        ..Default::default()
    };
    // Per key: unmatched occurrences on each side, and the total counts.
    let mut keys: BTreeMap<&str, (usize, usize, usize, usize)> = BTreeMap::new();
    for (i, k) in sk.iter().enumerate() {
        let e = keys.entry(k).or_default();
        e.0 += 1;
        if !matched_s[i] {
            e.2 += 1;
        }
    }
    for (j, k) in ak.iter().enumerate() {
        let e = keys.entry(k).or_default();
        e.1 += 1;
        if !matched_a[j] {
            e.3 += 1;
        }
    }
    for (k, (sc, ac, us, ua)) in keys {
        let reordered = us.min(ua);
        t.reordered += reordered;
        if reordered > 0 {
            t.example(format!("session {id}: reordered x{reordered}: {k}"));
        }
        if us > reordered {
            t.missing += us - reordered;
            t.example(format!("session {id}: missing x{}: {k}", us - reordered));
        }
        if ua > reordered {
            let extra = ua - reordered;
            if sc > 0 && ac > sc {
                t.duplicated += extra;
                t.example(format!("session {id}: duplicated x{extra}: {k}"));
            } else {
                t.invented += extra;
                t.example(format!("session {id}: invented x{extra}: {k}"));
            }
        }
    }
    (t, pairs)
}

/// Compares every server session with the agent's events of the same backend id, and sums the
/// result per workload label. Agent events on backend ids the server never logged, or without
/// a backend id, are counted as invented under the label `(unattributed)`.
pub fn compare(
    server: &BTreeMap<u64, ServerSession>,
    events: &[Value],
    engine: Engine,
) -> BTreeMap<String, Tally> {
    let engine_name = match engine {
        Engine::Postgres => "postgresql",
        Engine::Mysql => "mysql",
    };
    let (agent, unattributed) = agent_sessions(events, engine_name);
    let mut by_label: BTreeMap<String, Tally> = BTreeMap::new();
    for (id, s) in server {
        let evs: &[&Value] = agent.get(id).map(Vec::as_slice).unwrap_or_default();
        let texts: Vec<String> = evs.iter().map(|e| event_text(e).to_string()).collect();
        let (mut t, pairs) = align(*id, &s.statements, &texts, engine);
        for (i, j) in pairs {
            if evs[j]["outcome"]["status"] == "incomplete"
                && s.statements[i].len() <= TRUNCATION_MIN
            {
                t.incomplete += 1;
                t.example(format!(
                    "session {id}: reported incomplete, completed by the server: {}",
                    compact(evs[j])
                ));
            }
        }
        by_label.entry(s.label.clone()).or_default().add(&t);
    }
    let mut stray = Tally::default();
    for (id, evs) in &agent {
        if server.contains_key(id) {
            continue;
        }
        stray.sessions += 1;
        stray.agent += evs.len();
        stray.invented += evs.len();
        for e in evs.iter().take(3) {
            stray.example(format!(
                "backend {id} unknown to the server log: {}",
                compact(e)
            ));
        }
    }
    stray.agent += unattributed.len();
    stray.invented += unattributed.len();
    for e in unattributed.iter().take(5) {
        stray.example(format!("no session.backend_id: {}", compact(e)));
    }
    if stray.agent > 0 {
        by_label.insert("(unattributed)".to_string(), stray);
    }
    by_label
}

/// A one-line summary of a statement event for failure messages.
pub fn compact(e: &Value) -> String {
    format!(
        "[{} backend={} client.pid={} comm={} observed_at={}] {}",
        e["outcome"]["status"].as_str().unwrap_or("?"),
        e["session"]["backend_id"],
        e["client"]["pid"],
        e["client"]["comm"],
        e["session"]["observed_at"],
        event_text(e)
    )
}

/// The report table: one row per workload and a total.
pub fn table(title: &str, rows: &BTreeMap<String, Tally>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n{title}");
    let _ = writeln!(
        s,
        "| {:<22} | {:>8} | {:>7} | {:>7} | {:>7} | {:>8} | {:>10} | {:>9} | {:>10} |",
        "workload",
        "sessions",
        "server",
        "agent",
        "missing",
        "invented",
        "duplicated",
        "reordered",
        "incomplete"
    );
    let _ = writeln!(
        s,
        "|{:-<24}|{:-<10}|{:-<9}|{:-<9}|{:-<9}|{:-<10}|{:-<12}|{:-<11}|{:-<12}|",
        "", "", "", "", "", "", "", "", ""
    );
    let mut total = Tally::default();
    let line = |s: &mut String, name: &str, t: &Tally| {
        let _ = writeln!(
            s,
            "| {:<22} | {:>8} | {:>7} | {:>7} | {:>7} | {:>8} | {:>10} | {:>9} | {:>10} |",
            name,
            t.sessions,
            t.server,
            t.agent,
            t.missing,
            t.invented,
            t.duplicated,
            t.reordered,
            t.incomplete
        );
    };
    for (name, t) in rows {
        line(&mut s, name, t);
        total.add(t);
    }
    line(&mut s, "TOTAL", &total);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_placeholders_and_layout_compare_equal() {
        let pg = |s| normalize(s, Engine::Postgres);
        assert_eq!(
            pg("SELECT abalance FROM pgbench_accounts WHERE aid = $1;"),
            pg("SELECT abalance\n  FROM pgbench_accounts WHERE aid = 42")
        );
        assert_eq!(
            pg("select 'a''b', E'x\\'y', $$z$$, -1.5e3"),
            "select ?,?,?,-?"
        );
        assert_eq!(
            pg("SELECT * FROM \"T\" -- c\n /* d */"),
            "select*from \"T\""
        );
        assert_eq!(
            pg("INSERT INTO t VALUES (?, ?, NULL)"),
            "insert into t values(?,?,?)"
        );
        assert_ne!(pg("SELECT a FROM t"), pg("SELECT b FROM t"));
        let my = |s| normalize(s, Engine::Mysql);
        assert_eq!(
            my("INSERT INTO t VALUES (1, 'it\\'s', \"q\", NULL, _binary'x')"),
            my("INSERT INTO t VALUES (?, ?, ?, ?, ?)")
        );
        assert_eq!(my("SELECT `a b` FROM t # c"), "select `a b` from t");
    }

    #[test]
    fn a_cut_text_stands_for_its_long_statement() {
        let long = format!("INSERT INTO t VALUES ('{}')", "x".repeat(70_000));
        let t = compare_session(
            1,
            &[long.clone(), "SELECT 1".into(), long.clone()],
            &[
                "INSERT INTO t VALUES (?".into(),
                "SELECT ?".into(),
                "INSERT INTO t VALUES (?".into(),
            ],
            Engine::Postgres,
        );
        assert!(t.is_clean(), "{t:?}");
        let leaked = format!("INSERT INTO t VALUES (?{}", "x".repeat(16_000));
        let t = compare_session(1, &[long], &[leaked], Engine::Postgres);
        assert_eq!((t.missing, t.invented), (1, 1));
    }

    #[test]
    fn csv_records_span_lines() {
        let r = parse_csv("a,\"b\nc\",\"d\"\"e\"\nx,y\n");
        assert_eq!(r, vec![vec!["a", "b\nc", "d\"e"], vec!["x", "y"]]);
    }

    #[test]
    fn postgres_errors_without_a_logged_statement_are_statements() {
        let row = |pid: u32, sev: &str, msg: &str, q: &str| {
            format!(
                "t,u,d,{pid},h,s,1,tag,t,v,0,{sev},00000,\"{msg}\",,,,,,\"{q}\",,,app,client backend,,0\n"
            )
        };
        let csv = [
            row(7, "LOG", "statement: SELECT 1", ""),
            row(7, "ERROR", "syntax error", "SELEC 1"),
            row(7, "LOG", "execute <unnamed>: SELECT $1", ""),
            row(7, "ERROR", "boom", "SELECT $1"),
            row(8, "LOG", "execute fetch from S_1/C_2: SELECT x", ""),
        ]
        .concat();
        let s = postgres_sessions(&csv);
        assert_eq!(s[&7].statements, vec!["SELECT 1", "SELEC 1", "SELECT $1"]);
        assert_eq!(s[&7].label, "app");
        assert_eq!(s[&8].statements, vec!["SELECT x"]);
    }

    #[test]
    fn general_log_records_and_sql_level_execute() {
        let log = "/usr/sbin/mariadbd, Version: 10.11 started with:\nTcp port: 1  Unix socket: s\nTime\t\t    Id Command\tArgument\n\
261202  6:14:03\t     4 Connect\troot@localhost on d1 using TCP/IP\n\
\t\t     4 Query\tINSERT INTO t VALUES (2, 'b\nc')\n\
\t\t     4 Query\tEXECUTE s USING @a\n\
\t\t     4 Execute\tSELECT * FROM t WHERE id = 1\n\
\t\t     4 Prepare\tSELECT ?\n\
\t\t     4 Execute\tSELECT 5\n\
\t\t     4 Quit\t\n";
        let s = mariadb_sessions(log);
        assert_eq!(
            s[&4].statements,
            vec![
                "INSERT INTO t VALUES (2, 'b\nc')",
                "EXECUTE s USING @a",
                "SELECT 5"
            ]
        );
    }

    #[test]
    fn comparison_counts_each_kind_of_difference() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let t = compare_session(
            1,
            &v(&["SELECT 1", "SELECT 2", "SELECT 3", "SELECT a"]),
            &v(&["SELECT ?", "SELECT ?", "SELECT ?", "SELECT ?", "SELECT b"]),
            Engine::Postgres,
        );
        assert_eq!(
            (t.missing, t.invented, t.duplicated, t.reordered),
            (1, 1, 1, 0)
        );
        let t = compare_session(
            1,
            &v(&["SELECT a", "SELECT b"]),
            &v(&["SELECT b", "SELECT a"]),
            Engine::Postgres,
        );
        assert_eq!(
            (t.missing, t.invented, t.duplicated, t.reordered),
            (0, 0, 0, 1)
        );
    }
}
