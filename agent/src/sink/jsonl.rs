//! JSON lines to stdout or to a file: the embedded default output.
use std::io::Write;

use super::{Batch, CloseReport, Sink};

/// Writes batches of lines to any writer. A short write resumes where it stopped, so lines are
/// never torn; an error leaves the rest of the batch to the next try.
pub struct JsonLines {
    out: Box<dyn Write + Send>,
    /// Bytes of the batch being written that already went out.
    done: usize,
    /// A regular file's space reserved ahead of the writes.
    prealloc: Option<Prealloc>,
}

/// File space reserved ahead of the writes (`fallocate` with `FALLOC_FL_KEEP_SIZE`: the
/// file's size, and what readers see, do not change). A buffered write into space the file
/// system has not allocated yet makes ext4 (and XFS) reserve and account blocks page by page,
/// which was about half of the cost of writing the output; into reserved space it does not.
/// What is left unused is given back when the output closes.
struct Prealloc {
    /// The file's descriptor (owned by `JsonLines::out`, which outlives this).
    fd: std::os::fd::RawFd,
    /// Where the next write lands (the file's end, as far as this writer knows).
    pos: u64,
    /// End of the space reserved so far.
    end: u64,
}

/// Space reserved at a time.
const PREALLOC_CHUNK: u64 = 64 << 20;

impl Prealloc {
    /// Reserves space for `len` more bytes if what is reserved does not cover them. False
    /// when the file system cannot (then writes go on as before).
    fn ensure(&mut self, len: u64) -> bool {
        if self.pos + len <= self.end {
            return true;
        }
        // SAFETY: plain syscalls on a descriptor this writer owns.
        let end = unsafe { libc::lseek(self.fd, 0, libc::SEEK_END) };
        if end < 0 {
            return false;
        }
        self.pos = end as u64;
        let want = PREALLOC_CHUNK.max(len);
        // SAFETY: as above.
        let r = unsafe {
            libc::fallocate(
                self.fd,
                libc::FALLOC_FL_KEEP_SIZE,
                self.pos as libc::off_t,
                want as libc::off_t,
            )
        };
        if r != 0 {
            tracing::debug!(
                "output file: no space reserved ahead ({})",
                std::io::Error::last_os_error()
            );
            return false;
        }
        self.end = self.pos + want;
        true
    }

    /// Gives back the space reserved past the file's end.
    fn release(&mut self) {
        // SAFETY: as above.
        let size = unsafe { libc::lseek(self.fd, 0, libc::SEEK_END) };
        if size >= 0 && (size as u64) < self.end {
            // Truncating to the size it has frees the blocks past the end (ext4 ignores a
            // hole punched past the end).
            // SAFETY: as above.
            unsafe {
                libc::ftruncate(self.fd, size);
            }
        }
        self.end = 0;
    }
}

/// Writes `data[*done..]`, moving `done` past every piece written: after an error the same
/// call goes on where it stopped, so that nothing is written twice and no line is torn.
pub(crate) fn write_resuming(
    out: &mut impl Write,
    data: &[u8],
    done: &mut usize,
) -> std::io::Result<()> {
    while *done < data.len() {
        match out.write(&data[*done..]) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    "wrote nothing",
                ))
            }
            Ok(n) => *done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl JsonLines {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out,
            done: 0,
            prealloc: None,
        }
    }

    /// Writes to `file`, reserving its space ahead of the writes when it is a regular file.
    pub fn file(file: std::fs::File) -> Self {
        use std::os::fd::AsRawFd;
        let regular = file.metadata().map(|m| m.is_file()).unwrap_or(false);
        let prealloc = regular.then(|| Prealloc {
            fd: file.as_raw_fd(),
            pos: 0,
            end: 0,
        });
        Self {
            out: Box::new(file),
            done: 0,
            prealloc,
        }
    }

    /// Writes `data` whole, resuming after a short write; after an error the same `data` is
    /// to be offered again and continues where it stopped (the pretty view uses this too).
    pub fn write_bytes(&mut self, data: &[u8]) -> std::io::Result<()> {
        if let Some(p) = &mut self.prealloc {
            if self.done == 0 && !p.ensure(data.len() as u64) {
                self.prealloc = None;
            }
        }
        let before = self.done;
        let r = write_resuming(&mut self.out, data, &mut self.done);
        if let Some(p) = &mut self.prealloc {
            p.pos += (self.done - before) as u64;
        }
        r?;
        self.done = 0;
        self.out.flush()
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

impl Drop for JsonLines {
    fn drop(&mut self) {
        if let Some(p) = &mut self.prealloc {
            p.release();
        }
    }
}

impl Sink for JsonLines {
    fn write(&mut self, batch: &mut Batch) -> std::io::Result<()> {
        self.write_bytes(batch.lines())
    }

    fn close(&mut self, _deadline: std::time::Instant) -> CloseReport {
        self.flush();
        if let Some(p) = &mut self.prealloc {
            p.release();
        }
        CloseReport::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_file_gets_space_reserved_ahead_and_keeps_its_size_and_content() {
        let dir = std::env::temp_dir().join(format!("dbgov-jsonl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        let _ = std::fs::remove_file(&path);
        let f = crate::files::open_private(&path, false).unwrap();
        let mut jl = JsonLines::file(f);
        let line = b"{\"kind\":\"statement\"}\n".repeat(5000);
        jl.write_bytes(&line).unwrap();
        let m = std::fs::metadata(&path).unwrap();
        assert_eq!(m.len(), line.len() as u64, "the size is what was written");
        // Where the file system can reserve (ext4, XFS, tmpfs), the space is there already.
        if jl.prealloc.is_some() {
            assert!(
                m.blocks() * 512 >= PREALLOC_CHUNK,
                "{} bytes reserved",
                m.blocks() * 512
            );
        }
        jl.write_bytes(&line).unwrap();
        jl.close(std::time::Instant::now());
        drop(jl);
        let m = std::fs::metadata(&path).unwrap();
        assert_eq!(m.len(), 2 * line.len() as u64);
        assert!(
            m.blocks() * 512 < m.len() + (1 << 20),
            "the unused reservation is given back: {} bytes allocated",
            m.blocks() * 512
        );
        let mut want = line.clone();
        want.extend_from_slice(&line);
        assert_eq!(std::fs::read(&path).unwrap(), want);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
