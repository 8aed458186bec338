use super::*;
use crate::session::Status;

const PSQL: &[u8] = include_bytes!("../../../tests/fixtures/postgres/psql_session.bin");
const PGBENCH: &[u8] = include_bytes!("../../../tests/fixtures/postgres/pgbench_prepared.bin");

fn chunks(fixture: &[u8]) -> Vec<(bool, Vec<u8>)> {
    crate::protocol::postgres::tests::chunks(fixture)
}

fn replay(fixture: &[u8], skip_chunk: Option<usize>) -> Vec<SessionEvent> {
    let mut s = PgSession::new(SessionOptions::default());
    let mut out = Vec::new();
    for (i, (client, b)) in chunks(fixture).into_iter().enumerate() {
        let flow = if client {
            Flow::ClientToServer
        } else {
            Flow::ServerToClient
        };
        if Some(i) == skip_chunk {
            s.on_gap(flow, b.len() as u64, i as u64, &mut out);
            continue;
        }
        s.on_data(flow, &b, i as u64 * 1000, &mut out);
    }
    s.on_close(1_000_000, &mut out);
    out
}

fn stmts(ev: &[SessionEvent]) -> Vec<&StatementRecord> {
    ev.iter()
        .filter_map(|e| match e {
            SessionEvent::Statement(s) => Some(&**s),
            _ => None,
        })
        .collect()
}

#[test]
fn psql_session_statements() {
    let ev = replay(PSQL, None);
    let start = ev.iter().find_map(|e| match e {
        SessionEvent::Start(i) => Some(i.clone()),
        _ => None,
    });
    let info = start.expect("session start");
    assert_eq!(info.user.as_deref(), Some("postgres"));
    assert_eq!(info.database.as_deref(), Some("fix"));
    assert_eq!(info.application.as_deref(), Some("psql"));
    assert!(info
        .server_version
        .as_deref()
        .is_some_and(|v| v.starts_with("15")));
    let st = stmts(&ev);
    let summary: Vec<(String, Option<String>, Option<u64>, Status)> = st
        .iter()
        .map(|s| {
            (
                s.text.as_deref().unwrap_or_default().to_owned(),
                s.tag.as_deref().map(str::to_owned),
                s.rows,
                s.status,
            )
        })
        .collect();
    assert_eq!(st.len(), 8, "{summary:#?}");
    assert_eq!(st[0].tag.as_deref(), Some("CREATE TABLE"));
    assert_eq!(
        (st[1].tag.as_deref(), st[1].rows),
        (Some("INSERT"), Some(3))
    );
    assert_eq!(
        (st[2].tag.as_deref(), st[2].rows),
        (Some("SELECT"), Some(3))
    );
    assert_eq!(st[2].columns.len(), 3);
    assert_eq!(st[3].status, Status::Error);
    assert_eq!(st[3].error_code.as_deref(), Some("42P01"));
    assert_eq!(
        (st[4].tag.as_deref(), st[4].rows),
        (Some("UPDATE"), Some(1))
    );
    assert_eq!(
        (st[5].tag.as_deref(), st[5].rows),
        (Some("DELETE"), Some(1))
    );
    assert_eq!(st[7].text.as_deref(), Some("SELECT 2;"));
    assert!(st.iter().all(|s| s.end_ns >= s.start_ns));
    assert!(matches!(ev.last(), Some(SessionEvent::End)));
    assert!(!ev.iter().any(|e| matches!(e, SessionEvent::Gap { .. })));
}

#[test]
fn pgbench_prepared_executes() {
    let ev = replay(PGBENCH, None);
    let st = stmts(&ev);
    assert_eq!(st.len(), 35, "5 transactions of 7 statements");
    assert!(st.iter().all(|s| s.prepared && s.status == Status::Ok));
    let sel: Vec<_> = st
        .iter()
        .filter(|s| {
            s.text
                .as_deref()
                .is_some_and(|t| t.starts_with("SELECT abalance"))
        })
        .collect();
    assert_eq!(sel.len(), 5);
    assert!(sel.iter().all(|s| s.rows == Some(1) && s.params == Some(1)));
    assert!(
        sel.iter()
            .all(|s| s.statement_name.as_deref() == Some("P_2")),
        "{:?}",
        sel[0]
    );
    assert!(
        sel.iter().all(|s| s.param_values.is_none()),
        "parameter values are not kept by default"
    );
}

