//! The one decision per request: SQL analysis (kind, tables, columns, redacted text), the
//! resolution of `*` and unqualified columns from the wire's result metadata, classification
//! of the columns into data classes, and the policy verdict. The agent's pipeline,
//! `dbgov policy test` and `dbgov replay` all call [`Judge::judge`], so a statement gets the
//! same verdict wherever it is judged (and the proxy will call it too).
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::audit::Host;
use crate::identity::ProcessInfo;
use crate::policy::{Action, EvalContext, KeyNumbers, Policy, Verdict, VerdictCache};
use crate::session::ResultColumn;
use crate::sql::{Analysis, Analyzed, Analyzer, AnalyzerConfig, Dialect};

/// Database engine of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgresql",
            Engine::Mysql => "mysql",
        }
    }

    fn dialect(self) -> Dialect {
        match self {
            Engine::Postgres => Dialect::Postgres,
            Engine::Mysql => Dialect::MySql,
        }
    }

    /// Parses `postgresql`/`postgres` or `mysql`/`mariadb`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "postgresql" | "postgres" | "pg" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::Mysql),
            _ => None,
        }
    }
}

/// Upper bound on remembered PostgreSQL table OIDs (over all databases).
const MAX_OIDS: usize = 100_000;

/// One request to judge: the statement and everything known about who sent it.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub engine: Engine,
    /// Database of the session.
    pub db_name: Option<&'a str>,
    /// Database user of the session.
    pub db_user: Option<&'a str>,
    /// `application_name` (PostgreSQL) or `program_name` (MySQL) of the session.
    pub db_application: Option<&'a str>,
    /// The statement text as sent (`None` when the wire did not carry it, e.g. the execution
    /// of a statement prepared before the agent started).
    pub text: Option<&'a str>,
    /// The server's command tag (`SELECT`, `INSERT`, ...), used for the kind when the text is
    /// missing or does not parse.
    pub tag: Option<&'a str>,
    /// Result metadata from the wire (RowDescription, MySQL column definitions).
    pub columns: &'a [ResultColumn],
    /// The client process (shared: the judge numbers each one's identity once).
    pub process: Option<&'a Arc<ProcessInfo>>,
    /// The host (environment and labels take part in rules).
    pub host: &'a Host,
    /// Tags known besides the statement's own sqlcommenter comment (`dbgov policy test
    /// --tag`); the comment's win. Usually empty.
    pub tags: &'a BTreeMap<String, String>,
}

/// No extra tags.
pub static NO_TAGS: BTreeMap<String, String> = BTreeMap::new();

/// The decision about one request.
#[derive(Debug)]
pub struct Judgement {
    /// The analysis and the redacted text (`None` without text).
    pub analyzed: Option<Analyzed>,
    /// The statement kind (from the analysis, else the server's tag): see [`Judgement::kind`].
    kind: KindFrom,
    /// Columns read, with `*` and unqualified columns resolved from the result metadata;
    /// `None` when nothing needed resolving (then it is the analysis's `columns_read`).
    resolved_read: Option<Vec<String>>,
    /// Classes, level, purpose and the policy verdict (shared with the verdict cache).
    pub verdict: Arc<Verdict>,
    /// `statement.tags`: the allowed sqlcommenter tags.
    pub tags: BTreeMap<String, String>,
    /// From the `traceparent` tag: `statement.trace_id` and `statement.span_id`.
    pub trace: Option<(String, String)>,
}

/// Where a [`Judgement`]'s statement kind is: the analysis's own (not copied), or the
/// server's tag.
#[derive(Debug)]
enum KindFrom {
    Analysis,
    Tag(String),
    Unknown,
}

const EMPTY: &[String] = &[];

impl Judgement {
    /// The statement kind (from the analysis, else the server's tag).
    pub fn kind(&self) -> Option<&str> {
        match &self.kind {
            KindFrom::Analysis => self.analysis().map(|a| a.kind.as_str()),
            KindFrom::Tag(t) => Some(t),
            KindFrom::Unknown => None,
        }
    }

    pub fn analysis(&self) -> Option<&Analysis> {
        self.analyzed.as_ref().map(|a| &*a.analysis)
    }

    pub fn tables(&self) -> &[String] {
        self.analysis()
            .map(|a| a.tables.as_slice())
            .unwrap_or(EMPTY)
    }

