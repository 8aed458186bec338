//! The Kafka output: sealed events are appended to the spool (on the sink thread), and a
//! producer thread ships them from the spool with an idempotent `acks=all` producer. A
//! record leaves the spool only after its delivery report; after a crash everything not
//! acknowledged is sent again (at-least-once: consumers deduplicate on `event_id`).
//!
//! Topics: every event goes to `audit`; events whose verdict is not `allow` also go to
//! `alerts`; checkpoints also go to `checkpoints`. The key is the session id, so one session
//! stays ordered in one partition; host-level events are keyed by the agent's stream id.
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};

use super::spool::{self, Acks, Reader, SpoolOptions, Writer, FLAG_ALERT, FLAG_CHECKPOINT};
use super::{Batch, CloseReport, Sink, SinkError};

/// Kafka settings (config `kafka:`).
#[derive(Clone, Debug)]
pub struct KafkaOptions {
    pub topic_audit: String,
    pub topic_alerts: String,
    pub topic_checkpoints: String,
    /// Create missing topics through the admin API (off where creation is managed).
    pub create_topics: bool,
    pub partitions: i32,
    pub replication: i32,
    /// `zstd` or `lz4` (or anything librdkafka accepts).
    pub compression: String,
    /// librdkafka settings passed through as they are: `security.protocol`, `sasl.*`,
    /// `ssl.*`, and overrides of the defaults below.
    pub properties: BTreeMap<String, String>,
    /// At shutdown, wait this long for deliveries; the rest stays in the spool.
    pub close_timeout: Duration,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        Self {
            topic_audit: "dbgov.audit".into(),
            topic_alerts: "dbgov.alerts".into(),
            topic_checkpoints: "dbgov.checkpoints".into(),
            create_topics: true,
            partitions: 3,
            replication: 1,
            compression: "lz4".into(),
            properties: BTreeMap::new(),
            close_timeout: Duration::from_secs(10),
        }
    }
}

/// Most records handed to librdkafka and not yet acknowledged, by count and by bytes: this
/// bounds the agent's memory while the broker is down (the rest waits on disk, in the spool).
const MAX_IN_FLIGHT: usize = 50_000;
const MAX_IN_FLIGHT_BYTES: usize = 32 << 20;

/// The producer configuration: durable and ordered by default, overridable by `properties`.
pub fn producer_config(brokers: &str, o: &KafkaOptions) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", &o.compression)
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        // An outage becomes backlog, never loss: messages never time out in librdkafka.
        .set("message.timeout.ms", "0")
        .set(
            "queue.buffering.max.messages",
            (MAX_IN_FLIGHT * 3).to_string(),
        )
        .set("queue.buffering.max.kbytes", "65536")
        .set("client.id", "dbgov");
    for (k, v) in &o.properties {
        c.set(k, v);
    }
    c
}

fn client_config(brokers: &str, o: &KafkaOptions) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    for (k, v) in &o.properties {
        // Only connection settings apply to admin clients and consumers.
        if k.starts_with("security.") || k.starts_with("sasl.") || k.starts_with("ssl.") {
            c.set(k, v);
        }
    }
    c
}

/// A failed delivery, to send again.
struct Failed {
    why: String,
    topic: String,
    key: Vec<u8>,
    payload: Vec<u8>,
}

/// Delivery reports and broker trouble, collected on the producer thread's `poll`.
struct Ctx {
    acks: Mutex<Vec<(usize, Result<(), Failed>)>>,
    trouble: Mutex<Option<String>>,
}

impl ClientContext for Ctx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        if (level as i32) <= (RDKafkaLogLevel::Error as i32) {
            tracing::debug!(facility = fac, "librdkafka: {msg}");
        }
    }
    fn error(&self, error: KafkaError, reason: &str) {
        if let Ok(mut t) = self.trouble.lock() {
            *t = Some(format!("{error}: {reason}"));
        }
    }
}

