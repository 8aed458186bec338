//! Classification and rules: owns the data-class and rule formats (YAML, see
//! `policies/README.md`), their loading and validation ([`Policy::load_dir`],
//! [`Policy::from_yaml_strs`], [`Policy::builtin`] for the default pack in `policies/`), and the
//! per-statement decision ([`Policy::evaluate`] -> [`Verdict`]).
//!
//! Everything is compiled at load: column globs of all classes into one `GlobSet`, value
//! detectors into one `RegexSet`, each rule condition into a `GlobSet` or a precomputed class
//! mask, so that evaluation does a handful of set lookups per statement.
//!
//! Column globs are case-insensitive and right-aligned over `schema.table.column`: a glob
//! without a dot is matched against the column name only, `t.c` against table and column, and
//! `s.t.c` against all three. Parts a column reference lacks (a bare `email`, or `users.email`
//! without schema) only match a glob part made of `*` alone. So `*email*`, `*.email` and
//! `*.*.email` all match `email`, `users.email` and `public.users.email`, while `users.email`
//! matches `users.email` and `public.users.email` but not a bare `email`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};
use regex::{Regex, RegexSet};
use serde::Deserialize;

/// Errors loading a policy; each names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid YAML for its format, or its content is invalid.
    #[error("{file}: {message}")]
    Invalid {
        /// The file name (or path).
        file: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(file: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        file: file.to_string(),
        message: message.into(),
    }
}

/// Sensitivity level of a data class, ordered from least to most sensitive.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Public data.
    Public,
    /// Internal data.
    Internal,
    /// Confidential data (most PII).
    Confidential,
    /// Restricted data (credentials, card data, health data, national ids).
    Restricted,
}

/// What to do with a statement, ordered by severity for "most severe wins".
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let it through (the default when no rule matched).
    #[default]
    Allow,
    /// Let it through and raise an alert.
    Alert,
    /// Let it through with sensitive values masked.
    Mask,
    /// Hold it for review.
    Hold,
    /// Block it.
    Block,
}

/// How the deciding rule is chosen among the matching ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precedence {
    /// The first matching rule (in evaluation order) decides; evaluation stops there.
    FirstMatch,
    /// Every rule is evaluated; the most severe action wins (block > hold > mask > alert >
    /// allow), ties going to the earliest rule.
    #[default]
    MostSevere,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What is known about one statement when it is evaluated.
#[derive(Clone, Copy, Debug)]
pub struct EvalContext<'a> {
    /// `"postgresql"` or `"mysql"`.
    pub engine: &'a str,
    /// Database of the session.
    pub db_name: Option<&'a str>,
    /// Database user of the session.
    pub db_user: Option<&'a str>,
    /// Statement kind (`Analysis::kind`).
    pub kind: &'a str,
    /// Tables touched.
    pub tables: &'a [String],
    /// `table.column`, `schema.table.column` or bare `column`: the columns read, then in
    /// [`EvalContext::columns_written`] those written. Rules and classes see both as one list
    /// ([`EvalContext::columns`]); they are two slices so that no statement copies them.
    pub columns: &'a [String],
    /// The columns written (see [`EvalContext::columns`]).
    pub columns_written: &'a [String],
    /// Literal values of the statement.
    pub literals: &'a [String],
    /// Whether the statement has a WHERE clause (`Analysis::has_where`).
    pub has_where: bool,
    /// Unix user of the client process.
    pub client_user: Option<&'a str>,
    /// Login user (audit loginuid) of the client process; `None` for services.
    pub client_login_user: Option<&'a str>,
    /// Executable of the client process.
    pub client_exe: Option<&'a str>,
    /// Container id of the client process.
    pub client_container_id: Option<&'a str>,
    /// Unix group names of the client process.
    pub client_groups: &'a [String],
    /// Environment of the host (`prod`, `staging`, ...).
    pub host_environment: Option<&'a str>,
    /// Labels of the host.
    pub host_labels: &'a BTreeMap<String, String>,
    /// Command line of the client process.
    pub client_cmdline: Option<&'a str>,
    /// systemd unit of the client process.
    pub client_unit: Option<&'a str>,
    /// `client.workload`: unit, container, pod or executable.
    pub client_workload: Option<&'a str>,
    /// `client.purpose`: set by [`Policy::evaluate`] from the workload entries (what a caller
    /// passes is ignored).
    pub client_purpose: Option<&'a str>,
    /// `db.application` (PostgreSQL `application_name`, MySQL `program_name`).
    pub db_application: Option<&'a str>,
    /// `statement.tags` (sqlcommenter).
    pub tags: &'a BTreeMap<String, String>,
}

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

impl<'a> EvalContext<'a> {
    /// Every column the statement touches: those read, then those written.
    pub fn columns(&self) -> impl Iterator<Item = &'a String> + Clone {
        self.columns.iter().chain(self.columns_written)
    }
}

impl EvalContext<'static> {
    /// A context with nothing known (every field empty).
    pub fn empty() -> Self {
        EvalContext {
            engine: "",
            db_name: None,
            db_user: None,
            kind: "",
            tables: &[],
            columns: &[],
            columns_written: &[],
            literals: &[],
            has_where: false,
            client_user: None,
            client_login_user: None,
            client_exe: None,
            client_container_id: None,
            client_groups: &[],
            host_environment: None,
            host_labels: &NO_LABELS,
            client_cmdline: None,
            client_unit: None,
            client_workload: None,
            client_purpose: None,
            db_application: None,
            tags: &NO_LABELS,
        }
    }
}

/// The decision for one statement.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Verdict {
    /// Sorted ids of the data classes touched.
    pub classes: Vec<String>,
    /// Highest level of those classes.
    pub level: Option<Level>,
    /// Action of the deciding rule; `Allow` when no rule matched.
    pub action: Action,
    /// Ids of the rules that matched, in evaluation order (with `first_match`, only the first).
    pub rules: Vec<String>,
    /// Severity of the deciding rule.
    pub severity: Option<String>,
    /// Message of the deciding rule.
    pub message: Option<String>,
    /// `client.purpose`: the purpose of the first workload entry that matched.
    pub purpose: Option<String>,
    /// What the matching `mask` rules mask (the proxy rewrites those columns' values in the
    /// result rows); empty when no mask rule matched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub masks: Vec<ColumnMask>,
}

/// How a masked value is rewritten (`mask.style` of a rule).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskStyle {
    /// Every character becomes `*` (the length is kept).
    #[default]
    Full,
    /// All but the last `keep` characters become `*`.
    Partial,
    /// `sha256:` and the first 16 hex digits of the value's SHA-256: equal values stay equal.
    Hash,
    /// SQL NULL.
    Null,
}

/// One matching `mask` rule: which classes it masks and how.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ColumnMask {
    /// The rule's id.
    pub rule: String,
    /// The classes whose columns it masks: the rule's `match.classes`, else every class the
    /// statement touched.
    pub classes: Vec<String>,
    pub style: MaskStyle,
    /// Characters kept at the end with `partial`.
    pub keep: usize,
}

