//! Criterion benchmark of the hash chain's cost per event: serialising a typical statement
//! event (about 1.7 KB of JSON, the shape `dbgov run` writes) into a reused buffer, against the
//! audit `Encoder`, which serialises the same event and seals it (SHA-256 over the previous
//! hash and the exact line, then the `integrity` member). The difference is what the chain
//! costs. `cargo bench -p dbgov --bench seal`.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dbgov::audit::{Encoder, Event};

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
    group.finish();
}

criterion_group!(benches, seal);
criterion_main!(benches);