impl ProducerContext for Ctx {
    type DeliveryOpaque = usize;
    fn delivery(&self, r: &DeliveryResult<'_>, slot: usize) {
        let res = match r {
            Ok(_) => Ok(()),
            Err((e, m)) => Err(Failed {
                why: format!("{e} (topic {})", m.topic()),
                topic: m.topic().to_owned(),
                key: m.key().unwrap_or_default().to_vec(),
                payload: m.payload().unwrap_or_default().to_vec(),
            }),
        };
        if let Ok(mut a) = self.acks.lock() {
            a.push((slot, res));
        }
    }
}

/// The Kafka sink: spool writer on the sink thread, producer on its own thread.
pub struct KafkaSink {
    spool: Writer,
    stop: Arc<AtomicBool>,
    deadline: Arc<Mutex<Option<Instant>>>,
    producer: Option<JoinHandle<Delivery>>,
    close_timeout: Duration,
}

/// What the producer did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Delivery {
    /// Records acknowledged.
    pub acked: u64,
    /// From the first send to the last acknowledgement.
    pub seconds: f64,
    /// Records left unacknowledged in the spool.
    pub kept: u64,
}

impl KafkaSink {
    /// Opens the spool (resuming what a previous run left) and starts the producer. Broker
    /// trouble is not an error here: events wait in the spool.
    pub fn open(brokers: &str, o: &KafkaOptions, so: SpoolOptions) -> Result<Self, SinkError> {
        let spool = Writer::open(so)?;
        let waiting = spool.shared.appended.load(Ordering::Relaxed)
            - spool.shared.acked.load(Ordering::Relaxed);
        if waiting > 0 {
            tracing::warn!(
                "{waiting} events from an earlier run wait in the spool {}; they are sent first",
                spool.dir().display()
            );
        }
        // Check the settings now: a typo in a librdkafka property is a start-up error.
        let probe: BaseProducer = producer_config(brokers, o)
            .create()
            .map_err(|e| SinkError::Kafka(format!("invalid producer settings: {e}")))?;
        drop(probe);
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Arc::new(Mutex::new(None));
        let p = Shipper {
            brokers: brokers.to_owned(),
            opts: o.clone(),
            dir: spool.dir().to_owned(),
            acks: Acks::new(spool.dir(), spool.shared.clone()),
            shared: spool.shared.clone(),
            stop: stop.clone(),
            deadline: deadline.clone(),
        };
        let producer = std::thread::Builder::new()
            .name("dbgov-kafka".into())
            .spawn(move || p.run())
            .map_err(SinkError::Thread)?;
        Ok(Self {
            spool,
            stop,
            deadline,
            producer: Some(producer),
            close_timeout: o.close_timeout,
        })
    }

    pub fn spool_shared(&self) -> Arc<spool::Shared> {
        self.spool.shared.clone()
    }
}

impl Sink for KafkaSink {
    fn write(&mut self, batch: &mut Batch) -> std::io::Result<()> {
        self.spool.append(batch).map_err(std::io::Error::other)
    }

    fn tick(&mut self) -> std::io::Result<()> {
        self.spool.tick().map_err(std::io::Error::other)
    }

    fn written_of_failed(&self) -> usize {
        self.spool.partial()
    }

    fn close(&mut self, _deadline: Instant) -> CloseReport {
        let d = self.finish();
        CloseReport {
            kept: d.kept,
            lost: 0,
        }
    }
}

impl KafkaSink {
    /// Stops the producer after it has delivered what waits (or after the close timeout).
    pub fn finish(&mut self) -> Delivery {
        if let Err(e) = self.spool.sync() {
            tracing::error!("{e}");
        }
        if let Ok(mut d) = self.deadline.lock() {
            *d = Some(Instant::now() + self.close_timeout);
        }
        self.stop.store(true, Ordering::Release);
        let d = self
            .producer
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if d.kept > 0 {
            tracing::warn!(
                "{} events are not yet acknowledged by Kafka; they stay in the spool {} and are sent at the next start",
                d.kept,
                self.spool.dir().display()
            );
        }
        d
    }
}

