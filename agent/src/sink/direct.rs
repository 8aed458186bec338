//! A JSON-lines file written past the page cache (`O_DIRECT`) at full rate, by a writer
//! thread of its own.
//!
//! On the virtual machines this project runs on (Firecracker, with free page reporting), a
//! buffered write of the output copies every byte into page-cache pages the host has not
//! backed yet: each new page is a fault in the host. `dd` of 1.5 GB into a new file took 0.78 s
//! of system time on such pages and 0.29 s on pages freed a moment before; a profile of the
//! live agent (select-only simple, 44,611 TPS) put 65% of its CPU in that copy. Direct writes
//! go from a few reused buffers straight to the device, whatever the state of the host.
//!
//! The output thread (which yields the CPU with the others under adaptive scheduling) gathers
//! large batches in an aligned buffer; once [`DIRECT_WRITE`] bytes wait, the whole 4 KiB blocks
//! go to the writer thread, which writes them at their offset and hands the buffer back. What
//! is left past the last whole block starts the next buffer. A batch the output laid out for
//! this writer (see [`Phase`]: its lines follow room for that head, at a place in memory that
//! puts the head on a block boundary) is not gathered: the head is copied in front of its
//! lines and the batch's own buffer goes to the writer, which saves copying every event once
//! more (a profile of the agent at full rate had put 7% of its CPU in that copy); the batch
//! goes on with a written buffer. The writer sleeps while the device
//! works, so it stays at the normal priority (`sched::keep_normal`): an idle-class thread's
//! wake-up on a saturated host waits for an idle CPU, and an earlier version that wrote from
//! the output thread itself lost events that way (issue 9, the `direct-1mib` run). The output
//! thread waits only when every buffer is in flight.
//!
//! What waits longer than [`TAIL_DELAY`] (a quiet moment) goes to the writer as well, which
//! appends it through the page cache, and at close everything does. Small batches (a quiet
//! host) are appended through the page cache at once, as before. The writer alone writes
//! while buffers are in flight, so the file is always a prefix of the lines, in order: direct
//! writes only extend the file. A block whose head is in the file already (appended through the
//! page cache) is completed through the page cache too, and the direct writes start at the next
//! block: a direct write over a page the page cache holds makes the kernel write that page back
//! and wait, which on a loaded host took seconds.
//!
//! When the file's size is not what the writer left (truncated under it, or appended to by
//! someone else), it appends the rest of what it holds where the file ends now, from the first
//! whole line, as an `O_APPEND` writer would, and direct writes start again from the file's new
//! last block. A file system that refuses `O_DIRECT` (or its alignment) turns them off; the
//! writes then all go through the page cache.
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Batch, CloseReport, Sink};

/// Alignment of the direct writes: file offsets, lengths and the buffer's address.
pub const BLOCK: usize = 4096;
/// A batch at least this long (the output thread hands over 1 MiB batches at full rate) is
/// gathered to be written past the page cache; a shorter one, when nothing waits, is
/// appended through it at once.
pub const DIRECT_BATCH: usize = 128 << 10;
/// The writer gets a buffer once this many bytes wait in it (each write costs the writer a
/// wake-up and the virtual disk a notification: 1 MiB and 2 MiB measured alike by hand).
pub const DIRECT_WRITE: usize = 2 << 20;
/// Bytes wait at most about this long (plus the output thread's 100 ms tick) before the
/// writer appends them through the page cache.
pub const TAIL_DELAY: Duration = Duration::from_millis(50);
/// Buffers, each of about [`DIRECT_WRITE`] plus a batch: the output thread waits for the
/// writer only when all of them are in flight.
const BUFFERS: usize = 4;
/// Room of a buffer: a full write, a whole batch on top (the output hands this writer batches
/// of [`DIRECT_WRITE`], which it takes as they are when it can: see [`Phase`]) and the block
/// carried over.
const BUFFER_ROOM: usize = DIRECT_WRITE + (DIRECT_WRITE + (DIRECT_WRITE >> 3)) + BLOCK;

/// A byte buffer whose start is aligned to [`BLOCK`] (safe code: a vector whose bytes from
/// `start` on are the buffer's). Buffers pass between batches and this writer: a batch laid
/// out for it (see [`Phase`]) becomes one without a copy, and a written one is given back to
/// the output as a batch's buffer.
struct Aligned {
    v: Vec<u8>,
    start: usize,
}

