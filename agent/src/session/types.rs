//! The engine-agnostic session types every conversation produces.

/// Which way bytes flow on the database connection (`gap.flow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// From the client to the server (requests).
    ClientToServer,
    /// From the server to the client (responses).
    ServerToClient,
}

/// A session's [`SessionInfo`] with a version that changes whenever the info may have
/// changed: each mutable borrow ([`VersionedInfo::edit`]) takes a new version, unique across
/// all sessions of the process. A reader that keeps something derived from the info (the
/// pipeline's serialised connection parts) knows it is still current by comparing one number
/// instead of every field. Reading goes through `Deref`.
#[derive(Debug)]
pub struct VersionedInfo {
    info: SessionInfo,
    version: u64,
}

impl VersionedInfo {
    pub fn new(info: SessionInfo) -> Self {
        Self {
            info,
            version: next_info_version(),
        }
    }

    /// The info, to change: the version changes too.
    pub fn edit(&mut self) -> &mut SessionInfo {
        self.version = next_info_version();
        &mut self.info
    }

    pub fn version(&self) -> u64 {
        self.version
    }
}

impl std::ops::Deref for VersionedInfo {
    type Target = SessionInfo;
    fn deref(&self) -> &SessionInfo {
        &self.info
    }
}

fn next_info_version() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Database session facts learned from the connection phase.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionInfo {
    pub user: Option<String>,
    pub database: Option<String>,
    pub application: Option<String>,
    /// The session switched to TLS (SSLRequest accepted, or MySQL SSL switch).
    pub tls: bool,
    /// False when the agent cannot read the statements (undecryptable TLS, compression).
    pub inspectable: bool,
    /// Server version string, when seen.
    pub server_version: Option<String>,
    /// MySQL connection id / PostgreSQL backend pid, when seen.
    pub backend_id: Option<u64>,
}

/// Final status of a statement (`outcome.status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Ok,
    Error,
    /// The connection ended or a gap hit before the response completed.
    Incomplete,
}

/// A column of a result set as described on the wire.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResultColumn {
    /// Column name as returned (alias).
    pub name: String,
    /// Original column name (MySQL `org_name`).
    pub org_name: Option<String>,
    /// Original table name (MySQL `org_table`).
    pub table: Option<String>,
    /// Schema / database (MySQL `schema`).
    pub schema: Option<String>,
    /// PostgreSQL table OID (0 when not a table column).
    pub table_oid: Option<u32>,
    /// PostgreSQL attribute number.
    pub attnum: Option<i16>,
}

/// One completed statement: a request paired with its response.
#[derive(Clone, Debug, PartialEq)]
pub struct StatementRecord {
    /// The SQL text. `None` when the statement was prepared before the agent joined.
    /// Shared with the prepared statement it came from: no copy per execution.
    pub text: Option<std::sync::Arc<str>>,
    /// The command tag reported by the server (PostgreSQL CommandComplete), upper case, e.g.
    /// `SELECT`, `INSERT`, `DROP TABLE`.
    pub tag: Option<std::borrow::Cow<'static, str>>,
    /// Executed through a prepared statement / extended protocol.
    pub prepared: bool,
    /// Prepared statement name or id (shared with the prepared statement: no copy per
    /// execution).
    pub statement_name: Option<std::sync::Arc<str>>,
    /// Number of bound parameters.
    pub params: Option<u32>,
    /// Parameter values as text (`None` for SQL NULL). Only filled when the session was told to
    /// keep them.
    pub param_values: Option<Vec<Option<String>>>,
    /// Monotonic kernel time of the request and of the end of the response.
    pub start_ns: u64,
    pub end_ns: u64,
    pub status: Status,
    /// Rows returned or affected.
    pub rows: Option<u64>,
    /// SQLSTATE (PostgreSQL) or `errno/SQLSTATE` (MySQL).
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Result set columns from the wire (RowDescription / column definitions), shared with
    /// the prepared statement they came from.
    pub columns: std::sync::Arc<[ResultColumn]>,
    /// COPY payload bytes, for COPY statements.
    pub copy_bytes: Option<u64>,
    /// The request was not captured whole (a write beyond the capture limit): the text or
    /// parameters are its head only.
    pub truncated: bool,
}

