//! `--format ocsf`: each event as an OCSF 1.3 Datastore Activity (class_uid 6005, category 6,
//! Application Activity). The mapping is documented field by field in the README (OCSF
//! mapping); what OCSF has no place for goes under `unmapped`. The hash chain seals the OCSF
//! line exactly as written, with `integrity` appended as the last member as in the native
//! format, so `dbgov verify` checks either.
use serde_json::{json, Map, Value};

use super::{Action, Event, Kind, Status};

pub const VERSION: &str = "1.3.0";
pub const CLASS_UID: u64 = 6005;

/// OCSF activity of an event: (activity_id, name).
fn activity(ev: &Event) -> (u64, &'static str) {
    match ev.kind {
        Kind::SessionStart => (3, "Connect"),
        Kind::SessionEnd => (99, "Disconnect"),
        Kind::Gap => (99, "Gap"),
        Kind::Checkpoint => (99, "Checkpoint"),
        Kind::Approval => (99, "Approval"),
        Kind::Statement => {
            let kind = ev
                .statement
                .as_ref()
                .and_then(|s| s.kind.as_deref())
                .unwrap_or("");
            let first = kind.split(' ').next().unwrap_or("");
            match first {
                "SELECT" | "SHOW" | "EXPLAIN" | "DESCRIBE" => (1, "Read"),
                "UPDATE" => (2, "Update"),
                "INSERT" | "REPLACE" | "MERGE" | "COPY" | "LOAD" => (5, "Write"),
                "CREATE" => (6, "Create"),
                "DELETE" | "TRUNCATE" | "DROP" => (7, "Delete"),
                _ => (4, "Query"),
            }
        }
    }
}

/// Splits `ip:port` or `[ip6]:port`.
fn endpoint(addr: Option<&str>) -> Option<Value> {
    let a = addr?;
    if a.starts_with('/') || a.starts_with('@') {
        return Some(json!({"name": a}));
    }
    let (ip, port) = a.rsplit_once(':')?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    Some(json!({"ip": ip, "port": port.parse::<u16>().ok()}))
}

