//! `dbgov report`: evidence for a compliance review, from a trail. Events are read once, in
//! order, and folded into aggregates (memory grows with the number of identities, tables,
//! sessions and statement shapes, not with the number of events); the trail's chain is
//! checked in the same pass. The aggregates render as one self-contained HTML page, Markdown
//! tables, or JSON for other tools.
//!
//! Stages: [`Builder`] (events in, [`Report`] out) -> [`render`] (HTML, Markdown, JSON).
pub mod controls;
pub mod render;
pub mod whatif;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// Errors building a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("control map {path}: {msg}")]
    ControlMap { path: String, msg: String },
    #[error("{0}")]
    Render(String),
}

/// Longest lists kept in full (the counts stay exact beyond them).
pub const LIST_LIMIT: usize = 500;
/// Statement shapes shown per database.
pub const TOP_PER_DB: usize = 10;

/// The fields of an event a report needs (anything else is skipped while parsing).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Slim<'a> {
    #[serde(borrow)]
    pub time: Cow<'a, str>,
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow)]
    pub source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub host: SlimHost<'a>,
    #[serde(borrow)]
    pub client: SlimClient<'a>,
    #[serde(borrow)]
    pub db: SlimDb<'a>,
    #[serde(borrow)]
    pub session: SlimSession<'a>,
    #[serde(borrow)]
    pub statement: Option<SlimStatement<'a>>,
    #[serde(borrow)]
    pub outcome: Option<SlimOutcome<'a>>,
    #[serde(borrow)]
    pub classification: Option<SlimClassification<'a>>,
    #[serde(borrow)]
    pub policy: Option<SlimPolicy<'a>>,
    #[serde(borrow)]
    pub approval: Option<SlimApproval<'a>>,
    #[serde(borrow)]
    pub gap: Option<SlimGap<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlimHost<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub environment: Option<Cow<'a, str>>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlimClient<'a> {
    #[serde(borrow)]
    pub user: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub login_user: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub exe: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub comm: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub cmdline: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub unit: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub container_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub workload: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub purpose: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub addr: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlimDb<'a> {
    #[serde(borrow)]
    pub engine: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub user: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub application: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlimSession<'a> {
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
    pub tls: bool,
    pub inspectable: Option<bool>,
    pub mid_session: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlimStatement<'a> {
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub fingerprint: Option<Cow<'a, str>>,
    pub tables: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlimOutcome<'a> {
    #[serde(borrow)]
    pub status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub error_code: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlimClassification<'a> {
    pub classes: Vec<String>,
    #[serde(borrow)]
    pub level: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlimPolicy<'a> {
    #[serde(borrow)]
    pub verdict: Option<Cow<'a, str>>,
    pub rules: Vec<String>,
    #[serde(borrow)]
    pub severity: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlimApproval<'a> {
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub by: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SlimGap<'a> {
    #[serde(borrow)]
    pub reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub detail: Option<Cow<'a, str>>,
    pub bytes: u64,
    pub events: u64,
}

/// Who ran a statement, as a reviewer reads it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Identity {
    /// The person logged in (the audit login user); `None` for a service.
    pub login_user: Option<String>,
    /// The OS user the client ran as.
    pub user: Option<String>,
    /// The workload (unit, container, executable).
    pub workload: Option<String>,
    /// The container, when in one.
    pub container: Option<String>,
    /// The database user.
    pub db_user: Option<String>,
    /// A person (a login user is known) or a service account.
    pub person: bool,
}

impl Identity {
    fn of(e: &Slim<'_>) -> Self {
        let s = |c: &Option<Cow<'_, str>>| c.as_deref().map(str::to_owned);
        let login = s(&e.client.login_user);
        Self {
            person: login.is_some(),
            login_user: login,
            user: s(&e.client.user),
            workload: s(&e.client.workload).or_else(|| s(&e.client.exe)),
            container: e
                .client
                .container_id
                .as_deref()
                .map(|c| c.chars().take(12).collect()),
            db_user: s(&e.db.user),
        }
    }