impl Aligned {
    /// (Were the address not alignable, the buffer would start unaligned and the device
    /// refuse the first direct write, which turns them off.)
    fn with_capacity(cap: usize) -> Self {
        let mut v: Vec<u8> = Vec::with_capacity(cap + BLOCK);
        let start = v.as_ptr().align_offset(BLOCK).min(BLOCK);
        v.resize(start, 0);
        Self { v, start }
    }

    fn len(&self) -> usize {
        self.v.len() - self.start
    }

    fn bytes(&self) -> &[u8] {
        &self.v[self.start..]
    }

    fn capacity(&self) -> usize {
        self.v.capacity() - self.start
    }

    fn truncate(&mut self, len: usize) {
        self.v.truncate(self.start + len);
    }

    /// Appends `d`, moving to a larger buffer when needed (a batch larger than usual): never
    /// by growing the vector, which could move it off the alignment.
    fn extend(&mut self, d: &[u8]) {
        if self.len() + d.len() > self.capacity() {
            let mut bigger = Self::with_capacity((self.len() + d.len()).next_power_of_two());
            bigger.v.extend_from_slice(self.bytes());
            *self = bigger;
        }
        self.v.extend_from_slice(d);
    }
}

/// Where the stream of lines ends in its last [`BLOCK`], as of the last batch this writer
/// took (its sequence number): the output lays out the next batches from it, so that their
/// lines sit in memory where a direct write can take them from (see [`DirectFile`]'s
/// `take_in_place`). Updated after every batch; a guess from it that turns out wrong (the
/// file moved) only makes that batch be copied.
#[derive(Debug, Default)]
pub struct Phase(AtomicU64);

impl Phase {
    fn set(&self, seq: u64, at: usize) {
        self.0
            .store(seq << 12 | (at % BLOCK) as u64, Ordering::Release);
    }

    /// (Sequence number of the last batch taken, place of the stream's end in its block.)
    pub fn get(&self) -> (u64, usize) {
        let v = self.0.load(Ordering::Acquire);
        (v >> 12, (v & (BLOCK as u64 - 1)) as usize)
    }
}

/// Work for the writer thread.
enum Msg {
    /// Write `buf` at file offset `offset`: past the page cache when `direct` (then the length
    /// is a multiple of [`BLOCK`]), else appended through it.
    Write {
        buf: Aligned,
        offset: u64,
        direct: bool,
    },
    /// The file ends at this offset now (the output thread appended to it itself).
    Reset(u64),
}

/// State shared by the output thread and the writer.
#[derive(Default)]
struct Shared {
    /// The file system refused a direct write: no more of them.
    refused: AtomicBool,
    /// The file's size was not what the writer left: the output thread starts again from the
    /// file's end once the writer is done.
    moved: AtomicBool,
    /// The writer's last write failed (it retries).
    failing: AtomicBool,
    /// Stop retrying (close past its deadline).
    give_up: AtomicBool,
    /// Lines given up.
    lost: AtomicU64,
    /// Bytes written past the page cache.
    direct_bytes: AtomicU64,
}

/// The output file, written past the page cache by a writer thread at full rate.
pub struct DirectFile {
    /// The caller's `O_APPEND` descriptor: small batches go through it while nothing is in
    /// flight.
    append: File,
    /// The file again, read-only, for its last partial block.
    reader: File,
    tx: Option<SyncSender<Msg>>,
    back: Receiver<Aligned>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    /// Buffers back from the writer.
    free: Vec<Aligned>,
    made: usize,
    in_flight: usize,
    /// The file's bytes from `base` on (a multiple of [`BLOCK`]); the first `on_file` are in
    /// the file already, the rest wait.
    cur: Aligned,
    base: u64,
    on_file: usize,
    /// `cur` does not mirror the file's end (small batches were appended, or the file moved):
    /// read it again before gathering.
    stale: bool,
    /// When the bytes waiting in `cur` began to wait.
    since: Option<Instant>,
    /// Of the batch being taken, the bytes taken (a retry after an error goes on from there).
    taken: usize,
    /// Where the stream ends in its block, for the output's layout of batches.
    phase: Arc<Phase>,
    /// Batches whose buffers were written as they came (`take_in_place`).
    in_place: u64,
}