    pub fn read(&self) -> &[String] {
        match &self.resolved_read {
            Some(r) => r,
            None => self
                .analysis()
                .map(|a| a.columns_read.as_slice())
                .unwrap_or(EMPTY),
        }
    }

    pub fn written(&self) -> &[String] {
        self.analysis()
            .map(|a| a.columns_written.as_slice())
            .unwrap_or(EMPTY)
    }

    /// The redacted statement text.
    pub fn text(&self) -> Option<&str> {
        self.analyzed.as_ref().map(|a| a.text.as_str())
    }

    /// The event's `statement` part for `rec`, borrowing this judgement and the record.
    pub fn statement_ref<'a>(
        &'a self,
        rec: &'a crate::session::StatementRecord,
    ) -> crate::audit::StatementRef<'a> {
        let a = self.analysis();
        // The columns read are the analysis's unless resolved through table OIDs. Only an
        // analysis the analyzer's cache shares is rendered for reuse: one made for a single
        // statement (`keep_literals`) is written directly.
        let shared = self
            .analyzed
            .as_ref()
            .is_some_and(|x| std::sync::Arc::strong_count(&x.analysis) > 1);
        let reused = a.filter(|_| shared && self.resolved_read.is_none());
        let rendered = reused.map(|a| {
            a.rendered
                .get_or_init(|| crate::audit::json::Rendered::of(a))
        });
        let text = self.text();
        crate::audit::StatementRef {
            text,
            kind: self.kind(),
            prepared: rec.prepared,
            name: rec.statement_name.as_deref(),
            params: rec.params,
            param_values: rec.param_values.as_deref(),
            fingerprint: a.map(|a| a.fingerprint.as_str()),
            tables: self.tables(),
            columns: crate::audit::ColumnsRef {
                read: std::borrow::Cow::Borrowed(self.read()),
                written: self.written(),
            },
            parse_error: a.and_then(|a| a.parse_error.as_deref()),
            copy_bytes: rec.copy_bytes,
            truncated: rec.truncated,
            tags: &self.tags,
            trace_id: self.trace.as_ref().map(|t| t.0.as_str()),
            span_id: self.trace.as_ref().map(|t| t.1.as_str()),
            rendered,
            whole: reused.map(|a| &a.whole),
        }
    }

    /// The event's `classification` part.
    pub fn classification_ref(&self) -> crate::audit::ClassificationRef<'_> {
        crate::audit::ClassificationRef {
            classes: &self.verdict.classes,
            level: self.verdict.level,
        }
    }

    /// The event's `policy` part.
    pub fn policy_ref(&self) -> crate::audit::PolicyRef<'_> {
        crate::audit::PolicyRef {
            verdict: self.verdict.action,
            rules: &self.verdict.rules,
            severity: self.verdict.severity.as_deref(),
            message: self.verdict.message.as_deref(),
        }
    }
}

/// The judge: analyzer (with its cache), policies, and what it learned about PostgreSQL table
/// OIDs per database.
pub struct Judge {
    analyzer: Analyzer,
    /// Shared: compiled once and read by every judge given it (its matchers' lazily built
    /// states are kept by the policy, not by the judge).
    policy: Arc<Policy>,
    /// PostgreSQL (database, table OID) -> table name, learned from single-table statements.
    /// OIDs are per database: two databases' tables may share one.
    oid_names: foldhash::HashMap<String, foldhash::HashMap<u32, String>>,
    oid_count: usize,
    /// sqlcommenter keys kept in `statement.tags`.
    tag_keys: Vec<String>,
    /// Verdicts of the current policies by statement shape and identity.
    verdicts: VerdictCache,
    /// The client identities' numbers in the verdicts' keys.
    identities: Identities,
    /// The statement shapes' numbers in the verdicts' keys.
    shapes: Shapes,
    /// What was judged, for metrics.
    counts: JudgeCounts,
}

/// Numbers for client identities ([`Policy::evaluate_cached_as`]): one number for each value
/// of the client fields (compared byte for byte, as [`crate::policy::client_key`] writes
/// them), found once per process. A process's identity is immutable behind its `Arc`, which
/// is held here while its number is remembered, so its address cannot be reused meanwhile.
#[derive(Default)]
struct Identities {
    by_key: foldhash::HashMap<Box<[u8]>, u64>,
    by_process: foldhash::HashMap<usize, (Arc<ProcessInfo>, u64)>,
    /// The next number (never reused, so a verdict cached for a forgotten number cannot be
    /// found again by another identity).
    next: u64,
    buf: Vec<u8>,
}

