//! Outputs. Every event takes one ordered path:
//!
//! pipeline → [`Output`]: admission (a full output drops the newest events *before* they are
//! sealed, so the chain itself has no holes, and a gap event on the chain counts them), then
//! the audit [`Encoder`](crate::audit::Encoder) seals the event into the stream's hash chain
//! and signs checkpoints → a bounded channel of batches → the sink thread, which runs one
//! [`Sink`]: JSON lines (stdout or a file), the Kafka spool with its producer, or none.
//!
//! A sink that fails or falls behind never stops capture: batches wait (bounded), the trouble
//! is logged once per change of state, and what had to be dropped becomes a gap event.
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::audit::{self, Encoder, GapReason};

mod direct;
pub mod jsonl;
pub mod kafka;
pub mod pretty;
pub mod spool;

pub use jsonl::JsonLines;
pub use pretty::{Color, Pretty};
pub use spool::{OnFull, SpoolOptions};

/// Errors of the output stage.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(
        "invalid output {0:?}: expected `auto`, `pretty`, `stdout`, `jsonl:PATH`, `kafka:BROKERS` or `none`"
    )]
    BadSpec(String),
    #[error(
        "--output pretty draws dbgov.audit/v1 events; it cannot be combined with --format ocsf"
    )]
    PrettyFormat,
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write events: {0}")]
    Write(#[from] std::io::Error),
    #[error("cannot serialise event: {0}")]
    Serialise(#[from] serde_json::Error),
    #[error(transparent)]
    Spool(#[from] spool::SpoolError),
    #[error("kafka: {0}")]
    Kafka(String),
    #[error("cannot start the output thread: {0}")]
    Thread(std::io::Error),
}

/// Where events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputSpec {
    /// The live view on stdout, one line per event, for a person at a terminal.
    Pretty,
    /// JSON lines on stdout.
    Stdout,
    Jsonl(PathBuf),
    /// Kafka bootstrap servers (`host:port,host:port`), through the spool.
    Kafka(String),
    /// Discard (benchmarks of the pipeline alone).
    None,
}

impl std::str::FromStr for OutputSpec {
    type Err = SinkError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stdout" | "-" | "json" => Ok(Self::Stdout),
            "pretty" => Ok(Self::Pretty),
            // The default: the live view on a terminal, JSON lines into a pipe or a file.
            "auto" => Ok(if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                Self::Pretty
            } else {
                Self::Stdout
            }),
            "none" => Ok(Self::None),
            _ => {
                if let Some(p) = s.strip_prefix("jsonl:").filter(|p| !p.is_empty()) {
                    Ok(Self::Jsonl(PathBuf::from(p)))
                } else if let Some(b) = s.strip_prefix("kafka:").filter(|b| !b.is_empty()) {
                    Ok(Self::Kafka(b.to_owned()))
                } else {
                    Err(SinkError::BadSpec(s.to_owned()))
                }
            }
        }
    }
}

/// The serialisation of events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `dbgov.audit/v1` (README: Event schema).
    #[default]
    Native,
    /// OCSF 1.3 Datastore Activity (class_uid 6005); README: OCSF mapping.
    Ocsf,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "native" | "dbgov" | "json" => Ok(Self::Native),
            "ocsf" => Ok(Self::Ocsf),
            _ => Err(format!("unknown format {s:?}: expected native or ocsf")),
        }
    }
}

/// One sealed line's routing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecMeta {
    /// End offset of the line (with its `\n`) in [`Batch::data`].
    pub end: usize,
    /// Kafka key: the session id (one session stays ordered in one partition), or the stream
    /// id for host-level events.
    pub key: [u8; 16],
    /// The verdict is not `allow`: also goes to the alerts topic.
    pub alert: bool,
    /// A checkpoint: also goes to the checkpoints topic.
    pub checkpoint: bool,
}

/// Sealed lines on their way to the sink.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// The lines, from [`Batch::lead`] on.
    pub data: Vec<u8>,
    pub recs: Vec<RecMeta>,
    /// Bytes before the first line: room an output file written past the page cache fills
    /// with the head of the block the lines continue, so that it writes the lines from this
    /// buffer as they are (see `direct.rs`). 0 for every other output.
    pub lead: usize,
    /// The batch's place in the output's sequence (from 1).
    pub seq: u64,
}

impl Batch {
    /// The lines.
    pub fn lines(&self) -> &[u8] {
        self.data.get(self.lead..).unwrap_or_default()
    }
}

/// How the pipeline routes one event.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// The connection id, for the Kafka key.
    pub session: Option<u64>,
    pub alert: bool,
    /// What the event is (counted per kind for metrics).
    pub kind: audit::Kind,
}

impl Route {
    /// An event of the host as a whole (keyed by the stream, not a session).
    pub fn host(kind: audit::Kind) -> Self {
        Self {
            session: None,
            alert: false,
            kind,
        }
    }

    /// An event of one session.
    pub fn session(kind: audit::Kind, id: u64, alert: bool) -> Self {
        Self {
            session: Some(id),
            alert,
            kind,
        }
    }
}

/// What the output did, for metrics: events sealed per kind, and dropped.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutputCounts {
    /// Events sealed into the trail, by [`audit::Kind::ALL`] index.
    pub sealed: [u64; audit::Kind::ALL.len()],
    /// Events refused because the output was full.
    pub dropped: u64,
    /// Why they were refused.
    pub drop_reason: Option<audit::GapReason>,
}

/// What a sink left undone at close.
#[derive(Clone, Debug, Default)]
pub struct CloseReport {
    /// Events kept durably for the next start (the spool).
    pub kept: u64,
    /// Events given up at close (an output file that kept failing past the deadline).
    pub lost: u64,
}