fn epoch_ms(time: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Maps one native event.
pub fn from_event(ev: &Event) -> Value {
    let (activity_id, activity_name) = activity(ev);
    let verdict = ev.policy.as_ref().map(|p| p.verdict);
    let severity_id = match (ev.kind, verdict) {
        (_, Some(Action::Block)) => 4,
        (_, Some(Action::Hold | Action::Alert)) => 3,
        (Kind::Gap | Kind::Approval, _) => 3,
        _ => 1,
    };
    let mut o = Map::new();
    o.insert("class_uid".into(), json!(CLASS_UID));
    o.insert("class_name".into(), json!("Datastore Activity"));
    o.insert("category_uid".into(), json!(6));
    o.insert("category_name".into(), json!("Application Activity"));
    o.insert("activity_id".into(), json!(activity_id));
    o.insert("activity_name".into(), json!(activity_name));
    o.insert("type_uid".into(), json!(CLASS_UID * 100 + activity_id));
    o.insert(
        "type_name".into(),
        json!(format!("Datastore Activity: {activity_name}")),
    );
    o.insert("time".into(), json!(epoch_ms(&ev.time)));
    o.insert("time_dt".into(), json!(ev.time));
    o.insert("severity_id".into(), json!(severity_id));
    o.insert(
        "metadata".into(),
        json!({
            "version": VERSION,
            "uid": ev.event_id,
            "log_name": ev.schema,
            "product": {"name": "dbgov", "vendor_name": "dbgov", "version": env!("CARGO_PKG_VERSION")},
        }),
    );
    o.insert(
        "device".into(),
        json!({"hostname": ev.host.name, "uid": ev.host.id}),
    );
    if let Some(c) = &ev.client {
        let person = c.login_user.as_ref().or(c.user.as_ref());
        let person_uid = c.login_uid.or(c.uid);
        o.insert(
            "actor".into(),
            json!({
                "user": {"name": person, "uid": person_uid.map(|u| u.to_string())},
                "process": {
                    "pid": c.pid,
                    "name": c.comm,
                    "cmd_line": c.cmdline,
                    "file": c.exe.as_ref().map(|e| json!({
                        "path": e,
                        "name": e.rsplit('/').next().unwrap_or(e),
                    })),
                    "user": {"name": c.user, "uid": c.uid.map(|u| u.to_string())},
                    "container": c.container_id.as_ref().map(|id| json!({"uid": id})),
                },
                "session": ev.session.as_ref().map(|s| json!({"uid": s.id})),
                "app_name": ev.db.as_ref().and_then(|d| d.application.clone()),
            }),
        );
        if let Some(e) = endpoint(c.addr.as_deref()) {
            o.insert("src_endpoint".into(), e);
        }
    }
    if let Some(s) = &ev.server {
        let mut e = endpoint(s.addr.as_deref()).unwrap_or_else(|| json!({}));
        if let (Some(m), Some(db)) = (e.as_object_mut(), &ev.db) {
            m.insert("svc_name".into(), json!(db.engine));
        }
        o.insert("dst_endpoint".into(), e);
    }
    if let Some(db) = &ev.db {
        let ty = match db.engine.as_ref() {
            "postgresql" => "PostgreSQL",
            "mysql" => "MySQL",
            other => other,
        };
        o.insert(
            "database".into(),
            json!({"name": db.name, "type": ty, "type_id": 1}),
        );
    }
    let mut type_id = 1;
    if let Some(st) = &ev.statement {
        if let Some(t) = st.tables.first() {
            o.insert("table".into(), json!({"name": t}));
            type_id = 3;
        }
        o.insert(
            "query_info".into(),
            json!({
                "query_string": st.text,
                "uid": st.fingerprint,
                "name": st.name,
            }),
        );
    }
    o.insert("type_id".into(), json!(type_id));
    if let Some(out) = &ev.outcome {
        let (status_id, status) = match out.status {
            Status::Ok => (1, "Success"),
            Status::Error => (2, "Failure"),
            Status::Incomplete => (0, "Unknown"),
        };
        o.insert("status_id".into(), json!(status_id));
        o.insert("status".into(), json!(status));
        o.insert("status_code".into(), json!(out.error_code));
        o.insert("status_detail".into(), json!(out.error_message));
        o.insert(
            "duration".into(),
            json!(out.duration_us.map(|us| us / 1000)),
        );
    }
    if let Some(p) = &ev.policy {
        o.insert(
            "action_id".into(),
            json!(if p.verdict == Action::Block { 2 } else { 1 }),
        );
        o.insert(
            "action".into(),
            json!(if p.verdict == Action::Block {
                "Denied"
            } else {
                "Allowed"
            }),
        );
        if let Some(m) = &p.message {
            o.insert("message".into(), json!(m));
        }
    }
    let mut un = Map::new();
    un.insert("kind".into(), json!(ev.kind));
    un.insert("environment".into(), json!(ev.host.environment));
    for (k, v) in [
        ("session", ev.session.as_ref().map(|s| json!(s))),
        (
            "statement",
            ev.statement.as_ref().map(|s| {
                json!({
                    "kind": s.kind, "prepared": s.prepared, "tables": s.tables,
                    "columns": s.columns, "truncated": s.truncated, "params": s.params,
                    "tags": s.tags, "trace_id": s.trace_id, "span_id": s.span_id,
                })
            }),
        ),
        ("db_user", ev.db.as_ref().map(|d| json!(d.user))),
        (
            "client",
            ev.client
                .as_ref()
                .map(|c| json!({"workload": c.workload, "purpose": c.purpose})),
        ),
        ("rows", ev.outcome.as_ref().map(|o| json!(o.rows))),
        (
            "classification",
            ev.classification.as_ref().map(|c| json!(c)),
        ),
        ("policy", ev.policy.as_ref().map(|p| json!(p))),
        ("gap", ev.gap.as_ref().map(|g| json!(g))),
        ("checkpoint", ev.checkpoint.as_ref().map(|c| json!(c))),
    ] {
        if let Some(v) = v {
            un.insert(k.into(), v);
        }
    }
    o.insert("unmapped".into(), Value::Object(un));
    Value::Object(o)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_maps_to_datastore_activity() {
        let ev: Event = serde_json::from_value(json!({
            "schema": "dbgov.audit/v1", "event_id": "e1", "time": "2026-12-02T10:00:00.5Z",
            "kind": "statement",
            "host": {"name": "h", "id": null, "environment": "prod", "labels": {}},
            "client": {"pid": 7, "exe": "/usr/bin/psql", "comm": "psql", "cmdline": "psql",
                "uid": 1000, "user": "svc", "gid": 1000, "groups": [], "login_uid": 1001,
                "login_user": "alice", "cgroup": null, "container_id": null, "pod_uid": null,
                "unit": null, "ancestors": [], "addr": "127.0.0.1:40000"},
            "server": {"pid": null, "exe": null, "addr": "127.0.0.1:5432"},
            "db": {"engine": "postgresql", "user": "app", "name": "shop", "application": "psql"},
            "session": {"id": "00000000000000ab", "transport": "tcp", "tls": false,
                "inspectable": true, "observed_at": "client", "server_version": null, "backend_id": null},
            "statement": {"text": "SELECT email FROM customers WHERE id = ?", "kind": "SELECT",
                "prepared": false, "name": null, "params": null, "param_values": null,
                "fingerprint": "f1", "tables": ["customers"],
                "columns": {"read": ["customers.email"], "written": []}, "parse_error": null,
                "copy_bytes": null, "truncated": false},
            "outcome": {"status": "ok", "rows": 1, "error_code": null, "error_message": null, "duration_us": 2500},
            "classification": {"classes": ["pii.email"], "level": "confidential"},
            "policy": {"verdict": "alert", "rules": ["r1"], "severity": "medium", "message": "m"}
        }))
        .unwrap();
        let o = from_event(&ev);
        assert_eq!(o["class_uid"], 6005);
        assert_eq!(o["type_uid"], 600501);
        assert_eq!(o["activity_name"], "Read");
        assert_eq!(o["time"], 1_796_205_600_500i64);
        assert_eq!(o["actor"]["user"]["name"], "alice");
        assert_eq!(o["actor"]["process"]["user"]["name"], "svc");
        assert_eq!(o["actor"]["process"]["file"]["name"], "psql");
        assert_eq!(o["src_endpoint"]["port"], 40000);
        assert_eq!(o["dst_endpoint"]["svc_name"], "postgresql");
        assert_eq!(o["database"]["type"], "PostgreSQL");
        assert_eq!(o["table"]["name"], "customers");
        assert_eq!(
            o["query_info"]["query_string"],
            "SELECT email FROM customers WHERE id = ?"
        );
        assert_eq!(o["status_id"], 1);
        assert_eq!(o["severity_id"], 3);
        assert_eq!(o["unmapped"]["classification"]["classes"][0], "pii.email");
    }
}
