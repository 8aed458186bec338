//! PostgreSQL protocol v3 decoder: pure code over bytes.
//!
//! [`FrontendDecoder`] decodes what a client sends (startup packets, simple and extended query
//! messages, COPY data), [`BackendDecoder`] what a server sends. Both follow the
//! postgres-protocol convention: `decode(&mut BytesMut) -> Result<Option<Message>, DecodeError>`,
//! where `Ok(None)` means "need more bytes". The frame length is checked against a maximum
//! *before* anything is buffered, and every on-wire count is checked before it is used.
//! `DataRow` and `CopyData` bodies are never buffered: they are counted and skipped, so a huge
//! result costs no memory.
use std::borrow::Cow;

use bytes::{Buf, Bytes, BytesMut};
use smallvec::SmallVec;

/// Format codes of a Bind (none, one for all, or one per item): up to four kept inline, in
/// the room a `Vec` takes, so that the usual Bind allocates for its values alone.
pub type Formats = SmallVec<[i16; 4]>;

/// Default largest frame the decoders buffer (a Query or Parse text can be large).
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

const PROTOCOL_V3: u32 = 196_608;
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;

/// Errors of the PostgreSQL decoder. After an error the caller should treat the stream as
/// having a gap and call `resync`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("invalid frame length {len} for message {tag:?}")]
    BadLength { tag: char, len: u32 },
    #[error("startup packet length {0} out of range")]
    BadStartupLength(u32),
    #[error("unknown message type {0:#04x}")]
    UnknownTag(u8),
    #[error("malformed {tag:?} message: {what}")]
    Malformed { tag: char, what: &'static str },
    #[error("frame of {len} bytes is larger than the limit of {max}")]
    TooLarge { len: usize, max: usize },
}

/// Length of the whole frame at the head of `buf` (type byte included; a startup packet has
/// none), when its header is there. `in_startup`: the frame is a startup packet.
fn frame_len(buf: &[u8], in_startup: bool) -> Option<usize> {
    if in_startup {
        let h = buf.get(..4)?;
        Some(u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize)
    } else {
        peek_header(buf).map(|(_, len)| 1 + len as usize)
    }
}

/// Splits the whole frame at the head of `buf` (for a relay, which forwards frames unchanged)
/// and decodes it with `decode`. `Ok(None)` until the frame is complete; a frame above `max`
/// is an error before anything is buffered.
fn next_frame<M>(
    buf: &mut BytesMut,
    in_startup: bool,
    max: usize,
    decode: impl FnOnce(&mut BytesMut) -> Result<Option<M>, DecodeError>,
) -> Result<Option<(Bytes, M)>, DecodeError> {
    let Some(len) = frame_len(buf, in_startup) else {
        return Ok(None);
    };
    if len > max.saturating_add(5) {
        return Err(DecodeError::TooLarge { len, max });
    }
    if buf.len() < len {
        return Ok(None);
    }
    let raw = buf.split_to(len).freeze();
    let mut copy = BytesMut::from(&raw[..]);
    match decode(&mut copy)? {
        Some(m) if copy.is_empty() => Ok(Some((raw, m))),
        _ => Err(DecodeError::Malformed {
            tag: raw.first().map_or('?', |&t| t as char),
            what: "frame does not decode whole",
        }),
    }
}

/// A message from the client.
#[derive(Clone, Debug, PartialEq)]
pub enum FrontendMessage {
    Startup {
        version: u32,
        params: Vec<(String, String)>,
    },
    SslRequest,
    GssEncRequest,
    CancelRequest {
        pid: u32,
    },
    Query {
        text: Bytes,
    },
    Parse {
        name: String,
        text: Bytes,
        param_types: u16,
    },
    Bind {
        portal: String,
        statement: String,
        /// The values (None for NULL), as slices of the frame, when the decoder keeps them
        /// ([`FrontendDecoder::without_param_values`]); empty otherwise.
        params: Vec<Option<Bytes>>,
        /// How many values the Bind carries (kept or not).
        param_count: u32,
        param_formats: Formats,
        /// Result column formats: none (all text), one (for all), or one per column.
        result_formats: Formats,
    },
    Describe {
        portal: bool,
        name: String,
    },
    Execute {
        portal: String,
        max_rows: u32,
    },
    Close {
        portal: bool,
        name: String,
    },
    Sync,
    Flush,
    Terminate,
    /// COPY payload from the client: only its size is kept.
    CopyData {
        len: usize,
    },
    CopyDone,
    CopyFail {
        message: String,
    },
    /// Password / SASL messages: not kept.
    Auth,
    FunctionCall,
    /// A frame larger than the decoder's maximum, skipped without buffering.
    Oversize {
        tag: u8,
        len: usize,
    },
}

