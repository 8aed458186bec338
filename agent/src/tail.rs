//! `dbgov tail`: follow a trail the way `tail -f` does, a JSON-lines file (through rotation
//! and truncation) or a Kafka topic, with filters on the person, the database, the data class
//! and the verdict. Every line is read as the one [`Event`] type.
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use crate::audit::{Action, Event, Kind};

/// Errors of `dbgov tail`.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error("invalid --since {0:?}: expected a time (2026-12-02T15:00:00Z) or an age (90s, 10m, 2h, 1d)")]
    Since(String),
    #[error("invalid --verdict {0:?}: expected allow, alert, mask, hold or block")]
    Verdict(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Which events to show. Within one filter the values are alternatives; different filters
/// must all match. Identity filters (`user`, `login_user`, `db`) keep session starts and
/// ends of the matching sessions; `class` and `verdict` keep statements only. Gaps and
/// checkpoints are shown only when no filter but `since` is set.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// `client.user`.
    pub users: Vec<String>,
    /// `client.login_user`.
    pub login_users: Vec<String>,
    /// `db.name`.
    pub dbs: Vec<String>,
    /// A data class (`pii.email`) or a class family (`pii` matches `pii.email`).
    pub classes: Vec<String>,
    pub verdicts: Vec<Action>,
    /// Events at or after this time.
    pub since: Option<DateTime<Utc>>,
}

impl Filter {
    fn scoped(&self) -> bool {
        !(self.users.is_empty()
            && self.login_users.is_empty()
            && self.dbs.is_empty()
            && self.classes.is_empty()
            && self.verdicts.is_empty())
    }

    pub fn matches(&self, ev: &Event) -> bool {
        if let Some(since) = self.since {
            match DateTime::parse_from_rfc3339(&ev.time) {
                Ok(t) if t < since => return false,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        if !self.scoped() {
            return true;
        }
        let one_of = |want: &[String], have: Option<&str>| {
            want.is_empty() || have.is_some_and(|h| want.iter().any(|w| w == h))
        };
        let client = ev.client.as_ref();
        if !one_of(&self.users, client.and_then(|c| c.user.as_deref()))
            || !one_of(
                &self.login_users,
                client.and_then(|c| c.login_user.as_deref()),
            )
            || !one_of(&self.dbs, ev.db.as_ref().and_then(|d| d.name.as_deref()))
        {
            return false;
        }
        match ev.kind {
            Kind::Statement | Kind::Approval => {}
            Kind::SessionStart | Kind::SessionEnd => {
                return self.classes.is_empty()
                    && self.verdicts.is_empty()
                    && (ev.client.is_some() || ev.db.is_some());
            }
            Kind::Gap | Kind::Checkpoint => return false,
        }
        if !self.classes.is_empty() {
            let classes = ev
                .classification
                .as_ref()
                .map(|c| c.classes.as_slice())
                .unwrap_or_default();
            let hit = classes.iter().any(|c| {
                self.classes.iter().any(|w| {
                    c == w
                        || c.strip_prefix(w.as_str())
                            .is_some_and(|rest| rest.starts_with('.'))
                })
            });
            if !hit {
                return false;
            }
        }
        if !self.verdicts.is_empty() {
            let v = ev.policy.as_ref().map(|p| p.verdict).unwrap_or_default();
            if !self.verdicts.contains(&v) {
                return false;
            }
        }
        true
    }
}

/// `--verdict` values.
pub fn parse_verdict(s: &str) -> Result<Action, TailError> {
    serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase()))
        .map_err(|_| TailError::Verdict(s.to_owned()))
}

/// `--since`: an RFC 3339 time, or an age before `now` (`90s`, `10m`, `2h 30m`, `1d`).
pub fn parse_since(s: &str, now: SystemTime) -> Result<DateTime<Utc>, TailError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let age = humantime::parse_duration(s).map_err(|_| TailError::Since(s.to_owned()))?;
    let t = now
        .checked_sub(age)
        .ok_or_else(|| TailError::Since(s.to_owned()))?;
    Ok(DateTime::<Utc>::from(t))
}

/// Keeps the last `n` items (the `-n` lines shown before following).
pub struct Last<T> {
    n: usize,
    items: VecDeque<T>,
}

impl<T> Last<T> {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            items: VecDeque::new(),
        }
    }
    pub fn push(&mut self, t: T) {
        if self.n == 0 {
            return;
        }
        if self.items.len() == self.n {
            self.items.pop_front();
        }
        self.items.push_back(t);
    }
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.items.drain(..)
    }
}

/// What happened to the followed file since the last poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileEvent {
    /// The file did not exist yet (or was removed).
    Missing,
    /// A new file now has the path (rotation): reading goes on from its start.
    Rotated,
    /// The file got shorter than what was read: reading goes on from its start.
    Truncated,
}

