//! PostgreSQL backend message encoders for the proxy: what it answers in the server's place
//! (ErrorResponse, ReadyForQuery) and the rows it rewrites (DataRow), plus the reader of a
//! DataRow's values. Pure code over bytes; the decoders in the parent module read all of it
//! back (see the round-trip tests).
use bytes::{BufMut, BytesMut};

use super::DecodeError;

/// Writes one frame: tag, length (including itself), body written by `body`.
fn frame(out: &mut BytesMut, tag: u8, body: impl FnOnce(&mut BytesMut)) {
    out.put_u8(tag);
    let at = out.len();
    out.put_u32(0);
    body(out);
    let len = (out.len() - at) as u32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn cstr(out: &mut BytesMut, s: &str) {
    // A NUL inside would end the field early: cut there.
    let s = s.split('\0').next().unwrap_or("");
    out.put_slice(s.as_bytes());
    out.put_u8(0);
}

/// An ErrorResponse (`severity` ERROR or FATAL, a SQLSTATE `code`, the message, and an
/// optional detail and hint).
pub fn error_response(
    out: &mut BytesMut,
    severity: &str,
    code: &str,
    message: &str,
    detail: Option<&str>,
    hint: Option<&str>,
) {
    frame(out, b'E', |b| {
        // `S` is localised, `V` (PostgreSQL 9.6+) never is.
        for f in [b'S', b'V'] {
            b.put_u8(f);
            cstr(b, severity);
        }
        b.put_u8(b'C');
        cstr(b, code);
        b.put_u8(b'M');
        cstr(b, message);
        if let Some(d) = detail {
            b.put_u8(b'D');
            cstr(b, d);
        }
        if let Some(h) = hint {
            b.put_u8(b'H');
            cstr(b, h);
        }
        b.put_u8(0);
    });
}

/// A ReadyForQuery with transaction status `I`, `T` or `E`.
pub fn ready_for_query(out: &mut BytesMut, status: u8) {
    frame(out, b'Z', |b| b.put_u8(status));
}

/// A DataRow of `values` (`None` is SQL NULL).
pub fn data_row<V: AsRef<[u8]>>(out: &mut BytesMut, values: &[Option<V>]) {
    frame(out, b'D', |b| {
        b.put_u16(values.len() as u16);
        for v in values {
            match v {
                None => b.put_i32(-1),
                Some(v) => {
                    let v = v.as_ref();
                    b.put_i32(v.len() as i32);
                    b.put_slice(v);
                }
            }
        }
    });
}

/// The values of a DataRow frame (the whole frame, tag and length included).
pub fn data_row_values(frame: &[u8]) -> Result<Vec<Option<&[u8]>>, DecodeError> {
    let bad = |what| DecodeError::Malformed { tag: 'D', what };
    if frame.first() != Some(&b'D') || frame.len() < 7 {
        return Err(bad("not a DataRow"));
    }
    let n = u16::from_be_bytes([frame[5], frame[6]]) as usize;
    let mut at = 7;
    let mut values = Vec::with_capacity(n.min(frame.len() / 4));
    for _ in 0..n {
        let len = frame.get(at..at + 4).ok_or(bad("value length truncated"))?;
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        at += 4;
        if len < 0 {
            values.push(None);
            continue;
        }
        let end = at + len as usize;
        values.push(Some(frame.get(at..end).ok_or(bad("value truncated"))?));
        at = end;
    }
    if at != frame.len() {
        return Err(bad("bytes after the last value"));
    }
    Ok(values)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::postgres::{BackendDecoder, BackendMessage, ErrorFields};

    fn decode_one(bytes: &BytesMut) -> BackendMessage {
        let mut buf = bytes.clone();
        let (raw, m) = BackendDecoder::default()
            .next_frame(&mut buf)
            .unwrap()
            .unwrap();
        assert_eq!(&raw[..], &bytes[..]);
        assert!(buf.is_empty());
        m
    }

    #[test]
    fn error_response_round_trips() {
        let mut out = BytesMut::new();
        error_response(
            &mut out,
            "ERROR",
            "42501",
            "blocked by dbgov",
            Some("rule x"),
            None,
        );
        assert_eq!(
            decode_one(&out),
            BackendMessage::ErrorResponse(ErrorFields {
                severity: Some("ERROR".into()),
                code: Some("42501".into()),
                message: Some("blocked by dbgov".into()),
            })
        );
    }

    #[test]
    fn ready_for_query_round_trips() {
        for s in [b'I', b'T', b'E'] {
            let mut out = BytesMut::new();
            ready_for_query(&mut out, s);
            assert_eq!(
                decode_one(&out),
                BackendMessage::ReadyForQuery { status: s }
            );
        }
    }

    #[test]
    fn data_row_round_trips() {
        let values: Vec<Option<&[u8]>> = vec![Some(b"a@b.c"), None, Some(b""), Some(b"42")];
        let mut out = BytesMut::new();
        data_row(&mut out, &values);
        assert_eq!(decode_one(&out), BackendMessage::DataRow);
        assert_eq!(data_row_values(&out).unwrap(), values);
    }

    #[test]
    fn a_short_data_row_is_an_error() {
        let mut out = BytesMut::new();
        data_row(&mut out, &[Some(b"abcdef")]);
        let cut = &out[..out.len() - 2];
        assert!(data_row_values(cut).is_err());
        assert!(data_row_values(b"Z\0\0\0\x05I").is_err());
    }
}