/// A column of a RowDescription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDescription {
    pub name: String,
    pub table_oid: u32,
    pub attnum: i16,
    pub type_oid: u32,
    /// 0 text, 1 binary (only known after Bind: a Describe of a statement says 0).
    pub format: i16,
}

/// Fields of an ErrorResponse / NoticeResponse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorFields {
    pub severity: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// A message from the server.
#[derive(Clone, Debug, PartialEq)]
pub enum BackendMessage {
    /// The single-byte answer to an SSLRequest / GSSENCRequest: `b'S'`/`b'G'` accepted, `b'N'` refused.
    SslResponse {
        accepted: bool,
    },
    Authentication {
        code: u32,
    },
    ParameterStatus {
        name: String,
        value: String,
    },
    BackendKeyData {
        pid: u32,
    },
    ReadyForQuery {
        status: u8,
    },
    RowDescription {
        fields: Vec<FieldDescription>,
    },
    /// A RowDescription byte for byte the same as the last one this decoder read (only from
    /// a decoder told to [`BackendDecoder::remember_row_descriptions`]): the same query shape
    /// again in simple mode, whose fields are not decoded again.
    RowDescriptionAgain,
    /// A result row: counted, not stored.
    DataRow,
    /// The tag split where it is decoded: the command (`SELECT`, `DROP TABLE`), named
    /// without an allocation when it is one of the usual ones, and the row count.
    CommandComplete {
        command: Cow<'static, str>,
        rows: Option<u64>,
    },
    EmptyQueryResponse,
    ErrorResponse(ErrorFields),
    NoticeResponse,
    ParseComplete,
    BindComplete,
    CloseComplete,
    NoData,
    ParameterDescription {
        count: u16,
    },
    PortalSuspended,
    CopyInResponse,
    CopyOutResponse,
    CopyBothResponse,
    CopyData {
        len: usize,
    },
    CopyDone,
    Notification,
    NegotiateProtocolVersion,
    FunctionCallResponse,
    Oversize {
        tag: u8,
        len: usize,
    },
}

/// State shared by both decoders: bytes left to skip of a counted-but-not-buffered frame.
#[derive(Clone, Debug, Default)]
struct Skip {
    remaining: usize,
}

impl Skip {
    /// Drops up to `remaining` bytes from `buf`. Returns true when nothing is left to skip.
    fn drain(&mut self, buf: &mut BytesMut) -> bool {
        if self.remaining == 0 {
            return true;
        }
        let n = self.remaining.min(buf.len());
        buf.advance(n);
        self.remaining -= n;
        self.remaining == 0
    }
}

/// Reads the 5-byte header (tag, length) without consuming it.
fn peek_header(buf: &[u8]) -> Option<(u8, u32)> {
    let h = buf.get(..5)?;
    Some((h[0], u32::from_be_bytes([h[1], h[2], h[3], h[4]])))
}

/// What [`FrontendDecoder::absorb_gap`] made of a hole in the client's bytes.
#[derive(Debug, PartialEq)]
pub enum GapFit {
    /// The hole is inside the frame being received: this message, from its head.
    Truncated(FrontendMessage),
    /// The hole is inside a frame whose content is not kept (COPY data, an oversize frame):
    /// counted.
    Absorbed,
    /// The hole cannot be placed in the framing.
    Resync,
}

/// Decoder for client-to-server bytes.
#[derive(Clone, Debug)]
pub struct FrontendDecoder {
    max_frame: usize,
    /// Before the StartupMessage, packets have no type byte.
    in_startup: bool,
    skip: Skip,
    /// Bind values are kept (as slices of the frame) in [`FrontendMessage::Bind`].
    param_values: bool,
}

impl Default for FrontendDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

/// A set of message tags, looked up by index (`<[u8]>::contains` searched the list for every
/// message).
struct Tags([bool; 256]);

impl Tags {
    const fn new(tags: &[u8]) -> Self {
        let mut set = [false; 256];
        let mut i = 0;
        while i < tags.len() {
            set[tags[i] as usize] = true;
            i += 1;
        }
        Self(set)
    }

    fn has(&self, tag: u8) -> bool {
        self.0[usize::from(tag)]
    }
}

const FRONTEND_TAGS: &Tags = &Tags::new(b"QPBDECSHXdcfpF");
const BACKEND_TAGS: &Tags = &Tags::new(b"RSKZTDCIEN123ntsGHWdcAvV");

