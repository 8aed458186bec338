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
                s.text.clone().unwrap_or_default(),
                s.tag.clone(),
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