#[test]
fn parameter_values_only_when_configured() {
    let mut s = PgSession::new(SessionOptions {
        record_params: true,
        ..SessionOptions::default()
    });
    let mut out = Vec::new();
    for (client, b) in chunks(PGBENCH) {
        let flow = if client {
            Flow::ClientToServer
        } else {
            Flow::ServerToClient
        };
        s.on_data(flow, &b, 0, &mut out);
    }
    let st = stmts(&out);
    assert!(st
        .iter()
        .filter(|s| s.params.unwrap_or(0) > 0)
        .all(|s| s.param_values.is_some()));
}

#[test]
fn a_gap_yields_a_gap_event_and_no_garbage() {
    let n = chunks(PSQL).len();
    let clean = stmts(&replay(PSQL, None)).len();
    for skip in 0..n {
        let ev = replay(PSQL, Some(skip));
        assert!(
            ev.iter().any(|e| matches!(e, SessionEvent::Gap { .. })),
            "chunk {skip}"
        );
        let st = stmts(&ev);
        assert!(st.len() <= clean + 1, "chunk {skip}: {st:#?}");
        for s in st {
            if let Some(t) = &s.text {
                assert!(
                    t.is_ascii() && !t.contains('\0'),
                    "garbage statement after gap at chunk {skip}: {t:?}"
                );
            }
        }
    }
}

#[test]
fn execute_of_unknown_statement_still_reported() {
    // Joined mid-session: Bind/Execute of statement "S_1" whose Parse was never seen.
    let mut s = PgSession::mid_session(SessionOptions::default());
    let mut out = Vec::new();
    let mut c = Vec::new();
    c.extend_from_slice(b"B\0\0\0\x0f\0S_1\0\0\0\0\0\0\0");
    c.extend_from_slice(b"E\0\0\0\x09\0\0\0\0\0");
    c.extend_from_slice(b"S\0\0\0\x04");
    s.on_data(Flow::ClientToServer, &c, 1, &mut out);
    let mut b = Vec::new();
    b.extend_from_slice(b"2\0\0\0\x04");
    b.extend_from_slice(b"C\0\0\0\x0dSELECT 0\0");
    b.extend_from_slice(b"Z\0\0\0\x05I");
    s.on_data(Flow::ServerToClient, &b, 2, &mut out);
    let st = stmts(&out);
    assert_eq!(st.len(), 1, "{out:?}");
    assert_eq!(st[0].text, None);
    assert_eq!(st[0].statement_name.as_deref(), Some("S_1"));
    assert!(st[0].prepared);
}

/// A protocol message: tag, length, body.
fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn parse(name: &str, sql: &str) -> Vec<u8> {
    let mut b = cstr(name);
    b.extend(cstr(sql));
    b.extend_from_slice(&0u16.to_be_bytes());
    msg(b'P', &b)
}

fn bind(portal: &str, stmt: &str, param: &str) -> Vec<u8> {
    let mut b = cstr(portal);
    b.extend(cstr(stmt));
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&1u16.to_be_bytes());
    b.extend_from_slice(&(param.len() as u32).to_be_bytes());
    b.extend_from_slice(param.as_bytes());
    b.extend_from_slice(&0u16.to_be_bytes());
    msg(b'B', &b)
}

fn describe_portal(portal: &str) -> Vec<u8> {
    let mut b = vec![b'P'];
    b.extend(cstr(portal));
    msg(b'D', &b)
}

fn execute(portal: &str) -> Vec<u8> {
    let mut b = cstr(portal);
    b.extend_from_slice(&0u32.to_be_bytes());
    msg(b'E', &b)
}

fn row_description(table_oid: u32, cols: &[&str]) -> Vec<u8> {
    let mut b = (cols.len() as u16).to_be_bytes().to_vec();
    for (i, c) in cols.iter().enumerate() {
        b.extend(cstr(c));
        b.extend_from_slice(&table_oid.to_be_bytes());
        b.extend_from_slice(&(i as u16 + 1).to_be_bytes());
        b.extend_from_slice(&25u32.to_be_bytes());
        b.extend_from_slice(&(-1i16).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&0u16.to_be_bytes());
    }
    msg(b'T', &b)
}

