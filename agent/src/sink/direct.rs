//! Writing a JSON-lines file past the page cache (`O_DIRECT`) when the agent runs at full rate.
//!
//! A buffered write of the output copies every byte into freshly allocated page-cache pages,
//! gives each page ext4 buffer heads and leaves the pages dirty for the flusher to write out
//! later (more CPU, charged to no one) and to evict later still (the drop-behind trials of
//! issue 9). At full rate that was a sixth of the agent's CPU. Here large batches are gathered
//! in an aligned buffer and go straight to the device in whole 4 KiB blocks, one `pwrite` per
//! [`DIRECT_WRITE`] bytes. What is left past the last whole block (under 4 KiB, the end of the
//! last line) waits for the next write, which rewrites that block whole. What waits is written
//! to the file through the page cache when it has waited [`TAIL_DELAY`] and at close. Small
//! batches (a quiet host) are written through the page cache as before, so a line reaches the
//! file as soon as it reaches the sink.
//!
//! The file is always a prefix of what was written, in order: the direct writes only rewrite
//! bytes already in the file with the same bytes and extend it. While the end of a large batch
//! waits, the file may end inside a line or lack the last lines (for at most about
//! [`TAIL_DELAY`] plus the sink's 100 ms tick); readers that follow a file (`dbgov tail`, `tail -f`, log shippers) take a line
//! when its newline arrives. Writing that end at once through the page cache instead was
//! measured: the next direct write must first write back and drop the cached block, which
//! made the output cost more than the buffered writes did. When the
//! file's size is not what this writer left (truncated, or appended to by someone else), the
//! writer appends what waits where the file now ends, as an `O_APPEND` writer would, and starts
//! again from the file's new last block. A file system or device that refuses `O_DIRECT` (or
//! the alignment) turns this off; the writes then all go through the page cache.
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

/// Alignment of the direct writes: file offsets, lengths and the buffer's address.
pub const BLOCK: usize = 4096;
/// A batch at least this long (the output thread hands over 1 MiB batches at full rate) is
/// kept to be written past the page cache; a shorter one is written through it at once.
pub const DIRECT_BATCH: usize = 128 << 10;
/// Large batches are written past the page cache once this much waits: each direct write
/// puts the output thread to sleep until the device is done, and on a saturated host the
/// wake-up waits for a CPU, so few large writes keep up where one per 1 MiB batch did not
/// (sysbench lost events to a full ring buffer with 1 MiB writes).
pub const DIRECT_WRITE: usize = 4 << 20;
/// Bytes wait at most about this long before they are written through the page cache.
pub const TAIL_DELAY: Duration = Duration::from_millis(100);

/// A byte buffer whose start is aligned to [`BLOCK`] (safe code: an over-allocated vector and
/// an offset into it).
struct Aligned {
    v: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    /// (Were the address not alignable, the buffer would start unaligned and the device
    /// refuse the first direct write: see [`Direct::write`].)
    fn with_capacity(cap: usize) -> Self {
        let v = vec![0u8; cap + BLOCK];
        let start = v.as_ptr().align_offset(BLOCK).min(BLOCK);
        Self { v, start, len: 0 }
    }

    fn bytes(&self) -> &[u8] {
        &self.v[self.start..self.start + self.len]
    }

    fn capacity(&self) -> usize {
        self.v.len() - self.start
    }

    /// Appends `d`, moving to a larger buffer when needed.
    fn extend(&mut self, d: &[u8]) {
        if self.len + d.len() > self.capacity() {
            let mut bigger = Self::with_capacity((self.len + d.len()).next_power_of_two());
            bigger.v[bigger.start..bigger.start + self.len].copy_from_slice(self.bytes());
            bigger.len = self.len;
            *self = bigger;
        }
        let at = self.start + self.len;
        self.v[at..at + d.len()].copy_from_slice(d);
        self.len += d.len();
    }