impl DirectFile {
    /// Over `file` (a regular file opened for appending): opens it again with `O_DIRECT` and
    /// starts the writer thread. None when the file system refuses `O_DIRECT`.
    pub fn open(file: &File) -> Option<Self> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        let direct = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| tracing::debug!("output file: no direct writes ({e})"))
            .ok()?;
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| tracing::debug!("output file: no direct writes ({e})"))
            .ok()?;
        let end = file.metadata().ok()?.len();
        let shared = Arc::new(Shared::default());
        let (tx, rx) = sync_channel::<Msg>(BUFFERS + 1);
        let (back_tx, back) = sync_channel::<Aligned>(BUFFERS + 1);
        let w = Writer {
            append: file.try_clone().ok()?,
            direct,
            end,
            moved: false,
            last: b'\n',
            resume_line: false,
            shared: shared.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("dbgov-write".into())
            .spawn(move || {
                crate::sched::keep_normal();
                w.run(rx, back_tx)
            })
            .map_err(|e| tracing::warn!("output file: no writer thread ({e})"))
            .ok()?;
        Some(Self {
            append: file.try_clone().ok()?,
            reader,
            tx: Some(tx),
            back,
            thread: Some(thread),
            shared,
            free: Vec::new(),
            made: 1,
            in_flight: 0,
            cur: Aligned::with_capacity(BUFFER_ROOM),
            base: 0,
            on_file: 0,
            stale: true,
            since: None,
            taken: 0,
            phase: {
                let p = Phase::default();
                p.set(0, end as usize % BLOCK);
                Arc::new(p)
            },
            in_place: 0,
        })
    }

    /// Bytes written past the page cache so far.
    pub fn direct_bytes(&self) -> u64 {
        self.shared.direct_bytes.load(Ordering::Relaxed)
    }

    fn waiting(&self) -> usize {
        self.cur.len() - self.on_file
    }

    /// Takes back the buffers the writer is done with, waiting up to `wait` for one.
    fn collect(&mut self, wait: Option<Duration>) {
        let mut wait = wait;
        loop {
            let got = match wait.take() {
                Some(d) => self.back.recv_timeout(d).ok(),
                None => self.back.try_recv().ok(),
            };
            match got {
                Some(mut b) => {
                    b.truncate(0);
                    self.free.push(b);
                    self.in_flight -= 1;
                }
                None => break,
            }
        }
    }

    /// Waits until the writer is done with everything handed over (or `deadline`).
    fn drain(&mut self, deadline: Instant) -> bool {
        while self.in_flight > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            self.collect(Some((deadline - now).min(Duration::from_millis(100))));
        }
        true
    }

    /// A buffer for what follows a hand-over. None while all are in flight.
    fn spare(&mut self) -> Option<Aligned> {
        self.collect(None);
        if let Some(b) = self.free.pop() {
            return Some(b);
        }
        if self.made < BUFFERS {
            self.made += 1;
            return Some(Aligned::with_capacity(BUFFER_ROOM));
        }
        None
    }

    /// As [`Self::spare`], waiting for the writer; an error while the writer fails.
    fn spare_wait(&mut self) -> io::Result<Aligned> {
        loop {
            if let Some(b) = self.spare() {
                return Ok(b);
            }
            self.collect(Some(Duration::from_millis(100)));
            if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                return Err(io::Error::other("the output file's writer has stopped"));
            }
            if self.free.is_empty() && self.shared.failing.load(Ordering::Acquire) {
                return Err(io::Error::other(
                    "the output file's writer is failing; events wait",
                ));
            }
        }
    }

    /// Hands the waiting bytes to the writer, `next` taking what stays: past the page cache
    /// the whole blocks (the rest starts `next`), else everything (appended; the last partial
    /// block starts `next` as bytes already in the file).
    fn hand_over(&mut self, mut next: Aligned, direct: bool) {
        let len = self.cur.len();
        let whole = len & !(BLOCK - 1);
        next.truncate(0);
        next.extend(&self.cur.bytes()[whole..len]);
        let mut buf = std::mem::replace(&mut self.cur, next);
        if direct {
            buf.truncate(whole);
            self.on_file = 0;
        } else {
            self.on_file = len - whole;
        }
        let offset = self.base;
        self.base += whole as u64;
        self.since = None;
        if buf.len() == 0 {
            self.free.push(buf);
            return;
        }
        if let Some(tx) = &self.tx {
            self.in_flight += 1;
            if tx
                .send(Msg::Write {
                    buf,
                    offset,
                    direct,
                })
                .is_err()
            {
                self.in_flight -= 1;
            }
        }
    }

    /// Reads the file's last partial block into `cur`, so that gathering goes on from the
    /// file's end, and tells the writer where that is.
    fn resync(&mut self) -> io::Result<()> {
        let end = self.append.metadata()?.len();
        self.base = end & !(BLOCK as u64 - 1);
        let part = (end - self.base) as usize;
        self.cur.truncate(0);
        if part > 0 {
            let mut block = [0u8; BLOCK];
            self.reader.read_exact_at(&mut block[..part], self.base)?;
            self.cur.extend(&block[..part]);
        }
        self.on_file = part;
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Reset(end));
        }
        self.stale = false;
        Ok(())
    }

    /// Appends `data` through the page cache from the output thread (nothing in flight).
    fn append_now(&mut self, data: &[u8]) -> io::Result<()> {
        super::jsonl::write_resuming(&mut self.append, data, &mut self.taken)?;
        self.stale = true;
        Ok(())
    }

    /// After the writer found the file moved (or direct writes refused): hands over what
    /// waits, to be appended, waits for the writer and starts again from the file's end.
    fn settle(&mut self) -> io::Result<()> {
        let moved = self.shared.moved.load(Ordering::Acquire);
        let refused = self.shared.refused.load(Ordering::Acquire);
        if !moved && (!refused || self.stale && self.in_flight == 0) {
            return Ok(());
        }
        if self.waiting() > 0 {
            let next = self.spare_wait()?;
            self.hand_over(next, false);
        }
        if !self.drain(Instant::now() + Duration::from_secs(5)) {
            return Err(io::Error::other("the output file's writer is not done"));
        }
        self.shared.moved.store(false, Ordering::Release);
        self.cur.truncate(0);
        self.on_file = 0;
        self.stale = true;
        Ok(())
    }

    /// Takes the batch's buffer itself, without copying its lines, when the output laid it out
    /// for that (see [`Phase`]): its lines follow room for the head of the stream's last
    /// block, at the place in memory where that head starts on a block boundary. The head (what
    /// waits of the last partial block, under 4 KiB) is copied in front of the lines, the
    /// buffer is handed to the writer (its whole blocks, the rest starting the next buffer)
    /// as a gathered one is, and the batch goes on with a written buffer. False (nothing
    /// done) when the batch is not laid out so, or is small, or direct writes are off.
    fn take_in_place(&mut self, batch: &mut Batch) -> io::Result<bool> {
        self.settle()?;
        let lines = batch.data.len().saturating_sub(batch.lead);
        if lines < DIRECT_BATCH || self.shared.refused.load(Ordering::Acquire) {
            return Ok(false);
        }
        if self.stale {
            self.resync()?;
        }
        let head = self.cur.len();
        // Nothing of the head in the file yet (a head appended through the page cache is
        // completed through it, by `take`), and room for it before the lines.
        if self.on_file != 0 || head >= BLOCK || batch.lead < head {
            return Ok(false);
        }
        let at = batch.lead - head;
        if !(batch.data.as_ptr() as usize)
            .wrapping_add(at)
            .is_multiple_of(BLOCK)
        {
            return Ok(false);
        }
        // The buffer the batch goes on with, taken before anything changes: an error leaves
        // the batch whole for the retry.
        let mut back = self.spare_wait()?.v;
        back.clear();
        batch.data[at..batch.lead].copy_from_slice(self.cur.bytes());
        let v = std::mem::replace(&mut batch.data, back);
        batch.lead = 0;
        let head_buf = std::mem::replace(&mut self.cur, Aligned { v, start: at });
        self.hand_over(head_buf, true);
        if self.waiting() > 0 {
            self.since = Some(Instant::now());
        }
        self.in_place += 1;
        Ok(true)
    }

    fn take(&mut self, batch: &[u8]) -> io::Result<()> {
        self.settle()?;
        // What a failed try took already is not taken again.
        let data = &batch[self.taken.min(batch.len())..];
        let refused = self.shared.refused.load(Ordering::Acquire);
        // Quiet (nothing gathered or in flight): a small batch goes to the file at once. Once
        // direct writes are refused, everything does (`settle` has handed over what waited
        // and waited for the writer).
        if refused || (data.len() < DIRECT_BATCH && self.waiting() == 0 && self.in_flight == 0) {
            return self.append_now(batch);
        }
        if self.stale {
            self.resync()?;
        }
        // The buffer that follows is taken before anything of `data`, so that an error leaves
        // the batch whole for the retry.
        let next = if self.cur.len() + data.len() >= DIRECT_WRITE {
            Some(self.spare_wait()?)
        } else {
            None
        };
        if self.waiting() == 0 {
            self.since = Some(Instant::now());
        }
        self.cur.extend(data);
        self.taken = batch.len();
        if let Some(next) = next {
            self.hand_over(next, true);
            if self.waiting() > 0 {
                self.since = Some(Instant::now());
            }
        }
        Ok(())
    }
}

