//! MySQL / MariaDB client/server protocol: a pure decoder (bytes in, packets and messages out).
//!
//! Two layers:
//!
//! * **Framing** ([`PacketDecoder`]): every packet is a 3-byte little-endian payload length and
//!   a 1-byte sequence id followed by the payload. A payload of exactly `0xFFFFFF` bytes
//!   continues in the next frame (16 MiB+ packets), and the decoder reassembles them. Memory is
//!   bounded: at most `max_payload` bytes of one logical packet are kept, the rest of it is
//!   dropped as it arrives and the returned [`Packet`] says it was truncated (its `len` is the
//!   real length). Bytes are consumed from the input as soon as they arrive, so the caller's
//!   buffer never holds more than a partial frame header.
//! * **Messages**: parsers for the payloads. A payload does not say what it is: the meaning
//!   depends on the phase and on the command in flight, which the session state machine
//!   (`session::mysql`) tracks. Every parser checks each length and count against the
//!   remaining bytes and returns [`DecodeError`] instead of panicking.
//!
//! Covered: Handshake v10 (server greeting), HandshakeResponse41/320 and SSLRequest, auth
//! switch, OK (with session-state tracking), ERR (with SQLSTATE and MariaDB progress reports),
//! EOF, column count (with the MariaDB/MySQL "metadata follows" byte), column definition 41
//! (with MariaDB extended metadata), COM_STMT_PREPARE_OK, all commands by name and the
//! parameters of COM_STMT_EXECUTE (and of COM_QUERY query attributes, MySQL 8) decoded by
//! type. Compressed protocol and TLS are recognised by the session and not decoded.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

/// Largest payload of one frame. A frame of exactly this length is followed by a continuation
/// frame (possibly empty) of the same logical packet.
pub const MAX_FRAME_LEN: usize = 0xFF_FFFF;

/// Default bound on the bytes kept of one logical packet (the rest is skipped).
pub const DEFAULT_MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// Capability flags. Bits 0..32 are the standard flags; bits 32..64 hold the MariaDB extended
/// capabilities, which are exchanged in the reserved bytes of the handshake packets when the
/// peer does not set `CLIENT_MYSQL` (bit 0).
pub mod capabilities {
    /// Set by MySQL peers; when absent (MariaDB 10.2+), extended capabilities are present.
    pub const CLIENT_MYSQL: u64 = 1;
    pub const CLIENT_FOUND_ROWS: u64 = 1 << 1;
    pub const CLIENT_LONG_FLAG: u64 = 1 << 2;
    pub const CLIENT_CONNECT_WITH_DB: u64 = 1 << 3;
    pub const CLIENT_NO_SCHEMA: u64 = 1 << 4;
    pub const CLIENT_COMPRESS: u64 = 1 << 5;
    pub const CLIENT_ODBC: u64 = 1 << 6;
    pub const CLIENT_LOCAL_FILES: u64 = 1 << 7;
    pub const CLIENT_IGNORE_SPACE: u64 = 1 << 8;
    pub const CLIENT_PROTOCOL_41: u64 = 1 << 9;
    pub const CLIENT_INTERACTIVE: u64 = 1 << 10;
    pub const CLIENT_SSL: u64 = 1 << 11;
    pub const CLIENT_IGNORE_SIGPIPE: u64 = 1 << 12;
    pub const CLIENT_TRANSACTIONS: u64 = 1 << 13;
    pub const CLIENT_RESERVED: u64 = 1 << 14;
    pub const CLIENT_SECURE_CONNECTION: u64 = 1 << 15;
    pub const CLIENT_MULTI_STATEMENTS: u64 = 1 << 16;
    pub const CLIENT_MULTI_RESULTS: u64 = 1 << 17;
    pub const CLIENT_PS_MULTI_RESULTS: u64 = 1 << 18;
    pub const CLIENT_PLUGIN_AUTH: u64 = 1 << 19;
    pub const CLIENT_CONNECT_ATTRS: u64 = 1 << 20;
    pub const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u64 = 1 << 21;
    pub const CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS: u64 = 1 << 22;
    pub const CLIENT_SESSION_TRACK: u64 = 1 << 23;
    pub const CLIENT_DEPRECATE_EOF: u64 = 1 << 24;
    pub const CLIENT_OPTIONAL_RESULTSET_METADATA: u64 = 1 << 25;
    pub const CLIENT_ZSTD_COMPRESSION_ALGORITHM: u64 = 1 << 26;
    pub const CLIENT_QUERY_ATTRIBUTES: u64 = 1 << 27;
    pub const CLIENT_SSL_VERIFY_SERVER_CERT: u64 = 1 << 30;
    pub const CLIENT_REMEMBER_OPTIONS: u64 = 1 << 31;
    /// MariaDB: progress reports (ERR packets with code 0xFFFF).
    pub const MARIADB_CLIENT_PROGRESS: u64 = 1 << 32;
    pub const MARIADB_CLIENT_COM_MULTI: u64 = 1 << 33;
    pub const MARIADB_CLIENT_STMT_BULK_OPERATIONS: u64 = 1 << 34;
    /// MariaDB: column definitions carry an extended metadata block.
    pub const MARIADB_CLIENT_EXTENDED_METADATA: u64 = 1 << 35;
    /// MariaDB: the column count packet carries a "metadata follows" byte.
    pub const MARIADB_CLIENT_CACHE_METADATA: u64 = 1 << 36;
}

/// Server status flags (OK and EOF packets).
pub mod status {
    pub const SERVER_STATUS_IN_TRANS: u16 = 0x0001;
    pub const SERVER_STATUS_AUTOCOMMIT: u16 = 0x0002;
    pub const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;
    pub const SERVER_STATUS_CURSOR_EXISTS: u16 = 0x0040;
    pub const SERVER_STATUS_LAST_ROW_SENT: u16 = 0x0080;
    pub const SERVER_PS_OUT_PARAMS: u16 = 0x1000;
    pub const SERVER_SESSION_STATE_CHANGED: u16 = 0x4000;
}

/// Command bytes (first payload byte of a client packet with sequence id 0).
pub mod command {
    pub const COM_SLEEP: u8 = 0x00;
    pub const COM_QUIT: u8 = 0x01;
    pub const COM_INIT_DB: u8 = 0x02;
    pub const COM_QUERY: u8 = 0x03;
    pub const COM_FIELD_LIST: u8 = 0x04;
    pub const COM_CREATE_DB: u8 = 0x05;
    pub const COM_DROP_DB: u8 = 0x06;
    pub const COM_REFRESH: u8 = 0x07;
    pub const COM_SHUTDOWN: u8 = 0x08;
    pub const COM_STATISTICS: u8 = 0x09;
    pub const COM_PROCESS_INFO: u8 = 0x0a;
    pub const COM_CONNECT: u8 = 0x0b;
    pub const COM_PROCESS_KILL: u8 = 0x0c;
    pub const COM_DEBUG: u8 = 0x0d;
    pub const COM_PING: u8 = 0x0e;
    pub const COM_TIME: u8 = 0x0f;
    pub const COM_DELAYED_INSERT: u8 = 0x10;
    pub const COM_CHANGE_USER: u8 = 0x11;
    pub const COM_BINLOG_DUMP: u8 = 0x12;
    pub const COM_TABLE_DUMP: u8 = 0x13;
    pub const COM_CONNECT_OUT: u8 = 0x14;
    pub const COM_REGISTER_SLAVE: u8 = 0x15;
    pub const COM_STMT_PREPARE: u8 = 0x16;
    pub const COM_STMT_EXECUTE: u8 = 0x17;
    pub const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
    pub const COM_STMT_CLOSE: u8 = 0x19;
    pub const COM_STMT_RESET: u8 = 0x1a;
    pub const COM_SET_OPTION: u8 = 0x1b;
    pub const COM_STMT_FETCH: u8 = 0x1c;
    pub const COM_DAEMON: u8 = 0x1d;
    pub const COM_BINLOG_DUMP_GTID: u8 = 0x1e;
    pub const COM_RESET_CONNECTION: u8 = 0x1f;
    /// MySQL 8.
    pub const COM_CLONE: u8 = 0x20;
    /// MariaDB: array binding (bulk) execution of a prepared statement.
    pub const COM_STMT_BULK_EXECUTE: u8 = 0xfa;
    /// MariaDB 10.2 (removed later).
    pub const COM_MULTI: u8 = 0xfe;
}

/// Column / parameter types of the binary protocol.
pub mod column_type {
    pub const DECIMAL: u8 = 0x00;
    pub const TINY: u8 = 0x01;
    pub const SHORT: u8 = 0x02;
    pub const LONG: u8 = 0x03;
    pub const FLOAT: u8 = 0x04;
    pub const DOUBLE: u8 = 0x05;
    pub const NULL: u8 = 0x06;
    pub const TIMESTAMP: u8 = 0x07;
    pub const LONGLONG: u8 = 0x08;
    pub const INT24: u8 = 0x09;
    pub const DATE: u8 = 0x0a;
    pub const TIME: u8 = 0x0b;
    pub const DATETIME: u8 = 0x0c;
    pub const YEAR: u8 = 0x0d;
    pub const NEWDATE: u8 = 0x0e;
    pub const VARCHAR: u8 = 0x0f;
    pub const BIT: u8 = 0x10;
    pub const TIMESTAMP2: u8 = 0x11;
    pub const DATETIME2: u8 = 0x12;
    pub const TIME2: u8 = 0x13;
    pub const VECTOR: u8 = 0xf2;
    pub const JSON: u8 = 0xf5;
    pub const NEWDECIMAL: u8 = 0xf6;
    pub const ENUM: u8 = 0xf7;
    pub const SET: u8 = 0xf8;
    pub const TINY_BLOB: u8 = 0xf9;
    pub const MEDIUM_BLOB: u8 = 0xfa;
    pub const LONG_BLOB: u8 = 0xfb;
    pub const BLOB: u8 = 0xfc;
    pub const VAR_STRING: u8 = 0xfd;
    pub const STRING: u8 = 0xfe;
    pub const GEOMETRY: u8 = 0xff;
}

