//! `cargo xtask fuzz`: runs every cargo-fuzz target in `fuzz/` (libFuzzer, nightly) for a given
//! time, each from a corpus seeded with the committed fixtures (recorded PostgreSQL and MySQL
//! conversations, the SQL coverage corpora, the policy pack). The growing corpus is kept under
//! the target directory between runs. A crash, a hang (10 s for one input) or a memory blow-up
//! (2 GiB) fails the run and leaves the input under `target/fuzz-artifacts/TARGET/`.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{cargo_bin, output, root_dir, sh, step, target_dir};

/// Every target (see `fuzz/Cargo.toml`).
pub const TARGETS: &[&str] = &[
    "pg_frontend",
    "pg_backend",
    "mysql_packets",
    "pg_session",
    "mysql_session",
    "reassembler",
    "sql_analyzer",
    "policy_loader",
    "config_loader",
];

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Seconds to fuzz each target.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Only this target (repeatable; default: all).
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
}

/// Installs cargo-fuzz when it is missing.
pub fn ensure_cargo_fuzz() -> Result<()> {
    if output(Command::new(cargo_bin("cargo-fuzz")).arg("--version")).contains("cargo-fuzz") {
        return Ok(());
    }
    sh(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
}

pub fn main(a: FuzzArgs) -> Result<()> {
    for t in &a.targets {
        if !TARGETS.contains(&t.as_str()) {
            bail!(
                "unknown fuzz target {t:?}; the targets are {}",
                TARGETS.join(", ")
            );
        }
    }
    let targets: Vec<&str> = if a.targets.is_empty() {
        TARGETS.to_vec()
    } else {
        a.targets.iter().map(String::as_str).collect()
    };
    ensure_cargo_fuzz()?;
    let seeds = target_dir().join("fuzz-seeds");
    write_seeds(&seeds)?;
    step("building the fuzz targets (nightly, libFuzzer)");
    if targets.len() == TARGETS.len() {
        sh(&mut fuzz_cmd("build"))?;
    } else {
        for t in &targets {
            sh(fuzz_cmd("build").arg(t))?;
        }
    }
    let mut rows = Vec::new();
    for t in &targets {
        step(&format!("fuzzing {t} for {} s", a.seconds));
        let corpus = target_dir().join("fuzz-corpus").join(t);
        let artifacts = target_dir().join("fuzz-artifacts").join(t);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        let t0 = Instant::now();
        let out = fuzz_cmd("run")
            .arg(t)
            .arg(&corpus)
            .arg(seeds.join(t))
            .arg("--")
            .arg(format!("-max_total_time={}", a.seconds))
            .arg("-timeout=10")
            .arg("-rss_limit_mb=2048")
            .arg("-max_len=65536")
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .output()
            .with_context(|| format!("running fuzz target {t}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let stat = |name: &str| -> String {
            log.lines()
                .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| "?".into())
        };
        let execs = stat("number_of_executed_units");
        let rss = stat("peak_rss_mb");
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "fuzz target {t} failed after {:.0} s ({}); the input is under {}:\n{}",
                t0.elapsed().as_secs_f64(),
                out.status,
                artifacts.display(),
                tail.join("\n")
            );
        }
        let corpus_len = std::fs::read_dir(&corpus)?.count();
        eprintln!("    {t}: {execs} inputs, corpus {corpus_len}, peak RSS {rss} MB, no crash");
        rows.push((t.to_string(), execs, corpus_len, rss));
    }
    eprintln!(
        "\n| target | seconds | inputs run | corpus | peak RSS (MB) |\n|---|---|---|---|---|"
    );
    for (t, execs, corpus, rss) in rows {
        eprintln!("| {t} | {} | {execs} | {corpus} | {rss} |", a.seconds);
    }
    Ok(())
}

/// `cargo +nightly fuzz SUB` for the project's fuzz crate. No sanitizer: the decoders are safe
/// Rust, and libFuzzer alone catches panics, hangs and memory blow-ups at several times the
/// speed of an AddressSanitizer build. The eBPF object is not needed.
fn fuzz_cmd(sub: &str) -> Command {
    let mut c = Command::new("cargo");
    c.args(["+nightly", "fuzz", sub, "--sanitizer", "none", "--fuzz-dir"])
        .arg(root_dir().join("fuzz"))
        .arg("--target-dir")
        .arg(target_dir().join("fuzz"))
        .env("AYA_BUILD_SKIP", "1")
        .current_dir(root_dir());
    c
}

