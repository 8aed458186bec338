//! `cargo xtask`: the project's tasks that `build.rs` cannot do.
//!
//! - `setup`: installs what is missing (nightly rust-src, bpf-linker 0.10.2, PostgreSQL 15,
//!   MariaDB, pgbench/sysbench, pgaudit, Connector/C and gcc, psycopg 3, the tansu
//!   Kafka-protocol broker). Idempotent.
//! - `run`: builds the agent and runs it as root with the default configuration.
//! - `test`: setup, then formatting, lints, unit tests, a short run of every fuzz target and the
//!   root integration tests (with the release agent, among them the conformance suite against
//!   the servers' statement logs).
//! - `fuzz`: every fuzz target for `--seconds` each.
mod bench;
mod fuzz;
mod package;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "dbgov project tasks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install every prerequisite that is missing (safe to run again).
    Setup {
        /// Skip the Kafka-protocol broker (tansu), which takes several minutes to build cold.
        #[arg(long)]
        no_broker: bool,
    },
    /// Build the agent (release) and run it as root with the default configuration; extra
    /// arguments go to `dbgov run`.
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Set everything up and run every test (unit, decoder fixtures, root end-to-end).
    Test {
        /// Extra arguments for `cargo test` (e.g. a test name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Measure the agent's cost side by side with no agent and with pgaudit (issue 5); writes
    /// bench/results/LATEST.md and LATEST.json.
    Bench(bench::BenchArgs),
    /// Run every fuzz target (cargo-fuzz, libFuzzer) for a while each, from a corpus seeded
    /// with the committed fixtures; a crash, hang or memory blow-up fails.
    Fuzz(fuzz::FuzzArgs),
    /// Build the .deb (cargo-deb) and a .tar.gz with the same files into
    /// $CARGO_TARGET_DIR/package/.
    Package,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Setup { no_broker } => setup(!no_broker),
        Cmd::Run { args } => run(&args),
        Cmd::Test { args } => test(&args),
        Cmd::Bench(a) => bench::main(a),
        Cmd::Fuzz(a) => fuzz::main(a),
        Cmd::Package => package::main(),
    }
}

/// The checkout this command runs in. `cargo run` (the `cargo xtask` alias) sets
/// `CARGO_MANIFEST_DIR` at run time; the compile-time value is only the fallback, because with
/// a target directory shared between checkouts (CI's cache) cargo may reuse an xtask binary
/// built in another checkout, which would then build and test that checkout instead.
fn root_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("..")
}

fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root_dir().join("target"))
}

fn step(what: &str) {
    eprintln!("\n==> {what}");
}

fn sh(cmd: &mut Command) -> Result<()> {
    eprintln!("    $ {}", format_cmd(cmd));
    let st = cmd
        .status()
        .with_context(|| format!("cannot start {}", format_cmd(cmd)))?;
    if !st.success() {
        bail!("{} failed with {st}", format_cmd(cmd));
    }
    Ok(())
}

fn format_cmd(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn ok(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

fn output(cmd: &mut Command) -> String {
    cmd.output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).trim() == "0"
}

fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cargo")
        });
    home.join("bin").join(name)
}

