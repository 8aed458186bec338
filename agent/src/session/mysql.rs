//! MySQL / MariaDB conversation state machine: pairs the commands of the client with the
//! responses of the server and reports session facts and completed statements.
//!
//! # Phases
//!
//! `Greeting` (server Handshake v10) -> `Login` (client HandshakeResponse or SSLRequest) ->
//! `Auth` (auth switch / more data until the server's OK or ERR) -> `Command`. An SSLRequest,
//! or CLIENT_COMPRESS / zstd compression negotiated by both sides, makes the session `Opaque`:
//! one [`SessionEvent::Start`] with `inspectable: false` is reported and the rest is ignored.
//! A failed login reports `Start` (with the user) then `End`, and no statement; a server that
//! refuses the connection before the login (ERR instead of a greeting) reports nothing.
//!
//! # Commands and responses
//!
//! Both directions must be fed in capture order: responses are paired with commands by
//! order. Commands are queued (clients may pipeline, e.g. MariaDB's prepare + execute of
//! statement id `0xFFFFFFFF`); the server answers them in order. Commands without a response
//! (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA, COM_QUIT) take effect when they reach the head of
//! the queue, so state changes keep the wire order. Every server packet must carry the
//! expected sequence id; a mismatch is reported as a [`SessionEvent::Gap`] of 0 bytes, the
//! commands in flight are reported as [`Status::Incomplete`] and the session resynchronises.
//!
//! # What is reported
//!
//! * One `Statement` per COM_QUERY. With several results (multi-statements, CALL) the record
//!   covers all of them: `rows` is the sum over the results of the rows of each result set and
//!   the affected rows of each OK, `columns` are the columns of all result sets in order, and
//!   the status is `Error` if any result is an ERR (the server stops at the first error).
//! * One `Statement` per COM_STMT_EXECUTE (and MariaDB COM_STMT_BULK_EXECUTE), with the text
//!   of its COM_STMT_PREPARE, `prepared: true`, `statement_name` = the statement id and
//!   `params` = the parameter count. Parameter values (only with `record_params`) are decoded
//!   with the types of the execute, or those remembered from the last execute that sent them,
//!   and include COM_STMT_SEND_LONG_DATA values. An execute of a statement prepared before the
//!   agent joined has `text: None` (and `params: None`).
//! * COM_STMT_PREPARE is not a statement (nothing runs), except when it fails: an ERR to a
//!   prepare is reported as a `Statement` with `prepared: true`, no statement id and status
//!   `Error`, so that errors are not lost.
//! * LOAD DATA LOCAL INFILE: `copy_bytes` counts the file bytes sent by the client.
//! * `Update` when the default database changes (COM_INIT_DB, a `USE` query, or a schema
//!   change tracked in an OK packet), and after every successful COM_CHANGE_USER (user,
//!   database, application from its `program_name` attribute).
//! * `End` on COM_QUIT, or at close after a `Start`.
//! * An execute that opens a cursor has `rows: None`: its rows come with COM_STMT_FETCH,
//!   which is followed but not attributed.
//!
//! # Gaps and joining late
//!
//! After a gap (or a framing / sequence error) the partial buffers are dropped, the commands
//! in flight are reported `Incomplete`, the client side scans for a packet with sequence id 0,
//! a known command byte and a plausible length and body that ends where the buffered bytes end
//! (a client waits for the answer after a command), and the server side discards everything
//! until that command. A session whose first bytes are not a server greeting (the agent
//! joined an established connection) resynchronises the same way and reports a `Start`
//! with what it knows before its first statement; the capabilities are then unknown and the
//! CLIENT_DEPRECATE_EOF mode is inferred from the first result set.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;
use tracing::debug;

use crate::protocol::mysql::{
    bytes_to_text, capabilities as caps, command as com, payload_len, status, terminator_status,
    ChangeUser, ClientHello, ColumnCount, ColumnDefinition, Command, DecodeError, EofPacket,
    ErrPacket, Handshake, OkPacket, Packet, PacketDecoder, ParamType, ParamValue, StmtExecute,
    StmtPrepareOk, DEFAULT_MAX_PAYLOAD, LAST_PREPARED_STATEMENT, MAX_FRAME_LEN, MAX_PARAM_TEXT,
};
use crate::session::{
    Conversation, Flow, GapReason, RequestRecord, ResultColumn, SessionEvent, SessionInfo,
    SessionOptions, StatementRecord, Status, VersionedInfo,
};

/// Bytes kept of one client packet (query text, parameters).
pub const CLIENT_MAX_PAYLOAD: usize = DEFAULT_MAX_PAYLOAD;
/// Bytes kept of one server packet: everything the session parses is small; big rows are
/// counted and skipped without being buffered.
pub const SERVER_MAX_PAYLOAD: usize = 64 * 1024;
/// Commands awaiting a response before the session gives up tracking responses.
pub const MAX_PENDING: usize = 128;
/// Prepared statements remembered per connection (the oldest ids are forgotten first).
pub const MAX_PREPARED: usize = 4096;
/// Columns kept per statement record.
pub const MAX_COLUMNS: usize = 4096;
/// "Unknown prepared statement handler".
const ER_UNKNOWN_STMT_HANDLER: u16 = 1243;
/// Longest column count accepted in a result set.
const MAX_RESULT_COLUMNS: u64 = 65_535;

/// Capabilities assumed when the connection phase was not seen.
const ASSUMED_CAPS: u64 = caps::CLIENT_PROTOCOL_41
    | caps::CLIENT_SECURE_CONNECTION
    | caps::CLIENT_PLUGIN_AUTH
    | caps::CLIENT_CONNECT_ATTRS
    | caps::CLIENT_TRANSACTIONS
    | caps::CLIENT_MULTI_RESULTS
    | caps::CLIENT_PS_MULTI_RESULTS
    | caps::CLIENT_SESSION_TRACK;

/// Why the session lost track of the conversation (reported in [`SessionEvent::Gap`]).
#[derive(Debug, Error)]
pub enum SessionError {
    #[error("capture lost {0} bytes")]
    Lost(u64),
    #[error("framing: {0}")]
    Framing(#[source] DecodeError),
    #[error("malformed {what}: {source}")]
    Malformed {
        what: &'static str,
        #[source]
        source: DecodeError,
    },
    #[error("server packet has sequence id {got}, {expected} expected")]
    Sequence { expected: u8, got: u8 },
    #[error("unexpected packet (first byte {0:#04x}) in {1}")]
    Unexpected(u8, &'static str),
    #[error("result set with {0} columns")]
    ColumnCount(u64),
    #[error("{0} commands awaiting a response")]
    TooManyPending(usize),
}

fn malformed(what: &'static str) -> impl FnOnce(DecodeError) -> SessionError {
    move |source| SessionError::Malformed { what, source }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Greeting,
    Login,
    Auth,
    Command,
    Opaque,
    Closed,
}

/// One direction of the connection.
#[derive(Debug)]
struct Side {
    buf: BytesMut,
    decoder: PacketDecoder,
    /// Time of the first byte of the packet being decoded.
    packet_ts: u64,
    /// Client: scanning for a command. Server: discarding until the next command.
    resync: bool,
}

/// A statement id as the records name it.
fn id_name(id: u32) -> Arc<str> {
    Arc::from(itoa::Buffer::new().format(id))
}

impl Side {
    fn new(max_payload: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            decoder: PacketDecoder::new(max_payload),
            packet_ts: 0,
            resync: false,
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.decoder.reset();
    }
}

/// Data sent with COM_STMT_SEND_LONG_DATA for one parameter.
#[derive(Clone, Debug, Default)]
struct LongData {
    head: Vec<u8>,
    total: u64,
}

#[derive(Clone, Debug, Default)]
struct Prepared {
    text: Arc<str>,
    /// The statement id as text, the records' `statement_name` (made once).
    name: Arc<str>,
    num_params: u16,
    /// Types bound by the last execute that sent them.
    types: Vec<ParamType>,
    /// Result columns announced by the prepare (used when an execute skips its metadata).
    columns: Vec<ResultColumn>,
    long_data: BTreeMap<u16, LongData>,
    /// Client bytes were lost since the last execute: COM_STMT_SEND_LONG_DATA packets may be
    /// missing, so the next execute's values cannot be located reliably.
    uncertain: bool,
    /// The prepare's packet was not captured whole: `text` is its head.
    truncated: bool,
}

/// What a queued command is.
#[derive(Debug)]
enum Kind {
    /// COM_QUERY (the record is built when queued).
    Query,
    Execute(StmtExecute),
    BulkExecute {
        statement_id: u32,
    },
    Prepare {
        text: String,
    },
    InitDb {
        schema: String,
    },
    ChangeUser(ChangeUser),
    ResetConnection,
    StmtReset {
        statement_id: u32,
    },
    Fetch,
    FieldList,
    /// A result set that is not a statement (COM_PROCESS_INFO).
    ResultOnly,
    /// Exactly one response packet (OK, ERR, EOF or a string).
    Single,
    /// Unknown or streaming response: everything until the next command.
    Stream,
    // Commands without a response.
    StmtClose {
        statement_id: u32,
    },
    SendLongData {
        statement_id: u32,
        param_id: u16,
        data: Bytes,
    },
    Quit,
}

impl Kind {
    fn expects_response(&self) -> bool {
        !matches!(
            self,
            Kind::StmtClose { .. } | Kind::SendLongData { .. } | Kind::Quit
        )
    }
}

/// Where the response of the head command is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Next: OK, ERR, LOCAL INFILE request or column count.
    ResultStart,
    ColumnDefs {
        left: u64,
    },
    /// Next: the EOF after the column definitions, or (DEPRECATE_EOF) a row / the end.
    AfterDefs,
    Rows,
    /// The client is sending a LOCAL INFILE file; next: OK or ERR.
    Infile,
    PrepareStart,
    /// `*_eof`: an EOF may still follow that group of definitions.
    PrepareDefs {
        params_left: u16,
        cols_left: u16,
        params_eof: bool,
        cols_eof: bool,
    },
    /// COM_CHANGE_USER: auth switch / more data until OK or ERR.
    Auth,
    /// Column definitions until a terminator (COM_FIELD_LIST).
    DefsUntilEnd,
    /// Rows until a terminator (COM_STMT_FETCH).
    RowsUntilEnd,
    Single,
    Stream,
}

#[derive(Debug)]
struct Pending {
    kind: Kind,
    start_ns: u64,
    /// Sequence id of the next server packet.
    next_seq: u8,
    active: bool,
    stage: Stage,
    record: Option<StatementRecord>,
    /// Resolved statement id of an execute.
    exec_id: Option<u32>,
    rows: u64,
    any_result: bool,
    result_sets: u32,
    columns: Vec<ResultColumn>,
    error: Option<ErrPacket>,
    ok: bool,
    schema_tracked: bool,
    copy_bytes: Option<u64>,
    prepare_ok: Option<StmtPrepareOk>,
    /// The execute opened a cursor: its rows come with COM_STMT_FETCH.
    cursor: bool,
    /// The command packet was not captured whole (only its head).
    truncated: bool,
}

impl Pending {
    fn new(kind: Kind, start_ns: u64, next_seq: u8, record: Option<StatementRecord>) -> Self {
        Self {
            kind,
            start_ns,
            next_seq,
            active: false,
            stage: Stage::Single,
            record,
            exec_id: None,
            rows: 0,
            any_result: false,
            result_sets: 0,
            columns: Vec::new(),
            error: None,
            ok: false,
            schema_tracked: false,
            copy_bytes: None,
            prepare_ok: None,
            cursor: false,
            truncated: false,
        }
    }

    fn push_column(&mut self, def: &ColumnDefinition) {
        if self.columns.len() < MAX_COLUMNS {
            self.columns.push(result_column(def));
        }
    }
}

fn result_column(def: &ColumnDefinition) -> ResultColumn {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    ResultColumn {
        name: def.name.clone(),
        org_name: opt(&def.org_name),
        table: opt(&def.org_table),
        schema: opt(&def.schema),
        table_oid: None,
        attnum: None,
    }
}

/// The MySQL / MariaDB [`Conversation`].
#[derive(Debug)]
pub struct MysqlSession {
    opts: SessionOptions,
    info: VersionedInfo,
    phase: Phase,
    started: bool,
    ended: bool,
    client: Side,
    server: Side,
    client_caps: Option<u64>,
    server_caps: Option<u64>,
    /// DEPRECATE_EOF mode learned from the traffic when the capabilities are unknown.
    learned_deprecate_eof: Option<bool>,
    /// Sequence id of an EOF that may end the last prepare response (mode unknown).
    trailing_eof: Option<u8>,
    /// The client is sending a LOCAL INFILE file.
    client_infile: bool,
    pending: VecDeque<Box<Pending>>,
    stmts: BTreeMap<u32, Prepared>,
    last_prepared: Option<u32>,
    /// The client switched to TLS; waiting for plaintext from the TLS library uprobes.
    tls_wait: bool,
}

impl MysqlSession {
    pub fn new(opts: SessionOptions) -> Self {
        Self {
            opts,
            info: VersionedInfo::new(SessionInfo {
                inspectable: true,
                ..SessionInfo::default()
            }),
            phase: Phase::Greeting,
            started: false,
            ended: false,
            client: Side::new(CLIENT_MAX_PAYLOAD),
            server: Side::new(SERVER_MAX_PAYLOAD),
            client_caps: None,
            server_caps: None,
            learned_deprecate_eof: None,
            trailing_eof: None,
            client_infile: false,
            pending: VecDeque::new(),
            stmts: BTreeMap::new(),
            last_prepared: None,
            tls_wait: false,
        }
    }

