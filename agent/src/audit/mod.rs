//! The audit event schema `dbgov.audit/v1`: one JSON object per event. Later stages (Kafka
//! shipping, hash chain, reports) and outside tools rely on these field paths; README.md
//! documents them. Fields that are unknown are `null`, never missing, so consumers can rely on
//! the paths.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub mod checkpoint;
pub mod json;
pub mod ocsf;

pub use json::{Ser, WriteJson};

pub use checkpoint::Checkpoint;

use crate::identity::{Ancestor, ProcessInfo};
pub use crate::policy::{Action, Level};
pub use crate::session::{Flow, Status};

pub const SCHEMA: &str = "dbgov.audit/v1";

/// `kind` of an event.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Statement,
    SessionStart,
    SessionEnd,
    Gap,
    /// A signed checkpoint over the stream so far (see [`checkpoint`]).
    Checkpoint,
    /// A statement held by the proxy: the request for a decision, then the decision.
    Approval,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Statement,
        Kind::SessionStart,
        Kind::SessionEnd,
        Kind::Gap,
        Kind::Checkpoint,
        Kind::Approval,
    ];

    /// The name in `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Statement => "statement",
            Kind::SessionStart => "session_start",
            Kind::SessionEnd => "session_end",
            Kind::Gap => "gap",
            Kind::Checkpoint => "checkpoint",
            Kind::Approval => "approval",
        }
    }
}

/// `approval`: a held statement's approval request and its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// The id `dbgov approve ID` / `dbgov deny ID` names.
    pub id: String,
    /// `requested`, `approved`, `denied` or `timed_out`.
    pub status: ApprovalStatus,
    /// Who decided (the approver's OS user, as `dbgov approve` reports it).
    #[serde(default)]
    pub by: Option<String>,
    /// With `--for`: the same statement shape from the same identity is approved this many
    /// seconds without asking.
    #[serde(default)]
    pub for_secs: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Requested,
    Approved,
    Denied,
    TimedOut,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub name: String,
    pub id: Option<String>,
    pub environment: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// The client process (or, for a remote client, only its address).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub pid: Option<u32>,
    pub exe: Option<String>,
    pub comm: Option<String>,
    pub cmdline: Option<String>,
    pub uid: Option<u32>,
    pub user: Option<String>,
    pub gid: Option<u32>,
    pub groups: Vec<String>,
    pub login_uid: Option<u32>,
    pub login_user: Option<String>,
    pub cgroup: Option<String>,
    pub container_id: Option<String>,
    pub pod_uid: Option<String>,
    pub unit: Option<String>,
    pub ancestors: Vec<Ancestor>,
    /// `ip:port` for TCP, the socket path for Unix sockets.
    pub addr: Option<String>,
    /// A stable name for what is running: the systemd unit, the container, the pod, else the
    /// executable (see `identity::workload`).
    #[serde(default)]
    pub workload: Option<String>,
    /// The purpose of the first matching `workloads/*.yaml` entry (`ai.training`,
    /// `analytics`, ...), per statement; null when none matched and on session events.
    #[serde(default)]
    pub purpose: Option<String>,
}

