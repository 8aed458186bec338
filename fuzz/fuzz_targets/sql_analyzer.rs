//! The SQL analyser (scanner, parser, classification walk, redaction) on arbitrary text in
//! both dialects, with the statement limit small enough that truncation is exercised.
#![no_main]
use dbgov::sql::{Analyzer, AnalyzerConfig, Dialect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let dialect = if mode & 1 == 0 {
        Dialect::Postgres
    } else {
        Dialect::MySql
    };
    let mut a = Analyzer::new(AnalyzerConfig {
        max_statement_bytes: if mode & 2 == 0 { 65536 } else { 64 },
        keep_literals: mode & 4 == 4,
        ..AnalyzerConfig::default()
    });
    let r = a.analyze_text(dialect, &text);
    // Redaction never leaves a quoted literal of the input in the text (unless asked to keep).
    assert_eq!(r.analysis.fingerprint.len(), 16);
    let _ = a.analyze(dialect, &text);
});