    // --------------------------------------------------------------------------------------
    // Capabilities

    fn effective_caps(&self) -> u64 {
        match (self.client_caps, self.server_caps) {
            (Some(c), Some(s)) => c & s,
            (Some(c), None) => c,
            _ => ASSUMED_CAPS,
        }
    }

    /// Whether both sides set `flag`, when both are known.
    fn negotiated(&self, flag: u64) -> Option<bool> {
        match (self.client_caps, self.server_caps) {
            (Some(c), Some(s)) => Some(c & s & flag != 0),
            _ => None,
        }
    }

    fn deprecate_eof(&self) -> Option<bool> {
        self.negotiated(caps::CLIENT_DEPRECATE_EOF)
            .or(self.learned_deprecate_eof)
    }

    fn protocol_41(&self) -> bool {
        self.effective_caps() & caps::CLIENT_PROTOCOL_41 != 0
    }

    fn extended_metadata(&self) -> bool {
        self.negotiated(caps::MARIADB_CLIENT_EXTENDED_METADATA)
            .unwrap_or(false)
    }

    fn compressed(&self) -> bool {
        let client = self.client_caps.unwrap_or(0);
        let server = self.server_caps.unwrap_or(u64::MAX);
        client & server & (caps::CLIENT_COMPRESS | caps::CLIENT_ZSTD_COMPRESSION_ALGORITHM) != 0
    }

    // --------------------------------------------------------------------------------------
    // Events

    fn start(&mut self, out: &mut Vec<SessionEvent>) {
        if !self.started {
            self.started = true;
            out.push(SessionEvent::Start(self.info.clone()));
        }
    }

    fn end(&mut self, out: &mut Vec<SessionEvent>) {
        if self.started && !self.ended {
            self.ended = true;
            out.push(SessionEvent::End);
        }
    }

    fn set_database(&mut self, database: Option<String>, out: &mut Vec<SessionEvent>) {
        if self.info.database != database {
            self.info.edit().database = database;
            if self.started {
                out.push(SessionEvent::Update(self.info.clone()));
            }
        }
    }

    fn go_opaque(&mut self, out: &mut Vec<SessionEvent>) {
        self.info.edit().inspectable = false;
        self.start(out);
        self.phase = Phase::Opaque;
        self.client.clear();
        self.server.clear();
    }

    /// The connection phase was not (fully) seen: continue as if joining late.
    fn enter_mid_session(&mut self) {
        self.phase = Phase::Command;
        self.client.resync = true;
        self.server.resync = true;
        self.server.clear();
    }

    /// Drops what is in flight after lost or unparseable bytes and resynchronises `flow`.
    fn lose(
        &mut self,
        flow: Flow,
        bytes: u64,
        reason: GapReason,
        detail: Option<String>,
        ts: u64,
        out: &mut Vec<SessionEvent>,
    ) {
        debug!(?flow, bytes, ?reason, ?detail, "mysql: resynchronising");
        if self.phase == Phase::Closed {
            return;
        }
        out.push(SessionEvent::Gap {
            flow,
            bytes,
            reason,
            detail,
        });
        if self.phase == Phase::Opaque {
            return;
        }
        self.fail_pending(ts, out);
        if self.phase == Phase::Closed {
            return;
        }
        self.client_infile = false;
        self.trailing_eof = None;
        if matches!(self.phase, Phase::Greeting | Phase::Login | Phase::Auth) {
            if self.client_caps.is_some() && self.compressed() {
                self.go_opaque(out);
                return;
            }
            self.enter_mid_session();
            self.client.clear();
            return;
        }
        match flow {
            Flow::ClientToServer => {
                for st in self.stmts.values_mut() {
                    st.uncertain = true;
                }
                self.client.clear();
                self.client.resync = true;
                self.server.clear();
                self.server.resync = true;
            }
            Flow::ServerToClient => {
                self.server.clear();
                self.server.resync = true;
            }
        }
    }

    /// Reports every queued command as incomplete (commands without a response still apply).
    fn fail_pending(&mut self, ts: u64, out: &mut Vec<SessionEvent>) {
        while let Some(mut p) = self.pending.pop_front() {
            if !p.active {
                self.activate(&mut p);
            }
            if !p.kind.expects_response() {
                self.apply_no_response(*p, out);
                continue;
            }
            if let Some(mut rec) = p.record.take() {
                rec.status = Status::Incomplete;
                rec.end_ns = ts;
                rec.rows = p.any_result.then_some(p.rows);
                rec.columns = p.columns.into();
                rec.copy_bytes = p.copy_bytes;
                out.push(SessionEvent::Statement(Box::new(rec)));
            }
        }
    }

    // --------------------------------------------------------------------------------------
    // Client side

    fn on_client_data(&mut self, data: &[u8], ts: u64, out: &mut Vec<SessionEvent>) {
        match self.phase {
            Phase::Opaque | Phase::Closed => return,
            // The client speaks first only on a connection that was already established.
            Phase::Greeting => self.enter_mid_session(),
            _ => {}
        }
        if self.client.buf.is_empty() && self.client.decoder.is_idle() {
            self.client.packet_ts = ts;
        }
        self.client.buf.extend_from_slice(data);
        loop {
            if matches!(self.phase, Phase::Opaque | Phase::Closed) {
                self.client.clear();
                return;
            }
            if self.client.resync {
                if !self.scan_client(out) {
                    return;
                }
                self.client.packet_ts = ts;
            }
            let packet = match self.client.decoder.decode(&mut self.client.buf) {
                Ok(Some(p)) => p,
                Ok(None) => return,
                Err(e) => {
                    let detail = Some(SessionError::Framing(e).to_string());
                    self.lose(
                        Flow::ClientToServer,
                        0,
                        GapReason::DecodeError,
                        detail,
                        ts,
                        out,
                    );
                    continue;
                }
            };
            let start = self.client.packet_ts;
            if !self.client.buf.is_empty() {
                self.client.packet_ts = ts;
            }
            self.on_client_packet(packet, start, ts, out);
        }
    }

    /// Resynchronisation: drops client bytes up to a plausible command. True when found.
    fn scan_client(&mut self, out: &mut Vec<SessionEvent>) -> bool {
        let buf = &self.client.buf[..];
        let mut i = 0;
        let mut found = false;
        while i < buf.len() {
            match command_candidate(&buf[i..], 0) {
                Candidate::Accept => {
                    found = true;
                    break;
                }
                Candidate::NeedMore => break,
                Candidate::Reject => i += 1,
            }
        }
        if found && compressed_wrapper(buf, i) {
            debug!("mysql: compressed protocol, not inspectable");
            self.go_opaque(out);
            return false;
        }
        if i > 0 {
            debug!(
                skipped = i,
                "mysql: skipped client bytes while resynchronising"
            );
        }
        self.client.buf.advance(i);
        if found {
            self.client.resync = false;
            self.client.decoder.reset();
        }
        found
    }

    fn on_client_packet(&mut self, p: Packet, start: u64, ts: u64, out: &mut Vec<SessionEvent>) {
        match self.phase {
            Phase::Login => self.on_client_hello(&p, out),
            Phase::Command => self.on_client_command_packet(p, start, ts, out),
            // Auth data, or nothing to decode.
            _ => {}
        }
    }

    fn on_client_hello(&mut self, p: &Packet, _out: &mut Vec<SessionEvent>) {
        match ClientHello::parse(&p.payload) {
            Ok(ClientHello::SslRequest { capabilities }) => {
                // Ciphertext from here on. No Start yet: the pipeline either feeds the plaintext
                // from the TLS library uprobes (`tls_plaintext`) or reports the session as not
                // inspectable.
                self.client_caps = Some(capabilities);
                self.info.edit().tls = true;
                self.info.edit().inspectable = false;
                self.phase = Phase::Opaque;
                self.tls_wait = true;
                self.client.clear();
                self.server.clear();
            }
            Ok(ClientHello::Response(r)) => {
                self.client_caps = Some(r.capabilities);
                self.info.edit().user = (!r.user.is_empty()).then(|| r.user.clone());
                self.info.edit().database = r.database.clone();
                self.info.edit().application = r.attribute("program_name").map(str::to_owned);
                self.phase = Phase::Auth;
            }
            Err(e) => {
                debug!(error = %e, "mysql: unreadable handshake response");
                self.phase = Phase::Auth;
            }
        }
    }

    fn on_client_command_packet(
        &mut self,
        p: Packet,
        start: u64,
        ts: u64,
        out: &mut Vec<SessionEvent>,
    ) {
        if self.client_infile {
            // LOCAL INFILE content; an empty packet ends it.
            if p.len == 0 {
                self.client_infile = false;
            }
            if let Some(front) = self.pending.front_mut() {
                front.next_seq = p.last_seq.wrapping_add(1);
                if p.len > 0 {
                    let n = front.copy_bytes.unwrap_or(0);
                    front.copy_bytes = Some(n.saturating_add(p.len as u64));
                }
            }
            return;
        }
        if p.seq != 0 {
            match self.pending.front_mut() {
                Some(front) if front.stage == Stage::Auth => {
                    front.next_seq = p.last_seq.wrapping_add(1);
                }
                _ => debug!(seq = p.seq, "mysql: client packet outside a command"),
            }
            return;
        }
        self.on_command(p, start, ts, out);
    }

    fn on_command(&mut self, p: Packet, start: u64, ts: u64, out: &mut Vec<SessionEvent>) {
        let code = p.first().unwrap_or(0xFF);
        let command = match Command::parse(&p.payload, self.effective_caps()) {
            Ok(c) => Some(c),
            Err(e) => {
                debug!(error = %e, code, "mysql: malformed command");
                None
            }
        };
        // A new command ends a response we could not delimit.
        if self
            .pending
            .front()
            .is_some_and(|f| f.stage == Stage::Stream && f.active)
        {
            self.pending.pop_front();
            self.server.clear();
            self.advance(out);
        }
        if self.opts.request_events {
            let req = match &command {
                Some(Command::Query { text, .. }) => Some((Some(text.to_string()), false, None)),
                Some(Command::StmtPrepare { text }) => Some((Some(text.clone()), true, None)),
                Some(Command::StmtExecute(e)) => {
                    let id = self.resolve_statement(e.statement_id);
                    Some((
                        self.stmts.get(&id).map(|s| s.text.to_string()),
                        true,
                        Some(id.to_string()),
                    ))
                }
                _ => None,
            };
            if let Some((text, prepared, statement_name)) = req {
                out.push(SessionEvent::Request(Box::new(RequestRecord {
                    text,
                    prepared,
                    statement_name,
                    ts_ns: start,
                })));
            }
        }
        let mut record = None;
        let kind = match command {
            None => Kind::Stream,
            Some(Command::Quit) => Kind::Quit,
            Some(Command::InitDb { schema }) => Kind::InitDb { schema },
            Some(Command::Query { text, .. }) => {
                record = Some(StatementRecord::new(Some(text), start));
                Kind::Query
            }
            Some(Command::FieldList { .. }) => Kind::FieldList,
            Some(Command::ChangeUser(cu)) => Kind::ChangeUser(cu),
            Some(Command::StmtPrepare { text }) => Kind::Prepare { text },
            Some(Command::StmtExecute(e)) => Kind::Execute(e),
            Some(Command::StmtSendLongData {
                statement_id,
                param_id,
                data,
            }) => Kind::SendLongData {
                statement_id,
                param_id,
                data,
            },
            Some(Command::StmtClose { statement_id }) => Kind::StmtClose { statement_id },
            Some(Command::StmtReset { statement_id }) => Kind::StmtReset { statement_id },
            Some(Command::StmtFetch { .. }) => Kind::Fetch,
            Some(Command::StmtBulkExecute { statement_id, .. }) => {
                Kind::BulkExecute { statement_id }
            }
            Some(
                Command::CreateDb { .. }
                | Command::DropDb { .. }
                | Command::ProcessKill { .. }
                | Command::SetOption { .. },
            ) => Kind::Single,
            Some(Command::Other { code }) => match code {
                com::COM_RESET_CONNECTION => Kind::ResetConnection,
                com::COM_PROCESS_INFO => Kind::ResultOnly,
                com::COM_PING
                | com::COM_STATISTICS
                | com::COM_REFRESH
                | com::COM_SHUTDOWN
                | com::COM_DEBUG
                | com::COM_TIME
                | com::COM_CONNECT
                | com::COM_SLEEP
                | com::COM_DELAYED_INSERT
                | com::COM_REGISTER_SLAVE => Kind::Single,
                _ => Kind::Stream,
            },
        };
        // Joined late: the session facts are whatever is known.
        self.start(out);
        if kind.expects_response() && self.server.resync {
            self.server.resync = false;
            self.server.clear();
        }
        if self.pending.len() >= MAX_PENDING {
            let detail = Some(SessionError::TooManyPending(self.pending.len()).to_string());
            self.lose(
                Flow::ServerToClient,
                0,
                GapReason::QueueOverflow,
                detail,
                ts,
                out,
            );
            self.server.resync = false;
        }
        let truncated = p.truncated();
        if let Some(r) = record.as_mut() {
            r.truncated = truncated;
        }
        let mut pending = Pending::new(kind, start, p.last_seq.wrapping_add(1), record);
        pending.truncated = truncated;
        self.pending.push_back(Box::new(pending));
        self.advance(out);
    }