impl Client {
    pub fn from_process(p: &ProcessInfo, addr: Option<String>) -> Self {
        Self {
            pid: Some(p.pid),
            exe: p.exe.clone(),
            comm: Some(p.comm.clone()),
            cmdline: p.cmdline.clone(),
            uid: Some(p.uid),
            user: p.user.clone(),
            gid: Some(p.gid),
            groups: p.groups.clone(),
            login_uid: p.login_uid,
            login_user: p.login_user.clone(),
            cgroup: p.cgroup.clone(),
            container_id: p.container_id.clone(),
            pod_uid: p.pod_uid.clone(),
            unit: p.unit.clone(),
            ancestors: p.ancestors.clone(),
            addr,
            workload: p.workload.clone(),
            purpose: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// The server process, when it runs on this host.
    pub pid: Option<u32>,
    pub exe: Option<String>,
    pub addr: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Db {
    /// `postgresql` or `mysql`.
    pub engine: Cow<'static, str>,
    pub user: Option<String>,
    pub name: Option<String>,
    pub application: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Connection id assigned by the kernel program; the same for all events of a session.
    pub id: String,
    /// `tcp` or `unix`.
    pub transport: Cow<'static, str>,
    pub tls: bool,
    pub inspectable: bool,
    /// Captured from the client's socket (`client`) or the server's (`server`).
    pub observed_at: Cow<'static, str>,
    pub server_version: Option<String>,
    pub backend_id: Option<u64>,
    /// The connection was open before the agent started (or restarted): it was joined
    /// mid-stream, so its start (login, earlier prepared statements) was not seen.
    #[serde(default)]
    pub mid_session: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Columns {
    pub read: Vec<String>,
    pub written: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub text: Option<String>,
    pub kind: Option<String>,
    pub prepared: bool,
    pub name: Option<String>,
    pub params: Option<u32>,
    pub param_values: Option<Vec<Option<String>>>,
    pub fingerprint: Option<String>,
    pub tables: Vec<String>,
    pub columns: Columns,
    pub parse_error: Option<String>,
    pub copy_bytes: Option<u64>,
    /// The request was not captured whole (beyond the capture limit).
    pub truncated: bool,
    /// sqlcommenter tags on the allow-list (`{}` when none).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// From a valid W3C `traceparent` tag.
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub span_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// `ok`, `error` or `incomplete` (the connection ended or a gap hit before the response).
    pub status: Status,
    pub rows: Option<u64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub duration_us: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub classes: Vec<String>,
    pub level: Option<Level>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyResult {
    pub verdict: Action,
    pub rules: Vec<String>,
    pub severity: Option<String>,
    pub message: Option<String>,
}

pub use crate::session::GapReason;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    /// Why bytes or events were lost, from a fixed vocabulary (see [`GapReason`]).
    pub reason: GapReason,
    /// The decoder's own explanation, when it has one (never a captured value).
    pub detail: Option<String>,
    pub bytes: u64,
    /// Which stream lost them, when known: `client_to_server` / `server_to_client`.
    pub flow: Option<Flow>,
    /// Chunks/events lost, when counted.
    pub events: Option<u64>,
}

/// One audit event: what every writer produces (also through the borrowed forms below) and
/// what readers (reports, `verify`, `tail`) read back. `Deserialize` accepts exactly what
/// `Serialize` writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub schema: Cow<'static, str>,
    pub event_id: String,
    /// RFC 3339, UTC, nanoseconds.
    pub time: String,
    pub kind: Kind,
    /// `proxy` for events of `dbgov proxy`; absent for the agent's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Cow<'static, str>>,
    pub host: Host,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Client>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Server>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<Db>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<Statement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// The event's place in its agent's hash chain (added by the [`Encoder`], always last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<Integrity>,
}

impl Event {
    /// An event with only its header: every optional part empty.
    pub fn new(kind: Kind, event_id: String, time: String, host: Host) -> Self {
        Event {
            schema: SCHEMA.into(),
            event_id,
            time,
            kind,
            source: None,
            host,
            client: None,
            server: None,
            db: None,
            session: None,
            statement: None,
            outcome: None,
            classification: None,
            policy: None,
            gap: None,
            checkpoint: None,
            approval: None,
            integrity: None,
        }
    }
}

/// `integrity`: the hash chain of one agent stream (one `dbgov run`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integrity {
    /// Random id of the stream, the same on all its events.
    pub stream: String,
    /// 1, 2, 3, ... without holes within the stream.
    pub seq: u64,
    /// `hash` of the previous event of the stream (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 (hex) of the connection's context (`"host"` to the end of `session`), on an
    /// event whose `hash` covers the context through it (see [`Encoder`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_hash: Option<String>,
    /// SHA-256 (hex) of the event's `statement` value, on an event whose `hash` covers the
    /// statement through it (see [`Encoder`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_hash: Option<String>,
    /// SHA-256 (hex) of `prev_hash` followed by the event's exact JSON bytes without the
    /// `integrity` member, in which, with `context_hash`, the context is replaced by
    /// `context_hash`, and with `statement_hash`, the statement value by `statement_hash`
    /// (see [`Encoder`]).
    pub hash: String,
}

/// The key that introduces the integrity member at the end of every sealed line.
pub const INTEGRITY_KEY: &str = ",\"integrity\":";

/// The one ordered choke point every event passes through: serialises it into a reused
/// buffer and seals it into the stream's hash chain. The chain covers the exact bytes
/// written (no second, canonical serialisation): `hash = SHA-256(prev_hash_hex || line)`,
/// where `line` is the event's JSON without the `integrity` member, which is appended as the
/// object's last member. `dbgov verify` recomputes it from the line as stored.
///
/// An event that carries a connection's context (a statement event: `host`, `client`,
/// `server`, `db` and `session`, more than half of its bytes, the same for every statement of
/// the connection) has that context hashed apart, once per distinct context:
/// `context_hash = SHA-256(context)`, where `context` is the bytes from the `"host"` key to the
/// end of the `session` value, and `hash = SHA-256(prev_hash_hex || line')`, where `line'` is
/// `line` with its context replaced by `context_hash` (hex). The `integrity` member then
/// carries `context_hash`. Together the two hashes cover every byte of the line.
///
/// Such an event's `statement` value (its text, tables, columns: the same for every run of a
/// statement shape) is hashed apart in the same way: `statement_hash = SHA-256(statement)`,
/// where `statement` is the value's bytes (from its `{` to its `}`), and in `line'` the value
/// is replaced by `statement_hash` (hex) as well. The `integrity` member then carries both.
pub struct Encoder {
    stream: String,
    seq: u64,
    prev: [u8; 64],
    line: Vec<u8>,
    /// `context_hash` (hex) by context bytes, for the contexts seen lately.
    contexts: foldhash::HashMap<Box<[u8]>, [u8; 64]>,
    /// `statement_hash` (hex) of statement values seen lately, one per slot.
    statements: StatementHashes,
    /// The bytes an event's `hash` is taken over (reused).
    hashed: Vec<u8>,
}

/// The hashes of the statement values seen lately: a direct-mapped cache (a value's slot is
/// picked by a fast hash of its bytes, and a new value takes the slot over), so that a
/// statement shape run again costs a lookup and a comparison of its bytes, not SHA-256, and a
/// stream of values never seen before allocates nothing once the slots have grown.
struct StatementHashes {
    slots: Vec<(Vec<u8>, [u8; 64])>,
    hasher: foldhash::fast::FixedState,
}

/// Slots of [`StatementHashes`] (a power of two).
const STATEMENT_SLOTS: usize = 1024;
/// Longer values are hashed each time, not kept: the slots hold at most 4 MiB.
const STATEMENT_KEPT_MAX: usize = 4096;

impl StatementHashes {
    fn new() -> Self {
        Self {
            slots: Vec::new(),
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    /// SHA-256 (hex) of `value`.
    fn get(&mut self, value: &[u8]) -> [u8; 64] {
        use std::hash::BuildHasher;
        if value.len() > STATEMENT_KEPT_MAX {
            return context_hash(value);
        }
        if self.slots.is_empty() {
            self.slots = vec![(Vec::new(), [0; 64]); STATEMENT_SLOTS];
        }
        let i = (self.hasher.hash_one(value) as usize) & (STATEMENT_SLOTS - 1);
        let slot = &mut self.slots[i];
        if slot.0.as_slice() != value || value.is_empty() {
            slot.0.clear();
            slot.0.extend_from_slice(value);
            slot.1 = context_hash(value);
        }
        slot.1
    }
}

/// Distinct contexts whose hash the [`Encoder`] keeps (about 1 KB each); past that it
/// starts again.
const MAX_CONTEXTS: usize = 4096;

impl Encoder {
    pub fn new(stream: String) -> Self {
        Self {
            stream,
            seq: 0,
            prev: [b'0'; 64],
            line: Vec::with_capacity(2048),
            contexts: foldhash::HashMap::default(),
            statements: StatementHashes::new(),
            hashed: Vec::with_capacity(2048),
        }
    }

    /// The stream id.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The seq of the last sealed event (0 before the first).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The hash of the last sealed event (64 zeros before the first).
    pub fn prev_hash(&self) -> &str {
        std::str::from_utf8(&self.prev).unwrap_or_default()
    }

    /// Serialises and seals one event; the returned line ends with `\n`.
    pub fn encode<T: Serialize>(&mut self, ev: &T) -> Result<&[u8], serde_json::Error> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let r = self.encode_into(ev, &mut line);
        self.line = line;
        r?;
        Ok(&self.line)
    }

    /// As [`Encoder::encode`], appending the sealed line to `out` (a batch) so that it is
    /// written once. On error `out` is left as it was.
    pub fn encode_into<T: Serialize>(
        &mut self,
        ev: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), serde_json::Error> {
        self.encode_json_into(&Ser(ev), out)
    }

    /// As [`Encoder::encode_into`], for an event with its own JSON writer.
    pub fn encode_json_into<T: WriteJson + ?Sized>(
        &mut self,
        ev: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), serde_json::Error> {
        use sha2::Digest;
        let start = out.len();
        let context = match ev.write_json_context(out) {
            Ok(c) => c,
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        };
        // A JSON object always ends with `}`: open it again for the integrity member.
        if out.len() > start && out.last() == Some(&b'}') {
            out.pop();
        }
        let context = context.filter(|c| {
            let r = &c.range;
            start <= r.start && r.start <= r.end && r.end <= out.len()
        });
        // What is hashed is gathered in one reused buffer and hashed in one call: fed in
        // pieces, SHA-256 copies every piece through its block buffer.
        let mut h = std::mem::take(&mut self.hashed);
        h.clear();
        h.extend_from_slice(&self.prev);
        let (context_hash, statement_hash) = match context {
            Some(json::Context {
                range: c,
                hash,
                statement,
                statement_hash,
            }) => {
                let hex = match hash {
                    Some(hex) => {
                        debug_assert!(hex == context_hash(&out[c.clone()]));
                        hex
                    }
                    None => self.context_hash(&out[c.clone()]),
                };
                h.extend_from_slice(&out[start..c.start]);
                h.extend_from_slice(&hex);
                // The statement value, when it follows the context, is hashed apart too.
                let statement = statement.filter(|s| c.end <= s.start && s.end <= out.len());
                let sh = match statement {
                    Some(s) => {
                        let sh = match statement_hash {
                            Some(sh) => {
                                debug_assert!(sh == context_hash(&out[s.clone()]));
                                sh
                            }
                            None => self.statements.get(&out[s.clone()]),
                        };
                        h.extend_from_slice(&out[c.end..s.start]);
                        h.extend_from_slice(&sh);
                        h.extend_from_slice(&out[s.end..]);
                        Some(sh)
                    }
                    None => {
                        h.extend_from_slice(&out[c.end..]);
                        None
                    }
                };
                (Some(hex), sh)
            }
            None => {
                h.extend_from_slice(&out[start..]);
                (None, None)
            }
        };
        h.push(b'}');
        let digest = sha2::Sha256::digest(&h);
        self.hashed = h;
        let mut hash = [0u8; 64];
        hex_into(&digest, &mut hash);
        self.seq += 1;
        out.extend_from_slice(INTEGRITY_KEY.as_bytes());
        out.extend_from_slice(b"{\"stream\":\"");
        out.extend_from_slice(self.stream.as_bytes());
        out.extend_from_slice(b"\",\"seq\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.seq).as_bytes());
        out.extend_from_slice(b",\"prev_hash\":\"");
        out.extend_from_slice(&self.prev);
        if let Some(c) = context_hash {
            out.extend_from_slice(b"\",\"context_hash\":\"");
            out.extend_from_slice(&c);
        }
        if let Some(c) = statement_hash {
            out.extend_from_slice(b"\",\"statement_hash\":\"");
            out.extend_from_slice(&c);
        }
        out.extend_from_slice(b"\",\"hash\":\"");
        out.extend_from_slice(&hash);
        out.extend_from_slice(b"\"}}\n");
        self.prev = hash;
        Ok(())
    }

    /// SHA-256 (hex) of a connection's context, computed once per distinct context.
    fn context_hash(&mut self, context: &[u8]) -> [u8; 64] {
        if let Some(hex) = self.contexts.get(context) {
            return *hex;
        }
        let hex = context_hash(context);
        if self.contexts.len() >= MAX_CONTEXTS {
            self.contexts.clear();
        }
        self.contexts.insert(context.into(), hex);
        hex
    }
}

/// SHA-256 (hex) of a connection's context bytes: `integrity.context_hash`.
pub fn context_hash(context: &[u8]) -> [u8; 64] {
    use sha2::Digest;
    let mut hex = [0u8; 64];
    hex_into(&sha2::Sha256::digest(context), &mut hex);
    hex
}

/// `v` as 16 lowercase hex digits (session ids), without allocating.
pub fn hex_u64(v: u64, out: &mut [u8; 16]) {
    hex_into(&v.to_be_bytes(), out);
}

/// `bytes` as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex_into(bytes, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn hex_into(bytes: &[u8], out: &mut [u8]) {
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
}

/// The two lowercase hex digits of every byte value: one load per byte (the chain's hashes
/// are written as hex for every event).
const HEX_PAIRS: [[u8; 2]; 256] = {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [D[i >> 4], D[i & 15]];
        i += 1;
    }
    t
};

/// A random id for a new stream (16 hex digits).
pub fn new_stream_id() -> String {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    let mut v = u64::from_le_bytes(b);
    if n != 8 {
        v ^= u64::from(std::process::id()) ^ now_realtime_ns();
    }
    hex(&v.to_be_bytes())
}

/// SHA-256 (hex) of `prev_hash` followed by `body`, as the [`Encoder`] computes it.
pub fn chain_hash(prev_hash: &str, body: &[u8]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(body);
    hex(&h.finalize())
}

/// A `session_start` or `session_end` event written from the connection's cached JSON
/// fragments (see [`StatementEvent`]). Serialises to exactly the same JSON shape as [`Event`].
#[derive(Serialize)]
pub struct SessionEventRef<'a> {
    pub schema: &'static str,
    pub event_id: String,
    pub time: String,
    pub kind: Kind,
    pub host: &'a serde_json::value::RawValue,
    pub client: &'a serde_json::value::RawValue,
    pub server: &'a serde_json::value::RawValue,
    pub db: &'a serde_json::value::RawValue,
    pub session: &'a serde_json::value::RawValue,
    /// On a `session_start` the policy flags (a connection that bypasses the proxy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyRef<'a>>,
}

/// A `statement` event written without copying: the connection parts (`host`, `client`,
/// `server`, `db`, `session`) are JSON fragments serialised once per connection and reused, and
/// the statement parts borrow the cached analysis. Serialises to exactly the same JSON shape as
/// [`Event`].
#[derive(Serialize)]
pub struct StatementEvent<'a> {
    pub schema: &'static str,
    pub event_id: &'a str,
    pub time: &'a str,
    pub kind: Kind,
    /// `proxy` on the proxy's events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
    pub host: &'a serde_json::value::RawValue,
    pub client: &'a serde_json::value::RawValue,
    pub server: &'a serde_json::value::RawValue,
    pub db: &'a serde_json::value::RawValue,
    pub session: &'a serde_json::value::RawValue,
    pub statement: StatementRef<'a>,
    /// Absent on `approval` events (the statement has not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    pub classification: ClassificationRef<'a>,
    pub policy: PolicyRef<'a>,
    /// A held statement's approval (proxy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<&'a Approval>,
    /// `context_hash` of `host`, `client`, `server`, `db` and `session` (from
    /// [`context_hash_of`]), when the writer computed it once for the connection: the encoder
    /// then neither hashes nor looks up the context. Not written.
    #[serde(skip)]
    pub context_hash: Option<[u8; 64]>,
}

