//! Capture files: `dbgov run --record FILE` saves the raw ring-buffer records, and
//! `dbgov replay FILE` feeds them through everything after the kernel. Format: the magic
//! `DBGOVREC`, a u32 version (1), the i128 monotonic-to-wall-clock offset in nanoseconds, then
//! records as u32 length (little endian) + bytes.
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"DBGOVREC";
const VERSION: u32 = 1;
/// Largest record accepted when reading (a data chunk is at most 16 KiB plus header).
const MAX_RECORD: usize = 1 << 20;

/// Errors reading or writing capture files.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("capture file I/O: {0}")]
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

/// Reads a whole capture file into memory: (clock offset, records).
pub fn read_all(path: &Path) -> Result<(i128, Vec<Vec<u8>>), RecordError> {
    let mut r = BufReader::new(File::open(path)?);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(RecordError::BadMagic);
    }
    let mut v = [0u8; 4];
    r.read_exact(&mut v)?;
    let version = u32::from_le_bytes(v);
    if version != VERSION {
        return Err(RecordError::BadVersion(version));
    }
    let mut o = [0u8; 16];
    r.read_exact(&mut o)?;
    let offset = i128::from_le_bytes(o);
    let mut out = Vec::new();
    loop {
        let mut l = [0u8; 4];
        match r.read_exact(&mut l) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
        let len = u32::from_le_bytes(l) as usize;
        if len > MAX_RECORD {
            return Err(RecordError::BadRecord(len));
        }
        let mut rec = vec![0u8; len];
        r.read_exact(&mut rec)?;
        out.push(rec);
    }
    Ok((offset, out))
}