    /// Activates the head command; applies the head commands that have no response.
    fn advance(&mut self, out: &mut Vec<SessionEvent>) {
        while let Some(mut p) = self.pending.pop_front() {
            if !p.active {
                self.activate(&mut p);
            }
            if p.kind.expects_response() {
                self.pending.push_front(p);
                return;
            }
            self.apply_no_response(*p, out);
            if self.phase == Phase::Closed {
                return;
            }
        }
    }

    fn activate(&mut self, p: &mut Pending) {
        p.active = true;
        p.stage = match &p.kind {
            Kind::Query | Kind::Execute(_) | Kind::BulkExecute { .. } | Kind::ResultOnly => {
                Stage::ResultStart
            }
            Kind::Prepare { .. } => Stage::PrepareStart,
            Kind::ChangeUser(_) => Stage::Auth,
            Kind::Fetch => Stage::RowsUntilEnd,
            Kind::FieldList => Stage::DefsUntilEnd,
            Kind::Stream => Stage::Stream,
            _ => Stage::Single,
        };
        match &p.kind {
            Kind::Execute(e) => {
                let (mut record, id) = self.execute_record(e, p.start_ns);
                record.truncated |= p.truncated;
                p.record = Some(record);
                p.exec_id = Some(id);
            }
            Kind::BulkExecute { statement_id } => {
                let id = self.resolve_statement(*statement_id);
                let mut rec = StatementRecord::new(None, p.start_ns);
                rec.prepared = true;
                let st = self.stmts.get(&id);
                rec.statement_name = Some(st.map_or_else(|| id_name(id), |s| s.name.clone()));
                if let Some(st) = st {
                    rec.text = Some(st.text.clone());
                    rec.truncated = st.truncated;
                    rec.params = Some(u32::from(st.num_params));
                }
                p.record = Some(rec);
                p.exec_id = Some(id);
            }
            _ => {}
        }
    }

    fn resolve_statement(&self, id: u32) -> u32 {
        if id == LAST_PREPARED_STATEMENT && !self.stmts.contains_key(&id) {
            self.last_prepared.unwrap_or(id)
        } else {
            id
        }
    }

    fn execute_record(&mut self, e: &StmtExecute, start: u64) -> (StatementRecord, u32) {
        let id = self.resolve_statement(e.statement_id);
        let mut rec = StatementRecord::new(None, start);
        rec.prepared = true;
        let query_attributes = self
            .negotiated(caps::CLIENT_QUERY_ATTRIBUTES)
            .unwrap_or(false);
        let record_params = self.opts.record_params;
        let Some(st) = self.stmts.get_mut(&id) else {
            rec.statement_name = Some(id_name(id));
            return (rec, id);
        };
        rec.statement_name = Some(st.name.clone());
        rec.text = Some(st.text.clone());
        rec.truncated = st.truncated;
        rec.params = Some(u32::from(st.num_params));
        if record_params && st.uncertain {
            debug!(id, "mysql: parameters not decoded after lost client bytes");
        } else if record_params {
            let n = usize::from(st.num_params);
            let long: Vec<bool> = (0..n)
                .map(|i| {
                    u16::try_from(i)
                        .map(|i| st.long_data.contains_key(&i))
                        .unwrap_or(false)
                })
                .collect();
            match e.params(n, &st.types, &long, query_attributes) {
                Ok(params) => {
                    let values = params
                        .values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| match v {
                            ParamValue::LongData => u16::try_from(i)
                                .ok()
                                .and_then(|i| st.long_data.get(&i))
                                .map(render_long_data),
                            other => other.to_text(),
                        })
                        .collect();
                    rec.param_values = Some(values);
                    if params.new_params_bound {
                        st.types = params.types;
                    }
                }
                Err(err) => debug!(error = %err, id, "mysql: undecodable execute parameters"),
            }
        }
        // Long data is consumed by the execute.
        st.long_data.clear();
        st.uncertain = false;
        (rec, id)
    }

    fn apply_no_response(&mut self, p: Pending, out: &mut Vec<SessionEvent>) {
        match p.kind {
            Kind::StmtClose { statement_id } => {
                let id = self.resolve_statement(statement_id);
                self.stmts.remove(&id);
            }
            Kind::SendLongData {
                statement_id,
                param_id,
                data,
            } => {
                let id = self.resolve_statement(statement_id);
                if let Some(st) = self.stmts.get_mut(&id) {
                    let entry = st.long_data.entry(param_id).or_default();
                    let room = (MAX_PARAM_TEXT + 1).saturating_sub(entry.head.len());
                    entry.head.extend_from_slice(&data[..data.len().min(room)]);
                    entry.total = entry.total.saturating_add(data.len() as u64);
                }
            }
            Kind::Quit => {
                self.end(out);
                self.phase = Phase::Closed;
                self.pending.clear();
                self.client.clear();
                self.server.clear();
            }
            _ => {}
        }
    }

    // --------------------------------------------------------------------------------------
    // Server side

    fn on_server_data(&mut self, data: &[u8], ts: u64, out: &mut Vec<SessionEvent>) {
        if self.client.resync && !data.is_empty() {
            // Client bytes buffered while resynchronising were sent before this answer: a
            // command among them has been answered already, accepting it now would pair it
            // with the next answer.
            self.client.buf.clear();
        }
        if matches!(self.phase, Phase::Opaque | Phase::Closed) || self.server.resync {
            return;
        }
        if self.server.buf.is_empty() && self.server.decoder.is_idle() {
            self.server.packet_ts = ts;
        }
        if self.phase == Phase::Greeting {
            self.server.buf.extend_from_slice(data);
            if self.server.decoder.is_idle() {
                if let Some(h) = self.server.buf.get(..5) {
                    let len = u32::from(h[0]) | u32::from(h[1]) << 8 | u32::from(h[2]) << 16;
                    let plausible = h[3] == 0 && len < 1024 && (h[4] == 10 || h[4] == 0xFF);
                    if !plausible {
                        debug!("mysql: no server greeting, joining an established session");
                        self.enter_mid_session();
                        return;
                    }
                }
            }
            self.pump_server(ts, out);
            return;
        }
        // The buffer takes one frame at a time: rows streaming are counted where they lie,
        // and only the other frames are copied (a result set's rows are most of the server's
        // bytes).
        let mut data = data;
        while !data.is_empty() {
            let take = if !self.server.decoder.is_idle() {
                data.len()
            } else if self.server.buf.is_empty() {
                // What is taken now begins in these bytes.
                self.server.packet_ts = ts;
                let n = self.count_rows(data);
                data = &data[n..];
                frame_len(data).unwrap_or(data.len())
            } else {
                // The rest of the frame begun in the buffer.
                frame_len(&self.server.buf)
                    .map(|n| n.saturating_sub(self.server.buf.len()))
                    .filter(|&n| n > 0)
                    .unwrap_or(data.len())
            }
            .min(data.len());
            self.server.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if !self.pump_server(ts, out) {
                return;
            }
        }
    }

    /// Decodes and handles the whole packets buffered; false when the rest of the server's
    /// bytes are not to be read (the session went opaque, closed or lost its framing).
    fn pump_server(&mut self, ts: u64, out: &mut Vec<SessionEvent>) -> bool {
        loop {
            if matches!(self.phase, Phase::Opaque | Phase::Closed) || self.server.resync {
                self.server.clear();
                return false;
            }
            if self.skip_rows() && !self.server.buf.is_empty() {
                self.server.packet_ts = ts;
            }
            let packet = match self.server.decoder.decode(&mut self.server.buf) {
                Ok(Some(p)) => p,
                Ok(None) => return true,
                Err(e) => {
                    let detail = Some(SessionError::Framing(e).to_string());
                    self.lose(
                        Flow::ServerToClient,
                        0,
                        GapReason::DecodeError,
                        detail,
                        ts,
                        out,
                    );
                    continue;
                }
            };
            if !self.server.buf.is_empty() {
                self.server.packet_ts = ts;
            }
            self.on_server_packet(packet, ts, out);
        }
    }

    /// Counts the complete rows at the head of the server's bytes from their frame headers,
    /// without building a packet for each: while a result set's rows stream, every packet
    /// that is neither a terminator (`0xFE`) nor an ERR (`0xFF`) is a row, and only the count
    /// is kept. Stops at anything else (a terminator, an ERR, an empty or oversized packet, a
    /// packet not all here yet, a sequence mismatch), which the decoder and
    /// [`Self::on_response`] then take as before. True when rows were counted.
    fn skip_rows(&mut self) -> bool {
        let buf = std::mem::take(&mut self.server.buf);
        let at = self.count_rows(&buf);
        self.server.buf = buf;
        if at == 0 {
            return false;
        }
        self.server.buf.advance(at);
        true
    }

    /// The rows [`Self::skip_rows`] counts at the head of `buf` (which need not be the
    /// server's buffer): counted, and their length returned.
    fn count_rows(&mut self, buf: &[u8]) -> usize {
        if self.phase != Phase::Command
            || self.trailing_eof.is_some()
            || !self.server.decoder.is_idle()
        {
            return 0;
        }
        let Some(f) = self.pending.front_mut() else {
            return 0;
        };
        if !matches!(f.stage, Stage::Rows) {
            return 0;
        }
        let max = self.server.decoder.max_payload();
        let (mut at, mut rows) = (0usize, 0u64);
        while let Some(h) = buf.get(at..at + 5) {
            match row_frame(h, f.next_seq, max) {
                Some(n) if buf.len() >= at + n => {
                    f.next_seq = h[3].wrapping_add(1);
                    rows += 1;
                    at += n;
                }
                _ => break,
            }
        }
        f.rows = f.rows.saturating_add(rows);
        at
    }

    fn on_server_packet(&mut self, p: Packet, ts: u64, out: &mut Vec<SessionEvent>) {
        match self.phase {
            Phase::Greeting => self.on_greeting(&p),
            Phase::Auth => self.on_auth_packet(&p, out),
            Phase::Command => self.on_response(p, ts, out),
            _ => {}
        }
    }

    fn on_greeting(&mut self, p: &Packet) {
        if p.is_err() {
            // Refused before the login (too many connections, host blocked...).
            if let Ok(err) = ErrPacket::parse(&p.payload) {
                debug!(code = err.code, message = %err.message, "mysql: connection refused");
            }
            self.phase = Phase::Closed;
            return;
        }
        match Handshake::parse(&p.payload) {
            Ok(hs) => {
                self.info.edit().server_version = Some(hs.version().to_owned());
                self.info.edit().backend_id = Some(u64::from(hs.connection_id));
                self.server_caps = Some(hs.capabilities);
                self.phase = Phase::Login;
            }
            Err(e) => {
                debug!(error = %e, "mysql: unreadable greeting");
                self.enter_mid_session();
            }
        }
    }

    fn on_auth_packet(&mut self, p: &Packet, out: &mut Vec<SessionEvent>) {
        match p.first() {
            Some(0x00) => {
                if let Ok(ok) = OkPacket::parse(&p.payload, self.protocol_41()) {
                    if let Some(schema) = ok.schema_change() {
                        self.info.edit().database = (!schema.is_empty()).then(|| schema.to_owned());
                    }
                }
                if self.compressed() {
                    self.go_opaque(out);
                } else {
                    self.phase = Phase::Command;
                    self.start(out);
                }
            }
            Some(0xFF) => {
                if let Ok(err) = ErrPacket::parse(&p.payload) {
                    debug!(code = err.code, message = %err.message, "mysql: login failed");
                }
                self.start(out);
                self.end(out);
                self.phase = Phase::Closed;
            }
            // Auth switch request, more data: the exchange goes on.
            _ => {}
        }
    }

    fn on_response(&mut self, p: Packet, ts: u64, out: &mut Vec<SessionEvent>) {
        if let Some(seq) = self.trailing_eof.take() {
            if p.seq == seq && p.is_eof() {
                self.learned_deprecate_eof = Some(false);
                return;
            }
        }
        let Some(mut front) = self.pending.pop_front() else {
            debug!(
                seq = p.seq,
                "mysql: server packet with no command in flight"
            );
            return;
        };
        if front.stage != Stage::Stream && p.seq != front.next_seq {
            let detail = SessionError::Sequence {
                expected: front.next_seq,
                got: p.seq,
            }
            .to_string();
            self.pending.push_front(front);
            self.lose(
                Flow::ServerToClient,
                0,
                GapReason::DecodeError,
                Some(detail),
                ts,
                out,
            );
            return;
        }
        front.next_seq = p.last_seq.wrapping_add(1);
        match self.step(&mut front, &p, out) {
            Ok(true) => {
                self.finish(*front, ts, out);
                self.advance(out);
            }
            Ok(false) => self.pending.push_front(front),
            Err(e) => {
                self.pending.push_front(front);
                self.lose(
                    Flow::ServerToClient,
                    0,
                    GapReason::DecodeError,
                    Some(e.to_string()),
                    ts,
                    out,
                );
            }
        }
    }

