//! MySQL packet framing, then every payload parser on every packet.
#![no_main]
use bytes::{Bytes, BytesMut};
use dbgov::protocol::mysql::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let step = 1 + mode as usize;
    let mut dec = PacketDecoder::new(1 << 20);
    let mut buf = BytesMut::new();
    for piece in rest.chunks(step) {
        buf.extend_from_slice(piece);
        for _ in 0..1000 {
            match dec.decode(&mut buf) {
                Ok(Some(p)) => parse_all(&p.payload),
                Ok(None) | Err(_) => break,
            }
        }
    }
    // The payload parsers on the raw input as well.
    parse_all(&Bytes::copy_from_slice(rest));
});

fn parse_all(payload: &Bytes) {
    let _ = Handshake::parse(payload);
    let _ = ClientHello::parse(payload);
    let _ = AuthSwitchRequest::parse(payload);
    let _ = OkPacket::parse(payload, true);
    let _ = OkPacket::parse(payload, false);
    let _ = ErrPacket::parse(payload);
    let _ = EofPacket::parse(payload);
    let _ = ColumnCount::parse(payload);
    let _ = ColumnDefinition::parse(payload, false);
    let _ = ColumnDefinition::parse(payload, true);
    let _ = StmtPrepareOk::parse(payload);
    let _ = Command::parse(payload, u64::MAX);
    let _ = Command::parse(payload, 0);
}