impl StatementRecord {
    pub fn new(text: Option<std::sync::Arc<str>>, start_ns: u64) -> Self {
        Self {
            text,
            tag: None,
            prepared: false,
            statement_name: None,
            params: None,
            param_values: None,
            start_ns,
            end_ns: start_ns,
            status: Status::Ok,
            rows: None,
            error_code: None,
            error_message: None,
            columns: std::sync::Arc::default(),
            copy_bytes: None,
            truncated: false,
        }
    }
}

/// A statement on its way to the server, reported when the request is decoded (before any
/// response): what a proxy or an early signal acts on.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRecord {
    /// The SQL text (`None` for the execution of a statement prepared before the session was
    /// joined).
    pub text: Option<String>,
    /// PostgreSQL Parse/Execute, MySQL COM_STMT_PREPARE/COM_STMT_EXECUTE.
    pub prepared: bool,
    /// Prepared statement name or id.
    pub statement_name: Option<String>,
    /// Monotonic time of the request.
    pub ts_ns: u64,
}

/// What a conversation reports to the pipeline.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionEvent {
    /// A request carrying a statement was decoded (only with
    /// [`SessionOptions::request_events`]): PostgreSQL Query, Parse and Execute; MySQL
    /// COM_QUERY, COM_STMT_PREPARE and COM_STMT_EXECUTE. The statement's
    /// [`SessionEvent::Statement`] follows once its response is complete.
    Request(Box<RequestRecord>),
    /// The connection phase finished (or the session was found not inspectable).
    Start(SessionInfo),
    /// Session facts changed (USE db, COM_CHANGE_USER, SET application_name...).
    Update(SessionInfo),
    Statement(Box<StatementRecord>),
    /// The decoder lost `bytes` bytes of `flow` and resynchronised.
    Gap {
        flow: Flow,
        bytes: u64,
        reason: GapReason,
        /// The decoder's own words (never a captured value), e.g. the sequence ids.
        detail: Option<String>,
    },
    /// The client ended the session (Terminate / COM_QUIT).
    End,
}

/// Why something was lost: the fixed vocabulary of `gap.reason`, the same for both engines.
/// The numbers go in the gap's own fields (`bytes`, `events`), never in the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// Bytes of a connection's stream were not captured (kernel loss or truncation upstream).
    MissingBytes,
    /// Bytes were captured but do not decode as the protocol (framing, sequence ids).
    DecodeError,
    /// A frame is larger than the decoder accepts; its bytes were skipped.
    OversizeFrame,
    /// More requests in flight than the decoder tracks.
    QueueOverflow,
    /// Host level: the kernel ring buffer was full; `events` data records were dropped.
    RingBufferFull,
    /// Host level: a syscall's payload was larger than the capture limit; the tail was cut.
    Truncated,
    /// Host level: connection-open records were dropped because the ring buffer was full.
    RingBufferFullConnectionEvents,
    /// Host level: in-flight syscall arguments could not be stashed (map full).
    StashFull,
    /// The output could not be written for so long that its backlog filled: `events` events
    /// were dropped (reported once the output works again).
    OutputUnavailable,
    /// Host level: the Kafka spool reached its size cap while the broker was unreachable;
    /// `events` events were dropped (`on_full: drop_newest`), reported once there is room.
    SpoolFull,
    /// A watched connection moved bytes through a syscall the agent does not capture
    /// (`gap.detail` names it: `sendmmsg`, `recvmmsg`, `sendfile`, `splice`, `preadv`,
    /// `pwritev`); `bytes` is what the call asked to move, when it says.
    UncapturedSyscall,
    /// Host level: a kernel table was full (`gap.detail` names it), so `events` connections,
    /// listeners or handles could not be followed.
    KernelMapFull,
    /// Host level: `events` TLS library calls lost their return probe; their plaintext is
    /// missing and the stale state was dropped.
    TlsCallLost,
    /// Host level: the spool was damaged when the agent started (a record cut mid-write, or a
    /// corrupt segment); `bytes` were cut or unreadable, `detail` says where. The records
    /// around the damage are delivered.
    SpoolDamaged,
    /// A TLS session captured as ciphertext (`tls_capture: keylog`) could not be decrypted:
    /// `detail` says why (TLS 1.2, no secret arrived, a record that did not open); `bytes`
    /// is the ciphertext concerned, when known. Host level: `events` secrets were lost.
    TlsUndecryptable,
}

