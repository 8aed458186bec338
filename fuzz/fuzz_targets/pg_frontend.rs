//! PostgreSQL frontend (client-to-server) decoder: arbitrary bytes, fed in arbitrary pieces,
//! with resynchronisation after errors, as the session does.
#![no_main]
use bytes::BytesMut;
use dbgov::protocol::postgres::FrontendDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut d = if mode & 1 == 0 {
        FrontendDecoder::new(1 << 20)
    } else {
        FrontendDecoder::mid_session(1 << 20)
    };
    let step = 1 + (mode >> 1) as usize;
    let mut buf = BytesMut::new();
    for piece in rest.chunks(step) {
        buf.extend_from_slice(piece);
        for _ in 0..1000 {
            match d.decode(&mut buf) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    if d.resync(&mut buf) == 0 {
                        break;
                    }
                }
            }
        }
    }
});
