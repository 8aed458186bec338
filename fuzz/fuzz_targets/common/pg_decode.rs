//! Shared by the PostgreSQL decoder targets: feeds arbitrary bytes in pieces of `step` bytes
//! and decodes after each piece, resynchronising after errors, as the session does.
use bytes::BytesMut;
use dbgov::protocol::postgres::{BackendDecoder, FrontendDecoder};

/// One decoder of either direction.
pub trait Decode {
    /// Some(true): a message; Some(false): more bytes needed; None: an error.
    fn step(&mut self, buf: &mut BytesMut) -> Option<bool>;
    /// Bytes dropped to find the next frame.
    fn resync(&mut self, buf: &mut BytesMut) -> usize;
}

fn outcome<M, E>(r: Result<Option<M>, E>) -> Option<bool> {
    match r {
        Ok(Some(_)) => Some(true),
        Ok(None) => Some(false),
        Err(_) => None,
    }
}

impl Decode for FrontendDecoder {
    fn step(&mut self, buf: &mut BytesMut) -> Option<bool> {
        outcome(self.decode(buf))
    }
    fn resync(&mut self, buf: &mut BytesMut) -> usize {
        FrontendDecoder::resync(self, buf)
    }
}

impl Decode for BackendDecoder {
    fn step(&mut self, buf: &mut BytesMut) -> Option<bool> {
        outcome(self.decode(buf))
    }
    fn resync(&mut self, buf: &mut BytesMut) -> usize {
        BackendDecoder::resync(self, buf)
    }
}

pub fn drive(d: &mut impl Decode, data: &[u8], step: usize) {
    let mut buf = BytesMut::new();
    for piece in data.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        for _ in 0..1000 {
            match d.step(&mut buf) {
                Some(true) => {}
                Some(false) => break,
                None => {
                    if d.resync(&mut buf) == 0 {
                        break;
                    }
                }
            }
        }
    }
}