    /// Feeds one response packet to the head command. `Ok(true)` when its response is complete.
    fn step(
        &mut self,
        f: &mut Pending,
        p: &Packet,
        out: &mut Vec<SessionEvent>,
    ) -> Result<bool, SessionError> {
        let first = p.first();
        match f.stage {
            Stage::Stream => Ok(false),
            Stage::Single => match first {
                Some(0x00) => {
                    if let Ok(ok) = OkPacket::parse(&p.payload, self.protocol_41()) {
                        self.apply_ok(f, &ok, out);
                    }
                    f.ok = true;
                    Ok(true)
                }
                Some(0xFF) => {
                    let err = ErrPacket::parse(&p.payload).map_err(malformed("ERR packet"))?;
                    if err.is_progress() {
                        return Ok(false);
                    }
                    f.error = Some(err);
                    Ok(true)
                }
                // EOF (COM_SET_OPTION, COM_DEBUG) or a string (COM_STATISTICS).
                _ => {
                    f.ok = true;
                    Ok(true)
                }
            },
            Stage::Auth => match first {
                Some(0x00) => {
                    f.ok = true;
                    Ok(true)
                }
                Some(0xFF) => {
                    f.error = ErrPacket::parse(&p.payload).ok();
                    Ok(true)
                }
                _ => Ok(false),
            },
            Stage::ResultStart => match first {
                Some(0x00) => {
                    let ok = OkPacket::parse(&p.payload, self.protocol_41())
                        .map_err(malformed("OK packet"))?;
                    f.any_result = true;
                    f.rows = f.rows.saturating_add(ok.affected_rows);
                    self.apply_ok(f, &ok, out);
                    Ok(self.end_of_result(f, ok.status))
                }
                Some(0xFF) => {
                    let err = ErrPacket::parse(&p.payload).map_err(malformed("ERR packet"))?;
                    if err.is_progress() {
                        return Ok(false);
                    }
                    f.error = Some(err);
                    Ok(true)
                }
                Some(0xFB) => {
                    f.stage = Stage::Infile;
                    f.copy_bytes = Some(f.copy_bytes.unwrap_or(0));
                    self.client_infile = true;
                    Ok(false)
                }
                _ => {
                    let cc = ColumnCount::parse(&p.payload).map_err(malformed("column count"))?;
                    if cc.count > MAX_RESULT_COLUMNS {
                        return Err(SessionError::ColumnCount(cc.count));
                    }
                    f.any_result = true;
                    f.result_sets = f.result_sets.saturating_add(1);
                    if cc.metadata_follows {
                        f.stage = Stage::ColumnDefs { left: cc.count };
                    } else {
                        // Metadata skipped: the columns are the prepared statement's.
                        if f.result_sets == 1 {
                            if let Some(st) = f.exec_id.and_then(|id| self.stmts.get(&id)) {
                                let room = MAX_COLUMNS.saturating_sub(f.columns.len());
                                f.columns.extend(st.columns.iter().take(room).cloned());
                            }
                        }
                        f.stage = Stage::AfterDefs;
                    }
                    Ok(false)
                }
            },
            Stage::ColumnDefs { left } => {
                let def = ColumnDefinition::parse(&p.payload, self.extended_metadata())
                    .map_err(malformed("column definition"))?;
                f.push_column(&def);
                f.stage = if left <= 1 {
                    Stage::AfterDefs
                } else {
                    Stage::ColumnDefs { left: left - 1 }
                };
                Ok(false)
            }
            Stage::AfterDefs => {
                if p.is_eof() {
                    let eof = EofPacket::parse(&p.payload).map_err(malformed("EOF packet"))?;
                    if self.deprecate_eof().is_none() {
                        self.learned_deprecate_eof = Some(false);
                    }
                    if eof.status & status::SERVER_STATUS_CURSOR_EXISTS != 0 {
                        // A cursor was opened: rows come with COM_STMT_FETCH.
                        return Ok(self.end_of_result(f, eof.status));
                    }
                    f.stage = Stage::Rows;
                    return Ok(false);
                }
                if self.deprecate_eof().is_none() {
                    self.learned_deprecate_eof = Some(true);
                }
                f.stage = Stage::Rows;
                self.step_rows(f, p, out)
            }
            Stage::Rows => self.step_rows(f, p, out),
            Stage::Infile => {
                self.client_infile = false;
                match first {
                    Some(0x00) => {
                        let ok = OkPacket::parse(&p.payload, self.protocol_41())
                            .map_err(malformed("OK packet"))?;
                        f.any_result = true;
                        f.rows = f.rows.saturating_add(ok.affected_rows);
                        self.apply_ok(f, &ok, out);
                        Ok(self.end_of_result(f, ok.status))
                    }
                    Some(0xFF) => {
                        let err = ErrPacket::parse(&p.payload).map_err(malformed("ERR packet"))?;
                        if err.is_progress() {
                            self.client_infile = false;
                            return Ok(false);
                        }
                        f.error = Some(err);
                        Ok(true)
                    }
                    other => Err(SessionError::Unexpected(
                        other.unwrap_or(0),
                        "LOCAL INFILE response",
                    )),
                }
            }
            Stage::PrepareStart => match first {
                Some(0x00) => {
                    let ok = StmtPrepareOk::parse(&p.payload).map_err(malformed("prepare OK"))?;
                    f.prepare_ok = Some(ok);
                    f.stage = Stage::PrepareDefs {
                        params_left: ok.num_params,
                        cols_left: ok.num_columns,
                        params_eof: ok.num_params > 0,
                        cols_eof: ok.num_columns > 0,
                    };
                    Ok(self.prepare_done(f))
                }
                Some(0xFF) => {
                    f.error = Some(ErrPacket::parse(&p.payload).map_err(malformed("ERR packet"))?);
                    Ok(true)
                }
                other => Err(SessionError::Unexpected(
                    other.unwrap_or(0),
                    "prepare response",
                )),
            },
            Stage::PrepareDefs {
                mut params_left,
                mut cols_left,
                mut params_eof,
                mut cols_eof,
            } => {
                if params_left > 0 {
                    if p.is_eof() || p.is_err() {
                        return Err(SessionError::Unexpected(
                            first.unwrap_or(0),
                            "parameter definitions",
                        ));
                    }
                    params_left -= 1;
                } else if params_eof && p.is_eof() {
                    params_eof = false;
                    self.learn_deprecate_eof(false);
                } else {
                    if params_eof {
                        // Columns follow the parameters without an EOF.
                        params_eof = false;
                        self.learn_deprecate_eof(true);
                    }
                    if cols_left > 0 {
                        let def = ColumnDefinition::parse(&p.payload, self.extended_metadata())
                            .map_err(malformed("column definition"))?;
                        f.push_column(&def);
                        cols_left -= 1;
                    } else if cols_eof && p.is_eof() {
                        cols_eof = false;
                        self.learn_deprecate_eof(false);
                    } else {
                        return Err(SessionError::Unexpected(
                            first.unwrap_or(0),
                            "prepare response",
                        ));
                    }
                }
                f.stage = Stage::PrepareDefs {
                    params_left,
                    cols_left,
                    params_eof,
                    cols_eof,
                };
                Ok(self.prepare_done(f))
            }
            Stage::DefsUntilEnd => {
                if p.is_err() {
                    f.error = ErrPacket::parse(&p.payload).ok();
                    return Ok(true);
                }
                Ok(p.is_result_terminator())
            }
            Stage::RowsUntilEnd => {
                if p.is_err() {
                    f.error = ErrPacket::parse(&p.payload).ok();
                    return Ok(true);
                }
                Ok(p.is_result_terminator())
            }
        }
    }

    fn learn_deprecate_eof(&mut self, value: bool) {
        if self.negotiated(caps::CLIENT_DEPRECATE_EOF).is_none() {
            self.learned_deprecate_eof = Some(value);
        }
    }

    fn step_rows(
        &mut self,
        f: &mut Pending,
        p: &Packet,
        out: &mut Vec<SessionEvent>,
    ) -> Result<bool, SessionError> {
        if p.is_result_terminator() {
            let status = terminator_status(&p.payload, self.protocol_41())
                .map_err(malformed("end of result set"))?;
            if p.len > 5 {
                if let Ok(ok) = OkPacket::parse(&p.payload, self.protocol_41()) {
                    self.apply_ok(f, &ok, out);
                }
            }
            return Ok(self.end_of_result(f, status));
        }
        if p.is_err() {
            f.error = Some(ErrPacket::parse(&p.payload).map_err(malformed("ERR packet"))?);
            return Ok(true);
        }
        f.rows = f.rows.saturating_add(1);
        Ok(false)
    }

    fn end_of_result(&mut self, f: &mut Pending, status: u16) -> bool {
        if status & status::SERVER_STATUS_CURSOR_EXISTS != 0 {
            f.cursor = true;
        }
        if status & status::SERVER_MORE_RESULTS_EXISTS != 0 {
            f.stage = Stage::ResultStart;
            false
        } else {
            true
        }
    }

    /// True when the prepare response is complete (only EOFs can be left; their presence
    /// depends on CLIENT_DEPRECATE_EOF).
    fn prepare_done(&mut self, f: &Pending) -> bool {
        let Stage::PrepareDefs {
            params_left,
            cols_left,
            params_eof,
            cols_eof,
        } = f.stage
        else {
            return true;
        };
        if params_left > 0 || cols_left > 0 {
            return false;
        }
        if !params_eof && !cols_eof {
            return true;
        }
        match self.deprecate_eof() {
            Some(deprecated) => deprecated,
            None => {
                // Unknown: complete now, and swallow the EOF if it comes.
                self.trailing_eof = Some(f.next_seq);
                true
            }
        }
    }

    fn apply_ok(&mut self, f: &mut Pending, ok: &OkPacket, out: &mut Vec<SessionEvent>) {
        if let Some(schema) = ok.schema_change() {
            f.schema_tracked = true;
            let db = (!schema.is_empty()).then(|| schema.to_owned());
            self.set_database(db, out);
        }
    }

    /// The head command's response is complete.
    fn finish(&mut self, mut f: Pending, ts: u64, out: &mut Vec<SessionEvent>) {
        match f.kind {
            Kind::Query | Kind::Execute(_) | Kind::BulkExecute { .. } => {
                let Some(mut rec) = f.record.take() else {
                    return;
                };
                rec.end_ns = ts;
                rec.rows = (f.any_result && !f.cursor).then_some(f.rows);
                rec.columns = std::mem::take(&mut f.columns).into();
                rec.copy_bytes = f.copy_bytes;
                match f.error.take() {
                    Some(err) => {
                        if err.code == ER_UNKNOWN_STMT_HANDLER && f.exec_id.is_some() {
                            // The server does not know the statement (closed or reset in
                            // bytes we lost): what we remembered about it is stale.
                            if let Some(id) = f.exec_id {
                                self.stmts.remove(&id);
                            }
                            rec.text = None;
                            rec.params = None;
                            rec.param_values = None;
                        }
                        rec.status = Status::Error;
                        rec.error_code = Some(err.error_code());
                        rec.error_message = Some(err.message);
                    }
                    None => {
                        if matches!(f.kind, Kind::Query) && !f.schema_tracked {
                            if let Some(db) = rec.text.as_deref().and_then(use_target) {
                                self.set_database(Some(db), out);
                            }
                        }
                    }
                }
                out.push(SessionEvent::Statement(Box::new(rec)));
            }
            Kind::Prepare { text } => match (f.error.take(), f.prepare_ok) {
                (Some(err), _) => {
                    let mut rec = StatementRecord::new(Some(text.into()), f.start_ns);
                    rec.prepared = true;
                    rec.truncated = f.truncated;
                    rec.end_ns = ts;
                    rec.status = Status::Error;
                    rec.error_code = Some(err.error_code());
                    rec.error_message = Some(err.message);
                    out.push(SessionEvent::Statement(Box::new(rec)));
                }
                (None, Some(ok)) => {
                    if self.stmts.len() >= MAX_PREPARED
                        && !self.stmts.contains_key(&ok.statement_id)
                    {
                        self.stmts.pop_first();
                    }
                    self.stmts.insert(
                        ok.statement_id,
                        Prepared {
                            text: text.into(),
                            name: id_name(ok.statement_id),
                            num_params: ok.num_params,
                            types: Vec::new(),
                            columns: std::mem::take(&mut f.columns),
                            long_data: BTreeMap::new(),
                            uncertain: false,
                            truncated: f.truncated,
                        },
                    );
                    self.last_prepared = Some(ok.statement_id);
                }
                (None, None) => {}
            },
            Kind::InitDb { schema } if f.ok => {
                self.set_database((!schema.is_empty()).then_some(schema), out);
            }
            Kind::ChangeUser(cu) if f.ok => {
                self.info.edit().user = (!cu.user.is_empty()).then(|| cu.user.clone());
                self.info.edit().database = cu.database.clone();
                if !cu.attributes.is_empty() {
                    self.info.edit().application = cu.attribute("program_name").map(str::to_owned);
                }
                // The server deallocates the prepared statements of the old session.
                self.stmts.clear();
                self.last_prepared = None;
                out.push(SessionEvent::Update(self.info.clone()));
            }
            Kind::ResetConnection if f.ok => {
                self.stmts.clear();
                self.last_prepared = None;
            }
            Kind::StmtReset { statement_id } if f.ok => {
                let id = self.resolve_statement(statement_id);
                if let Some(st) = self.stmts.get_mut(&id) {
                    st.long_data.clear();
                }
            }
            _ => {}
        }
    }
}