// ---------------------------------------------------------------------------------------------
// File formats.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    #[serde(default)]
    classes: Vec<ClassSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassSpec {
    id: String,
    level: Level,
    #[serde(default)]
    description: String,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    exclude_columns: Vec<String>,
    #[serde(default)]
    values: Vec<ValueSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueSpec {
    regex: String,
    #[serde(default)]
    luhn: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    precedence: Option<Precedence>,
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    /// Documents the rule in its file; not needed to evaluate.
    #[serde(default, rename = "description")]
    _description: String,
    #[serde(rename = "match")]
    when: MatchSpec,
    #[serde(default)]
    unless: Option<MatchSpec>,
    action: Action,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    message: Option<String>,
    /// How a `mask` rule masks (only with `action: mask`; default `full`).
    #[serde(default)]
    mask: Option<MaskSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaskSpec {
    #[serde(default)]
    style: MaskStyle,
    /// With `partial`: characters kept at the end (default 4).
    #[serde(default)]
    keep: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchSpec {
    engine: Option<OneOrMany>,
    db_name: Option<OneOrMany>,
    db_user: Option<OneOrMany>,
    kind: Option<OneOrMany>,
    tables: Option<OneOrMany>,
    columns: Option<OneOrMany>,
    classes: Option<OneOrMany>,
    level_at_least: Option<Level>,
    has_where: Option<bool>,
    client_user: Option<OneOrMany>,
    client_login_user: Option<OneOrMany>,
    client_login_user_present: Option<bool>,
    client_exe: Option<OneOrMany>,
    client_container_id: Option<OneOrMany>,
    client_group: Option<OneOrMany>,
    host_environment: Option<OneOrMany>,
    host_labels: Option<BTreeMap<String, OneOrMany>>,
    client_cmdline: Option<OneOrMany>,
    client_unit: Option<OneOrMany>,
    client_workload: Option<OneOrMany>,
    client_purpose: Option<OneOrMany>,
    db_application: Option<OneOrMany>,
    tags: Option<BTreeMap<String, OneOrMany>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadFile {
    #[serde(default)]
    workloads: Vec<WorkloadSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadSpec {
    purpose: String,
    #[serde(default, rename = "description")]
    _description: String,
    #[serde(rename = "match")]
    when: MatchSpec,
}

// ---------------------------------------------------------------------------------------------
// Compiled form.

/// Stands for a schema or table a column reference does not name; only `*` matches it.
const UNKNOWN_PART: &str = "\u{1}";

#[derive(Debug)]
struct Class {
    id: String,
    level: Level,
    description: String,
}

#[derive(Debug)]
struct Detector {
    class: usize,
    regex: Regex,
    luhn: bool,
}

/// A set of class indices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ClassMask(Vec<u64>);

impl ClassMask {
    fn with_len(n: usize) -> Self {
        ClassMask(vec![0; n.div_ceil(64)])
    }

    fn insert(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1u64 << (i % 64);
        }
    }

    fn contains(&self, i: usize) -> bool {
        self.0
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    fn intersects(&self, other: &ClassMask) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

#[derive(Debug, Default)]
struct Matcher {
    engine: Option<GlobSet>,
    db_name: Option<GlobSet>,
    db_user: Option<GlobSet>,
    kind: Option<GlobSet>,
    tables: Option<GlobSet>,
    columns: Option<GlobSet>,
    classes: Option<ClassMask>,
    level_at_least: Option<Level>,
    has_where: Option<bool>,
    client_user: Option<GlobSet>,
    client_login_user: Option<GlobSet>,
    client_login_user_present: Option<bool>,
    client_exe: Option<GlobSet>,
    client_container_id: Option<GlobSet>,
    client_group: Option<GlobSet>,
    host_environment: Option<GlobSet>,
    host_labels: Vec<(String, GlobSet)>,
    client_cmdline: Option<GlobSet>,
    client_unit: Option<GlobSet>,
    client_workload: Option<GlobSet>,
    client_purpose: Option<GlobSet>,
    db_application: Option<GlobSet>,
    tags: Vec<(String, GlobSet)>,
}

/// A `workloads/*.yaml` entry: the purpose of what matches.
#[derive(Debug)]
struct Workload {
    purpose: String,
    when: Matcher,
}

#[derive(Debug)]
struct Rule {
    id: String,
    when: Matcher,
    unless: Option<Matcher>,
    action: Action,
    severity: Option<Severity>,
    message: Option<String>,
    /// With `action: mask`: the style and kept characters.
    mask: Option<(MaskStyle, usize)>,
}

/// A loaded, compiled policy: data classes and rules.
#[derive(Debug)]
pub struct Policy {
    classes: Vec<Class>,
    columns: GlobSet,
    column_owner: Vec<usize>,
    excludes: GlobSet,
    exclude_owner: Vec<usize>,
    values: RegexSet,
    /// No value detector can match a literal shorter than this (bytes): such literals (most
    /// OLTP literals are short numbers) skip the regex scan.
    min_value_len: usize,
    detectors: Vec<Detector>,
    rules: Vec<Rule>,
    precedence: Precedence,
    workloads: Vec<Workload>,
}

impl Default for Policy {
    /// An empty policy: no classes, no rules; every statement is allowed.
    fn default() -> Self {
        Policy {
            classes: Vec::new(),
            columns: GlobSet::empty(),
            column_owner: Vec::new(),
            excludes: GlobSet::empty(),
            exclude_owner: Vec::new(),
            values: RegexSet::empty(),
            min_value_len: usize::MAX,
            detectors: Vec::new(),
            rules: Vec::new(),
            precedence: Precedence::default(),
            workloads: Vec::new(),
        }
    }
}

/// The default pack shipped in `policies/`.
const BUILTIN_CLASSES: &[(&str, &str)] = &[
    (
        "pci.yaml",
        include_str!("../../../policies/classes/pci.yaml"),
    ),
    (
        "phi.yaml",
        include_str!("../../../policies/classes/phi.yaml"),
    ),
    (
        "pii.yaml",
        include_str!("../../../policies/classes/pii.yaml"),
    ),
    (
        "secrets.yaml",
        include_str!("../../../policies/classes/secrets.yaml"),
    ),
];

const BUILTIN_RULES: &[(&str, &str)] = &[
    (
        "10-destructive.yaml",
        include_str!("../../../policies/rules/10-destructive.yaml"),
    ),
    (
        "20-sensitive-access.yaml",
        include_str!("../../../policies/rules/20-sensitive-access.yaml"),
    ),
    (
        "30-automation.yaml",
        include_str!("../../../policies/rules/30-automation.yaml"),
    ),
];

const BUILTIN_WORKLOADS: &[(&str, &str)] = &[(
    "10-default.yaml",
    include_str!("../../../policies/workloads/10-default.yaml"),
)];

impl Policy {
    /// Loads `dir/classes/*.yaml` and `dir/rules/*.yaml` (also `*.yml`), each directory's files
    /// in file-name order; rules keep their order within a file.
    pub fn load_dir(dir: &Path) -> Result<Policy, PolicyError> {
        let classes = read_yaml_dir(&dir.join("classes"))?;
        let rules = read_yaml_dir(&dir.join("rules"))?;
        // Optional: packs written before workloads existed have none.
        let workloads = if dir.join("workloads").is_dir() {
            read_yaml_dir(&dir.join("workloads"))?
        } else {
            Vec::new()
        };
        let w: Vec<(&str, &str)> = workloads
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let c: Vec<(&str, &str)> = classes
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let r: Vec<(&str, &str)> = rules
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        Policy::from_pack(&c, &r, &w)
    }

    /// Builds a policy from `(file name, contents)` pairs, used in the given order.
    pub fn from_yaml_strs(
        classes: &[(&str, &str)],
        rules: &[(&str, &str)],
    ) -> Result<Policy, PolicyError> {
        Policy::from_pack(classes, rules, &[])
    }

    /// As [`Policy::from_yaml_strs`], with `workloads/*.yaml` files.
    pub fn from_pack(
        classes: &[(&str, &str)],
        rules: &[(&str, &str)],
        workloads: &[(&str, &str)],
    ) -> Result<Policy, PolicyError> {
        let mut b = Builder::default();
        for (file, text) in classes {
            if let Some(spec) = parse_yaml::<ClassFile>(file, text)? {
                for class in spec.classes {
                    b.add_class(file, class)?;
                }
            }
        }
        b.finish_classes()?;
        for (file, text) in rules {
            if let Some(spec) = parse_yaml::<RuleFile>(file, text)? {
                if let Some(p) = spec.precedence {
                    match b.precedence {
                        Some((q, ref other)) if q != p => {
                            return Err(invalid(
                                file,
                                format!("precedence {p:?} conflicts with {q:?} set in {other}"),
                            ))
                        }
                        _ => b.precedence = Some((p, file.to_string())),
                    }
                }
                for rule in spec.rules {
                    b.add_rule(file, rule)?;
                }
            }
        }
        for (file, text) in workloads {
            if let Some(spec) = parse_yaml::<WorkloadFile>(file, text)? {
                for (i, w) in spec.workloads.into_iter().enumerate() {
                    let what = format!("workload {} ({})", i + 1, w.purpose);
                    if w.purpose.trim().is_empty() {
                        return Err(invalid(file, format!("{what}: empty purpose")));
                    }
                    if w.when.client_purpose.is_some() {
                        return Err(invalid(
                            file,
                            format!("{what}: client_purpose cannot decide a purpose"),
                        ));
                    }
                    let when = b.matcher(file, &format!("{what}: match"), w.when)?;
                    b.workloads.push(Workload {
                        purpose: w.purpose,
                        when,
                    });
                }
            }
        }
        b.finish()
    }

    /// The default pack (`policies/` in the repository), embedded at build time.
    pub fn builtin() -> Result<Policy, PolicyError> {
        Policy::from_pack(BUILTIN_CLASSES, BUILTIN_RULES, BUILTIN_WORKLOADS)
    }

    /// Purposes of the loaded workload entries, in matching order.
    pub fn workload_purposes(&self) -> Vec<&str> {
        self.workloads.iter().map(|w| w.purpose.as_str()).collect()
    }

    /// How the deciding rule is chosen.
    pub fn precedence(&self) -> Precedence {
        self.precedence
    }

    /// Ids of the loaded data classes, in load order.
    pub fn class_ids(&self) -> Vec<&str> {
        self.classes.iter().map(|c| c.id.as_str()).collect()
    }

    /// Ids of the loaded rules, in evaluation order.
    pub fn rule_ids(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.id.as_str()).collect()
    }

    /// Description of a data class.
    pub fn class_description(&self, id: &str) -> Option<&str> {
        self.classes
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.description.as_str())
    }

    /// The data classes of one column (`schema.table.column`, `table.column` or `column`),
    /// by the column globs alone.
    pub fn column_classes(&self, column: &str) -> Vec<&str> {
        let cols = [column.to_string()];
        let ctx = EvalContext {
            columns: &cols,
            ..EvalContext::empty()
        };
        let touched = self.classify_columns(&ctx);
        self.classes
            .iter()
            .enumerate()
            .filter(|(i, _)| touched.contains(*i))
            .map(|(_, c)| c.id.as_str())
            .collect()
    }

    /// Classifies the statement and applies the rules.
    pub fn evaluate(&self, ctx: &EvalContext) -> Verdict {
        let mut touched = self.classify_columns(ctx);
        self.classify_literals(ctx, &mut touched);
        self.decide(ctx, touched)
    }

    /// [`Policy::evaluate`] through `cache`: a verdict depends on the literal values only
    /// through the classes the value detectors find in them, so the detectors run on every
    /// statement and the rest (column classification, workloads, rules) is looked up by
    /// everything else in `ctx` and those literal classes, written into one buffer and
    /// compared whole. A repeated statement shape from the same client costs a hash and a
    /// compare instead of glob and regex matching.
    pub fn evaluate_cached(&self, ctx: &EvalContext, cache: &mut VerdictCache) -> Verdict {
        Arc::unwrap_or_clone(self.evaluate_cached_as(ctx, KeyNumbers::default(), cache))
    }

    /// [`Policy::evaluate_cached`], with parts of `ctx` given by numbers (see [`KeyNumbers`]):
    /// the key material then holds a number instead of the strings it stands for, written and
    /// compared for every statement.
    pub fn evaluate_cached_as(
        &self,
        ctx: &EvalContext,
        numbers: KeyNumbers,
        cache: &mut VerdictCache,
    ) -> Arc<Verdict> {
        // The literal classes' mask is reused from the cache: no allocation on a hit.
        let mut literal = std::mem::take(&mut cache.literal);
        literal.0.clear();
        literal.0.resize(self.classes.len().div_ceil(64), 0);
        self.classify_literals(ctx, &mut literal);
        cache.key(ctx, &literal, numbers);
        if let Some(v) = cache.map.get(&cache.buf[..]) {
            cache.hits += 1;
            cache.literal = literal;
            return Arc::clone(v);
        }
        let mut touched = self.classify_columns(ctx);
        for (t, l) in touched.0.iter_mut().zip(&literal.0) {
            *t |= *l;
        }
        cache.literal = literal;
        let v = Arc::new(self.decide(ctx, touched));
        if cache.map.len() >= MAX_CACHED_VERDICTS {
            cache.map.clear();
        }
        cache.map.insert(cache.buf[..].into(), Arc::clone(&v));
        v
    }

    /// The verdict once the classes touched are known.
    fn decide(&self, ctx: &EvalContext, touched: ClassMask) -> Verdict {
        let mut verdict = Verdict::default();
        if !touched.is_empty() {
            for (i, class) in self.classes.iter().enumerate() {
                if touched.contains(i) {
                    verdict.classes.push(class.id.clone());
                    verdict.level = verdict.level.max(Some(class.level));
                }
            }
            verdict.classes.sort_unstable();
        }
        let mut buf = String::new();
        // The purpose first: rules may match on it. The first matching workload entry wins.
        verdict.purpose = self
            .workloads
            .iter()
            .find(|w| {
                w.when.matches(
                    &EvalContext {
                        client_purpose: None,
                        ..*ctx
                    },
                    &touched,
                    verdict.level,
                    &mut buf,
                )
            })
            .map(|w| w.purpose.clone());
        let with_purpose = EvalContext {
            client_purpose: verdict.purpose.as_deref(),
            ..*ctx
        };
        let ctx = &with_purpose;
        let mut decided: Option<&Rule> = None;
        for rule in &self.rules {
            if !rule.when.matches(ctx, &touched, verdict.level, &mut buf) {
                continue;
            }
            if let Some(u) = &rule.unless {
                if u.matches(ctx, &touched, verdict.level, &mut buf) {
                    continue;
                }
            }
            verdict.rules.push(rule.id.clone());
            match self.precedence {
                Precedence::FirstMatch => {
                    decided = Some(rule);
                    break;
                }
                Precedence::MostSevere => {
                    if decided.is_none_or(|d| rule.action > d.action) {
                        decided = Some(rule);
                    }
                }
            }
        }
        for rule in &self.rules {
            let Some((style, keep)) = rule.mask else {
                continue;
            };
            if !verdict.rules.contains(&rule.id) {
                continue;
            }
            let classes = match &rule.when.classes {
                Some(m) => self
                    .classes
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| m.contains(*i))
                    .map(|(_, c)| c.id.clone())
                    .collect(),
                None => verdict.classes.clone(),
            };
            verdict.masks.push(ColumnMask {
                rule: rule.id.clone(),
                classes,
                style,
                keep,
            });
        }
        if let Some(d) = decided {
            verdict.action = d.action;
            verdict.severity = d.severity.map(|s| s.as_str().to_string());
            verdict.message = d.message.clone();
        }
        verdict
    }

    /// The classes touched by the statement's columns.
    fn classify_columns(&self, ctx: &EvalContext) -> ClassMask {
        let mut touched = ClassMask::with_len(self.classes.len());
        if self.classes.is_empty() {
            return touched;
        }
        let mut buf = String::new();
        let mut hits = Vec::new();
        let mut excluded = Vec::new();
        for column in ctx.columns() {
            column_candidate(column, 3, &mut buf);
            let candidate = Candidate::from_bytes(buf.as_bytes());
            self.columns.matches_candidate_into(&candidate, &mut hits);
            if hits.is_empty() {
                continue;
            }
            if !self.exclude_owner.is_empty() {
                self.excludes
                    .matches_candidate_into(&candidate, &mut excluded);
            }
            for &h in &hits {
                let Some(&class) = self.column_owner.get(h) else {
                    continue;
                };
                let is_excluded = excluded
                    .iter()
                    .any(|&e| self.exclude_owner.get(e) == Some(&class));
                if !is_excluded {
                    touched.insert(class);
                }
            }
            excluded.clear();
        }
        touched
    }

    /// Adds the classes the value detectors find in the statement's literals.
    fn classify_literals(&self, ctx: &EvalContext, touched: &mut ClassMask) {
        if !self.detectors.is_empty() {
            for literal in ctx.literals {
                if literal.len() < self.min_value_len || !self.values.is_match(literal) {
                    continue;
                }
                for i in self.values.matches(literal).iter() {
                    let Some(d) = self.detectors.get(i) else {
                        continue;
                    };
                    if touched.contains(d.class) {
                        continue;
                    }
                    let hit = !d.luhn || d.regex.find_iter(literal).any(|m| luhn(m.as_str()));
                    if hit {
                        touched.insert(d.class);
                    }
                }
            }
        }
    }
}

/// Numbers that stand for parts of an [`EvalContext`] in a cached verdict's key. A number must
/// stand for exactly one value of the fields it replaces, the value `ctx` has, for as long as
/// the [`VerdictCache`] lives, and numbers are never reused (see `judge::Identities`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyNumbers {
    /// The client's identity: the fields [`client_key`] writes.
    pub identity: Option<u64>,
    /// The statement's shape: `kind`, `tables`, `columns`, `columns_written` and `has_where`.
    pub statement: Option<u64>,
}

/// Verdicts remembered by [`Policy::evaluate_cached`]. Belongs with one [`Policy`]: start a
/// new one when the policies change.
#[derive(Debug, Default)]
pub struct VerdictCache {
    /// Verdicts by their whole key material, compared byte for byte: two statements share a
    /// verdict only when everything it depends on is equal, so no choice of statements can
    /// make one take another's verdict (foldhash's random seed keeps the buckets even).
    map: foldhash::HashMap<Box<[u8]>, Arc<Verdict>>,
    /// The key material of the statement being judged (reused).
    buf: Vec<u8>,
    /// The classes found in the literals of the statement being judged (reused).
    literal: ClassMask,
    /// Lookups answered from the cache.
    pub hits: u64,
}

/// Verdicts kept before the cache starts over.
const MAX_CACHED_VERDICTS: usize = 16_384;

impl VerdictCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Verdicts held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Writes into `self.buf` everything in `ctx` a verdict depends on, except the literal
    /// values (represented by the classes found in them) and `client_purpose` (which the
    /// policy sets). The client's identity and the statement's shape are written whole, or as
    /// their numbers when given.
    fn key(&mut self, ctx: &EvalContext, literal: &ClassMask, numbers: KeyNumbers) {
        // Destructured in full, so that a new field cannot be left out of the key. The
        // client's fields are written by `client_key`.
        let EvalContext {
            engine,
            db_name,
            db_user,
            kind,
            tables,
            columns,
            columns_written,
            literals: _,
            has_where,
            client_user: _,
            client_login_user: _,
            client_exe: _,
            client_container_id: _,
            client_groups: _,
            host_environment,
            host_labels,
            client_cmdline: _,
            client_unit: _,
            client_workload: _,
            client_purpose: _,
            db_application,
            tags,
        } = ctx;
        // Everything is written, length-prefixed, into one reused buffer, hashed and compared
        // in one call each: hashing each field on its own cost more than the hash itself.
        let b = &mut self.buf;
        b.clear();
        key_str(b, engine);
        key_opt(b, *db_name);
        key_opt(b, *db_user);
        // Marked, so that a number cannot read as the fields or the reverse.
        match numbers.statement {
            Some(n) => {
                b.push(2);
                b.extend_from_slice(&n.to_le_bytes());
            }
            None => {
                b.push(1);
                key_str(b, kind);
                key_strs(b, tables, &[]);
                // Read and written as one list, as rules see them.
                key_strs(b, columns, columns_written);
                b.push(u8::from(*has_where));
            }
        }
        key_opt(b, *host_environment);
        key_len(b, host_labels.len());
        for (k, v) in host_labels.iter() {
            key_str(b, k);
            key_str(b, v);
        }
        key_opt(b, *db_application);
        key_len(b, tags.len());
        for (k, v) in tags.iter() {
            key_str(b, k);
            key_str(b, v);
        }
        key_len(b, literal.0.len());
        for w in &literal.0 {
            b.extend_from_slice(&w.to_le_bytes());
        }
        // Last, and marked, so that a number cannot read as the fields or the reverse.
        match numbers.identity {
            Some(n) => {
                b.push(2);
                b.extend_from_slice(&n.to_le_bytes());
            }
            None => {
                b.push(1);
                client_key(b, ctx);
            }
        }
    }
}

/// Writes the client's identity in `ctx` (every `client_*` field a rule can match, not
/// `client_purpose`) as key material: two identities write the same bytes only when every
/// field is equal.
pub fn client_key(b: &mut Vec<u8>, ctx: &EvalContext) {
    // Destructured in full too: a new client field must be written here.
    let EvalContext {
        engine: _,
        db_name: _,
        db_user: _,
        kind: _,
        tables: _,
        columns: _,
        columns_written: _,
        literals: _,
        has_where: _,
        client_user,
        client_login_user,
        client_exe,
        client_container_id,
        client_groups,
        host_environment: _,
        host_labels: _,
        client_cmdline,
        client_unit,
        client_workload,
        client_purpose: _,
        db_application: _,
        tags: _,
    } = ctx;
    for v in [
        *client_user,
        *client_login_user,
        *client_exe,
        *client_container_id,
    ] {
        key_opt(b, v);
    }
    key_strs(b, client_groups, &[]);
    for v in [*client_cmdline, *client_unit, *client_workload] {
        key_opt(b, v);
    }
}

/// Key material: a length, then (for strings) the bytes, so that no two field sequences
/// write the same bytes.
fn key_len(b: &mut Vec<u8>, n: usize) {
    b.extend_from_slice(&(n as u64).to_le_bytes());
}

fn key_str(b: &mut Vec<u8>, s: &str) {
    key_len(b, s.len());
    b.extend_from_slice(s.as_bytes());
}

fn key_opt(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => b.push(0),
        Some(s) => {
            b.push(1);
            key_str(b, s);
        }
    }
}