impl Sink for DirectFile {
    fn write(&mut self, batch: &mut Batch) -> io::Result<()> {
        let r = match self.taken == 0 && self.take_in_place(batch)? {
            true => Ok(()),
            false => self.take(batch.lines()),
        };
        if r.is_ok() {
            self.taken = 0;
            if !self.stale {
                self.phase.set(batch.seq, self.cur.len());
            }
        }
        r
    }

    fn phase(&self) -> Option<Arc<Phase>> {
        Some(self.phase.clone())
    }

    fn tick(&mut self) -> io::Result<()> {
        self.collect(None);
        self.settle()?;
        if self.waiting() > 0 && self.since.is_some_and(|t| t.elapsed() >= TAIL_DELAY) {
            if let Some(next) = self.spare() {
                self.hand_over(next, false);
            }
        }
        Ok(())
    }

    fn close(&mut self, deadline: Instant) -> CloseReport {
        if self.waiting() > 0 {
            // The buffer just handed over is the last: its room is not needed.
            self.hand_over(Aligned::with_capacity(BLOCK), false);
        }
        let done = self.drain(deadline);
        if !done {
            self.shared.give_up.store(true, Ordering::Release);
        }
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        tracing::debug!(
            direct_bytes = self.direct_bytes(),
            batches_in_place = self.in_place,
            "output file closed (bytes written past the page cache; batches written from their own buffers)"
        );
        CloseReport {
            kept: 0,
            lost: self.shared.lost.load(Ordering::Acquire),
        }
    }
}

