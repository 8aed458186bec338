//! Criterion benchmark of SQL analysis throughput (statements per second on one core) over the
//! committed corpora `bench/sql-corpus-postgres.txt` and `bench/sql-corpus-mysql.txt`:
//!
//! - `analysis/cold`: a fresh analyzer per statement, so every call scans, parses and walks;
//! - `analysis/warm`: one analyzer that has seen the corpus, so every call is a cache hit (scan,
//!   fingerprint, LRU lookup, literals, redacted text).
//!
//! Both call `Analyzer::analyze_text`, as the pipeline does. Criterion reports the throughput in
//! elements (statements) per second. `cargo bench -p dbgov --bench analysis`; for the two figures
//! as JSON see `examples/analysis_throughput.rs`.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dbgov::sql::{Analyzer, AnalyzerConfig, Dialect};

const POSTGRES: &str = include_str!("../../bench/sql-corpus-postgres.txt");
const MYSQL: &str = include_str!("../../bench/sql-corpus-mysql.txt");

fn corpus() -> Vec<(Dialect, &'static str)> {
    let lines = |d: Dialect, text: &'static str| {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("--"))
            .map(move |l| (d, l))
    };
    lines(Dialect::Postgres, POSTGRES)
        .chain(lines(Dialect::MySql, MYSQL))
        .collect()
}

fn analysis(c: &mut Criterion) {
    let corpus = corpus();
    let mut group = c.benchmark_group("analysis");
    group.throughput(Throughput::Elements(corpus.len() as u64));

    let cold = AnalyzerConfig {
        cache_entries: 1,
        ..AnalyzerConfig::default()
    };
    group.bench_function("cold", |b| {
        b.iter(|| {
            for (d, s) in &corpus {
                let mut an = Analyzer::new(cold);
                black_box(an.analyze_text(*d, black_box(s)));
                debug_assert_eq!(an.stats().misses, 1);
            }
        })
    });

    let mut an = Analyzer::new(AnalyzerConfig::default());
    for (d, s) in &corpus {
        an.analyze_text(*d, s);
    }
    let misses = an.stats().misses;
    group.bench_function("warm", |b| {
        b.iter(|| {
            for (d, s) in &corpus {
                black_box(an.analyze_text(*d, black_box(s)));
            }
        })
    });
    assert_eq!(an.stats().misses, misses, "the warm run must only hit");
    group.finish();
}

criterion_group!(benches, analysis);
criterion_main!(benches);
