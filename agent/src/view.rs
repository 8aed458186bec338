//! The live view: one line per event for a person at a terminal (`--output pretty` and
//! `dbgov tail`). Pure: an [`Event`] in, one line out, cut to a width, coloured or not.
//!
//! ```text
//! 15:16:03 alice→postgres   psql     pg/shop    ALERT [pii.email,pii.ssn] 1 row SELECT * FROM customers WHERE id = ?
//! ```
//!
//! Every captured string is cleaned before it is shown: control characters (newlines, tabs,
//! escape sequences a client could have put in a statement) become spaces, so a line is one
//! line and nothing in the trail can drive the terminal.
use anstyle::{AnsiColor, Effects, Style};
use unicode_width::UnicodeWidthChar;

use crate::audit::{Action, Event, Kind, Status};

/// How lines are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViewOptions {
    /// ANSI colours.
    pub color: bool,
    /// Cut every line to this many terminal columns (`None`: never cut).
    pub width: Option<usize>,
    /// Times in UTC instead of the local time zone.
    pub utc: bool,
}

const DIM: Style = Style::new().effects(Effects::DIMMED);
const BOLD: Style = Style::new().effects(Effects::BOLD);
const RED: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)))
    .effects(Effects::BOLD);
const YELLOW: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
const CYAN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
const MAGENTA: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Magenta)));
const PLAIN: Style = Style::new();

/// One line under construction: tracks the visible width apart from the escape codes and
/// stops at the width limit with `…`.
struct Line<'o> {
    out: String,
    used: usize,
    opts: &'o ViewOptions,
    full: bool,
}

impl<'o> Line<'o> {
    fn new(opts: &'o ViewOptions) -> Self {
        Self {
            out: String::with_capacity(256),
            used: 0,
            opts,
            full: false,
        }
    }

    /// Appends `text` (cleaned of control characters, runs of blanks collapsed), padded with
    /// spaces to `pad` columns.
    fn push(&mut self, text: &str, style: Style, pad: usize) {
        if self.full {
            return;
        }
        let styled = self.opts.color && style != PLAIN;
        if styled {
            self.out.push_str(&style.render().to_string());
        }
        let mut shown = 0usize;
        let mut blank = false;
        for c in text.chars() {
            let c = if c.is_control() || c.is_whitespace() {
                ' '
            } else {
                c
            };
            if c == ' ' {
                if blank {
                    continue;
                }
                blank = true;
            } else {
                blank = false;
            }
            let w = c.width().unwrap_or(0);
            if !self.fits(w) {
                self.cut();
                break;
            }
            self.out.push(c);
            self.used += w;
            shown += w;
        }
        if styled {
            self.out.push_str(&style.render_reset().to_string());
        }
        while shown < pad && !self.full {
            if !self.fits(1) {
                self.cut();
                break;
            }
            self.out.push(' ');
            self.used += 1;
            shown += 1;
        }
    }

    /// A separator: one space.
    fn sp(&mut self) {
        self.push(" ", PLAIN, 0);
    }

    /// Room for `w` more columns, keeping one for `…` unless this is the very end.
    fn fits(&self, w: usize) -> bool {
        match self.opts.width {
            Some(max) => self.used + w < max,
            None => true,
        }
    }

    fn cut(&mut self) {
        if let Some(max) = self.opts.width {
            if self.used < max {
                self.out.push('…');
                self.used += 1;
            }
        }
        self.full = true;
    }

    fn finish(mut self) -> String {
        // Trailing padding is noise.
        if !self.opts.color {
            let t = self.out.trim_end().len();
            self.out.truncate(t);
        }
        self.out
    }
}

/// The clock time of an event: `HH:MM:SS`, local unless `utc`.
fn clock(time: &str, utc: bool) -> String {
    match chrono::DateTime::parse_from_rfc3339(time) {
        Ok(t) if utc => t.with_timezone(&chrono::Utc).format("%H:%M:%S").to_string(),
        Ok(t) => t
            .with_timezone(&chrono::Local)
            .format("%H:%M:%S")
            .to_string(),
        Err(_) => time.chars().skip(11).take(8).collect(),
    }
}