/// `first` then `then`, written as one length-prefixed list: a list split in two keys as the
/// same list whole.
fn key_strs(b: &mut Vec<u8>, first: &[String], then: &[String]) {
    key_len(b, first.len() + then.len());
    for s in first.iter().chain(then) {
        key_str(b, s);
    }
}

/// Writes `column` into `buf` as exactly `parts` dot-separated parts, right-aligned, with
/// [`UNKNOWN_PART`] for the parts it lacks (extra leading parts are dropped).
fn column_candidate(column: &str, parts: usize, buf: &mut String) {
    buf.clear();
    let parts = parts.min(3);
    let mut items: [&str; 3] = [UNKNOWN_PART; 3];
    for (slot, item) in items.iter_mut().zip(column.rsplitn(parts, '.')) {
        *slot = item;
    }
    for i in (0..parts).rev() {
        buf.push_str(items.get(i).copied().unwrap_or(UNKNOWN_PART));
        if i > 0 {
            buf.push('.');
        }
    }
}

/// The Luhn checksum over the digits of `s` (other characters ignored); 12 to 19 digits.
pub fn luhn(s: &str) -> bool {
    let mut sum = 0u32;
    let mut count = 0usize;
    for (i, d) in s
        .bytes()
        .rev()
        .filter(u8::is_ascii_digit)
        .map(|b| u32::from(b - b'0'))
        .enumerate()
    {
        let v = if i % 2 == 1 {
            let x = d * 2;
            if x > 9 {
                x - 9
            } else {
                x
            }
        } else {
            d
        };
        sum += v;
        count += 1;
        if count > 19 {
            return false;
        }
    }
    (12..=19).contains(&count) && sum.is_multiple_of(10)
}