/// The answer to Parse?, Bind, Describe (portal), Execute, Sync returning one row.
fn answer(with_parse: bool, describe: bool, cols: &[&str]) -> Vec<u8> {
    let mut b = Vec::new();
    if with_parse {
        b.extend(msg(b'1', b""));
    }
    b.extend(msg(b'2', b""));
    if describe {
        b.extend(row_description(16384, cols));
    }
    b.extend(msg(b'D', b"\0\x01\0\0\0\x011"));
    b.extend(msg(b'C', b"SELECT 1\0"));
    b.extend(msg(b'Z', b"I"));
    b
}

#[test]
fn portal_describe_resolves_columns_and_is_kept_with_the_statement() {
    // psycopg 3 and node-postgres: Bind, Describe (portal), Execute. The RowDescription answers
    // the portal Describe after the Execute was queued; it must reach that Execute, and stay
    // with the named statement for its later executions (which are not described again).
    let cols = ["id", "name", "email", "card_number", "diagnosis"];
    let sql = "SELECT * FROM patients WHERE id = $1";
    let mut s = PgSession::mid_session(SessionOptions::default());
    let mut out = Vec::new();
    // Unnamed statement.
    let mut c = parse("", sql);
    c.extend(bind("", "", "1"));
    c.extend(describe_portal(""));
    c.extend(execute(""));
    c.extend(msg(b'S', b""));
    s.on_data(Flow::ClientToServer, &c, 1, &mut out);
    s.on_data(
        Flow::ServerToClient,
        &answer(true, true, &cols),
        2,
        &mut out,
    );
    // Named statement: prepared and described once, executed twice.
    let mut c = parse("_pg3_0", sql);
    c.extend(bind("", "_pg3_0", "2"));
    c.extend(describe_portal(""));
    c.extend(execute(""));
    c.extend(msg(b'S', b""));
    s.on_data(Flow::ClientToServer, &c, 3, &mut out);
    s.on_data(
        Flow::ServerToClient,
        &answer(true, true, &cols),
        4,
        &mut out,
    );
    let mut c = bind("", "_pg3_0", "3");
    c.extend(execute(""));
    c.extend(msg(b'S', b""));
    s.on_data(Flow::ClientToServer, &c, 5, &mut out);
    s.on_data(
        Flow::ServerToClient,
        &answer(false, false, &cols),
        6,
        &mut out,
    );
    let st = stmts(&out);
    assert_eq!(st.len(), 3, "{out:?}");
    for (i, r) in st.iter().enumerate() {
        assert_eq!(r.text.as_deref(), Some(sql));
        let names: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, cols, "execution {i}");
        assert!(r.columns.iter().all(|c| c.table_oid == Some(16384)));
        assert_eq!(r.rows, Some(1));
    }
}

