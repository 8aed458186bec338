//! Criterion benchmark of the hash chain's cost per event: serialising a typical statement
//! event (about 1.7 KB of JSON, the shape `dbgov run` writes) into a reused buffer, against the
//! audit `Encoder`, which serialises the same event and seals it (SHA-256 over the previous
//! hash and the exact line, then the `integrity` member). The difference is what the chain
//! costs. Then the same event as the agent writes a statement: the hand-written writer with the
//! connection's context as cached fragments, alone and sealed; sealed, the context is hashed
//! once per connection (`integrity.context_hash`), so a further statement of the connection
//! hashes only the rest of its line; `_whole` seals the same bytes with SHA-256 over the whole
//! line, as the chain did before. `cargo bench -p dbgov --bench seal`.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dbgov::audit::{
    ClassificationRef, ColumnsRef, Encoder, Event, PolicyRef, StatementEvent, StatementRef,
    WriteJson,
};
use serde_json::value::{to_raw_value, RawValue};

/// A statement event sealed whole, as before `context_hash` (SHA-256 over the whole line).
struct Whole<'a>(&'a StatementEvent<'a>);

impl WriteJson for Whole<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        self.0.write_json(out)
    }
}

fn raw<T: serde::Serialize>(v: &T) -> Box<RawValue> {
    match to_raw_value(v) {
        Ok(r) => r,
        Err(e) => panic!("the sample event does not serialise: {e}"),
    }
}

const EVENT: &str = r#"{"schema":"dbgov.audit/v1","event_id":"5b0c6f7e-1d2a-4c3b-0000-00000000002a","time":"2026-12-02T10:00:00.123456789Z","kind":"statement","host":{"name":"db1","id":"3d1219c7c4c5404aaa1f6d2a48adfda4","environment":"prod","labels":{"team":"payments"}},"client":{"pid":4242,"exe":"/usr/lib/postgresql/15/bin/psql","comm":"psql","cmdline":"psql -h 127.0.0.1 -d shop","uid":1001,"user":"dbgov_svc","gid":1001,"groups":["dbgov_svc"],"login_uid":1000,"login_user":"dbgov_alice","cgroup":"/user.slice/user-1000.slice/session-3.scope","container_id":null,"pod_uid":null,"unit":"session-3.scope","ancestors":[{"pid":4200,"comm":"bash","user":"dbgov_svc"},{"pid":4100,"comm":"su","user":"root"},{"pid":4000,"comm":"bash","user":"dbgov_alice"},{"pid":3900,"comm":"sshd","user":"dbgov_alice"}],"addr":"127.0.0.1:53124"},"server":{"pid":4243,"exe":"/usr/lib/postgresql/15/bin/postgres","addr":"127.0.0.1:5432"},"db":{"engine":"postgresql","user":"app","name":"shop","application":"psql"},"session":{"id":"0002fa405c63a700","transport":"tcp","tls":false,"inspectable":true,"observed_at":"client","server_version":"15.18 (Debian 15.18-0+deb12u1)","backend_id":4243},"statement":{"text":"SELECT id, email, phone FROM customers WHERE email = ?","kind":"SELECT","prepared":false,"name":null,"params":null,"param_values":null,"fingerprint":"28f1b5839bd5f723","tables":["customers"],"columns":{"read":["customers.id","customers.email","customers.phone"],"written":[]},"parse_error":null,"copy_bytes":null,"truncated":false},"outcome":{"status":"ok","rows":1,"error_code":null,"error_message":null,"duration_us":412},"classification":{"classes":["pii.email","pii.phone"],"level":"confidential"},"policy":{"verdict":"alert","rules":["alert-person-restricted-access"],"severity":"medium","message":"A person accessed restricted data."}}"#;

fn seal(c: &mut Criterion) {
    let ev: Event = match serde_json::from_str(EVENT) {
        Ok(e) => e,
        Err(e) => panic!("the sample event does not read back: {e}"),
    };
    let mut group = c.benchmark_group("seal");
    group.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(4096);
    group.bench_function("serialise", |b| {
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, black_box(&ev)).ok();
            black_box(buf.len())
        })
    });
    let mut enc = Encoder::new("0123456789abcdef".into());
    group.bench_function("serialise_and_chain", |b| {
        b.iter(|| black_box(enc.encode(black_box(&ev)).map(<[u8]>::len).unwrap_or(0)))
    });
    let (Some(st), Some(cl), Some(po)) = (&ev.statement, &ev.classification, &ev.policy) else {
        panic!("the sample event is not a statement event");
    };
    let (host, client, server, db, session) = (
        raw(&ev.host),
        raw(&ev.client),
        raw(&ev.server),
        raw(&ev.db),
        raw(&ev.session),
    );
    let sev = StatementEvent {
        schema: dbgov::audit::SCHEMA,
        event_id: &ev.event_id,
        time: &ev.time,
        kind: ev.kind,
        source: None,
        host: &host,
        client: &client,
        server: &server,
        db: &db,
        session: &session,
        statement: StatementRef {
            text: st.text.as_deref(),
            kind: st.kind.as_deref(),
            prepared: st.prepared,
            name: st.name.as_deref(),
            params: st.params,
            param_values: st.param_values.as_deref(),
            fingerprint: st.fingerprint.as_deref(),
            tables: &st.tables,
            columns: ColumnsRef {
                read: std::borrow::Cow::Borrowed(&st.columns.read),
                written: &st.columns.written,
            },
            parse_error: st.parse_error.as_deref(),
            copy_bytes: st.copy_bytes,
            truncated: st.truncated,
            tags: &st.tags,
            trace_id: st.trace_id.as_deref(),
            span_id: st.span_id.as_deref(),
            rendered: None,
            whole: None,
        },
        outcome: ev.outcome.clone(),
        classification: ClassificationRef {
            classes: &cl.classes,
            level: cl.level,
        },
        policy: PolicyRef {
            verdict: po.verdict,
            rules: &po.rules,
            severity: po.severity.as_deref(),
            message: po.message.as_deref(),
        },
        approval: None,
        // As the pipeline does: computed once per connection.
        context_hash: Some(dbgov::audit::context_hash_of([
            &host, &client, &server, &db, &session,
        ])),
    };
    group.bench_function("statement_write", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&sev).write_json(&mut buf).ok();
            black_box(buf.len())
        })
    });
    let mut enc = Encoder::new("0123456789abcdef".into());
    group.bench_function("statement_write_and_chain_whole", |b| {
        b.iter(|| {
            buf.clear();
            enc.encode_json_into(&Whole(black_box(&sev)), &mut buf).ok();
            black_box(buf.len())
        })
    });
    let mut enc = Encoder::new("0123456789abcdef".into());
    group.bench_function("statement_write_and_chain", |b| {
        b.iter(|| {
            buf.clear();
            enc.encode_json_into(black_box(&sev), &mut buf).ok();
            black_box(buf.len())
        })
    });
    group.finish();
}

criterion_group!(benches, seal);
criterion_main!(benches);