impl Matcher {
    fn matches(
        &self,
        ctx: &EvalContext,
        touched: &ClassMask,
        level: Option<Level>,
        buf: &mut String,
    ) -> bool {
        fn opt(set: &Option<GlobSet>, value: Option<&str>) -> bool {
            match set {
                None => true,
                Some(s) => value.is_some_and(|v| s.is_match(v)),
            }
        }
        if !opt(&self.engine, Some(ctx.engine))
            || !opt(&self.kind, Some(ctx.kind))
            || !opt(&self.db_name, ctx.db_name)
            || !opt(&self.db_user, ctx.db_user)
            || !opt(&self.client_user, ctx.client_user)
            || !opt(&self.client_login_user, ctx.client_login_user)
            || !opt(&self.client_exe, ctx.client_exe)
            || !opt(&self.client_container_id, ctx.client_container_id)
            || !opt(&self.host_environment, ctx.host_environment)
            || !opt(&self.client_cmdline, ctx.client_cmdline)
            || !opt(&self.client_unit, ctx.client_unit)
            || !opt(&self.client_workload, ctx.client_workload)
            || !opt(&self.client_purpose, ctx.client_purpose)
            || !opt(&self.db_application, ctx.db_application)
        {
            return false;
        }
        for (key, glob) in &self.tags {
            if !ctx.tags.get(key).is_some_and(|v| glob.is_match(v)) {
                return false;
            }
        }
        if let Some(w) = self.has_where {
            if w != ctx.has_where {
                return false;
            }
        }
        if let Some(p) = self.client_login_user_present {
            let present = ctx.client_login_user.is_some_and(|u| !u.is_empty());
            if p != present {
                return false;
            }
        }
        if let Some(min) = self.level_at_least {
            if level.is_none_or(|l| l < min) {
                return false;
            }
        }
        if let Some(mask) = &self.classes {
            if !mask.intersects(touched) {
                return false;
            }
        }
        if let Some(g) = &self.client_group {
            if !ctx.client_groups.iter().any(|grp| g.is_match(grp)) {
                return false;
            }
        }
        for (key, glob) in &self.host_labels {
            if !ctx.host_labels.get(key).is_some_and(|v| glob.is_match(v)) {
                return false;
            }
        }
        if let Some(g) = &self.tables {
            let any = ctx.tables.iter().any(|t| {
                column_candidate(t, 2, buf);
                g.is_match_candidate(&Candidate::from_bytes(buf.as_bytes()))
            });
            if !any {
                return false;
            }
        }
        if let Some(g) = &self.columns {
            let any = ctx.columns().any(|c| {
                column_candidate(c, 3, buf);
                g.is_match_candidate(&Candidate::from_bytes(buf.as_bytes()))
            });
            if !any {
                return false;
            }
        }
        true
    }
}

// ---------------------------------------------------------------------------------------------
// Loading.

fn read_yaml_dir(dir: &Path) -> Result<Vec<(String, String)>, PolicyError> {
    let io = |source| PolicyError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Io {
                path: path.display().to_string(),
                source,
            })?;
            Ok((path.display().to_string(), text))
        })
        .collect()
}

/// Parses one file; `None` for a file without content (empty or comments only).
fn parse_yaml<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<Option<T>, PolicyError> {
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| invalid(file, e.to_string()))?;
    if value.is_null() {
        return Ok(None);
    }
    serde_yaml::from_str(text)
        .map(Some)
        .map_err(|e| invalid(file, e.to_string()))
}

fn glob_set(
    file: &str,
    what: &str,
    patterns: &[String],
    parts: Option<usize>,
) -> Result<GlobSet, PolicyError> {
    if patterns.is_empty() {
        return Err(invalid(file, format!("{what}: empty list")));
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(glob(file, what, p, parts)?);
    }
    b.build().map_err(|e| invalid(file, format!("{what}: {e}")))
}

/// Compiles one case-insensitive glob. With `parts`, the pattern is a dotted path of at most
/// that many parts, left-padded with `*` parts to exactly that many.
fn glob(
    file: &str,
    what: &str,
    pattern: &str,
    parts: Option<usize>,
) -> Result<globset::Glob, PolicyError> {
    let full = match parts {
        Some(n) => {
            let have = pattern.split('.').count();
            if pattern.is_empty() || have > n {
                return Err(invalid(
                    file,
                    format!(
                        "{what}: bad pattern {pattern:?}: expected at most {n} dot-separated parts"
                    ),
                ));
            }
            let mut s = "*.".repeat(n - have);
            s.push_str(pattern);
            s
        }
        None => pattern.to_string(),
    };
    GlobBuilder::new(&full)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .map_err(|e| invalid(file, format!("{what}: bad glob {pattern:?}: {e}")))
}

#[derive(Default)]
struct Builder {
    classes: Vec<Class>,
    column_patterns: Vec<globset::Glob>,
    column_owner: Vec<usize>,
    exclude_patterns: Vec<globset::Glob>,
    exclude_owner: Vec<usize>,
    detectors: Vec<Detector>,
    columns: Option<GlobSet>,
    excludes: Option<GlobSet>,
    rules: Vec<Rule>,
    rule_ids: BTreeSet<String>,
    precedence: Option<(Precedence, String)>,
    workloads: Vec<Workload>,
}

impl Builder {
    fn add_class(&mut self, file: &str, spec: ClassSpec) -> Result<(), PolicyError> {
        if spec.id.trim().is_empty() {
            return Err(invalid(file, "class with an empty id"));
        }
        if self.classes.iter().any(|c| c.id == spec.id) {
            return Err(invalid(file, format!("class {}: duplicate id", spec.id)));
        }
        let index = self.classes.len();
        let what = format!("class {}", spec.id);
        for p in &spec.columns {
            self.column_patterns
                .push(glob(file, &format!("{what}: columns"), p, Some(3))?);
            self.column_owner.push(index);
        }
        for p in &spec.exclude_columns {
            self.exclude_patterns.push(glob(
                file,
                &format!("{what}: exclude_columns"),
                p,
                Some(3),
            )?);
            self.exclude_owner.push(index);
        }
        for v in &spec.values {
            let regex = Regex::new(&v.regex)
                .map_err(|e| invalid(file, format!("{what}: values: bad regex: {e}")))?;
            self.detectors.push(Detector {
                class: index,
                regex,
                luhn: v.luhn,
            });
        }
        self.classes.push(Class {
            id: spec.id,
            level: spec.level,
            description: spec.description,
        });
        Ok(())
    }