fn have(bin: &str) -> bool {
    ok(Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {bin}")))
}

/// Debian packages the tests and benchmarks need, with a file that proves each is installed.
const PACKAGES: &[(&str, &str)] = &[
    ("postgresql-15", "/usr/lib/postgresql/15/bin/postgres"),
    ("postgresql-client-15", "/usr/lib/postgresql/15/bin/psql"),
    ("postgresql-contrib", "/usr/lib/postgresql/15/bin/pgbench"),
    (
        "postgresql-15-pgaudit",
        "/usr/lib/postgresql/15/lib/pgaudit.so",
    ),
    ("mariadb-server", "/usr/sbin/mariadbd"),
    ("mariadb-client", "/usr/bin/mariadb"),
    ("sysbench", "/usr/bin/sysbench"),
    ("libssl3", "/usr/lib/x86_64-linux-gnu/libssl.so.3"),
    // rdkafka's bundled librdkafka is built against the system's OpenSSL (Kafka over TLS).
    ("libssl-dev", "/usr/include/openssl/ssl.h"),
    ("pkg-config", "/usr/bin/pkg-config"),
    // The conformance suite's MySQL C-API client is compiled against Connector/C.
    ("libmariadb-dev", "/usr/include/mariadb/mysql.h"),
    ("gcc", "/usr/bin/gcc"),
    ("python3", "/usr/bin/python3"),
    // The live-view test runs the agent in a real terminal.
    ("tmux", "/usr/bin/tmux"),
    // The install tests: unit verification and scores, the man pages the units name, the
    // capability-limited agent, cargo-deb's strip.
    ("systemd", "/usr/bin/systemd-analyze"),
    ("man-db", "/usr/bin/man"),
    ("util-linux", "/usr/bin/setpriv"),
    ("binutils", "/usr/bin/strip"),
    // The report test renders the HTML report in headless Chromium.
    ("chromium", "/usr/bin/chromium"),
    // The committed capture is xz-compressed (the allocation test and the benchmarks).
    ("xz-utils", "/usr/bin/xz"),
];

/// Python packages for the conformance suite's libpq driver (psycopg 3), with the module that
/// proves each is importable.
const PYTHON_PACKAGES: &[(&str, &str)] = &[("psycopg[binary]", "psycopg")];

/// The Python interpreter the tests run (`python3` on PATH, as the tests find it).
fn python() -> String {
    std::env::var("DBGOV_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn setup(broker: bool) -> Result<()> {
    let t0 = Instant::now();
    step("nightly toolchain with rust-src (builds the eBPF programs)");
    let comps = output(Command::new("rustup").args([
        "component",
        "list",
        "--toolchain",
        "nightly",
        "--installed",
    ]));
    if comps.contains("rust-src") {
        eprintln!("    already installed");
    } else {
        if !output(Command::new("rustup").args(["toolchain", "list"])).contains("nightly") {
            sh(Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
            ]))?;
        }
        sh(Command::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            "nightly",
        ]))?;
    }

    step("bpf-linker 0.10.2 (0.11+ needs a system LLVM 23 and does not build here)");
    let v = output(Command::new(cargo_bin("bpf-linker")).arg("--version"));
    if v.contains("0.10.2") {
        eprintln!("    already installed: {}", v.trim());
    } else {
        sh(Command::new("cargo").args(["install", "bpf-linker@0.10.2", "--locked", "--force"]))?;
    }

    step("cargo-fuzz (the fuzz targets in fuzz/)");
    fuzz::ensure_cargo_fuzz()?;

    step("cargo-deb (cargo xtask package)");
    package::ensure_cargo_deb()?;

    step("Debian packages: PostgreSQL 15, pgbench, pgaudit, MariaDB, sysbench, Connector/C, gcc, tmux, systemd, man-db, chromium");
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, f)| !Path::new(f).exists())
        .map(|(p, _)| *p)
        .collect();
    if missing.is_empty() {
        eprintln!("    already installed");
    } else if !is_root() {
        bail!("packages {missing:?} are missing and installing them needs root");
    } else {
        let mut update = Command::new("apt-get");
        update
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive");
        sh(&mut update)?;
        let mut inst = Command::new("apt-get");
        inst.args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive");
        sh(&mut inst)?;
    }
    step("Python packages: psycopg 3 (a libpq driver for the conformance suite)");
    for (pkg, module) in PYTHON_PACKAGES {
        let importable = |py: &str| ok(Command::new(py).args(["-c", &format!("import {module}")]));
        if importable(&python()) {
            eprintln!("    {pkg}: already installed");
            continue;
        }
        // `python3 -m pip` installs for the interpreter the tests run; a Debian python without
        // pip gets python3-pip first.
        if !ok(Command::new(python()).args(["-m", "pip", "--version"])) && is_root() {
            let mut inst = Command::new("apt-get");
            inst.args(["install", "-y", "--no-install-recommends", "python3-pip"])
                .env("DEBIAN_FRONTEND", "noninteractive");
            sh(&mut inst)?;
        }
        let mut pip = Command::new(python());
        pip.args(["-m", "pip", "install", "--quiet", pkg]);
        if sh(&mut pip).is_err() {
            // Debian's python marks its site-packages as externally managed.
            sh(Command::new(python()).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--break-system-packages",
                pkg,
            ]))?;
        }
        if !importable(&python()) {
            bail!("{pkg} was installed but `import {module}` still fails");
        }
    }
    // The packages start system-wide servers on their default ports; tests use private ones.
    for svc in ["postgresql", "mariadb"] {
        let _ = Command::new("service").args([svc, "stop"]).output();
    }

    step("tracefs (tracepoints are attached through it)");
    if Path::new("/sys/kernel/tracing/events").exists() {
        eprintln!("    mounted");
    } else if is_root() {
        let _ = sh(Command::new("mount").args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"]));
    }

    if broker {
        step("tansu, the Kafka-protocol broker (several minutes to build the first time)");
        if cargo_bin("tansu").exists() || have("tansu") {
            eprintln!("    already installed");
        } else {
            // Memory storage (`dynostore`) is all the tests and the benchmark use; `libsql` (for
            // `sqlite://` storage) would add a C build of SQLite. Without it and at opt-level 1
            // (Rust and C alike) the build took 10m41s here against 13m58s, and the Kafka
            // end-to-end tests ran in the same time against either broker.
            sh(Command::new("cargo")
                .args(["install", "tansu", "--locked", "--features", "dynostore"])
                .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"))?;
        }
    }
    eprintln!("\nsetup finished in {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}

fn cargo() -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(root_dir());
    c
}

fn run(args: &[String]) -> Result<()> {
    step("building dbgov (release)");
    sh(cargo().args(["build", "--release", "-p", "dbgov"]))?;
    let bin = target_dir().join("release/dbgov");
    step("starting dbgov run (Ctrl-C stops it and flushes)");
    let mut cmd = if is_root() {
        Command::new(&bin)
    } else {
        let mut c = Command::new("sudo");
        c.arg(&bin);
        c
    };
    cmd.arg("run").args(args);
    sh(&mut cmd)
}

fn test(args: &[String]) -> Result<()> {
    let t0 = Instant::now();
    // Everything, the broker included (built once, ~10 minutes cold; the Kafka tests use it).
    // DBGOV_SKIP_BROKER=1 leaves it out on a machine that cannot build it.
    setup(std::env::var("DBGOV_SKIP_BROKER").is_err())?;
    step("formatting");
    sh(cargo().args(["fmt", "--all", "--", "--check"]))?;
    step("lints (clippy, warnings are errors)");
    sh(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // End-to-end tests run the agent built with optimisation, the one users run: a debug build
    // falls behind under load on this kind of machine.
    step("building the agent with its eBPF programs (release) and its packages");
    let packages = package::build()?;
    let bin = target_dir().join("release/dbgov");
    step("all tests: unit, decoder fixtures, root end-to-end with real servers and clients");
    let mut u = cargo();
    u.args([
        "test",
        "--workspace",
        "--exclude",
        "dbgov-tests",
        "--no-fail-fast",
    ])
    .args(args)
    .env("RUST_BACKTRACE", "1");
    sh(&mut u)?;
    // Every fuzz target briefly, so that a regression on a known input shows here.
    let secs = std::env::var("DBGOV_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    fuzz::main(fuzz::FuzzArgs {
        seconds: secs,
        targets: Vec::new(),
    })?;
    // The end-to-end tests each start database servers and an agent: one at a time, so that
    // two cores are not oversubscribed.
    let mut t = cargo();
    t.args(["test", "-p", "dbgov-tests", "--no-fail-fast"])
        .args(args)
        .args(["--", "--test-threads=1"])
        .env("DBGOV_BIN", &bin)
        .env("DBGOV_DEB", &packages.deb)
        .env("DBGOV_TARBALL", &packages.tarball)
        .env("RUST_BACKTRACE", "1");
    if is_root() && std::env::var("CI").is_err() {
        eprintln!("    note: CI is not set, so tests with a missing prerequisite are reported as not run instead of failing");
    }
    sh(&mut t)?;
    eprintln!("\nall tests passed in {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}