impl GapReason {
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::MissingBytes => "missing_bytes",
            GapReason::DecodeError => "decode_error",
            GapReason::OversizeFrame => "oversize_frame",
            GapReason::QueueOverflow => "queue_overflow",
            GapReason::RingBufferFull => "ring_buffer_full",
            GapReason::Truncated => "truncated",
            GapReason::RingBufferFullConnectionEvents => "ring_buffer_full_connection_events",
            GapReason::StashFull => "stash_full",
            GapReason::OutputUnavailable => "output_unavailable",
            GapReason::SpoolFull => "spool_full",
            GapReason::UncapturedSyscall => "uncaptured_syscall",
            GapReason::KernelMapFull => "kernel_map_full",
            GapReason::TlsCallLost => "tls_call_lost",
            GapReason::SpoolDamaged => "spool_damaged",
            GapReason::TlsUndecryptable => "tls_undecryptable",
        }
    }
}

/// Options that change what a conversation records.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Keep bound parameter values (off by default: values may be PII).
    pub record_params: bool,
    /// Report [`SessionEvent::Request`] at request time (off by default: it costs a copy of
    /// the text per statement).
    pub request_events: bool,
}

/// A per-connection protocol state machine. Implementations must never panic on any input.
pub trait Conversation: Send {
    /// Feeds bytes that flowed in `flow` at monotonic time `ts_ns`.
    fn on_data(&mut self, flow: Flow, data: &[u8], ts_ns: u64, out: &mut Vec<SessionEvent>);
    /// `bytes` bytes of `flow` were lost. The conversation must resynchronise on later data.
    fn on_gap(&mut self, flow: Flow, bytes: u64, ts_ns: u64, out: &mut Vec<SessionEvent>);
    /// The connection closed. In-flight statements are reported as incomplete.
    fn on_close(&mut self, ts_ns: u64, out: &mut Vec<SessionEvent>);
    /// Current session facts.
    fn info(&self) -> &SessionInfo;
    /// Changes whenever [`Conversation::info`] may have changed ([`VersionedInfo::version`]).
    fn info_version(&self) -> u64;
    /// The session switched to TLS and the agent now receives its plaintext (from the TLS
    /// library uprobes, or decrypted): decoding resumes on the plaintext stream, which starts
    /// right after the TLS handshake, and `session.tls` is true (also for a session joined
    /// mid-stream, which never saw the switch). The default does nothing.
    fn tls_plaintext(&mut self) {}
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::GapReason;

    const ALL: [GapReason; 10] = [
        GapReason::SpoolFull,
        GapReason::MissingBytes,
        GapReason::DecodeError,
        GapReason::OversizeFrame,
        GapReason::QueueOverflow,
        GapReason::RingBufferFull,
        GapReason::Truncated,
        GapReason::RingBufferFullConnectionEvents,
        GapReason::StashFull,
        GapReason::OutputUnavailable,
    ];

    #[test]
    fn gap_reasons_are_one_fixed_vocabulary_documented_in_the_readme() {
        let readme = include_str!("../../../README.md");
        for r in ALL {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            // Plain words: the numbers live in the gap's own fields.
            assert!(r
                .as_str()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!(
                readme.contains(&format!("| `{}` |", r.as_str())),
                "README's gap.reason table lacks {}",
                r.as_str()
            );
            let back: GapReason = serde_json::from_str(&json).unwrap();
            assert_eq!(back, r);
        }
    }
}