fn render_long_data(d: &LongData) -> String {
    let head = &d.head[..d.head.len().min(MAX_PARAM_TEXT)];
    let mut s = bytes_to_text(head);
    if d.total > MAX_PARAM_TEXT as u64 {
        s.push_str(&format!("...({} bytes)", d.total));
    }
    s
}

/// The database of a `USE db` statement.
fn use_target(sql: &str) -> Option<String> {
    let s = sql.trim().trim_end_matches(';').trim_end();
    let keyword = s.get(..3)?;
    if !keyword.eq_ignore_ascii_case("use") {
        return None;
    }
    let rest = s.get(3..)?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let name = rest.trim();
    if let Some(quoted) = name.strip_prefix('`').and_then(|n| n.strip_suffix('`')) {
        if quoted.is_empty() {
            return None;
        }
        return Some(quoted.replace("``", "`"));
    }
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ';' || c == '`') {
        return None;
    }
    Some(name.to_owned())
}

#[derive(Debug, PartialEq, Eq)]
enum Candidate {
    Accept,
    Reject,
    NeedMore,
}

/// How many pipelined commands [`command_candidate`] checks after a candidate.
const MAX_FOLLOWERS: usize = 3;

/// Whether `b` starts with a plausible client command packet: sequence id 0, a common
/// command byte, a length that fits the command and a plausible body. The packet must end
/// where the buffered bytes end (a client waits for the answer) or be followed by another
/// plausible command (pipelining); COM_QUIT must be last.
fn command_candidate(b: &[u8], depth: usize) -> Candidate {
    let Some(h) = b.get(..5) else {
        return Candidate::NeedMore;
    };
    let len = payload_len(h);
    if h[3] != 0 || len == 0 {
        return Candidate::Reject;
    }
    let body = &b[5..];
    let body_len = len - 1;
    let verdict = match h[4] {
        com::COM_QUIT
        | com::COM_PING
        | com::COM_STATISTICS
        | com::COM_PROCESS_INFO
        | com::COM_DEBUG
        | com::COM_RESET_CONNECTION => accept_if(len == 1),
        com::COM_STMT_CLOSE | com::COM_STMT_RESET => accept_if(len == 5),
        com::COM_STMT_FETCH => accept_if(len == 9),
        com::COM_STMT_EXECUTE => {
            if len < 10 {
                Candidate::Reject
            } else if let Some(head) = body.get(..9) {
                let iterations = u32::from_le_bytes([head[5], head[6], head[7], head[8]]);
                accept_if(head[4] <= 0x0F && iterations == 1)
            } else {
                Candidate::NeedMore
            }
        }
        com::COM_STMT_SEND_LONG_DATA => {
            if len < 7 {
                Candidate::Reject
            } else if let Some(head) = body.get(..6) {
                let id = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
                let param = u16::from_le_bytes([head[4], head[5]]);
                accept_if(id < 1 << 24 && param < 1 << 12)
            } else {
                Candidate::NeedMore
            }
        }
        com::COM_QUERY | com::COM_STMT_PREPARE => plausible_sql(body, body_len),
        com::COM_INIT_DB => {
            if body_len > 256 {
                Candidate::Reject
            } else {
                match body.get(..body_len) {
                    None => Candidate::NeedMore,
                    Some(name) => accept_if(
                        std::str::from_utf8(name)
                            .is_ok_and(|s| !s.chars().any(|c| c.is_control() || c == '\0')),
                    ),
                }
            }
        }
        com::COM_CHANGE_USER => {
            let head = &body[..body.len().min(body_len).min(81)];
            match head.iter().position(|&c| c == 0) {
                Some(0) => Candidate::Reject,
                Some(n) => accept_if(head[..n].iter().all(|c| c.is_ascii_graphic())),
                None if head.len() >= 81 || head.len() == body_len => Candidate::Reject,
                None => Candidate::NeedMore,
            }
        }
        _ => Candidate::Reject,
    };
    if verdict != Candidate::Accept {
        return verdict;
    }
    let end = 4 + len;
    match b.get(end..) {
        None => Candidate::NeedMore,
        Some([]) => Candidate::Accept,
        Some(_) if h[4] == com::COM_QUIT => Candidate::Reject,
        Some(_) if depth >= MAX_FOLLOWERS => Candidate::Accept,
        Some(next) => command_candidate(next, depth + 1),
    }
}

/// Whether the packet found at `at` is carried uncompressed inside a compressed-protocol
/// frame (3-byte compressed length, sequence id, 3-byte uncompressed length 0): the
/// connection uses CLIENT_COMPRESS.
fn compressed_wrapper(buf: &[u8], at: usize) -> bool {
    let (Some(start), Some(h)) = (at.checked_sub(7), buf.get(at..at + 3)) else {
        return false;
    };
    let Some(w) = buf.get(start..at) else {
        return false;
    };
    let inner = payload_len(h);
    let outer = payload_len(w);
    outer == inner + 4 && w[4..7] == [0, 0, 0]
}

fn accept_if(ok: bool) -> Candidate {
    if ok {
        Candidate::Accept
    } else {
        Candidate::Reject
    }
}