/// Follows a JSON-lines file by path: complete lines are handed out as they are appended; a
/// rotated file is read to its end before the new one is opened; a truncated file is read
/// again from its start.
pub struct FileFollower {
    path: PathBuf,
    file: Option<File>,
    ino: u64,
    pos: u64,
    partial: Vec<u8>,
    /// Reading started inside a line: drop up to the first `\n`.
    skip_to_line: bool,
    buf: Vec<u8>,
}

/// Where reading starts the first time the file is opened, when the last lines are wanted
/// (no `--since`): this far before the end, so that a large trail is not read whole.
const START_WINDOW: u64 = 16 << 20;

impl FileFollower {
    /// `from_start`: read the whole file first (`--since`); otherwise start within the last
    /// 16 MiB, at a line boundary.
    pub fn open(path: &Path, from_start: bool) -> Result<Self, TailError> {
        let mut f = Self {
            path: path.to_owned(),
            file: None,
            ino: 0,
            pos: 0,
            partial: Vec::new(),
            skip_to_line: false,
            buf: vec![0; 1 << 16],
        };
        if let Some(file) = f.reopen()? {
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if !from_start && len > START_WINDOW {
                f.pos = len - START_WINDOW;
                // The first line read is most likely cut: drop it.
                f.skip_to_line = true;
            }
            f.file = Some(file);
        }
        Ok(f)
    }

    fn reopen(&mut self) -> Result<Option<File>, TailError> {
        match File::open(&self.path) {
            Ok(file) => {
                self.ino = file.metadata().map(|m| m.ino()).unwrap_or(0);
                self.pos = 0;
                self.partial.clear();
                self.skip_to_line = false;
                Ok(Some(file))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(TailError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Reads what was appended and hands out each complete line (without its `\n`).
    /// Returns what happened to the file, if anything.
    pub fn poll(&mut self, mut line: impl FnMut(&[u8])) -> Result<Option<FileEvent>, TailError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(match self.reopen()? {
                Some(f) => {
                    self.file = Some(f);
                    self.read_new(&mut line)?;
                    None
                }
                None => Some(FileEvent::Missing),
            });
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.pos {
            self.pos = 0;
            self.partial.clear();
            self.read_new(&mut line)?;
            return Ok(Some(FileEvent::Truncated));
        }
        self.read_new(&mut line)?;
        // Renamed away or replaced: once the old file is read to its end, switch.
        let now = std::fs::metadata(&self.path).map(|m| m.ino()).ok();
        if now != Some(self.ino) {
            match self.reopen()? {
                Some(f) => {
                    self.file = Some(f);
                    self.read_new(&mut line)?;
                    return Ok(Some(FileEvent::Rotated));
                }
                None => {
                    self.file = None;
                    return Ok(Some(FileEvent::Missing));
                }
            }
        }
        Ok(None)
    }

    fn read_new(&mut self, line: &mut impl FnMut(&[u8])) -> Result<(), TailError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        if let Err(source) = file.seek(SeekFrom::Start(self.pos)) {
            return Err(TailError::Read {
                path: self.path.clone(),
                source,
            });
        }
        loop {
            let n = match file.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(TailError::Read {
                        path: self.path.clone(),
                        source,
                    })
                }
            };
            self.pos += n as u64;
            let mut chunk = &self.buf[..n];
            while let Some(i) = chunk.iter().position(|&b| b == b'\n') {
                if self.skip_to_line {
                    self.skip_to_line = false;
                } else if self.partial.is_empty() {
                    line(&chunk[..i]);
                } else {
                    self.partial.extend_from_slice(&chunk[..i]);
                    line(&self.partial);
                    self.partial.clear();
                }
                chunk = &chunk[i + 1..];
            }
            self.partial.extend_from_slice(chunk);
        }
    }
}

