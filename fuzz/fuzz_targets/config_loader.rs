//! The configuration loader on arbitrary YAML: parse, then validate.
#![no_main]
use dbgov::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = Config::from_yaml(text) {
        let _ = c.validate();
        let _ = c.socket_paths();
    }
});