    /// Drops the first `n` bytes.
    fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.v
            .copy_within(self.start + n..self.start + self.len, self.start);
        self.len -= n;
    }

    /// The first block, for reading into (the buffer is emptied).
    fn block_mut(&mut self) -> &mut [u8] {
        self.len = 0;
        &mut self.v[self.start..self.start + BLOCK]
    }
}

/// The state of the direct writes into one file.
pub struct Direct {
    /// The file's `O_APPEND` descriptor (a duplicate of the caller's): small batches and the
    /// tail go through it and the page cache.
    append: File,
    /// The file again, opened with `O_DIRECT` and without `O_APPEND` (writes at offsets).
    file: File,
    /// The file's bytes from `base` on: the first `on_file` are in the file already, the rest
    /// wait.
    buf: Aligned,
    /// A multiple of [`BLOCK`].
    base: u64,
    on_file: usize,
    /// The buffer no longer mirrors the file's end (its size changed under this writer, or
    /// reading it back failed): what waits is in `detached`, to be appended before starting
    /// again from the file's last block.
    stale: bool,
    detached: Vec<u8>,
    /// The device or file system refused a direct write: everything goes through `append`.
    refused: bool,
    /// When bytes that are not in the file yet began to wait.
    since: Option<Instant>,
    /// The last batch taken was large (see [`DIRECT_BATCH`]).
    large: bool,
    /// Bytes written past the page cache.
    pub direct_bytes: u64,
}