/// Why a payload (or a frame) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The payload ended before the field.
    #[error("{what}: payload truncated")]
    Truncated { what: &'static str },
    /// A field holds a value the protocol does not allow here.
    #[error("{what}: invalid value {value}")]
    Invalid { what: &'static str, value: u64 },
    /// A continuation frame of a 16 MiB+ packet did not carry the next sequence id.
    #[error("continuation frame has sequence id {got}, {expected} expected")]
    SequenceMismatch { expected: u8, got: u8 },
    /// A packet is larger than a relay accepts ([`next_raw_packet`]).
    #[error("packet of {len} bytes is larger than the limit of {max}")]
    TooLarge { len: usize, max: usize },
}

type Result<T> = std::result::Result<T, DecodeError>;

// ------------------------------------------------------------------------------------------
// Framing

/// One logical packet (all continuation frames reassembled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Sequence id of the first frame.
    pub seq: u8,
    /// Sequence id of the last frame (equal to `seq` unless the packet was 16 MiB or more).
    pub last_seq: u8,
    /// Real payload length on the wire.
    pub len: usize,
    /// The payload, or its first `max_payload` bytes when [`Packet::truncated`].
    pub payload: Bytes,
}

impl Packet {
    /// The payload was longer than the decoder's bound and only its head was kept.
    pub fn truncated(&self) -> bool {
        self.payload.len() < self.len
    }

    /// First payload byte (the packet "header" of responses), if any.
    pub fn first(&self) -> Option<u8> {
        self.payload.first().copied()
    }

    /// An EOF packet (0xFE, at most 5 bytes: header, warnings, status).
    pub fn is_eof(&self) -> bool {
        self.first() == Some(0xFE) && self.len <= 5
    }

    /// The end of a result set's rows: an EOF packet, or (CLIENT_DEPRECATE_EOF) an OK packet
    /// with a 0xFE header. A text row can only start with 0xFE when its first value is at least
    /// 16 MiB long, so a packet shorter than 0xFFFFFF bytes starting with 0xFE is a terminator.
    pub fn is_result_terminator(&self) -> bool {
        self.first() == Some(0xFE) && self.len < MAX_FRAME_LEN
    }

    /// An ERR packet.
    pub fn is_err(&self) -> bool {
        self.first() == Some(0xFF)
    }
}

#[derive(Debug)]
struct Partial {
    seq: u8,
    last_seq: u8,
    len: usize,
    kept: BytesMut,
    /// Bytes of the payload were never captured: only the head before them is kept.
    holed: bool,
}

/// Stateful frame decoder for one direction of a connection.
#[derive(Debug)]
pub struct PacketDecoder {
    max_payload: usize,
    /// Payload bytes of the current frame still to come (`None` between frames).
    frame_left: Option<usize>,
    /// Length of the current frame.
    frame_len: usize,
    partial: Option<Partial>,
}

impl Default for PacketDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PAYLOAD)
    }
}

impl PacketDecoder {
    /// A decoder keeping at most `max_payload` bytes of each logical packet.
    pub fn new(max_payload: usize) -> Self {
        Self {
            max_payload,
            frame_left: None,
            frame_len: 0,
            partial: None,
        }
    }

    /// Bytes of a logical packet's payload this decoder keeps.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// No packet is partially decoded.
    pub fn is_idle(&self) -> bool {
        self.partial.is_none() && self.frame_left.is_none()
    }

    /// Accounts for `n` bytes that were not captured. When they fall inside the payload of
    /// the frame being decoded (a write cut by the capture limit), they become part of that
    /// packet, which is then delivered with only the bytes seen before the hole
    /// ([`Packet::truncated`]), and framing stays intact. False when the hole does not fit in
    /// the current frame: the caller must resynchronise.
    pub fn skip(&mut self, n: usize) -> bool {
        let (Some(left), Some(partial)) = (self.frame_left, self.partial.as_mut()) else {
            return false;
        };
        if n > left || self.frame_len == MAX_FRAME_LEN {
            return false;
        }
        partial.len = partial.len.saturating_add(n);
        // Bytes after the hole are not contiguous with the kept head: keep no more.
        partial.holed = true;
        self.frame_left = Some(left - n);
        true
    }

    /// Forgets any partial packet (after a gap).
    pub fn reset(&mut self) {
        self.partial = None;
        self.frame_left = None;
        self.frame_len = 0;
    }

    /// Decodes the next logical packet from `buf`, consuming the bytes used. `Ok(None)` means
    /// more bytes are needed (the bytes seen so far are kept inside the decoder).
    ///
    /// On [`DecodeError::SequenceMismatch`] the partial packet is dropped and the offending
    /// frame header is left in `buf`, so the next call starts a new packet with it.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>> {
        loop {
            let left = match self.frame_left {
                Some(left) => left,
                None => {
                    let Some(header) = buf.get(..4) else {
                        return Ok(None);
                    };
                    let len = usize::from(header[0])
                        | usize::from(header[1]) << 8
                        | usize::from(header[2]) << 16;
                    let seq = header[3];
                    match self.partial.as_mut() {
                        None => {
                            // Fast path: a complete single-frame packet, no copy.
                            if len < MAX_FRAME_LEN
                                && len <= self.max_payload
                                && buf.len() >= 4 + len
                            {
                                buf.advance(4);
                                let payload = buf.split_to(len).freeze();
                                return Ok(Some(Packet {
                                    seq,
                                    last_seq: seq,
                                    len,
                                    payload,
                                }));
                            }
                            self.partial = Some(Partial {
                                seq,
                                last_seq: seq,
                                len: 0,
                                kept: BytesMut::new(),
                                holed: false,
                            });
                        }
                        Some(partial) => {
                            let expected = partial.last_seq.wrapping_add(1);
                            if seq != expected {
                                self.reset();
                                return Err(DecodeError::SequenceMismatch { expected, got: seq });
                            }
                            partial.last_seq = seq;
                        }
                    }
                    buf.advance(4);
                    self.frame_len = len;
                    len
                }
            };
            let Some(partial) = self.partial.as_mut() else {
                // Unreachable by construction; recover rather than panic.
                self.reset();
                return Ok(None);
            };
            let n = left.min(buf.len());
            let room = if partial.holed {
                0
            } else {
                self.max_payload.saturating_sub(partial.kept.len())
            };
            let keep = n.min(room);
            if keep > 0 {
                partial.kept.extend_from_slice(&buf[..keep]);
            }
            buf.advance(n);
            partial.len = partial.len.saturating_add(n);
            let left = left - n;
            if left > 0 {
                self.frame_left = Some(left);
                return Ok(None);
            }

            self.frame_left = None;
            if self.frame_len == MAX_FRAME_LEN {
                // A continuation frame follows.
                continue;
            }
            let Some(partial) = self.partial.take() else {
                return Ok(None);
            };
            return Ok(Some(Packet {
                seq: partial.seq,
                last_seq: partial.last_seq,
                len: partial.len,
                payload: partial.kept.freeze(),
            }));
        }
    }
}

/// Splits the whole logical packet at the head of `buf` (every frame of it, headers
/// included), for a relay that forwards packets unchanged, and returns it with the packet
/// decoded. `Ok(None)` until the packet is complete; a packet above `max` payload bytes is
/// [`DecodeError::TooLarge`] before it is buffered.
pub fn next_raw_packet(buf: &mut BytesMut, max: usize) -> Result<Option<(Bytes, Packet)>> {
    let mut at = 0;
    let mut payload = 0usize;
    loop {
        let Some(h) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        let len = payload_len(h);
        payload += len;
        if payload > max {
            return Err(DecodeError::TooLarge { len: payload, max });
        }
        at += 4 + len;
        if len < MAX_FRAME_LEN {
            break;
        }
    }
    if buf.len() < at {
        return Ok(None);
    }
    let raw = buf.split_to(at).freeze();
    let mut copy = BytesMut::from(&raw[..]);
    match PacketDecoder::new(max.max(1)).decode(&mut copy)? {
        Some(p) if copy.is_empty() => Ok(Some((raw, p))),
        _ => Err(DecodeError::Truncated { what: "packet" }),
    }
}

/// Encoders for what a relay answers in the server's place or rewrites: ERR packets and
/// text-protocol result rows (one frame each; the payloads here stay far below 16 MiB).
pub mod encode {
    use bytes::{BufMut, BytesMut};

    use super::{DecodeError, Reader, Result};

    fn frame(out: &mut BytesMut, seq: u8, body: impl FnOnce(&mut BytesMut)) {
        let at = out.len();
        out.put_slice(&[0, 0, 0, seq]);
        body(out);
        let len = (out.len() - at - 4) as u32;
        out[at..at + 3].copy_from_slice(&len.to_le_bytes()[..3]);
    }

    fn lenenc_int(out: &mut BytesMut, v: u64) {
        match v {
            0..=250 => out.put_u8(v as u8),
            251..=0xFFFF => {
                out.put_u8(0xFC);
                out.put_u16_le(v as u16);
            }
            0x1_0000..=0xFF_FFFF => {
                out.put_u8(0xFD);
                out.put_slice(&(v as u32).to_le_bytes()[..3]);
            }
            _ => {
                out.put_u8(0xFE);
                out.put_u64_le(v);
            }
        }
    }

    /// An ERR packet (protocol 4.1: with the `#` SQLSTATE marker).
    pub fn err_packet(out: &mut BytesMut, seq: u8, code: u16, sql_state: &str, message: &str) {
        frame(out, seq, |b| {
            b.put_u8(0xFF);
            b.put_u16_le(code);
            b.put_u8(b'#');
            let mut state = [b'H', b'Y', b'0', b'0', b'0'];
            for (d, s) in state.iter_mut().zip(sql_state.bytes()) {
                *d = s;
            }
            b.put_slice(&state);
            b.put_slice(message.as_bytes());
        });
    }

