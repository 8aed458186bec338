//! The local spool in front of Kafka: every sealed event is appended here first, and leaves
//! only after the broker acknowledged it (a delivery report with `acks=all`).
//!
//! Layout, under `DIR` (`<state_dir>/spool`):
//! - `NNNNNNNNNNNNNNNNNNNN.seg`: segment files named by the index of their first record (an
//!   index counts records over the spool's whole life). A record is
//!   `len: u32 LE | crc32(body): u32 LE | body`, with `body = flags: u8 | key: [u8; 16] | event`.
//! - `acked`: the index of the first record not yet acknowledged (text, replaced atomically).
//! - `lock`: held (flock) by the one agent that owns the spool.
//!
//! Pure file handling, no Kafka: the producer (`kafka.rs`) reads with [`Reader`] and reports
//! acknowledgements with [`Acks`].
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Batch;

/// Errors of the spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spool {0} is in use by another dbgov process")]
    Locked(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What to do when the spool reaches its size cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFull {
    /// Stop reading the kernel ring buffer until there is room: the kernel then drops records
    /// and counts them (`ring_buffer_full` gaps). The database is never slowed.
    Pause,
    /// Drop the newest events before they are sealed; a `spool_full` gap counts them.
    #[default]
    DropNewest,
}

/// Spool settings (config `spool:`).
#[derive(Clone, Debug)]
pub struct SpoolOptions {
    pub dir: PathBuf,
    /// Size cap of all segments together.
    pub max_bytes: u64,
    /// fsync the active segment at this interval.
    pub fsync_interval: Duration,
    /// fsync after every batch instead.
    pub fsync_every_batch: bool,
    pub on_full: OnFull,
}

impl Default for SpoolOptions {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("/var/lib/dbgov/spool"),
            max_bytes: 1 << 30,
            fsync_interval: Duration::from_millis(200),
            fsync_every_batch: false,
            on_full: OnFull::default(),
        }
    }
}

pub const FLAG_ALERT: u8 = 1;
pub const FLAG_CHECKPOINT: u8 = 2;
const HEADER: usize = 8;
/// A record larger than this is corrupt (events are at most a few hundred KiB).
const MAX_RECORD: u32 = 64 << 20;

/// Adds one damaged stretch to the damage report.
fn add_damage(d: &mut Option<(u64, String)>, bytes: u64, what: String) {
    match d {
        Some((b, text)) => {
            *b += bytes;
            text.push_str("; ");
            text.push_str(&what);
        }
        None => *d = Some((bytes, what)),
    }
}

fn seg_name(first: u64) -> String {
    format!("{first:020}.seg")
}

/// The segments in `dir`, by first index.
pub fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, SpoolError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_suffix(".seg")
            .and_then(|n| n.parse::<u64>().ok())
        {
            v.push((n, e.path()));
        }
    }
    v.sort();
    Ok(v)
}

/// One record read back.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub index: u64,
    pub flags: u8,
    pub key: [u8; 16],
    pub event: Vec<u8>,
}

/// Parses the record at the front of `b`: Ok(None) when `b` holds only part of one, Err when
/// the bytes are not a valid record (bad length or checksum).
/// A parsed record: (flags, key, event, bytes used).
type Parsed<'a> = (u8, [u8; 16], &'a [u8], usize);

fn parse(b: &[u8]) -> Result<Option<Parsed<'_>>, ()> {
    if b.len() < HEADER {
        return Ok(None);
    }
    let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let crc = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    if !(17..=MAX_RECORD).contains(&len) {
        return Err(());
    }
    let end = HEADER + len as usize;
    if b.len() < end {
        return Ok(None);
    }
    let body = &b[HEADER..end];
    if crc32fast::hash(body) != crc {
        return Err(());
    }
    let mut key = [0u8; 16];
    key.copy_from_slice(&body[1..17]);
    Ok(Some((body[0], key, &body[17..], end)))
}

