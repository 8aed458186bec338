//! Outputs: JSON lines to stdout or to a file. Writes are buffered and flushed on a timer, when
//! the pipeline goes idle, and at shutdown, so nothing is lost on SIGTERM. An output that
//! fails (a full disk) never stops capture: events wait, bounded, and what had to be dropped
//! is reported as a gap when the output recovers.
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

/// Errors of the output stage.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("invalid output {0:?}: expected `stdout`, `jsonl:PATH` or `none`")]
    BadSpec(String),
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write events: {0}")]
    Write(#[from] std::io::Error),
    #[error("cannot serialise event: {0}")]
    Serialise(#[from] serde_json::Error),
}

/// Where events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputSpec {
    Stdout,
    Jsonl(PathBuf),
    /// Discard (benchmarks of the pipeline alone).
    None,
}

impl std::str::FromStr for OutputSpec {
    type Err = SinkError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stdout" | "-" => Ok(Self::Stdout),
            "none" => Ok(Self::None),
            _ => match s.strip_prefix("jsonl:") {
                Some(p) if !p.is_empty() => Ok(Self::Jsonl(PathBuf::from(p))),
                _ => Err(SinkError::BadSpec(s.to_owned())),
            },
        }
    }
}

/// Lines kept while the output cannot be written (a full disk, a closed pipe): beyond this
/// the newest lines are dropped, counted, and reported as a gap once the output recovers.
pub const DEFAULT_BACKLOG_BYTES: usize = 64 << 20;

/// Write the buffered lines out once this many bytes are waiting.
const FLUSH_AT: usize = 1 << 16;

/// A JSON-lines writer that never stops capture: output errors keep the lines waiting (up to
/// a bound) and are retried on the next flush; the trouble is logged once per change of
/// state, never once per event. Lines are never torn: a short write resumes where it stopped.
pub struct JsonLines {
    out: Option<Box<dyn Write + Send>>,
    /// Complete lines not yet written; `pending[done..]` is still to go.
    pending: Vec<u8>,
    done: usize,
    /// Serialises and seals every event into the stream's hash chain.
    enc: crate::audit::Encoder,
    cap: usize,
    /// The last write failed (logged once).
    failing: bool,
    /// Lines dropped because the backlog was full, not yet reported.
    dropped: u64,
    pub written: u64,
}