    /// A text-protocol result row (`None` is SQL NULL).
    pub fn text_row<V: AsRef<[u8]>>(out: &mut BytesMut, seq: u8, values: &[Option<V>]) {
        frame(out, seq, |b| {
            for v in values {
                match v {
                    None => b.put_u8(0xFB),
                    Some(v) => {
                        let v = v.as_ref();
                        lenenc_int(b, v.len() as u64);
                        b.put_slice(v);
                    }
                }
            }
        });
    }

    /// The values of a text-protocol row payload, given its column count.
    pub fn text_row_values(payload: &[u8], columns: usize) -> Result<Vec<Option<&[u8]>>> {
        let mut r = Reader::new(payload);
        let mut values = Vec::with_capacity(columns.min(payload.len()));
        for _ in 0..columns {
            if r.peek() == Some(0xFB) {
                r.u8("NULL")?;
                values.push(None);
            } else {
                values.push(Some(r.lenenc_bytes("row value")?));
            }
        }
        if !r.is_empty() {
            return Err(DecodeError::Invalid {
                what: "bytes after the last value",
                value: r.remaining() as u64,
            });
        }
        Ok(values)
    }
}

// ------------------------------------------------------------------------------------------
// Field reader

/// A bounds-checked cursor over a payload.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next byte, not consumed.
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(DecodeError::Truncated { what })?;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated { what })?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u24(&mut self, what: &'static str) -> Result<u32> {
        let b = self.array::<3>(what)?;
        Ok(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A length-encoded integer; `None` is the NULL marker (0xFB).
    pub fn lenenc_int(&mut self, what: &'static str) -> Result<Option<u64>> {
        let first = self.u8(what)?;
        Ok(Some(match first {
            0..=0xFA => u64::from(first),
            0xFB => return Ok(None),
            0xFC => u64::from(self.u16(what)?),
            0xFD => u64::from(self.u24(what)?),
            0xFE => self.u64(what)?,
            0xFF => return Err(DecodeError::Invalid { what, value: 0xFF }),
        }))
    }

    /// A non-NULL length-encoded integer.
    pub fn lenenc(&mut self, what: &'static str) -> Result<u64> {
        self.lenenc_int(what)?
            .ok_or(DecodeError::Invalid { what, value: 0xFB })
    }

    /// A length-encoded string (the length is checked against the remaining bytes).
    pub fn lenenc_bytes(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let len = self.lenenc(what)?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated { what })?;
        self.take(len, what)
    }

    /// A NUL-terminated string (the NUL is consumed, not returned).
    pub fn nul_bytes(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(DecodeError::Truncated { what })?;
        let bytes = &rest[..end];
        self.pos += end + 1;
        Ok(bytes)
    }

    /// A NUL-terminated string whose terminator may be missing at the end of the payload.
    pub fn nul_or_eof_bytes(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        match rest.iter().position(|&b| b == 0) {
            Some(end) => {
                self.pos += end + 1;
                &rest[..end]
            }
            None => {
                self.pos = self.buf.len();
                rest
            }
        }
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        rest
    }
}

/// Bytes as text (the connection character set is almost always UTF-8 compatible).
pub fn text(bytes: &[u8]) -> String {
    super::lossy(bytes).into_owned()
}

fn opt_text(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        None
    } else {
        Some(text(bytes))
    }
}

// ------------------------------------------------------------------------------------------
// Connection phase

/// The server greeting (Protocol::HandshakeV10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    pub protocol_version: u8,
    /// As sent; MariaDB prefixes `5.5.5-` (see [`Handshake::version`]).
    pub server_version: String,
    pub connection_id: u32,
    /// Server capabilities, MariaDB extended capabilities in bits 32..64.
    pub capabilities: u64,
    pub charset: u8,
    pub status: u16,
    pub auth_plugin: Option<String>,
}

impl Handshake {
    pub fn parse(payload: &[u8]) -> Result<Self> {
        use capabilities::*;
        let mut r = Reader::new(payload);
        let protocol_version = r.u8("protocol version")?;
        if protocol_version != 10 {
            return Err(DecodeError::Invalid {
                what: "protocol version",
                value: u64::from(protocol_version),
            });
        }
        let server_version = text(r.nul_bytes("server version")?);
        let connection_id = r.u32("connection id")?;
        r.take(8, "auth plugin data")?;
        r.u8("filler")?;
        let mut caps = u64::from(r.u16("capabilities")?);
        let mut charset = 0;
        let mut status = 0;
        let mut auth_plugin = None;
        if !r.is_empty() {
            charset = r.u8("charset")?;
            status = r.u16("status")?;
            caps |= u64::from(r.u16("capabilities")?) << 16;
            let auth_len = r.u8("auth data length")?;
            r.take(6, "reserved")?;
            let ext = r.u32("extended capabilities")?;
            if caps & CLIENT_MYSQL == 0 {
                caps |= u64::from(ext) << 32;
            }
            if caps & CLIENT_SECURE_CONNECTION != 0 {
                let n = usize::from(auth_len.saturating_sub(8)).max(13);
                r.take(n.min(r.remaining()), "auth plugin data")?;
            }
            if caps & CLIENT_PLUGIN_AUTH != 0 && !r.is_empty() {
                auth_plugin = opt_text(r.nul_or_eof_bytes());
            }
        }
        Ok(Self {
            protocol_version,
            server_version,
            connection_id,
            capabilities: caps,
            charset,
            status,
            auth_plugin,
        })
    }

    /// The server version without MariaDB's `5.5.5-` replication-compatibility prefix.
    pub fn version(&self) -> &str {
        match self.server_version.strip_prefix("5.5.5-") {
            Some(rest) if !rest.is_empty() => rest,
            _ => &self.server_version,
        }
    }
}

/// The client's answer to the greeting (Protocol::HandshakeResponse41 or 320).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// Client capabilities, MariaDB extended capabilities in bits 32..64.
    pub capabilities: u64,
    pub max_packet: u32,
    pub charset: u8,
    pub user: String,
    pub auth_response: Bytes,
    pub database: Option<String>,
    pub auth_plugin: Option<String>,
    /// Connection attributes (CLIENT_CONNECT_ATTRS), in wire order.
    pub attributes: Vec<(String, String)>,
}

impl HandshakeResponse {
    /// Value of a connection attribute.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        attribute(&self.attributes, key)
    }
}

fn attribute<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// What the client sends after the greeting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientHello {
    /// CLIENT_SSL set in a short response: the connection switches to TLS.
    SslRequest {
        capabilities: u64,
    },
    Response(HandshakeResponse),
}

impl ClientHello {
    pub fn parse(payload: &[u8]) -> Result<Self> {
        use capabilities::*;
        let mut r = Reader::new(payload);
        let low = u64::from(r.u16("capabilities")?);
        if low & CLIENT_PROTOCOL_41 == 0 {
            // HandshakeResponse320.
            let max_packet = r.u24("max packet")?;
            if r.is_empty() && low & CLIENT_SSL != 0 {
                return Ok(Self::SslRequest { capabilities: low });
            }
            let user = text(r.nul_bytes("user")?);
            let auth = r.nul_or_eof_bytes();
            let database = if low & CLIENT_CONNECT_WITH_DB != 0 && !r.is_empty() {
                opt_text(r.nul_or_eof_bytes())
            } else {
                None
            };
            return Ok(Self::Response(HandshakeResponse {
                capabilities: low,
                max_packet,
                user,
                auth_response: Bytes::copy_from_slice(auth),
                database,
                ..HandshakeResponse::default()
            }));
        }
        let mut caps = low | u64::from(r.u16("capabilities")?) << 16;
        let max_packet = r.u32("max packet")?;
        let charset = r.u8("charset")?;
        r.take(19, "filler")?;
        let ext = r.u32("extended capabilities")?;
        if caps & CLIENT_MYSQL == 0 {
            caps |= u64::from(ext) << 32;
        }
        if r.is_empty() && caps & CLIENT_SSL != 0 {
            return Ok(Self::SslRequest { capabilities: caps });
        }
        let user = text(r.nul_bytes("user")?);
        let auth = if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
            r.lenenc_bytes("auth response")?
        } else if caps & CLIENT_SECURE_CONNECTION != 0 {
            let n = r.u8("auth response length")?;
            r.take(usize::from(n), "auth response")?
        } else {
            r.nul_or_eof_bytes()
        };
        let database = if caps & CLIENT_CONNECT_WITH_DB != 0 && !r.is_empty() {
            opt_text(r.nul_or_eof_bytes())
        } else {
            None
        };
        let auth_plugin = if caps & CLIENT_PLUGIN_AUTH != 0 && !r.is_empty() {
            opt_text(r.nul_or_eof_bytes())
        } else {
            None
        };
        let attributes = if caps & CLIENT_CONNECT_ATTRS != 0 && !r.is_empty() {
            parse_attributes(&mut r)?
        } else {
            Vec::new()
        };
        Ok(Self::Response(HandshakeResponse {
            capabilities: caps,
            max_packet,
            charset,
            user,
            auth_response: Bytes::copy_from_slice(auth),
            database,
            auth_plugin,
            attributes,
        }))
    }
}

fn parse_attributes(r: &mut Reader<'_>) -> Result<Vec<(String, String)>> {
    let block = r.lenenc_bytes("connection attributes")?;
    let mut a = Reader::new(block);
    let mut out = Vec::new();
    while !a.is_empty() {
        let key = a.lenenc_bytes("attribute name")?;
        let value = a.lenenc_bytes("attribute value")?;
        out.push((text(key), text(value)));
    }
    Ok(out)
}

/// AuthSwitchRequest (0xFE during authentication).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthSwitchRequest {
    /// Empty for the old (pre-4.1) switch request, which is the bare 0xFE byte.
    pub plugin: String,
    pub data: Bytes,
}

impl AuthSwitchRequest {
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let header = r.u8("auth switch header")?;
        if header != 0xFE {
            return Err(DecodeError::Invalid {
                what: "auth switch header",
                value: u64::from(header),
            });
        }
        let plugin = text(r.nul_or_eof_bytes());
        let data = r.rest();
        let data = data.strip_suffix(&[0]).unwrap_or(data);
        Ok(Self {
            plugin,
            data: Bytes::copy_from_slice(data),
        })
    }
}

