//! What-if: re-judges the statements of a trail with candidate policies, through the same
//! judge the agent and the proxy run, and counts the verdicts that would change.
//!
//! The judge sees what the event kept: the redacted text (literals are `?`, which parse the
//! same), the tags, the database, the identity and the host. Result metadata from the wire is
//! not in the event, so a `SELECT *` is judged by its text alone.
use std::collections::BTreeMap;

use serde::Serialize;

use super::Slim;
use crate::audit::Host;
use crate::identity::ProcessInfo;
use crate::judge::{Engine, Judge, Request};
use crate::policy::Policy;
use crate::sql::AnalyzerConfig;

/// Examples kept per change.
const EXAMPLES: usize = 3;

/// Verdicts that would change, grouped by (rule, old verdict, new verdict).
#[derive(Clone, Debug, Default, Serialize)]
pub struct WhatIfSection {
    /// The candidate policy directory.
    pub policies: String,
    /// Statements judged again.
    pub judged: u64,
    /// Of those, with another verdict.
    pub changed: u64,
    pub changes: Vec<Change>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// The rule that decides the new verdict (or, when it went back to allow, the old one).
    pub rule: String,
    pub old: String,
    pub new: String,
    pub count: u64,
    pub examples: Vec<String>,
}

pub struct WhatIf {
    judge: Judge,
    section: WhatIfSection,
    changes: BTreeMap<(String, String, String), (u64, Vec<String>)>,
}

impl WhatIf {
    pub fn new(policy: Policy, dir: &str) -> Self {
        Self {
            judge: Judge::new(policy, AnalyzerConfig::default()),
            section: WhatIfSection {
                policies: dir.to_owned(),
                ..Default::default()
            },
            changes: BTreeMap::new(),
        }
    }

    /// One statement event, with the verdict and rules it carries.
    pub fn push(&mut self, e: &Slim<'_>, old: &str, old_rules: &[String]) {
        let Some(engine) = e.db.engine.as_deref().and_then(Engine::parse) else {
            return;
        };
        let st = e.statement.as_ref();
        let s = |c: &Option<std::borrow::Cow<'_, str>>| c.as_deref().map(str::to_owned);
        let process = std::sync::Arc::new(ProcessInfo {
            user: s(&e.client.user),
            login_user: s(&e.client.login_user),
            exe: s(&e.client.exe),
            comm: e.client.comm.as_deref().unwrap_or("").to_owned(),
            cmdline: s(&e.client.cmdline),
            unit: s(&e.client.unit),
            container_id: s(&e.client.container_id),
            workload: s(&e.client.workload),
            ..Default::default()
        });
        let host = Host {
            name: e.host.name.to_string(),
            environment: s(&e.host.environment),
            labels: e.host.labels.clone(),
            ..Default::default()
        };
        let empty = BTreeMap::new();
        let j = self.judge.judge(&Request {
            engine,
            db_name: e.db.name.as_deref(),
            db_user: e.db.user.as_deref(),
            db_application: e.db.application.as_deref(),
            text: st.and_then(|s| s.text.as_deref()),
            tag: st.and_then(|s| s.kind.as_deref()),
            columns: &[],
            process: Some(&process),
            host: &host,
            tags: st.map_or(&empty, |s| &s.tags),
        });
        self.section.judged += 1;
        let new = serde_json::to_value(j.verdict.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "allow".to_owned());
        if new == old {
            return;
        }
        self.section.changed += 1;
        let rule = j
            .verdict
            .rules
            .first()
            .or(old_rules.first())
            .cloned()
            .unwrap_or_else(|| "-".to_owned());
        let c = self.changes.entry((rule, old.to_owned(), new)).or_default();
        c.0 += 1;
        if c.1.len() < EXAMPLES {
            let text = st.and_then(|s| s.text.as_deref()).unwrap_or("(no text)");
            c.1.push(text.chars().take(200).collect());
        }
    }

    pub fn finish(mut self) -> WhatIfSection {
        let mut v: Vec<Change> = self
            .changes
            .into_iter()
            .map(|((rule, old, new), (count, examples))| Change {
                rule,
                old,
                new,
                count,
                examples,
            })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.rule.cmp(&b.rule)));
        self.section.changes = v;
        self.section
    }
}