impl JsonLines {
    pub fn open(spec: &OutputSpec) -> Result<Self, SinkError> {
        let out: Option<Box<dyn Write + Send>> = match spec {
            OutputSpec::Stdout => Some(Box::new(std::io::stdout())),
            OutputSpec::Jsonl(path) => Some(Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| SinkError::Open {
                        path: path.clone(),
                        source,
                    })?,
            )),
            OutputSpec::None => None,
        };
        Ok(Self::with_writer(out, DEFAULT_BACKLOG_BYTES))
    }

    /// Over any writer (`None` discards), keeping at most `cap` bytes waiting.
    pub fn with_writer(out: Option<Box<dyn Write + Send>>, cap: usize) -> Self {
        Self {
            out,
            pending: Vec::with_capacity(FLUSH_AT * 2),
            done: 0,
            enc: crate::audit::Encoder::new(crate::audit::new_stream_id()),
            cap,
            failing: false,
            dropped: 0,
            written: 0,
        }
    }

    /// Serialises one event as a line. Only a serialisation failure (a bug) is an error;
    /// output trouble is handled here.
    pub fn write<T: serde::Serialize>(&mut self, ev: &T) -> Result<(), SinkError> {
        let line = self.enc.encode(ev)?;
        self.written += 1;
        if self.out.is_none() {
            return Ok(());
        }
        if self.pending.len() - self.done + line.len() > self.cap {
            self.dropped += 1;
            return Ok(());
        }
        self.pending.extend_from_slice(line);
        if self.pending.len() - self.done >= FLUSH_AT && !self.failing {
            self.drain();
        }
        Ok(())
    }

    /// Writes what is waiting (retrying after an output error) and flushes the writer.
    /// Output errors are not returned: they are logged once per change of state.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.drain();
        if !self.failing {
            if let Some(o) = self.out.as_mut() {
                if let Err(e) = o.flush() {
                    self.set_failing(Some(e));
                }
            }
        }
        Ok(())
    }

    /// Lines dropped since the last call because the output was unavailable for too long.
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }

    /// Bytes waiting for the output.
    pub fn backlog(&self) -> usize {
        self.pending.len() - self.done
    }

    fn drain(&mut self) {
        let Some(o) = self.out.as_mut() else {
            return;
        };
        while self.done < self.pending.len() {
            match o.write(&self.pending[self.done..]) {
                Ok(0) => {
                    let e = std::io::Error::new(std::io::ErrorKind::WriteZero, "wrote nothing");
                    self.set_failing(Some(e));
                    return;
                }
                Ok(n) => self.done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.set_failing(Some(e));
                    return;
                }
            }
        }
        self.pending.clear();
        self.done = 0;
        self.set_failing(None);
    }

    fn set_failing(&mut self, err: Option<std::io::Error>) {
        match (self.failing, err) {
            (false, Some(e)) => {
                self.failing = true;
                tracing::error!(
                    "cannot write events ({e}); capture goes on, up to {} MiB of events wait and are retried",
                    self.cap >> 20
                );
            }
            (true, None) => {
                self.failing = false;
                tracing::warn!("writing events again; the waiting events were written");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer that fails while `fail` is set and accepts at most `chunk` bytes per call.
    #[derive(Clone)]
    struct Flaky {
        data: Arc<Mutex<Vec<u8>>>,
        fail: Arc<Mutex<bool>>,
        chunk: usize,
    }

    impl Write for Flaky {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if *self.fail.lock().unwrap() {
                return Err(std::io::Error::other("no space left on device"));
            }
            let n = b.len().min(self.chunk);
            self.data.lock().unwrap().extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_errors_keep_lines_waiting_and_never_tear_them() {
        let w = Flaky {
            data: Arc::default(),
            fail: Arc::default(),
            chunk: 7,
        };
        let mut j = JsonLines::with_writer(Some(Box::new(w.clone())), 1 << 20);
        j.write(&serde_json::json!({"n": 0})).unwrap();
        j.flush().unwrap();
        *w.fail.lock().unwrap() = true;
        for n in 1..100 {
            j.write(&serde_json::json!({"n": n})).unwrap();
        }
        j.flush().unwrap();
        assert!(j.backlog() > 0);
        *w.fail.lock().unwrap() = false;
        j.flush().unwrap();
        assert_eq!(j.backlog(), 0);
        assert_eq!(j.take_dropped(), 0);
        let text = String::from_utf8(w.data.lock().unwrap().clone()).unwrap();
        let got: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(got, (0..100).collect::<Vec<u64>>());
    }

    #[test]
    fn a_full_backlog_drops_whole_newest_lines_and_counts_them() {
        let w = Flaky {
            data: Arc::default(),
            fail: Arc::new(Mutex::new(true)),
            chunk: usize::MAX,
        };
        let mut j = JsonLines::with_writer(Some(Box::new(w.clone())), 4000);
        for n in 0..50 {
            j.write(&serde_json::json!({"n": n})).unwrap();
        }
        j.flush().unwrap();
        let dropped = j.take_dropped();
        *w.fail.lock().unwrap() = false;
        j.flush().unwrap();
        let text = String::from_utf8(w.data.lock().unwrap().clone()).unwrap();
        let kept: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert!(text.len() <= 4000 && !kept.is_empty() && dropped > 0);
        // The oldest lines are kept, whole and in order; the newest were dropped and counted.
        assert_eq!(kept, (0..kept.len() as u64).collect::<Vec<u64>>());
        assert_eq!(kept.len() as u64 + dropped, 50);
    }
}