/// Seeds each target's corpus from the committed fixtures, in that target's input format.
fn write_seeds(dir: &Path) -> Result<()> {
    let root = root_dir();
    // Rewritten in place (not removed first): two runs may seed at the same time.
    for t in TARGETS {
        std::fs::create_dir_all(dir.join(t))?;
    }
    let put = |t: &str, name: &str, data: &[u8]| -> Result<()> {
        std::fs::write(dir.join(t).join(name), data).map_err(Into::into)
    };
    for (engine, decoders) in [
        ("postgres", ["pg_frontend", "pg_backend", "pg_session"]),
        ("mysql", ["mysql_packets", "mysql_packets", "mysql_session"]),
    ] {
        for f in bins(&root.join("agent/tests/fixtures").join(engine))? {
            let name = f.file_stem().map(|s| s.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            let records = read_fixture(&std::fs::read(&f)?);
            let side = |client: bool| -> Vec<u8> {
                let mut v = vec![0x7e];
                for (c, d) in &records {
                    if *c == client {
                        v.extend_from_slice(d);
                    }
                }
                v
            };
            put(decoders[0], &format!("{name}-client"), &side(true))?;
            put(decoders[1], &format!("{name}-server"), &side(false))?;
            // The session format: control byte (bit 0 direction), length, bytes.
            let mut feed = Vec::new();
            for (c, d) in &records {
                for piece in d.chunks(16383) {
                    let len = piece.len();
                    feed.push((((len >> 8) as u8) << 2) | u8::from(!*c));
                    feed.push(len as u8);
                    feed.extend_from_slice(piece);
                }
            }
            put(decoders[2], &name, &feed)?;
        }
    }
    // Reassembler: in-order, overlapping and holed chunk sequences.
    for (i, recs) in [
        vec![(0u16, 64u16), (4, 64), (8, 64)],
        vec![(8, 64), (0, 128), (4, 16)],
        vec![(0, 16), (100, 16), (2, 200)],
    ]
    .iter()
    .enumerate()
    {
        let mut v = Vec::new();
        for &(off, len) in recs {
            v.extend_from_slice(&off.to_le_bytes());
            v.extend_from_slice(&len.to_le_bytes());
            v.extend(std::iter::repeat_n(b'x', len as usize));
        }
        put("reassembler", &format!("seq{i}"), &v)?;
    }
    // SQL: every statement of the coverage corpora, in its dialect.
    for (file, mode) in [("coverage-postgres.sql", 0u8), ("coverage-mysql.sql", 1u8)] {
        let text = std::fs::read_to_string(root.join("agent/tests/corpus").join(file))?;
        let mut n = 0;
        let mut cur = String::new();
        let flush = |cur: &mut String, n: &mut usize| -> Result<()> {
            if !cur.trim().is_empty() {
                let mut v = vec![mode];
                v.extend_from_slice(cur.trim().as_bytes());
                put("sql_analyzer", &format!("{file}-{n}"), &v)?;
                *n += 1;
            }
            cur.clear();
            Ok(())
        };
        for line in text.lines() {
            if line.starts_with("--#") {
                continue;
            }
            if line.starts_with("--@") {
                flush(&mut cur, &mut n)?;
                continue;
            }
            cur.push_str(line);
            cur.push('\n');
        }
        flush(&mut cur, &mut n)?;
    }
    // Policy files, and a configuration naming every section.
    for sub in ["classes", "rules", "workloads"] {
        for f in std::fs::read_dir(root.join("policies").join(sub))? {
            let f = f?.path();
            let name = f.file_name().map(|s| s.to_string_lossy().into_owned());
            put(
                "policy_loader",
                &format!("{sub}-{}", name.unwrap_or_default()),
                &std::fs::read(&f)?,
            )?;
        }
    }
    put(
        "config_loader",
        "example",
        b"postgres_ports: [5432]\nmysql_ports: [3306]\npostgres_sockets: [\"/tmp/.s.PGSQL.*\"]\n\
          output: jsonl:/var/lib/dbgov/events.jsonl\nkeep_literals: false\nring_buffer_mib: 16\n\
          checkpoint:\n  interval_secs: 10\n  events: 1000\nspool:\n  max_mib: 64\n\
          kafka:\n  partitions: 1\n  topics:\n    audit: dbgov.audit\n",
    )?;
    Ok(())
}

/// The `.bin` fixtures of a directory.
fn bins(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    v.sort();
    Ok(v)
}

/// A fixture: records of a direction byte (`C` client, `S` server), a u32 LE length and data.
fn read_fixture(b: &[u8]) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 5 <= b.len() {
        let client = b[i] == b'C';
        let n = u32::from_le_bytes([b[i + 1], b[i + 2], b[i + 3], b[i + 4]]) as usize;
        let end = (i + 5 + n).min(b.len());
        out.push((client, b[i + 5..end].to_vec()));
        i = end;
    }
    out
}
