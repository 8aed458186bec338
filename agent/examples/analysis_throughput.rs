//! SQL analysis throughput on one core, printed as one JSON object:
//! `{"cold_per_sec": .., "warm_per_sec": .., ...}`: statements per second of the measuring
//! thread's CPU time (so a busy machine does not count against the analyzer; the wall-clock
//! figures are there too, as `*_per_wall_sec`, and equal them on an idle machine).
//!
//! - cold: every statement goes to a fresh analyzer, so every call scans, parses and walks;
//! - warm: one analyzer that has seen the corpus once, so every call is a cache hit (scan,
//!   fingerprint hash, LRU lookup, literals and the redacted text).
//!
//! Both use `Analyzer::analyze_text`, as the pipeline does. Corpus files hold one statement per
//! line (`--` lines and blank lines skipped); the dialect comes from the file name (`mysql` in
//! it means MySQL, anything else PostgreSQL). Without file arguments the committed corpora
//! `bench/sql-corpus-postgres.txt` and `bench/sql-corpus-mysql.txt` are used.
//!
//! ```text
//! cargo run --release --example analysis_throughput -- [--secs S] [--only cold|warm] [FILE ...]
//! ```
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dbgov::sql::{Analyzer, AnalyzerConfig, Dialect};

fn load(path: &Path) -> Result<Vec<(Dialect, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let dialect = if name.contains("mysql") {
        Dialect::MySql
    } else {
        Dialect::Postgres
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("--"))
        .map(|l| (dialect, l.to_string()))
        .collect())
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (nanoseconds on CPU);
/// `None` where the kernel does not provide it.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// One timed run: passes over the corpus, wall time, and this thread's CPU time.
struct Timing {
    passes: u64,
    wall: Duration,
    cpu: Option<Duration>,
}

/// Runs `pass` (one pass over the corpus) until at least `min` of wall time has elapsed.
fn timed(min: Duration, mut pass: impl FnMut()) -> Timing {
    let cpu0 = thread_cpu();
    let start = Instant::now();
    let mut passes = 0u64;
    loop {
        pass();
        passes += 1;
        let wall = start.elapsed();
        if wall >= min {
            let cpu = match (cpu0, thread_cpu()) {
                (Some(a), Some(b)) if b > a => Some(b - a),
                _ => None,
            };
            return Timing { passes, wall, cpu };
        }
    }
}

fn run() -> Result<String, String> {
    let mut secs = 2.0f64;
    let mut only: Option<String> = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => {
                secs = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or("--secs needs a positive number")?;
            }
            "--only" => {
                only = Some(
                    args.next()
                        .filter(|m| m == "cold" || m == "warm")
                        .ok_or("--only needs `cold` or `warm`")?,
                );
            }
            "-h" | "--help" => {
                return Err(
                    "usage: analysis_throughput [--secs S] [--only cold|warm] [CORPUS_FILE ...]"
                        .to_string(),
                )
            }
            _ => files.push(PathBuf::from(a)),
        }
    }
    if files.is_empty() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("bench");
        files.push(root.join("sql-corpus-postgres.txt"));
        files.push(root.join("sql-corpus-mysql.txt"));
    }
    let mut corpus = Vec::new();
    for f in &files {
        corpus.extend(load(f)?);
    }
    if corpus.is_empty() {
        return Err("the corpus has no statements".to_string());
    }
    let n = corpus.len() as u64;
    let min = Duration::from_secs_f64(secs);
    let cold_config = AnalyzerConfig {
        cache_entries: 1,
        ..AnalyzerConfig::default()
    };

    let skip = |mode: &str| only.as_deref().is_some_and(|o| o != mode);
    let min_for = |mode: &str| if skip(mode) { Duration::ZERO } else { min };

    // Cold: a fresh analyzer (empty cache) per statement.
    let mut cold_misses = 0u64;
    let cold = timed(min_for("cold"), || {
        for (d, s) in &corpus {
            let mut an = Analyzer::new(cold_config);
            black_box(an.analyze_text(*d, black_box(s)));
            cold_misses += an.stats().misses;
        }
    });
    if cold_misses != cold.passes * n {
        return Err(format!(
            "cold run: {cold_misses} misses for {} calls",
            cold.passes * n
        ));
    }

    // Warm: every fingerprint cached by a first pass.
    let mut an = Analyzer::new(AnalyzerConfig::default());
    for (d, s) in &corpus {
        an.analyze_text(*d, s);
    }
    let fingerprints = an.stats().entries;
    let before = an.stats();
    let warm = timed(min_for("warm"), || {
        for (d, s) in &corpus {
            black_box(an.analyze_text(*d, black_box(s)));
        }
    });
    let after = an.stats();
    if after.misses != before.misses {
        return Err(format!(
            "warm run: {} misses (cache too small for the corpus?)",
            after.misses - before.misses
        ));
    }

    // Per core: statements per second of this thread's CPU time (the machine may be shared;
    // time spent waiting for a CPU is not the analyzer's), and per second of wall time.
    let rate = |passes: u64, t: Duration| ((passes * n) as f64 / t.as_secs_f64()).round();
    let per_core = |t: &Timing| rate(t.passes, t.cpu.unwrap_or(t.wall));
    let parse_errors = {
        let mut an = Analyzer::new(AnalyzerConfig::default());
        corpus
            .iter()
            .filter(|(d, s)| an.analyze_text(*d, s).analysis.parse_error.is_some())
            .count()
    };
    let out = serde_json::json!({
        "cold_per_sec": per_core(&cold),
        "warm_per_sec": per_core(&warm),
        "cold_per_wall_sec": rate(cold.passes, cold.wall),
        "warm_per_wall_sec": rate(warm.passes, warm.wall),
        "clock": if cold.cpu.is_some() && warm.cpu.is_some() { "thread-cpu" } else { "wall" },
        "statements": n,
        "fingerprints": fingerprints,
        "parse_errors": parse_errors,
        "cold_passes": cold.passes,
        "warm_passes": warm.passes,
        "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
    });
    Ok(out.to_string())
}

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("analysis_throughput: {e}");
            ExitCode::FAILURE
        }
    }
}