impl FrontendDecoder {
    pub fn new(max_frame: usize) -> Self {
        Self {
            max_frame,
            in_startup: true,
            skip: Skip::default(),
            param_values: true,
        }
    }

    /// A decoder that counts Bind values without keeping them (`params` stays empty): the
    /// Bind is read in place, with no shared handle on the buffer and no list per statement.
    pub fn without_param_values(mut self) -> Self {
        self.param_values = false;
        self
    }

    /// A decoder for a connection joined after its startup phase.
    pub fn mid_session(max_frame: usize) -> Self {
        Self {
            max_frame,
            in_startup: false,
            skip: Skip::default(),
            param_values: true,
        }
    }

    pub fn in_startup(&self) -> bool {
        self.in_startup
    }

    /// After an SSLRequest refused by the server (or a GSSENCRequest), the client sends a new
    /// startup packet.
    pub fn expect_startup(&mut self) {
        self.in_startup = true;
    }

    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<FrontendMessage>, DecodeError> {
        if !self.skip.drain(buf) {
            return Ok(None);
        }
        if self.in_startup {
            return self.decode_startup(buf);
        }
        let Some((tag, len)) = peek_header(buf) else {
            return Ok(None);
        };
        if !FRONTEND_TAGS.has(tag) {
            return Err(DecodeError::UnknownTag(tag));
        }
        if len < 4 {
            return Err(DecodeError::BadLength {
                tag: tag as char,
                len,
            });
        }
        let body_len = len as usize - 4;
        // Counted, never buffered.
        if tag == b'd' {
            buf.advance(5);
            self.skip.remaining = body_len;
            self.skip.drain(buf);
            return Ok(Some(FrontendMessage::CopyData { len: body_len }));
        }
        if body_len > self.max_frame {
            buf.advance(5);
            self.skip.remaining = body_len;
            self.skip.drain(buf);
            return Ok(Some(FrontendMessage::Oversize { tag, len: body_len }));
        }
        if buf.len() < 5 + body_len {
            buf.reserve(5 + body_len - buf.len());
            return Ok(None);
        }
        if matches!(tag, b'Q' | b'P') || (tag == b'B' && self.param_values) {
            // Their text and values are kept as slices of the frame.
            buf.advance(5);
            let body = buf.split_to(body_len).freeze();
            return parse_frontend(tag, body).map(Some);
        }
        // Nothing of the others is kept as bytes: read in place, with no shared handle on the
        // buffer to take and drop per frame (Execute and Sync come with every statement), and
        // the frame consumed in one step.
        let msg = parse_frontend_plain(tag, &buf[5..5 + body_len]);
        buf.advance(5 + body_len);
        msg.map(Some)
    }