/// `context_hash` of a connection's context as [`StatementEvent`] writes it.
pub fn context_hash_of(parts: [&serde_json::value::RawValue; 5]) -> [u8; 64] {
    let mut buf = Vec::with_capacity(parts.iter().map(|p| p.get().len() + 12).sum());
    json::context(&mut buf, parts);
    context_hash(&buf)
}

/// A connection's `client` JSON fragment with `client.purpose` set: the fragment ends with
/// `"purpose":null}` (purpose is decided per statement). `None` if it cannot be serialised.
pub fn client_with_purpose(
    base: &serde_json::value::RawValue,
    purpose: &str,
) -> Option<Box<serde_json::value::RawValue>> {
    let base = base.get();
    let head = base
        .strip_suffix("\"purpose\":null}")
        .unwrap_or(base.trim_end_matches('}'));
    let text = format!(
        "{head}\"purpose\":{}}}",
        serde_json::to_string(purpose).ok()?
    );
    serde_json::value::RawValue::from_string(text).ok()
}

/// `outcome` of a completed statement; the server's message is redacted unless
/// `keep_literals`.
pub fn outcome_of(rec: &crate::session::StatementRecord, keep_literals: bool) -> Outcome {
    Outcome {
        status: rec.status,
        rows: rec.rows,
        error_code: rec.error_code.clone(),
        error_message: if keep_literals {
            rec.error_message.clone()
        } else {
            rec.error_message.as_deref().map(crate::redact::message)
        },
        duration_us: Some(rec.end_ns.saturating_sub(rec.start_ns) / 1000),
    }
}

