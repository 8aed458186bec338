use super::*;

/// Splits a capture fixture (see tests/fixtures/postgres/capture.py) into (client?, bytes).
pub(crate) fn chunks(fixture: &[u8]) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 5 <= fixture.len() {
        let dir = fixture[i] == b'C';
        let n = u32::from_le_bytes([
            fixture[i + 1],
            fixture[i + 2],
            fixture[i + 3],
            fixture[i + 4],
        ]) as usize;
        out.push((dir, fixture[i + 5..i + 5 + n].to_vec()));
        i += 5 + n;
    }
    out
}

const PSQL: &[u8] = include_bytes!("../../../tests/fixtures/postgres/psql_session.bin");
const PGBENCH: &[u8] = include_bytes!("../../../tests/fixtures/postgres/pgbench_prepared.bin");

fn side(fixture: &[u8], client: bool) -> Vec<u8> {
    chunks(fixture)
        .into_iter()
        .filter(|(c, _)| *c == client)
        .flat_map(|(_, b)| b)
        .collect()
}

fn decode_frontend(bytes: &[u8], step: usize) -> Vec<FrontendMessage> {
    let mut d = FrontendDecoder::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(step) {
        buf.extend_from_slice(piece);
        while let Some(m) = d.decode(&mut buf).unwrap() {
            if matches!(m, FrontendMessage::SslRequest) {
                d.expect_startup();
            }
            out.push(m);
        }
    }
    assert!(buf.is_empty());
    out
}

fn decode_backend(bytes: &[u8], step: usize, ssl_first: bool) -> Vec<BackendMessage> {
    let mut d = BackendDecoder::default();
    if ssl_first {
        d.expect_ssl_response();
    }
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(step) {
        buf.extend_from_slice(piece);
        while let Some(m) = d.decode(&mut buf).unwrap() {
            out.push(m);
        }
    }
    assert!(buf.is_empty());
    out
}