/// `dbgov ship`: sends what waits in a spool (left by an agent that could not reach Kafka)
/// and returns once it is delivered or `timeout` has passed.
pub fn ship(
    brokers: &str,
    o: &KafkaOptions,
    so: SpoolOptions,
    timeout: Duration,
) -> Result<Delivery, SinkError> {
    let o = KafkaOptions {
        close_timeout: timeout,
        ..o.clone()
    };
    let mut k = KafkaSink::open(brokers, &o, so)?;
    Ok(k.finish())
}

/// The producer thread's state: reads the spool, sends, tracks acknowledgements.
struct Shipper {
    brokers: String,
    opts: KafkaOptions,
    dir: std::path::PathBuf,
    acks: Acks,
    shared: Arc<spool::Shared>,
    stop: Arc<AtomicBool>,
    deadline: Arc<Mutex<Option<Instant>>>,
}

/// A message that failed and waits to be sent again.
struct Retry {
    slot: usize,
    topic: String,
    key: Vec<u8>,
    payload: Vec<u8>,
}

impl Shipper {
    fn stopping(&self) -> Option<Instant> {
        if self.stop.load(Ordering::Acquire) {
            self.deadline.lock().ok().and_then(|d| *d)
        } else {
            None
        }
    }

    fn create_topics(&self) -> bool {
        let admin: AdminClient<DefaultClientContext> =
            match client_config(&self.brokers, &self.opts).create() {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!("kafka admin client: {e}");
                    return false;
                }
            };
        let topics: Vec<NewTopic> = [
            &self.opts.topic_audit,
            &self.opts.topic_alerts,
            &self.opts.topic_checkpoints,
        ]
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                self.opts.partitions,
                TopicReplication::Fixed(self.opts.replication),
            )
        })
        .collect();
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!("cannot create topics: {e}");
                return false;
            }
        };
        let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(2)));
        match rt.block_on(admin.create_topics(&topics, &opts)) {
            Ok(results) => {
                let mut ok = true;
                for r in results {
                    match r {
                        Ok(t) => tracing::info!(topic = %t, "created Kafka topic"),
                        Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                        Err((t, e)) => {
                            tracing::debug!(topic = %t, "cannot create Kafka topic: {e}");
                            ok = false;
                        }
                    }
                }
                ok
            }
            Err(e) => {
                tracing::debug!("cannot create Kafka topics: {e}");
                false
            }
        }
    }

    /// Runs until stopped; returns the events left unacknowledged. A producer that hits a
    /// fatal error (the broker rejected its idempotence state) is replaced by a new one, which
    /// starts again at the first unacknowledged record.
    fn run(mut self) -> Delivery {
        let mut total = Delivery::default();
        loop {
            match self.session(&mut total) {
                None => break,
                Some(why) => {
                    tracing::error!(
                        "the Kafka producer failed ({why}); a new one sends the unacknowledged events again"
                    );
                    if self.stopping().is_some() {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        total.kept = self.unacked();
        total
    }

    /// One producer's life: None when stopped, Some(why) after a fatal error.
    fn session(&mut self, total: &mut Delivery) -> Option<String> {
        let mut reader = Reader::new(&self.dir, self.shared.clone());
        let ctx = Ctx {
            acks: Mutex::new(Vec::new()),
            trouble: Mutex::new(None),
        };
        let producer: BaseProducer<Ctx> =
            match producer_config(&self.brokers, &self.opts).create_with_context(ctx) {
                Ok(p) => p,
                Err(e) => return Some(format!("cannot start: {e}")),
            };
        let mut topics_ready = !self.opts.create_topics;
        let mut next_topic_try = Instant::now();
        // Slots of records in flight: spool index -> copies not yet acknowledged.
        let mut in_flight: BTreeMap<u64, (u8, usize)> = BTreeMap::new();
        let mut in_flight_bytes = 0usize;
        let mut retries: VecDeque<Retry> = VecDeque::new();
        let mut healthy = true;
        let mut trouble_since = Instant::now();
        let mut sent = 0u64;
        let mut first_send: Option<Instant> = None;
        let mut last_ack = Instant::now();
        let mut acked = 0u64;
        loop {
            let deadline = self.stopping();
            if let Some(d) = deadline {
                let drained = in_flight.is_empty()
                    && retries.is_empty()
                    && reader.position() >= self.shared.appended.load(Ordering::Acquire);
                if drained || Instant::now() >= d {
                    break;
                }
            }
            if !topics_ready && Instant::now() >= next_topic_try {
                topics_ready = self.create_topics();
                if !topics_ready {
                    self.shared
                        .kafka
                        .broker_errors
                        .fetch_add(1, Ordering::Relaxed);
                    next_topic_try = Instant::now() + Duration::from_secs(2);
                    if healthy {
                        healthy = false;
                        trouble_since = Instant::now();
                        tracing::error!(
                            brokers = %self.brokers,
                            "Kafka is unreachable (cannot create or check the topics); events wait in the spool"
                        );
                    }
                }
            }
            let mut did = false;
            if topics_ready {
                // Failed messages first, then new records from the spool.
                while let Some(r) = retries.pop_front() {
                    let rec = BaseRecord::with_opaque_to(&r.topic, r.slot)
                        .key(&r.key[..])
                        .payload(&r.payload[..]);
                    if let Err((e, _)) = producer.send(rec) {
                        tracing::debug!("send: {e}");
                        retries.push_front(r);
                        break;
                    }
                    did = true;
                }
                while retries.is_empty()
                    && in_flight.len() < MAX_IN_FLIGHT
                    && in_flight_bytes < MAX_IN_FLIGHT_BYTES
                {
                    let rec = match reader.next_record() {
                        Ok(Some(r)) => r,
                        Ok(None) => break,
                        Err(e) => {
                            tracing::error!("reading the spool: {e}");
                            break;
                        }
                    };
                    did = true;
                    first_send.get_or_insert_with(Instant::now);
                    let mut copies = vec![self.opts.topic_audit.as_str()];
                    if rec.flags & FLAG_ALERT != 0 {
                        copies.push(&self.opts.topic_alerts);
                    }
                    if rec.flags & FLAG_CHECKPOINT != 0 {
                        copies.push(&self.opts.topic_checkpoints);
                    }
                    let size = rec.event.len() * copies.len();
                    in_flight.insert(rec.index, (copies.len() as u8, size));
                    in_flight_bytes += size;
                    for t in copies {
                        let slot = rec.index as usize;
                        let mut m = BaseRecord::with_opaque_to(t, slot)
                            .key(&rec.key[..])
                            .payload(&rec.event[..]);
                        loop {
                            match producer.send(m) {
                                Ok(()) => break,
                                Err((
                                    KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                                    back,
                                )) => {
                                    m = back;
                                    producer.poll(Duration::from_millis(10));
                                }
                                Err((e, _)) => {
                                    tracing::debug!("send: {e}");
                                    retries.push_back(Retry {
                                        slot,
                                        topic: t.to_owned(),
                                        key: rec.key.to_vec(),
                                        payload: rec.event.clone(),
                                    });
                                    break;
                                }
                            }
                        }
                    }
                    sent += 1;
                }
            }
            // Serve delivery reports without waiting: `BaseProducer::poll` with a timeout
            // spins on the clock until its deadline. Idle, sleep a little instead.
            producer.poll(Duration::ZERO);
            let acks = producer
                .context()
                .acks
                .lock()
                .map(|mut a| std::mem::take(&mut *a))
                .unwrap_or_default();
            if !did && acks.is_empty() {
                std::thread::sleep(Duration::from_millis(5));
            }
            let mut failed = None;
            let stats = &self.shared.kafka;
            stats
                .queue_messages
                .store(producer.in_flight_count().max(0) as u64, Ordering::Relaxed);
            for (slot, res) in acks {
                let idx = slot as u64;
                match res {
                    Ok(()) => {
                        if let Some((c, size)) = in_flight.get_mut(&idx) {
                            *c -= 1;
                            if *c == 0 {
                                in_flight_bytes -= *size;
                                in_flight.remove(&idx);
                                acked += 1;
                                last_ack = Instant::now();
                                stats
                                    .last_delivery_ms
                                    .store(spool::unix_ms(), Ordering::Relaxed);
                            }
                        }
                    }
                    Err(f) => {
                        stats.delivery_errors.fetch_add(1, Ordering::Relaxed);
                        failed = Some(f.why);
                        retries.push_back(Retry {
                            slot,
                            topic: f.topic,
                            key: f.key,
                            payload: f.payload,
                        });
                    }
                }
            }
            let trouble = producer
                .context()
                .trouble
                .lock()
                .map(|mut t| t.take())
                .unwrap_or_default();
            if trouble.is_some() {
                stats.broker_errors.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(why) = failed.or(trouble) {
                if healthy {
                    healthy = false;
                    trouble_since = Instant::now();
                    tracing::error!(
                        "Kafka delivery failing ({why}); events wait in the spool and are retried"
                    );
                }
            } else if !healthy && topics_ready && last_ack > trouble_since {
                healthy = true;
                tracing::warn!(
                    "Kafka deliveries resumed after {:.1} s; the spool drains",
                    trouble_since.elapsed().as_secs_f64()
                );
            }
            let low = in_flight
                .keys()
                .next()
                .copied()
                .or_else(|| retries.iter().map(|r| r.slot as u64).min())
                .unwrap_or_else(|| reader.position());
            if let Err(e) = self.acks.advance(low, false) {
                tracing::error!("{e}");
            }
            if let Some((code, why)) = producer.client().fatal_error() {
                return Some(format!("{code:?}: {why}"));
            }
        }
        let _ = producer.flush(Duration::from_millis(100));
        let low = in_flight
            .keys()
            .next()
            .copied()
            .unwrap_or_else(|| reader.position());
        if let Err(e) = self.acks.advance(low, true) {
            tracing::error!("{e}");
        }
        if let Some(t0) = first_send {
            let secs = last_ack.duration_since(t0).as_secs_f64();
            total.acked += acked;
            total.seconds += secs;
            tracing::info!(
                sent,
                acked,
                "Kafka: {acked} events acknowledged in {secs:.3} s ({:.0}/s)",
                acked as f64 / secs.max(1e-9)
            );
        }
        None
    }

    fn unacked(&self) -> u64 {
        self.shared.appended.load(Ordering::Acquire) - self.shared.acked.load(Ordering::Acquire)
    }
}

/// Every message of a topic, per partition in offset order: `(partition, offset, payload)`.
/// Reads from the beginning up to the high-water mark seen at the start.
pub fn read_topic(
    brokers: &str,
    topic: &str,
    props: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<Vec<(i32, i64, Vec<u8>)>, SinkError> {
    let mut out = Vec::new();
    read_topic_each(brokers, topic, props, timeout, |p, o, b| {
        out.push((p, o, b.to_vec()));
        true
    })?;
    Ok(out)
}

/// Where reading a topic starts in each partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Beginning,
    /// The last N messages of each partition.
    Tail(u64),
}

/// A consumer assigned to every partition of `topic` from `start`, with the high-water mark
/// of each partition that holds messages.
fn assigned_consumer(
    brokers: &str,
    topic: &str,
    props: &BTreeMap<String, String>,
    timeout: Duration,
    start: Start,
) -> Result<(BaseConsumer, BTreeMap<i32, i64>), SinkError> {
    let o = KafkaOptions {
        properties: props.clone(),
        ..Default::default()
    };
    let mut c = client_config(brokers, &o);
    c.set("group.id", format!("dbgov-read-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        // Bounded prefetch (librdkafka's default is 64 MB per partition).
        .set("queued.max.messages.kbytes", "8192");
    let consumer: BaseConsumer = c
        .create()
        .map_err(|e| SinkError::Kafka(format!("consumer: {e}")))?;
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| SinkError::Kafka(format!("metadata of {topic}: {e}")))?;
    let parts: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if parts.is_empty() {
        return Err(SinkError::Kafka(format!("topic {topic} not found")));
    }
    let mut want: BTreeMap<i32, i64> = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for &p in &parts {
        let (lo, hi) = consumer
            .fetch_watermarks(topic, p, timeout)
            .map_err(|e| SinkError::Kafka(format!("offsets of {topic}/{p}: {e}")))?;
        tracing::debug!(topic, partition = p, lo, hi, "watermarks");
        if hi > lo {
            want.insert(p, hi);
        }
        let offset = match start {
            Start::Beginning => Offset::Beginning,
            Start::Tail(n) => Offset::Offset((hi - n as i64).max(lo)),
        };
        tpl.add_partition_offset(topic, p, offset)
            .map_err(|e| SinkError::Kafka(e.to_string()))?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| SinkError::Kafka(format!("assign: {e}")))?;
    Ok((consumer, want))
}

/// Hands every message of `topic` to `f` as it arrives, from `start`, and goes on waiting
/// for new ones (`dbgov tail`) until `f` returns false.
pub fn follow_topic(
    brokers: &str,
    topic: &str,
    props: &BTreeMap<String, String>,
    timeout: Duration,
    start: Start,
    mut f: impl FnMut(i32, i64, &[u8]) -> bool,
) -> Result<(), SinkError> {
    let (consumer, _) = assigned_consumer(brokers, topic, props, timeout, start)?;
    loop {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) if !f(m.partition(), m.offset(), m.payload().unwrap_or_default()) => {
                return Ok(())
            }
            Some(Err(e)) => return Err(SinkError::Kafka(format!("consume {topic}: {e}"))),
            _ => {}
        }
    }
}

/// As [`read_topic`], handing each message to `f` as it arrives instead of keeping it;
/// `f` returns false to stop early.
pub fn read_topic_each(
    brokers: &str,
    topic: &str,
    props: &BTreeMap<String, String>,
    timeout: Duration,
    mut f: impl FnMut(i32, i64, &[u8]) -> bool,
) -> Result<(), SinkError> {
    let (consumer, mut want) = assigned_consumer(brokers, topic, props, timeout, Start::Beginning)?;
    let end = Instant::now() + timeout.max(Duration::from_secs(5)) * 6;
    // Read to the high-water marks, then on until nothing more arrives for a second: some
    // brokers (tansu 0.6) report a high-water mark short of the last batch.
    let mut quiet_since: Option<Instant> = None;
    loop {
        if Instant::now() > end {
            return Err(SinkError::Kafka(format!(
                "timed out reading {topic}: partitions {:?} not read to their end",
                want.keys().collect::<Vec<_>>()
            )));
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                quiet_since = None;
                let p = m.partition();
                if !f(p, m.offset(), m.payload().unwrap_or_default()) {
                    return Ok(());
                }
                if want.get(&p).is_some_and(|&hi| m.offset() + 1 >= hi) {
                    want.remove(&p);
                }
            }
            Some(Err(e)) => return Err(SinkError::Kafka(format!("consume {topic}: {e}"))),
            None => {
                if want.is_empty() {
                    let q = *quiet_since.get_or_insert_with(Instant::now);
                    if q.elapsed() >= Duration::from_secs(1) {
                        break;
                    }
                }
            }
        }
    }
    Ok(())
}