impl Direct {
    /// Opens `file` (a regular file opened for appending) again with `O_DIRECT`. None when the
    /// file system refuses.
    pub fn open(file: &File, capacity: usize) -> Option<Self> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        let again = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_DIRECT | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| tracing::debug!("output file: no direct writes ({e})"))
            .ok()?;
        let mut d = Self {
            append: file.try_clone().ok()?,
            file: again,
            buf: Aligned::with_capacity(capacity.max(BLOCK)),
            base: 0,
            on_file: 0,
            stale: true,
            detached: Vec::new(),
            refused: false,
            since: None,
            large: false,
            direct_bytes: 0,
        };
        d.resync()
            .map_err(|e| tracing::debug!("output file: no direct writes ({e})"))
            .ok()?;
        Some(d)
    }

    /// Bytes handed over that are not in the file yet.
    pub fn waiting(&self) -> usize {
        if self.stale {
            self.detached.len()
        } else {
            self.buf.len - self.on_file
        }
    }

    /// Takes `data` (whole lines) to be written.
    pub fn take(&mut self, data: &[u8]) {
        self.large = data.len() >= DIRECT_BATCH;
        if self.waiting() == 0 && !data.is_empty() {
            self.since = Some(Instant::now());
        }
        if self.stale {
            self.detached.extend_from_slice(data);
        } else {
            self.buf.extend(data);
        }
    }

    /// Writes what waits: after a small batch (or when `tail` asks) everything, through the
    /// page cache; after a large one, past the page cache once [`DIRECT_WRITE`] bytes wait.
    /// On an error nothing is lost: the bytes keep waiting for the next call.
    pub fn write(&mut self, tail: bool) -> io::Result<()> {
        self.check_size()?;
        let mut tail = tail || self.refused || !self.large;
        if !tail && self.buf.len >= DIRECT_WRITE {
            let n = self.buf.len & !(BLOCK - 1);
            let mut done = 0;
            let mut failed = None;
            while done < n {
                match self
                    .file
                    .write_at(&self.buf.bytes()[done..n], self.base + done as u64)
                {
                    Ok(0) => {
                        failed = Some(io::Error::new(io::ErrorKind::WriteZero, "wrote nothing"));
                        break;
                    }
                    Ok(w) => {
                        done += w;
                        if done % BLOCK != 0 {
                            // Part of a block: the rest goes through the page cache.
                            tail = true;
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if done == 0 && e.raw_os_error() == Some(libc::EINVAL) => {
                        tracing::info!(
                            "output file: direct writes refused ({e}); writing through the page cache"
                        );
                        self.refused = true;
                        tail = true;
                        break;
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            self.direct_bytes += done as u64;
            self.on_file = self.on_file.max(done);
            self.advance(done);
            // What is left is the end of the batch just taken.
            self.since = Some(Instant::now());
            if let Some(e) = failed {
                return Err(e);
            }
        }
        if tail && self.waiting() > 0 {
            self.write_tail()?;
        }
        if self.waiting() == 0 {
            self.since = None;
        }
        Ok(())
    }

    /// Writes what waits through the page cache if it has waited [`TAIL_DELAY`].
    pub fn tick(&mut self) -> io::Result<()> {
        match self.since {
            Some(t) if t.elapsed() >= TAIL_DELAY => self.write(true),
            _ => Ok(()),
        }
    }

    /// The first `n` bytes of the buffer (whole blocks) are in the file: start after them.
    fn advance(&mut self, n: usize) {
        let n = n & !(BLOCK - 1);
        self.base += n as u64;
        self.buf.consume(n);
        self.on_file = self.on_file.saturating_sub(n);
    }

    fn write_tail(&mut self) -> io::Result<()> {
        use std::io::Write;
        while self.on_file < self.buf.len {
            match self.append.write(&self.buf.bytes()[self.on_file..]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote nothing")),
                Ok(n) => self.on_file += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.since = None;
        self.advance(self.buf.len);
        Ok(())
    }

    /// If the file does not end where this writer left it, appends what waits where it ends
    /// now (as an `O_APPEND` writer would) and starts again from its last block.
    fn check_size(&mut self) -> io::Result<()> {
        if !self.stale {
            let size = self.append.metadata()?.len();
            let expected = self.base + self.on_file as u64;
            if size == expected {
                return Ok(());
            }
            tracing::warn!(
                "output file: its size changed under the agent ({expected} bytes expected, {size} found: truncated, or written by another process); appending at its end"
            );
            let waiting = &self.buf.bytes()[self.on_file..];
            self.detached.extend_from_slice(waiting);
            self.stale = true;
        }
        while !self.detached.is_empty() {
            use std::io::Write;
            match self.append.write(&self.detached) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote nothing")),
                Ok(n) => {
                    self.detached.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.resync()
    }

    /// Reads the file's last, partial block into the buffer and goes on from there.
    fn resync(&mut self) -> io::Result<()> {
        self.stale = true;
        let size = self.file.metadata()?.len();
        let base = size & !(BLOCK as u64 - 1);
        let want = (size - base) as usize;
        let block = self.buf.block_mut();
        let mut got = 0;
        while got < want {
            match self.file.read_at(block, base) {
                // O_DIRECT reads whole blocks; fewer bytes than the size says: it shrank.
                Ok(n) if n < want => {
                    return Err(io::Error::other("the output file shrank while being read"))
                }
                Ok(_) => got = want,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.buf.len = want;
        self.base = base;
        self.on_file = want;
        self.since = None;
        self.stale = false;
        Ok(())
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        if self.waiting() > 0 {
            if let Err(e) = self.write(true) {
                tracing::error!(
                    "output file: {} bytes of events could not be written at close: {e}",
                    self.waiting()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers_stay_aligned_through_growth_and_consumption() {
        let mut a = Aligned::with_capacity(10);
        assert_eq!(a.bytes().as_ptr().align_offset(BLOCK), 0);
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        a.extend(&data[..7000]);
        a.extend(&data[7000..]);
        assert_eq!(a.bytes(), &data[..]);
        assert_eq!(a.bytes().as_ptr().align_offset(BLOCK), 0);
        a.consume(BLOCK);
        assert_eq!(a.bytes(), &data[BLOCK..]);
        assert_eq!(a.bytes().as_ptr().align_offset(BLOCK), 0);
    }
}
