//! JSON lines to stdout or to a file: the embedded default output.
use std::io::Write;

use super::{Batch, CloseReport, Sink};

/// Writes batches of lines to any writer. A short write resumes where it stopped, so lines are
/// never torn; an error leaves the rest of the batch to the next try.
pub struct JsonLines {
    out: Box<dyn Write + Send>,
    /// Bytes of the batch being written that already went out.
    done: usize,
}

impl JsonLines {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self { out, done: 0 }
    }

    /// Writes `data` whole, resuming after a short write; after an error the same `data` is
    /// to be offered again and continues where it stopped (the pretty view uses this too).
    pub fn write_bytes(&mut self, data: &[u8]) -> std::io::Result<()> {
        while self.done < data.len() {
            match self.out.write(&data[self.done..]) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::WriteZero,
                        "wrote nothing",
                    ))
                }
                Ok(n) => self.done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.done = 0;
        self.out.flush()
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

impl Sink for JsonLines {
    fn write(&mut self, batch: &Batch) -> std::io::Result<()> {
        self.write_bytes(&batch.data)
    }

    fn close(&mut self, _deadline: std::time::Instant) -> CloseReport {
        self.flush();
        CloseReport::default()
    }
}
