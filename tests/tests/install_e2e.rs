//! Installing and running dbgov as a host service (issue 14), with real components: the unit
//! files in `systemd/`, the agent as an ordinary user holding exactly the unit's capabilities
//! (`setpriv`), systemd's readiness protocol over a real notification socket, the `.deb` that
//! `cargo xtask package` builds installed with `dpkg`, a real PostgreSQL and psql.
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use dbgov_tests::*;
use serde_json::Value;

const NOBODY: u32 = 65534;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A unit's `KEY=` values, space-separated words, over every line that sets it.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .flat_map(|v| v.split_whitespace().map(str::to_owned))
        .collect()
}

/// The capabilities the agent unit grants, checked to be both its bounding and its ambient set.
fn unit_capabilities() -> Result<Vec<String>> {
    let unit = std::fs::read_to_string(repo().join("systemd/dbgov-agent.service"))?;
    let mut ambient = unit_values(&unit, "AmbientCapabilities");
    let mut bounding = unit_values(&unit, "CapabilityBoundingSet");
    ambient.sort();
    bounding.sort();
    assert_eq!(ambient, bounding, "the unit grants what it bounds");
    Ok(ambient)
}

/// `+bpf,+perfmon,...` for setpriv.
fn setpriv_caps(caps: &[String]) -> String {
    let list: Vec<String> = caps
        .iter()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    format!("-all,{}", list.join(","))
}

/// `setpriv` running a command as `nobody` with exactly `caps` (bounding, inheritable and
/// ambient; no new privileges), as the unit's `DynamicUser=` and `AmbientCapabilities=` do.
fn as_nobody_with(caps: &[String]) -> Command {
    let c = setpriv_caps(caps);
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .arg("--clear-groups")
        .arg("--no-new-privs")
        .arg(format!("--inh-caps={c}"))
        .arg(format!("--ambient-caps={c}"))
        .arg(format!("--bounding-set={c}"))
        .arg("--");
    cmd
}

/// systemd's side of `Type=notify`: a datagram socket the service writes `READY=1` and the
/// like to (`NOTIFY_SOCKET`).
struct Notify {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Notify {
    fn bind(dir: &Path) -> Result<Self> {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path)?;
        // The service may run as another user.
        run(Command::new("chmod").arg("666").arg(&path))?;
        Ok(Self { sock, path })
    }

