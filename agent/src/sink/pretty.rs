//! `--output pretty`: the live view on stdout, one line per event (see [`crate::view`]).
//!
//! The events are sealed into the chain like every output's; this sink reads each sealed line
//! back as the one [`Event`] type and draws it. It is a view for a person, not a trail: use
//! `jsonl:` or `kafka:` for something `dbgov verify` can check.
use std::io::Write;

use super::{Batch, CloseReport, Sink};
use crate::audit::Event;
use crate::view::{render, ViewOptions};

/// Colour choice: `auto` follows the terminal and `NO_COLOR`/`CLICOLOR_FORCE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    #[default]
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether to colour what goes to stdout.
    pub fn resolve_stdout(self) -> bool {
        use anstream::ColorChoice;
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                ColorChoice::Auto.write_global();
                matches!(
                    anstream::AutoStream::choice(&std::io::stdout()),
                    ColorChoice::Always | ColorChoice::AlwaysAnsi
                )
            }
        }
    }
}

/// The width of the terminal on stdout, read again for every batch (the window may change).
pub fn stdout_width() -> Option<usize> {
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
}

/// Draws batches on a writer (stdout in the agent).
pub struct Pretty {
    /// The same resuming writer as JSON lines.
    out: super::JsonLines,
    color: bool,
    /// Follow the terminal's width (stdout), or never cut.
    follow_width: bool,
    utc: bool,
    /// The drawn form of the batch being written.
    drawn: Vec<u8>,
}

impl Pretty {
    pub fn new(out: Box<dyn Write + Send>, color: bool, follow_width: bool, utc: bool) -> Self {
        Self {
            out: super::JsonLines::new(out),
            color,
            follow_width,
            utc,
            drawn: Vec::new(),
        }
    }

    fn draw(&mut self, batch: &Batch) {
        let opts = ViewOptions {
            color: self.color,
            width: if self.follow_width {
                stdout_width()
            } else {
                None
            },
            utc: self.utc,
        };
        let mut start = batch.lead;
        for r in &batch.recs {
            let line = &batch.data[start..r.end];
            start = r.end;
            match serde_json::from_slice::<Event>(line) {
                Ok(ev) => self.drawn.extend_from_slice(render(&ev, &opts).as_bytes()),
                Err(e) => self.drawn.extend_from_slice(
                    format!("(an event that does not read back: {e})").as_bytes(),
                ),
            }
            self.drawn.push(b'\n');
        }
    }
}

impl Sink for Pretty {
    fn write(&mut self, batch: &mut Batch) -> std::io::Result<()> {
        // A batch offered again after an error is not drawn twice.
        if self.drawn.is_empty() {
            self.draw(batch);
        }
        self.out.write_bytes(&self.drawn)?;
        self.drawn.clear();
        Ok(())
    }

    fn close(&mut self, _deadline: std::time::Instant) -> CloseReport {
        self.out.flush();
        CloseReport::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::RecMeta;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_sealed_line_becomes_one_drawn_line() {
        let mut enc = crate::audit::Encoder::new("s".into());
        let gap = crate::audit::Event {
            gap: Some(crate::audit::Gap {
                reason: crate::audit::GapReason::MissingBytes,
                detail: None,
                bytes: 10,
                flow: None,
                events: None,
            }),
            ..crate::audit::Event::new(
                crate::audit::Kind::Gap,
                "x".into(),
                "2026-12-02T15:16:03.123Z".into(),
                Default::default(),
            )
        };
        let mut batch = Batch::default();
        for _ in 0..2 {
            enc.encode_into(&gap, &mut batch.data).expect("seal");
            batch.recs.push(RecMeta {
                end: batch.data.len(),
                ..Default::default()
            });
        }
        batch.data.extend_from_slice(b"not json\n");
        batch.recs.push(RecMeta {
            end: batch.data.len(),
            ..Default::default()
        });
        let out = Shared::default();
        let mut p = Pretty::new(Box::new(out.clone()), false, false, true);
        p.write(&mut batch).expect("write");
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(
            lines[0],
            "15:16:03 host             GAP   missing_bytes 10 bytes"
        );
        assert!(lines[2].starts_with("(an event that does not read back"));
    }
}