// ------------------------------------------------------------------------------------------
// Generic responses

/// A session-state change reported in an OK packet (CLIENT_SESSION_TRACK).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionStateChange {
    /// SESSION_TRACK_SYSTEM_VARIABLES.
    SystemVariable { name: String, value: String },
    /// SESSION_TRACK_SCHEMA: the default database changed.
    Schema(String),
    /// Any other tracker (state change, GTIDs, transaction state...).
    Other { kind: u8 },
}

/// OK packet (also the 0xFE-headed end of a result set with CLIENT_DEPRECATE_EOF).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OkPacket {
    pub header: u8,
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub status: u16,
    pub warnings: u16,
    pub info: String,
    pub session_state: Vec<SessionStateChange>,
}

impl OkPacket {
    /// Parses an OK packet. `protocol_41` is CLIENT_PROTOCOL_41 (true for every current peer).
    /// The human-readable info is parsed leniently: servers send it length-encoded, the
    /// documentation says "rest of packet" without CLIENT_SESSION_TRACK; both are accepted.
    pub fn parse(payload: &[u8], protocol_41: bool) -> Result<Self> {
        let mut r = Reader::new(payload);
        let header = r.u8("OK header")?;
        if header != 0x00 && header != 0xFE {
            return Err(DecodeError::Invalid {
                what: "OK header",
                value: u64::from(header),
            });
        }
        let affected_rows = r.lenenc("affected rows")?;
        let last_insert_id = r.lenenc("last insert id")?;
        let (status, warnings) = if protocol_41 {
            (r.u16("status")?, r.u16("warnings")?)
        } else if r.remaining() >= 2 {
            (r.u16("status")?, 0)
        } else {
            (0, 0)
        };
        let mut ok = Self {
            header,
            affected_rows,
            last_insert_id,
            status,
            warnings,
            info: String::new(),
            session_state: Vec::new(),
        };
        if r.is_empty() {
            return Ok(ok);
        }
        let mut lenenc = r;
        match lenenc.lenenc_bytes("info") {
            Ok(info) => {
                ok.info = text(info);
                if status & status::SERVER_SESSION_STATE_CHANGED != 0 && !lenenc.is_empty() {
                    // Session state is informative: a malformed block is ignored.
                    if let Ok(state) = parse_session_state(&mut lenenc) {
                        ok.session_state = state;
                    }
                }
            }
            Err(_) => ok.info = text(r.rest()),
        }
        Ok(ok)
    }

    /// The new default database, when the server tracked a change.
    pub fn schema_change(&self) -> Option<&str> {
        self.session_state.iter().rev().find_map(|c| match c {
            SessionStateChange::Schema(s) => Some(s.as_str()),
            _ => None,
        })
    }
}

fn parse_session_state(r: &mut Reader<'_>) -> Result<Vec<SessionStateChange>> {
    let block = r.lenenc_bytes("session state")?;
    let mut s = Reader::new(block);
    let mut out = Vec::new();
    while !s.is_empty() {
        let kind = s.u8("session state type")?;
        let data = s.lenenc_bytes("session state data")?;
        let mut d = Reader::new(data);
        out.push(match kind {
            0 => SessionStateChange::SystemVariable {
                name: text(d.lenenc_bytes("variable name")?),
                value: text(d.lenenc_bytes("variable value")?),
            },
            1 => SessionStateChange::Schema(text(d.lenenc_bytes("schema")?)),
            _ => SessionStateChange::Other { kind },
        });
    }
    Ok(out)
}

/// ERR packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrPacket {
    pub code: u16,
    /// The 5-character SQLSTATE, when the `#` marker is present.
    pub sql_state: Option<String>,
    pub message: String,
}

impl ErrPacket {
    /// Error code of MariaDB progress reports (not an error).
    pub const PROGRESS_CODE: u16 = 0xFFFF;

    pub fn parse(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let header = r.u8("ERR header")?;
        if header != 0xFF {
            return Err(DecodeError::Invalid {
                what: "ERR header",
                value: u64::from(header),
            });
        }
        let code = r.u16("error code")?;
        if code == Self::PROGRESS_CODE {
            return Ok(Self {
                code,
                sql_state: None,
                message: String::new(),
            });
        }
        let sql_state = if r.peek() == Some(b'#') && r.remaining() >= 6 {
            r.u8("sqlstate marker")?;
            Some(text(r.take(5, "sqlstate")?))
        } else {
            None
        };
        Ok(Self {
            code,
            sql_state,
            message: text(r.rest()),
        })
    }

    /// A MariaDB progress report (sent during long statements with MARIADB_CLIENT_PROGRESS).
    pub fn is_progress(&self) -> bool {
        self.code == Self::PROGRESS_CODE
    }

    /// `errno/SQLSTATE`, with the generic `HY000` when the server sent no SQLSTATE.
    pub fn error_code(&self) -> String {
        format!(
            "{}/{}",
            self.code,
            self.sql_state.as_deref().unwrap_or("HY000")
        )
    }
}

/// EOF packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EofPacket {
    pub warnings: u16,
    pub status: u16,
}

impl EofPacket {
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let header = r.u8("EOF header")?;
        if header != 0xFE {
            return Err(DecodeError::Invalid {
                what: "EOF header",
                value: u64::from(header),
            });
        }
        if r.remaining() < 4 {
            return Ok(Self {
                warnings: 0,
                status: 0,
            });
        }
        Ok(Self {
            warnings: r.u16("warnings")?,
            status: r.u16("status")?,
        })
    }
}

/// Status flags of a result terminator (EOF, or OK with a 0xFE header).
pub fn terminator_status(payload: &[u8], protocol_41: bool) -> Result<u16> {
    if payload.len() <= 5 {
        Ok(EofPacket::parse(payload)?.status)
    } else {
        Ok(OkPacket::parse(payload, protocol_41)?.status)
    }
}

// ------------------------------------------------------------------------------------------
// Result sets

/// First packet of a result set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnCount {
    pub count: u64,
    /// False when the server skipped the column definitions (MariaDB cache metadata, MySQL
    /// optional metadata): the byte after the count, when present.
    pub metadata_follows: bool,
}

impl ColumnCount {
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let count = r.lenenc("column count")?;
        if count == 0 {
            return Err(DecodeError::Invalid {
                what: "column count",
                value: 0,
            });
        }
        let metadata_follows = match r.peek() {
            None => true,
            Some(b) => b != 0,
        };
        Ok(Self {
            count,
            metadata_follows,
        })
    }
}

/// Protocol::ColumnDefinition41.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnDefinition {
    pub catalog: String,
    pub schema: String,
    /// Table alias.
    pub table: String,
    pub org_table: String,
    /// Column alias.
    pub name: String,
    pub org_name: String,
    pub charset: u16,
    pub length: u32,
    pub column_type: u8,
    pub flags: u16,
    pub decimals: u8,
}

impl ColumnDefinition {
    /// Parses a column definition. `extended_metadata` is the negotiated
    /// MARIADB_CLIENT_EXTENDED_METADATA; when the layout disagrees with it (unknown
    /// capabilities), the other layout is tried.
    pub fn parse(payload: &[u8], extended_metadata: bool) -> Result<Self> {
        Self::parse_with(payload, extended_metadata)
            .or_else(|e| Self::parse_with(payload, !extended_metadata).map_err(|_| e))
    }

    fn parse_with(payload: &[u8], extended_metadata: bool) -> Result<Self> {
        let mut r = Reader::new(payload);
        let catalog = text(r.lenenc_bytes("catalog")?);
        let schema = text(r.lenenc_bytes("schema")?);
        let table = text(r.lenenc_bytes("table")?);
        let org_table = text(r.lenenc_bytes("org_table")?);
        let name = text(r.lenenc_bytes("name")?);
        let org_name = text(r.lenenc_bytes("org_name")?);
        if extended_metadata {
            r.lenenc_bytes("extended metadata")?;
        }
        let fixed = r.lenenc("fixed fields length")?;
        if fixed < 10 {
            return Err(DecodeError::Invalid {
                what: "fixed fields length",
                value: fixed,
            });
        }
        Ok(Self {
            catalog,
            schema,
            table,
            org_table,
            name,
            org_name,
            charset: r.u16("charset")?,
            length: r.u32("column length")?,
            column_type: r.u8("column type")?,
            flags: r.u16("column flags")?,
            decimals: r.u8("decimals")?,
        })
    }
}

/// COM_STMT_PREPARE_OK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StmtPrepareOk {
    pub statement_id: u32,
    pub num_columns: u16,
    pub num_params: u16,
    pub warnings: u16,
}

impl StmtPrepareOk {
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let header = r.u8("prepare OK header")?;
        if header != 0 {
            return Err(DecodeError::Invalid {
                what: "prepare OK header",
                value: u64::from(header),
            });
        }
        let statement_id = r.u32("statement id")?;
        let num_columns = r.u16("column count")?;
        let num_params = r.u16("parameter count")?;
        let warnings = if r.remaining() >= 3 {
            r.u8("reserved")?;
            r.u16("warnings")?
        } else {
            0
        };
        Ok(Self {
            statement_id,
            num_columns,
            num_params,
            warnings,
        })
    }
}

// ------------------------------------------------------------------------------------------
// Commands

/// COM_CHANGE_USER.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeUser {
    pub user: String,
    pub database: Option<String>,
    pub charset: Option<u16>,
    pub auth_plugin: Option<String>,
    pub attributes: Vec<(String, String)>,
}

impl ChangeUser {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        attribute(&self.attributes, key)
    }
}

/// COM_STMT_EXECUTE, with the parameter block left undecoded: decoding it needs the
/// parameter count from the prepare and possibly the types of an earlier execute
/// (see [`StmtExecute::params`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StmtExecute {
    pub statement_id: u32,
    pub flags: u8,
    pub iteration_count: u32,
    /// Everything after the iteration count.
    pub body: Bytes,
}