/// An output backend. Runs on the sink thread; may block.
pub trait Sink: Send {
    /// Writes a whole batch. An error is transient: the same batch is offered again. A sink
    /// may keep the batch's buffer and leave another one of at least its capacity in its place.
    fn write(&mut self, batch: &mut Batch) -> std::io::Result<()>;
    /// Where the byte stream ends in its last 4 KiB block, for a sink that writes the
    /// batches' buffers in place when their lines start at that place in memory (the output
    /// file written past the page cache): see [`direct::Phase`].
    fn phase(&self) -> Option<Arc<direct::Phase>> {
        None
    }
    /// Called between batches and at least every 100 ms (fsync timers and the like).
    fn tick(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// Finishes, waiting for deliveries until `deadline`.
    fn close(&mut self, deadline: Instant) -> CloseReport;
    /// Of the batch whose write failed, the events already written (a retry resumes after
    /// them); they are not lost if the batch is given up.
    fn written_of_failed(&self) -> usize {
        0
    }
}

/// Discards everything (`--output none`).
pub struct Discard;

impl Sink for Discard {
    fn write(&mut self, _batch: &mut Batch) -> std::io::Result<()> {
        Ok(())
    }
    fn close(&mut self, _deadline: Instant) -> CloseReport {
        CloseReport::default()
    }
}

/// State shared by the pipeline side and the sink thread.
#[derive(Debug, Default)]
struct Shared {
    /// Bytes handed to the channel and not yet written by the sink.
    queued: AtomicUsize,
    /// The sink's last write failed.
    failing: AtomicBool,
    /// Shutdown: stop retrying a failing sink.
    give_up: AtomicBool,
    /// Events given up at shutdown.
    lost: AtomicU64,
}

/// Output settings.
#[derive(Clone, Debug)]
pub struct OutputOptions {
    pub spec: OutputSpec,
    pub format: Format,
    /// Colours of the pretty view.
    pub color: Color,
    /// Bytes of events that may wait for a failing JSON-lines output before the newest are
    /// dropped.
    pub backlog_bytes: usize,
    pub spool: SpoolOptions,
    pub kafka: kafka::KafkaOptions,
    /// Sign checkpoints with this key.
    pub signing_key: Option<ed25519_dalek::SigningKey>,
    /// A checkpoint at least this often (while events flow) ...
    pub checkpoint_interval: Duration,
    /// ... and after this many events.
    pub checkpoint_events: u64,
}

impl Default for OutputOptions {
    fn default() -> Self {
        Self {
            spec: OutputSpec::Stdout,
            format: Format::Native,
            color: Color::Auto,
            backlog_bytes: DEFAULT_BACKLOG_BYTES,
            spool: SpoolOptions::default(),
            kafka: kafka::KafkaOptions::default(),
            signing_key: None,
            checkpoint_interval: Duration::from_secs(10),
            checkpoint_events: 10_000,
        }
    }
}

/// Bytes that may wait for a failing JSON-lines output (beyond that the newest events are
/// dropped and counted in an `output_unavailable` gap).
pub const DEFAULT_BACKLOG_BYTES: usize = 64 << 20;

/// Bytes of events that may wait in memory for an output that works but takes them more
/// slowly than capture makes them (a slow disk or pipe, or an output thread short of CPU).
/// Beyond this, capture stops reading the kernel ring buffer until the output has caught up:
/// the records wait in the ring, which holds a statement in a few hundred bytes (its event
/// takes one to two KB), and where the kernel sheds response bytes before requests if it
/// fills. Only an output whose writes fail drops events (beyond the backlog cap).
pub const SLOW_OUTPUT_BYTES: usize = 16 << 20;

/// A batch is handed to the sink thread once it holds this many bytes (or at each flush).
/// Each hand-over wakes the sink thread, which on a virtual machine costs tens of
/// microseconds: at 1 MiB (about 600 events) that is well under 0.1 µs per event.
pub(crate) const BATCH_BYTES: usize = 1 << 20;
/// At each drain of the ring the batch is handed over once it holds this many bytes, or once
/// its first event has waited [`HANDOVER_AGE`]: each hand-over wakes the output thread, and a
/// drain every few milliseconds at a moderate rate would wake it for a few hundred KB.
const HANDOVER_BYTES: usize = 512 << 10;
/// The longest an event waits in the batch when drains hand it over ([`Output::flush_due`]).
const HANDOVER_AGE: Duration = Duration::from_millis(20);
/// Batches in the channel.
const CHANNEL_BATCHES: usize = 8;
/// Written batches the sink thread hands back for reuse: a batch's buffers are allocated
/// once, not grown (and copied, and faulted in) anew for every batch.
const FREE_BATCHES: usize = 4;

impl Batch {
    /// An empty batch with room for a full one of `bytes`.
    fn with_room(bytes: usize) -> Self {
        Batch {
            data: Vec::with_capacity(bytes + (bytes >> 3)),
            recs: Vec::with_capacity(1024),
            lead: 0,
            seq: 0,
        }
    }
}

struct Checkpointer {
    key: ed25519_dalek::SigningKey,
    key_id: String,
    interval: Duration,
    events: u64,
    /// Last seq covered by a checkpoint.
    covered: u64,
    at: Instant,
}

/// The pipeline's side of the output: admission, sealing, checkpoints, batching.
pub struct Output {
    enc: Encoder,
    format: Format,
    /// Native JSON of the event being mapped to OCSF.
    scratch: Vec<u8>,
    batch: Batch,
    /// When the batch's first event was sealed (None while it is empty).
    batch_since: Option<Instant>,
    waiting: VecDeque<Batch>,
    waiting_bytes: usize,
    tx: Option<SyncSender<Batch>>,
    /// Written batches handed back by the sink thread.
    free: Option<Receiver<Batch>>,
    /// Batches allocated (the others were reused).
    batches_made: u64,
    thread: Option<JoinHandle<CloseReport>>,
    shared: Arc<Shared>,
    /// Spool usage, for Kafka.
    spool: Option<Arc<spool::Shared>>,
    cap: u64,
    /// Bytes waiting in memory beyond which a working (not failing) output pauses capture.
    slow_limit: usize,
    on_full: OnFull,
    drop_reason: GapReason,
    /// Events refused since the last gap: count, first and last time.
    dropped: u64,
    dropped_span: Option<(String, String)>,
    counts: OutputCounts,
    ckpt: Option<Checkpointer>,
    host: Box<serde_json::value::RawValue>,
    ids: audit::IdGen,
    /// Events sealed.
    pub written: u64,
    /// The last batch's sequence number.
    batch_seq: u64,
    /// A batch is handed over once it holds this many bytes ([`BATCH_BYTES`], or for an
    /// output file written from the batches' own buffers [`direct::DIRECT_WRITE`]: each batch
    /// is one write) ...
    batch_bytes: usize,
    /// ... or this many at the end of a drain ([`HANDOVER_BYTES`], or the same).
    handover_bytes: usize,
    /// For a sink that writes batches in place: where each batch's lines will start in their
    /// block.
    placer: Option<Placer>,
}

/// Predicts where in its 4 KiB block the stream of lines will be when a new batch's lines
/// are written: from the last place the sink reported, plus the lines of every batch sent
/// since (the sink takes them all, in order; when it cannot, it says so with the next
/// report, and a batch laid out from a wrong guess is only copied as before).
struct Placer {
    shared: Arc<direct::Phase>,
    /// Batches sent and not yet reported written: sequence number, bytes of lines.
    sent: VecDeque<(u64, usize)>,
}

impl Placer {
    fn phase_before(&mut self) -> usize {
        let (done, at) = self.shared.get();
        while self.sent.front().is_some_and(|&(s, _)| s <= done) {
            self.sent.pop_front();
        }
        let since: usize = self.sent.iter().map(|&(_, n)| n % direct::BLOCK).sum();
        (at + since) % direct::BLOCK
    }
}

/// The sink thread, the channel that feeds it, and the one that hands written batches back.
type Spawned = (SyncSender<Batch>, Receiver<Batch>, JoinHandle<CloseReport>);

fn spawn(mut sink: Box<dyn Sink>, shared: Arc<Shared>) -> Result<Spawned, SinkError> {
    let (tx, rx) = sync_channel::<Batch>(CHANNEL_BATCHES);
    let (free_tx, free_rx) = sync_channel::<Batch>(FREE_BATCHES);
    let h = std::thread::Builder::new()
        .name("dbgov-sink".into())
        .spawn(move || sink_thread(sink.as_mut(), rx, &free_tx, &shared))
        .map_err(SinkError::Thread)?;
    Ok((tx, free_rx, h))
}

fn sink_thread(
    sink: &mut dyn Sink,
    rx: Receiver<Batch>,
    free: &SyncSender<Batch>,
    shared: &Shared,
) -> CloseReport {
    let mut failing = false;
    let set_failing = |failing: &mut bool, err: Option<&std::io::Error>| match (*failing, err) {
        (false, Some(e)) => {
            *failing = true;
            shared.failing.store(true, Ordering::Release);
            tracing::error!(
                "cannot write events ({e}); capture goes on, events wait (bounded) and are retried"
            );
        }
        (true, None) => {
            *failing = false;
            shared.failing.store(false, Ordering::Release);
            tracing::warn!("writing events again; the waiting events were written");
        }
        _ => {}
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(mut b) => {
                // Counted before the write: a sink may swap the buffer.
                let queued = b.data.len();
                let mut backoff = Duration::from_millis(10);
                loop {
                    match sink.write(&mut b) {
                        Ok(()) => {
                            set_failing(&mut failing, None);
                            break;
                        }
                        Err(e) => {
                            set_failing(&mut failing, Some(&e));
                            if shared.give_up.load(Ordering::Acquire) {
                                let done = sink.written_of_failed().min(b.recs.len());
                                shared
                                    .lost
                                    .fetch_add((b.recs.len() - done) as u64, Ordering::AcqRel);
                                break;
                            }
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_millis(500));
                        }
                    }
                }
                shared.queued.fetch_sub(queued, Ordering::AcqRel);
                b.data.clear();
                b.recs.clear();
                // Dropped when enough are waiting for reuse.
                let _ = free.try_send(b);
                let _ = sink.tick();
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = sink.tick();
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    sink.close(Instant::now() + Duration::from_secs(5))
}

impl Output {
    /// Opens the configured output. `host` is the `host` object of checkpoint events.
    pub fn open(opts: &OutputOptions, host: &audit::Host) -> Result<Self, SinkError> {
        #[allow(clippy::type_complexity)]
        let (sink, spool, cap, on_full, reason): (
            Option<Box<dyn Sink>>,
            Option<Arc<spool::Shared>>,
            u64,
            OnFull,
            GapReason,
        ) = match &opts.spec {
            OutputSpec::Pretty => {
                if opts.format != Format::Native {
                    return Err(SinkError::PrettyFormat);
                }
                (
                    Some(Box::new(Pretty::new(
                        Box::new(std::io::stdout()),
                        opts.color.resolve_stdout(),
                        true,
                        false,
                    ))),
                    None,
                    opts.backlog_bytes as u64,
                    OnFull::DropNewest,
                    GapReason::OutputUnavailable,
                )
            }
            OutputSpec::Stdout => (
                Some(Box::new(JsonLines::new(Box::new(std::io::stdout())))),
                None,
                opts.backlog_bytes as u64,
                OnFull::DropNewest,
                GapReason::OutputUnavailable,
            ),
            OutputSpec::Jsonl(path) => {
                let f =
                    crate::files::open_private(path, false).map_err(|source| SinkError::Open {
                        path: path.clone(),
                        source,
                    })?;
                // A regular file is written past the page cache at full rate (sink/direct.rs).
                let regular = f.metadata().map(|m| m.is_file()).unwrap_or(false);
                let sink: Box<dyn Sink> = match regular.then(|| direct::DirectFile::open(&f)) {
                    Some(Some(d)) => Box::new(d),
                    _ => Box::new(JsonLines::file(f)),
                };
                (
                    Some(sink),
                    None,
                    opts.backlog_bytes as u64,
                    OnFull::DropNewest,
                    GapReason::OutputUnavailable,
                )
            }
            OutputSpec::Kafka(brokers) => {
                let k = kafka::KafkaSink::open(brokers, &opts.kafka, opts.spool.clone())?;
                let shared = k.spool_shared();
                (
                    Some(Box::new(k)),
                    Some(shared),
                    opts.spool.max_bytes,
                    opts.spool.on_full,
                    GapReason::SpoolFull,
                )
            }
            // Sealed and batched like every output, then discarded (measures the pipeline).
            OutputSpec::None => (
                Some(Box::new(Discard)),
                None,
                u64::MAX,
                OnFull::DropNewest,
                GapReason::OutputUnavailable,
            ),
        };
        let mut o = Self::with_sink(sink, cap, host)?;
        o.spool = spool;
        o.on_full = on_full;
        o.drop_reason = reason;
        o.format = opts.format;
        o.ckpt = opts.signing_key.clone().map(|key| Checkpointer {
            key_id: audit::checkpoint::key_id(&key.verifying_key()),
            key,
            interval: opts.checkpoint_interval,
            events: opts.checkpoint_events.max(1),
            covered: 0,
            at: Instant::now(),
        });
        Ok(o)
    }

    /// Over any sink (`None` discards after sealing), with at most `cap` bytes waiting.
    pub fn with_sink(
        sink: Option<Box<dyn Sink>>,
        cap: u64,
        host: &audit::Host,
    ) -> Result<Self, SinkError> {
        let shared = Arc::new(Shared::default());
        let placer = sink.as_ref().and_then(|s| s.phase()).map(|shared| Placer {
            shared,
            sent: VecDeque::new(),
        });
        let (batch_bytes, handover_bytes) = match placer {
            Some(_) => (direct::DIRECT_WRITE, direct::DIRECT_WRITE),
            None => (BATCH_BYTES, HANDOVER_BYTES),
        };
        let (tx, free, thread) = match sink {
            Some(s) => {
                let (tx, free, h) = spawn(s, shared.clone())?;
                (Some(tx), Some(free), Some(h))
            }
            None => (None, None, None),
        };
        let mut o = Self {
            enc: Encoder::new(audit::new_stream_id()),
            format: Format::Native,
            scratch: Vec::with_capacity(2048),
            batch: Batch::with_room(batch_bytes),
            batch_since: None,
            waiting: VecDeque::new(),
            waiting_bytes: 0,
            tx,
            free,
            batches_made: 1,
            thread,
            shared,
            spool: None,
            cap,
            // Below the cap, so that a slow output pauses capture before anything is dropped.
            slow_limit: SLOW_OUTPUT_BYTES.min(usize::try_from(cap / 2).unwrap_or(usize::MAX)),
            on_full: OnFull::DropNewest,
            drop_reason: GapReason::OutputUnavailable,
            dropped: 0,
            dropped_span: None,
            counts: OutputCounts::default(),
            ckpt: None,
            host: serde_json::value::to_raw_value(host)?,
            ids: audit::IdGen::new(),
            written: 0,
            batch_seq: 0,
            batch_bytes,
            handover_bytes,
            placer,
        };
        o.start_batch();
        Ok(o)
    }

    /// Numbers the batch being started and, for a sink that writes batches in place, makes
    /// room before its lines so that they continue the stream's last block at the place they
    /// will be written from (block-aligned memory).
    fn start_batch(&mut self) {
        self.batch_seq += 1;
        let b = &mut self.batch;
        b.seq = self.batch_seq;
        b.data.clear();
        b.lead = 0;
        if let Some(p) = &mut self.placer {
            let at = p.phase_before();
            let align = (b.data.as_ptr() as usize).wrapping_neg() % direct::BLOCK;
            b.lead = align + at;
            b.data.resize(b.lead, 0);
        }
    }

    /// The stream id of this output's hash chain.
    pub fn stream(&self) -> &str {
        self.enc.stream()
    }

    /// The Kafka spool's size and its cap, in bytes (`None` without a spool).
    pub fn spool_usage(&self) -> Option<(u64, u64)> {
        self.spool
            .as_ref()
            .map(|s| (s.bytes.load(Ordering::Relaxed), self.cap))
    }

    /// Bytes of events not yet written (waiting here, in the channel, and in the spool).
    pub fn backlog(&self) -> u64 {
        let spool = self
            .spool
            .as_ref()
            .map_or(0, |s| s.bytes.load(Ordering::Relaxed));
        self.in_memory() as u64 + spool
    }

    /// Events sealed per kind and dropped, since the start.
    pub fn counts(&self) -> OutputCounts {
        OutputCounts {
            drop_reason: Some(self.drop_reason),
            ..self.counts
        }
    }

    /// The Kafka spool's shared state (None without Kafka).
    pub fn spool_shared(&self) -> Option<&Arc<spool::Shared>> {
        self.spool.as_ref()
    }

    /// The output cannot take more events.
    pub fn full(&self) -> bool {
        self.backlog() >= self.cap
    }

    /// Bytes of events waiting in memory: being batched, waiting for the channel, and in it.
    fn in_memory(&self) -> usize {
        self.waiting_bytes + self.batch.data.len() + self.shared.queued.load(Ordering::Relaxed)
    }

    /// Capture should stop reading the ring until there is room: the output works but is
    /// behind by [`SLOW_OUTPUT_BYTES`], or it is full and `on_full` is `pause`.
    pub fn paused(&self) -> bool {
        (self.on_full == OnFull::Pause && self.full())
            || (self.tx.is_some()
                && self.in_memory() >= self.slow_limit
                && !self.shared.failing.load(Ordering::Acquire))
    }

    /// Seals and queues one event. Only a serialisation failure (a bug) is an error.
    pub fn write<T: Serialize>(&mut self, ev: &T, route: Route) -> Result<(), SinkError> {
        self.write_json(&audit::Ser(ev), route)
    }

    /// As [`Output::write`], for an event with its own JSON writer (the statement event).
    pub fn write_json<T: audit::WriteJson + ?Sized>(
        &mut self,
        ev: &T,
        route: Route,
    ) -> Result<(), SinkError> {
        if self.tx.is_some() && self.on_full == OnFull::DropNewest && self.full() {
            self.refuse();
            return Ok(());
        }
        self.write_always_json(ev, route)
    }

    /// Seals and queues one event even when the output is full (the gap event that accounts
    /// for dropped events, at shutdown: the bound is exceeded by one event rather than the
    /// loss going unrecorded).
    pub fn write_always<T: Serialize>(&mut self, ev: &T, route: Route) -> Result<(), SinkError> {
        self.write_always_json(&audit::Ser(ev), route)
    }

    fn write_always_json<T: audit::WriteJson + ?Sized>(
        &mut self,
        ev: &T,
        route: Route,
    ) -> Result<(), SinkError> {
        let key = match route.session {
            Some(id) => {
                let mut k = [0u8; 16];
                audit::hex_u64(id, &mut k);
                k
            }
            None => self.stream_key(),
        };
        self.seal(ev, key, route.alert, false)?;
        self.counts.sealed[route.kind as usize] += 1;
        if let Some(c) = &self.ckpt {
            if self.enc.seq() - c.covered >= c.events {
                self.checkpoint()?;
            }
        }
        Ok(())
    }

    fn stream_key(&self) -> [u8; 16] {
        let mut k = [b'0'; 16];
        let s = self.enc.stream().as_bytes();
        let n = s.len().min(16);
        k[..n].copy_from_slice(&s[..n]);
        k
    }

    fn refuse(&mut self) {
        let now = audit::rfc3339(audit::now_realtime_ns());
        if self.dropped == 0 {
            tracing::error!(
                "the output's backlog is full ({} MiB); the newest events are dropped and counted until there is room",
                self.cap >> 20
            );
        }
        self.dropped += 1;
        self.counts.dropped += 1;
        match &mut self.dropped_span {
            Some((_, last)) => *last = now,
            None => self.dropped_span = Some((now.clone(), now)),
        }
    }

    fn seal<T: audit::WriteJson + ?Sized>(
        &mut self,
        ev: &T,
        key: [u8; 16],
        alert: bool,
        checkpoint: bool,
    ) -> Result<(), SinkError> {
        // Sealed straight into the batch: each event's bytes are written once.
        match self.format {
            Format::Native => self.enc.encode_json_into(ev, &mut self.batch.data)?,
            Format::Ocsf => {
                self.scratch.clear();
                ev.write_json(&mut self.scratch)?;
                let native: audit::Event = serde_json::from_slice(&self.scratch)?;
                let mapped = audit::ocsf::from_event(&native);
                self.enc.encode_into(&mapped, &mut self.batch.data)?;
            }
        }
        self.written += 1;
        if self.batch.recs.is_empty() {
            self.batch_since = Some(Instant::now());
        }
        self.batch.recs.push(RecMeta {
            end: self.batch.data.len(),
            key,
            alert,
            checkpoint,
        });
        if self.batch.data.len() >= self.batch_bytes {
            self.send();
        }
        Ok(())
    }

    /// Signs a checkpoint over everything sealed since the last one.
    fn checkpoint(&mut self) -> Result<(), SinkError> {
        let Some(c) = self.ckpt.as_mut() else {
            return Ok(());
        };
        let last = self.enc.seq();
        if last == c.covered {
            c.at = Instant::now();
            return Ok(());
        }
        let signed_at = audit::rfc3339(audit::now_realtime_ns());
        let cp = audit::checkpoint::sign(
            &c.key,
            &c.key_id,
            self.enc.stream(),
            c.covered + 1,
            last,
            self.enc.prev_hash(),
            &signed_at,
        );
        let host = self.host.clone();
        let ev = audit::checkpoint::CheckpointEvent {
            schema: audit::SCHEMA,
            event_id: self.ids.next(),
            time: signed_at.clone(),
            kind: audit::Kind::Checkpoint,
            host: &host,
            checkpoint: &cp,
        };
        c.covered = last + 1;
        c.at = Instant::now();
        let key = self.stream_key();
        self.counts.sealed[audit::Kind::Checkpoint as usize] += 1;
        self.seal(&audit::Ser(&ev), key, false, true)
    }

    /// Moves the current batch towards the sink without blocking.
    fn send(&mut self) {
        // Whatever happens below, the batch being filled is a new one.
        self.batch_since = None;
        if self.tx.is_none() {
            // Nothing to write to: the batch is emptied where it is.
            self.batch.recs.clear();
            self.start_batch();
            self.waiting.clear();
            self.waiting_bytes = 0;
            return;
        }
        if self.batch.data.len() > self.batch.lead {
            let fresh = match self.free.as_ref().and_then(|f| f.try_recv().ok()) {
                Some(b) => b,
                None => {
                    self.batches_made += 1;
                    Batch::with_room(self.batch_bytes)
                }
            };
            let b = std::mem::replace(&mut self.batch, fresh);
            if let Some(p) = &mut self.placer {
                p.sent.push_back((b.seq, b.data.len() - b.lead));
            }
            self.start_batch();
            self.waiting_bytes += b.data.len();
            self.waiting.push_back(b);
        }
        let Some(tx) = self.tx.as_ref() else {
            return;
        };
        while let Some(b) = self.waiting.pop_front() {
            let len = b.data.len();
            self.shared.queued.fetch_add(len, Ordering::AcqRel);
            match tx.try_send(b) {
                Ok(()) => self.waiting_bytes -= len,
                Err(TrySendError::Full(b)) => {
                    self.shared.queued.fetch_sub(len, Ordering::AcqRel);
                    self.waiting.push_front(b);
                    break;
                }
                Err(TrySendError::Disconnected(b)) => {
                    self.shared.queued.fetch_sub(len, Ordering::AcqRel);
                    tracing::error!(
                        events = b.recs.len(),
                        "the output thread has stopped; events are lost"
                    );
                    self.shared
                        .lost
                        .fetch_add(b.recs.len() as u64, Ordering::AcqRel);
                    self.waiting_bytes -= len;
                }
            }
        }
    }

    /// Hands what is waiting to the sink, and signs a checkpoint when one is due.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        if let Some(c) = &self.ckpt {
            if c.at.elapsed() >= c.interval {
                self.checkpoint()?;
            }
        }
        self.send();
        Ok(())
    }