#[test]
fn query_cut_by_the_capture_limit_is_reported_truncated() {
    // A 300 KB Query of which the kernel captured the first 64 KiB: the hole falls inside
    // the message, so the statement is still one event (from its head, marked truncated), and
    // the next statement decodes normally. The same holds for a Parse.
    let mut s = PgSession::mid_session(SessionOptions::default());
    let mut out = Vec::new();
    let mut sql = String::from("INSERT INTO notes(body) VALUES ('");
    sql.push_str(&"x".repeat(300_000));
    sql.push_str("')");
    let wire = msg(b'Q', &cstr(&sql));
    let captured = 64 * 1024;
    s.on_data(Flow::ClientToServer, &wire[..captured], 1, &mut out);
    s.on_gap(
        Flow::ClientToServer,
        (wire.len() - captured) as u64,
        2,
        &mut out,
    );
    let mut b = msg(b'C', b"INSERT 0 1\0");
    b.extend(msg(b'Z', b"I"));
    s.on_data(Flow::ServerToClient, &b, 3, &mut out);
    // A Parse cut the same way, then executed.
    let mut big = String::from("SELECT * FROM notes WHERE body IN ('");
    big.push_str(&"y".repeat(100_000));
    big.push_str("')");
    let wire = parse("s1", &big);
    s.on_data(Flow::ClientToServer, &wire[..captured], 4, &mut out);
    s.on_gap(
        Flow::ClientToServer,
        (wire.len() - captured) as u64,
        5,
        &mut out,
    );
    let mut c = bind("", "s1", "1");
    c.extend(execute(""));
    c.extend(msg(b'S', b""));
    s.on_data(Flow::ClientToServer, &c, 6, &mut out);
    s.on_data(Flow::ServerToClient, &answer(true, false, &[]), 7, &mut out);
    s.on_data(
        Flow::ClientToServer,
        &msg(b'Q', &cstr("SELECT 1")),
        8,
        &mut out,
    );
    let mut b = msg(b'C', b"SELECT 1\0");
    b.extend(msg(b'Z', b"I"));
    s.on_data(Flow::ServerToClient, &b, 9, &mut out);
    let st = stmts(&out);
    assert_eq!(st.len(), 3, "{out:?}");
    let head = st[0].text.as_deref().unwrap_or("");
    assert!(
        head.len() > 60_000 && sql.starts_with(head),
        "{}",
        head.len()
    );
    assert!(st[0].truncated);
    assert_eq!(st[0].status, Status::Ok);
    assert_eq!(st[0].rows, Some(1));
    let head = st[1].text.as_deref().unwrap_or("");
    assert!(head.len() > 60_000 && big.starts_with(head));
    assert!(st[1].truncated && st[1].prepared);
    assert_eq!(st[1].rows, Some(1));
    assert_eq!(st[2].text.as_deref(), Some("SELECT 1"));
    assert!(!st[2].truncated);
    let gaps = out
        .iter()
        .filter(|e| {
            matches!(
                e,
                SessionEvent::Gap {
                    reason: GapReason::MissingBytes,
                    ..
                }
            )
        })
        .count();
    assert_eq!(gaps, 2);
}

fn replay_with_gap(fixture: &[u8], k: usize, cut: std::ops::Range<usize>) -> Vec<SessionEvent> {
    let mut s = PgSession::new(SessionOptions::default());
    let mut out = Vec::new();
    for (i, (client, b)) in chunks(fixture).into_iter().enumerate() {
        let flow = if client {
            Flow::ClientToServer
        } else {
            Flow::ServerToClient
        };
        let ts = i as u64 * 1000;
        if i == k {
            s.on_data(flow, &b[..cut.start], ts, &mut out);
            s.on_gap(flow, cut.len() as u64, ts, &mut out);
            s.on_data(flow, &b[cut.end..], ts, &mut out);
        } else {
            s.on_data(flow, &b, ts, &mut out);
        }
    }
    s.on_close(1_000_000, &mut out);
    out
}

/// A hole anywhere, of several lengths, in either direction: never a panic, and never a
/// statement that was not sent. A complete statement is a real one (a statement cut by the
/// hole is its head, marked truncated, with the real outcome).
#[test]
fn gaps_never_produce_garbage() {
    for fixture in [PSQL, PGBENCH] {
        let original = replay(fixture, None);
        let original = stmts(&original);
        let all = chunks(fixture);
        for (k, (_, bytes)) in all.iter().enumerate() {
            let n = bytes.len();
            let mut cuts = vec![0..n, 0..1, n.saturating_sub(1)..n];
            for start in (0..n).step_by(3) {
                for len in [1, 2, 7, 40, n - start] {
                    if start + len <= n {
                        cuts.push(start..start + len);
                    }
                }
            }
            for cut in cuts {
                let events = replay_with_gap(fixture, k, cut.clone());
                assert!(
                    events.iter().any(|e| matches!(e, SessionEvent::Gap { .. })),
                    "chunk {k} cut {cut:?}: no gap event"
                );
                for s in stmts(&events)
                    .into_iter()
                    .filter(|s| s.status != Status::Incomplete)
                {
                    let real = original.iter().find(|o| o.start_ns == s.start_ns);
                    let Some(real) = real else {
                        panic!("chunk {k} cut {cut:?}: invented statement {s:?}");
                    };
                    if s.truncated {
                        let head = s.text.as_deref().unwrap_or("");
                        let full = real.text.as_deref().unwrap_or("");
                        assert!(full.starts_with(head), "chunk {k} cut {cut:?}: {s:?}");
                    } else if s.text.is_some() {
                        assert_eq!(s.text, real.text, "chunk {k} cut {cut:?}");
                    }
                    assert_eq!(s.status, real.status, "chunk {k} cut {cut:?}: {s:?}");
                    assert_eq!(s.rows, real.rows, "chunk {k} cut {cut:?}: {s:?}");
                }
            }
        }
    }
}