/// Counts the valid records of a segment file; returns (records, valid length).
fn scan(path: &Path) -> Result<(u64, u64), SpoolError> {
    let data = std::fs::read(path).map_err(io(path))?;
    let (mut n, mut at) = (0u64, 0usize);
    while let Ok(Some((_, _, _, used))) = parse(&data[at..]) {
        at += used;
        n += 1;
    }
    Ok((n, at as u64))
}

/// Appends batches. Owned by the sink thread.
pub struct Writer {
    opts: SpoolOptions,
    _lock: File,
    seg: File,
    seg_path: PathBuf,
    seg_bytes: u64,
    seg_max: u64,
    next: u64,
    buf: Vec<u8>,
    /// Records of the batch being appended that are already in a segment: a batch whose
    /// append failed part-way is offered again, and resumes after them.
    partial: usize,
    /// Bytes of those records not yet added to `shared.bytes`: a batch's bytes count once it is
    /// whole, as the output stops counting it as queued only then (else it would count twice).
    unpublished: u64,
    /// Tests: the write of piece number N from now fails as a full disk would.
    #[cfg(test)]
    fail_piece: Option<usize>,
    dirty: bool,
    last_sync: Instant,
    pub shared: Arc<Shared>,
}

/// Appends one spool record: length, CRC-32 (of flags, key and event), flags, key, event.
fn frame(buf: &mut Vec<u8>, r: &super::RecMeta, event: &[u8]) {
    let flags = (r.alert as u8 * FLAG_ALERT) | (r.checkpoint as u8 * FLAG_CHECKPOINT);
    let mut h = crc32fast::Hasher::new();
    h.update(&[flags]);
    h.update(&r.key);
    h.update(event);
    let len = (17 + event.len()) as u32;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&h.finalize().to_le_bytes());
    buf.push(flags);
    buf.extend_from_slice(&r.key);
    buf.extend_from_slice(event);
}

/// The most bytes of records written at once. Each piece is committed on its own, so a disk
/// with room for less than a whole batch still takes part of it, and the segments stay near
/// their size limit (a delivered segment is what a full disk frees).
const APPEND_PIECE: usize = 64 << 10;

/// Counters shared by the writer, the producer and the pipeline.
#[derive(Debug, Default)]
pub struct Shared {
    /// Bytes in segment files.
    pub bytes: AtomicU64,
    /// Index after the last appended record.
    pub appended: AtomicU64,
    /// Index of the first record not acknowledged.
    pub acked: AtomicU64,
    /// Damage found when the spool was opened (bytes cut or unreadable, and what happened),
    /// taken once by the output and reported as a `spool_damaged` gap.
    pub damage: std::sync::Mutex<Option<(u64, String)>>,
    /// When records were appended, one mark per second at most: (index after the last record
    /// appended in that second, unix ms of the first). Marks below `acked` are dropped.
    marks: std::sync::Mutex<std::collections::VecDeque<(u64, u64)>>,
    /// What the producer reports, for metrics.
    pub kafka: KafkaStats,
}