/// Numbers for statement shapes ([`KeyNumbers::statement`]): one for each analysis the
/// analyzer's cache shares, which stands for its kind, tables, columns and `WHERE`. An
/// analysis is immutable behind its `Arc`, which is held here while its number is remembered,
/// so its address cannot be reused meanwhile; numbers are never reused.
#[derive(Default)]
struct Shapes {
    by_analysis: foldhash::HashMap<usize, (Arc<Analysis>, u64)>,
    next: u64,
}

impl Shapes {
    fn number(&mut self, analysis: &Arc<Analysis>) -> u64 {
        let addr = Arc::as_ptr(analysis) as usize;
        if let Some((_, n)) = self.by_analysis.get(&addr) {
            return *n;
        }
        if self.by_analysis.len() >= MAX_IDENTITIES {
            self.by_analysis.clear();
        }
        let n = self.next;
        self.next += 1;
        self.by_analysis.insert(addr, (Arc::clone(analysis), n));
        n
    }
}

/// Identities (and processes) remembered before the table starts over.
const MAX_IDENTITIES: usize = 4096;

impl Identities {
    /// The number of `process`'s identity; `ctx` holds its client fields.
    fn number(&mut self, process: &Arc<ProcessInfo>, ctx: &EvalContext) -> u64 {
        let addr = Arc::as_ptr(process) as usize;
        if let Some((_, n)) = self.by_process.get(&addr) {
            return *n;
        }
        self.buf.clear();
        crate::policy::client_key(&mut self.buf, ctx);
        let n = match self.by_key.get(&self.buf[..]) {
            Some(n) => *n,
            None => {
                if self.by_key.len() >= MAX_IDENTITIES {
                    self.by_key.clear();
                }
                let n = self.next;
                self.next += 1;
                self.by_key.insert(self.buf[..].into(), n);
                n
            }
        };
        if self.by_process.len() >= MAX_IDENTITIES {
            self.by_process.clear();
        }
        self.by_process.insert(addr, (Arc::clone(process), n));
        n
    }
}

/// Running totals of a judge (for metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JudgeCounts {
    /// By verdict: allow, alert, mask, hold, block.
    pub verdicts: [u64; 5],
    /// Texts that did not parse, by engine: PostgreSQL, MySQL.
    pub parse_errors: [u64; 2],
}