/// With `request_events`, every statement is reported when its request is decoded, before
/// its completed record, with the same text; without, never.
#[test]
fn requests_are_reported_before_their_statements_when_asked() {
    for fixture in [PSQL, PGBENCH] {
        let run = |request_events: bool| {
            let mut s = PgSession::new(SessionOptions {
                request_events,
                ..SessionOptions::default()
            });
            let mut out = Vec::new();
            for (client, b) in chunks(fixture) {
                let flow = if client {
                    Flow::ClientToServer
                } else {
                    Flow::ServerToClient
                };
                s.on_data(flow, &b, 0, &mut out);
            }
            out
        };
        let off = run(false);
        assert!(!off.iter().any(|e| matches!(e, SessionEvent::Request(_))));
        let on = run(true);
        let mut pending: Vec<Option<String>> = Vec::new();
        let mut statements = 0;
        for e in &on {
            match e {
                // Parse announces a text that the following Execute runs: keep the
                // execution's.
                SessionEvent::Request(r)
                    if !(r.prepared
                        && r.statement_name.is_some()
                        && pending.last() == Some(&r.text)) =>
                {
                    pending.push(r.text.clone());
                }
                SessionEvent::Statement(st) => {
                    statements += 1;
                    let pos = pending
                        .iter()
                        .position(|t| t.as_deref() == st.text.as_deref());
                    assert!(
                        pos.is_some(),
                        "statement {:?} had no request before it",
                        st.text
                    );
                    if let Some(p) = pos {
                        pending.remove(p);
                    }
                }
                _ => {}
            }
        }
        assert_eq!(statements, stmts(&off).len());
    }
}

#[test]
fn the_unnamed_statement_is_kept_apart_and_named_ones_are_bounded() {
    let mut n: Named<u32> = Named::default();
    n.insert(String::new(), 1);
    n.insert("s1".into(), 2);
    assert_eq!(
        (n.get(""), n.get("s1"), n.get("s2")),
        (Some(&1), Some(&2), None)
    );
    // The unnamed one is replaced, as PostgreSQL replaces it.
    n.insert(String::new(), 3);
    if let Some(v) = n.get_mut("") {
        *v += 1;
    }
    assert_eq!(n.get(""), Some(&4));
    assert_eq!(n.remove(""), Some(4));
    assert_eq!((n.get(""), n.get("s1")), (None, Some(&2)));
    for i in 0..MAX_PREPARED + 5 {
        n.insert(format!("p{i}"), 7);
    }
    // Past the bound, new names are dropped, known ones still redefined, the unnamed one kept.
    assert_eq!(n.named.len(), MAX_PREPARED);
    assert_eq!(n.get(&format!("p{}", MAX_PREPARED + 1)), None);
    n.insert("s1".into(), 9);
    n.insert(String::new(), 5);
    assert_eq!((n.get("s1"), n.get("")), (Some(&9), Some(&5)));
    assert!(same("", "") && same("ab", "ab") && !same("", "a") && !same("ab", "ac"));
}