    fn finish_classes(&mut self) -> Result<(), PolicyError> {
        let build = |patterns: &[globset::Glob]| {
            let mut b = GlobSetBuilder::new();
            for p in patterns {
                b.add(p.clone());
            }
            b.build()
                .map_err(|e| invalid("classes", format!("column globs: {e}")))
        };
        self.columns = Some(build(&self.column_patterns)?);
        self.excludes = Some(build(&self.exclude_patterns)?);
        Ok(())
    }

    fn add_rule(&mut self, file: &str, spec: RuleSpec) -> Result<(), PolicyError> {
        if spec.id.trim().is_empty() {
            return Err(invalid(file, "rule with an empty id"));
        }
        if !self.rule_ids.insert(spec.id.clone()) {
            return Err(invalid(file, format!("rule {}: duplicate id", spec.id)));
        }
        let what = format!("rule {}", spec.id);
        let when = self.matcher(file, &format!("{what}: match"), spec.when)?;
        let unless = match spec.unless {
            Some(u) => Some(self.matcher(file, &format!("{what}: unless"), u)?),
            None => None,
        };
        let mask = match (spec.action, spec.mask) {
            (Action::Mask, m) => {
                let m = m.unwrap_or(MaskSpec {
                    style: MaskStyle::Full,
                    keep: None,
                });
                if m.keep.is_some() && m.style != MaskStyle::Partial {
                    return Err(invalid(
                        file,
                        format!("{what}: mask.keep only applies to style partial"),
                    ));
                }
                Some((m.style, m.keep.unwrap_or(4)))
            }
            (_, Some(_)) => {
                return Err(invalid(
                    file,
                    format!("{what}: mask is only allowed with action mask"),
                ))
            }
            (_, None) => None,
        };
        self.rules.push(Rule {
            id: spec.id,
            when,
            unless,
            action: spec.action,
            severity: spec.severity,
            message: spec.message,
            mask,
        });
        Ok(())
    }

    fn matcher(&self, file: &str, what: &str, m: MatchSpec) -> Result<Matcher, PolicyError> {
        let set = |field: &str, v: Option<OneOrMany>, parts: Option<usize>| match v {
            None => Ok(None),
            Some(v) => glob_set(file, &format!("{what}.{field}"), &v.into_vec(), parts).map(Some),
        };
        let classes = match m.classes {
            None => None,
            Some(v) => Some(self.class_mask(file, &format!("{what}.classes"), &v.into_vec())?),
        };
        let mut host_labels = Vec::new();
        for (key, v) in m.host_labels.unwrap_or_default() {
            let g = glob_set(
                file,
                &format!("{what}.host_labels.{key}"),
                &v.into_vec(),
                None,
            )?;
            host_labels.push((key, g));
        }
        let mut tags = Vec::new();
        for (key, v) in m.tags.unwrap_or_default() {
            let g = glob_set(file, &format!("{what}.tags.{key}"), &v.into_vec(), None)?;
            tags.push((key, g));
        }
        Ok(Matcher {
            engine: set("engine", m.engine, None)?,
            db_name: set("db_name", m.db_name, None)?,
            db_user: set("db_user", m.db_user, None)?,
            kind: set("kind", m.kind, None)?,
            tables: set("tables", m.tables, Some(2))?,
            columns: set("columns", m.columns, Some(3))?,
            classes,
            level_at_least: m.level_at_least,
            has_where: m.has_where,
            client_user: set("client_user", m.client_user, None)?,
            client_login_user: set("client_login_user", m.client_login_user, None)?,
            client_login_user_present: m.client_login_user_present,
            client_exe: set("client_exe", m.client_exe, None)?,
            client_container_id: set("client_container_id", m.client_container_id, None)?,
            client_group: set("client_group", m.client_group, None)?,
            host_environment: set("host_environment", m.host_environment, None)?,
            host_labels,
            client_cmdline: set("client_cmdline", m.client_cmdline, None)?,
            client_unit: set("client_unit", m.client_unit, None)?,
            client_workload: set("client_workload", m.client_workload, None)?,
            client_purpose: set("client_purpose", m.client_purpose, None)?,
            db_application: set("db_application", m.db_application, None)?,
            tags,
        })
    }

    /// Class ids or globs over class ids. A plain id must name a loaded class.
    fn class_mask(
        &self,
        file: &str,
        what: &str,
        patterns: &[String],
    ) -> Result<ClassMask, PolicyError> {
        if patterns.is_empty() {
            return Err(invalid(file, format!("{what}: empty list")));
        }
        let mut mask = ClassMask::with_len(self.classes.len());
        for p in patterns {
            let is_glob = p.contains(['*', '?', '[', '{']);
            if !is_glob && !self.classes.iter().any(|c| c.id == *p) {
                return Err(invalid(file, format!("{what}: unknown class {p:?}")));
            }
            let g = glob(file, what, p, None)?.compile_matcher();
            let mut any = false;
            for (i, c) in self.classes.iter().enumerate() {
                if g.is_match(&c.id) {
                    mask.insert(i);
                    any = true;
                }
            }
            if !any {
                tracing::warn!(file, what, pattern = %p, "class pattern matches no loaded class");
            }
        }
        Ok(mask)
    }

    fn finish(self) -> Result<Policy, PolicyError> {
        let values = RegexSet::new(self.detectors.iter().map(|d| d.regex.as_str()))
            .map_err(|e| invalid("classes", format!("value detectors: {e}")))?;
        // The shortest text any detector can match; unknown (unparseable here) means 0.
        let min_value_len = self
            .detectors
            .iter()
            .map(|d| {
                regex_syntax::Parser::new()
                    .parse(d.regex.as_str())
                    .ok()
                    .and_then(|h| h.properties().minimum_len())
                    .unwrap_or(0)
            })
            .min()
            .unwrap_or(usize::MAX);
        Ok(Policy {
            min_value_len,
            classes: self.classes,
            columns: self.columns.unwrap_or_else(GlobSet::empty),
            column_owner: self.column_owner,
            excludes: self.excludes.unwrap_or_else(GlobSet::empty),
            exclude_owner: self.exclude_owner,
            values,
            detectors: self.detectors,
            rules: self.rules,
            precedence: self.precedence.map(|(p, _)| p).unwrap_or_default(),
            workloads: self.workloads,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

    fn ctx<'a>(kind: &'a str, columns: &'a [String]) -> EvalContext<'a> {
        EvalContext {
            engine: "postgresql",
            db_name: Some("app"),
            db_user: Some("app"),
            kind,
            tables: &[],
            columns,
            columns_written: &[],
            literals: &[],
            has_where: true,
            client_user: Some("svc"),
            client_login_user: None,
            client_exe: Some("/usr/bin/app"),
            client_container_id: None,
            client_groups: &[],
            host_environment: Some("staging"),
            host_labels: &NO_LABELS,
            client_cmdline: None,
            client_unit: None,
            client_workload: None,
            client_purpose: None,
            db_application: None,
            tags: &NO_LABELS,
        }
    }

    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|x| x.to_string()).collect()
    }

    fn builtin() -> Policy {
        Policy::builtin().unwrap()
    }

    fn classes_of(p: &Policy, column: &str) -> Vec<String> {
        let cols = s(&[column]);
        p.evaluate(&ctx("SELECT", &cols)).classes
    }

    fn classes_of_literal(p: &Policy, literal: &str) -> Vec<String> {
        let lits = s(&[literal]);
        let mut c = ctx("SELECT", &[]);
        c.literals = &lits;
        p.evaluate(&c).classes
    }

    #[test]
    fn builtin_loads() {
        let p = builtin();
        assert_eq!(p.precedence(), Precedence::MostSevere);
        let mut ids = p.class_ids();
        ids.sort_unstable();
        assert_eq!(
            ids,
            vec![
                "pci.cvv",
                "pci.pan",
                "phi.diagnosis",
                "pii.address",
                "pii.birthdate",
                "pii.email",
                "pii.name",
                "pii.phone",
                "pii.ssn",
                "secret.credential"
            ]
        );
        assert_eq!(
            p.rule_ids(),
            vec![
                "block-destructive-ddl-prod",
                "block-destructive-ddl-prod-host",
                "hold-unbounded-dml",
                "alert-schema-change-prod",
                "alert-person-credential-access",
                "alert-person-restricted-access",
                "alert-privilege-change",
                "alert-ai-restricted-access",
                "hold-automation-schema-change-prod",
                "hold-automation-schema-change-prod-host"
            ]
        );
        assert!(p.class_description("pci.pan").is_some());
    }

    #[test]
    fn load_dir_matches_builtin() {
        // `policies/` beside the agent crate; `file!()` covers builds that include this file by
        // an absolute `#[path]`.
        let candidates = [
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies"),
            Path::new(file!())
                .parent()
                .unwrap_or(Path::new("."))
                .join("../../../policies"),
        ];
        let found = candidates.iter().find(|d| d.join("rules").is_dir());
        let p = Policy::load_dir(found.expect("policies directory")).unwrap();
        assert_eq!(p.rule_ids(), builtin().rule_ids());
        assert_eq!(p.class_ids(), builtin().class_ids());
        assert_eq!(p.workload_purposes(), builtin().workload_purposes());
    }

    #[test]
    fn shareable_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Policy>();
        send_sync::<Verdict>();
    }