impl JudgeCounts {
    /// The verdict names, in the order of `verdicts`.
    pub const VERDICTS: [&'static str; 5] = ["allow", "alert", "mask", "hold", "block"];
    /// The engine names, in the order of `parse_errors`.
    pub const ENGINES: [&'static str; 2] = ["postgresql", "mysql"];
}

impl Judge {
    pub fn new(policy: impl Into<Arc<Policy>>, analyzer: AnalyzerConfig) -> Self {
        Self {
            analyzer: Analyzer::new(analyzer),
            policy: policy.into(),
            oid_names: Default::default(),
            oid_count: 0,
            verdicts: VerdictCache::new(),
            identities: Identities::default(),
            shapes: Shapes::default(),
            counts: JudgeCounts::default(),
            tag_keys: crate::sql::tags::DEFAULT_KEYS
                .iter()
                .map(|k| k.to_string())
                .collect(),
        }
    }

    /// The sqlcommenter keys kept in `statement.tags` (default: [`crate::sql::tags::DEFAULT_KEYS`]).
    pub fn set_tag_keys(&mut self, keys: Vec<String>) {
        self.tag_keys = keys;
    }

    /// Replaces the policies (reload).
    pub fn set_policy(&mut self, policy: impl Into<Arc<Policy>>) {
        self.policy = policy.into();
        self.verdicts = VerdictCache::new();
        self.identities = Identities::default();
    }

    /// What this judge has judged so far.
    pub fn counts(&self) -> JudgeCounts {
        self.counts
    }

    /// Verdicts answered from the cache so far.
    pub fn cached_verdicts(&self) -> u64 {
        self.verdicts.hits
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The table a PostgreSQL table OID names in `db`, as learned so far.
    pub fn table_of_oid(&self, db: &str, oid: u32) -> Option<&str> {
        self.oid_names
            .get(db)
            .and_then(|n| n.get(&oid))
            .map(String::as_str)
    }

    /// Judges one request.
    pub fn judge(&mut self, req: &Request<'_>) -> Judgement {
        let analyzed = req
            .text
            .map(|t| self.analyzer.analyze_text(req.engine.dialect(), t));
        let a = analyzed.as_ref().map(|x| &*x.analysis);
        let kind: Option<&str> = match a {
            Some(a) if a.parse_error.is_none() && !a.kind.is_empty() => Some(a.kind.as_str()),
            Some(a) => req.tag.or(Some(a.kind.as_str()).filter(|k| !k.is_empty())),
            None => req.tag,
        };
        let db = req.db_name.unwrap_or("");
        let resolved_read = a.and_then(|a| self.resolve(a, db, req.columns));
        if let Some(a) = a {
            self.learn_oids(a, db, req.columns);
        }
        let read = resolved_read
            .as_deref()
            .or(a.map(|a| a.columns_read.as_slice()))
            .unwrap_or(EMPTY);
        let written = a.map(|a| a.columns_written.as_slice()).unwrap_or(EMPTY);
        let process = req.process;
        let mut tags = req.tags.clone();
        if let Some(x) = analyzed.as_ref() {
            for (k, v) in &x.tags.0 {
                if self.tag_keys.iter().any(|a| a == k) {
                    tags.insert(k.clone(), v.clone());
                }
            }
        }
        let trace = tags
            .get("traceparent")
            .and_then(|t| crate::sql::tags::trace_context(t));
        let ctx = EvalContext {
            engine: req.engine.name(),
            db_name: req.db_name,
            db_user: req.db_user,
            kind: kind.unwrap_or(""),
            tables: a.map(|a| a.tables.as_slice()).unwrap_or(EMPTY),
            columns: read,
            columns_written: written,
            literals: analyzed
                .as_ref()
                .map(|x| x.literals.as_slice())
                .unwrap_or(EMPTY),
            has_where: a.is_some_and(|a| a.has_where),
            client_user: process.and_then(|p| p.user.as_deref()),
            client_login_user: process.and_then(|p| p.login_user.as_deref()),
            client_exe: process.and_then(|p| p.exe.as_deref()),
            client_container_id: process.and_then(|p| p.container_id.as_deref()),
            client_groups: process.map(|p| p.groups.as_slice()).unwrap_or(EMPTY),
            host_environment: req.host.environment.as_deref(),
            host_labels: &req.host.labels,
            client_cmdline: process.and_then(|p| p.cmdline.as_deref()),
            client_unit: process.and_then(|p| p.unit.as_deref()),
            client_workload: process.and_then(|p| p.workload.as_deref()),
            client_purpose: None,
            db_application: req.db_application,
            tags: &tags,
        };
        let identity = process.map(|p| self.identities.number(p, &ctx));
        // The shape's number stands for the analysis's kind, tables and columns: only when
        // `ctx` holds exactly those (not a command tag's kind, nor columns resolved from the
        // result's metadata), and for an analysis the cache shares (one made for a single
        // statement would take a number that is never asked for again).
        let shape = analyzed
            .as_ref()
            .filter(|x| {
                Arc::strong_count(&x.analysis) > 1
                    && resolved_read.is_none()
                    && kind.is_some_and(|k| std::ptr::eq(k, x.analysis.kind.as_str()))
            })
            .map(|x| self.shapes.number(&x.analysis));
        let mut v = self.policy.evaluate_cached_as(
            &ctx,
            KeyNumbers {
                identity,
                statement: shape,
            },
            &mut self.verdicts,
        );
        // Several statements in one request ("SELECT 1; DROP TABLE t"): every statement's kind
        // is judged, so a harmless first statement cannot hide a destructive one.
        if let Some(a) = a.filter(|a| a.kinds.len() > 1) {
            for k in a.kinds.iter().skip(1) {
                // Another kind than the analysis's: the shape's number does not stand for it.
                let other = self.policy.evaluate_cached_as(
                    &EvalContext { kind: k, ..ctx },
                    KeyNumbers {
                        identity,
                        statement: None,
                    },
                    &mut self.verdicts,
                );
                let v = Arc::make_mut(&mut v);
                for r in &other.rules {
                    if !v.rules.contains(r) {
                        v.rules.push(r.clone());
                    }
                }
                if other.action > v.action {
                    v.action = other.action;
                    v.severity.clone_from(&other.severity);
                    v.message.clone_from(&other.message);
                }
            }
        }
        // The analysis's kind is read from it where it lies: no copy per statement.
        let kind = match kind {
            Some(k) if a.is_some_and(|a| std::ptr::eq(k, a.kind.as_str())) => KindFrom::Analysis,
            Some(k) => KindFrom::Tag(k.to_owned()),
            None => KindFrom::Unknown,
        };
        self.counts.verdicts[match v.action {
            Action::Allow => 0,
            Action::Alert => 1,
            Action::Mask => 2,
            Action::Hold => 3,
            Action::Block => 4,
        }] += 1;
        if analyzed
            .as_ref()
            .is_some_and(|x| x.analysis.parse_error.is_some())
        {
            self.counts.parse_errors[match req.engine {
                Engine::Postgres => 0,
                Engine::Mysql => 1,
            }] += 1;
        }
        Judgement {
            analyzed,
            kind,
            resolved_read,
            verdict: v,
            tags,
            trace,
        }
    }

    /// `*` and unqualified columns, resolved from the wire's result metadata: MySQL names the
    /// original table; PostgreSQL gives the table OID, named from what this database's earlier
    /// single-table statements taught, or from the statement's only table.
    fn resolve(&self, a: &Analysis, db: &str, columns: &[ResultColumn]) -> Option<Vec<String>> {
        if a.star.is_empty() && a.unresolved_columns.is_empty() {
            return None;
        }
        let single = (a.tables.len() == 1).then(|| a.tables[0].as_str());
        let names = self.oid_names.get(db);
        let mut cols = a.columns_read.clone();
        for c in columns {
            let table = c
                .table
                .as_deref()
                .or_else(|| {
                    c.table_oid
                        .and_then(|o| names.and_then(|n| n.get(&o)).map(String::as_str))
                })
                .or_else(|| single.filter(|_| c.table_oid.is_some()));
            if let Some(t) = table {
                let col = format!("{t}.{}", c.org_name.as_deref().unwrap_or(&c.name));
                if !cols.contains(&col) {
                    cols.push(col);
                }
            }
        }
        cols.sort();
        Some(cols)
    }

    fn learn_oids(&mut self, a: &Analysis, db: &str, columns: &[ResultColumn]) {
        if a.tables.len() != 1 || self.oid_count >= MAX_OIDS {
            return;
        }
        if !columns.iter().any(|c| c.table_oid.is_some()) {
            return;
        }
        let names = match self.oid_names.get_mut(db) {
            Some(n) => n,
            None => self.oid_names.entry(db.to_owned()).or_default(),
        };
        for c in columns {
            let Some(oid) = c.table_oid else { continue };
            if let std::collections::hash_map::Entry::Vacant(e) = names.entry(oid) {
                e.insert(a.tables[0].clone());
                self.oid_count += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, oid: u32) -> ResultColumn {
        ResultColumn {
            name: name.into(),
            table_oid: Some(oid),
            ..Default::default()
        }
    }

    fn judge_pg(j: &mut Judge, db: &str, sql: &str, cols: &[ResultColumn]) -> Judgement {
        let host = Host::default();
        j.judge(&Request {
            engine: Engine::Postgres,
            db_name: Some(db),
            db_user: Some("app"),
            db_application: None,
            text: Some(sql),
            tag: None,
            columns: cols,
            process: None,
            host: &host,
            tags: &NO_TAGS,
        })
    }

    #[test]
    fn table_oids_are_per_database() {
        // Both databases have a table with OID 16384: `patients` in `clinic`, `orders` in
        // `shop`. Each database's `*` (over a join, so the OID decides) resolves to its own.
        let mut j = Judge::new(
            Policy::builtin().expect("builtin policy"),
            AnalyzerConfig::default(),
        );
        judge_pg(
            &mut j,
            "clinic",
            "SELECT id FROM patients",
            &[col("id", 16384)],
        );
        judge_pg(&mut j, "shop", "SELECT id FROM orders", &[col("id", 16384)]);
        let c = judge_pg(
            &mut j,
            "clinic",
            "SELECT * FROM patients p JOIN visits v ON v.pid = p.id",
            &[col("email", 16384)],
        );
        assert!(
            c.read().contains(&"patients.email".to_string()),
            "{:?}",
            c.read()
        );
        assert!(!c.read().iter().any(|x| x.starts_with("orders.")));
        let s = judge_pg(
            &mut j,
            "shop",
            "SELECT * FROM orders o JOIN items i ON i.oid = o.id",
            &[col("total", 16384)],
        );
        assert!(
            s.read().contains(&"orders.total".to_string()),
            "{:?}",
            s.read()
        );
        assert!(!s.read().iter().any(|x| x.starts_with("patients.")));
    }

    #[test]
    fn client_identities_are_numbered_by_content_and_keep_their_own_verdicts() {
        let rules = r#"
rules:
  - id: no-ad-hoc-tools
    match:
      client_exe: "/usr/bin/psql"
    action: block
"#;
        let p = Policy::from_yaml_strs(&[], &[("r.yaml", rules)]).expect("policy");
        let mut j = Judge::new(p, AnalyzerConfig::default());
        let proc_of = |exe: &str, cmdline: &str| {
            Arc::new(ProcessInfo {
                exe: Some(exe.into()),
                cmdline: Some(cmdline.into()),
                user: Some("app".into()),
                ..Default::default()
            })
        };
        let app = proc_of("/usr/bin/app", "app --serve");
        let psql = proc_of("/usr/bin/psql", "psql -h db");
        // The same identity behind another process (another Arc).
        let psql_again = proc_of("/usr/bin/psql", "psql -h db");
        let host = Host::default();
        let mut judge = |p: &Arc<ProcessInfo>| {
            j.judge(&Request {
                engine: Engine::Postgres,
                db_name: Some("shop"),
                db_user: Some("app"),
                db_application: None,
                text: Some("SELECT id FROM orders WHERE id = 1"),
                tag: None,
                columns: &[],
                process: Some(p),
                host: &host,
                tags: &NO_TAGS,
            })
            .verdict
            .action
        };
        // The same statement shape, alternating identities: each keeps its own verdict from
        // the cache.
        for _ in 0..3 {
            assert_eq!(judge(&app), Action::Allow);
            assert_eq!(judge(&psql), Action::Block);
            assert_eq!(judge(&psql_again), Action::Block);
        }
        fn ctx(p: &ProcessInfo) -> EvalContext<'_> {
            EvalContext {
                client_exe: p.exe.as_deref(),
                client_cmdline: p.cmdline.as_deref(),
                client_user: p.user.as_deref(),
                ..EvalContext::empty()
            }
        }
        let mut ids = Identities::default();
        let a = ids.number(&app, &ctx(&app));
        let b = ids.number(&psql, &ctx(&psql));
        assert_ne!(a, b);
        assert_eq!(ids.number(&psql_again, &ctx(&psql_again)), b);
        // Remembered by process: the same number without looking at the fields again.
        assert_eq!(ids.number(&app, &ctx(&app)), a);
        assert_eq!(ids.by_process.len(), 3);
        assert_eq!(ids.by_key.len(), 2);
    }

    #[test]
    fn a_shape_number_stands_only_for_the_analysis_it_was_given() {
        let mut j = Judge::new(
            Policy::builtin().expect("builtin policy"),
            AnalyzerConfig::default(),
        );
        let classes = |j: &mut Judge, sql: &str, cols: &[ResultColumn]| {
            judge_pg(j, "shop", sql, cols).verdict.classes.clone()
        };
        let email = [col("email", 16400)];
        let id = [col("id", 16400)];
        // Alternating, so that every verdict after the first round comes from the cache: the
        // same text with other result columns (resolved from the metadata, never numbered),
        // other texts of other shapes, and a shape repeated with other literals.
        for round in 0..3 {
            assert_eq!(
                classes(&mut j, "SELECT * FROM customers", &email),
                vec!["pii.email"],
                "round {round}"
            );
            assert!(classes(&mut j, "SELECT * FROM customers", &id).is_empty());
            assert_eq!(
                classes(&mut j, "SELECT email FROM customers WHERE id = 1", &[]),
                vec!["pii.email"]
            );
            assert!(classes(&mut j, "SELECT id FROM customers WHERE id = 2", &[]).is_empty());
            assert_eq!(
                classes(
                    &mut j,
                    &format!("SELECT email FROM customers WHERE id = {round}"),
                    &[]
                ),
                vec!["pii.email"]
            );
        }
        // Numbered: the two shapes of the cache's analyses, not the resolved `*`.
        assert_eq!(j.shapes.by_analysis.len(), 2);
        assert!(j.verdicts.hits > 0);
    }

    #[test]
    fn every_statement_of_a_request_is_judged() {
        let mut j = Judge::new(
            Policy::builtin().expect("builtin policy"),
            AnalyzerConfig::default(),
        );
        let v = judge_pg(&mut j, "prod", "SELECT 1; DROP TABLE t", &[]);
        assert_eq!(v.verdict.action, crate::policy::Action::Block);
    }
}
