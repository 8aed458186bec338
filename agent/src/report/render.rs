//! Renders a [`Report`]: one self-contained HTML page (inline styles, inline SVG charts, no
//! scripts, fonts or links to fetch), Markdown tables with the same content, or JSON.
use std::fmt::Write;

use super::{Entry, Report, ReportError};

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Markdown,
    Json,
}

pub fn render(r: &Report, f: Format) -> Result<String, ReportError> {
    match f {
        Format::Json => {
            serde_json::to_string_pretty(r).map_err(|e| ReportError::Render(e.to_string()))
        }
        Format::Markdown => Ok(markdown(r)),
        Format::Html => Ok(html(r)),
    }
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A Markdown table cell.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

/// Label and value rows.
type Pairs = Vec<(String, String)>;
/// Table rows of cells.
type Rows = Vec<Vec<String>>;

/// The rows of each section as plain cells, shared by both table formats.
struct Tables {
    scope: Vec<(String, String)>,
    coverage: Vec<(String, String)>,
    gaps: Vec<Vec<String>>,
    sensitive: Vec<Vec<String>>,
    enforcement_summary: Vec<(String, String)>,
    enforcement: Vec<Vec<String>>,
    schema: Vec<Vec<String>>,
    top: Vec<(String, Vec<Vec<String>>)>,
    what_if: Option<(Pairs, Rows)>,
    controls: Vec<Vec<String>>,
}

fn entry_row(e: &Entry, with_verdict: bool) -> Vec<String> {
    let mut v = vec![
        e.time
            .chars()
            .take(19)
            .collect::<String>()
            .replace('T', " "),
        e.host.clone(),
        e.database.clone(),
        e.identity.clone(),
    ];
    if with_verdict {
        v.push(e.verdict.clone());
        v.push(e.rules.join(", "));
        v.push(e.approval.clone().unwrap_or_else(|| "-".into()));
    }
    v.push(e.statement.clone());
    v.push(e.outcome.clone());
    v
}

fn tables(r: &Report) -> Tables {
    let i = &r.integrity;
    let mut scope = vec![
        ("Input".into(), r.input.clone()),
        (
            "Time range".into(),
            format!("{} to {}", opt(&r.scope.from), opt(&r.scope.to)),
        ),
    ];
    if r.scope.unreadable > 0 {
        scope.push((
            "Unreadable lines".into(),
            format!("{} (not events of this schema)", r.scope.unreadable),
        ));
    }
    if r.scope.since.is_some() || r.scope.until.is_some() {
        scope.push((
            "Selected".into(),
            format!(
                "from {} until {} ({} events outside)",
                opt(&r.scope.since),
                opt(&r.scope.until),
                r.scope.outside_range
            ),
        ));
    }
    scope.extend([
        (
            "Hosts".into(),
            r.scope.hosts.iter().cloned().collect::<Vec<_>>().join(", "),
        ),
        (
            "Databases".into(),
            r.scope
                .databases
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "Events".into(),
            format!(
                "{} ({})",
                r.scope.events,
                r.scope
                    .by_kind
                    .iter()
                    .map(|(k, n)| format!("{k}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (
            "Integrity".into(),
            match &i.first_fault {
                None => format!(
                    "chain intact: {} stream(s), {} checkpoints, signatures {}, {} events after the last checkpoint{}",
                    i.streams,
                    i.checkpoints,
                    if i.signatures_checked { "verified" } else { "not checked (no --pubkey)" },
                    i.unsigned_tail,
                    if i.duplicates > 0 { format!(", {} re-deliveries ignored", i.duplicates) } else { String::new() }
                ),
                Some(f) => format!("FAULT: {} at {f}", i.status),
            },
        ),
    ]);
    let c = &r.coverage;
    let coverage = vec![
        ("Sessions".into(), c.sessions.to_string()),
        (
            "Fully parsed".into(),
            format!("{}%", c.fully_parsed_percent),
        ),
        ("With gaps".into(), c.sessions_with_gaps.to_string()),
        (
            "Not inspectable (TLS without plaintext, compression)".into(),
            c.not_inspectable.to_string(),
        ),
        ("Joined mid-session".into(), c.mid_session.to_string()),
        (
            "Gaps by reason".into(),
            if c.gaps_by_reason.is_empty() {
                "none".into()
            } else {
                c.gaps_by_reason
                    .iter()
                    .map(|(k, t)| format!("{k}: {} ({} bytes)", t.events, t.bytes))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
    ];
    let gaps = c
        .gaps
        .iter()
        .map(|g| {
            vec![
                g.time
                    .chars()
                    .take(19)
                    .collect::<String>()
                    .replace('T', " "),
                g.host.clone(),
                g.reason.clone(),
                g.bytes.to_string(),
                g.detail.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let sensitive = r
        .sensitive
        .iter()
        .map(|a| {
            vec![
                a.class.clone(),
                a.level.clone(),
                if a.identity.person {
                    "person"
                } else {
                    "service"
                }
                .into(),
                a.label.clone(),
                opt(&a.identity.db_user).to_owned(),
                opt(&a.identity.container).to_owned(),
                a.reads.to_string(),
                a.writes.to_string(),
                a.tables.iter().cloned().collect::<Vec<_>>().join(", "),
            ]
        })
        .collect();
    let e = &r.enforcement;
    let enforcement_summary = vec![
        ("Blocked".into(), e.blocked.to_string()),
        ("Held".into(), e.held.to_string()),
        (
            "Hold decisions".into(),
            if e.hold_outcomes.is_empty() {
                "none".into()
            } else {
                e.hold_outcomes
                    .iter()
                    .map(|(k, n)| format!("{k}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
        ("Alerts".into(), e.alerts.to_string()),
        ("Masked".into(), e.masked.to_string()),
    ];
    let enforcement = e.entries.iter().map(|x| entry_row(x, true)).collect();
    let schema = r
        .schema_changes
        .iter()
        .map(|x| entry_row(x, false))
        .collect();
    let top = r
        .top_statements
        .iter()
        .map(|(db, v)| {
            (
                db.clone(),
                v.iter()
                    .map(|t| {
                        vec![
                            t.count.to_string(),
                            t.text.clone(),
                            t.classes.iter().cloned().collect::<Vec<_>>().join(", "),
                        ]
                    })
                    .collect(),
            )
        })
        .collect();
    let what_if = r.what_if.as_ref().map(|w| {
        (
            vec![
                ("Candidate policies".into(), w.policies.clone()),
                ("Statements judged again".into(), w.judged.to_string()),
                ("Verdicts that would change".into(), w.changed.to_string()),
            ],
            w.changes
                .iter()
                .map(|c| {
                    vec![
                        c.rule.clone(),
                        c.old.clone(),
                        c.new.clone(),
                        c.count.to_string(),
                        c.examples.join(" · "),
                    ]
                })
                .collect(),
        )
    });
    let controls = r
        .controls
        .iter()
        .map(|c| {
            vec![
                c.framework.clone(),
                c.id.clone(),
                c.title.clone(),
                c.sections.join(", "),
                c.evidence.clone(),
            ]
        })
        .collect();
    Tables {
        scope,
        coverage,
        gaps,
        sensitive,
        enforcement_summary,
        enforcement,
        schema,
        top,
        what_if,
        controls,
    }
}

const SENSITIVE_HEAD: &[&str] = &[
    "Class",
    "Level",
    "Kind",
    "Who",
    "DB user",
    "Container",
    "Reads",
    "Writes",
    "Tables",
];
const ENFORCEMENT_HEAD: &[&str] = &[
    "Time",
    "Host",
    "Database",
    "Who",
    "Verdict",
    "Rules",
    "Approval",
    "Statement",
    "Outcome",
];
const SCHEMA_HEAD: &[&str] = &["Time", "Host", "Database", "Who", "Statement", "Outcome"];
const GAP_HEAD: &[&str] = &["Time", "Host", "Reason", "Bytes", "Detail"];
const TOP_HEAD: &[&str] = &["Count", "Statement", "Classes"];
const WHATIF_HEAD: &[&str] = &["Rule", "Verdict now", "Would be", "Statements", "Examples"];
const CONTROL_HEAD: &[&str] = &["Framework", "Control", "Title", "Sections", "Evidence"];

fn md_kv(o: &mut String, rows: &[(String, String)]) {
    o.push_str("| | |\n|---|---|\n");
    for (k, v) in rows {
        let _ = writeln!(o, "| {} | {} |", md(k), md(v));
    }
    o.push('\n');
}

fn md_table(o: &mut String, head: &[&str], rows: &[Vec<String>], total: Option<u64>) {
    if rows.is_empty() {
        o.push_str("None.\n\n");
        return;
    }
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let _ = writeln!(o, "|{}", "---|".repeat(head.len()));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| md(c)).collect();
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
    if let Some(t) = total.filter(|t| *t > rows.len() as u64) {
        let _ = writeln!(o, "\n{} of {t} shown.", rows.len());
    }
    o.push('\n');
}

pub fn markdown(r: &Report) -> String {
    let t = tables(r);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# dbgov audit report\n\nGenerated {} from `{}`.\n",
        r.generated_at, r.input
    );
    o.push_str("## 1. Scope and integrity\n\n");
    md_kv(&mut o, &t.scope);
    o.push_str("## 2. Coverage\n\n");
    md_kv(&mut o, &t.coverage);
    o.push_str("Gap events:\n\n");
    md_table(&mut o, GAP_HEAD, &t.gaps, None);
    o.push_str("## 3. Sensitive data access\n\n");
    md_table(&mut o, SENSITIVE_HEAD, &t.sensitive, None);
    o.push_str("## 4. Enforcement\n\n");
    md_kv(&mut o, &t.enforcement_summary);
    md_table(&mut o, ENFORCEMENT_HEAD, &t.enforcement, None);
    o.push_str("## 5. Schema changes\n\n");
    md_table(&mut o, SCHEMA_HEAD, &t.schema, Some(r.schema_change_count));
    o.push_str("## 6. Activity over time\n\n");
    let mut act = Vec::new();
    for (db, hours) in &r.activity {
        for (h, c) in hours {
            act.push(vec![
                db.clone(),
                format!("{}:00", h.replace('T', " ")),
                c.statements.to_string(),
                c.errors.to_string(),
            ]);
        }
    }
    md_table(
        &mut o,
        &["Database", "Hour (UTC)", "Statements", "Errors"],
        &act,
        None,
    );
    o.push_str("## 7. Top statements\n\n");
    for (db, rows) in &t.top {
        let _ = writeln!(o, "### {}\n", md(db));
        md_table(&mut o, TOP_HEAD, rows, None);
    }
    if let Some((kv, rows)) = &t.what_if {
        o.push_str("## What-if: candidate policies on this trail\n\n");
        md_kv(&mut o, kv);
        md_table(&mut o, WHATIF_HEAD, rows, None);
    }
    o.push_str("## Controls\n\n");
    md_table(&mut o, CONTROL_HEAD, &t.controls, None);
    o
}

fn h_kv(o: &mut String, rows: &[(String, String)]) {
    o.push_str("<table class=\"kv\">");
    for (k, v) in rows {
        let _ = write!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    o.push_str("</table>\n");
}

fn h_table(o: &mut String, head: &[&str], rows: &[Vec<String>], total: Option<u64>) {
    if rows.is_empty() {
        o.push_str("<p class=\"none\">None.</p>\n");
        return;
    }
    o.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr></thead><tbody>");
    for r in rows {
        o.push_str("<tr>");
        for c in r {
            let _ = write!(o, "<td>{}</td>", esc(c));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>\n");
    if let Some(t) = total.filter(|t| *t > rows.len() as u64) {
        let _ = writeln!(o, "<p>{} of {t} shown.</p>", rows.len());
    }
}

/// A bar chart of statements (and errors) per hour of one database.
fn chart(db: &str, hours: &std::collections::BTreeMap<String, super::Hourly>) -> String {
    let (w, h, pad) = (720.0_f64, 160.0_f64, 28.0_f64);
    let n = hours.len().max(1) as f64;
    let max = hours
        .values()
        .map(|c| c.statements)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bw = ((w - 2.0 * pad) / n).max(1.0);
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"Statements per hour, {0}\"><title>Statements per hour, {0}</title>",
        esc(db)
    );
    let _ = write!(
        o,
        "<line x1=\"{pad}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#888\"/>",
        y = h - pad,
        x2 = w - pad
    );
    for (i, (hour, c)) in hours.iter().enumerate() {
        let x = pad + i as f64 * bw;
        let bh = (c.statements as f64 / max) * (h - 2.0 * pad);
        let eh = (c.errors as f64 / max) * (h - 2.0 * pad);
        let _ = write!(
            o,
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#4a7ab5\"><title>{} {}:00 UTC: {} statements, {} errors</title></rect>",
            h - pad - bh,
            (bw - 1.0).max(0.5),
            esc(db),
            esc(&hour.replace('T', " ")),
            c.statements,
            c.errors
        );
        if c.errors > 0 {
            let _ = write!(
                o,
                "<rect class=\"err\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{eh:.1}\" fill=\"#c0392b\"/>",
                h - pad - eh,
                (bw - 1.0).max(0.5)
            );
        }
    }
    let first = hours
        .keys()
        .next()
        .map(|k| k.replace('T', " "))
        .unwrap_or_default();
    let last = hours
        .keys()
        .last()
        .map(|k| k.replace('T', " "))
        .unwrap_or_default();
    let _ = write!(
        o,
        "<text x=\"{pad}\" y=\"{}\" font-size=\"11\">{}:00</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}:00</text><text x=\"{pad}\" y=\"14\" font-size=\"11\">max {} per hour</text></svg>",
        h - 8.0,
        esc(&first),
        w - pad,
        h - 8.0,
        esc(&last),
        max as u64
    );
    o
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#1d2330;padding:0 1em}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:2px solid #d8dde6;padding-bottom:.2em;margin-top:1.8em}\
h3{font-size:1.05em}table{border-collapse:collapse;width:100%;margin:.5em 0 1em}th,td{border:1px solid #d8dde6;padding:.3em .5em;text-align:left;vertical-align:top}\
thead th{background:#eef1f6}table.kv{width:auto}table.kv th{background:#f6f7fa;font-weight:600}td{word-break:break-word}\
.none{color:#667}.fault{color:#b00020;font-weight:700}.ok{color:#1b7f3b;font-weight:700}.chart{display:block;margin:.5em 0 1.2em}\
.meta{color:#556}@media print{body{margin:0;max-width:none;font-size:11px}h2{page-break-after:avoid}table,svg{page-break-inside:avoid}}";

pub fn html(r: &Report) -> String {
    let t = tables(r);
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>dbgov audit report</title><style>{STYLE}</style></head><body>\n<h1>dbgov audit report</h1><p class=\"meta\">Generated {} from <code>{}</code>.</p>\n",
        esc(&r.generated_at),
        esc(&r.input)
    );
    let status = if r.integrity.first_fault.is_none() {
        "<p class=\"ok\">Trail complete and unaltered.</p>"
    } else {
        "<p class=\"fault\">The trail has a fault: see Integrity.</p>"
    };
    let _ = write!(o, "<h2 id=\"scope\">1. Scope and integrity</h2>{status}");
    h_kv(&mut o, &t.scope);
    o.push_str("<h2 id=\"coverage\">2. Coverage</h2>");
    h_kv(&mut o, &t.coverage);
    o.push_str("<h3>Gap events</h3>");
    h_table(&mut o, GAP_HEAD, &t.gaps, None);
    o.push_str("<h2 id=\"sensitive\">3. Sensitive data access</h2><p>Per data class and level: who read or wrote it, how often, on which tables. People (a login user is known) come before service accounts.</p>");
    h_table(&mut o, SENSITIVE_HEAD, &t.sensitive, None);
    o.push_str("<h2 id=\"enforcement\">4. Enforcement</h2>");
    h_kv(&mut o, &t.enforcement_summary);
    h_table(&mut o, ENFORCEMENT_HEAD, &t.enforcement, None);
    o.push_str("<h2 id=\"schema\">5. Schema changes</h2>");
    h_table(&mut o, SCHEMA_HEAD, &t.schema, Some(r.schema_change_count));
    o.push_str("<h2 id=\"activity\">6. Activity over time</h2><p>Statements per hour (UTC) per database; errors in red.</p>");
    if r.activity.is_empty() {
        o.push_str("<p class=\"none\">None.</p>");
    }
    for (db, hours) in &r.activity {
        let _ = write!(o, "<h3>{}</h3>{}", esc(db), chart(db, hours));
    }
    o.push_str("<h2 id=\"top\">7. Top statements</h2>");
    for (db, rows) in &t.top {
        let _ = write!(o, "<h3>{}</h3>", esc(db));
        h_table(&mut o, TOP_HEAD, rows, None);
    }
    if let Some((kv, rows)) = &t.what_if {
        o.push_str("<h2 id=\"what_if\">What-if: candidate policies on this trail</h2>");
        h_kv(&mut o, kv);
        h_table(&mut o, WHATIF_HEAD, rows, None);
    }
    o.push_str("<h2 id=\"controls\">Controls</h2>");
    h_table(&mut o, CONTROL_HEAD, &t.controls, None);
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_has_no_external_resources() {
        let mut b = super::super::Builder::new("jsonl:<x>", None, None);
        b.push_line(r#"{"time":"2026-12-03T10:00:00Z","kind":"statement","host":{"name":"h"},"db":{"engine":"postgresql","name":"shop"},"client":{"user":"app"},"statement":{"text":"SELECT '<script>' FROM t","kind":"SELECT","fingerprint":"f1","tables":["t"]},"policy":{"verdict":"block","rules":["r1"]},"outcome":{"status":"error","error_code":"42501"}}"#);
        let r = b.finish(
            super::super::IntegrityResult {
                status: "intact".into(),
                ..Default::default()
            },
            &super::super::controls::ControlMap::builtin(),
        );
        let h = html(&r);
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;"));
        for banned in ["src=", "href=", "@import", "url("] {
            assert!(!h.contains(banned), "{banned}");
        }
        assert!(h.contains("<svg"));
        let m = markdown(&r);
        assert!(m.contains("| Blocked | 1 |"), "{m}");
        assert_eq!(r.enforcement.blocked, 1);
        assert_eq!(r.activity["postgresql/shop"]["2026-12-03T10"].errors, 1);
    }
}