/// Cursor flags of COM_STMT_EXECUTE.
pub const CURSOR_TYPE_READ_ONLY: u8 = 0x01;
/// MySQL 8 (CLIENT_QUERY_ATTRIBUTES): the parameter count is sent in the execute.
pub const PARAMETER_COUNT_AVAILABLE: u8 = 0x08;
/// MariaDB: COM_STMT_EXECUTE with this statement id runs the statement prepared last.
pub const LAST_PREPARED_STATEMENT: u32 = 0xFFFF_FFFF;

/// A parameter type as bound by COM_STMT_EXECUTE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamType {
    pub column_type: u8,
    pub unsigned: bool,
    /// Query attribute name (CLIENT_QUERY_ATTRIBUTES).
    pub name: Option<String>,
}

/// A decoded parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Null,
    Int(i64),
    UInt(u64),
    Float(f32),
    Double(f64),
    /// Strings, blobs, decimals, JSON...: the raw bytes.
    Bytes(Bytes),
    /// DATE, DATETIME, TIMESTAMP.
    DateTime {
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        micros: u32,
        /// The wire value had no time part (4 bytes or less).
        date_only: bool,
    },
    /// TIME.
    Time {
        negative: bool,
        days: u32,
        hours: u8,
        minutes: u8,
        seconds: u8,
        micros: u32,
    },
    /// The value was sent with COM_STMT_SEND_LONG_DATA, not in the execute.
    LongData,
}

pub use super::{bytes_to_text, MAX_PARAM_TEXT};

impl ParamValue {
    /// The value as SQL-ish text (`None` for NULL): integers and floats in decimal, strings as
    /// UTF-8 (invalid UTF-8 as `0x` hex), dates as `YYYY-MM-DD[ HH:MM:SS[.ffffff]]`, times as
    /// `[-]HH:MM:SS[.ffffff]`. Values longer than [`MAX_PARAM_TEXT`] bytes are cut and end with
    /// `...(N bytes)`.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Self::Null => None,
            Self::LongData => Some(String::from("<long data>")),
            Self::Bytes(b) => Some(bytes_to_text(b)),
            other => Some(other.to_string()),
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::Int(v) => write!(f, "{v}"),
            Self::UInt(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v}"),
            Self::Double(v) => write!(f, "{v}"),
            Self::Bytes(b) => f.write_str(&bytes_to_text(b)),
            Self::DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                micros,
                date_only,
            } => {
                write!(f, "{year:04}-{month:02}-{day:02}")?;
                if !date_only {
                    write!(f, " {hour:02}:{minute:02}:{second:02}")?;
                    if *micros != 0 {
                        write!(f, ".{micros:06}")?;
                    }
                }
                Ok(())
            }
            Self::Time {
                negative,
                days,
                hours,
                minutes,
                seconds,
                micros,
            } => {
                let total_hours = u64::from(*days) * 24 + u64::from(*hours);
                let sign = if *negative { "-" } else { "" };
                write!(f, "{sign}{total_hours:02}:{minutes:02}:{seconds:02}")?;
                if *micros != 0 {
                    write!(f, ".{micros:06}")?;
                }
                Ok(())
            }
            Self::LongData => f.write_str("<long data>"),
        }
    }
}

/// Decodes one binary-protocol value of type `ty`.
pub fn decode_binary_value(r: &mut Reader<'_>, ty: &ParamType) -> Result<ParamValue> {
    use column_type::*;
    let unsigned = ty.unsigned;
    Ok(match ty.column_type {
        NULL => ParamValue::Null,
        TINY => {
            let v = r.u8("TINY value")?;
            if unsigned {
                ParamValue::UInt(u64::from(v))
            } else {
                ParamValue::Int(i64::from(v as i8))
            }
        }
        SHORT | YEAR => {
            let v = r.u16("SHORT value")?;
            if unsigned {
                ParamValue::UInt(u64::from(v))
            } else {
                ParamValue::Int(i64::from(v as i16))
            }
        }
        LONG | INT24 => {
            let v = r.u32("LONG value")?;
            if unsigned {
                ParamValue::UInt(u64::from(v))
            } else {
                ParamValue::Int(i64::from(v as i32))
            }
        }
        LONGLONG => {
            let v = r.u64("LONGLONG value")?;
            if unsigned {
                ParamValue::UInt(v)
            } else {
                ParamValue::Int(v as i64)
            }
        }
        FLOAT => ParamValue::Float(f32::from_bits(r.u32("FLOAT value")?)),
        DOUBLE => ParamValue::Double(f64::from_bits(r.u64("DOUBLE value")?)),
        DATE | DATETIME | TIMESTAMP | NEWDATE | TIMESTAMP2 | DATETIME2 => {
            let len = r.u8("date length")?;
            let mut d = Reader::new(r.take(usize::from(len), "date value")?);
            let mut v = (0u16, 0u8, 0u8, 0u8, 0u8, 0u8, 0u32);
            if len >= 4 {
                v.0 = d.u16("year")?;
                v.1 = d.u8("month")?;
                v.2 = d.u8("day")?;
            }
            if len >= 7 {
                v.3 = d.u8("hour")?;
                v.4 = d.u8("minute")?;
                v.5 = d.u8("second")?;
            }
            if len >= 11 {
                v.6 = d.u32("microseconds")?;
            }
            ParamValue::DateTime {
                year: v.0,
                month: v.1,
                day: v.2,
                hour: v.3,
                minute: v.4,
                second: v.5,
                micros: v.6,
                date_only: len <= 4 && ty.column_type == DATE,
            }
        }
        TIME | TIME2 => {
            let len = r.u8("time length")?;
            let mut d = Reader::new(r.take(usize::from(len), "time value")?);
            let mut v = (false, 0u32, 0u8, 0u8, 0u8, 0u32);
            if len >= 8 {
                v.0 = d.u8("time sign")? != 0;
                v.1 = d.u32("days")?;
                v.2 = d.u8("hours")?;
                v.3 = d.u8("minutes")?;
                v.4 = d.u8("seconds")?;
            }
            if len >= 12 {
                v.5 = d.u32("microseconds")?;
            }
            ParamValue::Time {
                negative: v.0,
                days: v.1,
                hours: v.2,
                minutes: v.3,
                seconds: v.4,
                micros: v.5,
            }
        }
        DECIMAL | NEWDECIMAL | VARCHAR | BIT | VECTOR | JSON | ENUM | SET | TINY_BLOB
        | MEDIUM_BLOB | LONG_BLOB | BLOB | VAR_STRING | STRING | GEOMETRY => {
            ParamValue::Bytes(Bytes::copy_from_slice(r.lenenc_bytes("string value")?))
        }
        other => {
            return Err(DecodeError::Invalid {
                what: "parameter type",
                value: u64::from(other),
            })
        }
    })
}

/// Decoded parameter block of COM_STMT_EXECUTE (or of COM_QUERY query attributes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecuteParams {
    /// The types used to decode the values (sent now or remembered from an earlier execute).
    pub types: Vec<ParamType>,
    /// The client sent the types in this packet.
    pub new_params_bound: bool,
    pub values: Vec<ParamValue>,
}

/// Decodes `count` parameters: null bitmap, new-params-bound flag, types (with names when
/// `named`), values. `previous` are the types to use when the packet does not carry them,
/// `long_data[i]` marks parameters sent with COM_STMT_SEND_LONG_DATA (no value in the packet).
fn decode_param_block(
    r: &mut Reader<'_>,
    count: usize,
    previous: &[ParamType],
    long_data: &[bool],
    named: bool,
) -> Result<ExecuteParams> {
    if count == 0 {
        return Ok(ExecuteParams::default());
    }
    // Each parameter needs at least one bitmap bit; refuse counts the packet cannot hold.
    if count > r.remaining().saturating_mul(8) {
        return Err(DecodeError::Truncated {
            what: "null bitmap",
        });
    }
    let bitmap = r.take(count.div_ceil(8), "null bitmap")?;
    let bound = r.u8("new params bound flag")?;
    let types = if bound == 1 {
        if count > r.remaining() / 2 {
            return Err(DecodeError::Truncated {
                what: "parameter types",
            });
        }
        let mut types = Vec::with_capacity(count);
        for _ in 0..count {
            let column_type = r.u8("parameter type")?;
            let flags = r.u8("parameter flags")?;
            let name = if named {
                Some(text(r.lenenc_bytes("parameter name")?))
            } else {
                None
            };
            types.push(ParamType {
                column_type,
                unsigned: flags & 0x80 != 0,
                name,
            });
        }
        types
    } else if previous.len() == count {
        previous.to_vec()
    } else {
        return Err(DecodeError::Invalid {
            what: "parameter types (not sent, none remembered)",
            value: count as u64,
        });
    };
    let mut values = Vec::with_capacity(count);
    for (i, ty) in types.iter().enumerate() {
        let null = bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0);
        let value = if long_data.get(i).copied().unwrap_or(false) {
            ParamValue::LongData
        } else if null {
            ParamValue::Null
        } else {
            decode_binary_value(r, ty)?
        };
        values.push(value);
    }
    Ok(ExecuteParams {
        types,
        new_params_bound: bound == 1,
        values,
    })
}

impl StmtExecute {
    /// Decodes the parameters. `num_params` comes from COM_STMT_PREPARE_OK; `previous` are
    /// the types bound by the last execute that sent them (a client may omit them later);
    /// `long_data[i]` is true for parameters sent with COM_STMT_SEND_LONG_DATA since the last
    /// execute; `query_attributes` is the negotiated CLIENT_QUERY_ATTRIBUTES (MySQL 8).
    pub fn params(
        &self,
        num_params: usize,
        previous: &[ParamType],
        long_data: &[bool],
        query_attributes: bool,
    ) -> Result<ExecuteParams> {
        let mut r = Reader::new(&self.body);
        let mut count = num_params;
        if query_attributes && self.flags & PARAMETER_COUNT_AVAILABLE != 0 {
            let n = r.lenenc("parameter count")?;
            count = usize::try_from(n).map_err(|_| DecodeError::Truncated {
                what: "parameter count",
            })?;
        }
        decode_param_block(&mut r, count, previous, long_data, query_attributes)
    }
}