/// Whether the start of a COM_QUERY / COM_STMT_PREPARE body looks like SQL text.
fn plausible_sql(body: &[u8], body_len: usize) -> Candidate {
    if body_len < 4 {
        return Candidate::Reject;
    }
    let n = body_len.min(64);
    let Some(head) = body.get(..n) else {
        return Candidate::NeedMore;
    };
    // MySQL 8 query attributes prefix without attributes: count 0, one parameter set.
    let head = head.strip_prefix(b"\x00\x01").unwrap_or(head);
    let Some(&first) = head.iter().find(|c| !c.is_ascii_whitespace()) else {
        return Candidate::Reject;
    };
    if !(first.is_ascii_alphabetic() || matches!(first, b'(' | b'/' | b'-' | b'#' | b'{')) {
        return Candidate::Reject;
    }
    if head
        .iter()
        .any(|&c| c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r'))
    {
        return Candidate::Reject;
    }
    match std::str::from_utf8(head) {
        Ok(_) => Candidate::Accept,
        Err(e) if e.error_len().is_none() && n < body_len => Candidate::Accept,
        Err(_) => Candidate::Reject,
    }
}

impl Conversation for MysqlSession {
    fn on_data(&mut self, flow: Flow, data: &[u8], ts_ns: u64, out: &mut Vec<SessionEvent>) {
        match flow {
            Flow::ClientToServer => self.on_client_data(data, ts_ns, out),
            Flow::ServerToClient => self.on_server_data(data, ts_ns, out),
        }
    }

    fn on_gap(&mut self, flow: Flow, bytes: u64, ts_ns: u64, out: &mut Vec<SessionEvent>) {
        // A client write cut by the capture limit: the hole is inside the command packet being
        // decoded, so framing holds. The command is still reported (from its head, marked
        // truncated) and nothing else is lost; the gap event still says how many bytes.
        if flow == Flow::ClientToServer
            && self.phase == Phase::Command
            && !self.client.resync
            && self.client.buf.is_empty()
            && usize::try_from(bytes).is_ok_and(|n| self.client.decoder.skip(n))
        {
            out.push(SessionEvent::Gap {
                flow,
                bytes,
                reason: GapReason::MissingBytes,
                detail: Some("inside a client packet; the command is reported truncated".into()),
            });
            // The holed packet may have been long data: the next execute's values are not
            // reliable.
            for st in self.stmts.values_mut() {
                st.uncertain = true;
            }
            self.on_client_data(&[], ts_ns, out);
            return;
        }
        self.lose(flow, bytes, GapReason::MissingBytes, None, ts_ns, out);
    }

    fn on_close(&mut self, ts_ns: u64, out: &mut Vec<SessionEvent>) {
        if !matches!(self.phase, Phase::Opaque | Phase::Closed) {
            self.fail_pending(ts_ns, out);
        }
        self.end(out);
        self.phase = Phase::Closed;
        self.client.clear();
        self.server.clear();
        self.pending.clear();
    }

    fn info(&self) -> &SessionInfo {
        &self.info
    }

    fn info_version(&self) -> u64 {
        self.info.version()
    }

    fn tls_plaintext(&mut self) {
        // Also a session joined mid-stream, which never saw its switch to TLS.
        self.info.edit().tls = true;
        if self.tls_wait {
            // The plaintext stream continues with the HandshakeResponse sent over TLS.
            self.tls_wait = false;
            self.info.edit().inspectable = true;
            self.phase = Phase::Login;
            self.client.clear();
            self.server.clear();
        }
    }
}

/// The length (header included) of the frame whose header starts `d`, once 4 bytes are here.
fn frame_len(d: &[u8]) -> Option<usize> {
    (d.len() >= 4).then(|| 4 + payload_len(d))
}

/// The length (header included) of a frame whose first 5 bytes are `h` when it is a result
/// row: the expected sequence number, not empty, not oversized, and neither a terminator
/// (`0xFE`) nor an ERR (`0xFF`).
fn row_frame(h: &[u8], next_seq: u8, max: usize) -> Option<usize> {
    let &[_, _, _, seq, first] = h.first_chunk::<5>()?;
    let len = payload_len(h);
    (seq == next_seq
        && len != 0
        && len < MAX_FRAME_LEN
        && len <= max
        && first != 0xFE
        && first != 0xFF)
        .then_some(4 + len)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const CLI: &[u8] = include_bytes!("../../tests/fixtures/mysql/cli_session.bin");
    const CONNECTOR: &[u8] = include_bytes!("../../tests/fixtures/mysql/connector_prepared.bin");
    const RAW_EOF: &[u8] = include_bytes!("../../tests/fixtures/mysql/raw_eof.bin");
    const RAW_DEPRECATE: &[u8] = include_bytes!("../../tests/fixtures/mysql/raw_deprecate_eof.bin");
    const SSL: &[u8] = include_bytes!("../../tests/fixtures/mysql/ssl.bin");
    const COMPRESS: &[u8] = include_bytes!("../../tests/fixtures/mysql/compress.bin");
    const LOGIN_FAILED: &[u8] = include_bytes!("../../tests/fixtures/mysql/login_failed.bin");
    const AUTH_SWITCH: &[u8] = include_bytes!("../../tests/fixtures/mysql/auth_switch.bin");
    const MISC_EOF: &[u8] = include_bytes!("../../tests/fixtures/mysql/misc_eof.bin");
    const MISC_DEPRECATE: &[u8] =
        include_bytes!("../../tests/fixtures/mysql/misc_deprecate_eof.bin");
    const ALL: [&[u8]; 10] = [
        CLI,
        CONNECTOR,
        RAW_EOF,
        RAW_DEPRECATE,
        SSL,
        COMPRESS,
        LOGIN_FAILED,
        AUTH_SWITCH,
        MISC_EOF,
        MISC_DEPRECATE,
    ];

    fn chunks(file: &[u8]) -> Vec<(Flow, &[u8])> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + 5 <= file.len() {
            let n = u32::from_le_bytes(file[pos + 1..pos + 5].try_into().unwrap()) as usize;
            let flow = match file[pos] {
                b'C' => Flow::ClientToServer,
                _ => Flow::ServerToClient,
            };
            out.push((flow, &file[pos + 5..pos + 5 + n]));
            pos += 5 + n;
        }
        out
    }

    fn replay_opts(file: &[u8], opts: SessionOptions) -> Vec<SessionEvent> {
        let mut s = MysqlSession::new(opts);
        let mut out = Vec::new();
        let all = chunks(file);
        for (i, (flow, bytes)) in all.iter().enumerate() {
            s.on_data(*flow, bytes, (i as u64 + 1) * 1000, &mut out);
        }
        s.on_close((all.len() as u64 + 1) * 1000, &mut out);
        out
    }

    fn replay(file: &[u8]) -> Vec<SessionEvent> {
        replay_opts(file, SessionOptions::default())
    }

    fn replay_split(
        file: &[u8],
        opts: SessionOptions,
        mut piece: impl FnMut(usize) -> usize,
    ) -> Vec<SessionEvent> {
        let mut s = MysqlSession::new(opts);
        let mut out = Vec::new();
        let all = chunks(file);
        for (i, (flow, bytes)) in all.iter().enumerate() {
            let mut rest = *bytes;
            while !rest.is_empty() {
                let n = piece(rest.len()).clamp(1, rest.len());
                s.on_data(*flow, &rest[..n], (i as u64 + 1) * 1000, &mut out);
                rest = &rest[n..];
            }
        }
        s.on_close((all.len() as u64 + 1) * 1000, &mut out);
        out
    }

    fn statements(events: &[SessionEvent]) -> Vec<StatementRecord> {
        events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Statement(s) => Some((**s).clone()),
                _ => None,
            })
            .collect()
    }

    fn texts(events: &[SessionEvent]) -> Vec<String> {
        statements(events)
            .into_iter()
            .map(|s| s.text.map_or_else(|| "<none>".into(), |t| t.to_string()))
            .collect()
    }

    fn start_info(events: &[SessionEvent]) -> SessionInfo {
        match events.first() {
            Some(SessionEvent::Start(info)) => info.clone(),
            other => panic!("first event is not Start: {other:?}"),
        }
    }

    /// With `request_events`, each statement of the CLI and connector captures is reported
    /// at request time, before its completed record; without, never.
    #[test]
    fn requests_are_reported_before_their_statements_when_asked() {
        for file in [CLI, CONNECTOR] {
            let off = replay(file);
            assert!(!off.iter().any(|e| matches!(e, SessionEvent::Request(_))));
            let on = replay_opts(
                file,
                SessionOptions {
                    request_events: true,
                    ..SessionOptions::default()
                },
            );
            let mut requested: Vec<Option<String>> = Vec::new();
            let mut n = 0;
            for e in &on {
                match e {
                    SessionEvent::Request(r) => requested.push(r.text.clone()),
                    SessionEvent::Statement(st) => {
                        n += 1;
                        let pos = requested
                            .iter()
                            .position(|t| t.as_deref() == st.text.as_deref());
                        assert!(pos.is_some(), "no request before {:?}", st.text);
                        if let Some(p) = pos {
                            requested.remove(p);
                        }
                    }
                    _ => {}
                }
            }
            assert_eq!(n, statements(&off).len());
        }
    }

    fn with_params() -> SessionOptions {
        SessionOptions {
            record_params: true,
            ..SessionOptions::default()
        }
    }

    /// Deterministic xorshift PRNG.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn pkt(seq: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut v = len.to_le_bytes()[..3].to_vec();
        v.push(seq);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn execute_cut_by_the_capture_limit_is_reported_truncated() {
        // A ~500 KB COM_STMT_EXECUTE of which the kernel captured the first 64 KiB: the hole
        // falls inside the packet, so the execute is still one statement event (from its
        // head, marked truncated) and the commands after it decode normally.
        let mut s = MysqlSession::new(SessionOptions::default());
        let mut out = Vec::new();
        let mut prep = vec![com::COM_STMT_PREPARE];
        prep.extend_from_slice(b"INSERT INTO t VALUES (1)");
        s.on_data(Flow::ClientToServer, &pkt(0, &prep), 1, &mut out);
        // PREPARE_OK: id 7, 0 columns, 0 params.
        let ok = [0u8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        s.on_data(Flow::ServerToClient, &pkt(1, &ok), 2, &mut out);
        let mut exec = vec![com::COM_STMT_EXECUTE, 7, 0, 0, 0, 0, 1, 0, 0, 0];
        exec.resize(500_000, 0x41);
        let wire = pkt(0, &exec);
        let captured = 64 * 1024;
        s.on_data(Flow::ClientToServer, &wire[..captured], 3, &mut out);
        s.on_gap(
            Flow::ClientToServer,
            (wire.len() - captured) as u64,
            4,
            &mut out,
        );
        let ok_packet = [0u8, 1, 0, 2, 0, 0, 0];
        s.on_data(Flow::ServerToClient, &pkt(1, &ok_packet), 5, &mut out);
        let mut q = vec![com::COM_QUERY];
        q.extend_from_slice(b"DELETE FROM t WHERE a = 1");
        s.on_data(Flow::ClientToServer, &pkt(0, &q), 6, &mut out);
        s.on_data(Flow::ServerToClient, &pkt(1, &ok_packet), 7, &mut out);
        let st = statements(&out);
        let got: Vec<(Option<&str>, bool, Status, Option<u64>)> = st
            .iter()
            .map(|r| (r.text.as_deref(), r.truncated, r.status, r.rows))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("INSERT INTO t VALUES (1)"), true, Status::Ok, Some(1)),
                (
                    Some("DELETE FROM t WHERE a = 1"),
                    false,
                    Status::Ok,
                    Some(1)
                ),
            ],
            "{out:?}"
        );
        let gaps: Vec<(u64, GapReason)> = out
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Gap { bytes, reason, .. } => Some((*bytes, *reason)),
                _ => None,
            })
            .collect();
        assert_eq!(
            gaps,
            vec![((wire.len() - captured) as u64, GapReason::MissingBytes)]
        );
    }

    #[test]
    fn cli_session() {
        let events = replay(CLI);
        let info = start_info(&events);
        assert_eq!(info.user.as_deref(), Some("app"));
        assert_eq!(info.database.as_deref(), Some("shop"));
        assert_eq!(info.application.as_deref(), Some("mysql"));
        assert_eq!(
            info.server_version.as_deref(),
            Some("10.11.14-MariaDB-0+deb12u2")
        );
        assert!(info.backend_id.is_some());
        assert!(info.inspectable && !info.tls);
        assert_eq!(events.last(), Some(&SessionEvent::End));

        let st = statements(&events);
        let summary: Vec<(&str, Status, Option<u64>)> = st
            .iter()
            .map(|s| (s.text.as_deref().unwrap(), s.status, s.rows))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "SELECT id, name, price FROM items ORDER BY id",
                    Status::Ok,
                    Some(3)
                ),
                ("SELECT * FROM nosuch", Status::Error, None),
                ("SELECT DATABASE()", Status::Ok, Some(1)),
                ("DELETE FROM t", Status::Ok, Some(0)),
                ("INSERT INTO t VALUES (1),(2),(3)", Status::Ok, Some(3)),
                ("UPDATE t SET a = a + 10 WHERE a > 1", Status::Ok, Some(2)),
                ("SELECT a FROM t ORDER BY a", Status::Ok, Some(3)),
                ("SELECT DATABASE()", Status::Ok, Some(1)),
                ("SELECT 1 AS x; SELECT 2 AS y", Status::Ok, Some(2)),
                // 1 row + 3 rows + the final OK of the CALL.
                ("CALL two()", Status::Ok, Some(4)),
            ]
        );
        let err = &st[1];
        assert_eq!(err.error_code.as_deref(), Some("1146/42S02"));
        assert_eq!(
            err.error_message.as_deref(),
            Some("Table 'shop.nosuch' doesn't exist")
        );
        let cols = &st[0].columns;
        assert_eq!(cols.len(), 3);
        assert_eq!(
            cols[1],
            ResultColumn {
                name: "name".into(),
                org_name: Some("name".into()),
                table: Some("items".into()),
                schema: Some("shop".into()),
                table_oid: None,
                attnum: None,
            }
        );
        assert!(st.iter().all(|s| !s.prepared && s.tag.is_none()));
        assert!(st.iter().all(|s| s.start_ns < s.end_ns));
        let names: Vec<&str> = st[9].columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["one", "id", "name"]);

        // USE otherdb and \u shop are COM_INIT_DB.
        let dbs: Vec<Option<String>> = events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Update(i) => Some(i.database.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(dbs, [Some("otherdb".into()), Some("shop".into())]);
    }

    #[test]
    fn connector_prepared_statements() {
        let events = replay_opts(CONNECTOR, with_params());
        let info = start_info(&events);
        assert_eq!(info.application.as_deref(), Some("billing-api"));
        let st = statements(&events);
        let execs: Vec<&StatementRecord> = st.iter().filter(|s| s.prepared).collect();
        assert_eq!(execs.len(), 4);
        let select = "SELECT id, name, price FROM items WHERE qty > ? AND name <> ? ORDER BY id";
        assert_eq!(execs[0].text.as_deref(), Some(select));
        // Statement ids are assigned by the server: same statement, same id.
        let id = execs[0].statement_name.as_deref().unwrap();
        assert!(id.parse::<u32>().is_ok());
        assert_eq!(execs[1].statement_name, execs[0].statement_name);
        assert_ne!(execs[2].statement_name, execs[0].statement_name);
        assert_eq!(execs[0].params, Some(2));
        assert_eq!(
            execs[0].param_values,
            Some(vec![Some("1".into()), Some("x".into())])
        );
        assert_eq!(execs[0].rows, Some(3));
        assert_eq!(execs[0].columns.len(), 3);
        assert_eq!(
            execs[1].param_values,
            Some(vec![Some("50".into()), Some("apple".into())])
        );
        assert_eq!(execs[1].rows, Some(1));
        assert_eq!(execs[2].rows, Some(1));
        assert_eq!(
            execs[2].param_values.as_ref().unwrap()[4].as_deref(),
            Some("2025-06-07 08:09:10.000011")
        );
        assert_eq!(execs[3].status, Status::Error);
        assert_eq!(execs[3].error_code.as_deref(), Some("1062/23000"));

        // COM_INIT_DB, then COM_CHANGE_USER.
        let updates: Vec<&SessionInfo> = events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Update(i) => Some(i),
                _ => None,
            })
            .collect();
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].database.as_deref(), Some("otherdb"));
        assert_eq!(updates[0].user.as_deref(), Some("app"));
        assert_eq!(updates[1].user.as_deref(), Some("auditor"));
        assert_eq!(updates[1].database.as_deref(), Some("shop"));
        assert_eq!(updates[1].application.as_deref(), Some("billing-api"));
        assert_eq!(
            st.last().unwrap().text.as_deref(),
            Some("SELECT COUNT(*) FROM items")
        );

        // Parameter values are kept only on request.
        let plain = statements(&replay(CONNECTOR));
        assert!(plain.iter().all(|s| s.param_values.is_none()));
        assert_eq!(plain.len(), st.len());
    }

    #[test]
    fn raw_sessions_agree_in_both_eof_modes() {
        let eof = statements(&replay_opts(RAW_EOF, with_params()));
        let dep = statements(&replay_opts(RAW_DEPRECATE, with_params()));
        assert_eq!(eof.len(), dep.len());
        let norm = |mut s: StatementRecord| {
            s.start_ns = 0;
            s.end_ns = 0;
            s.statement_name = s.statement_name.map(|_| "id".into());
            s
        };
        for (a, b) in eof.into_iter().zip(dep) {
            assert_eq!(norm(a), norm(b));
        }
    }

    #[test]
    fn raw_session_details() {
        let events = replay_opts(RAW_EOF, with_params());
        let st = statements(&events);
        let insert = "INSERT INTO typed VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)";
        let inserts: Vec<&StatementRecord> = st
            .iter()
            .filter(|s| s.text.as_deref() == Some(insert))
            .collect();
        assert_eq!(inserts.len(), 3);
        assert!(inserts.iter().all(|s| s.params == Some(13) && s.prepared));
        // Types sent once then omitted: the second execute still decodes.
        let v2 = inserts[1].param_values.as_ref().unwrap();
        assert_eq!(v2[0].as_deref(), Some("7"));
        assert_eq!(v2[2], None);
        assert_eq!(v2[7].as_deref(), Some("second"));
        // COM_STMT_SEND_LONG_DATA twice for parameter 7.
        let v3 = inserts[2].param_values.as_ref().unwrap();
        assert_eq!(v3[7].as_deref(), Some("long data"));

        let by_text = |t: &str| st.iter().find(|s| s.text.as_deref() == Some(t)).unwrap();
        let call = by_text("CALL two()");
        assert_eq!(
            (call.status, call.rows, call.prepared),
            (Status::Ok, Some(4), true)
        );
        assert_eq!(call.columns.len(), 3);
        let failed = by_text("SELECT 1 FROM items WHERE id = ? AND 1 = (SELECT id FROM items)");
        assert_eq!(failed.error_code.as_deref(), Some("1242/21000"));
        // A failed prepare is reported, without statement id.
        let prep = by_text("SELECT nope FROM nosuch");
        assert_eq!((prep.status, prep.prepared), (Status::Error, true));
        assert_eq!(prep.statement_name, None);
        assert_eq!(prep.error_code.as_deref(), Some("1146/42S02"));
        let multi = by_text(
            "SELECT 1 AS a; UPDATE items SET qty = qty WHERE id < 3; SELECT name FROM items",
        );
        assert_eq!((multi.status, multi.rows), (Status::Ok, Some(4)));
        let multi_err = by_text("SELECT 2 AS b; SELECT * FROM nosuch; SELECT 3");
        assert_eq!(multi_err.status, Status::Error);
        assert_eq!(multi_err.rows, Some(1));
        assert_eq!(multi_err.error_code.as_deref(), Some("1146/42S02"));
        let infile = by_text("LOAD DATA LOCAL INFILE 'data.csv' INTO TABLE otherdb.t");
        assert_eq!((infile.rows, infile.copy_bytes), (Some(3), Some(9)));
        // The statement after the LOCAL INFILE exchange and the PING/STATISTICS is decoded.
        assert_eq!(
            st.last().unwrap().text.as_deref(),
            Some("DELETE FROM otherdb.t")
        );
        assert_eq!(st.last().unwrap().rows, Some(3));
        // Binary result rows.
        let selects: Vec<&StatementRecord> = st
            .iter()
            .filter(|s| {
                s.text
                    .as_deref()
                    .is_some_and(|t| t.starts_with("SELECT id, name, price, created"))
            })
            .collect();
        assert_eq!(
            selects.iter().map(|s| s.rows).collect::<Vec<_>>(),
            [Some(3), Some(1)]
        );
        assert_eq!(events.last(), Some(&SessionEvent::End));
    }

    #[test]
    fn cursors_field_list_set_option_and_reset_connection() {
        for file in [MISC_EOF, MISC_DEPRECATE] {
            let events = replay(file);
            assert_eq!(start_info(&events).database, None);
            let st = statements(&events);
            let summary: Vec<(Option<&str>, Status, Option<u64>)> = st
                .iter()
                .map(|s| (s.text.as_deref(), s.status, s.rows))
                .collect();
            assert_eq!(
                summary,
                vec![
                    // The cursor is opened; its rows come with COM_STMT_FETCH (not counted).
                    (
                        Some("SELECT id, name FROM items ORDER BY id"),
                        Status::Ok,
                        None
                    ),
                    (Some("USE otherdb"), Status::Ok, Some(0)),
                    // COM_RESET_CONNECTION deallocated the statement.
                    (None, Status::Error, None),
                    (Some("SELECT DATABASE()"), Status::Ok, Some(1)),
                ]
            );
            assert_eq!(st[0].columns.len(), 2);
            assert_eq!(st[2].statement_name, st[0].statement_name);
            assert_eq!(st[2].error_code.as_deref(), Some("1243/HY000"));
            // COM_INIT_DB, then USE (tracked by the server or read from the text).
            let dbs: Vec<Option<String>> = events
                .iter()
                .filter_map(|e| match e {
                    SessionEvent::Update(i) => Some(i.database.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(dbs, [Some("shop".into()), Some("otherdb".into())]);
            assert_eq!(events.last(), Some(&SessionEvent::End));
        }
    }

    #[test]
    fn tls_compression_failed_login_and_auth_switch() {
        // TLS: no events from the session itself (the pipeline reports the session when no
        // plaintext arrives), and the facts say TLS, not inspectable.
        let ssl = replay(SSL);
        assert!(ssl.is_empty(), "{ssl:?}");
        let mut sess = MysqlSession::new(SessionOptions::default());
        let mut out = Vec::new();
        for (flow, data) in chunks(SSL) {
            sess.on_data(flow, data, 0, &mut out);
        }
        let info = sess.info();
        assert!(info.tls && !info.inspectable);
        assert!(info.server_version.is_some() && info.backend_id.is_some());

        let comp = replay(COMPRESS);
        let info = start_info(&comp);
        assert!(!info.inspectable && !info.tls);
        assert_eq!(info.user.as_deref(), Some("app"));
        assert_eq!(comp.len(), 2, "Start and End only: {comp:?}");

        let failed = replay(LOGIN_FAILED);
        assert_eq!(start_info(&failed).user.as_deref(), Some("app"));
        assert_eq!(failed.len(), 2);
        assert_eq!(failed[1], SessionEvent::End);

        let switched = replay(AUTH_SWITCH);
        assert_eq!(start_info(&switched).user.as_deref(), Some("ed"));
        assert_eq!(texts(&switched), ["SELECT CURRENT_USER()"]);
        assert_eq!(statements(&switched)[0].rows, Some(1));
    }

    #[test]
    fn results_do_not_depend_on_how_bytes_are_split() {
        let mut rng = Rng(0x5eed);
        for file in ALL {
            let whole = replay_opts(file, with_params());
            let bytewise = replay_split(file, with_params(), |_| 1);
            assert_eq!(whole, bytewise);
            for _ in 0..20 {
                let random = replay_split(file, with_params(), |left| 1 + rng.below(left.min(64)));
                assert_eq!(whole, random);
            }
        }
    }

    #[test]
    fn merged_chunks_give_the_same_statements() {
        for file in ALL {
            let whole = replay_opts(file, with_params());
            // Consecutive chunks of one direction delivered at once.
            let mut merged: Vec<(Flow, Vec<u8>)> = Vec::new();
            for (flow, bytes) in chunks(file) {
                match merged.last_mut() {
                    Some((f, b)) if *f == flow => b.extend_from_slice(bytes),
                    _ => merged.push((flow, bytes.to_vec())),
                }
            }
            let mut s = MysqlSession::new(with_params());
            let mut out = Vec::new();
            for (flow, bytes) in &merged {
                s.on_data(*flow, bytes, 1, &mut out);
            }
            s.on_close(1, &mut out);
            let norm = |events: &[SessionEvent]| -> Vec<StatementRecord> {
                statements(events)
                    .into_iter()
                    .map(|mut s| {
                        s.start_ns = 0;
                        s.end_ns = 0;
                        s
                    })
                    .collect()
            };
            assert_eq!(norm(&whole), norm(&out));
            assert_eq!(whole.len(), out.len());
        }
    }

    /// Replays `file` with bytes `cut` of chunk `k` missing and reported as a gap.
    fn replay_with_gap(file: &[u8], k: usize, cut: std::ops::Range<usize>) -> Vec<SessionEvent> {
        let mut s = MysqlSession::new(with_params());
        let mut out = Vec::new();
        let all = chunks(file);
        for (i, (flow, bytes)) in all.iter().enumerate() {
            let ts = (i as u64 + 1) * 1000;
            if i == k {
                s.on_data(*flow, &bytes[..cut.start], ts, &mut out);
                s.on_gap(*flow, cut.len() as u64, ts, &mut out);
                s.on_data(*flow, &bytes[cut.end..], ts, &mut out);
            } else {
                s.on_data(*flow, bytes, ts, &mut out);
            }
        }
        s.on_close((all.len() as u64 + 1) * 1000, &mut out);
        out
    }

    #[test]
    fn gaps_never_produce_garbage_and_resynchronise() {
        check_gaps(|n| {
            let mut cuts = vec![0..n, n / 3..(2 * n / 3).max(n / 3 + 1), 0..1, n - 1..n];
            for start in (0..n).step_by(7) {
                cuts.push(start..(start + 1).min(n));
                cuts.push(start..(start + 13).min(n));
            }
            cuts
        });
    }

    /// Every cut position, several lengths (slow in debug builds: run with `--release`).
    #[test]
    fn gaps_exhaustive() {
        check_gaps(|n| {
            let mut cuts = Vec::new();
            for start in 0..n {
                for len in [1, 2, 5, 13, n - start] {
                    if start + len <= n {
                        cuts.push(start..start + len);
                    }
                }
            }
            cuts
        });
    }

    fn check_gaps(cuts_of: impl Fn(usize) -> Vec<std::ops::Range<usize>>) {
        for file in [
            CLI,
            CONNECTOR,
            RAW_EOF,
            RAW_DEPRECATE,
            AUTH_SWITCH,
            MISC_EOF,
            MISC_DEPRECATE,
            SSL,
            COMPRESS,
        ] {
            let original = statements(&replay_opts(file, with_params()));
            let all = chunks(file);
            for (k, (_, bytes)) in all.iter().enumerate() {
                for cut in cuts_of(bytes.len()) {
                    let events = replay_with_gap(file, k, cut.clone());
                    assert!(
                        events.iter().any(|e| matches!(e, SessionEvent::Gap { .. })),
                        "no gap event"
                    );
                    let got = statements(&events);
                    // Every complete statement is one of the real ones.
                    for s in got.iter().filter(|s| s.status != Status::Incomplete) {
                        let real = original.iter().find(|o| o.start_ns == s.start_ns);
                        let Some(real) = real else {
                            panic!("chunk {k} cut {cut:?}: invented statement {s:?}");
                        };
                        if s.truncated {
                            // The hole fell inside this command's packet: it is reported from
                            // the head captured before the hole, with the real outcome.
                            let head = s.text.as_deref().unwrap_or("");
                            let full = real.text.as_deref().unwrap_or("");
                            assert!(full.starts_with(head), "chunk {k} cut {cut:?}: {s:?}");
                            assert_eq!(s.status, real.status, "chunk {k} cut {cut:?}");
                            assert_eq!(s.rows, real.rows, "chunk {k} cut {cut:?}");
                        } else if s.text.is_none() && s.prepared {
                            // The prepare was lost with the gap.
                            assert_eq!(s.status, real.status);
                            assert_eq!(s.rows, real.rows);
                        } else if s.prepared && s.param_values.is_none() {
                            // The execute that bound the parameter types was lost.
                            let mut real = real.clone();
                            real.param_values = None;
                            assert_eq!(s, &real, "chunk {k} cut {cut:?}");
                        } else {
                            assert_eq!(s, real, "chunk {k} cut {cut:?}");
                        }
                    }
                    // Every statement requested after the damaged chunk is recovered.
                    let later: Vec<&StatementRecord> = original
                        .iter()
                        .filter(|o| o.start_ns > (k as u64 + 1) * 1000)
                        .collect();
                    for o in later {
                        assert!(
                            got.iter().any(|s| s.start_ns == o.start_ns
                                && s.status == o.status
                                && s.rows == o.rows),
                            "chunk {k} cut {cut:?}: lost {o:?}"
                        );
                    }
                    // Incomplete statements have real text too.
                    for s in got.iter().filter(|s| s.status == Status::Incomplete) {
                        if let Some(t) = &s.text {
                            assert!(
                                original.iter().any(|o| o.text.as_ref() == Some(t)),
                                "chunk {k} cut {cut:?}: incomplete garbage {t}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn gap_reports_the_statement_in_flight() {
        // Cut the server's answer to the first SELECT of the CLI session (chunk 4 answers
        // chunk 3, the request).
        let all = chunks(CLI);
        assert_eq!(all[3].0, Flow::ClientToServer);
        assert_eq!(all[4].0, Flow::ServerToClient);
        let events = replay_with_gap(CLI, 4, 10..20);
        let st = statements(&events);
        assert_eq!(
            st[0].text.as_deref(),
            Some("SELECT id, name, price FROM items ORDER BY id")
        );
        assert_eq!(st[0].status, Status::Incomplete);
        assert_eq!(st[0].end_ns, 5000);
        let gap = events
            .iter()
            .find(|e| matches!(e, SessionEvent::Gap { .. }))
            .unwrap();
        assert_eq!(
            gap,
            &SessionEvent::Gap {
                flow: Flow::ServerToClient,
                bytes: 10,
                reason: GapReason::MissingBytes,
                detail: None,
            }
        );
        assert_eq!(st[1].text.as_deref(), Some("SELECT * FROM nosuch"));
        assert_eq!(st[1].status, Status::Error);
    }

    #[test]
    fn joining_an_established_session() {
        for file in [
            RAW_EOF,
            RAW_DEPRECATE,
            CLI,
            CONNECTOR,
            MISC_EOF,
            MISC_DEPRECATE,
        ] {
            let original = statements(&replay_opts(file, with_params()));
            let all = chunks(file);
            // Skip the connection phase: greeting, response, OK.
            let mut s = MysqlSession::new(with_params());
            let mut out = Vec::new();
            for (i, (flow, bytes)) in all.iter().enumerate().skip(3) {
                s.on_data(*flow, bytes, (i as u64 + 1) * 1000, &mut out);
            }
            s.on_close((all.len() as u64 + 1) * 1000, &mut out);
            let info = start_info(&out);
            assert!(info.inspectable && info.user.is_none());
            assert_eq!(statements(&out), original);
        }
        // A compressed connection joined late is recognised and not decoded.
        let mut s = MysqlSession::new(SessionOptions::default());
        let mut out = Vec::new();
        for (flow, bytes) in chunks(COMPRESS).iter().skip(3) {
            s.on_data(*flow, bytes, 1, &mut out);
        }
        s.on_close(2, &mut out);
        assert!(!start_info(&out).inspectable);
        assert!(statements(&out).is_empty());
        // Joining after the prepare: the execute has no text, its id is known.
        let first_id = statements(&replay(RAW_EOF))
            .into_iter()
            .find_map(|s| s.statement_name)
            .unwrap();
        let all = chunks(RAW_EOF);
        let first_exec = all
            .iter()
            .position(|(f, b)| {
                *f == Flow::ClientToServer && b.get(4) == Some(&com::COM_STMT_EXECUTE)
            })
            .unwrap();
        let mut s = MysqlSession::new(with_params());
        let mut out = Vec::new();
        for (i, (flow, bytes)) in all.iter().enumerate().skip(first_exec) {
            s.on_data(*flow, bytes, (i as u64 + 1) * 1000, &mut out);
        }
        let st = statements(&out);
        assert_eq!(st[0].text, None);
        assert_eq!(st[0].statement_name, Some(first_id));
        assert!(st[0].prepared && st[0].params.is_none() && st[0].param_values.is_none());
        assert_eq!((st[0].status, st[0].rows), (Status::Ok, Some(1)));
        // Joining in the middle of a packet: the garbage is skipped.
        let mut s = MysqlSession::new(SessionOptions::default());
        let mut out = Vec::new();
        s.on_data(
            Flow::ServerToClient,
            &all[first_exec + 1].1[3..],
            1,
            &mut out,
        );
        for (flow, bytes) in all.iter().skip(first_exec + 2) {
            s.on_data(*flow, bytes, 2, &mut out);
        }
        assert!(statements(&out).len() >= 10);
    }

    #[test]
    fn sequence_mismatch_is_a_resynchronisation() {
        let mut chunks: Vec<(Flow, Vec<u8>)> = chunks(CLI)
            .into_iter()
            .map(|(f, b)| (f, b.to_vec()))
            .collect();
        // Corrupt the sequence id of the first response packet of the first SELECT.
        chunks[4].1[3] = 7;
        let mut s = MysqlSession::new(SessionOptions::default());
        let mut out = Vec::new();
        for (i, (flow, bytes)) in chunks.iter().enumerate() {
            s.on_data(*flow, bytes, i as u64, &mut out);
        }
        let gap = out
            .iter()
            .find_map(|e| match e {
                SessionEvent::Gap {
                    bytes,
                    reason,
                    detail,
                    ..
                } => Some((*bytes, *reason, detail.clone().unwrap_or_default())),
                _ => None,
            })
            .unwrap();
        assert_eq!(gap.0, 0);
        assert_eq!(gap.1, GapReason::DecodeError);
        assert!(gap.2.contains("sequence id 7"), "{}", gap.2);
        let st = statements(&out);
        assert_eq!(st[0].status, Status::Incomplete);
        assert_eq!(st[1].text.as_deref(), Some("SELECT * FROM nosuch"));
        assert_eq!(st.len(), 10);
    }

    /// A synthetic login (MariaDB-like greeting, response with the given capabilities).
    fn login(s: &mut MysqlSession, client_caps: u32, out: &mut Vec<SessionEvent>) {
        let mut greet = vec![10];
        greet.extend_from_slice(b"8.0.36\0");
        greet.extend_from_slice(&42u32.to_le_bytes());
        greet.extend_from_slice(b"abcdefgh\0");
        let server_caps: u32 = 0xFFFF_F7FF & !(caps::CLIENT_COMPRESS as u32);
        greet.extend_from_slice(&(server_caps as u16).to_le_bytes());
        greet.push(45);
        greet.extend_from_slice(&2u16.to_le_bytes());
        greet.extend_from_slice(&((server_caps >> 16) as u16).to_le_bytes());
        greet.push(21);
        greet.extend_from_slice(&[0; 10]);
        greet.extend_from_slice(b"ijklmnopqrst\0");
        greet.extend_from_slice(b"mysql_native_password\0");
        s.on_data(Flow::ServerToClient, &pkt(0, &greet), 1, out);
        let mut resp = client_caps.to_le_bytes().to_vec();
        resp.extend_from_slice(&(1u32 << 24).to_le_bytes());
        resp.push(45);
        resp.extend_from_slice(&[0; 23]);
        resp.extend_from_slice(b"root\0");
        resp.push(0);
        s.on_data(Flow::ClientToServer, &pkt(1, &resp), 2, out);
        s.on_data(
            Flow::ServerToClient,
            &pkt(2, b"\x00\x00\x00\x02\x00\x00\x00"),
            3,
            out,
        );
    }

    const BASE_CAPS: u32 = (caps::CLIENT_PROTOCOL_41
        | caps::CLIENT_SECURE_CONNECTION
        | caps::CLIENT_PLUGIN_AUTH
        | caps::CLIENT_MULTI_RESULTS
        | caps::CLIENT_LOCAL_FILES) as u32;

    #[test]
    fn large_query_over_several_frames() {
        let mut s = MysqlSession::new(SessionOptions::default());
        let mut out = Vec::new();
        login(&mut s, BASE_CAPS, &mut out);
        let mut payload = b"\x03SELECT '".to_vec();
        payload.resize(0xFF_FFFF + 100, b'x');
        payload.push(b'\'');
        let mut wire = pkt(0, &payload[..0xFF_FFFF]);
        wire.extend_from_slice(&pkt(1, &payload[0xFF_FFFF..]));
        for piece in wire.chunks(1 << 20) {
            s.on_data(Flow::ClientToServer, piece, 10, &mut out);
        }
        // The response continues the sequence after the last frame.
        s.on_data(
            Flow::ServerToClient,
            &pkt(2, b"\x00\x00\x00\x02\x00\x00\x00"),
            11,
            &mut out,
        );
        let st = statements(&out);
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].text.as_ref().unwrap().len(), payload.len() - 1);
        assert_eq!(
            (st[0].status, st[0].start_ns, st[0].end_ns),
            (Status::Ok, 10, 11)
        );
    }

    #[test]
    fn pipelined_prepare_and_execute_of_the_last_statement() {
        // MariaDB's execute-direct: PREPARE and EXECUTE(0xFFFFFFFF) then CLOSE(0xFFFFFFFF) in
        // one write, before any answer.
        let mut s = MysqlSession::new(with_params());
        let mut out = Vec::new();
        login(
            &mut s,
            BASE_CAPS | caps::CLIENT_DEPRECATE_EOF as u32,
            &mut out,
        );
        let mut wire = pkt(0, b"\x16SELECT ? + 1");
        let mut exec = b"\x17\xff\xff\xff\xff\x00\x01\x00\x00\x00".to_vec();
        exec.extend_from_slice(&[0x00, 0x01, 0x08, 0x00]);
        exec.extend_from_slice(&41i64.to_le_bytes());
        wire.extend_from_slice(&pkt(0, &exec));
        wire.extend_from_slice(&pkt(0, b"\x19\xff\xff\xff\xff"));
        s.on_data(Flow::ClientToServer, &wire, 10, &mut out);
        let def = b"\x03def\x00\x00\x00\x01?\x00\x0c?\x00\x00\x00\x00\x00\x08\x80\x00\x00\x00\x00";
        let col =
            b"\x03def\x00\x00\x00\x05? + 1\x00\x0c?\x00\x00\x00\x00\x00\x08\x80\x00\x00\x00\x00";
        let mut resp = pkt(1, b"\x00\x07\x00\x00\x00\x01\x00\x01\x00\x00\x00\x00");
        resp.extend_from_slice(&pkt(2, def));
        resp.extend_from_slice(&pkt(3, col));
        resp.extend_from_slice(&pkt(1, b"\x01"));
        resp.extend_from_slice(&pkt(2, col));
        resp.extend_from_slice(&pkt(3, b"\x00\x00\x2a\x00\x00\x00\x00\x00\x00\x00"));
        resp.extend_from_slice(&pkt(4, b"\xfe\x00\x00\x02\x00\x00\x00"));
        s.on_data(Flow::ServerToClient, &resp, 11, &mut out);
        let st = statements(&out);
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].text.as_deref(), Some("SELECT ? + 1"));
        assert_eq!(st[0].statement_name.as_deref(), Some("7"));
        assert_eq!(st[0].param_values, Some(vec![Some("41".into())]));
        assert_eq!((st[0].rows, st[0].columns.len()), (Some(1), 1));
        // The CLOSE applied after the execute.
        assert!(s.stmts.is_empty());
    }

    #[test]
    fn use_query_and_tracked_schema_update_the_database() {
        let mut s = MysqlSession::new(SessionOptions::default());
        let mut out = Vec::new();
        login(&mut s, BASE_CAPS, &mut out);
        s.on_data(
            Flow::ClientToServer,
            &pkt(0, b"\x03use `my``db`;"),
            4,
            &mut out,
        );
        s.on_data(
            Flow::ServerToClient,
            &pkt(1, b"\x00\x00\x00\x02\x00\x00\x00"),
            5,
            &mut out,
        );
        assert_eq!(s.info().database.as_deref(), Some("my`db"));
        // A tracked schema change in the OK of any statement.
        s.on_data(
            Flow::ClientToServer,
            &pkt(0, b"\x03CALL switch_db()"),
            6,
            &mut out,
        );
        s.on_data(
            Flow::ServerToClient,
            &pkt(1, b"\x00\x00\x00\x02\x40\x00\x00\x00\x07\x01\x05\x04shop"),
            7,
            &mut out,
        );
        assert_eq!(s.info().database.as_deref(), Some("shop"));
        let updates = out
            .iter()
            .filter(|e| matches!(e, SessionEvent::Update(_)))
            .count();
        assert_eq!(updates, 2);
        assert_eq!(use_target("USE shop"), Some("shop".into()));
        assert_eq!(use_target("  use\tshop ; "), Some("shop".into()));
        assert_eq!(use_target("user_table"), None);
        assert_eq!(use_target("USE a b"), None);
        assert_eq!(use_target("USE"), None);
    }

    #[test]
    fn statements_in_flight_at_close_are_incomplete() {
        let mut s = MysqlSession::new(SessionOptions::default());
        let mut out = Vec::new();
        login(&mut s, BASE_CAPS, &mut out);
        s.on_data(
            Flow::ClientToServer,
            &pkt(0, b"\x03SELECT SLEEP(100)"),
            4,
            &mut out,
        );
        s.on_data(Flow::ServerToClient, &pkt(1, b"\x01"), 5, &mut out);
        s.on_close(9, &mut out);
        let st = statements(&out);
        assert_eq!(st.len(), 1);
        assert_eq!((st[0].status, st[0].end_ns), (Status::Incomplete, 9));
        assert_eq!(out.last(), Some(&SessionEvent::End));
        // End is reported once.
        s.on_close(10, &mut out);
        assert_eq!(out.iter().filter(|e| **e == SessionEvent::End).count(), 1);
    }

    #[test]
    fn mariadb_progress_reports_are_not_errors() {
        let mut s = MysqlSession::new(SessionOptions::default());
        let mut out = Vec::new();
        login(&mut s, BASE_CAPS, &mut out);
        s.on_data(
            Flow::ClientToServer,
            &pkt(0, b"\x03ALTER TABLE t ENGINE=InnoDB"),
            4,
            &mut out,
        );
        s.on_data(
            Flow::ServerToClient,
            &pkt(1, b"\xff\xff\xff\x01\x01\x10\x00\x00\x05stage"),
            5,
            &mut out,
        );
        s.on_data(
            Flow::ServerToClient,
            &pkt(2, b"\x00\x00\x00\x02\x00\x00\x00"),
            6,
            &mut out,
        );
        let st = statements(&out);
        assert_eq!((st[0].status, st[0].rows), (Status::Ok, Some(0)));
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let interesting = [
            0x00u8, 0x01, 0x02, 0x03, 0x0a, 0x0e, 0x11, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1c, 0xfa,
            0xfb, 0xfc, 0xfd, 0xfe, 0xff,
        ];
        for iteration in 0..3000 {
            let mut s = MysqlSession::new(with_params());
            let mut out = Vec::new();
            if iteration % 2 == 0 {
                login(
                    &mut s,
                    BASE_CAPS | (rng.next() as u32 & 0x0100_0000),
                    &mut out,
                );
            }
            for step in 0..rng.below(40) {
                let flow = if rng.below(2) == 0 {
                    Flow::ClientToServer
                } else {
                    Flow::ServerToClient
                };
                let data: Vec<u8> = match rng.below(3) {
                    // Raw noise.
                    0 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
                    // Well-framed packets with protocol-looking payloads.
                    _ => {
                        let mut payload: Vec<u8> =
                            (0..rng.below(40)).map(|_| rng.next() as u8).collect();
                        if let Some(b) = payload.first_mut() {
                            *b = interesting[rng.below(interesting.len())];
                        }
                        pkt(rng.below(4) as u8, &payload)
                    }
                };
                s.on_data(flow, &data, step as u64, &mut out);
                if rng.below(25) == 0 {
                    s.on_gap(flow, rng.below(1000) as u64, step as u64, &mut out);
                }
            }
            s.on_close(1000, &mut out);
        }
    }

    #[test]
    fn corrupted_and_truncated_fixtures_never_panic() {
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        for file in ALL {
            let all = chunks(file);
            for _ in 0..300 {
                let mut s = MysqlSession::new(with_params());
                let mut out = Vec::new();
                let stop = rng.below(all.len() + 1);
                for (i, (flow, bytes)) in all.iter().enumerate().take(stop) {
                    let mut bytes = bytes.to_vec();
                    if rng.below(3) == 0 && !bytes.is_empty() {
                        for _ in 0..1 + rng.below(4) {
                            let at = rng.below(bytes.len());
                            bytes[at] = rng.next() as u8;
                        }
                    }
                    if rng.below(10) == 0 {
                        bytes.truncate(rng.below(bytes.len() + 1));
                    }
                    let mut rest = &bytes[..];
                    while !rest.is_empty() {
                        let n = 1 + rng.below(rest.len());
                        s.on_data(*flow, &rest[..n], i as u64, &mut out);
                        rest = &rest[n..];
                    }
                    if rng.below(20) == 0 {
                        s.on_gap(*flow, 1, i as u64, &mut out);
                    }
                }
                s.on_close(u64::MAX, &mut out);
            }
        }
    }
}
