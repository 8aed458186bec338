//! The MySQL session state machine fed an arbitrary sequence of data and gaps in both
//! directions. See `dbgov::session::fuzz_feed` for the input format.
#![no_main]
use dbgov::session::mysql::MysqlSession;
use dbgov::session::{fuzz_feed, SessionOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = SessionOptions {
        record_params: data.first().is_some_and(|b| b & 1 == 1),
        request_events: data.first().is_some_and(|b| b & 2 == 2),
    };
    let mut s = MysqlSession::new(opts);
    fuzz_feed(&mut s, data);
});
