//! The PostgreSQL session state machine fed an arbitrary sequence of data and gaps in both
//! directions. See `dbgov::session::fuzz_feed` for the input format.
#![no_main]
use dbgov::session::postgres::PgSession;
use dbgov::session::{fuzz_feed, SessionOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = SessionOptions {
        record_params: data.first().is_some_and(|b| b & 1 == 1),
        request_events: data.first().is_some_and(|b| b & 4 == 4),
    };
    let mut s = if data.first().is_some_and(|b| b & 2 == 2) {
        PgSession::mid_session(opts)
    } else {
        PgSession::new(opts)
    };
    fuzz_feed(&mut s, data);
});
