//! PostgreSQL frontend (client-to-server) decoder: arbitrary bytes, fed in arbitrary pieces,
//! with resynchronisation after errors, as the session does.
#![no_main]
use dbgov::protocol::postgres::FrontendDecoder;
use libfuzzer_sys::fuzz_target;

#[path = "common/pg_decode.rs"]
mod pg_decode;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut d = if mode & 1 == 0 {
        FrontendDecoder::new(1 << 20)
    } else {
        FrontendDecoder::mid_session(1 << 20)
    };
    pg_decode::drive(&mut d, rest, 1 + (mode >> 1) as usize);
});
