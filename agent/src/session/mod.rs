//! Per-connection conversation state: turns decoded protocol messages from both directions into
//! session facts and completed statements. Engine-specific state machines live in submodules and
//! share the types below, so everything after this stage is engine-agnostic.
pub mod mysql;
pub mod postgres;
pub mod types;

pub use types::*;

/// Feeds `data` to a conversation as the fuzz targets (and their regression tests) do: a
/// sequence of records, each a control byte and a length byte (bit 0 of the control: the
/// direction; bit 1: a gap of that many bytes instead of data; bits 2 to 7 and the length byte:
/// the length, up to 16383) followed, for data, by that many bytes; then the connection closes.
/// Returns how many events the conversation produced.
pub fn fuzz_feed(s: &mut dyn Conversation, data: &[u8]) -> usize {
    let mut out = Vec::new();
    let mut n = 0;
    let mut rest = data;
    let mut ts = 1u64;
    while rest.len() >= 2 {
        let (ctl, len) = (rest[0], rest[1]);
        rest = &rest[2..];
        let flow = if ctl & 1 == 0 {
            Flow::ClientToServer
        } else {
            Flow::ServerToClient
        };
        let len = ((ctl as usize >> 2) << 8) | len as usize;
        ts += 1000;
        if ctl & 2 == 2 {
            s.on_gap(flow, len as u64, ts, &mut out);
        } else {
            let take = len.min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            s.on_data(flow, chunk, ts, &mut out);
        }
        n += out.len();
        out.clear();
    }
    s.on_close(ts + 1, &mut out);
    n + out.len()
}