    /// `alice→postgres (psql)`, `app (orders.service)`.
    pub fn label(&self) -> String {
        let who = match (&self.login_user, &self.user) {
            (Some(l), Some(u)) if l != u => format!("{l}→{u}"),
            (Some(l), _) => l.clone(),
            (None, Some(u)) => u.clone(),
            (None, None) => self
                .db_user
                .clone()
                .map_or_else(|| "unknown".to_owned(), |d| format!("db:{d}")),
        };
        match &self.workload {
            Some(w) => format!("{who} ({})", w.rsplit('/').next().unwrap_or(w)),
            None => who,
        }
    }
}

/// Section 1.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Scope {
    pub from: Option<String>,
    pub to: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub hosts: BTreeSet<String>,
    /// `engine/name`.
    pub databases: BTreeSet<String>,
    pub events: u64,
    pub by_kind: BTreeMap<String, u64>,
    /// Events outside --since/--until (read for the chain, not counted in sections).
    pub outside_range: u64,
    /// Lines that are not events of this schema (the chain check says more).
    pub unreadable: u64,
}

/// Section 1: the `dbgov verify` result over the whole input.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IntegrityResult {
    /// `intact`, or the fault (`modified`, `deleted`, ...).
    pub status: String,
    /// Where the first fault is, in words.
    pub first_fault: Option<String>,
    pub streams: u64,
    pub checkpoints: u64,
    pub signatures_checked: bool,
    pub unsigned_tail: u64,
    pub duplicates: u64,
}

/// Section 2.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Coverage {
    pub sessions: u64,
    /// Sessions with at least one gap on them.
    pub sessions_with_gaps: u64,
    /// TLS or compressed sessions the agent could not read.
    pub not_inspectable: u64,
    /// Sessions joined mid-stream (their start was not seen).
    pub mid_session: u64,
    /// Sessions fully parsed, in percent of all sessions.
    pub fully_parsed_percent: f64,
    pub gaps_by_reason: BTreeMap<String, GapTotal>,
    /// The gap events, up to [`LIST_LIMIT`].
    pub gaps: Vec<GapRow>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct GapTotal {
    pub events: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct GapRow {
    pub time: String,
    pub host: String,
    pub reason: String,
    pub bytes: u64,
    pub detail: Option<String>,
}

/// Section 3: one row per data class, level and identity.
#[derive(Clone, Debug, Serialize)]
pub struct AccessRow {
    pub class: String,
    pub level: String,
    pub identity: Identity,
    pub label: String,
    pub reads: u64,
    pub writes: u64,
    pub tables: BTreeSet<String>,
}

/// Section 4 and 5: one statement, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub time: String,
    pub host: String,
    pub database: String,
    pub identity: String,
    pub verdict: String,
    pub rules: Vec<String>,
    pub statement: String,
    pub outcome: String,
    /// Holds: the approval's status and approver.
    pub approval: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Enforcement {
    pub blocked: u64,
    pub held: u64,
    pub alerts: u64,
    pub masked: u64,
    /// Holds by their end: approved, denied, timed_out.
    pub hold_outcomes: BTreeMap<String, u64>,
    pub entries: Vec<Entry>,
}

/// Section 6: per database and hour.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Hourly {
    pub statements: u64,
    pub errors: u64,
}

/// Section 7.
#[derive(Clone, Debug, Serialize)]
pub struct TopStatement {
    pub fingerprint: String,
    pub count: u64,
    pub text: String,
    pub classes: BTreeSet<String>,
}