#[test]
fn psql_frontend_messages() {
    let msgs = decode_frontend(&side(PSQL, true), usize::MAX);
    let startup = msgs.iter().find_map(|m| match m {
        FrontendMessage::Startup { params, .. } => Some(params.clone()),
        _ => None,
    });
    let params = startup.expect("startup message");
    assert!(params.contains(&("user".into(), "postgres".into())));
    assert!(params.contains(&("database".into(), "fix".into())));
    assert!(params.contains(&("application_name".into(), "psql".into())));
    let queries: Vec<String> = msgs
        .iter()
        .filter_map(|m| match m {
            FrontendMessage::Query { text } => Some(String::from_utf8_lossy(text).into_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(queries.len(), 8, "{queries:?}");
    assert_eq!(queries[3], "SELECT * FROM missing_table;");
    assert_eq!(msgs.last(), Some(&FrontendMessage::Terminate));
}

#[test]
fn split_frames_and_many_frames_per_chunk_decode_the_same() {
    let c = side(PSQL, true);
    let whole = decode_frontend(&c, usize::MAX);
    for step in [1, 2, 3, 7, 64] {
        assert_eq!(decode_frontend(&c, step), whole, "client step {step}");
    }
    let s = side(PSQL, false);
    let ssl = s.first() == Some(&b'N');
    let whole = decode_backend(&s, usize::MAX, ssl);
    for step in [1, 5, 13] {
        assert_eq!(decode_backend(&s, step, ssl), whole, "server step {step}");
    }
    let errors: Vec<_> = whole
        .iter()
        .filter_map(|m| match m {
            BackendMessage::ErrorResponse(f) => f.code.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(errors, vec!["42P01".to_string()]);
    let rows = whole
        .iter()
        .filter(|m| matches!(m, BackendMessage::DataRow))
        .count();
    assert_eq!(rows, 3 + 1 + 1);
    let rd = whole.iter().find_map(|m| match m {
        BackendMessage::RowDescription { fields } => Some(fields.clone()),
        _ => None,
    });
    let rd = rd.expect("row description");
    assert_eq!(
        rd.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["id", "email", "name"]
    );
    assert!(rd.iter().all(|f| f.table_oid != 0));
    assert_eq!(rd.iter().map(|f| f.attnum).collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn pgbench_extended_protocol() {
    let msgs = decode_frontend(&side(PGBENCH, true), 3);
    let parses = msgs
        .iter()
        .filter(|m| matches!(m, FrontendMessage::Parse { .. }))
        .count();
    let executes = msgs
        .iter()
        .filter(|m| matches!(m, FrontendMessage::Execute { .. }))
        .count();
    let binds: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            FrontendMessage::Bind {
                statement, params, ..
            } => Some((statement.clone(), params.len())),
            _ => None,
        })
        .collect();
    assert_eq!(parses, 7, "pgbench prepares each of its 7 statements once");
    assert_eq!(executes, 35);
    assert_eq!(binds.len(), 35);
    assert!(
        binds.iter().any(|(s, n)| s == "P_1" && *n == 2),
        "{binds:?}"
    );
}

#[test]
fn oversize_frame_is_skipped_without_buffering() {
    let mut d = FrontendDecoder::mid_session(1024);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(b"Q");
    buf.extend_from_slice(&(4u32 + 5000).to_be_bytes());
    buf.extend_from_slice(&[b'x'; 100]);
    assert_eq!(
        d.decode(&mut buf).unwrap(),
        Some(FrontendMessage::Oversize {
            tag: b'Q',
            len: 5000
        })
    );
    assert!(buf.is_empty());
    // The rest of the oversize frame is dropped as it arrives, then decoding resumes.
    buf.extend_from_slice(&[b'x'; 4900]);
    buf.extend_from_slice(b"X\0\0\0\x04");
    assert_eq!(
        d.decode(&mut buf).unwrap(),
        Some(FrontendMessage::Terminate)
    );
}

#[test]
fn bad_lengths_and_counts_are_errors_not_panics() {
    let mut d = FrontendDecoder::mid_session(1024);
    let mut buf = BytesMut::from(&b"Q\0\0\0\x02"[..]);
    assert!(matches!(
        d.decode(&mut buf),
        Err(DecodeError::BadLength { .. })
    ));
    // A RowDescription claiming 65535 fields in 10 bytes.
    let mut b = BackendDecoder::default();
    let mut buf = BytesMut::from(&b"T\0\0\0\x0e\xff\xff\0\0\0\0\0\0\0\0"[..]);
    assert!(matches!(
        b.decode(&mut buf),
        Err(DecodeError::Malformed { .. })
    ));
    // A Bind whose parameter length runs past the message.
    let mut d = FrontendDecoder::mid_session(1024);
    let mut buf = BytesMut::from(&b"B\0\0\0\x10\0\0\0\0\0\x01\0\0\x7f\xff\xff\xff"[..]);
    assert!(matches!(
        d.decode(&mut buf),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn garbage_after_a_gap_resyncs_on_a_frame_boundary() {
    let mut d = FrontendDecoder::mid_session(1 << 20);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(b"\x13\x99garbage-bytes");
    buf.extend_from_slice(b"Q\0\0\0\x0dSELECT 1\0");
    buf.extend_from_slice(b"X\0\0\0\x04");
    let dropped = d.resync(&mut buf);
    assert!(dropped > 0);
    assert!(matches!(
        d.decode(&mut buf).unwrap(),
        Some(FrontendMessage::Query { .. })
    ));
    let mut b = BackendDecoder::default();
    let mut buf = BytesMut::from(&b"\0\x01partial-row-bytesZ\0\0\0\x05I"[..]);
    b.resync(&mut buf);
    assert_eq!(
        b.decode(&mut buf).unwrap(),
        Some(BackendMessage::ReadyForQuery { status: b'I' })
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..2000 {
        let mut buf = BytesMut::new();
        for _ in 0..(x % 200) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&[(x & 0xff) as u8]);
        }
        let mut f = FrontendDecoder::default();
        let mut b = BackendDecoder::default();
        let mut fb = buf.clone();
        for _ in 0..50 {
            match f.decode(&mut fb) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    f.resync(&mut fb);
                }
            }
        }
        for _ in 0..50 {
            match b.decode(&mut buf) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    b.resync(&mut buf);
                }
            }
        }
    }
}

#[test]
fn command_tags() {
    assert_eq!(split_tag("INSERT 0 3"), ("INSERT".into(), Some(3)));
    assert_eq!(split_tag("SELECT 12"), ("SELECT".into(), Some(12)));
    assert_eq!(split_tag("DROP TABLE"), ("DROP TABLE".into(), None));
    assert_eq!(split_tag("COPY 5"), ("COPY".into(), Some(5)));
    // The usual commands are named without an allocation; any other is copied.
    assert!(matches!(
        split_tag_static("SELECT 1"),
        (Cow::Borrowed("SELECT"), Some(1))
    ));
    assert!(matches!(
        split_tag_static("BEGIN"),
        (Cow::Borrowed("BEGIN"), None)
    ));
    assert!(matches!(
        split_tag_static("CREATE TABLE"),
        (Cow::Owned(_), None)
    ));
    assert!(matches!(
        split_tag_static("select 1"),
        (Cow::Owned(_), Some(1))
    ));
}

#[test]
fn command_complete_is_split_where_it_is_decoded() {
    let mut d = BackendDecoder::new(DEFAULT_MAX_FRAME);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(b"C\0\0\0\x10INSERT 0 12\0");
    let m = d.decode(&mut buf).unwrap().unwrap();
    assert_eq!(
        m,
        BackendMessage::CommandComplete {
            command: Cow::Borrowed("INSERT"),
            rows: Some(12)
        }
    );
    buf.extend_from_slice(b"C\0\0\0\x05X");
    assert!(d.decode(&mut buf).is_err(), "unterminated tag");
}

/// `split_tag` as first written (words split, trailing numbers popped, joined, upper-cased):
/// the faster one must agree with it on every input.
fn split_tag_reference(tag: &str) -> (String, Option<u64>) {
    let mut words: Vec<&str> = tag.split_ascii_whitespace().collect();
    let mut rows = None;
    while let Some(last) = words.last() {
        if let Ok(n) = last.parse::<u64>() {
            if rows.is_none() {
                rows = Some(n);
            }
            words.pop();
        } else {
            break;
        }
    }
    (words.join(" ").to_ascii_uppercase(), rows)
}

#[test]
fn command_tags_agree_with_the_reference() {
    let parts = [
        "INSERT",
        "SELECT",
        "START",
        "TRANSACTION",
        "insert",
        "0",
        "12",
        "CREATE",
        "table",
        "  ",
        " ",
        "\t",
        "\n",
        "x1",
        "1x",
        "18446744073709551615",
        "18446744073709551616",
        "é",
        "-1",
        "+3",
        "",
    ];
    let mut n = 0;
    for a in parts {
        for b in parts {
            for c in parts {
                for sep in ["", " ", "  ", "\t"] {
                    let tag = format!("{a}{sep}{b} {c}");
                    let want = split_tag_reference(&tag);
                    assert_eq!(split_tag(&tag), want, "{tag:?}");
                    let (cmd, rows) = split_tag_static(&tag);
                    assert_eq!((cmd.into_owned(), rows), want, "{tag:?}");
                    n += 1;
                }
            }
        }
    }
    assert!(n > 20_000);
}

/// A RowDescription repeated byte for byte is reported as such only by a decoder told to
/// remember them; a different one, or one after a resync, is decoded in full.
#[test]
fn repeated_row_description_is_reported_when_remembered() {
    let desc = |name: &[u8]| {
        let mut body = vec![0u8, 1];
        body.extend_from_slice(name);
        body.push(0);
        body.extend_from_slice(&[
            0, 0, 0x40, 0, 0, 1, 0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
        ]);
        let mut m = vec![b'T'];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(&body);
        m
    };
    let decode_all = |d: &mut BackendDecoder, frames: &[Vec<u8>]| -> Vec<BackendMessage> {
        let mut buf = BytesMut::new();
        for f in frames {
            buf.extend_from_slice(f);
        }
        let mut out = Vec::new();
        while let Some(m) = d.decode(&mut buf).unwrap() {
            out.push(m);
        }
        out
    };
    let frames = [desc(b"aid"), desc(b"aid"), desc(b"bid"), desc(b"aid")];
    let mut plain = BackendDecoder::new(DEFAULT_MAX_FRAME);
    assert!(decode_all(&mut plain, &frames)
        .iter()
        .all(|m| matches!(m, BackendMessage::RowDescription { .. })));
    let mut d = BackendDecoder::new(DEFAULT_MAX_FRAME);
    d.remember_row_descriptions();
    let got = decode_all(&mut d, &frames);
    let again: Vec<bool> = got
        .iter()
        .map(|m| matches!(m, BackendMessage::RowDescriptionAgain))
        .collect();
    assert_eq!(again, [false, true, false, false]);
    match &got[2] {
        BackendMessage::RowDescription { fields } => assert_eq!(fields[0].name, "bid"),
        m => panic!("{m:?}"),
    }
    // After a resync nothing is taken as repeated.
    let mut empty = BytesMut::new();
    d.resync(&mut empty);
    let got = decode_all(&mut d, &[desc(b"aid")]);
    assert!(matches!(got[0], BackendMessage::RowDescription { .. }));
}

#[test]
fn bind_values_are_counted_alike_whether_kept_or_not() {
    let client = side(PGBENCH, true);
    let decode = |mut d: FrontendDecoder| {
        let mut buf = BytesMut::from(&client[..]);
        let mut out = Vec::new();
        while let Some(m) = d.decode(&mut buf).unwrap() {
            out.push(m);
        }
        out
    };
    let kept = decode(FrontendDecoder::default());
    let counted = decode(FrontendDecoder::default().without_param_values());
    assert_eq!(kept.len(), counted.len());
    let mut binds = 0;
    for (k, c) in kept.into_iter().zip(counted) {
        match (k, c) {
            (
                FrontendMessage::Bind {
                    portal,
                    statement,
                    params,
                    param_count,
                    param_formats,
                    result_formats,
                },
                FrontendMessage::Bind {
                    portal: p2,
                    statement: s2,
                    params: v2,
                    param_count: n2,
                    param_formats: f2,
                    result_formats: r2,
                },
            ) => {
                binds += 1;
                assert_eq!(params.len() as u32, param_count);
                assert!(params.iter().all(Option::is_some), "pgbench sends no NULL");
                assert_eq!((portal, statement, param_count), (p2, s2, n2));
                assert_eq!((param_formats, result_formats), (f2, r2));
                assert!(v2.is_empty());
            }
            (k, c) => assert_eq!(format!("{k:?}"), format!("{c:?}")),
        }
    }
    assert_eq!(binds, 35);
    // A NULL, a value, and the same frame cut inside the value: the same count, and the same
    // error either way.
    let mut body = b"p\0s\0".to_vec();
    body.extend_from_slice(&0u16.to_be_bytes());
    body.extend_from_slice(&2u16.to_be_bytes());
    body.extend_from_slice(&(-1i32).to_be_bytes());
    body.extend_from_slice(&3i32.to_be_bytes());
    body.extend_from_slice(b"abc");
    body.extend_from_slice(&0u16.to_be_bytes());
    let frame = |body: &[u8]| {
        let mut f = vec![b'B'];
        f.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        f.extend_from_slice(body);
        BytesMut::from(&f[..])
    };
    let one = |d: FrontendDecoder, body: &[u8]| {
        let mut d = d;
        d.decode(&mut frame(body)).map(|m| format!("{m:?}"))
    };
    let kept = one(FrontendDecoder::mid_session(1024), &body).unwrap();
    assert!(
        kept.contains("params: [None, Some(b\"abc\")], param_count: 2"),
        "{kept}"
    );
    let counted = one(
        FrontendDecoder::mid_session(1024).without_param_values(),
        &body,
    )
    .unwrap();
    assert!(counted.contains("params: [], param_count: 2"), "{counted}");
    let cut = &body[..body.len() - 4];
    assert_eq!(
        format!("{:?}", one(FrontendDecoder::mid_session(1024), cut)),
        format!(
            "{:?}",
            one(
                FrontendDecoder::mid_session(1024).without_param_values(),
                cut
            )
        )
    );
    assert!(one(FrontendDecoder::mid_session(1024), cut).is_err());
}