/// `alice→postgres`: the login user behind the OS user, when they differ; the database user
/// for a client with no local process.
fn who(ev: &Event) -> String {
    let client = ev.client.as_ref();
    let user = client.and_then(|c| c.user.clone().or_else(|| c.uid.map(|u| u.to_string())));
    let login = client.and_then(|c| c.login_user.clone());
    match (login, user) {
        (Some(l), Some(u)) if l != u => format!("{l}→{u}"),
        (_, Some(u)) => u,
        (Some(l), None) => l,
        (None, None) => match ev.db.as_ref().and_then(|d| d.user.as_deref()) {
            Some(u) => format!("db:{u}"),
            None => "?".into(),
        },
    }
}

/// The client program: the executable's name, else `comm`, else the address.
fn program(ev: &Event) -> String {
    let Some(c) = ev.client.as_ref() else {
        return "-".into();
    };
    if let Some(exe) = &c.exe {
        return exe.rsplit('/').next().unwrap_or(exe).to_owned();
    }
    c.comm
        .clone()
        .or_else(|| c.addr.clone())
        .unwrap_or_default()
}

/// `pg/shop` or `my/shop`.
fn database(ev: &Event) -> String {
    let Some(db) = ev.db.as_ref() else {
        return "-".into();
    };
    let engine = match db.engine.as_ref() {
        "postgresql" => "pg",
        "mysql" => "my",
        other => other,
    };
    format!("{engine}/{}", db.name.as_deref().unwrap_or("-"))
}

fn verdict(a: Action) -> (&'static str, Style) {
    match a {
        Action::Allow => ("allow", DIM),
        Action::Alert => ("ALERT", YELLOW.effects(Effects::BOLD)),
        Action::Mask => ("MASK", MAGENTA.effects(Effects::BOLD)),
        Action::Hold => ("HOLD", YELLOW.effects(Effects::BOLD)),
        Action::Block => ("BLOCK", RED),
    }
}

/// The identity columns every session-bound line starts with.
fn prefix(line: &mut Line<'_>, ev: &Event, opts: &ViewOptions) {
    line.push(&clock(&ev.time, opts.utc), DIM, 0);
    line.sp();
    line.push(&who(ev), BOLD, WHO);
    line.sp();
    line.push(&program(ev), PLAIN, PROGRAM);
    line.sp();
    line.push(&database(ev), CYAN, DATABASE);
    line.sp();
}

/// Column widths (longer values push the rest of the line right).
const WHO: usize = 16;
const PROGRAM: usize = 8;
const DATABASE: usize = 10;