/// The Kafka producer's state, for metrics (`dbgov_kafka_*`).
#[derive(Debug, Default)]
pub struct KafkaStats {
    /// Delivery reports that failed (the record is sent again).
    pub delivery_errors: AtomicU64,
    /// Errors of the client itself: brokers unreachable, authentication, topic creation.
    pub broker_errors: AtomicU64,
    /// Unix ms of the last acknowledgement (0: none yet).
    pub last_delivery_ms: AtomicU64,
    /// Messages handed to librdkafka and not yet acknowledged.
    pub queue_messages: AtomicU64,
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Shared {
    /// Notes that every record below `end` was appended by `now_ms`.
    fn mark(&self, end: u64, now_ms: u64) {
        if let Ok(mut m) = self.marks.lock() {
            match m.back_mut() {
                Some(last) if now_ms < last.1 + 1000 => last.0 = end,
                _ => m.push_back((end, now_ms)),
            }
        }
    }

    /// How long the oldest record not yet acknowledged has waited, in seconds (0 when none
    /// waits; accurate to a second). Records left by an earlier run count from the open.
    pub fn oldest_age(&self, now_ms: u64) -> f64 {
        let acked = self.acked.load(Ordering::Acquire);
        if acked >= self.appended.load(Ordering::Acquire) {
            return 0.0;
        }
        let Ok(mut m) = self.marks.lock() else {
            return 0.0;
        };
        while m.front().is_some_and(|f| f.0 <= acked) {
            m.pop_front();
        }
        m.front()
            .map_or(0.0, |f| now_ms.saturating_sub(f.1) as f64 / 1000.0)
    }
}

impl Writer {
    /// Opens (or creates) the spool, repairs a torn tail left by a crash, and starts a new
    /// segment. Returns the writer; `shared.acked` says where a reader starts.
    pub fn open(opts: SpoolOptions) -> Result<Self, SpoolError> {
        let dir = opts.dir.clone();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on an open descriptor we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(SpoolError::Locked(dir));
        }
        let segs = segments(&dir)?;
        let mut next = 0;
        let mut bytes = 0;
        let mut damage: Option<(u64, String)> = None;
        for (i, (first, path)) in segs.iter().enumerate() {
            let (n, valid) = scan(path)?;
            let len = std::fs::metadata(path).map_err(io(path))?.len();
            if valid < len {
                if i + 1 == segs.len() {
                    tracing::warn!(
                        segment = %path.display(),
                        "the spool's last segment ends in a torn record (the agent stopped mid-write); {} bytes cut",
                        len - valid
                    );
                    let f = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(io(path))?;
                    f.set_len(valid).map_err(io(path))?;
                    f.sync_all().map_err(io(path))?;
                    add_damage(
                        &mut damage,
                        len - valid,
                        format!(
                            "spool segment {} ended in a damaged record after {n} records: {} bytes cut, the records before it are delivered",
                            path.display(),
                            len - valid
                        ),
                    );
                } else {
                    tracing::error!(
                        segment = %path.display(),
                        "a spool segment is corrupt after {n} records; the records after that point cannot be sent"
                    );
                    add_damage(
                        &mut damage,
                        len - valid,
                        format!(
                            "spool segment {} is corrupt after {n} records: {} bytes unreadable, the later segments are delivered",
                            path.display(),
                            len - valid
                        ),
                    );
                }
            }
            bytes += valid;
            next = first + n;
        }
        let acked = read_acked(&dir)?.clamp(segs.first().map_or(next, |s| s.0), next);
        let seg_max = (opts.max_bytes / 8).clamp(1 << 16, 64 << 20);
        let seg_path = dir.join(seg_name(next));
        let seg = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&seg_path)
            .map_err(io(&seg_path))?;
        let seg_bytes = seg.metadata().map_err(io(&seg_path))?.len();
        sync_dir(&dir)?;
        let shared = Arc::new(Shared {
            bytes: AtomicU64::new(bytes),
            appended: AtomicU64::new(next),
            acked: AtomicU64::new(acked),
            damage: std::sync::Mutex::new(damage),
            marks: std::sync::Mutex::new(Default::default()),
            kafka: KafkaStats::default(),
        });
        // Records an earlier run left count as appended now.
        if acked < next {
            shared.mark(next, unix_ms());
        }
        Ok(Self {
            opts,
            _lock: lock,
            seg,
            seg_path,
            seg_bytes,
            seg_max,
            next,
            buf: Vec::with_capacity(APPEND_PIECE + (4 << 10)),
            partial: 0,
            unpublished: 0,
            #[cfg(test)]
            fail_piece: None,
            dirty: false,
            last_sync: Instant::now(),
            shared,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.opts.dir
    }

    /// Appends every event of the batch, in pieces of at most [`APPEND_PIECE`] bytes. On
    /// error the records of the pieces written stay appended (a torn piece is cut off first),
    /// and the caller offers the same batch again: the append resumes after them, so no record
    /// is appended twice and none is skipped.
    pub fn append(&mut self, batch: &Batch) -> Result<(), SpoolError> {
        let recs = &batch.recs;
        let mut i = self.partial.min(recs.len());
        let mut start = match i {
            0 => batch.lead,
            _ => recs[i - 1].end,
        };
        while i < recs.len() {
            if self.seg_bytes >= self.seg_max {
                self.roll()?;
            }
            self.buf.clear();
            let first = i;
            while i < recs.len() && self.buf.len() < APPEND_PIECE {
                let r = &recs[i];
                let line = &batch.data[start..r.end];
                start = r.end;
                frame(&mut self.buf, r, line.strip_suffix(b"\n").unwrap_or(line));
                i += 1;
            }
            if let Err(e) = self.write_piece() {
                // Cut whatever part of the piece reached the file, so that the retry does not
                // leave a torn record in the middle of the segment.
                let _ = self.seg.set_len(self.seg_bytes);
                // And retry in a new segment: the acknowledged records of this one can then be
                // deleted (the last segment never is), which is what frees a full disk.
                if self.seg_bytes > 0 {
                    let _ = self.roll();
                }
                self.partial = first;
                return Err(SpoolError::Io {
                    path: self.seg_path.clone(),
                    source: e,
                });
            }
            self.seg_bytes += self.buf.len() as u64;
            self.next += (i - first) as u64;
            self.partial = i;
            self.dirty = true;
            self.unpublished += self.buf.len() as u64;
            self.shared.mark(self.next, unix_ms());
            self.shared.appended.store(self.next, Ordering::Release);
        }
        if self.opts.fsync_every_batch {
            // A failed fsync is retried with the batch, which then appends nothing again.
            self.sync()?;
        }
        self.partial = 0;
        self.shared
            .bytes
            .fetch_add(std::mem::take(&mut self.unpublished), Ordering::Relaxed);
        Ok(())
    }

    /// Records of the batch whose append failed that are already appended.
    pub fn partial(&self) -> usize {
        self.partial
    }

    fn write_piece(&mut self) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(n) = self.fail_piece.as_mut() {
            if *n == 0 {
                self.fail_piece = None;
                // Half the piece reaches the file, as a disk filling up mid-write leaves it.
                self.seg.write_all(&self.buf[..self.buf.len() / 2])?;
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            *n -= 1;
        }
        self.seg.write_all(&self.buf)
    }

    /// fsyncs when the interval has passed (call it often).
    pub fn tick(&mut self) -> Result<(), SpoolError> {
        if self.dirty && self.last_sync.elapsed() >= self.opts.fsync_interval {
            self.sync()?;
        }
        Ok(())
    }

    pub fn sync(&mut self) -> Result<(), SpoolError> {
        self.seg.sync_data().map_err(io(&self.seg_path))?;
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn roll(&mut self) -> Result<(), SpoolError> {
        self.sync()?;
        let path = self.opts.dir.join(seg_name(self.next));
        self.seg = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        self.seg_path = path;
        self.seg_bytes = 0;
        sync_dir(&self.opts.dir)
    }
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Records in the spool at `dir` not yet acknowledged (0 when there is no spool).
pub fn waiting(dir: &Path) -> Result<u64, SpoolError> {
    if !dir.exists() {
        return Ok(0);
    }
    let segs = segments(dir)?;
    let mut next = 0;
    for (first, path) in &segs {
        next = first + scan(path)?.0;
    }
    let acked = read_acked(dir)?.max(segs.first().map_or(0, |s| s.0));
    Ok(next.saturating_sub(acked))
}

fn read_acked(dir: &Path) -> Result<u64, SpoolError> {
    let p = dir.join("acked");
    match std::fs::read_to_string(&p) {
        Ok(s) => Ok(s.trim().parse().unwrap_or(0)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(SpoolError::Io { path: p, source: e }),
    }
}

/// Reads records in order, following the writer. Owned by the producer.
pub struct Reader {
    dir: PathBuf,
    file: Option<(u64, File)>,
    /// Index of the next record to return.
    next: u64,
    /// Bytes read from the segment: `buf[at..end]` are not yet parsed (`buf` is zeroed once
    /// and reused).
    buf: Vec<u8>,
    at: usize,
    end: usize,
    shared: Arc<Shared>,
}

impl Reader {
    /// Starts at the first record not yet acknowledged.
    pub fn new(dir: &Path, shared: Arc<Shared>) -> Self {
        Self {
            dir: dir.to_owned(),
            file: None,
            next: shared.acked.load(Ordering::Acquire),
            buf: Vec::new(),
            at: 0,
            end: 0,
            shared,
        }
    }

    /// Index of the next record `next_record` returns.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// The next record, or None when the reader has caught up with the writer.
    pub fn next_record(&mut self) -> Result<Option<Record>, SpoolError> {
        loop {
            if self.next >= self.shared.appended.load(Ordering::Acquire) {
                return Ok(None);
            }
            match parse(&self.buf[self.at..self.end]) {
                Ok(Some((flags, key, event, used))) => {
                    let rec = Record {
                        index: self.next,
                        flags,
                        key,
                        event: event.to_vec(),
                    };
                    self.at += used;
                    self.next += 1;
                    return Ok(Some(rec));
                }
                Ok(None) => {
                    if !self.fill()? {
                        return Ok(None);
                    }
                }
                Err(()) => {
                    tracing::error!(
                        index = self.next,
                        "a spool record fails its checksum; skipping to the next segment"
                    );
                    self.next_segment(true)?;
                }
            }
        }
    }

    /// Reads more of the current segment, opening the right one first. False when nothing
    /// more is available yet.
    fn fill(&mut self) -> Result<bool, SpoolError> {
        if self.file.is_none() {
            let segs = segments(&self.dir)?;
            let Some((first, path)) = segs.iter().rev().find(|(f, _)| *f <= self.next).cloned()
            else {
                // Records below the oldest segment are gone (acknowledged): skip ahead.
                if let Some((first, _)) = segs.first() {
                    self.next = *first;
                    return Ok(true);
                }
                return Ok(false);
            };
            let f = File::open(&path).map_err(io(&path))?;
            self.file = Some((first, f));
            self.at = 0;
            self.end = 0;
            // Skip records before `next` (already acknowledged).
            let mut idx = first;
            while idx < self.next {
                match parse(&self.buf[self.at..self.end]) {
                    Ok(Some((_, _, _, used))) => {
                        self.at += used;
                        idx += 1;
                    }
                    Ok(None) => {
                        if !self.read_more()? {
                            // The segment ended before `next`: records are in the next one.
                            return self.next_segment(false).map(|()| true);
                        }
                    }
                    Err(()) => return self.next_segment(true).map(|()| true),
                }
            }
            return Ok(true);
        }
        if self.read_more()? {
            return Ok(true);
        }
        // At the end of this segment: move on when a later one exists.
        let later = segments(&self.dir)?
            .into_iter()
            .find(|(f, _)| *f > self.file.as_ref().map_or(0, |x| x.0));
        match later {
            Some((first, _)) if first <= self.next => {
                self.file = None;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn read_more(&mut self) -> Result<bool, SpoolError> {
        const CHUNK: usize = 1 << 20;
        let Some((_, f)) = self.file.as_mut() else {
            return Ok(false);
        };
        if self.at > 0 {
            self.buf.copy_within(self.at..self.end, 0);
            self.end -= self.at;
            self.at = 0;
        }
        if self.buf.len() - self.end < CHUNK {
            let want = (self.end + CHUNK).max(self.buf.len() * 2);
            self.buf.resize(want, 0);
        }
        let n = f
            .read(&mut self.buf[self.end..])
            .map_err(|e| SpoolError::Io {
                path: self.dir.clone(),
                source: e,
            })?;
        self.end += n;
        Ok(n > 0)
    }

    /// Abandons the current segment (corrupt) and continues at the next one.
    fn next_segment(&mut self, corrupt: bool) -> Result<(), SpoolError> {
        let cur = self.file.as_ref().map_or(0, |x| x.0);
        let segs = segments(&self.dir)?;
        self.file = None;
        self.at = 0;
        self.end = 0;
        if let Some((first, _)) = segs.into_iter().find(|(f, _)| *f > cur) {
            if corrupt && first > self.next {
                tracing::error!(lost = first - self.next, "spool records lost to corruption");
            }
            self.next = self.next.max(first);
        }
        // Without a later segment, nothing valid follows here: wait for the writer to roll.
        Ok(())
    }
}

/// Records acknowledgements, persists the low-water mark and deletes finished segments.
pub struct Acks {
    dir: PathBuf,
    shared: Arc<Shared>,
    persisted: u64,
    last: Instant,
}

impl Acks {
    pub fn new(dir: &Path, shared: Arc<Shared>) -> Self {
        let persisted = shared.acked.load(Ordering::Acquire);
        Self {
            dir: dir.to_owned(),
            shared,
            persisted,
            last: Instant::now(),
        }
    }

    /// Every record below `upto` is acknowledged. Persisted at most every 200 ms unless
    /// `force`.
    pub fn advance(&mut self, upto: u64, force: bool) -> Result<(), SpoolError> {
        self.shared.acked.fetch_max(upto, Ordering::AcqRel);
        if upto <= self.persisted || (!force && self.last.elapsed() < Duration::from_millis(200)) {
            return Ok(());
        }
        self.last = Instant::now();
        // Delete the segments whose records are all acknowledged (never the last one, which
        // the writer appends to) before writing the mark: on a full disk the mark cannot be
        // written until they are gone. A crash in between is harmless, since the writer
        // starts no earlier than the oldest segment left.
        let segs = segments(&self.dir)?;
        for w in segs.windows(2) {
            if w[1].0 <= upto {
                let len = std::fs::metadata(&w[0].1).map(|m| m.len()).unwrap_or(0);
                if std::fs::remove_file(&w[0].1).is_ok() {
                    self.shared.bytes.fetch_sub(len, Ordering::Relaxed);
                }
            }
        }
        let tmp = self.dir.join("acked.tmp");
        let dst = self.dir.join("acked");
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            writeln!(f, "{upto}").map_err(io(&tmp))?;
            f.sync_data().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &dst).map_err(io(&dst))?;
        self.persisted = upto;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {

    #[test]
    fn the_oldest_waiting_record_is_timed_from_its_append() {
        let sh = Shared {
            bytes: AtomicU64::new(0),
            appended: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            damage: std::sync::Mutex::new(None),
            marks: std::sync::Mutex::new(Default::default()),
            kafka: KafkaStats::default(),
        };
        assert_eq!(sh.oldest_age(10_000), 0.0);
        // Records 0..10 at t=1 s, 10..20 at 1.5 s (same mark), 20..30 at 5 s.
        sh.mark(10, 1_000);
        sh.mark(20, 1_500);
        sh.mark(30, 5_000);
        sh.appended.store(30, Ordering::Release);
        assert_eq!(sh.oldest_age(11_000), 10.0);
        sh.acked.store(15, Ordering::Release);
        assert_eq!(sh.oldest_age(11_000), 10.0);
        sh.acked.store(20, Ordering::Release);
        assert_eq!(sh.oldest_age(11_000), 6.0);
        sh.acked.store(30, Ordering::Release);
        assert_eq!(sh.oldest_age(11_000), 0.0);
        assert_eq!(sh.marks.lock().unwrap().len(), 1);
    }

    use super::*;
    use crate::sink::RecMeta;

    fn batch(from: u64, n: u64) -> Batch {
        let mut b = Batch::default();
        for i in from..from + n {
            b.data
                .extend_from_slice(format!("{{\"n\":{i}}}\n").as_bytes());
            b.recs.push(RecMeta {
                end: b.data.len(),
                key: *b"0123456789abcdef",
                alert: i % 2 == 0,
                checkpoint: false,
            });
        }
        b
    }

    fn opts(dir: &Path) -> SpoolOptions {
        SpoolOptions {
            dir: dir.to_owned(),
            max_bytes: 1 << 16,
            ..Default::default()
        }
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dbgov-spool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn records_come_back_in_order_across_segments_and_restarts() {
        let d = tmpdir("order");
        let mut w = Writer::open(opts(&d)).unwrap();
        for k in 0..50 {
            w.append(&batch(k * 100, 100)).unwrap();
        }
        assert!(segments(&d).unwrap().len() > 2, "small segments roll");
        let mut r = Reader::new(&d, w.shared.clone());
        let mut acks = Acks::new(&d, w.shared.clone());
        for i in 0..3000 {
            let rec = r.next_record().unwrap().unwrap();
            assert_eq!(rec.index, i);
            assert_eq!(rec.event, format!("{{\"n\":{i}}}").into_bytes());
            assert_eq!(rec.flags & FLAG_ALERT != 0, i % 2 == 0);
        }
        acks.advance(3000, true).unwrap();
        drop((r, w));
        // A restart resends from the acknowledged point, and appends after the last record.
        let mut w = Writer::open(opts(&d)).unwrap();
        assert_eq!(w.shared.acked.load(Ordering::Relaxed), 3000);
        w.append(&batch(5000, 10)).unwrap();
        let mut r = Reader::new(&d, w.shared.clone());
        let mut seen = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            seen.push(rec.index);
        }
        assert_eq!(seen, (3000..5010).collect::<Vec<_>>());
        // Acknowledged segments were deleted.
        assert!(segments(&d).unwrap()[0].0 > 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_torn_tail_is_cut_and_a_second_agent_is_refused() {
        let d = tmpdir("torn");
        let mut w = Writer::open(opts(&d)).unwrap();
        w.append(&batch(0, 5)).unwrap();
        assert!(matches!(Writer::open(opts(&d)), Err(SpoolError::Locked(_))));
        let seg = segments(&d).unwrap().pop().unwrap().1;
        drop(w);
        // Half a record at the end, as a crash mid-write leaves it.
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[40, 0, 0, 0, 1, 2]).unwrap();
        let w = Writer::open(opts(&d)).unwrap();
        assert_eq!(w.shared.appended.load(Ordering::Relaxed), 5);
        let mut r = Reader::new(&d, w.shared.clone());
        let mut n = 0;
        while r.next_record().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 5);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// On a full disk the acknowledgement mark cannot be written: the acknowledged segments
    /// are deleted first all the same (which is what makes room again).
    #[test]
    fn acknowledged_segments_go_even_when_the_mark_cannot_be_written() {
        let d = tmpdir("nomark");
        let mut w = Writer::open(opts(&d)).unwrap();
        for k in 0..50 {
            w.append(&batch(k * 100, 100)).unwrap();
        }
        let before = segments(&d).unwrap().len();
        assert!(before > 2);
        // The mark's temporary file cannot be created.
        std::fs::create_dir(d.join("acked.tmp")).unwrap();
        let mut acks = Acks::new(&d, w.shared.clone());
        assert!(acks.advance(5000, true).is_err());
        assert_eq!(
            segments(&d).unwrap().len(),
            1,
            "only the active segment is left"
        );
        std::fs::remove_dir(d.join("acked.tmp")).unwrap();
        acks.advance(5000, true).unwrap();
        drop((acks, w));
        // A restart starts at the oldest segment left.
        let w = Writer::open(opts(&d)).unwrap();
        assert_eq!(w.shared.acked.load(Ordering::Relaxed), 5000);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A failed append (a full disk) cuts what reached the file and moves to a new segment,
    /// so that the old one can go once it is acknowledged; the retried batch reads back whole
    /// and in order.
    #[test]
    fn a_failed_append_is_cut_and_retried_in_a_new_segment() {
        let d = tmpdir("enospc");
        let mut w = Writer::open(opts(&d)).unwrap();
        w.append(&batch(0, 10)).unwrap();
        let shared = w.shared.clone();
        let mut r = Reader::new(&d, shared.clone());
        for i in 0..10 {
            assert_eq!(r.next_record().unwrap().unwrap().index, i);
        }
        // A write error, as a full disk gives: the segment is read-only for this write.
        let good = std::mem::replace(&mut w.seg, File::open(&w.seg_path).unwrap());
        drop(good);
        assert!(w.append(&batch(10, 5)).is_err());
        assert_eq!(shared.appended.load(Ordering::Relaxed), 10);
        assert_eq!(segments(&d).unwrap().len(), 2, "rolled to a new segment");
        w.append(&batch(10, 5)).unwrap();
        let mut seen = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            seen.push((rec.index, rec.event));
        }
        let want: Vec<_> = (10..15)
            .map(|i| (i, format!("{{\"n\":{i}}}").into_bytes()))
            .collect();
        assert_eq!(seen, want);
        let mut acks = Acks::new(&d, shared);
        acks.advance(15, true).unwrap();
        assert_eq!(segments(&d).unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A batch bigger than the room on the disk: its pieces go in one by one, a failure keeps
    /// the pieces already written, and the retried batch resumes after them, so every record
    /// is in the spool once and in order. Segments roll inside a batch.
    #[test]
    fn a_batch_that_fails_part_way_resumes_after_what_was_written() {
        let d = tmpdir("resume");
        let mut w = Writer::open(opts(&d)).unwrap();
        let shared = w.shared.clone();
        // About 11 bytes a record plus 21 of framing: 12,000 records are several pieces.
        let big = batch(0, 12_000);
        w.fail_piece = Some(2);
        assert!(w.append(&big).is_err());
        let written = shared.appended.load(Ordering::Relaxed);
        assert!(written > 0, "the pieces before the failure stay appended");
        assert!(written < 12_000);
        w.append(&big).unwrap();
        assert_eq!(shared.appended.load(Ordering::Relaxed), 12_000);
        w.append(&batch(12_000, 3)).unwrap();
        let mut r = Reader::new(&d, shared.clone());
        let mut seen = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            assert_eq!(rec.event, format!("{{\"n\":{}}}", rec.index).into_bytes());
            seen.push(rec.index);
        }
        assert_eq!(seen, (0..12_003).collect::<Vec<_>>());
        let segs = segments(&d).unwrap();
        assert!(segs.len() > 3, "one batch spans several segments");
        for (_, p) in &segs {
            let len = std::fs::metadata(p).unwrap().len();
            assert!(
                len <= w.seg_max + APPEND_PIECE as u64 + 64,
                "segment of {len} bytes"
            );
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_flipped_byte_fails_the_checksum() {
        let mut b = Vec::new();
        let body = b"\x000123456789abcdef{}";
        b.extend_from_slice(&(body.len() as u32).to_le_bytes());
        b.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
        b.extend_from_slice(body);
        assert!(parse(&b).unwrap().is_some());
        b[10] ^= 1;
        assert!(parse(&b).is_err());
        assert_eq!(parse(&b[..5]), Ok(None));
    }
}
