//! Outputs: JSON lines to stdout or to a file. Writes are buffered and flushed on a timer, when
//! the pipeline goes idle, and at shutdown, so nothing is lost on SIGTERM.
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
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

/// A JSON-lines writer.
pub struct JsonLines {
    out: Option<BufWriter<Box<dyn Write + Send>>>,
    line: Vec<u8>,
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
        Ok(Self {
            out: out.map(|o| BufWriter::with_capacity(1 << 16, o)),
            line: Vec::with_capacity(2048),
            written: 0,
        })
    }

    pub fn write<T: serde::Serialize>(&mut self, ev: &T) -> Result<(), SinkError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, ev)?;
        self.line.push(b'\n');
        if let Some(o) = self.out.as_mut() {
            o.write_all(&self.line)?;
        }
        self.written += 1;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), SinkError> {
        if let Some(o) = self.out.as_mut() {
            o.flush()?;
        }
        Ok(())
    }
}