/// One event as one line (no newline).
pub fn render(ev: &Event, opts: &ViewOptions) -> String {
    let mut line = Line::new(opts);
    match ev.kind {
        Kind::Statement => {
            prefix(&mut line, ev, opts);
            // Why it runs, when the policy pack knows (`client.purpose`).
            if let Some(p) = ev.client.as_ref().and_then(|c| c.purpose.as_deref()) {
                line.push(&format!("({p})"), CYAN, 0);
                line.sp();
            }
            let (word, style) = verdict(ev.policy.as_ref().map(|p| p.verdict).unwrap_or_default());
            line.push(word, style, 5);
            line.sp();
            let classes = ev
                .classification
                .as_ref()
                .map(|c| c.classes.join(","))
                .unwrap_or_default();
            if classes.is_empty() {
                line.push("-", DIM, 0);
            } else {
                line.push(&format!("[{classes}]"), MAGENTA, 0);
            }
            line.sp();
            match ev.outcome.as_ref() {
                Some(o) => match o.status {
                    Status::Ok => match o.rows {
                        Some(1) => line.push("1 row", PLAIN, 0),
                        Some(n) => line.push(&format!("{n} rows"), PLAIN, 0),
                        None => line.push("ok", PLAIN, 0),
                    },
                    Status::Error => line.push(
                        &format!("ERR {}", o.error_code.as_deref().unwrap_or("?")),
                        RED,
                        0,
                    ),
                    Status::Incomplete => line.push("incomplete", YELLOW, 0),
                },
                None => line.push("-", DIM, 0),
            }
            line.sp();
            let st = ev.statement.as_ref();
            let text = st.and_then(|s| s.text.as_deref()).unwrap_or("");
            if text.is_empty() {
                let kind = st.and_then(|s| s.kind.as_deref()).unwrap_or("statement");
                line.push(&format!("({kind}, no text)"), DIM, 0);
            } else {
                line.push(text, PLAIN, 0);
            }
        }
        Kind::SessionStart | Kind::SessionEnd => {
            prefix(&mut line, ev, opts);
            let start = ev.kind == Kind::SessionStart;
            line.push(
                if start {
                    "session start"
                } else {
                    "session end"
                },
                if start { CYAN } else { DIM },
                0,
            );
            if let Some(s) = ev.session.as_ref() {
                let mut detail = format!(" {}", s.transport);
                if let Some(addr) = ev.server.as_ref().and_then(|s| s.addr.as_deref()) {
                    detail.push_str(&format!(" to {addr}"));
                }
                if s.tls {
                    detail.push_str(" tls");
                }
                if !s.inspectable {
                    detail.push_str(" (not inspectable)");
                }
                line.push(&detail, DIM, 0);
            }
        }
        Kind::Gap => {
            line.push(&clock(&ev.time, opts.utc), DIM, 0);
            line.sp();
            if ev.session.is_some() {
                line.push(&who(ev), BOLD, WHO);
                line.sp();
                line.push(&program(ev), PLAIN, PROGRAM);
                line.sp();
                line.push(&database(ev), CYAN, DATABASE);
                line.sp();
            } else {
                line.push("host", BOLD, WHO);
                line.sp();
            }
            line.push("GAP", YELLOW.effects(Effects::BOLD), 5);
            line.sp();
            if let Some(g) = ev.gap.as_ref() {
                let mut text = g.reason.as_str().to_owned();
                if let Some(n) = g.events {
                    text.push_str(&format!(" {n} events"));
                }
                if g.bytes > 0 {
                    text.push_str(&format!(" {} bytes", g.bytes));
                }
                if let Some(f) = g.flow {
                    text.push_str(match f {
                        crate::audit::Flow::ClientToServer => " client→server",
                        crate::audit::Flow::ServerToClient => " server→client",
                    });
                }
                line.push(&text, YELLOW, 0);
                if let Some(d) = g.detail.as_deref() {
                    line.push(&format!(" ({d})"), DIM, 0);
                }
            }
        }
        Kind::Checkpoint => {
            line.push(&clock(&ev.time, opts.utc), DIM, 0);
            line.sp();
            let text = match ev.checkpoint.as_ref() {
                Some(c) => format!(
                    "checkpoint: events {}–{} signed by key {}",
                    c.first_seq, c.last_seq, c.key_id
                ),
                None => "checkpoint".to_owned(),
            };
            line.push(&text, DIM, 0);
        }
        Kind::Approval => {
            line.push(&clock(&ev.time, opts.utc), DIM, 0);
            line.sp();
            line.push(&who(ev), BOLD, WHO);
            line.sp();
            line.push(&program(ev), PLAIN, PROGRAM);
            line.sp();
            line.push(&database(ev), CYAN, DATABASE);
            line.sp();
            line.push("HOLD", YELLOW.effects(Effects::BOLD), 5);
            line.sp();
            if let Some(a) = ev.approval.as_ref() {
                let status = serde_json::to_value(a.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let mut text = format!("{} {status}", a.id);
                if let Some(by) = a.by.as_deref() {
                    text.push_str(&format!(" by {by}"));
                }
                line.push(&text, YELLOW, 0);
            }
            if let Some(t) = ev.statement.as_ref().and_then(|s| s.text.as_deref()) {
                line.sp();
                line.push(t, PLAIN, 0);
            }
        }
    }
    line.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::*;

    fn statement() -> Event {
        let mut ev: Event = serde_json::from_str(
            r#"{"schema":"dbgov.audit/v1","event_id":"e","time":"2026-12-02T15:16:03.123456789Z",
            "kind":"statement","host":{"name":"h","id":null,"environment":null,"labels":{}},
            "client":{"pid":1,"exe":"/usr/bin/psql","comm":"psql","cmdline":null,"uid":26,
              "user":"postgres","gid":26,"groups":[],"login_uid":1000,"login_user":"alice",
              "cgroup":null,"container_id":null,"pod_uid":null,"unit":null,"ancestors":[],"addr":null},
            "db":{"engine":"postgresql","user":"postgres","name":"shop","application":"psql"},
            "statement":{"text":"SELECT *\n\tFROM customers WHERE id = ?","kind":"select",
              "prepared":false,"name":null,"params":null,"param_values":null,"fingerprint":null,
              "tables":[],"columns":{"read":[],"written":[]},"parse_error":null,"copy_bytes":null,
              "truncated":false},
            "outcome":{"status":"ok","rows":1,"error_code":null,"error_message":null,"duration_us":5},
            "classification":{"classes":["pii.email","pii.ssn"],"level":"restricted"},
            "policy":{"verdict":"block","rules":["r"],"severity":null,"message":null}}"#,
        )
        .expect("fixture");
        ev.client.as_mut().expect("client").cmdline = None;
        ev
    }

    const UTC: ViewOptions = ViewOptions {
        color: false,
        width: None,
        utc: true,
    };

    #[test]
    fn a_statement_line_names_person_program_db_verdict_classes_rows_and_text() {
        let l = render(&statement(), &UTC);
        assert_eq!(
            l,
            "15:16:03 alice→postgres   psql     pg/shop    BLOCK [pii.email,pii.ssn] 1 row SELECT * FROM customers WHERE id = ?"
        );
    }

    #[test]
    fn the_purpose_shows_when_known() {
        let mut ev = statement();
        ev.client.as_mut().expect("client").purpose = Some("ai.training".into());
        let l = render(&ev, &UTC);
        assert!(l.contains("pg/shop    (ai.training) BLOCK "), "{l:?}");
    }

    #[test]
    fn cut_to_the_width_counting_columns_not_bytes() {
        for w in [20, 47, 80] {
            let l = render(
                &statement(),
                &ViewOptions {
                    width: Some(w),
                    ..UTC
                },
            );
            let cols: usize = l.chars().map(|c| c.width().unwrap_or(0)).sum();
            assert_eq!(cols, w, "{l:?}");
            assert!(l.ends_with('…'), "{l:?}");
        }
    }

    #[test]
    fn colour_codes_only_when_asked_and_never_from_the_trail() {
        let mut ev = statement();
        ev.statement.as_mut().expect("st").text = Some("SELECT '\u{1b}[2J'".into());
        let plain = render(&ev, &UTC);
        assert!(!plain.contains('\u{1b}'), "{plain:?}");
        let coloured = render(&ev, &ViewOptions { color: true, ..UTC });
        assert!(
            coloured.contains("\u{1b}[1m\u{1b}[31mBLOCK"),
            "{coloured:?}"
        );
        // The only escapes are the ones the view wrote: the statement's ESC became a space.
        assert!(coloured.contains("SELECT ' [2J'"), "{coloured:?}");
        let w = render(
            &ev,
            &ViewOptions {
                color: true,
                width: Some(60),
                utc: true,
            },
        );
        let visible: String = strip_ansi(&w);
        assert_eq!(visible.chars().count(), 60, "{visible:?}");
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut esc = false;
        for c in s.chars() {
            if esc {
                esc = !c.is_ascii_alphabetic();
            } else if c == '\u{1b}' {
                esc = true;
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn errors_gaps_sessions_and_checkpoints_are_short_lines() {
        let mut ev = statement();
        let o = ev.outcome.as_mut().expect("outcome");
        o.status = Status::Error;
        o.error_code = Some("23505".into());
        ev.client.as_mut().expect("c").login_user = Some("postgres".into());
        ev.policy.as_mut().expect("p").verdict = Action::Allow;
        ev.classification = None;
        let l = render(&ev, &UTC);
        assert!(
            l.contains(" postgres ") && l.contains("allow - ERR 23505"),
            "{l:?}"
        );

        ev.kind = Kind::SessionStart;
        ev.session = Some(Session {
            transport: "unix".into(),
            tls: true,
            ..Default::default()
        });
        assert!(render(&ev, &UTC).ends_with("session start unix tls (not inspectable)"));

        let gap = Event {
            kind: Kind::Gap,
            client: None,
            db: None,
            session: None,
            gap: Some(Gap {
                reason: GapReason::RingBufferFull,
                detail: None,
                bytes: 0,
                flow: None,
                events: Some(12),
            }),
            ..statement()
        };
        assert_eq!(
            render(&gap, &UTC),
            "15:16:03 host             GAP   ring_buffer_full 12 events"
        );
    }
}