/// Everything a report shows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub input: String,
    pub generated_at: String,
    pub scope: Scope,
    pub integrity: IntegrityResult,
    pub coverage: Coverage,
    pub statements: u64,
    pub sensitive: Vec<AccessRow>,
    pub enforcement: Enforcement,
    pub schema_changes: Vec<Entry>,
    pub schema_change_count: u64,
    /// database -> hour (`2026-12-03T11`) -> counts.
    pub activity: BTreeMap<String, BTreeMap<String, Hourly>>,
    /// database -> the most frequent statement shapes.
    pub top_statements: BTreeMap<String, Vec<TopStatement>>,
    pub what_if: Option<whatif::WhatIfSection>,
    pub controls: Vec<controls::ControlRow>,
}

#[derive(Default)]
struct SessionSeen {
    gaps: bool,
    not_inspectable: bool,
    mid_session: bool,
}

/// Reads, writes and tables of one (class, level, identity).
#[derive(Default)]
struct Access {
    reads: u64,
    writes: u64,
    tables: BTreeSet<String>,
}

#[derive(Default)]
struct Shape {
    count: u64,
    text: String,
    classes: BTreeSet<String>,
}

/// Folds events into a [`Report`].
pub struct Builder {
    since: Option<String>,
    until: Option<String>,
    r: Report,
    sessions: HashMap<(String, String), SessionSeen>,
    access: HashMap<(String, String, Identity), Access>,
    shapes: HashMap<String, HashMap<String, Shape>>,
    held_ids: HashSet<String>,
    what_if: Option<whatif::WhatIf>,
}

/// Statement kinds that change a schema.
fn is_ddl(kind: &str) -> bool {
    [
        "CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME", "COMMENT", "GRANT", "REVOKE",
    ]
    .iter()
    .any(|k| kind.starts_with(k))
}

/// Statement kinds that write.
fn is_write(kind: &str) -> bool {
    [
        "INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "COPY", "LOAD", "UPSERT",
    ]
    .iter()
    .any(|k| kind.starts_with(k))
}

impl Builder {
    /// `since`/`until`: RFC 3339 UTC bounds (`None`: open).
    pub fn new(input: &str, since: Option<String>, until: Option<String>) -> Self {
        Self {
            r: Report {
                input: input.to_owned(),
                generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                scope: Scope {
                    since: since.clone(),
                    until: until.clone(),
                    ..Default::default()
                },
                ..Default::default()
            },
            since,
            until,
            sessions: HashMap::new(),
            access: HashMap::new(),
            shapes: HashMap::new(),
            held_ids: HashSet::new(),
            what_if: None,
        }
    }

    /// Also re-judge every statement with candidate policies.
    pub fn with_what_if(mut self, w: whatif::WhatIf) -> Self {
        self.what_if = Some(w);
        self
    }