    /// The next whole frame as sent (to forward unchanged) with its decoded message; a frame
    /// above the maximum is [`DecodeError::TooLarge`], never buffered.
    pub fn next_frame(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<(Bytes, FrontendMessage)>, DecodeError> {
        let in_startup = self.in_startup;
        let max = self.max_frame;
        next_frame(buf, in_startup, max, |b| self.decode(b))
    }

    /// Accounts for `n` client bytes that were not captured (a write cut by the capture
    /// limit), given the bytes buffered so far in `buf`. When the hole falls inside the frame
    /// being received, framing holds: the rest of the frame is skipped, and a Query or Parse
    /// is returned from the head captured before the hole (the caller marks it truncated);
    /// COPY data and skipped frames just count the hole. [`GapFit::Resync`] when the hole
    /// cannot be placed (the caller must resynchronise).
    pub fn absorb_gap(&mut self, buf: &mut BytesMut, n: usize) -> GapFit {
        if self.in_startup {
            return GapFit::Resync;
        }
        if self.skip.remaining > 0 {
            if buf.is_empty() && n <= self.skip.remaining {
                self.skip.remaining -= n;
                return GapFit::Absorbed;
            }
            return GapFit::Resync;
        }
        let Some((tag, len)) = peek_header(buf) else {
            return GapFit::Resync;
        };
        let body_len = (len as usize).saturating_sub(4);
        let have = buf.len() - 5;
        if !(tag == b'Q' || tag == b'P') || len < 4 || have + n > body_len {
            // Only a Query's or a Parse's head can stand for the message: a Bind, Execute
            // or Close half-seen would change the wrong portal or statement.
            return GapFit::Resync;
        }
        if tag == b'P' && !buf[5..].contains(&0) {
            // The statement name itself was cut.
            return GapFit::Resync;
        }
        buf.advance(5);
        let mut head = buf.split_to(have).freeze();
        self.skip.remaining = body_len - have - n;
        let text_of = |b: &mut Bytes| -> Bytes {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            b.split_to(end)
        };
        match tag {
            b'Q' => GapFit::Truncated(FrontendMessage::Query {
                text: text_of(&mut head),
            }),
            _ => match cstr(&mut head) {
                Some(name) => GapFit::Truncated(FrontendMessage::Parse {
                    name,
                    text: text_of(&mut head),
                    param_types: 0,
                }),
                None => GapFit::Absorbed,
            },
        }
    }

    fn decode_startup(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<FrontendMessage>, DecodeError> {
        let Some(h) = buf.get(..8) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let code = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        if !(8..=10_000).contains(&len) {
            return Err(DecodeError::BadStartupLength(len));
        }
        if buf.len() < len as usize {
            return Ok(None);
        }
        buf.advance(8);
        let mut body = buf.split_to(len as usize - 8).freeze();
        let msg = match code {
            SSL_REQUEST => FrontendMessage::SslRequest,
            GSSENC_REQUEST => FrontendMessage::GssEncRequest,
            CANCEL_REQUEST => {
                let pid = if body.remaining() >= 4 {
                    body.get_u32()
                } else {
                    0
                };
                FrontendMessage::CancelRequest { pid }
            }
            _ => {
                let mut params = Vec::new();
                while body.first().is_some_and(|&b| b != 0) {
                    let k = cstr(&mut body).ok_or(DecodeError::Malformed {
                        tag: '0',
                        what: "unterminated startup parameter",
                    })?;
                    let v = cstr(&mut body).ok_or(DecodeError::Malformed {
                        tag: '0',
                        what: "unterminated startup value",
                    })?;
                    params.push((k, v));
                }
                self.in_startup = false;
                FrontendMessage::Startup {
                    version: code,
                    params,
                }
            }
        };
        if code == CANCEL_REQUEST
            || (code != SSL_REQUEST && code != GSSENC_REQUEST && code != PROTOCOL_V3)
        {
            // Cancel requests end the connection; unknown versions are answered with an error.
            self.in_startup = code == CANCEL_REQUEST;
        }
        Ok(Some(msg))
    }

    /// Discards bytes until something that looks like a frame boundary; returns bytes dropped.
    pub fn resync(&mut self, buf: &mut BytesMut) -> usize {
        self.skip.remaining = 0;
        self.in_startup = false;
        let dropped = find_boundary(buf, FRONTEND_TAGS, self.max_frame);
        buf.advance(dropped);
        dropped
    }
}

/// Decoder for server-to-client bytes.
#[derive(Clone, Debug)]
pub struct BackendDecoder {
    max_frame: usize,
    expect_ssl_response: bool,
    skip: Skip,
    /// The body of the last RowDescription read, when asked to remember it (empty: none yet;
    /// a RowDescription body is never empty).
    last_row_description: Option<Vec<u8>>,
}

impl Default for BackendDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl BackendDecoder {
    pub fn new(max_frame: usize) -> Self {
        Self {
            max_frame,
            expect_ssl_response: false,
            skip: Skip::default(),
            last_row_description: None,
        }
    }

    /// From now on a RowDescription that repeats the last one byte for byte is reported as
    /// [`BackendMessage::RowDescriptionAgain`], for a caller that keeps what it made of the
    /// last one: a query repeated in simple mode costs a compare, not a decode and the
    /// copies of its column names.
    pub fn remember_row_descriptions(&mut self) {
        self.last_row_description.get_or_insert_with(Vec::new);
    }

    /// The client sent an SSLRequest/GSSENCRequest: the next server byte is a bare `S`/`G`/`N`.
    pub fn expect_ssl_response(&mut self) {
        self.expect_ssl_response = true;
    }

    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BackendMessage>, DecodeError> {
        if !self.skip.drain(buf) {
            return Ok(None);
        }
        if self.expect_ssl_response {
            let Some(&b) = buf.first() else {
                return Ok(None);
            };
            // An old server may answer with an ErrorResponse instead.
            if b != b'E' {
                buf.advance(1);
                self.expect_ssl_response = false;
                return Ok(Some(BackendMessage::SslResponse {
                    accepted: b == b'S' || b == b'G',
                }));
            }
            self.expect_ssl_response = false;
        }
        let Some((tag, len)) = peek_header(buf) else {
            return Ok(None);
        };
        if !BACKEND_TAGS.has(tag) {
            return Err(DecodeError::UnknownTag(tag));
        }
        if len < 4 {
            return Err(DecodeError::BadLength {
                tag: tag as char,
                len,
            });
        }
        let body_len = len as usize - 4;
        if tag == b'D' || tag == b'd' {
            // Counted, never buffered: a whole frame is consumed in one step, a partial one
            // skipped as it arrives.
            if buf.len() >= 5 + body_len {
                buf.advance(5 + body_len);
            } else {
                buf.advance(5);
                self.skip.remaining = body_len;
                self.skip.drain(buf);
            }
            return Ok(Some(if tag == b'D' {
                BackendMessage::DataRow
            } else {
                BackendMessage::CopyData { len: body_len }
            }));
        }
        if body_len > self.max_frame {
            buf.advance(5);
            self.skip.remaining = body_len;
            self.skip.drain(buf);
            return Ok(Some(BackendMessage::Oversize { tag, len: body_len }));
        }
        if buf.len() < 5 + body_len {
            buf.reserve(5 + body_len - buf.len());
            return Ok(None);
        }
        // Parsed in place: no shared buffer to split off, count and release per message.
        let body = &buf[5..5 + body_len];
        let msg = match &mut self.last_row_description {
            Some(last) if tag == b'T' => {
                if !last.is_empty() && last[..] == *body {
                    Ok(BackendMessage::RowDescriptionAgain)
                } else {
                    let msg = parse_backend(tag, body);
                    last.clear();
                    if msg.is_ok() {
                        last.extend_from_slice(body);
                    }
                    msg
                }
            }
            _ => parse_backend(tag, body),
        };
        buf.advance(5 + body_len);
        msg.map(Some)
    }

    /// The next whole frame as sent with its decoded message, like
    /// [`FrontendDecoder::next_frame`]. Not for the bare answer to an SSLRequest.
    pub fn next_frame(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<(Bytes, BackendMessage)>, DecodeError> {
        let max = self.max_frame;
        next_frame(buf, false, max, |b| self.decode(b))
    }

    /// True when `buf` starts with what looks like a backend frame (a known tag and a sane
    /// length, followed by another known tag or the end of the bytes). Used when joining an idle
    /// connection, whose next server bytes begin a response.
    pub fn starts_with_frame(&self, buf: &[u8]) -> bool {
        !buf.is_empty() && find_boundary(buf, BACKEND_TAGS, self.max_frame) == 0
    }

    /// Discards bytes until the next ReadyForQuery (`Z 00 00 00 05 I|T|E`), the one message
    /// whose position is certain. Returns bytes dropped; the `Z` itself is kept.
    pub fn resync(&mut self, buf: &mut BytesMut) -> usize {
        self.skip.remaining = 0;
        self.expect_ssl_response = false;
        if let Some(last) = &mut self.last_row_description {
            last.clear();
        }
        let hay = &buf[..];
        let mut i = 0;
        while i + 6 <= hay.len() {
            if hay[i] == b'Z'
                && hay[i + 1..i + 5] == [0, 0, 0, 5]
                && matches!(hay[i + 5], b'I' | b'T' | b'E')
            {
                break;
            }
            i += 1;
        }
        // Keep a possible partial Z at the end.
        let dropped = if i + 6 <= hay.len() {
            i
        } else {
            hay.len().saturating_sub(5).min(i)
        };
        buf.advance(dropped);
        dropped
    }
}

/// Finds the first offset where a plausible frame starts: a known tag and a sane length whose
/// frame either ends the buffer or is followed by another known tag.
fn find_boundary(buf: &[u8], tags: &Tags, max_frame: usize) -> usize {
    let mut i = 0;
    while i < buf.len() {
        if tags.has(buf[i]) {
            match peek_header(&buf[i..]) {
                None => return i,
                Some((_, len)) if len >= 4 && (len as usize) <= max_frame => {
                    let end = i + 1 + len as usize;
                    if end == buf.len() || buf.get(end).is_some_and(|&t| tags.has(t)) {
                        return i;
                    }
                    if end > buf.len() && buf[i] != b'D' && buf[i] != b'd' {
                        // Incomplete, cannot check what follows: accept if the length fits the
                        // remaining bytes plausibly (< 1 MiB).
                        if len < 1 << 20 {
                            return i;
                        }
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    buf.len()
}

fn cstr<B: Buf + std::ops::Deref<Target = [u8]>>(b: &mut B) -> Option<String> {
    // The unnamed portal and statement (""), in almost every Bind, Describe and Execute: no
    // search, no UTF-8 check.
    if b.first() == Some(&0) {
        b.advance(1);
        return Some(String::new());
    }
    let pos = memchr::memchr(0, &b[..])?;
    let s = super::lossy(&b[..pos]).into_owned();
    b.advance(pos + 1);
    Some(s)
}

/// Like [`cstr`] but keeps the bytes.
fn cbytes(b: &mut Bytes) -> Option<Bytes> {
    let pos = memchr::memchr(0, &b[..])?;
    let s = b.split_to(pos);
    b.advance(1);
    Some(s)
}

fn need<B: Buf>(b: &B, n: usize, tag: u8, what: &'static str) -> Result<(), DecodeError> {
    if b.remaining() < n {
        return Err(DecodeError::Malformed {
            tag: tag as char,
            what,
        });
    }
    Ok(())
}

fn parse_frontend(tag: u8, mut b: Bytes) -> Result<FrontendMessage, DecodeError> {
    let bad = |what| DecodeError::Malformed {
        tag: tag as char,
        what,
    };
    Ok(match tag {
        b'Q' => FrontendMessage::Query {
            text: cbytes(&mut b).ok_or(bad("unterminated query"))?,
        },
        b'P' => {
            let name = cstr(&mut b).ok_or(bad("unterminated statement name"))?;
            let text = cbytes(&mut b).ok_or(bad("unterminated query"))?;
            need(&b, 2, tag, "missing parameter type count")?;
            let param_types = b.get_u16();
            need(
                &b,
                4 * param_types as usize,
                tag,
                "parameter types truncated",
            )?;
            FrontendMessage::Parse {
                name,
                text,
                param_types,
            }
        }
        b'B' => {
            let mut params = Vec::new();
            let mut bind = parse_bind(&b, |value| {
                params.push(value.map(|r| b.slice(r)));
            })?;
            if let FrontendMessage::Bind { params: p, .. } = &mut bind {
                *p = params;
            }
            bind
        }
        _ => parse_frontend_plain(tag, &b)?,
    })
}

/// Parses a Bind body in place: its names, formats and parameter count, with each value's
/// place in `body` (None for NULL) given to `value` in order. `params` is left empty.
fn parse_bind(
    body: &[u8],
    mut value: impl FnMut(Option<std::ops::Range<usize>>),
) -> Result<FrontendMessage, DecodeError> {
    let tag = b'B';
    let bad = |what| DecodeError::Malformed {
        tag: tag as char,
        what,
    };
    let mut b = body;
    let portal = cstr(&mut b).ok_or(bad("unterminated portal name"))?;
    let statement = cstr(&mut b).ok_or(bad("unterminated statement name"))?;
    need(&b, 2, tag, "missing format count")?;
    let nf = b.get_u16() as usize;
    need(&b, 2 * nf, tag, "formats truncated")?;
    let param_formats = (0..nf).map(|_| b.get_i16()).collect();
    need(&b, 2, tag, "missing parameter count")?;
    let np = b.get_u16() as usize;
    for _ in 0..np {
        need(&b, 4, tag, "parameter length truncated")?;
        let l = b.get_i32();
        if l < 0 {
            value(None);
        } else {
            let l = l as usize;
            need(&b, l, tag, "parameter value truncated")?;
            let at = body.len() - b.len();
            value(Some(at..at + l));
            b.advance(l);
        }
    }
    need(&b, 2, tag, "missing result format count")?;
    let nr = b.get_u16() as usize;
    need(&b, 2 * nr, tag, "result formats truncated")?;
    let result_formats = (0..nr).map(|_| b.get_i16()).collect();
    Ok(FrontendMessage::Bind {
        portal,
        statement,
        params: Vec::new(),
        param_count: np as u32,
        param_formats,
        result_formats,
    })
}

/// Parses a client message whose parts are all copied out (every tag but Query and Parse, and
/// Bind with its values kept), from the body in place.
fn parse_frontend_plain(tag: u8, mut b: &[u8]) -> Result<FrontendMessage, DecodeError> {
    let bad = |what| DecodeError::Malformed {
        tag: tag as char,
        what,
    };
    Ok(match tag {
        b'B' => parse_bind(b, |_| {})?,
        b'D' | b'C' => {
            need(&b, 1, tag, "missing kind")?;
            let kind = b.get_u8();
            let name = cstr(&mut b).ok_or(bad("unterminated name"))?;
            let portal = match kind {
                b'P' => true,
                b'S' => false,
                _ => return Err(bad("kind is neither 'S' nor 'P'")),
            };
            if tag == b'D' {
                FrontendMessage::Describe { portal, name }
            } else {
                FrontendMessage::Close { portal, name }
            }
        }
        b'E' => {
            let portal = cstr(&mut b).ok_or(bad("unterminated portal name"))?;
            need(&b, 4, tag, "missing row limit")?;
            FrontendMessage::Execute {
                portal,
                max_rows: b.get_u32(),
            }
        }
        b'S' => FrontendMessage::Sync,
        b'H' => FrontendMessage::Flush,
        b'X' => FrontendMessage::Terminate,
        b'c' => FrontendMessage::CopyDone,
        b'f' => FrontendMessage::CopyFail {
            message: cstr(&mut b).unwrap_or_default(),
        },
        b'p' => FrontendMessage::Auth,
        b'F' => FrontendMessage::FunctionCall,
        other => return Err(DecodeError::UnknownTag(other)),
    })
}

/// Parses a backend message's body; every part is copied out, so it reads the body in place.
fn parse_backend(tag: u8, mut b: &[u8]) -> Result<BackendMessage, DecodeError> {
    let bad = |what| DecodeError::Malformed {
        tag: tag as char,
        what,
    };
    Ok(match tag {
        b'R' => {
            need(&b, 4, tag, "missing auth code")?;
            BackendMessage::Authentication { code: b.get_u32() }
        }
        b'S' => {
            let name = cstr(&mut b).ok_or(bad("unterminated name"))?;
            let value = cstr(&mut b).ok_or(bad("unterminated value"))?;
            BackendMessage::ParameterStatus { name, value }
        }
        b'K' => {
            need(&b, 4, tag, "missing pid")?;
            BackendMessage::BackendKeyData { pid: b.get_u32() }
        }
        b'Z' => {
            need(&b, 1, tag, "missing status")?;
            BackendMessage::ReadyForQuery { status: b.get_u8() }
        }
        b'T' => {
            need(&b, 2, tag, "missing field count")?;
            let n = b.get_u16() as usize;
            // Each field needs at least 19 bytes: check the count before allocating.
            if n * 19 > b.remaining() {
                return Err(bad("field count exceeds message"));
            }
            let mut fields = Vec::with_capacity(n);
            for _ in 0..n {
                let name = cstr(&mut b).ok_or(bad("unterminated field name"))?;
                need(&b, 18, tag, "field truncated")?;
                let table_oid = b.get_u32();
                let attnum = b.get_i16();
                let type_oid = b.get_u32();
                b.advance(6);
                let format = b.get_i16();
                fields.push(FieldDescription {
                    name,
                    table_oid,
                    attnum,
                    type_oid,
                    format,
                });
            }
            BackendMessage::RowDescription { fields }
        }
        b'C' => {
            let pos = b
                .iter()
                .position(|&c| c == 0)
                .ok_or(bad("unterminated tag"))?;
            // The usual tags are read from the bytes: no UTF-8 check for them.
            let t = &b[..pos];
            let (command, rows) = match usual_tag(t) {
                Some((c, rows)) => (Cow::Borrowed(c), rows),
                None => split_tag_static(&super::lossy(t)),
            };
            BackendMessage::CommandComplete { command, rows }
        }
        b'I' => BackendMessage::EmptyQueryResponse,
        b'E' => BackendMessage::ErrorResponse(error_fields(&mut b)),
        b'N' => BackendMessage::NoticeResponse,
        b'1' => BackendMessage::ParseComplete,
        b'2' => BackendMessage::BindComplete,
        b'3' => BackendMessage::CloseComplete,
        b'n' => BackendMessage::NoData,
        b't' => {
            need(&b, 2, tag, "missing parameter count")?;
            BackendMessage::ParameterDescription { count: b.get_u16() }
        }
        b's' => BackendMessage::PortalSuspended,
        b'G' => BackendMessage::CopyInResponse,
        b'H' => BackendMessage::CopyOutResponse,
        b'W' => BackendMessage::CopyBothResponse,
        b'c' => BackendMessage::CopyDone,
        b'A' => BackendMessage::Notification,
        b'v' => BackendMessage::NegotiateProtocolVersion,
        b'V' => BackendMessage::FunctionCallResponse,
        other => return Err(DecodeError::UnknownTag(other)),
    })
}

fn error_fields<B: Buf + std::ops::Deref<Target = [u8]>>(b: &mut B) -> ErrorFields {
    let mut f = ErrorFields::default();
    while let Some(&code) = b.first() {
        if code == 0 {
            break;
        }
        b.advance(1);
        let Some(v) = cstr(b) else { break };
        match code {
            b'V' => f.severity = Some(v),
            b'S' if f.severity.is_none() => f.severity = Some(v),
            b'C' => f.code = Some(v),
            b'M' => f.message = Some(v),
            _ => {}
        }
    }
    f
}

/// Splits a CommandComplete tag into the command (`INSERT`, `DROP TABLE`) and its row count.
pub fn split_tag(tag: &str) -> (String, Option<u64>) {
    let (words, rows, plain) = tag_parts(tag);
    let words = &tag[words];
    let cmd = if plain {
        words.to_owned()
    } else {
        normalize_words(words)
    };
    (cmd, rows)
}

/// As [`split_tag`], with the usual commands named by a static string: no allocation for
/// them ("SELECT 1", "INSERT 0 1", "BEGIN").
pub fn split_tag_static(tag: &str) -> (Cow<'static, str>, Option<u64>) {
    if let Some(usual) = usual_tag(tag.as_bytes()) {
        return (Cow::Borrowed(usual.0), usual.1);
    }
    let (words, rows, plain) = tag_parts(tag);
    let words = &tag[words];
    let cmd = if plain {
        usual_command(words.as_bytes()).map_or_else(|| Cow::Owned(words.to_owned()), Cow::Borrowed)
    } else {
        Cow::Owned(normalize_words(words))
    };
    (cmd, rows)
}

/// The tags servers send for almost every statement, read byte by byte: a usual command,
/// then up to two numbers of plain digits (`SELECT 1`, `INSERT 0 1`, `BEGIN`), single spaces.
/// `None` for anything else, which [`tag_parts`] reads.
fn usual_tag(tag: &[u8]) -> Option<(&'static str, Option<u64>)> {
    /// The number `b` spells in plain digits (no sign, no overflow).
    fn digits(b: &[u8]) -> Option<u64> {
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        b.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    }
    let mut words = tag;
    let mut rows = None;
    for _ in 0..2 {
        let Some(sp) = words.iter().rposition(|&c| c == b' ') else {
            break;
        };
        let Some(n) = digits(&words[sp + 1..]) else {
            break;
        };
        rows = rows.or(Some(n));
        words = &words[..sp];
    }
    usual_command(words).map(|c| (c, rows))
}

/// The static name of a usual command tag (already upper case, single spaces).
fn usual_command(words: &[u8]) -> Option<&'static str> {
    Some(match words {
        b"SELECT" => "SELECT",
        b"INSERT" => "INSERT",
        b"UPDATE" => "UPDATE",
        b"DELETE" => "DELETE",
        b"MERGE" => "MERGE",
        b"BEGIN" => "BEGIN",
        b"START TRANSACTION" => "START TRANSACTION",
        b"COMMIT" => "COMMIT",
        b"ROLLBACK" => "ROLLBACK",
        b"SAVEPOINT" => "SAVEPOINT",
        b"RELEASE" => "RELEASE",
        b"SET" => "SET",
        b"SHOW" => "SHOW",
        b"RESET" => "RESET",
        b"FETCH" => "FETCH",
        b"MOVE" => "MOVE",
        b"COPY" => "COPY",
        b"DECLARE CURSOR" => "DECLARE CURSOR",
        b"CLOSE CURSOR" => "CLOSE CURSOR",
        b"PREPARE" => "PREPARE",
        b"EXECUTE" => "EXECUTE",
        b"DEALLOCATE" => "DEALLOCATE",
        b"DISCARD ALL" => "DISCARD ALL",
        b"LOCK TABLE" => "LOCK TABLE",
        b"LISTEN" => "LISTEN",
        b"NOTIFY" => "NOTIFY",
        b"CALL" => "CALL",
        b"DO" => "DO",
        _ => return None,
    })
}

/// Where the command's words are in a tag, its row count, and whether the words are the usual
/// tag, to be copied as they are.
fn tag_parts(tag: &str) -> (std::ops::Range<usize>, Option<u64>, bool) {
    // Trailing numbers come off from the end; the first one taken (the last word) is the
    // row count ("INSERT 0 5": 5).
    let mut rest = tag.trim_end_matches(|c: char| c.is_ascii_whitespace());
    let mut rows = None;
    while !rest.is_empty() {
        let (head, last) = match rest.rfind(|c: char| c.is_ascii_whitespace()) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => ("", rest),
        };
        let Ok(n) = last.parse::<u64>() else {
            break;
        };
        rows = rows.or(Some(n));
        rest = head.trim_end_matches(|c: char| c.is_ascii_whitespace());
    }
    let words = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    // The usual tag ("SELECT", "INSERT", "CREATE TABLE") is copied as it is.
    let plain = !words.bytes().any(|b| b.is_ascii_lowercase())
        && !words.contains("  ")
        && !words.bytes().any(|b| b.is_ascii_whitespace() && b != b' ');
    let begin = rest.len() - words.len();
    (begin..rest.len(), rows, plain)
}

/// Words of an unusual tag: single spaces, upper case.
fn normalize_words(words: &str) -> String {
    words
        .split_ascii_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

pub mod encode;
#[cfg(test)]
pub(crate) mod tests;