impl Drop for DirectFile {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.close(Instant::now() + Duration::from_secs(5));
        }
    }
}

/// The writer thread's state.
struct Writer {
    append: File,
    direct: File,
    /// Where the file ends, as far as this writer knows (after `moved`: where the stream of
    /// lines is, not the file).
    end: u64,
    /// The file moved under the writer: everything is appended until the next reset.
    moved: bool,
    /// The last byte written (a line ends with `\n`).
    last: u8,
    /// The file moved after a write that ended inside a line: the next append starts with
    /// the next whole line.
    resume_line: bool,
    shared: Arc<Shared>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Msg>, back: SyncSender<Aligned>) {
        loop {
            let msg = match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match msg {
                Msg::Reset(end) => {
                    self.end = end;
                    self.moved = false;
                    self.last = b'\n';
                    self.resume_line = false;
                }
                Msg::Write {
                    buf,
                    offset,
                    direct,
                } => {
                    let mut backoff = Duration::from_millis(10);
                    loop {
                        match self.write(&buf, offset, direct) {
                            Ok(()) => {
                                // The recovery is said as the output thread says it (once per
                                // outage, like the error).
                                if self.shared.failing.swap(false, Ordering::AcqRel) {
                                    tracing::warn!(
                                        "writing events again; the waiting events were written"
                                    );
                                }
                                break;
                            }
                            Err(e) => {
                                if !self.shared.failing.swap(true, Ordering::AcqRel) {
                                    tracing::error!(
                                        "cannot write events to the output file ({e}); retrying"
                                    );
                                }
                                if self.shared.give_up.load(Ordering::Acquire) {
                                    let from = self.end.saturating_sub(offset) as usize;
                                    let rest = buf.bytes().get(from..).unwrap_or_default();
                                    let lines = rest.iter().filter(|&&b| b == b'\n').count();
                                    self.shared.lost.fetch_add(lines as u64, Ordering::AcqRel);
                                    break;
                                }
                                std::thread::sleep(backoff);
                                backoff = (backoff * 2).min(Duration::from_millis(500));
                            }
                        }
                    }
                    let _ = back.send(buf);
                }
            }
        }
    }

    /// Writes one buffer; after an error the same call goes on where it stopped.
    fn write(&mut self, buf: &Aligned, offset: u64, direct: bool) -> io::Result<()> {
        let bytes = buf.bytes();
        let stop = offset + bytes.len() as u64;
        if !self.moved {
            let size = self.append.metadata()?.len();
            if size != self.end {
                self.moved = true;
                self.resume_line = self.last != b'\n';
                self.shared.moved.store(true, Ordering::Release);
                tracing::warn!(
                    expected = self.end,
                    size,
                    "the output file changed size under the agent (truncated or appended to); \
                     appending where it ends now"
                );
            }
        }
        if direct && !self.moved && !self.shared.refused.load(Ordering::Acquire) {
            // The first block's head may be in the file already, appended through the page
            // cache (a tail written after a quiet moment). A direct write over it would make
            // the kernel write that dirty page back and wait first, which on a loaded host took
            // up to 3.5 s (a test program under sysbench; at most 35 ms when it started at the
            // next block), long enough for the output to fall behind and the ring to overflow.
            // So the rest of that block goes through the page cache too, and the direct write
            // starts at the next block.
            let head = self.end.saturating_sub(offset).min(bytes.len() as u64) as usize;
            let direct_from = head.next_multiple_of(BLOCK).min(bytes.len());
            if direct_from > head {
                let mut from = head;
                let r = super::jsonl::write_resuming(
                    &mut self.append,
                    &bytes[..direct_from],
                    &mut from,
                );
                if from > head {
                    self.end = offset + from as u64;
                    self.last = bytes[from - 1];
                }
                r?;
            }
            let rest = &bytes[direct_from..];
            if rest.is_empty() {
                self.end = self.end.max(stop);
                return Ok(());
            }
            match self.direct.write_all_at(rest, offset + direct_from as u64) {
                Ok(()) => {
                    self.end = stop;
                    self.last = bytes.last().copied().unwrap_or(self.last);
                    self.shared
                        .direct_bytes
                        .fetch_add(rest.len() as u64, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    tracing::info!(
                        "output file: direct writes refused ({e}); writing through the page cache"
                    );
                    self.shared.refused.store(true, Ordering::Release);
                }
                Err(e) => return Err(e),
            }
        }
        // Through the page cache, from where this writer's bytes end.
        let mut from = self.end.saturating_sub(offset).min(bytes.len() as u64) as usize;
        if self.resume_line {
            // The file moved in the middle of a line: start with the next whole one.
            match bytes[from..].iter().position(|&b| b == b'\n') {
                Some(i) => {
                    from += i + 1;
                    self.resume_line = false;
                }
                None => {
                    self.end = stop;
                    return Ok(());
                }
            }
        }
        let start = from;
        let r = super::jsonl::write_resuming(&mut self.append, bytes, &mut from);
        if from > start {
            self.end = offset + from as u64;
            self.last = bytes[from - 1];
        }
        r?;
        self.end = self.end.max(stop);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("dbgov-direct-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Lines `from..to`, of varied lengths.
    fn lines(from: usize, to: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for i in from..to {
            v.extend_from_slice(
                format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 300)).as_bytes(),
            );
        }
        v
    }

    fn batch(data: Vec<u8>) -> Batch {
        Batch {
            data,
            ..Default::default()
        }
    }

    /// `lines` laid out as the output lays out a batch for this writer, from its last report.
    fn laid_out(d: &DirectFile, seq: u64, lines: &[u8]) -> Batch {
        let (_, at) = d.phase.get();
        let mut data: Vec<u8> = Vec::with_capacity(lines.len() + 2 * BLOCK);
        let align = (data.as_ptr() as usize).wrapping_neg() % BLOCK;
        data.resize(align + at, 0);
        let lead = data.len();
        data.extend_from_slice(lines);
        Batch {
            data,
            recs: Vec::new(),
            lead,
            seq,
        }
    }

    #[test]
    fn batches_laid_out_for_the_writer_are_written_from_their_own_buffers() {
        // An unaligned start: the first batch's lines continue a block already in the file.
        let (dir, path, mut want, mut d) = over_unaligned("inplace");
        let mut n = 0;
        let mut seq = 0;
        // Laid out, not laid out (copied), small (appended at once), after a quiet moment (the
        // tail appended through the page cache), and laid out again. Until a first direct
        // write, and after a tail went through the page cache, batches are gathered (copied)
        // as before; from the next direct write on, laid-out batches go as they are.
        let mut plan = vec![(3000, true, false); 24];
        plan[9] = (2800, false, false);
        plan[12] = (3100, true, true);
        plan[13] = (10, true, false);
        plan[14] = (5, false, true);
        let mut placed = Vec::new();
        for (size, layout, quiet) in plan {
            let b = lines(n, n + size);
            n += size;
            seq += 1;
            want.extend_from_slice(&b);
            let mut batch = if layout {
                laid_out(&d, seq, &b)
            } else {
                Batch { seq, ..batch(b) }
            };
            let before = d.in_place;
            d.write(&mut batch).unwrap();
            placed.push(d.in_place > before);
            if d.in_place > before {
                // The batch goes on with a written buffer, as large as the ones it fills.
                assert!(batch.data.is_empty() && batch.data.capacity() >= 2 * BLOCK);
                assert_eq!(batch.lead, 0);
            }
            if quiet {
                after_a_quiet_moment(&mut d, &path, &want);
            }
        }
        // In place from soon after the start, and again after the disruptions.
        assert!(
            placed[..9].iter().filter(|&&p| p).count() >= 3,
            "{placed:?}"
        );
        assert!(
            placed[16..].iter().filter(|&&p| p).count() >= 3,
            "{placed:?}"
        );
        closed_with_every_line(d, &dir, &path, &want);
    }

    /// A file in a fresh directory `name` holding one line, so that it ends inside a block,
    /// and a writer over it: (directory, file, the file's bytes, writer).
    fn over_unaligned(name: &str) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>, DirectFile) {
        let dir = dir(name);
        let path = dir.join("events.jsonl");
        let want = b"{\"old\":1}\n".to_vec();
        std::fs::write(&path, &want).unwrap();
        let f = crate::files::open_private(&path, false).unwrap();
        let d = DirectFile::open(&f).expect("O_DIRECT on the temporary directory");
        (dir, path, want, d)
    }

    /// Closes the writer; the file at `path` is then `want`, and `dir` is removed.
    fn closed_with_every_line(
        mut d: DirectFile,
        dir: &std::path::Path,
        path: &std::path::Path,
        want: &[u8],
    ) {
        d.close(Instant::now() + Duration::from_secs(5));
        drop(d);
        let got = std::fs::read(path).unwrap();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the file is every line in order");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn wait_idle(d: &mut DirectFile) {
        assert!(d.drain(Instant::now() + Duration::from_secs(5)));
    }

    /// A quiet moment: what waits is written after the tail delay, and the file at `path`
    /// is then `want`.
    fn after_a_quiet_moment(d: &mut DirectFile, path: &std::path::Path, want: &[u8]) {
        wait_idle(d);
        std::thread::sleep(TAIL_DELAY + Duration::from_millis(20));
        d.tick().unwrap();
        wait_idle(d);
        assert!(
            std::fs::read(path).unwrap() == want,
            "everything is in the file"
        );
    }

    #[test]
    fn mixed_batches_onto_an_unaligned_file_are_every_line_in_order() {
        let (dir, path, mut want, mut d) = over_unaligned("mixed");
        // On a quiet host a small batch is in the file as soon as it is written.
        let b = lines(0, 5);
        want.extend_from_slice(&b);
        d.write(&mut batch(b)).unwrap();
        assert!(std::fs::read(&path).unwrap() == want);
        let mut n = 5;
        // Large and small batches alternating, as a host between busy and quiet sends them.
        for (round, size) in [9000, 20, 3000, 7, 12000, 1, 5000, 6000, 30]
            .iter()
            .enumerate()
        {
            let b = lines(n, n + size);
            n += size;
            want.extend_from_slice(&b);
            d.write(&mut batch(b)).unwrap();
            if round % 3 == 2 {
                wait_idle(&mut d);
            }
        }
        closed_with_every_line(d, &dir, &path, &want);
    }

    #[test]
    fn large_batches_go_past_the_page_cache_and_what_waits_is_written_after_a_delay() {
        let dir = dir("tail");
        let path = dir.join("events.jsonl");
        let f = crate::files::open_private(&path, false).unwrap();
        let mut d = DirectFile::open(&f).expect("O_DIRECT on the temporary directory");
        let mut want = Vec::new();
        let mut n = 0;
        while want.len() < 3 * DIRECT_WRITE {
            let b = lines(n, n + 2000);
            n += 2000;
            want.extend_from_slice(&b);
            d.write(&mut batch(b)).unwrap();
        }
        wait_idle(&mut d);
        assert!(
            d.direct_bytes() >= 2 * DIRECT_WRITE as u64,
            "{} bytes written directly",
            d.direct_bytes()
        );
        // What waits (less than a write) is not in the file yet ...
        let on_disk = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(on_disk < want.len() && want.starts_with(&std::fs::read(&path).unwrap()));
        // ... and is after a quiet moment.
        after_a_quiet_moment(&mut d, &path, &want);
        // More after that goes on from there. The last block's head is in the file through
        // the page cache: the rest of that block goes the same way, and the direct writes
        // start at the next block, never over a page the page cache holds (writing it back
        // first stalled for seconds on a loaded host).
        let end0 = std::fs::metadata(&path).unwrap().len();
        assert!(
            !end0.is_multiple_of(BLOCK as u64),
            "the tail ends inside a block"
        );
        let direct0 = d.direct_bytes();
        while want.len() < end0 as usize + 2 * DIRECT_WRITE {
            let b = lines(n, n + 2000);
            n += 2000;
            want.extend_from_slice(&b);
            d.write(&mut batch(b)).unwrap();
        }
        wait_idle(&mut d);
        let end1 = std::fs::metadata(&path).unwrap().len();
        let direct = d.direct_bytes() - direct0;
        assert!(
            direct > 0 && direct.is_multiple_of(BLOCK as u64),
            "{direct}"
        );
        assert!(
            direct <= end1 - end0.next_multiple_of(BLOCK as u64),
            "{direct} bytes written directly, from {end0} to {end1}: over the cached block"
        );
        assert!(want.starts_with(&std::fs::read(&path).unwrap()));
        d.close(Instant::now() + Duration::from_secs(5));
        assert!(std::fs::read(&path).unwrap() == want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_truncated_under_the_writer_goes_on_from_a_whole_line() {
        let dir = dir("trunc");
        let path = dir.join("events.jsonl");
        let f = crate::files::open_private(&path, false).unwrap();
        let mut d = DirectFile::open(&f).expect("O_DIRECT on the temporary directory");
        let mut n = 0;
        for _ in 0..6 {
            d.write(&mut batch(lines(n, n + 3000))).unwrap();
            n += 3000;
        }
        wait_idle(&mut d);
        // copytruncate: the file is emptied while the writer holds lines.
        f.set_len(0).unwrap();
        let first_after = n;
        for _ in 0..6 {
            d.write(&mut batch(lines(n, n + 3000))).unwrap();
            n += 3000;
        }
        d.close(Instant::now() + Duration::from_secs(5));
        let got = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        assert!(got.ends_with('\n'));
        let nums: Vec<usize> = got
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("whole lines only: {e}: {}", &l[..l.len().min(400)])
                });
                v["n"].as_u64().unwrap() as usize
            })
            .collect();
        assert!(
            nums.windows(2).all(|w| w[1] == w[0] + 1),
            "in order, none missing"
        );
        assert_eq!(nums.last(), Some(&(n - 1)), "up to the last line");
        assert!(
            nums[0] <= first_after,
            "every line written after the truncation is there (from {})",
            nums[0]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