/// A client command (a client packet with sequence id 0 in the command phase).
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Quit,
    InitDb {
        schema: String,
    },
    Query {
        /// Shared with the statement record built from it: no copy per query.
        text: std::sync::Arc<str>,
        /// Query attributes (MySQL 8 CLIENT_QUERY_ATTRIBUTES), name and value.
        attributes: Vec<(String, ParamValue)>,
    },
    FieldList {
        table: String,
    },
    CreateDb {
        schema: String,
    },
    DropDb {
        schema: String,
    },
    ProcessKill {
        connection_id: u32,
    },
    ChangeUser(ChangeUser),
    StmtPrepare {
        text: String,
    },
    StmtExecute(StmtExecute),
    StmtSendLongData {
        statement_id: u32,
        param_id: u16,
        data: Bytes,
    },
    StmtClose {
        statement_id: u32,
    },
    StmtReset {
        statement_id: u32,
    },
    StmtFetch {
        statement_id: u32,
        rows: u32,
    },
    SetOption {
        option: u16,
    },
    /// MariaDB COM_STMT_BULK_EXECUTE (parameters not decoded).
    StmtBulkExecute {
        statement_id: u32,
        flags: u16,
    },
    /// Any other command, recognised by its byte (see [`command_name`]).
    Other {
        code: u8,
    },
}

/// Name of a command byte (`COM_QUERY`...), `None` when unknown.
pub fn command_name(code: u8) -> Option<&'static str> {
    use command::*;
    Some(match code {
        COM_SLEEP => "COM_SLEEP",
        COM_QUIT => "COM_QUIT",
        COM_INIT_DB => "COM_INIT_DB",
        COM_QUERY => "COM_QUERY",
        COM_FIELD_LIST => "COM_FIELD_LIST",
        COM_CREATE_DB => "COM_CREATE_DB",
        COM_DROP_DB => "COM_DROP_DB",
        COM_REFRESH => "COM_REFRESH",
        COM_SHUTDOWN => "COM_SHUTDOWN",
        COM_STATISTICS => "COM_STATISTICS",
        COM_PROCESS_INFO => "COM_PROCESS_INFO",
        COM_CONNECT => "COM_CONNECT",
        COM_PROCESS_KILL => "COM_PROCESS_KILL",
        COM_DEBUG => "COM_DEBUG",
        COM_PING => "COM_PING",
        COM_TIME => "COM_TIME",
        COM_DELAYED_INSERT => "COM_DELAYED_INSERT",
        COM_CHANGE_USER => "COM_CHANGE_USER",
        COM_BINLOG_DUMP => "COM_BINLOG_DUMP",
        COM_TABLE_DUMP => "COM_TABLE_DUMP",
        COM_CONNECT_OUT => "COM_CONNECT_OUT",
        COM_REGISTER_SLAVE => "COM_REGISTER_SLAVE",
        COM_STMT_PREPARE => "COM_STMT_PREPARE",
        COM_STMT_EXECUTE => "COM_STMT_EXECUTE",
        COM_STMT_SEND_LONG_DATA => "COM_STMT_SEND_LONG_DATA",
        COM_STMT_CLOSE => "COM_STMT_CLOSE",
        COM_STMT_RESET => "COM_STMT_RESET",
        COM_SET_OPTION => "COM_SET_OPTION",
        COM_STMT_FETCH => "COM_STMT_FETCH",
        COM_DAEMON => "COM_DAEMON",
        COM_BINLOG_DUMP_GTID => "COM_BINLOG_DUMP_GTID",
        COM_RESET_CONNECTION => "COM_RESET_CONNECTION",
        COM_CLONE => "COM_CLONE",
        COM_STMT_BULK_EXECUTE => "COM_STMT_BULK_EXECUTE",
        COM_MULTI => "COM_MULTI",
        _ => return None,
    })
}

impl Command {
    /// Parses a command payload. `capabilities` are the negotiated ones (CLIENT_SECURE_CONNECTION,
    /// CLIENT_PLUGIN_AUTH, CLIENT_CONNECT_ATTRS for COM_CHANGE_USER; CLIENT_QUERY_ATTRIBUTES for
    /// COM_QUERY).
    pub fn parse(payload: &Bytes, capabilities: u64) -> Result<Self> {
        use command::*;
        let mut r = Reader::new(payload);
        let code = r.u8("command")?;
        Ok(match code {
            COM_QUIT => Self::Quit,
            COM_INIT_DB => Self::InitDb {
                schema: text(r.rest()),
            },
            COM_QUERY => {
                let attributes = if capabilities & capabilities::CLIENT_QUERY_ATTRIBUTES != 0 {
                    parse_query_attributes(&mut r)?
                } else {
                    Vec::new()
                };
                Self::Query {
                    text: super::lossy(r.rest()).into(),
                    attributes,
                }
            }
            COM_FIELD_LIST => Self::FieldList {
                table: text(r.nul_or_eof_bytes()),
            },
            COM_CREATE_DB => Self::CreateDb {
                schema: text(r.rest()),
            },
            COM_DROP_DB => Self::DropDb {
                schema: text(r.rest()),
            },
            COM_PROCESS_KILL => Self::ProcessKill {
                connection_id: r.u32("connection id")?,
            },
            COM_CHANGE_USER => Self::ChangeUser(parse_change_user(&mut r, capabilities)?),
            COM_STMT_PREPARE => Self::StmtPrepare {
                text: text(r.rest()),
            },
            COM_STMT_EXECUTE => {
                let statement_id = r.u32("statement id")?;
                let flags = r.u8("cursor flags")?;
                let iteration_count = r.u32("iteration count")?;
                let start = payload.len() - r.remaining();
                Self::StmtExecute(StmtExecute {
                    statement_id,
                    flags,
                    iteration_count,
                    body: payload.slice(start..),
                })
            }
            COM_STMT_SEND_LONG_DATA => {
                let statement_id = r.u32("statement id")?;
                let param_id = r.u16("parameter id")?;
                let start = payload.len() - r.remaining();
                Self::StmtSendLongData {
                    statement_id,
                    param_id,
                    data: payload.slice(start..),
                }
            }
            COM_STMT_CLOSE => Self::StmtClose {
                statement_id: r.u32("statement id")?,
            },
            COM_STMT_RESET => Self::StmtReset {
                statement_id: r.u32("statement id")?,
            },
            COM_STMT_FETCH => Self::StmtFetch {
                statement_id: r.u32("statement id")?,
                rows: r.u32("row count")?,
            },
            COM_SET_OPTION => Self::SetOption {
                option: r.u16("option")?,
            },
            COM_STMT_BULK_EXECUTE => Self::StmtBulkExecute {
                statement_id: r.u32("statement id")?,
                flags: r.u16("bulk flags")?,
            },
            code => Self::Other { code },
        })
    }
}

/// COM_QUERY prefix with CLIENT_QUERY_ATTRIBUTES: parameter count, parameter set count (1),
/// then a parameter block with names.
fn parse_query_attributes(r: &mut Reader<'_>) -> Result<Vec<(String, ParamValue)>> {
    let count = r.lenenc("query attribute count")?;
    let _sets = r.lenenc("query attribute set count")?;
    let count = usize::try_from(count).map_err(|_| DecodeError::Truncated {
        what: "query attribute count",
    })?;
    let block = decode_param_block(r, count, &[], &[], true)?;
    Ok(block
        .types
        .into_iter()
        .zip(block.values)
        .map(|(t, v)| (t.name.unwrap_or_default(), v))
        .collect())
}

fn parse_change_user(r: &mut Reader<'_>, caps: u64) -> Result<ChangeUser> {
    use capabilities::*;
    let user = text(r.nul_bytes("user")?);
    if caps & CLIENT_SECURE_CONNECTION != 0 {
        let n = r.u8("auth response length")?;
        r.take(usize::from(n), "auth response")?;
    } else {
        r.nul_or_eof_bytes();
    }
    let mut out = ChangeUser {
        user,
        ..ChangeUser::default()
    };
    if r.is_empty() {
        return Ok(out);
    }
    out.database = opt_text(r.nul_or_eof_bytes());
    if r.remaining() >= 2 {
        out.charset = Some(r.u16("charset")?);
        if caps & CLIENT_PLUGIN_AUTH != 0 && !r.is_empty() {
            out.auth_plugin = opt_text(r.nul_or_eof_bytes());
        }
        if caps & CLIENT_CONNECT_ATTRS != 0 && !r.is_empty() {
            // Attributes are informative: keep the rest of the command even if they are bad.
            out.attributes = parse_attributes(r).unwrap_or_default();
        }
    }
    Ok(out)
}

