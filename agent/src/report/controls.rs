//! Maps report sections to framework controls (`--control-map FILE`). The default map covers
//! SOC 2 CC6.1, CC6.6, CC7.2 and CC8.1, and PCI DSS 10.2.
use serde::{Deserialize, Serialize};

use super::{Report, ReportError};

/// The report's sections, by the names a control map uses.
pub const SECTIONS: &[&str] = &[
    "scope",
    "coverage",
    "sensitive",
    "enforcement",
    "schema",
    "activity",
    "top",
    "what_if",
];

/// One control and the sections that give evidence for it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    pub framework: String,
    pub id: String,
    pub title: String,
    pub sections: Vec<String>,
}

/// `controls: [...]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ControlMap {
    pub controls: Vec<Control>,
}

/// A control with the evidence the report has for it.
#[derive(Clone, Debug, Serialize)]
pub struct ControlRow {
    pub framework: String,
    pub id: String,
    pub title: String,
    pub sections: Vec<String>,
    /// One line of figures from those sections.
    pub evidence: String,
}

const DEFAULT_MAP: &str = r#"
controls:
  - framework: SOC 2
    id: CC6.1
    title: Logical access to protected information is restricted and attributed
    sections: [sensitive, enforcement]
  - framework: SOC 2
    id: CC6.6
    title: Access from outside the system boundary is controlled
    sections: [enforcement, coverage]
  - framework: SOC 2
    id: CC7.2
    title: System components are monitored for anomalies
    sections: [scope, coverage, enforcement, activity]
  - framework: SOC 2
    id: CC8.1
    title: Changes are authorised, recorded and traceable
    sections: [schema]
  - framework: PCI DSS
    id: "10.2"
    title: Audit logs record user access to cardholder data and actions by administrators
    sections: [scope, sensitive, schema, coverage]
"#;

impl ControlMap {
    /// The built-in map.
    pub fn builtin() -> Self {
        // The constant above parses (a unit test holds it to that).
        serde_yaml::from_str(DEFAULT_MAP).unwrap_or(Self {
            controls: Vec::new(),
        })
    }

    /// Reads a map; every section it names must exist.
    pub fn load(path: &std::path::Path) -> Result<Self, ReportError> {
        let err = |msg: String| ReportError::ControlMap {
            path: path.display().to_string(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let m: Self = serde_yaml::from_str(&text).map_err(|e| err(e.to_string()))?;
        for c in &m.controls {
            for s in &c.sections {
                if !SECTIONS.contains(&s.as_str()) {
                    return Err(err(format!(
                        "control {} names section {s:?}; sections are {}",
                        c.id,
                        SECTIONS.join(", ")
                    )));
                }
            }
        }
        Ok(m)
    }

    pub fn rows(&self, r: &Report) -> Vec<ControlRow> {
        self.controls
            .iter()
            .map(|c| ControlRow {
                framework: c.framework.clone(),
                id: c.id.clone(),
                title: c.title.clone(),
                sections: c.sections.clone(),
                evidence: c
                    .sections
                    .iter()
                    .map(|s| evidence(s, r))
                    .collect::<Vec<_>>()
                    .join("; "),
            })
            .collect()
    }
}

/// One section's figures in a few words.
fn evidence(section: &str, r: &Report) -> String {
    match section {
        "scope" => format!("{} events, chain {}", r.scope.events, r.integrity.status),
        "coverage" => format!(
            "{}% of {} sessions fully parsed",
            r.coverage.fully_parsed_percent, r.coverage.sessions
        ),
        "sensitive" => {
            let people = r.sensitive.iter().filter(|a| a.identity.person).count();
            format!(
                "{} class/identity pairs ({} for people)",
                r.sensitive.len(),
                people
            )
        }
        "enforcement" => format!(
            "{} blocked, {} held, {} alerts",
            r.enforcement.blocked, r.enforcement.held, r.enforcement.alerts
        ),
        "schema" => format!("{} schema changes", r.schema_change_count),
        "activity" => format!("{} statements", r.statements),
        "top" => format!("{} databases", r.top_statements.len()),
        "what_if" => match &r.what_if {
            Some(w) => format!("{} verdicts would change", w.changed),
            None => "no candidate policies".to_owned(),
        },
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_map_parses_and_names_real_sections() {
        let m: ControlMap = serde_yaml::from_str(DEFAULT_MAP).expect("parses");
        let ids: Vec<&str> = m.controls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["CC6.1", "CC6.6", "CC7.2", "CC8.1", "10.2"]);
        for c in &m.controls {
            for s in &c.sections {
                assert!(SECTIONS.contains(&s.as_str()), "{s}");
            }
        }
    }
}