    /// One line of the trail (a JSON event). Lines that are not events are skipped (the
    /// chain check reports them).
    pub fn push_line(&mut self, line: &str) {
        let Ok(e) = serde_json::from_str::<Slim<'_>>(line) else {
            if !line.trim().is_empty() {
                self.r.scope.unreadable += 1;
            }
            return;
        };
        self.push(&e);
    }

    pub fn push(&mut self, e: &Slim<'_>) {
        let t = e.time.as_ref();
        if self.since.as_deref().is_some_and(|s| t < s)
            || self.until.as_deref().is_some_and(|u| t >= u)
        {
            self.r.scope.outside_range += 1;
            return;
        }
        let sc = &mut self.r.scope;
        sc.events += 1;
        *sc.by_kind.entry(e.kind.to_string()).or_default() += 1;
        if sc.from.as_deref().is_none_or(|f| t < f) {
            sc.from = Some(t.to_owned());
        }
        if sc.to.as_deref().is_none_or(|x| t > x) {
            sc.to = Some(t.to_owned());
        }
        if !e.host.name.is_empty() && !sc.hosts.contains(e.host.name.as_ref()) {
            sc.hosts.insert(e.host.name.to_string());
        }
        let database = match (&e.db.engine, &e.db.name) {
            (Some(en), Some(n)) => Some(format!("{en}/{n}")),
            (Some(en), None) => Some(format!("{en}/-")),
            _ => None,
        };
        if let Some(d) = &database {
            if !sc.databases.contains(d) {
                sc.databases.insert(d.clone());
            }
        }
        let host = e.host.name.to_string();
        let session = e
            .session
            .id
            .as_deref()
            .map(|id| (host.clone(), id.to_owned()));
        match e.kind.as_ref() {
            "session_start" => {
                if let Some(k) = session {
                    let s = self.sessions.entry(k).or_default();
                    s.not_inspectable |= e.session.inspectable == Some(false);
                    s.mid_session |= e.session.mid_session;
                }
            }
            "gap" => self.gap(e, session),
            "statement" => self.statement(e, session, database.unwrap_or_else(|| "-".into())),
            "approval" => {
                if let (Some(a), Some(id)) = (
                    &e.approval,
                    e.approval.as_ref().and_then(|a| a.id.as_deref()),
                ) {
                    if let Some(st) = a.status.as_deref().filter(|s| *s != "requested") {
                        if self.held_ids.insert(id.to_owned()) {
                            *self
                                .r
                                .enforcement
                                .hold_outcomes
                                .entry(st.to_owned())
                                .or_default() += 1;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn gap(&mut self, e: &Slim<'_>, session: Option<(String, String)>) {
        let Some(g) = &e.gap else { return };
        let reason = g.reason.as_deref().unwrap_or("unknown").to_owned();
        let tot = self
            .r
            .coverage
            .gaps_by_reason
            .entry(reason.clone())
            .or_default();
        tot.events += g.events.max(1);
        tot.bytes += g.bytes;
        if self.r.coverage.gaps.len() < LIST_LIMIT {
            self.r.coverage.gaps.push(GapRow {
                time: e.time.to_string(),
                host: e.host.name.to_string(),
                reason,
                bytes: g.bytes,
                detail: g.detail.as_deref().map(str::to_owned),
            });
        }
        if let Some(k) = session {
            self.sessions.entry(k).or_default().gaps = true;
        }
    }

    fn statement(&mut self, e: &Slim<'_>, session: Option<(String, String)>, database: String) {
        self.r.statements += 1;
        if let Some(k) = session {
            self.sessions.entry(k).or_default();
        }
        let empty = SlimStatement::default();
        let st = e.statement.as_ref().unwrap_or(&empty);
        let kind = st.kind.as_deref().unwrap_or("");
        let text = st.text.as_deref().unwrap_or("(not captured)");
        let verdict = e
            .policy
            .as_ref()
            .and_then(|p| p.verdict.as_deref())
            .unwrap_or("allow");
        let rules = e
            .policy
            .as_ref()
            .map(|p| p.rules.clone())
            .unwrap_or_default();
        let identity = Identity::of(e);
        let error = e
            .outcome
            .as_ref()
            .is_some_and(|o| o.status.as_deref() == Some("error"));
        let outcome = match &e.outcome {
            Some(o) => match (o.status.as_deref(), o.error_code.as_deref()) {
                (Some("error"), Some(c)) => format!("error {c}"),
                (Some(s), _) => s.to_owned(),
                (None, _) => "-".to_owned(),
            },
            None => "-".to_owned(),
        };
        // 3: sensitive data access.
        if let Some(c) = &e.classification {
            let level = c.level.as_deref().unwrap_or("-").to_owned();
            for class in &c.classes {
                let a = self
                    .access
                    .entry((class.clone(), level.clone(), identity.clone()))
                    .or_default();
                if is_write(kind) {
                    a.writes += 1;
                } else {
                    a.reads += 1;
                }
                for t in &st.tables {
                    if !a.tables.contains(t) && a.tables.len() < 50 {
                        a.tables.insert(t.clone());
                    }
                }
            }
        }
        let entry = |approval: Option<String>| Entry {
            time: e.time.to_string(),
            host: e.host.name.to_string(),
            database: database.clone(),
            identity: identity.label(),
            verdict: verdict.to_owned(),
            rules: rules.clone(),
            statement: text.chars().take(300).collect(),
            outcome: outcome.clone(),
            approval,
        };
        // 4: enforcement.
        let enf = &mut self.r.enforcement;
        match verdict {
            "block" => enf.blocked += 1,
            "hold" => enf.held += 1,
            "alert" => enf.alerts += 1,
            "mask" => enf.masked += 1,
            _ => {}
        }
        if matches!(verdict, "block" | "hold" | "alert") && enf.entries.len() < LIST_LIMIT {
            let approval = e.approval.as_ref().map(|a| {
                format!(
                    "{}{}",
                    a.status.as_deref().unwrap_or("-"),
                    a.by.as_deref()
                        .map(|b| format!(" by {b}"))
                        .unwrap_or_default()
                )
            });
            enf.entries.push(entry(approval));
        }
        // 5: schema changes.
        if is_ddl(kind) {
            self.r.schema_change_count += 1;
            if self.r.schema_changes.len() < LIST_LIMIT {
                self.r.schema_changes.push(entry(None));
            }
        }
        // 6: activity.
        let hour: String = e.time.chars().take(13).collect();
        let h = self
            .r
            .activity
            .entry(database.clone())
            .or_default()
            .entry(hour)
            .or_default();
        h.statements += 1;
        if error {
            h.errors += 1;
        }
        // 7: statement shapes.
        let fp = st.fingerprint.as_deref().unwrap_or(text);
        let shapes = self.shapes.entry(database).or_default();
        // Bounded: past 100k shapes per database, new ones are not tracked.
        if shapes.len() < 100_000 || shapes.contains_key(fp) {
            let s = shapes.entry(fp.to_owned()).or_default();
            s.count += 1;
            if s.text.is_empty() {
                s.text = text.chars().take(200).collect();
            }
            if let Some(c) = &e.classification {
                s.classes.extend(c.classes.iter().cloned());
            }
        }
        if let Some(w) = self.what_if.as_mut() {
            w.push(e, verdict, &rules);
        }
    }

    /// The report; `integrity` from the chain check of the same input.
    pub fn finish(mut self, integrity: IntegrityResult, controls: &controls::ControlMap) -> Report {
        let cov = &mut self.r.coverage;
        cov.sessions = self.sessions.len() as u64;
        for s in self.sessions.values() {
            cov.sessions_with_gaps += u64::from(s.gaps);
            cov.not_inspectable += u64::from(s.not_inspectable);
            cov.mid_session += u64::from(s.mid_session);
        }
        let full = self
            .sessions
            .values()
            .filter(|s| !s.gaps && !s.not_inspectable)
            .count();
        cov.fully_parsed_percent = if cov.sessions == 0 {
            100.0
        } else {
            (full as f64 * 1000.0 / cov.sessions as f64).round() / 10.0
        };
        let mut rows: Vec<AccessRow> = self
            .access
            .into_iter()
            .map(|((class, level, identity), a)| AccessRow {
                label: identity.label(),
                class,
                level,
                identity,
                reads: a.reads,
                writes: a.writes,
                tables: a.tables,
            })
            .collect();
        rows.sort_by(|a, b| {
            (
                &a.class,
                !a.identity.person,
                std::cmp::Reverse(a.reads + a.writes),
                &a.label,
            )
                .cmp(&(
                    &b.class,
                    !b.identity.person,
                    std::cmp::Reverse(b.reads + b.writes),
                    &b.label,
                ))
        });
        self.r.sensitive = rows;
        for (db, shapes) in self.shapes {
            let mut v: Vec<TopStatement> = shapes
                .into_iter()
                .map(|(fingerprint, s)| TopStatement {
                    fingerprint,
                    count: s.count,
                    text: s.text,
                    classes: s.classes,
                })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(&b.text)));
            v.truncate(TOP_PER_DB);
            self.r.top_statements.insert(db, v);
        }
        self.r.integrity = integrity;
        self.r.what_if = self.what_if.map(whatif::WhatIf::finish);
        self.r.controls = controls.rows(&self.r);
        self.r
    }
}
