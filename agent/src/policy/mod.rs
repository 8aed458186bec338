//! TEMPORARY STUB written by the lead so the crate compiles; the policy helper replaces this
//! file wholesale with the real module.
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Public,
    Internal,
    Confidential,
    Restricted,
}
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    #[default]
    Allow,
    Alert,
    Mask,
    Hold,
    Block,
}
pub struct EvalContext<'a> {
    pub engine: &'a str,
    pub db_name: Option<&'a str>,
    pub db_user: Option<&'a str>,
    pub kind: &'a str,
    pub tables: &'a [String],
    pub columns: &'a [String],
    pub literals: &'a [String],
    pub has_where: bool,
    pub client_user: Option<&'a str>,
    pub client_login_user: Option<&'a str>,
    pub client_exe: Option<&'a str>,
    pub client_container_id: Option<&'a str>,
    pub client_groups: &'a [String],
    pub host_environment: Option<&'a str>,
    pub host_labels: &'a BTreeMap<String, String>,
}
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    pub classes: Vec<String>,
    pub level: Option<Level>,
    pub action: Action,
    pub rules: Vec<String>,
    pub severity: Option<String>,
    pub message: Option<String>,
}
#[derive(Debug, thiserror::Error)]
#[error("policy stub")]
pub struct PolicyError;
pub struct Policy;
impl Policy {
    pub fn load_dir(_d: &std::path::Path) -> Result<Policy, PolicyError> {
        Ok(Policy)
    }
    pub fn builtin() -> Result<Policy, PolicyError> {
        Ok(Policy)
    }
    pub fn evaluate(&self, _c: &EvalContext) -> Verdict {
        Verdict::default()
    }
}