/// Borrowed form of [`Statement`].
#[derive(Serialize)]
pub struct StatementRef<'a> {
    pub text: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub prepared: bool,
    pub name: Option<&'a str>,
    pub params: Option<u32>,
    pub param_values: Option<&'a [Option<String>]>,
    pub fingerprint: Option<&'a str>,
    pub tables: &'a [String],
    pub columns: ColumnsRef<'a>,
    pub parse_error: Option<&'a str>,
    pub copy_bytes: Option<u64>,
    pub truncated: bool,
    pub tags: &'a BTreeMap<String, String>,
    pub trace_id: Option<&'a str>,
    pub span_id: Option<&'a str>,
    /// `fingerprint` to `parse_error` rendered once for this statement's analysis (see
    /// [`json::Rendered`]), when it holds exactly what those fields would write.
    #[serde(skip)]
    pub rendered: Option<&'a json::Rendered>,
    /// Where this statement's analysis keeps a whole rendered `statement` value: given with
    /// `rendered` (the same analysis), used when it holds exactly what this statement writes.
    #[serde(skip)]
    pub whole: Option<&'a crate::sql::Memo<json::WholeStatement>>,
}

/// Borrowed form of [`Columns`].
#[derive(Serialize)]
pub struct ColumnsRef<'a> {
    pub read: std::borrow::Cow<'a, [String]>,
    pub written: &'a [String],
}