/// Simple queries of one shape, then another, then the first again: each statement gets the
/// columns of its own RowDescription, the repeated ones shared with the last one made.
#[test]
fn repeated_row_descriptions_share_the_columns_made_once() {
    let mut s = PgSession::mid_session(SessionOptions::default());
    let mut out = Vec::new();
    let shapes: [&[&str]; 4] = [
        &["aid", "abalance"],
        &["aid", "abalance"],
        &["bid"],
        &["aid", "abalance"],
    ];
    for (i, cols) in shapes.iter().enumerate() {
        let q = cstr("SELECT aid, abalance FROM pgbench_accounts");
        s.on_data(
            Flow::ClientToServer,
            &msg(b'Q', &q),
            i as u64 * 10,
            &mut out,
        );
        let mut a = row_description(16384, cols);
        a.extend(msg(b'D', b"\0\x01\0\0\0\x011"));
        a.extend(msg(b'C', b"SELECT 1\0"));
        a.extend(msg(b'Z', b"I"));
        s.on_data(Flow::ServerToClient, &a, i as u64 * 10 + 5, &mut out);
    }
    let st = stmts(&out);
    assert_eq!(st.len(), 4);
    let names =
        |r: &StatementRecord| -> Vec<String> { r.columns.iter().map(|c| c.name.clone()).collect() };
    assert_eq!(names(st[0]), ["aid", "abalance"]);
    assert_eq!(names(st[1]), ["aid", "abalance"]);
    assert_eq!(names(st[2]), ["bid"]);
    assert_eq!(names(st[3]), ["aid", "abalance"]);
    assert!(st
        .iter()
        .all(|r| r.columns.iter().all(|c| c.table_oid == Some(16384))));
    // The second was not decoded again; the fourth follows another shape, so it was.
    assert!(Arc::ptr_eq(&st[0].columns, &st[1].columns));
    assert!(!Arc::ptr_eq(&st[1].columns, &st[3].columns));
}

/// The unnamed portal bound to one statement, to another, to an unknown one and to the first
/// again (it is updated in place, keeping what it shares with the statement): each execution
/// gets the text, name and described columns of the statement bound, never the last one's.
#[test]
fn a_portal_bound_again_takes_each_statement_bound() {
    let mut s = PgSession::mid_session(SessionOptions::default());
    let mut out = Vec::new();
    let mut c = parse("s1", "SELECT a FROM t1 WHERE id = $1");
    c.extend(parse("s2", "SELECT b, c FROM t2 WHERE id = $1"));
    c.extend(msg(b'S', b""));
    s.on_data(Flow::ClientToServer, &c, 1, &mut out);
    let mut a = msg(b'1', b"");
    a.extend(msg(b'1', b""));
    a.extend(msg(b'Z', b"I"));
    s.on_data(Flow::ServerToClient, &a, 2, &mut out);
    // (statement bound, columns its Describe answers; None: not described)
    let runs: [(&str, Option<&[&str]>); 6] = [
        ("s1", Some(&["a"])),
        ("s1", Some(&["a"])),
        ("s2", Some(&["b", "c"])),
        ("s9", None),
        ("s1", None),
        ("s2", None),
    ];
    for (i, (stmt, cols)) in runs.iter().enumerate() {
        let mut c = bind("", stmt, "1");
        if cols.is_some() {
            c.extend(describe_portal(""));
        }
        c.extend(execute(""));
        c.extend(msg(b'S', b""));
        let ts = 10 + i as u64 * 10;
        s.on_data(Flow::ClientToServer, &c, ts, &mut out);
        s.on_data(
            Flow::ServerToClient,
            &answer(false, cols.is_some(), cols.unwrap_or(&[])),
            ts + 5,
            &mut out,
        );
    }
    let st = stmts(&out);
    let got: Vec<(Option<&str>, Option<&str>, Vec<&str>)> = st
        .iter()
        .map(|r| {
            (
                r.text.as_deref(),
                r.statement_name.as_deref(),
                r.columns.iter().map(|c| c.name.as_str()).collect(),
            )
        })
        .collect();
    let s1 = Some("SELECT a FROM t1 WHERE id = $1");
    let s2 = Some("SELECT b, c FROM t2 WHERE id = $1");
    assert_eq!(
        got,
        [
            (s1, Some("s1"), vec!["a"]),
            (s1, Some("s1"), vec!["a"]),
            (s2, Some("s2"), vec!["b", "c"]),
            (None, Some("s9"), vec![]),
            // Kept with each statement from its Describe.
            (s1, Some("s1"), vec!["a"]),
            (s2, Some("s2"), vec!["b", "c"]),
        ]
    );
    // The same statement bound again shares its text and columns, nothing copied.
    assert!(Arc::ptr_eq(&st[0].columns, &st[4].columns));
    assert!(Arc::ptr_eq(
        st[0].text.as_ref().expect("text"),
        st[4].text.as_ref().expect("text")
    ));
}
