//! Capture files: `dbgov run --record FILE` saves the raw ring-buffer records, and
//! `dbgov replay FILE` feeds them through everything after the kernel. Format: the magic
//! `DBGOVREC`, a u32 version (1), the i128 monotonic-to-wall-clock offset in nanoseconds, then
//! records as u32 length (little endian) + bytes.
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"DBGOVREC";
const VERSION: u32 = 1;
/// Largest record accepted when reading (a data chunk is at most 16 KiB plus header).
const MAX_RECORD: usize = 1 << 20;

/// Errors reading or writing capture files.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The I/O error is the source (shown once in a chain: `reading F: capture file I/O: No
    /// such file or directory (os error 2)`).
    #[error("capture file I/O")]
    Io(#[from] std::io::Error),
    #[error("not a dbgov capture file (bad magic)")]
    BadMagic,
    #[error("unsupported capture file version {0}")]
    BadVersion(u32),
    #[error("corrupt capture file: record of {0} bytes")]
    BadRecord(usize),
}

pub struct Writer {
    w: BufWriter<File>,
}

impl Writer {
    pub fn create(path: &Path, clock_offset_ns: i128) -> Result<Self, RecordError> {
        // Raw protocol bytes, authentication exchanges included: a secret (mode 0600).
        let mut w = BufWriter::with_capacity(1 << 20, crate::files::open_private(path, true)?);
        w.write_all(MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        w.write_all(&clock_offset_ns.to_le_bytes())?;
        Ok(Self { w })
    }

    /// Writes one ring record. Data chunks are trimmed to their header and captured bytes (the
    /// kernel reserves fixed size classes).
    pub fn write(&mut self, rec: &[u8]) -> Result<(), RecordError> {
        let hl = std::mem::size_of::<agent_common::EventHeader>();
        let rec = match (rec.get(0..4), rec.get(60..64)) {
            (Some(kind), Some(cap))
                if u32::from_ne_bytes([kind[0], kind[1], kind[2], kind[3]])
                    == agent_common::EventKind::Data as u32 =>
            {
                let cap = u32::from_ne_bytes([cap[0], cap[1], cap[2], cap[3]]) as usize;
                rec.get(..hl + cap).unwrap_or(rec)
            }
            _ => rec,
        };
        self.w.write_all(&(rec.len() as u32).to_le_bytes())?;
        self.w.write_all(rec)?;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), RecordError> {
        self.w.flush()?;
        Ok(())
    }
}

/// A capture file read into memory: one buffer, and where each record lies in it.
pub struct Capture {
    /// The monotonic-to-wall-clock offset of the recording agent.
    pub clock_offset_ns: i128,
    data: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Capture {
    /// Records held.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Bytes of all records together.
    pub fn bytes(&self) -> usize {
        self.spans.iter().map(|(a, b)| b - a).sum()
    }

    /// The records, in order.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.spans.len()).filter_map(|i| self.record(i))
    }

    /// Record `i`, if there is one.
    fn record(&self, i: usize) -> Option<&[u8]> {
        self.spans
            .get(i)
            .map(|&(a, b)| self.data.get(a..b).unwrap_or_default())
    }

    /// The records, in order, each handed out once the start of the next one has been asked
    /// into the cache. A capture is read from one large buffer in which the pipeline touches
    /// each record's header and only part of its payload, so the CPU's own prefetcher does not
    /// see a stream: without the hint the first read of every header waited on memory (7% of
    /// a replay's time in a profile).
    pub fn records_prefetched(&self) -> impl Iterator<Item = &[u8]> + '_ {
        const AHEAD: usize = 2;
        (0..self.spans.len()).filter_map(move |i| {
            if let Some(n) = self.record(i + AHEAD) {
                prefetch(n);
            }
            self.record(i)
        })
    }
}

/// Asks the CPU to bring the first two cache lines of `rec` into its cache: a hint, with no
/// effect on what is read.
#[inline]
fn prefetch(rec: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = rec.as_ptr();
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch is a hint that never
        // faults and reads nothing into the program, whatever the address.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p.cast());
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64).cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = rec;
}