/// Borrowed form of [`Classification`].
#[derive(Serialize)]
pub struct ClassificationRef<'a> {
    pub classes: &'a [String],
    pub level: Option<Level>,
}

/// Borrowed form of [`PolicyResult`].
#[derive(Serialize)]
pub struct PolicyRef<'a> {
    pub verdict: Action,
    pub rules: &'a [String],
    pub severity: Option<&'a str>,
    pub message: Option<&'a str>,
}

/// Makes unique event ids: 64 random bits per agent run plus a counter, printed UUID-style.
pub struct IdGen {
    /// The first 19 characters of every id (`8-4-4-` hex digits of the random bits), written
    /// once.
    head: [u8; 19],
    seq: AtomicU64,
}

impl IdGen {
    pub fn new() -> Self {
        let mut b = [0u8; 8];
        // SAFETY: getrandom writes at most b.len() bytes into b.
        let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
        let mut prefix = u64::from_le_bytes(b);
        if n != 8 {
            prefix ^= std::process::id() as u64 ^ now_realtime_ns();
        }
        let mut digits = [0u8; 16];
        hex_into(&prefix.to_be_bytes(), &mut digits);
        let mut head = [b'-'; 19];
        head[..8].copy_from_slice(&digits[..8]);
        head[9..13].copy_from_slice(&digits[8..12]);
        head[14..18].copy_from_slice(&digits[12..16]);
        Self {
            head,
            seq: AtomicU64::new(0),
        }
    }

