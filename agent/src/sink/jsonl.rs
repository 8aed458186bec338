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
    /// A regular file's pages given back to the kernel once written.
    drop_behind: Option<DropBehind>,
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

/// A regular file's pages leave the page cache once they are well behind the write position.
/// The output is written once and seldom read back soon, so without this it grows the page
/// cache by its own rate (40 MB/s under saturated pgbench), evicting the database's cached
/// pages, and every page it writes is one the kernel has to find free. On a virtual machine
/// whose memory the host backs on first touch (this project's machines), writing into
/// never-touched pages made the kernel's copy of the output 60% of the agent's CPU, against 8%
/// into pages freed a moment before. A reader that follows the file (`tail -f`, a log shipper)
/// reads within the lag from the cache; one further behind reads from disk.
///
/// The advice is given by a helper thread, which nothing waits for: advice on dirty pages
/// starts their writeback, which can wait for the block layer, and given from the writing
/// thread itself that wait held up the output, and a slow output pauses capture.
struct DropBehind {
    /// Where the next write lands.
    pos: u64,
    /// The position at which to look again.
    next: u64,
    /// What the helper is asked to give back, and the helper itself.
    shared: std::sync::Arc<Behind>,
    helper: std::thread::Thread,
}

/// Between the writer and the helper.
struct Behind {
    /// Everything before this may leave the cache (only grows).
    end: std::sync::atomic::AtomicU64,
    /// The writer is gone: the helper ends.
    closed: std::sync::atomic::AtomicBool,
}

/// Pages this far behind the write position are given back.
const DROP_LAG: u64 = 32 << 20;
/// How often (in bytes written) the pages behind are handed to the helper.
const DROP_EVERY: u64 = 8 << 20;

impl DropBehind {
    /// Starts the helper on its own descriptor of `file`; None when there is none to have.
    fn new(file: &std::fs::File) -> Option<Self> {
        let own = match file.try_clone() {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!("output file: pages are not given back ({e})");
                return None;
            }
        };
        let pos = own.metadata().map(|m| m.len()).unwrap_or(0);
        let shared = std::sync::Arc::new(Behind {
            end: std::sync::atomic::AtomicU64::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        let theirs = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("dbgov-drop-behind".into())
            .spawn(move || drop_behind(own, pos, &theirs));
        match spawned {
            Ok(h) => Some(Self {
                pos,
                next: pos + DROP_EVERY,
                shared,
                helper: h.thread().clone(),
            }),
            Err(e) => {
                tracing::debug!("output file: pages are not given back ({e})");
                None
            }
        }
    }

    fn wrote(&mut self, n: u64) {
        self.pos += n;
        if self.pos < self.next {
            return;
        }
        self.next = self.pos + DROP_EVERY;
        let end = self.pos.saturating_sub(DROP_LAG);
        if end > 0 {
            self.shared
                .end
                .store(end, std::sync::atomic::Ordering::Release);
            self.helper.unpark();
        }
    }
}

impl Drop for DropBehind {
    fn drop(&mut self) {
        self.shared
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.helper.unpark();
    }
}

/// The helper: asks the kernel to drop everything before the end it is asked for
/// (`POSIX_FADV_DONTNEED` starts the writeback of dirty pages there and frees the clean ones,
/// so a page still being written is freed by a later request), then waits for the next end.
/// A request made while it works is taken up next (the latest end covers all earlier ones).
/// Ends when the writer is dropped.
fn drop_behind(file: std::fs::File, mut done: u64, shared: &Behind) {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::Ordering;
    let fd = file.as_raw_fd();
    loop {
        let end = shared.end.load(Ordering::Acquire);
        if end > done {
            // SAFETY: a plain syscall on a descriptor this thread owns. Advice only: a failure
            // changes nothing written (the pages then stay cached, as without this). The
            // kernel walks only the pages cached, so the range from 0 costs nothing extra.
            unsafe {
                libc::posix_fadvise(fd, 0, end as libc::off_t, libc::POSIX_FADV_DONTNEED);
            }
            done = end;
            continue;
        }
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
        std::thread::park();
    }
}

impl JsonLines {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out,
            done: 0,
            prealloc: None,
            drop_behind: None,
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
        let drop_behind = if regular {
            DropBehind::new(&file)
        } else {
            None
        };
        Self {
            out: Box::new(file),
            done: 0,
            prealloc,
            drop_behind,
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
        while self.done < data.len() {
            match self.out.write(&data[self.done..]) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::WriteZero,
                        "wrote nothing",
                    ))
                }
                Ok(n) => {
                    self.done += n;
                    if let Some(p) = &mut self.prealloc {
                        p.pos += n as u64;
                    }
                    if let Some(d) = &mut self.drop_behind {
                        d.wrote(n as u64);
                    }
                }
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

impl Drop for JsonLines {
    fn drop(&mut self) {
        if let Some(p) = &mut self.prealloc {
            p.release();
        }
    }
}

impl Sink for JsonLines {
    fn write(&mut self, batch: &Batch) -> std::io::Result<()> {
        self.write_bytes(&batch.data)
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

    /// Pages of `len` bytes of `path` from `from` on that are in the page cache.
    fn resident(path: &std::path::Path, from: u64, len: u64) -> usize {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(path).unwrap();
        let page = 4096u64;
        assert_eq!(from % page, 0);
        // SAFETY: a read-only shared mapping of a file range, only passed to mincore.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len as usize,
                libc::PROT_READ,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                from as libc::off_t,
            );
            assert_ne!(p, libc::MAP_FAILED);
            let mut v = vec![0u8; len.div_ceil(page) as usize];
            assert_eq!(libc::mincore(p, len as usize, v.as_mut_ptr()), 0);
            libc::munmap(p, len as usize);
            v.iter().filter(|b| **b & 1 == 1).count()
        }
    }

    #[test]
    fn pages_well_behind_the_write_position_leave_the_page_cache_and_recent_ones_stay() {
        // Beside the test binary: on disk (a tmpfs keeps its pages whatever the advice).
        let dir = std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .join(format!("dbgov-drop-behind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        let f = crate::files::open_private(&path, false).unwrap();
        let mut jl = JsonLines::file(f);
        let chunk = vec![b'x'; 1 << 20];
        let written = DROP_LAG + 6 * DROP_EVERY;
        for _ in 0..written >> 20 {
            jl.write_bytes(&chunk).unwrap();
        }
        // Once written back (here at once), the next look drops the window behind the lag.
        std::fs::File::open(&path).unwrap().sync_data().unwrap();
        for _ in 0..DROP_EVERY >> 20 {
            jl.write_bytes(&chunk).unwrap();
        }
        let end = written + DROP_EVERY;
        // The helper is never waited for: poll.
        let started = std::time::Instant::now();
        let behind = written - DROP_LAG;
        let mut left = resident(&path, 0, behind);
        while left > 0 && started.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(50));
            left = resident(&path, 0, behind);
        }
        assert_eq!(left, 0, "all behind the lag is dropped");
        let recent = end - (4 << 20);
        assert!(
            resident(&path, recent, 4 << 20) > 0,
            "what was just written is still cached"
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), end, "nothing lost");
        drop(jl);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