/// The payload length in a frame header's first three bytes (little-endian); 0 when fewer
/// than three are given.
pub fn payload_len(h: &[u8]) -> usize {
    match h {
        [a, b, c, ..] => usize::from(*a) | usize::from(*b) << 8 | usize::from(*c) << 16,
        _ => 0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn frame(seq: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(payload.len() + 4);
        let len = payload.len() as u32;
        v.extend_from_slice(&len.to_le_bytes()[..3]);
        v.push(seq);
        v.extend_from_slice(payload);
        v
    }

    /// Splits a fixture into (direction, bytes) chunks.
    fn chunks(file: &[u8]) -> Vec<(u8, &[u8])> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + 5 <= file.len() {
            let n = u32::from_le_bytes(file[pos + 1..pos + 5].try_into().unwrap()) as usize;
            out.push((file[pos], &file[pos + 5..pos + 5 + n]));
            pos += 5 + n;
        }
        out
    }

    fn packets(file: &[u8], dir: u8) -> Vec<Packet> {
        let mut dec = PacketDecoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for (d, bytes) in chunks(file) {
            if d != dir {
                continue;
            }
            buf.extend_from_slice(bytes);
            while let Some(p) = dec.decode(&mut buf).unwrap() {
                out.push(p);
            }
        }
        assert!(buf.is_empty() && dec.is_idle());
        out
    }

    const CLI: &[u8] = include_bytes!("../../tests/fixtures/mysql/cli_session.bin");
    const RAW_EOF: &[u8] = include_bytes!("../../tests/fixtures/mysql/raw_eof.bin");
    const CONNECTOR: &[u8] = include_bytes!("../../tests/fixtures/mysql/connector_prepared.bin");
    const SSL: &[u8] = include_bytes!("../../tests/fixtures/mysql/ssl.bin");

    #[test]
    fn decodes_single_frames_and_needs_more() {
        let mut dec = PacketDecoder::default();
        let mut buf = BytesMut::from(&frame(0, b"\x03SELECT 1")[..5]);
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&frame(0, b"\x03SELECT 1")[5..]);
        buf.extend_from_slice(&frame(0, b"\x0e")[..2]);
        let p = dec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(p.seq, 0);
        assert_eq!(&p.payload[..], b"\x03SELECT 1");
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&frame(0, b"\x0e")[2..]);
        let p = dec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(&p.payload[..], b"\x0e");
        assert!(dec.is_idle());
    }

    #[test]
    fn empty_packet() {
        let mut dec = PacketDecoder::default();
        let mut buf = BytesMut::from(&frame(3, b"")[..]);
        let p = dec.decode(&mut buf).unwrap().unwrap();
        assert_eq!((p.seq, p.len, p.payload.len()), (3, 0, 0));
    }

    #[test]
    fn reassembles_16mib_packets() {
        let big = vec![b'x'; MAX_FRAME_LEN + 10];
        let mut wire = frame(0, &big[..MAX_FRAME_LEN]);
        wire.extend_from_slice(&frame(1, &big[MAX_FRAME_LEN..]));
        wire.extend_from_slice(&frame(0, b"\x0e"));
        let mut dec = PacketDecoder::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for piece in wire.chunks(1 << 20) {
            buf.extend_from_slice(piece);
            while let Some(p) = dec.decode(&mut buf).unwrap() {
                got.push(p);
            }
            assert!(buf.len() < 4, "input consumed eagerly");
        }
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].seq, got[0].last_seq), (0, 1));
        assert_eq!(got[0].len, MAX_FRAME_LEN + 10);
        assert_eq!(got[0].payload.len(), MAX_FRAME_LEN + 10);
        assert!(!got[0].truncated());
        assert_eq!(&got[1].payload[..], b"\x0e");
    }

    #[test]
    fn exact_frame_size_is_followed_by_empty_frame() {
        let big = vec![7u8; MAX_FRAME_LEN];
        let mut wire = frame(5, &big);
        wire.extend_from_slice(&frame(6, b""));
        let mut dec = PacketDecoder::default();
        let mut buf = BytesMut::from(&wire[..]);
        let p = dec.decode(&mut buf).unwrap().unwrap();
        assert_eq!((p.seq, p.last_seq, p.len), (5, 6, MAX_FRAME_LEN));
    }

    #[test]
    fn oversized_packets_are_truncated_not_buffered() {
        let mut dec = PacketDecoder::new(16);
        let mut wire = frame(0, &[b'a'; 100]);
        wire.extend_from_slice(&frame(0, b"\x01"));
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire {
            buf.extend_from_slice(&[b]);
            while let Some(p) = dec.decode(&mut buf).unwrap() {
                got.push(p);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len, 100);
        assert_eq!(got[0].payload.len(), 16);
        assert!(got[0].truncated());
        assert_eq!(&got[1].payload[..], b"\x01");
    }

    #[test]
    fn continuation_sequence_mismatch() {
        let big = vec![0u8; MAX_FRAME_LEN];
        let mut wire = frame(0, &big);
        wire.extend_from_slice(&frame(9, b"\x0e"));
        let mut dec = PacketDecoder::default();
        let mut buf = BytesMut::from(&wire[..]);
        assert_eq!(
            dec.decode(&mut buf),
            Err(DecodeError::SequenceMismatch {
                expected: 1,
                got: 9
            })
        );
        // The offending frame starts a new packet.
        let p = dec.decode(&mut buf).unwrap().unwrap();
        assert_eq!((p.seq, &p.payload[..]), (9, &b"\x0e"[..]));
    }

    #[test]
    fn lenenc_integers() {
        let mut r = Reader::new(&[
            0xFA, 0xFB, 0xFC, 0x34, 0x12, 0xFD, 1, 2, 3, 0xFE, 1, 0, 0, 0, 0, 0, 0, 0x80, 0xFF,
        ]);
        assert_eq!(r.lenenc_int("a").unwrap(), Some(250));
        assert_eq!(r.lenenc_int("a").unwrap(), None);
        assert_eq!(r.lenenc_int("a").unwrap(), Some(0x1234));
        assert_eq!(r.lenenc_int("a").unwrap(), Some(0x030201));
        assert_eq!(r.lenenc_int("a").unwrap(), Some(0x8000_0000_0000_0001));
        assert!(r.lenenc_int("a").is_err());
        let mut r = Reader::new(&[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, b'x']);
        assert!(r.lenenc_bytes("huge").is_err());
        let mut r = Reader::new(&[0xFC, 0x01]);
        assert!(r.lenenc_int("short").is_err());
    }

    #[test]
    fn mariadb_handshake_and_cli_response() {
        let server = packets(CLI, b'S');
        let hs = Handshake::parse(&server[0].payload).unwrap();
        assert_eq!(hs.server_version, "5.5.5-10.11.14-MariaDB-0+deb12u2");
        assert_eq!(hs.version(), "10.11.14-MariaDB-0+deb12u2");
        assert!(hs.connection_id > 0);
        assert_eq!(hs.auth_plugin.as_deref(), Some("mysql_native_password"));
        assert_eq!(hs.capabilities & capabilities::CLIENT_MYSQL, 0);
        assert_ne!(
            hs.capabilities & capabilities::MARIADB_CLIENT_EXTENDED_METADATA,
            0
        );
        let client = packets(CLI, b'C');
        let ClientHello::Response(resp) = ClientHello::parse(&client[0].payload).unwrap() else {
            panic!("not a response")
        };
        assert_eq!(resp.user, "app");
        assert_eq!(resp.database.as_deref(), Some("shop"));
        assert_eq!(resp.auth_plugin.as_deref(), Some("mysql_native_password"));
        assert_eq!(resp.auth_response.len(), 20);
        assert_eq!(resp.attribute("_client_name"), Some("libmariadb"));
        assert!(resp.attribute("program_name").is_some());
        assert_eq!(
            resp.capabilities & capabilities::CLIENT_DEPRECATE_EOF,
            0,
            "the mariadb CLI does not deprecate EOF"
        );
        let ok = OkPacket::parse(&server[1].payload, true).unwrap();
        assert_eq!(ok.schema_change(), Some("shop"));
    }

    #[test]
    fn ssl_request() {
        // Only the first client packet is plaintext MySQL framing, TLS follows.
        let (dir, first) = chunks(SSL)[1];
        assert_eq!(dir, b'C');
        let mut buf = BytesMut::from(first);
        let p = PacketDecoder::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!((p.seq, p.len), (1, 32));
        let hello = ClientHello::parse(&p.payload).unwrap();
        assert!(
            matches!(hello, ClientHello::SslRequest { capabilities } if capabilities & capabilities::CLIENT_SSL != 0)
        );
    }

    #[test]
    fn cli_result_set_and_error() {
        let server = packets(CLI, b'S');
        // SELECT id, name, price FROM items: count (with the metadata byte), 3 defs, EOF,
        // 3 rows, EOF.
        let cc = ColumnCount::parse(&server[2].payload).unwrap();
        assert_eq!(cc.count, 3);
        assert!(cc.metadata_follows);
        let def = ColumnDefinition::parse(&server[4].payload, true).unwrap();
        assert_eq!(
            (
                def.schema.as_str(),
                def.org_table.as_str(),
                def.name.as_str()
            ),
            ("shop", "items", "name")
        );
        assert_eq!(def.column_type, column_type::VAR_STRING);
        // The same definition parses with the wrong hint too.
        assert_eq!(
            ColumnDefinition::parse(&server[4].payload, false).unwrap(),
            def
        );
        assert!(server[6].is_eof());
        assert!(server[10].is_result_terminator());
        let err = ErrPacket::parse(&server[11].payload).unwrap();
        assert_eq!(err.code, 1146);
        assert_eq!(err.error_code(), "1146/42S02");
        assert_eq!(err.message, "Table 'shop.nosuch' doesn't exist");
    }

    #[test]
    fn ok_packets() {
        // INSERT ... VALUES (1),(2),(3) with CLIENT_SESSION_TRACK.
        let ok = OkPacket::parse(
            b"\x00\x03\x00\x02\x00\x00\x00&Records: 3  Duplicates: 0  Warnings: 0",
            true,
        )
        .unwrap();
        assert_eq!(ok.affected_rows, 3);
        assert_eq!(ok.info, "Records: 3  Duplicates: 0  Warnings: 0");
        // COM_INIT_DB with schema tracking.
        let ok =
            OkPacket::parse(b"\x00\x00\x00\x02@\x00\x00\x00\n\x01\x08\x07otherdb", true).unwrap();
        assert_eq!(ok.schema_change(), Some("otherdb"));
        // Info as "rest of packet".
        let ok = OkPacket::parse(b"\x00\x01\x05\x02\x00\x00\x00hello world", true).unwrap();
        assert_eq!((ok.affected_rows, ok.last_insert_id), (1, 5));
        assert_eq!(ok.info, "hello world");
        // Large affected rows (lenenc 0xFC).
        let ok = OkPacket::parse(b"\xfe\xfc\x10\x27\x00\x22\x00\x00\x00", true).unwrap();
        assert_eq!(
            (ok.header, ok.affected_rows, ok.status),
            (0xFE, 10000, 0x22)
        );
        assert!(OkPacket::parse(b"\x00\xfc", true).is_err());
    }

    #[test]
    fn err_without_sqlstate_and_progress() {
        let err = ErrPacket::parse(b"\xff\x10\x04Too many connections").unwrap();
        assert_eq!(err.code, 1040);
        assert_eq!(err.sql_state, None);
        assert_eq!(err.error_code(), "1040/HY000");
        let progress = ErrPacket::parse(b"\xff\xff\xff\x01\x01\x10\x00\x00\x00").unwrap();
        assert!(progress.is_progress());
    }

    #[test]
    fn prepare_ok_and_execute_params_from_raw_client() {
        let server = packets(RAW_EOF, b'S');
        let client = packets(RAW_EOF, b'C');
        let prep = server
            .iter()
            .find_map(|p| {
                (p.len == 12 && p.first() == Some(0))
                    .then(|| StmtPrepareOk::parse(&p.payload).ok())
                    .flatten()
            })
            .unwrap();
        assert_eq!((prep.num_params, prep.num_columns), (13, 0));
        let execs: Vec<StmtExecute> = client
            .iter()
            .filter_map(|p| match Command::parse(&p.payload, 0) {
                Ok(Command::StmtExecute(e)) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(execs[0].statement_id, prep.statement_id);
        let p1 = execs[0].params(13, &[], &[], false).unwrap();
        assert!(p1.new_params_bound);
        let text: Vec<Option<String>> = p1.values.iter().map(ParamValue::to_text).collect();
        assert_eq!(
            text,
            vec![
                Some("-5".into()),
                Some("-300".into()),
                Some("70000".into()),
                Some("18446744073709551615".into()),
                Some("1.5".into()),
                Some("-2.25".into()),
                Some("12345.678".into()),
                Some("h\u{e9}llo".into()),
                Some("0x0001feff".into()),
                Some("2024-02-29".into()),
                Some("2024-12-31 23:59:58.123456".into()),
                Some("-26:03:04.500000".into()),
                None,
            ]
        );
        // The second execute omits the types: decoding needs the remembered ones.
        assert!(execs[1].params(13, &[], &[], false).is_err());
        let p2 = execs[1].params(13, &p1.types, &[], false).unwrap();
        assert!(!p2.new_params_bound);
        assert_eq!(p2.values[0], ParamValue::Int(7));
        assert_eq!(p2.values[2], ParamValue::Null);
        assert_eq!(p2.values[7].to_text().as_deref(), Some("second"));
        // The third one has parameter 7 sent as long data.
        let mut long = vec![false; 13];
        long[7] = true;
        let p3 = execs[2].params(13, &[], &long, false).unwrap();
        assert_eq!(p3.values[7], ParamValue::LongData);
        assert_eq!(p3.values[8].to_text().as_deref(), Some("0x0001feff"));
    }

    #[test]
    fn connector_execute_params() {
        let client = packets(CONNECTOR, b'C');
        let exec = client
            .iter()
            .filter_map(|p| match Command::parse(&p.payload, 0) {
                Ok(Command::StmtExecute(e)) => Some(e),
                _ => None,
            })
            .nth(2)
            .unwrap();
        let p = exec.params(7, &[], &[], false).unwrap();
        let text: Vec<Option<String>> = p.values.iter().map(ParamValue::to_text).collect();
        assert_eq!(
            text,
            vec![
                Some("42".into()),
                Some("caf\u{e9}".into()),
                Some("3.5".into()),
                Some("9.125".into()),
                Some("2025-06-07 08:09:10.000011".into()),
                Some("2025-01-02".into()),
                None,
            ]
        );
    }

    #[test]
    fn commands() {
        let p = Bytes::from_static(b"\x03SELECT 1");
        assert_eq!(
            Command::parse(&p, 0).unwrap(),
            Command::Query {
                text: "SELECT 1".into(),
                attributes: vec![]
            }
        );
        let p = Bytes::from_static(b"\x02otherdb");
        assert_eq!(
            Command::parse(&p, 0).unwrap(),
            Command::InitDb {
                schema: "otherdb".into()
            }
        );
        let p = Bytes::from_static(b"\x19\x04\x00\x00\x00");
        assert_eq!(
            Command::parse(&p, 0).unwrap(),
            Command::StmtClose { statement_id: 4 }
        );
        assert!(Command::parse(&Bytes::from_static(b"\x19\x04"), 0).is_err());
        assert_eq!(
            Command::parse(&Bytes::from_static(b"\x0e"), 0).unwrap(),
            Command::Other { code: 0x0e }
        );
        assert_eq!(command_name(0x0e), Some("COM_PING"));
        assert_eq!(command_name(0x77), None);
    }

    #[test]
    fn query_attributes() {
        use capabilities::CLIENT_QUERY_ATTRIBUTES as QA;
        // No attributes: count 0, set count 1.
        let p = Bytes::from_static(b"\x03\x00\x01SELECT 1");
        assert_eq!(
            Command::parse(&p, QA).unwrap(),
            Command::Query {
                text: "SELECT 1".into(),
                attributes: vec![]
            }
        );
        // One string attribute "trace" = "abc".
        let p = Bytes::from_static(b"\x03\x01\x01\x00\x01\xfe\x00\x05trace\x03abcSELECT 2");
        let Command::Query { text, attributes } = Command::parse(&p, QA).unwrap() else {
            panic!()
        };
        assert_eq!(&*text, "SELECT 2");
        assert_eq!(attributes[0].0, "trace");
        assert_eq!(attributes[0].1.to_text().as_deref(), Some("abc"));
    }

    #[test]
    fn change_user_from_connector() {
        let client = packets(CONNECTOR, b'C');
        let caps = capabilities::CLIENT_SECURE_CONNECTION
            | capabilities::CLIENT_PLUGIN_AUTH
            | capabilities::CLIENT_CONNECT_ATTRS;
        let cu = client
            .iter()
            .find_map(|p| match Command::parse(&p.payload, caps) {
                Ok(Command::ChangeUser(cu)) => Some(cu),
                _ => None,
            })
            .unwrap();
        assert_eq!(cu.user, "auditor");
        assert_eq!(cu.database.as_deref(), Some("shop"));
        assert_eq!(cu.auth_plugin.as_deref(), Some("mysql_native_password"));
        assert_eq!(cu.attribute("program_name"), Some("billing-api"));
    }

    #[test]
    fn param_text_rendering() {
        assert_eq!(
            ParamValue::Time {
                negative: false,
                days: 0,
                hours: 1,
                minutes: 2,
                seconds: 3,
                micros: 0
            }
            .to_text()
            .as_deref(),
            Some("01:02:03")
        );
        let long = ParamValue::Bytes(Bytes::from(vec![b'a'; MAX_PARAM_TEXT + 5]));
        let t = long.to_text().unwrap();
        assert!(t.ends_with(&format!("...({} bytes)", MAX_PARAM_TEXT + 5)));
        assert_eq!(
            ParamValue::DateTime {
                year: 0,
                month: 0,
                day: 0,
                hour: 0,
                minute: 0,
                second: 0,
                micros: 0,
                date_only: false
            }
            .to_text()
            .as_deref(),
            Some("0000-00-00 00:00:00")
        );
    }

    #[test]
    fn parsers_never_panic_on_prefixes() {
        // Every prefix of every real packet, through every parser.
        for file in [CLI, RAW_EOF, CONNECTOR] {
            for dir in [b'C', b'S'] {
                for p in packets(file, dir) {
                    for end in 0..=p.payload.len() {
                        let b = p.payload.slice(..end);
                        let _ = Handshake::parse(&b);
                        let _ = ClientHello::parse(&b);
                        let _ = OkPacket::parse(&b, true);
                        let _ = ErrPacket::parse(&b);
                        let _ = EofPacket::parse(&b);
                        let _ = ColumnCount::parse(&b);
                        let _ = ColumnDefinition::parse(&b, true);
                        let _ = StmtPrepareOk::parse(&b);
                        let _ = AuthSwitchRequest::parse(&b);
                        if let Ok(Command::StmtExecute(e)) = Command::parse(&b, u64::MAX) {
                            let _ = e.params(13, &[], &[], true);
                            let _ = e.params(3, &[], &[], false);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn err_packets_and_text_rows_round_trip() {
        let mut out = BytesMut::new();
        encode::err_packet(&mut out, 1, 1142, "42000", "blocked by dbgov: rule r");
        let (raw, p) = next_raw_packet(&mut out.clone(), 1 << 20).unwrap().unwrap();
        assert_eq!(&raw[..], &out[..]);
        assert_eq!(p.seq, 1);
        let e = ErrPacket::parse(&p.payload).unwrap();
        assert_eq!((e.code, e.sql_state.as_deref()), (1142, Some("42000")));
        assert_eq!(e.message, "blocked by dbgov: rule r");

        let long = vec![b'x'; 300];
        let values: Vec<Option<&[u8]>> = vec![Some(b"a@b.c"), None, Some(b""), Some(&long)];
        let mut out = BytesMut::new();
        encode::text_row(&mut out, 5, &values);
        let (_, p) = next_raw_packet(&mut out, 1 << 20).unwrap().unwrap();
        assert_eq!(p.seq, 5);
        assert_eq!(encode::text_row_values(&p.payload, 4).unwrap(), values);
        assert!(encode::text_row_values(&p.payload, 3).is_err());
        assert!(encode::text_row_values(&p.payload, 5).is_err());
    }

    #[test]
    fn raw_packets_wait_for_the_whole_packet_and_refuse_oversize() {
        let mut buf = BytesMut::from(&[3u8, 0, 0, 0, 1, 2][..]);
        assert!(next_raw_packet(&mut buf, 100).unwrap().is_none());
        buf.extend_from_slice(&[3, 9]);
        let (raw, p) = next_raw_packet(&mut buf, 100).unwrap().unwrap();
        assert_eq!(&raw[..], &[3, 0, 0, 0, 1, 2, 3]);
        assert_eq!(&p.payload[..], &[1, 2, 3]);
        assert_eq!(&buf[..], &[9]);
        let mut big = BytesMut::from(&[0xFFu8, 0xFF, 0x00, 0][..]);
        assert!(matches!(
            next_raw_packet(&mut big, 1000),
            Err(DecodeError::TooLarge { .. })
        ));
    }
}