    pub fn next(&self) -> String {
        let mut buf = [0u8; 36];
        self.next_into(&mut buf).to_string()
    }

    /// As [`IdGen::next`], written into `buf` without allocating.
    pub fn next_into<'b>(&self, buf: &'b mut [u8; 36]) -> &'b str {
        let s = self.seq.fetch_add(1, Ordering::Relaxed);
        // 8-4-4-4-12 hex digits: the random prefix's 64 bits, then the counter's top 16 and
        // low 48.
        let mut digits = [0u8; 16];
        hex_into(&s.to_be_bytes(), &mut digits);
        buf[..19].copy_from_slice(&self.head);
        buf[19..23].copy_from_slice(&digits[..4]);
        buf[23] = b'-';
        buf[24..].copy_from_slice(&digits[4..]);
        debug_assert!(buf.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-'));
        // SAFETY: every byte is an ASCII hex digit or `-` (the head and the digits come from
        // the hex table, the rest are hyphens), so `buf` is UTF-8.
        unsafe { std::str::from_utf8_unchecked(&buf[..]) }
    }
}

impl Default for IdGen {
    fn default() -> Self {
        Self::new()
    }
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn now_realtime_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

pub fn now_monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// Converts kernel monotonic timestamps (`bpf_ktime_get_ns`) to wall-clock time.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    offset_ns: i128,
}