/// How often a followed file is looked at.
pub const POLL: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn ev(kind: Kind) -> Event {
        Event::new(
            kind,
            "e".into(),
            "2026-12-02T15:00:00Z".into(),
            Default::default(),
        )
    }

    fn stmt(user: &str, login: Option<&str>, db: &str, classes: &[&str], v: Action) -> Event {
        use crate::audit::*;
        Event {
            client: Some(Client {
                user: Some(user.into()),
                login_user: login.map(str::to_owned),
                ..Default::default()
            }),
            db: Some(Db {
                engine: "postgresql".into(),
                name: Some(db.into()),
                ..Default::default()
            }),
            classification: Some(Classification {
                classes: classes.iter().map(|c| c.to_string()).collect(),
                level: None,
            }),
            policy: Some(PolicyResult {
                verdict: v,
                ..Default::default()
            }),
            ..ev(Kind::Statement)
        }
    }

    #[test]
    fn filters_select_exactly_the_matching_events() {
        let alice = stmt(
            "postgres",
            Some("alice"),
            "shop",
            &["pii.email"],
            Action::Alert,
        );
        let bob = stmt("app", None, "crm", &[], Action::Allow);
        let gap = ev(Kind::Gap);
        let f = |f: Filter| -> Vec<bool> { [&alice, &bob, &gap].map(|e| f.matches(e)).to_vec() };
        assert_eq!(f(Filter::default()), [true, true, true]);
        let by = |users: &[&str]| Filter {
            users: users.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert_eq!(f(by(&["postgres"])), [true, false, false]);
        assert_eq!(f(by(&["postgres", "app"])), [true, true, false]);
        assert_eq!(
            f(Filter {
                login_users: vec!["alice".into()],
                ..Default::default()
            }),
            [true, false, false]
        );
        assert_eq!(
            f(Filter {
                dbs: vec!["crm".into()],
                ..Default::default()
            }),
            [false, true, false]
        );
        for (class, want) in [("pii", true), ("pii.email", true), ("pi", false)] {
            let r = f(Filter {
                classes: vec![class.into()],
                ..Default::default()
            });
            assert_eq!(r, [want, false, false], "{class}");
        }
        assert_eq!(
            f(Filter {
                verdicts: vec![parse_verdict("ALLOW").expect("v")],
                ..Default::default()
            }),
            [false, true, false]
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_223_600); // 2026-12-02T15:00:00Z
        let at = |s: &str| Filter {
            since: Some(parse_since(s, now).expect("since")),
            ..Default::default()
        };
        assert_eq!(f(at("2026-12-02T15:00:00Z")), [true, true, true]);
        assert_eq!(f(at("2026-12-02T15:00:01Z")), [false, false, false]);
        assert_eq!(f(at("10m")), [true, true, true]);
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_verdict("maybe").is_err());
    }

    #[test]
    fn follows_appends_partial_lines_truncation_and_rotation() {
        let dir = std::env::temp_dir().join(format!("dbgov-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.jsonl");
        let _ = std::fs::remove_file(&path);
        let mut got: Vec<String> = Vec::new();
        let mut fol = FileFollower::open(&path, true).expect("open");
        let poll = |fol: &mut FileFollower, got: &mut Vec<String>| {
            fol.poll(|l| got.push(String::from_utf8_lossy(l).into_owned()))
                .expect("poll")
        };
        assert_eq!(poll(&mut fol, &mut got), Some(FileEvent::Missing));
        let mut w = File::create(&path).expect("create");
        w.write_all(b"a\nb").expect("w");
        assert_eq!(poll(&mut fol, &mut got), None);
        assert_eq!(got, ["a"]);
        w.write_all(b"c\nd\n").expect("w");
        poll(&mut fol, &mut got);
        assert_eq!(got, ["a", "bc", "d"]);
        // Truncated (copytruncate) and written again.
        w.set_len(0).expect("truncate");
        let mut w = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("reopen");
        w.write_all(b"e\n").expect("w");
        assert_eq!(poll(&mut fol, &mut got), Some(FileEvent::Truncated));
        assert_eq!(got, ["a", "bc", "d", "e"]);
        // Rotated: the old file gets a last line, then a new file takes the path.
        w.write_all(b"f\n").expect("w");
        std::fs::rename(&path, dir.join("t.jsonl.1")).expect("rename");
        let mut n = File::create(&path).expect("new");
        n.write_all(b"g\n").expect("w");
        assert_eq!(poll(&mut fol, &mut got), Some(FileEvent::Rotated));
        assert_eq!(got, ["a", "bc", "d", "e", "f", "g"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn starts_near_the_end_of_a_large_file_at_a_line_boundary() {
        let dir = std::env::temp_dir().join(format!("dbgov-tail-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("big.jsonl");
        let line = format!("{}\n", "x".repeat(999));
        let mut w = File::create(&path).expect("create");
        for _ in 0..(START_WINDOW / 1000 + 100) {
            w.write_all(line.as_bytes()).expect("w");
        }
        w.write_all(b"last\n").expect("w");
        let mut fol = FileFollower::open(&path, false).expect("open");
        let mut got = Vec::new();
        fol.poll(|l| got.push(l.to_vec())).expect("poll");
        assert!(got.len() < (START_WINDOW / 1000) as usize + 2);
        assert!(got[..got.len() - 1].iter().all(|l| l.len() == 999));
        assert_eq!(got.last().map(|l| l.as_slice()), Some(&b"last"[..]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