    /// Waits for a message containing `what` (messages before it are skipped); fails early
    /// if `child` exits.
    fn wait(&self, what: &str, child: &mut Child, stderr: &Path) -> Result<String> {
        self.sock
            .set_read_timeout(Some(Duration::from_millis(200)))?;
        let t0 = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                if msg.lines().any(|l| l == what) {
                    return Ok(msg);
                }
                continue;
            }
            if let Some(st) = child.try_wait()? {
                bail!(
                    "the agent exited ({st}) before notifying {what}: {}",
                    std::fs::read_to_string(stderr).unwrap_or_default()
                );
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("no {what} notification in 60 s");
            }
        }
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// Waits for `child` to exit, at most `secs`; its exit code.
fn exit_within(child: &mut Child, secs: u64) -> Result<i32> {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(st.code().unwrap_or(-1));
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            bail!("did not exit within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn wait_events(path: &Path, what: &str, pred: impl Fn(&[Value]) -> bool) -> Result<Vec<Value>> {
    let t0 = Instant::now();
    loop {
        let ev = read_events(path);
        if pred(&ev) {
            return Ok(ev);
        }
        if t0.elapsed() > Duration::from_secs(20) {
            bail!("timed out waiting for {what}:\n{}", dump(&ev));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The effective uid and capability mask of a running process.
fn uid_and_caps(pid: u32) -> Result<(u32, u64)> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |k: &str| {
        st.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let uid = field("Uid:").get(1).context("Uid")?.parse()?;
    let caps = u64::from_str_radix(field("CapEff:").first().context("CapEff")?, 16)?;
    Ok((uid, caps))
}

fn cap_bit(name: &str) -> u64 {
    match name {
        "CAP_DAC_READ_SEARCH" => 1 << 2,
        "CAP_SYS_PTRACE" => 1 << 19,
        "CAP_SYS_ADMIN" => 1 << 21,
        "CAP_PERFMON" => 1 << 38,
        "CAP_BPF" => 1 << 39,
        other => panic!("unexpected capability {other}"),
    }
}

fn have(bin: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {bin}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A copy of the agent any user can execute, and a state directory `nobody` owns.
fn nobody_setup(dir: &TempDir) -> Result<(PathBuf, PathBuf)> {
    run(Command::new("chmod").arg("755").arg(dir.path()))?;
    let bin = dir.path().join("dbgov");
    std::fs::copy(agent_bin(), &bin)?;
    run(Command::new("chmod").arg("755").arg(&bin))?;
    let state = dir.path().join("state");
    std::fs::create_dir(&state)?;
    run(Command::new("chown")
        .arg(format!("{NOBODY}:{NOBODY}"))
        .arg(&state))?;
    Ok((bin, state))
}

#[test]
fn the_agent_captures_as_an_ordinary_user_with_exactly_the_units_capabilities() -> Result<()> {
    if !require_agent()
        || !require(Postgres::available(), "PostgreSQL 15")
        || !require(have("setpriv"), "setpriv (util-linux)")
    {
        return Ok(());
    }
    let caps = unit_capabilities()?;
    // The least an eBPF agent with process identity can hold; no CAP_SYS_ADMIN.
    assert_eq!(
        caps,
        [
            "CAP_BPF",
            "CAP_DAC_READ_SEARCH",
            "CAP_PERFMON",
            "CAP_SYS_PTRACE"
        ]
    );
    let pg = Postgres::start()?;
    let dir = TempDir::new("privilege")?;
    let (bin, state) = nobody_setup(&dir)?;
    let notify = Notify::bind(dir.path())?;
    let events = state.join("events.jsonl");
    let stderr = dir.path().join("stderr.log");
    let metrics_port = free_port();
    let mut agent = as_nobody_with(&caps)
        .arg(&bin)
        .args(["run", "--postgres-port", &pg.port.to_string(), "--output"])
        .arg(format!("jsonl:{}", events.display()))
        .arg("--metrics")
        .arg(format!("127.0.0.1:{metrics_port}"))
        .arg("--state-dir")
        .arg(&state)
        .env("NOTIFY_SOCKET", &notify.path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr)?)
        .spawn()?;
    // READY=1 only once every probe is attached: a statement right after it is captured.
    notify.wait("READY=1", &mut agent, &stderr)?;
    let (uid, eff) = uid_and_caps(agent.id())?;
    assert_eq!(uid, NOBODY, "the agent runs as nobody");
    let want: u64 = caps.iter().map(|c| cap_bit(c)).sum();
    assert_eq!(eff, want, "effective capabilities are exactly the unit's");

    // The client stays connected after its statement: what is asserted is the access to
    // another user's /proc entry that CAP_SYS_PTRACE gives, not a race with a client that
    // exits within milliseconds (README, "Very short-lived clients": its exe is then null).
    run(pg.psql().args([
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "SELECT 'least privilege' AS marker",
        "-c",
        "SELECT pg_sleep(0.5)",
    ]))?;
    let ev = wait_events(&events, "the psql statement", |ev| {
        !with_text(ev, "SELECT ? AS marker").is_empty()
    })?;
    let st = with_text(&ev, "SELECT ? AS marker")[0];
    // Identity of another user's process (root's psql) needs CAP_SYS_PTRACE: it is there.
    assert_eq!(st["client"]["user"], "root", "{st}");
    assert!(
        st["client"]["exe"]
            .as_str()
            .is_some_and(|e| e.ends_with("/psql")),
        "{st}"
    );
    assert_eq!(st["db"]["user"], "postgres", "{st}");

    // The operator's view: healthy, and the statement counted (metrics update every second).
    assert_eq!(
        http_get(metrics_port, "/healthz")?,
        (200, "ok\n".to_owned())
    );
    let t0 = Instant::now();
    loop {
        let (code, page) = http_get(metrics_port, "/metrics")?;
        assert_eq!(code, 200);
        let n = metric(&page, "dbgov_statements_total").context("dbgov_statements_total")?;
        if n >= 1.0 {
            for kind in ["statement", "session_start"] {
                assert!(
                    metric(&page, &format!("dbgov_events_total{{kind=\"{kind}\"}}"))
                        .is_some_and(|e| e >= 1.0),
                    "{kind}: {page}"
                );
            }
            // The kernel ring: its size, and a peak the probes saw (the statement's records).
            assert_eq!(
                metric(&page, "dbgov_ring_buffer_size_bytes"),
                Some(16.0 * 1024.0 * 1024.0),
                "{page}"
            );
            assert!(
                metric(&page, "dbgov_ring_buffer_peak_used_bytes").is_some(),
                "{page}"
            );
            assert!(
                metric(&page, "dbgov_process_resident_memory_bytes").is_some_and(|r| r > 1e6),
                "{page}"
            );
            assert_eq!(metric(&page, "dbgov_cpu_yielding"), Some(0.0), "{page}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{page}");
        std::thread::sleep(Duration::from_millis(300));
    }
    // `dbgov status` reads the same endpoint: healthy, exit 0.
    let st = Command::new(agent_bin())
        .args(["status", "--metrics", &format!("127.0.0.1:{metrics_port}")])
        .output()?;
    let out = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(
        out.contains(": healthy: ") && out.contains("spool none (no Kafka)"),
        "{out}"
    );

    // A second agent on the same state directory refuses at once, naming the first.
    let second = Command::new(agent_bin())
        .args([
            "run",
            "--postgres-port",
            &pg.port.to_string(),
            "--output",
            "none",
        ])
        .arg("--state-dir")
        .arg(&state)
        .output()?;
    let msg = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "second agent started: {msg}");
    assert!(
        msg.contains("another dbgov agent is running")
            && msg.contains(&format!("pid {}", agent.id())),
        "{msg}"
    );

    // SIGHUP (ExecReload): RELOADING=1, then READY=1 again.
    signal(&agent, libc::SIGHUP);
    notify.wait("RELOADING=1", &mut agent, &stderr)?;
    notify.wait("READY=1", &mut agent, &stderr)?;
    pg.psql_admin("SELECT 'after reload' AS marker2")?;
    wait_events(&events, "a statement after the reload", |ev| {
        !with_text(ev, "SELECT ? AS marker2").is_empty()
    })?;

    // SIGTERM: STOPPING=1, exit 0 within the unit's stop timeout, every session ended.
    signal(&agent, libc::SIGTERM);
    notify.wait("STOPPING=1", &mut agent, &stderr)?;
    let code = exit_within(&mut agent, 30)?;
    let err = std::fs::read_to_string(&stderr)?;
    assert_eq!(code, 0, "{err}");
    // setpriv cannot give the unit's LimitNICE=+0 here (raising RLIMIT_NICE needs
    // CAP_SYS_RESOURCE, which this sandbox's root lacks): adaptive scheduling says once that it
    // is off, and the agent ran at its normal priority.
    assert_eq!(
        err.matches("scheduling: adaptive is off").count(),
        1,
        "{err}"
    );
    // Gone: `dbgov status` says so and fails.
    let st = Command::new(agent_bin())
        .args(["status", "--metrics", &format!("127.0.0.1:{metrics_port}")])
        .output()?;
    assert!(!st.status.success());
    assert!(String::from_utf8_lossy(&st.stderr).contains("no dbgov answers"));
    // Without CAP_SYS_ADMIN the kernel creates no uprobes: the agent says TLS is not
    // captured rather than failing per library.
    assert!(err.contains("TLS plaintext capture is off"), "{err}");
    let ev = read_events(&events);
    let starts = of_kind(&ev, "session_start").len();
    assert!(starts >= 2, "{}", dump(&ev));
    assert_eq!(starts, of_kind(&ev, "session_end").len(), "{}", dump(&ev));
    run(Command::new(agent_bin())
        .arg("verify")
        .arg("--input")
        .arg(format!("jsonl:{}", events.display())))?;
    Ok(())
}

#[test]
fn without_any_one_of_the_units_capabilities_the_agent_stops_at_once_naming_it() -> Result<()> {
    if !require_agent() || !require(have("setpriv"), "setpriv (util-linux)") {
        return Ok(());
    }
    let caps = unit_capabilities()?;
    let dir = TempDir::new("privilege-missing")?;
    let (bin, state) = nobody_setup(&dir)?;
    for missing in &caps {
        let fewer: Vec<String> = caps.iter().filter(|c| *c != missing).cloned().collect();
        let t0 = Instant::now();
        let out = as_nobody_with(&fewer)
            .arg(&bin)
            .args(["run", "--output", "none", "--state-dir"])
            .arg(&state)
            .output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "without {missing}: {err}");
        assert!(
            err.contains(&format!("missing 1 capability: {missing}")),
            "without {missing}: {err}"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "without {missing} it took {:?}",
            t0.elapsed()
        );
    }
    // With identity resolution off, CAP_SYS_PTRACE is not needed (and not asked for).
    let cfg = dir.path().join("wire-only.yaml");
    std::fs::write(&cfg, "identity:\n  processes: false\n")?;
    let fewer: Vec<String> = caps
        .iter()
        .filter(|c| *c != "CAP_SYS_PTRACE")
        .cloned()
        .collect();
    let mut agent = as_nobody_with(&fewer)
        .arg(&bin)
        .args(["run", "--output", "none", "--config"])
        .arg(&cfg)
        .arg("--state-dir")
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        agent.try_wait()?.is_none(),
        "the wire-only agent should run without CAP_SYS_PTRACE"
    );
    signal(&agent, libc::SIGTERM);
    assert_eq!(exit_within(&mut agent, 30)?, 0);
    Ok(())
}

/// `systemd-analyze security --offline=true UNIT`'s overall exposure (0 best, 10 worst).
fn exposure(unit: &Path) -> Result<f64> {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .with_context(|| format!("no exposure level in: {text}"))?;
    let v = line
        .split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .context("exposure value")?;
    Ok(v.parse()?)
}

fn dpkg(args: &[&str]) -> Result<String> {
    run(Command::new("dpkg").args(args))
}

#[test]
fn the_package_installs_runs_upgrades_in_place_and_purges_clean() -> Result<()> {
    let deb = std::env::var("DBGOV_DEB").map(PathBuf::from).ok();
    if !require_agent()
        || !require(Postgres::available(), "PostgreSQL 15")
        || !require(
            deb.as_ref().is_some_and(|d| d.exists()),
            "DBGOV_DEB: the .deb from cargo xtask package (cargo xtask test builds it)",
        )
        || !require(have("systemd-analyze"), "systemd-analyze")
    {
        return Ok(());
    }
    let Some(deb) = deb else { return Ok(()) };
    let deb_s = deb.to_string_lossy().into_owned();
    // A clean slate, should an earlier run have stopped half way.
    let _ = Command::new("dpkg").args(["--purge", "dbgov"]).output();
    assert!(
        !Path::new("/usr/bin/dbgov").exists(),
        "/usr/bin/dbgov exists and is not from the package"
    );
    let _ = std::fs::remove_dir_all("/var/lib/dbgov");

    dpkg(&["-i", &deb_s])?;
    for f in [
        "/usr/bin/dbgov",
        "/usr/lib/systemd/system/dbgov-agent.service",
        "/usr/lib/systemd/system/dbgov-proxy.service",
        "/etc/dbgov/agent.yaml",
        "/etc/dbgov/policies/rules/10-destructive.yaml",
        "/etc/dbgov/policies/classes/pii.yaml",
        "/usr/share/man/man1/dbgov.1.gz",
        "/usr/share/man/man1/dbgov-run.1.gz",
        "/usr/share/bash-completion/completions/dbgov",
        "/usr/share/zsh/vendor-completions/_dbgov",
        "/usr/share/doc/dbgov/README.md",
    ] {
        assert!(Path::new(f).exists(), "{f} not installed");
    }
    let conffiles = run(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}\n", "dbgov"]))?;
    assert!(conffiles.contains("/etc/dbgov/agent.yaml"), "{conffiles}");
    // The installed units verify (with their man pages found) and keep their scores.
    for unit in ["dbgov-agent", "dbgov-proxy"] {
        let path = format!("/usr/lib/systemd/system/{unit}.service");
        let out = Command::new("systemd-analyze")
            .args(["verify", &path])
            .output()?;
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify {unit}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let score = exposure(Path::new(&path))?;
        let readme = std::fs::read_to_string(repo().join("README.md"))?;
        assert!(
            readme.contains(&format!("| `{unit}.service` | {score:.1} ")),
            "README must record {unit}'s exposure {score:.1}"
        );
    }
    let check =
        run(Command::new("/usr/bin/dbgov").args(["config", "check", "/etc/dbgov/agent.yaml"]))?;
    assert!(check.contains("ok"), "{check}");

    // The installed binary with the installed configuration (port 5432, JSON lines under
    // the state directory, the installed policies).
    let pg = Postgres::start_on(5432).context("a PostgreSQL on 5432, the configured port")?;
    let dir = TempDir::new("package")?;
    let notify = Notify::bind(dir.path())?;
    let stderr = dir.path().join("stderr.log");
    let events = Path::new("/var/lib/dbgov/events.jsonl");
    let mut agent = Command::new("/usr/bin/dbgov")
        .args(["run", "--config", "/etc/dbgov/agent.yaml"])
        .env("NOTIFY_SOCKET", &notify.path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr)?)
        .spawn()?;
    notify.wait("READY=1", &mut agent, &stderr)?;
    pg.psql_admin("SELECT 'installed' AS before_upgrade")?;
    wait_events(events, "the statement before the upgrade", |ev| {
        !with_text(ev, "SELECT ? AS before_upgrade").is_empty()
    })?;

    // An upgrade in place (dpkg -i while the agent runs) keeps the administrator's edit of
    // the configuration and does not disturb the running agent.
    let mut conf = std::fs::read_to_string("/etc/dbgov/agent.yaml")?;
    conf.push_str("# edited by the administrator\n");
    std::fs::write("/etc/dbgov/agent.yaml", &conf)?;
    dpkg(&["-i", &deb_s])?;
    assert!(
        std::fs::read_to_string("/etc/dbgov/agent.yaml")?.contains("# edited by the administrator"),
        "the conffile edit was lost"
    );
    assert!(agent.try_wait()?.is_none(), "the upgrade stopped the agent");
    pg.psql_admin("SELECT 'upgraded' AS after_upgrade")?;
    wait_events(events, "the statement after the upgrade", |ev| {
        !with_text(ev, "SELECT ? AS after_upgrade").is_empty()
    })?;
    signal(&agent, libc::SIGTERM);
    assert_eq!(exit_within(&mut agent, 30)?, 0);
    let ev = read_events(events);
    assert_eq!(with_text(&ev, "SELECT ? AS before_upgrade").len(), 1);
    assert_eq!(with_text(&ev, "SELECT ? AS after_upgrade").len(), 1);
    run(Command::new("/usr/bin/dbgov")
        .args(["verify", "--input"])
        .arg(format!("jsonl:{}", events.display())))?;

    // The .tar.gz has the .deb's files.
    if let Ok(tgz) = std::env::var("DBGOV_TARBALL") {
        let names = |out: String| -> Vec<String> {
            let mut v: Vec<String> = out
                .lines()
                .filter_map(|l| l.split_whitespace().last())
                .map(|p| p.trim_start_matches("./").trim_end_matches('/').to_owned())
                .filter(|p| !p.is_empty() && p != ".")
                .collect();
            v.sort();
            v
        };
        let in_deb = names(run(Command::new("dpkg-deb").args(["-c", &deb_s]))?);
        let in_tgz = names(run(Command::new("tar").args(["-tvzf", &tgz]))?);
        assert_eq!(in_deb, in_tgz, "the tarball differs from the .deb");
    }

    // Purge: nothing of the package stays, the state directory included.
    let listed = dpkg(&["-L", "dbgov"])?;
    dpkg(&["--purge", "dbgov"])?;
    for p in listed.lines().map(Path::new) {
        if p.is_file() || p.is_symlink() {
            panic!("{} left behind after purge", p.display());
        }
    }
    for d in ["/etc/dbgov", "/var/lib/dbgov", "/usr/share/doc/dbgov"] {
        assert!(!Path::new(d).exists(), "{d} left behind after purge");
    }

    // Unless the administrator keeps the state directory.
    dpkg(&["-i", &deb_s])?;
    std::fs::create_dir_all("/var/lib/dbgov")?;
    std::fs::write("/var/lib/dbgov/events.jsonl", "{}\n")?;
    run(Command::new("dpkg")
        .args(["--purge", "dbgov"])
        .env("DBGOV_KEEP_STATE", "yes"))?;
    assert!(Path::new("/var/lib/dbgov/events.jsonl").exists());
    assert!(!Path::new("/usr/bin/dbgov").exists());
    assert!(!Path::new("/etc/dbgov").exists());
    std::fs::remove_dir_all("/var/lib/dbgov")?;
    Ok(())
}