impl Clock {
    pub fn now() -> Self {
        Self {
            offset_ns: now_realtime_ns() as i128 - now_monotonic_ns() as i128,
        }
    }
    pub fn with_offset(offset_ns: i128) -> Self {
        Self { offset_ns }
    }
    pub fn offset_ns(&self) -> i128 {
        self.offset_ns
    }
    pub fn wall_ns(&self, mono_ns: u64) -> u64 {
        (mono_ns as i128 + self.offset_ns).max(0) as u64
    }
}

/// RFC 3339 UTC with nanoseconds, e.g. `2026-11-26T05:00:00.123456789Z`.
pub fn rfc3339(wall_ns: u64) -> String {
    let mut buf = [0u8; 30];
    rfc3339_into(wall_ns, &mut buf).to_string()
}

/// `v` in decimal, right-aligned and zero-padded to fill `buf`.
fn put(buf: &mut [u8], mut v: u64) {
    for b in buf.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// As [`rfc3339`], written into `buf` without allocating (years 1970 to 2554, all a `u64` of
/// nanoseconds holds).
pub fn rfc3339_into(wall_ns: u64, buf: &mut [u8; 30]) -> &str {
    let secs = wall_ns / 1_000_000_000;
    let nanos = wall_ns % 1_000_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    put(&mut buf[0..4], year);
    buf[4] = b'-';
    put(&mut buf[5..7], month);
    buf[7] = b'-';
    put(&mut buf[8..10], day);
    buf[10] = b'T';
    put(&mut buf[11..13], rem / 3600);
    buf[13] = b':';
    put(&mut buf[14..16], rem % 3600 / 60);
    buf[16] = b':';
    put(&mut buf[17..19], rem % 60);
    buf[19] = b'.';
    put(&mut buf[20..29], nanos);
    buf[29] = b'Z';
    std::str::from_utf8(&buf[..]).unwrap_or_default()
}

/// Writes event times as [`rfc3339_into`] does, remembering the last second it wrote:
/// consecutive events nearly always share it, and then only the fraction is written again.
#[derive(Debug, Default)]
pub struct TimeFormat {
    /// The whole second last written.
    last: Option<u64>,
    /// The time last written (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`): its first 20 bytes stay while
    /// the second does.
    text: String,
}

impl TimeFormat {
    pub fn format(&mut self, wall_ns: u64) -> &str {
        let secs = wall_ns / 1_000_000_000;
        if self.last != Some(secs) || self.text.len() != 30 {
            let mut buf = [0u8; 30];
            self.text.clear();
            self.text.push_str(rfc3339_into(wall_ns, &mut buf));
            self.last = Some(secs);
            return &self.text;
        }
        // 10^9 plus the fraction has ten digits: the last nine are the fraction, zero-padded.
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(1_000_000_000 + wall_ns % 1_000_000_000);
        self.text.truncate(20);
        self.text.push_str(digits.get(1..).unwrap_or("000000000"));
        self.text.push('Z');
        &self.text
    }
}

/// Host identity, read once.
pub fn host_info(environment: Option<String>, labels: BTreeMap<String, String>) -> Host {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let id = std::fs::read_to_string("/etc/machine-id")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    Host {
        name,
        id,
        environment,
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_two_digits_per_byte_for_every_byte() {
        let all: Vec<u8> = (0..=255u8).collect();
        let mut out = vec![0u8; 512];
        hex_into(&all, &mut out);
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(String::from_utf8(out).expect("ascii"), expected);
        // A shorter output takes the leading bytes only.
        let mut short = [0u8; 3];
        hex_into(&[0xab, 0xcd], &mut short);
        assert_eq!(&short, b"ab\0");
    }

    #[test]
    fn statement_hashes_are_sha256_of_the_value_through_hits_misses_and_evictions() {
        let mut c = StatementHashes::new();
        // More distinct values than slots, twice over: every slot is taken over and every
        // answer, from the cache or not, is the value's own hash.
        let values: Vec<Vec<u8>> = (0..3 * STATEMENT_SLOTS)
            .map(|i| format!("{{\"text\":\"SELECT {i}\"}}").into_bytes())
            .collect();
        for _ in 0..2 {
            for v in &values {
                assert_eq!(c.get(v), context_hash(v));
            }
        }
        // A value met again right away is answered from its slot.
        let v = br#"{"text":"SELECT abalance FROM t WHERE aid = $1"}"#;
        let h = c.get(v);
        let i =
            (std::hash::BuildHasher::hash_one(&c.hasher, &v[..]) as usize) & (STATEMENT_SLOTS - 1);
        c.slots[i].1 = [b'x'; 64];
        assert_eq!(c.get(v), [b'x'; 64], "a hit does not hash again");
        assert_ne!(h, [b'x'; 64]);
        // A prefix of the slot's value is another value.
        let short = &v[..v.len() - 1];
        assert_eq!(c.get(short), context_hash(short));
        // A long value is hashed, not kept.
        let long = vec![b'a'; STATEMENT_KEPT_MAX + 1];
        assert_eq!(c.get(&long), context_hash(&long));
        assert!(c.slots.iter().all(|s| s.0.len() <= STATEMENT_KEPT_MAX));
    }

    #[test]
    fn ids_are_unique_and_time_formats() {
        let g = IdGen::new();
        assert_ne!(g.next(), g.next());
        assert_eq!(
            rfc3339(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
    }

    /// The hand-written formats equal chrono's and `format!`'s, over leap years, month and
    /// year ends, and the whole range of a `u64` of nanoseconds.
    #[test]
    fn time_and_id_formats_equal_the_library_ones() {
        let mut ts: Vec<u64> = vec![0, 1, 999_999_999, 951_782_400_000_000_000, u64::MAX];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ts.push(x);
            ts.push(x % 4_102_444_800_000_000_000);
        }
        for t in ts {
            let secs = (t / 1_000_000_000) as i64;
            let nanos = (t % 1_000_000_000) as u32;
            let want = chrono::DateTime::from_timestamp(secs, nanos)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                .unwrap();
            assert_eq!(rfc3339(t), want, "{t}");
        }
        // The remembering formatter writes the same, in and across seconds, in any order.
        let mut tf = TimeFormat::default();
        let mut prev = 0u64;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = match i % 4 {
                0 => x % 4_102_444_800_000_000_000,
                1 => prev + x % 1_000,
                2 => prev + x % 2_000_000_000,
                _ => prev.saturating_sub(x % 1_000_000_000),
            };
            prev = t;
            assert_eq!(tf.format(t), rfc3339(t), "{t}");
        }
        let g = IdGen::new();
        g.seq.store(0x1234_5678_9abc_def0, Ordering::Relaxed);
        let hex: String = g
            .head
            .iter()
            .filter(|&&c| c != b'-')
            .map(|&c| c as char)
            .collect();
        let p = u64::from_str_radix(&hex, 16).unwrap();
        let s = 0x1234_5678_9abc_def0u64;
        let want = format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (p >> 32) as u32,
            (p >> 16) as u16,
            p as u16,
            (s >> 48) as u16,
            s & 0xffff_ffff_ffff
        );
        assert_eq!(g.next(), want);
    }
}