/// Reads a whole capture file into memory (one read, no copy per record).
pub fn read_all(path: &Path) -> Result<Capture, RecordError> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let head = MAGIC.len() + 4 + 16;
    if data.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(RecordError::BadMagic);
    }
    let word = |at: usize| -> Option<u32> {
        let b = data.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let Some(version) = word(MAGIC.len()) else {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    };
    if version != VERSION {
        return Err(RecordError::BadVersion(version));
    }
    let Some(o) = data.get(MAGIC.len() + 4..head) else {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    };
    let mut ob = [0u8; 16];
    ob.copy_from_slice(o);
    let clock_offset_ns = i128::from_le_bytes(ob);
    let mut spans = Vec::new();
    let mut at = head;
    // A length prefix cut short ends the file cleanly (as a recorder stopped between records).
    while let Some(len) = word(at) {
        let len = len as usize;
        if len > MAX_RECORD {
            return Err(RecordError::BadRecord(len));
        }
        let start = at + 4;
        if start + len > data.len() {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        spans.push((start, start + len));
        at = start + len;
    }
    Ok(Capture {
        clock_offset_ns,
        data,
        spans,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use agent_common::{ConnEvent, EventHeader, EventKind};

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("dbgov-record-{name}-{}", std::process::id()))
    }

    fn bytes_of<T: Copy>(v: &T) -> Vec<u8> {
        // SAFETY: the record structs are repr(C) integers and byte arrays without padding.
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    fn conn_open(conn_id: u64, port: u32) -> ConnEvent {
        // SAFETY: all-integer repr(C) struct; zero is a valid value of every field.
        let mut ev: ConnEvent = unsafe { std::mem::zeroed() };
        ev.hdr.kind = EventKind::ConnOpen as u32;
        ev.hdr.conn_id = conn_id;
        ev.hdr.tgid = 1;
        ev.role = agent_common::ROLE_CLIENT;
        ev.engine = agent_common::ENGINE_POSTGRES;
        ev.family = agent_common::FAMILY_INET;
        ev.port = port;
        ev.addr[..4].copy_from_slice(&[127, 0, 0, 1]);
        ev.login_uid = 1000;
        ev
    }

    /// Writes, then reads back: data chunks keep only their header and captured bytes (the
    /// kernel's size class is cut), other records are kept whole, and the clock offset
    /// survives.
    #[test]
    fn a_capture_reads_back_with_data_chunks_trimmed() {
        let path = tmp("roundtrip");
        let mut w = Writer::create(&path, -123_456_789_012).unwrap();
        let hdr = EventHeader {
            kind: EventKind::Data as u32,
            conn_id: 7,
            captured_len: 5,
            ..EventHeader::default()
        };
        let mut data = bytes_of(&hdr);
        data.extend_from_slice(b"hello");
        data.resize(data.len() + 4096, 0xAA);
        let open = bytes_of(&conn_open(7, 5432));
        let close = bytes_of(&EventHeader {
            kind: EventKind::ConnClose as u32,
            conn_id: 7,
            ..EventHeader::default()
        });
        for r in [&open, &data, &close] {
            w.write(r).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let cap = read_all(&path).unwrap();
        assert_eq!(cap.clock_offset_ns, -123_456_789_012);
        assert_eq!(
            cap.bytes(),
            open.len() + size_of::<EventHeader>() + 5 + close.len()
        );
        let recs: Vec<&[u8]> = cap.records().collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0], open);
        assert_eq!(recs[1].len(), size_of::<EventHeader>() + 5);
        assert!(recs[1].ends_with(b"hello"));
        assert_eq!(recs[2], close);
        // The prefetching walk hands out the same records, in the same order.
        assert_eq!(cap.records_prefetched().collect::<Vec<&[u8]>>(), recs);
        let _ = std::fs::remove_file(&path);
    }

    /// Damaged files are refused with a reason, not misread.
    #[test]
    fn damaged_captures_are_refused_with_a_reason() {
        let path = tmp("damaged");
        std::fs::write(&path, b"NOTDBGOV\x01\x00\x00\x00").unwrap();
        assert!(matches!(read_all(&path), Err(RecordError::BadMagic)));
        let mut head = MAGIC.to_vec();
        head.extend_from_slice(&9u32.to_le_bytes());
        head.extend_from_slice(&0i128.to_le_bytes());
        std::fs::write(&path, &head).unwrap();
        assert!(matches!(read_all(&path), Err(RecordError::BadVersion(9))));
        let mut head = MAGIC.to_vec();
        head.extend_from_slice(&VERSION.to_le_bytes());
        head.extend_from_slice(&0i128.to_le_bytes());
        let mut big = head.clone();
        big.extend_from_slice(&(64u32 << 20).to_le_bytes());
        std::fs::write(&path, &big).unwrap();
        assert!(matches!(read_all(&path), Err(RecordError::BadRecord(_))));
        // A record cut short (the recorder was killed mid-write).
        let mut torn = head.clone();
        torn.extend_from_slice(&100u32.to_le_bytes());
        torn.extend_from_slice(&[0u8; 10]);
        std::fs::write(&path, &torn).unwrap();
        assert!(matches!(read_all(&path), Err(RecordError::Io(_))));
        // No records at all is a valid, empty capture.
        std::fs::write(&path, &head).unwrap();
        assert!(read_all(&path).unwrap().is_empty());
        let _ = std::fs::remove_file(&path);
    }

    /// Capture files from older agents hold shorter connection records: 216 bytes (before the
    /// login uid and `comm`) and 232 (before the kernel's socket identity). The pipeline
    /// still opens those connections; anything shorter is counted as malformed.
    #[test]
    fn older_connection_record_layouts_are_still_read() {
        use crate::pipeline::{Pipeline, PipelineConfig};
        use crate::sink::{Output, OutputOptions, OutputSpec};
        let host = crate::audit::Host::default();
        let out = Output::open(
            &OutputOptions {
                spec: OutputSpec::None,
                ..OutputOptions::default()
            },
            &host,
        )
        .unwrap();
        let mut p = Pipeline::new(
            PipelineConfig {
                host,
                policy: crate::policy::Policy::builtin().unwrap().into(),
                analyzer: crate::sql::AnalyzerConfig::default(),
                session: crate::session::SessionOptions::default(),
                resolve_identity: false,
            },
            crate::audit::Clock::with_offset(0),
            out,
        );
        let full = bytes_of(&conn_open(1, 5432));
        assert!(full.len() > 232);
        for (id, len) in [(1u64, 216usize), (2, 232), (3, full.len())] {
            let mut rec = bytes_of(&conn_open(id, 5432));
            rec.truncate(len);
            p.handle_record(&rec).unwrap();
        }
        assert_eq!(p.connections(), 3);
        assert_eq!(p.stats.malformed_records, 0);
        let mut short = bytes_of(&conn_open(4, 5432));
        short.truncate(200);
        p.handle_record(&short).unwrap();
        assert_eq!(p.connections(), 3);
        assert_eq!(p.stats.malformed_records, 1);
    }
}