    #[test]
    fn default_classes_match_typical_columns() {
        let p = builtin();
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "pii.email",
                &[
                    "email",
                    "users.email",
                    "public.users.email",
                    "contact_email",
                    "userEmail",
                    "email_address",
                    "EMAIL",
                ],
                &[
                    "email_verified",
                    "email_sent_at",
                    "gmail_ids",
                    "voicemail_count",
                ],
            ),
            (
                "pii.phone",
                &[
                    "phone",
                    "mobile_phone",
                    "phone_number",
                    "customers.telephone",
                    "fax",
                    "msisdn",
                    "home_phone",
                ],
                &[
                    "headphones",
                    "phone_verified_at",
                    "telemetry",
                    "hotel",
                    "mobile_app_version",
                ],
            ),
            (
                "pii.ssn",
                &[
                    "ssn",
                    "customer_ssn",
                    "social_security_number",
                    "national_id",
                    "tax_id",
                    "ssn_last4",
                ],
                &["session", "lesson_id", "assn_count", "taxonomy_id"],
            ),
            (
                "pii.name",
                &[
                    "first_name",
                    "last_name",
                    "lastname",
                    "surname",
                    "full_name",
                    "users.name",
                    "public.customers.name",
                    "customer_name",
                ],
                &[
                    "name",
                    "products.name",
                    "table_name",
                    "filename",
                    "username",
                    "hostname",
                ],
            ),
            (
                "pii.address",
                &[
                    "address",
                    "billing_address",
                    "address_line1",
                    "street",
                    "postal_code",
                    "zip",
                    "shipping_addr",
                ],
                &[
                    "ip_address",
                    "email_address",
                    "mac_address",
                    "remote_addr",
                    "wallet_address",
                    "addresses_count_x",
                    "zipper",
                ],
            ),
            (
                "pii.birthdate",
                &[
                    "dob",
                    "birth_date",
                    "date_of_birth",
                    "birthday",
                    "patient_dob",
                ],
                &["doberman", "birth_place", "created_at"],
            ),
            (
                "pci.pan",
                &[
                    "pan",
                    "card_number",
                    "cardnumber",
                    "cc_number",
                    "credit_card_number",
                    "payments.card_no",
                ],
                &[
                    "pantry",
                    "company",
                    "span",
                    "card_type",
                    "card_brand",
                    "expansion",
                ],
            ),
            (
                "pci.cvv",
                &["cvv", "cvv2", "cvc", "card_cvv", "card_verification_value"],
                &[
                    "cv",
                    "cv_file",
                    "cvs_path",
                    "recv_bytes",
                    "csv_export",
                    "cvss_score",
                    "dcv",
                ],
            ),
            (
                "phi.diagnosis",
                &[
                    "diagnosis",
                    "primary_diagnosis",
                    "diagnosis_code",
                    "icd10_code",
                    "medications",
                    "allergies",
                    "symptoms",
                ],
                &["diagnostics_enabled", "archive", "medium", "prescan"],
            ),
            (
                "secret.credential",
                &[
                    "password",
                    "password_hash",
                    "passwd",
                    "pwd",
                    "api_key",
                    "apikey",
                    "access_token",
                    "refresh_token",
                    "client_secret",
                    "private_key",
                    "authentication_string",
                    "mysql.user.authentication_string",
                ],
                &[
                    "password_changed_at",
                    "password_reset_required",
                    "token_count",
                    "tokens_used",
                    "secretary",
                    "api_key_id",
                    "keyboard",
                    "token_type",
                ],
            ),
        ];
        for (class, yes, no) in cases {
            for c in *yes {
                assert!(
                    classes_of(&p, c).iter().any(|x| x == class),
                    "{class} should match {c}: got {:?}",
                    classes_of(&p, c)
                );
            }
            for c in *no {
                assert!(
                    !classes_of(&p, c).iter().any(|x| x == class),
                    "{class} should not match {c}"
                );
            }
        }
    }

    #[test]
    fn luhn_checksum() {
        assert!(luhn("4111111111111111"));
        assert!(!luhn("4111111111111112"));
        assert!(luhn("4111 1111 1111 1111"));
        assert!(luhn("378282246310005"));
        assert!(!luhn("0"));
        assert!(!luhn(""));
        assert!(!luhn("00000000000000000000000"));
    }

    #[test]
    fn value_detectors() {
        let p = builtin();
        assert_eq!(classes_of_literal(&p, "4111111111111111"), s(&["pci.pan"]));
        assert_eq!(
            classes_of_literal(&p, "4111-1111-1111-1111"),
            s(&["pci.pan"])
        );
        assert!(classes_of_literal(&p, "4111111111111112").is_empty());
        // Millisecond timestamps and plain ids are not card numbers.
        assert!(classes_of_literal(&p, "1700000000000").is_empty());
        assert!(classes_of_literal(&p, "123456789012345").is_empty());
        assert_eq!(classes_of_literal(&p, "bob@example.com"), s(&["pii.email"]));
        assert!(classes_of_literal(&p, "not an email @ all").is_empty());
        assert_eq!(classes_of_literal(&p, "123-45-6789"), s(&["pii.ssn"]));
        assert!(classes_of_literal(&p, "2024-01-15").is_empty());
        assert!(classes_of_literal(&p, "666-12-3456").is_empty());
        assert_eq!(classes_of_literal(&p, "+4915112345678"), s(&["pii.phone"]));
        assert_eq!(
            classes_of_literal(&p, "AKIAIOSFODNN7EXAMPLE"),
            s(&["secret.credential"])
        );
    }

    /// The cache gives exactly the uncached verdict whatever changes between statements:
    /// the literals (and so the classes found in them), the identity, the host, the kind.
    #[test]
    fn cached_verdicts_equal_evaluated_ones() {
        let p = builtin();
        let cols = [
            s(&[]),
            s(&["users.email", "users.id"]),
            s(&["orders.total"]),
        ];
        let lits = [s(&[]), s(&["123-45-6789"]), s(&["bob@example.com", "x"])];
        let tables = s(&["users"]);
        let groups = s(&["wheel"]);
        let mut prod = BTreeMap::new();
        prod.insert("env".to_string(), "prod".to_string());
        let mut tags = BTreeMap::new();
        tags.insert("purpose".to_string(), "ai.training".to_string());
        let mut contexts = Vec::new();
        for kind in ["SELECT", "DROP TABLE", "DELETE"] {
            for c in &cols {
                for l in &lits {
                    let base = EvalContext {
                        literals: l,
                        tables: &tables,
                        ..ctx(kind, c)
                    };
                    contexts.push(base);
                    contexts.push(EvalContext {
                        host_environment: Some("prod"),
                        ..base
                    });
                    contexts.push(EvalContext {
                        client_login_user: Some("alice"),
                        client_groups: &groups,
                        ..base
                    });
                    contexts.push(EvalContext {
                        has_where: false,
                        host_labels: &prod,
                        tags: &tags,
                        ..base
                    });
                    contexts.push(EvalContext {
                        client_workload: Some("etl.service"),
                        db_user: Some("other"),
                        ..base
                    });
                }
            }
        }
        let mut cache = VerdictCache::new();
        let mut differ = 0;
        for round in 0..2 {
            for (i, c) in contexts.iter().enumerate() {
                // Every other context in reverse order on the second round.
                let c = if round == 1 && i % 2 == 1 {
                    &contexts[contexts.len() - 1 - i]
                } else {
                    c
                };
                if p.evaluate_cached(c, &mut cache) != p.evaluate(c) {
                    differ += 1;
                }
            }
        }
        assert_eq!(differ, 0);
        assert!(cache.hits >= contexts.len() as u64, "{} hits", cache.hits);
        // The contexts give different verdicts, so the key does not lump them together.
        let distinct: BTreeSet<String> = contexts
            .iter()
            .map(|c| format!("{:?}", p.evaluate(c)))
            .collect();
        assert!(distinct.len() > 5, "{distinct:?}");
    }

    #[test]
    fn verdict_levels_and_classes() {
        let p = builtin();
        let cols = s(&["users.email", "users.ssn", "users.id"]);
        let v = p.evaluate(&ctx("SELECT", &cols));
        assert_eq!(v.classes, s(&["pii.email", "pii.ssn"]));
        assert_eq!(v.level, Some(Level::Restricted));
        assert_eq!(v.action, Action::Allow);
        assert!(v.rules.is_empty());
        let v = p.evaluate(&ctx("SELECT", &[]));
        assert_eq!(v, Verdict::default());
        let json = serde_json::to_string(&v).unwrap();
        assert!(json.contains("\"action\":\"allow\""), "{json}");
    }

    #[test]
    fn columns_written_are_classified_and_cached_as_columns_read_are() {
        let p = builtin();
        let read = s(&["users.id"]);
        let written = s(&["users.email", "users.ssn"]);
        let both = s(&["users.id", "users.email", "users.ssn"]);
        let split = EvalContext {
            columns_written: &written,
            ..ctx("UPDATE", &read)
        };
        let whole = ctx("UPDATE", &both);
        let v = p.evaluate(&split);
        assert_eq!(v.classes, s(&["pii.email", "pii.ssn"]));
        assert_eq!(v, p.evaluate(&whole));
        // Through the verdict cache: the written columns are part of the key (a statement
        // writing an email column never takes the verdict of one writing none).
        let mut cache = VerdictCache::new();
        assert_eq!(
            p.evaluate_cached(&ctx("UPDATE", &read), &mut cache).classes,
            s(&[])
        );
        assert_eq!(p.evaluate_cached(&split, &mut cache), v);
        assert_eq!(p.evaluate_cached(&whole, &mut cache), v);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn destructive_ddl_on_prod_is_blocked() {
        let p = builtin();
        let tables = s(&["users"]);
        for kind in ["DROP TABLE", "DROP DATABASE", "TRUNCATE", "DROP SCHEMA"] {
            let mut c = ctx(kind, &[]);
            c.tables = &tables;
            c.db_name = Some("prod_main");
            let v = p.evaluate(&c);
            assert_eq!(v.action, Action::Block, "{kind}");
            assert_eq!(v.severity.as_deref(), Some("critical"));
            assert_eq!(
                v.message.as_deref(),
                Some("Destructive DDL on a production database.")
            );
            assert_eq!(
                v.rules.first().map(String::as_str),
                Some("block-destructive-ddl-prod")
            );
            // Near miss: the same on staging is allowed.
            c.db_name = Some("staging");
            assert_eq!(p.evaluate(&c).action, Action::Allow, "{kind}");
            // No database known: the glob cannot match.
            c.db_name = None;
            assert_eq!(p.evaluate(&c).action, Action::Allow, "{kind}");
        }
        let mut c = ctx("CREATE INDEX", &[]);
        c.db_name = Some("PROD");
        let v = p.evaluate(&c);
        assert_eq!(v.action, Action::Alert);
        assert_eq!(v.rules, s(&["alert-schema-change-prod"]));
    }

    #[test]
    fn unbounded_dml_is_held() {
        let p = builtin();
        for kind in ["UPDATE", "DELETE"] {
            let mut c = ctx(kind, &[]);
            c.has_where = false;
            let v = p.evaluate(&c);
            assert_eq!(v.action, Action::Hold, "{kind}");
            assert_eq!(v.rules, s(&["hold-unbounded-dml"]));
            c.has_where = true;
            assert_eq!(p.evaluate(&c).action, Action::Allow, "{kind}");
        }
        let mut c = ctx("SELECT", &[]);
        c.has_where = false;
        assert_eq!(p.evaluate(&c).action, Action::Allow);
    }

    #[test]
    fn person_reading_restricted_data_is_alerted() {
        let p = builtin();
        let cols = s(&["patients.diagnosis"]);
        let mut c = ctx("SELECT", &cols);
        c.client_login_user = Some("alice");
        let v = p.evaluate(&c);
        assert_eq!(v.action, Action::Alert);
        assert_eq!(v.rules, s(&["alert-person-restricted-access"]));
        assert_eq!(v.severity.as_deref(), Some("high"));
        // A service (no login user) reading the same data is not alerted.
        c.client_login_user = None;
        assert_eq!(p.evaluate(&c).action, Action::Allow);
        c.client_login_user = Some("");
        assert_eq!(p.evaluate(&c).action, Action::Allow);
        // A person reading only confidential data is not alerted.
        let cols = s(&["users.email"]);
        let mut c = ctx("SELECT", &cols);
        c.client_login_user = Some("alice");
        assert_eq!(p.evaluate(&c).action, Action::Allow);
        // Credentials: the more specific rule comes first and decides among equal actions.
        let cols = s(&["users.password_hash"]);
        let mut c = ctx("SELECT", &cols);
        c.client_login_user = Some("alice");
        let v = p.evaluate(&c);
        assert_eq!(v.action, Action::Alert);
        assert_eq!(
            v.rules,
            s(&[
                "alert-person-credential-access",
                "alert-person-restricted-access"
            ])
        );
        assert_eq!(v.severity.as_deref(), Some("critical"));
        assert_eq!(
            v.message.as_deref(),
            Some("A person accessed stored credentials.")
        );
    }

    #[test]
    fn most_severe_wins() {
        let p = builtin();
        let cols = s(&["users.ssn"]);
        let mut c = ctx("DELETE", &cols);
        c.has_where = false;
        c.client_login_user = Some("alice");
        let v = p.evaluate(&c);
        assert_eq!(v.action, Action::Hold);
        assert_eq!(
            v.rules,
            s(&["hold-unbounded-dml", "alert-person-restricted-access"])
        );
        assert_eq!(v.severity.as_deref(), Some("high"));
        let mut c = ctx("DROP TABLE", &[]);
        c.db_name = Some("prod");
        let v = p.evaluate(&c);
        assert_eq!(v.action, Action::Block);
        assert_eq!(
            v.rules,
            s(&["block-destructive-ddl-prod", "alert-schema-change-prod"])
        );
    }

    const CLASSES: &str = r#"
classes:
  - id: t.email
    level: confidential
    columns: ["*email*"]
  - id: t.exact
    level: internal
    columns: ["users.email", "public.orders.total"]
"#;

    fn policy(rules: &str) -> Result<Policy, PolicyError> {
        Policy::from_yaml_strs(&[("c.yaml", CLASSES)], &[("r.yaml", rules)])
    }

    #[test]
    fn first_match_precedence() {
        let rules = r#"
precedence: first_match
rules:
  - id: allow-dba
    match: { db_user: "dba" }
    action: allow
  - id: block-drop
    match: { kind: "DROP *" }
    action: block
"#;
        let p = policy(rules).unwrap();
        assert_eq!(p.precedence(), Precedence::FirstMatch);
        let mut c = ctx("DROP TABLE", &[]);
        c.db_user = Some("dba");
        let v = p.evaluate(&c);
        assert_eq!(v.action, Action::Allow);
        assert_eq!(v.rules, s(&["allow-dba"]));
        c.db_user = Some("app");
        assert_eq!(p.evaluate(&c).action, Action::Block);
        // The same rules under most_severe: block wins over the exception.
        let p = policy(&rules.replace("first_match", "most_severe")).unwrap();
        c.db_user = Some("dba");
        let v = p.evaluate(&c);
        assert_eq!(v.action, Action::Block);
        assert_eq!(v.rules, s(&["allow-dba", "block-drop"]));
    }

    #[test]
    fn column_glob_alignment() {
        let p = policy("rules: []").unwrap();
        assert_eq!(classes_of(&p, "email"), s(&["t.email"]));
        assert_eq!(classes_of(&p, "users.email"), s(&["t.email", "t.exact"]));
        assert_eq!(
            classes_of(&p, "public.users.email"),
            s(&["t.email", "t.exact"])
        );
        assert_eq!(classes_of(&p, "public.orders.total"), s(&["t.exact"]));
        assert!(classes_of(&p, "orders.total").is_empty());
        assert!(classes_of(&p, "other.orders.total").is_empty());
        assert_eq!(classes_of(&p, "PUBLIC.Orders.TOTAL"), s(&["t.exact"]));
        assert!(classes_of(&p, "").is_empty());
        assert!(classes_of(&p, "...").is_empty());
    }

    #[test]
    fn all_conditions() {
        let rules = r#"
rules:
  - id: everything
    match:
      engine: [postgresql]
      db_name: "app*"
      db_user: ["app", "web"]
      kind: select
      tables: ["users", "*.orders"]
      columns: "*.email"
      classes: ["t.*"]
      level_at_least: confidential
      has_where: true
      client_user: svc
      client_login_user: "a*"
      client_login_user_present: true
      client_exe: "/usr/bin/*"
      client_container_id: "abc*"
      client_group: ["wheel", "dba"]
      host_environment: prod
      host_labels: { team: "pay*", region: ["eu-*", "us-*"] }
    unless:
      client_group: breakglass
    action: mask
    severity: low
    message: masked
"#;
        let p = policy(rules).unwrap();
        let cols = s(&["users.email"]);
        let tables = s(&["public.users"]);
        let groups = s(&["staff", "wheel"]);
        let mut labels = BTreeMap::new();
        labels.insert("team".to_string(), "payments".to_string());
        labels.insert("region".to_string(), "eu-west-1".to_string());
        let base = EvalContext {
            tables: &tables,
            client_login_user: Some("alice"),
            client_container_id: Some("abcdef"),
            client_groups: &groups,
            host_labels: &labels,
            host_environment: Some("prod"),
            ..ctx("SELECT", &cols)
        };
        let v = p.evaluate(&base);
        assert_eq!(v.action, Action::Mask);
        assert_eq!(v.severity.as_deref(), Some("low"));
        assert_eq!(v.message.as_deref(), Some("masked"));
        let miss = |c: EvalContext| assert_eq!(p.evaluate(&c).action, Action::Allow);
        miss(EvalContext {
            engine: "mysql",
            ..base
        });
        miss(EvalContext {
            db_name: Some("billing"),
            ..base
        });
        miss(EvalContext {
            db_user: None,
            ..base
        });
        miss(EvalContext {
            kind: "UPDATE",
            ..base
        });
        let other_tables = s(&["accounts"]);
        miss(EvalContext {
            tables: &other_tables,
            ..base
        });
        miss(EvalContext {
            has_where: false,
            ..base
        });
        miss(EvalContext {
            client_user: Some("root"),
            ..base
        });
        miss(EvalContext {
            client_login_user: Some("bob"),
            ..base
        });
        miss(EvalContext {
            client_exe: Some("/opt/x"),
            ..base
        });
        miss(EvalContext {
            client_container_id: None,
            ..base
        });
        let no_groups = s(&["staff"]);
        miss(EvalContext {
            client_groups: &no_groups,
            ..base
        });
        miss(EvalContext {
            host_environment: Some("dev"),
            ..base
        });
        let mut wrong = labels.clone();
        wrong.insert("region".to_string(), "ap-south-1".to_string());
        miss(EvalContext {
            host_labels: &wrong,
            ..base
        });
        let other_cols = s(&["users.id"]);
        miss(EvalContext {
            columns: &other_cols,
            ..base
        });
        let breakglass = s(&["wheel", "breakglass"]);
        miss(EvalContext {
            client_groups: &breakglass,
            ..base
        });
        // Orders table via the `*.orders` glob (schema-qualified only).
        let orders = s(&["sales.orders"]);
        assert_eq!(
            p.evaluate(&EvalContext {
                tables: &orders,
                ..base
            })
            .action,
            Action::Mask
        );
        let bare_orders = s(&["orders"]);
        assert_eq!(
            p.evaluate(&EvalContext {
                tables: &bare_orders,
                ..base
            })
            .action,
            Action::Mask
        );
    }

    fn err(classes: &str, rules: &str) -> String {
        Policy::from_yaml_strs(
            &[("bad-classes.yaml", classes)],
            &[("bad-rules.yaml", rules)],
        )
        .unwrap_err()
        .to_string()
    }

    #[test]
    fn errors_name_the_file_and_problem() {
        let ok_rules = "rules: []";
        let e = err("classes:\n  - id: x\n    level: secret\n", ok_rules);
        assert!(
            e.starts_with("bad-classes.yaml:") && e.contains("secret"),
            "{e}"
        );
        let e = err(
            "classes:\n  - id: x\n    level: public\n    colums: [a]\n",
            ok_rules,
        );
        assert!(
            e.starts_with("bad-classes.yaml:") && e.contains("colums"),
            "{e}"
        );
        let e = err(
            "classes:\n  - id: x\n    level: public\n    columns: ['a[']\n",
            ok_rules,
        );
        assert!(
            e.starts_with("bad-classes.yaml:") && e.contains("bad glob"),
            "{e}"
        );
        let e = err(
            "classes:\n  - id: x\n    level: public\n    columns: [a.b.c.d]\n",
            ok_rules,
        );
        assert!(e.contains("at most 3"), "{e}");
        let e = err(
            "classes:\n  - id: x\n    level: public\n    values: [{regex: '(('}]\n",
            ok_rules,
        );
        assert!(
            e.starts_with("bad-classes.yaml:") && e.contains("bad regex"),
            "{e}"
        );
        let e = err(
            "classes:\n  - id: x\n    level: public\n  - id: x\n    level: public\n",
            ok_rules,
        );
        assert!(e.contains("duplicate"), "{e}");
        let e = err("classes: [", ok_rules);
        assert!(e.starts_with("bad-classes.yaml:"), "{e}");
        let e = err(
            CLASSES,
            "rules:\n  - id: r\n    match: {}\n    action: explode\n",
        );
        assert!(
            e.starts_with("bad-rules.yaml:") && e.contains("explode"),
            "{e}"
        );
        let e = err(
            CLASSES,
            "rules:\n  - id: r\n    match: {db: x}\n    action: block\n",
        );
        assert!(e.starts_with("bad-rules.yaml:") && e.contains("db"), "{e}");
        let e = err(
            CLASSES,
            "rules:\n  - id: r\n    match: {tables: '[x'}\n    action: block\n",
        );
        assert!(
            e.starts_with("bad-rules.yaml:") && e.contains("bad glob"),
            "{e}"
        );
        let e = err(
            CLASSES,
            "rules:\n  - id: r\n    match: {level_at_least: top}\n    action: block\n",
        );
        assert!(e.contains("top"), "{e}");
        let e = err(
            CLASSES,
            "rules:\n  - id: r\n    match: {classes: [t.emial]}\n    action: block\n",
        );
        assert!(e.contains("unknown class"), "{e}");
        let e = err(CLASSES, "rules:\n  - id: r\n    action: block\n");
        assert!(e.contains("match"), "{e}");
        let e = err(
            CLASSES,
            "rules:\n  - id: r\n    match: {kind: []}\n    action: block\n",
        );
        assert!(e.contains("empty list"), "{e}");
        let e = err(
            CLASSES,
            "rules:\n  - id: r\n    match: {}\n    action: block\n  - id: r\n    match: {}\n    action: block\n",
        );
        assert!(e.contains("duplicate"), "{e}");
        let e = Policy::from_yaml_strs(
            &[],
            &[
                ("a.yaml", "precedence: first_match"),
                ("b.yaml", "precedence: most_severe"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("b.yaml:") && e.contains("a.yaml"), "{e}");
    }

    #[test]
    fn empty_files_and_empty_policy() {
        let p = Policy::from_yaml_strs(&[("a.yaml", "")], &[("b.yaml", "# nothing\n")]).unwrap();
        assert!(p.class_ids().is_empty());
        assert_eq!(p.evaluate(&ctx("DROP TABLE", &[])), Verdict::default());
        assert_eq!(
            Policy::default().evaluate(&ctx("SELECT", &[])),
            Verdict::default()
        );
    }

    #[test]
    fn load_dir_errors_name_the_file() {
        let base = std::env::temp_dir().join(format!("dbgov-policy-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("classes")).unwrap();
        std::fs::create_dir_all(base.join("rules")).unwrap();
        std::fs::write(base.join("classes/a.yaml"), CLASSES).unwrap();
        std::fs::write(base.join("classes/ignored.txt"), "not yaml").unwrap();
        std::fs::write(
            base.join("rules/20-b.yaml"),
            "rules:\n  - id: second\n    match: {}\n    action: alert\n",
        )
        .unwrap();
        std::fs::write(
            base.join("rules/10-a.yml"),
            "rules:\n  - id: first\n    match: {}\n    action: alert\n",
        )
        .unwrap();
        let p = Policy::load_dir(&base).unwrap();
        assert_eq!(p.rule_ids(), vec!["first", "second"]);
        std::fs::write(
            base.join("rules/30-bad.yaml"),
            "rules:\n  - id: bad\n    match: {}\n    action: nuke\n",
        )
        .unwrap();
        let e = Policy::load_dir(&base).unwrap_err().to_string();
        assert!(e.contains("30-bad.yaml") && e.contains("nuke"), "{e}");
        let e = Policy::load_dir(&base.join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn destructive_ddl_on_a_prod_host_is_blocked_whatever_the_database() {
        let p = Policy::builtin().unwrap();
        let mut c = ctx("DROP TABLE", &[]);
        c.db_name = Some("billing");
        c.host_environment = Some("prod");
        let v = p.evaluate(&c);
        assert_eq!(v.action, Action::Block);
        assert_eq!(v.rules, s(&["block-destructive-ddl-prod-host"]));
        c.host_environment = Some("staging");
        assert_eq!(p.evaluate(&c).action, Action::Allow);
    }

    #[test]
    fn the_first_matching_workload_gives_the_purpose_and_rules_match_on_it() {
        let p = Policy::builtin().unwrap();
        assert!(p.workload_purposes().contains(&"ai.training"));
        let cols = s(&["customers.ssn"]);
        let mut tags = BTreeMap::new();
        tags.insert("framework".to_string(), "langchain-0.2".to_string());
        let v = p.evaluate(&EvalContext {
            tags: &tags,
            ..ctx("SELECT", &cols)
        });
        assert_eq!(v.purpose.as_deref(), Some("ai.agent"));
        assert!(
            v.rules.contains(&"alert-ai-restricted-access".to_string()),
            "{v:?}"
        );
        assert_eq!(v.action, Action::Alert);
        // The same statement from an unmatched workload: no purpose, no alert.
        let v = p.evaluate(&ctx("SELECT", &cols));
        assert_eq!(v.purpose, None);
        assert_eq!(v.action, Action::Allow, "{v:?}");
        // By unit and by application name; schema changes on prod are held.
        let v = p.evaluate(&EvalContext {
            client_unit: Some("ml-train-nightly.service"),
            db_name: Some("prod_shop"),
            ..ctx("ALTER TABLE", &[])
        });
        assert_eq!(v.purpose.as_deref(), Some("ai.training"));
        assert_eq!(v.action, Action::Hold, "{v:?}");
        let v = p.evaluate(&EvalContext {
            db_application: Some("metabase"),
            ..ctx("SELECT", &cols)
        });
        assert_eq!(v.purpose.as_deref(), Some("analytics"));
        assert_eq!(v.action, Action::Allow);
    }

    #[test]
    fn workload_files_are_checked() {
        let bad = [
            "workloads: [{purpose: x, match: {client_purpose: y}}]",
            "workloads: [{purpose: '', match: {}}]",
            "workloads: [{purpose: x, match: {nonsense: 1}}]",
            "workloads: [{purpose: x, match: {tags: {framework: '[' }}}]",
        ];
        for b in bad {
            assert!(
                Policy::from_pack(BUILTIN_CLASSES, &[], &[("w.yaml", b)]).is_err(),
                "{b}"
            );
        }
    }
}