    /// As [`Output::flush`], once the batch is worth waking the output thread for (it holds
    /// [`HANDOVER_BYTES`], or its first event has waited [`HANDOVER_AGE`]), batches wait for
    /// room in the channel, or a checkpoint is due. Called after each drain of the ring.
    pub fn flush_due(&mut self) -> Result<(), SinkError> {
        let due = !self.waiting.is_empty()
            || self.batch.data.len() >= self.handover_bytes
            || self
                .batch_since
                .is_some_and(|t| t.elapsed() >= HANDOVER_AGE)
            || self
                .ckpt
                .as_ref()
                .is_some_and(|c| c.at.elapsed() >= c.interval);
        if due {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Damage the spool found at start-up (bytes, what), once.
    pub fn take_spool_damage(&mut self) -> Option<(u64, String)> {
        let shared = self.spool.as_ref()?;
        let mut d = shared.damage.lock().ok()?;
        d.take()
    }

    /// Events refused since the last call, with the reason and the time range, once the
    /// output has room again (None while it is still full or nothing was refused); with
    /// `now`, also while it is full (shutdown).
    pub fn take_dropped(&mut self, now: bool) -> Option<(GapReason, u64, String)> {
        if self.dropped == 0 || (!now && self.full()) {
            return None;
        }
        let n = std::mem::take(&mut self.dropped);
        let (a, b) = self.dropped_span.take().unwrap_or_default();
        tracing::warn!("the output has room again after dropping {n} events");
        Some((
            self.drop_reason,
            n,
            format!("events dropped from {a} to {b}"),
        ))
    }

    /// Shuts down: signs a last checkpoint, writes what is waiting, and waits up to `grace`
    /// for a failing output before giving up. Returns (events lost, events kept in the spool
    /// for the next start).
    pub fn close(&mut self, grace: Duration) -> Result<(u64, u64), SinkError> {
        if self.ckpt.is_some() {
            self.checkpoint()?;
        }
        self.send();
        let deadline = Instant::now() + grace;
        // Hand over the rest, blocking (the sink may be slow), within the grace period.
        while !self.waiting.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            self.send();
        }
        let mut lost = self.dropped;
        if !self.waiting.is_empty() {
            lost += self
                .waiting
                .iter()
                .map(|b| b.recs.len() as u64)
                .sum::<u64>();
            self.waiting.clear();
            self.waiting_bytes = 0;
        }
        self.tx = None;
        // Wait for the thread to write what it holds; a sink still failing at the deadline
        // is given up on.
        while self.shared.queued.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.shared.give_up.store(true, Ordering::Release);
        let report = match self.thread.take() {
            Some(h) => h.join().unwrap_or_default(),
            None => CloseReport::default(),
        };
        lost += self.shared.lost.load(Ordering::Acquire) + report.lost;
        Ok((lost, report.kept))
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.close(Duration::from_secs(2));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Mutex;

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

    fn flaky(fail: bool, chunk: usize) -> Flaky {
        Flaky {
            data: Arc::default(),
            fail: Arc::new(Mutex::new(fail)),
            chunk,
        }
    }

    /// An output writing JSON lines to `w`, with at most `cap` bytes waiting.
    fn over(w: &Flaky, cap: u64) -> Output {
        Output::with_sink(
            Some(Box::new(JsonLines::new(Box::new(w.clone())))),
            cap,
            &audit::Host::default(),
        )
        .unwrap()
    }

    fn numbers(w: &Flaky) -> Vec<u64> {
        let text = String::from_utf8(w.data.lock().unwrap().clone()).unwrap();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["n"].as_u64())
            .collect()
    }

    fn wait_until(f: impl Fn() -> bool) {
        let t = Instant::now();
        while !f() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Flushes (as the pipeline does on its timer) until nothing waits.
    fn drain(o: &mut Output) {
        let t = Instant::now();
        while o.backlog() > 0 && t.elapsed() < Duration::from_secs(10) {
            o.flush().unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_drain_hands_the_batch_over_once_it_is_large_or_old_enough() {
        let w = flaky(false, usize::MAX);
        let mut o = over(&w, 256 << 20);
        let ev = |n: usize| serde_json::json!({"n": n, "pad": "x".repeat(1000)});
        o.write(&ev(0), Route::host(audit::Kind::Statement))
            .unwrap();
        let t = Instant::now();
        o.flush_due().unwrap();
        if t.elapsed() < HANDOVER_AGE {
            assert_eq!(o.batch.recs.len(), 1, "a young, small batch waits");
        }
        std::thread::sleep(HANDOVER_AGE);
        o.flush_due().unwrap();
        assert!(o.batch.recs.is_empty(), "an old batch is handed over");
        // A batch past the size is handed over at once, however young.
        let mut i = 1;
        while o.batch.data.len() < HANDOVER_BYTES {
            o.write(&ev(i), Route::host(audit::Kind::Statement))
                .unwrap();
            i += 1;
        }
        o.flush_due().unwrap();
        assert!(o.batch.recs.is_empty());
        drain(&mut o);
        wait_until(|| numbers(&w).len() == i);
        assert_eq!(numbers(&w), (0..i as u64).collect::<Vec<_>>());
    }

    #[test]
    fn written_batches_are_reused_not_allocated_again() {
        let w = flaky(false, usize::MAX);
        let mut o = over(&w, 256 << 20);
        let pad = "x".repeat(1000);
        // About 40 full batches, flushed now and then as the pipeline does.
        let n = 40 * BATCH_BYTES / 1000;
        for i in 0..n {
            o.write(
                &serde_json::json!({"n": i, "pad": pad}),
                Route::host(audit::Kind::Statement),
            )
            .unwrap();
            if i % 5000 == 0 {
                drain(&mut o);
            }
        }
        drain(&mut o);
        assert_eq!(numbers(&w).len(), n);
        assert!(
            o.batches_made <= (CHANNEL_BATCHES + FREE_BATCHES + 2) as u64,
            "{} batches allocated for {n} events",
            o.batches_made
        );
        assert_eq!(o.close(Duration::from_secs(1)).unwrap(), (0, 0));
    }

    #[test]
    fn output_errors_keep_lines_waiting_and_never_tear_them() {
        let w = flaky(false, 7);
        let mut o = over(&w, 1 << 20);
        o.write(
            &serde_json::json!({"n": 0}),
            Route::host(audit::Kind::Statement),
        )
        .unwrap();
        o.flush().unwrap();
        wait_until(|| numbers(&w).len() == 1);
        *w.fail.lock().unwrap() = true;
        for n in 1..100 {
            o.write(
                &serde_json::json!({"n": n}),
                Route::host(audit::Kind::Statement),
            )
            .unwrap();
        }
        o.flush().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(o.backlog() > 0);
        *w.fail.lock().unwrap() = false;
        drain(&mut o);
        assert_eq!(o.backlog(), 0);
        assert!(o.take_dropped(false).is_none());
        assert_eq!(numbers(&w), (0..100).collect::<Vec<u64>>());
        assert_eq!(o.close(Duration::from_secs(1)).unwrap(), (0, 0));
        // Every line is whole and chained.
        let text = String::from_utf8(w.data.lock().unwrap().clone()).unwrap();
        crate::verify::check(text.lines(), None).unwrap();
    }

    #[test]
    fn a_full_backlog_drops_newest_events_before_sealing_and_says_so_on_the_chain() {
        let w = flaky(true, usize::MAX);
        let mut o = over(&w, 4000);
        for n in 0..50 {
            o.write(
                &serde_json::json!({"n": n}),
                Route::host(audit::Kind::Statement),
            )
            .unwrap();
            o.flush().unwrap();
        }
        assert!(
            o.take_dropped(false).is_none(),
            "no report while still full"
        );
        *w.fail.lock().unwrap() = false;
        drain(&mut o);
        let (reason, dropped, detail) = o.take_dropped(false).unwrap();
        assert_eq!(reason, GapReason::OutputUnavailable);
        assert!(detail.starts_with("events dropped from "));
        let kept = numbers(&w);
        assert!(!kept.is_empty() && dropped > 0);
        // The oldest events are kept, whole and in order; the newest were dropped, counted,
        // and never sealed: the chain has no hole.
        assert_eq!(kept, (0..kept.len() as u64).collect::<Vec<u64>>());
        assert_eq!(
            kept.len() as u64 + dropped,
            50,
            "kept {kept:?} dropped {dropped}"
        );
        o.close(Duration::from_secs(1)).unwrap();
        let text = String::from_utf8(w.data.lock().unwrap().clone()).unwrap();
        crate::verify::check(text.lines(), None).unwrap();
    }

    /// A writer that blocks (takes nothing, fails nothing) while `hold` is set.
    #[derive(Clone)]
    struct Held {
        inner: Flaky,
        hold: Arc<AtomicBool>,
    }

    impl Write for Held {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            while self.hold.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.inner.write(b)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_slow_output_pauses_capture_and_drops_nothing() {
        let w = flaky(false, usize::MAX);
        let hold = Arc::new(AtomicBool::new(true));
        let held = Held {
            inner: w.clone(),
            hold: hold.clone(),
        };
        let mut o = Output::with_sink(
            Some(Box::new(JsonLines::new(Box::new(held)))),
            1 << 20,
            &audit::Host::default(),
        )
        .unwrap();
        o.slow_limit = 2000;
        let mut n = 0u64;
        while !o.paused() {
            assert!(n < 1000, "never paused with {} bytes waiting", o.backlog());
            o.write(
                &serde_json::json!({"n": n}),
                Route::host(audit::Kind::Statement),
            )
            .unwrap();
            o.flush().unwrap();
            n += 1;
        }
        assert!(o.backlog() >= 2000 && o.backlog() < 1 << 20);
        assert!(!o.full(), "paused long before the backlog cap");
        hold.store(false, Ordering::Release);
        drain(&mut o);
        assert!(!o.paused(), "capture goes on once the output caught up");
        assert!(o.take_dropped(true).is_none(), "nothing dropped");
        assert_eq!(numbers(&w), (0..n).collect::<Vec<u64>>());
        o.close(Duration::from_secs(1)).unwrap();
    }

    #[test]
    fn a_failing_output_does_not_pause_capture() {
        let w = flaky(true, usize::MAX);
        let mut o = over(&w, 1 << 20);
        o.slow_limit = 2000;
        for n in 0..200 {
            o.write(
                &serde_json::json!({"n": n}),
                Route::host(audit::Kind::Statement),
            )
            .unwrap();
            o.flush().unwrap();
        }
        wait_until(|| o.shared.failing.load(Ordering::Acquire));
        assert!(o.backlog() >= 2000);
        assert!(
            !o.paused(),
            "a failing output keeps capture going: events wait up to the cap, then are counted"
        );
        *w.fail.lock().unwrap() = false;
        drain(&mut o);
        assert_eq!(numbers(&w), (0..200).collect::<Vec<u64>>());
        o.close(Duration::from_secs(1)).unwrap();
    }

    #[test]
    fn on_full_pause_asks_capture_to_stop_reading_and_refuses_nothing() {
        let w = flaky(true, usize::MAX);
        let mut o = over(&w, 2000);
        o.on_full = OnFull::Pause;
        assert!(!o.paused());
        for n in 0..30 {
            o.write(
                &serde_json::json!({"n": n}),
                Route::host(audit::Kind::Statement),
            )
            .unwrap();
            o.flush().unwrap();
        }
        assert!(o.paused(), "a full output in pause mode stops capture");
        *w.fail.lock().unwrap() = false;
        drain(&mut o);
        assert!(!o.paused());
        assert!(
            o.take_dropped(false).is_none(),
            "pause mode drops nothing itself"
        );
        assert_eq!(numbers(&w), (0..30).collect::<Vec<u64>>());
        o.close(Duration::from_secs(1)).unwrap();
    }

    #[test]
    fn ocsf_lines_are_sealed_and_verify() {
        let w = flaky(false, usize::MAX);
        let mut o = over(&w, 1 << 20);
        o.format = Format::Ocsf;
        let ev = serde_json::json!({
            "schema": "dbgov.audit/v1", "event_id": "e1", "time": "2026-12-02T10:00:00Z",
            "kind": "gap", "host": {"name": "h", "id": null, "environment": null, "labels": {}},
            "gap": {"reason": "ring_buffer_full", "detail": null, "bytes": 0, "flow": null, "events": 3}
        });
        o.write(&ev, Route::host(audit::Kind::Statement)).unwrap();
        o.close(Duration::from_secs(1)).unwrap();
        let text = String::from_utf8(w.data.lock().unwrap().clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["class_uid"], 6005);
        assert_eq!(v["unmapped"]["gap"]["events"], 3);
        let s = crate::verify::check(text.lines(), None).unwrap();
        assert_eq!((s.events, s.gaps), (1, 1));
    }

    #[test]
    fn an_output_failing_at_shutdown_is_given_up_after_the_grace_period() {
        let w = flaky(true, usize::MAX);
        let mut o = over(&w, 1 << 20);
        for n in 0..10 {
            o.write(
                &serde_json::json!({"n": n}),
                Route::host(audit::Kind::Statement),
            )
            .unwrap();
        }
        let t = Instant::now();
        let (lost, kept) = o.close(Duration::from_millis(300)).unwrap();
        assert_eq!((lost, kept), (10, 0));
        assert!(t.elapsed() < Duration::from_secs(3));
    }

    /// An output file that does not end on a block boundary, written at full rate: the
    /// batches are laid out to be written from their own buffers, and the file is the old
    /// line and then every event in order, on one intact chain.
    #[test]
    fn an_output_file_gets_every_event_in_order_from_batches_written_in_place() {
        let dir = std::env::temp_dir().join(format!("dbgov-output-inplace-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        let old = "{\"before\":\"the agent started\"}\n";
        std::fs::write(&path, old).unwrap();
        let opts = OutputOptions {
            spec: OutputSpec::Jsonl(path.clone()),
            ..Default::default()
        };
        let mut o = Output::open(&opts, &audit::Host::default()).unwrap();
        assert!(
            o.placer.is_some(),
            "a regular file is written past the page cache"
        );
        let pad = "x".repeat(700);
        let n = 12_000;
        for i in 0..n {
            o.write(
                &serde_json::json!({"n": i, "kind": "statement", "pad": &pad[..i % 700]}),
                Route::host(audit::Kind::Statement),
            )
            .unwrap();
            if i % 1000 == 999 {
                o.flush_due().unwrap();
            }
        }
        o.close(Duration::from_secs(5)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let rest = text
            .strip_prefix(old)
            .expect("the old line first, untouched");
        let nums: Vec<u64> = rest
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(nums, (0..n as u64).collect::<Vec<_>>());
        let s = crate::verify::check(rest.lines(), None).unwrap();
        assert_eq!(s.events, n as u64);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn checkpoints_are_signed_every_n_events_and_at_close() {
        let w = flaky(false, usize::MAX);
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let opts = OutputOptions {
            spec: OutputSpec::None,
            signing_key: Some(key.clone()),
            checkpoint_events: 4,
            ..Default::default()
        };
        let mut o = Output::open(&opts, &audit::Host::default()).unwrap();
        // Swap in a real writer: same options otherwise.
        let (tx, free, h) = spawn(
            Box::new(JsonLines::new(Box::new(w.clone()))),
            o.shared.clone(),
        )
        .unwrap();
        o.tx = Some(tx);
        o.free = Some(free);
        o.thread = Some(h);
        for n in 0..10 {
            o.write(
                &serde_json::json!({"n": n, "kind": "statement"}),
                Route::host(audit::Kind::Statement),
            )
            .unwrap();
        }
        o.close(Duration::from_secs(1)).unwrap();
        let text = String::from_utf8(w.data.lock().unwrap().clone()).unwrap();
        let kinds: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        // 4 events, a checkpoint, 4 events, a checkpoint, 2 events, the closing checkpoint.
        let cps: Vec<usize> = kinds
            .iter()
            .enumerate()
            .filter(|(_, k)| *k == "checkpoint")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(cps, vec![4, 9, 12]);
        let s = crate::verify::check(text.lines(), Some(&key.verifying_key())).unwrap();
        assert_eq!(s.checkpoints, 3);
        assert_eq!(s.unsigned_tail, 0);
    }
}
