//! Process attribution from `/proc`: who a pid is (exe, cmdline, user, login user, cgroup,
//! container, systemd unit, ancestors). Results are cached by (pid, start time), so a reused pid
//! is never mislabelled.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

/// Errors reading a process's identity.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("process {pid} is gone")]
    Gone { pid: u32 },
    #[error("cannot parse {what} of process {pid}")]
    Parse { pid: u32, what: &'static str },
}

/// One ancestor of a process.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Ancestor {
    pub pid: u32,
    pub comm: String,
    pub user: Option<String>,
}

/// Everything the agent knows about a process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub start_time: u64,
    pub ppid: u32,
    pub comm: String,
    pub exe: Option<String>,
    pub cmdline: Option<String>,
    pub uid: u32,
    pub user: Option<String>,
    pub gid: u32,
    pub groups: Vec<String>,
    pub login_uid: Option<u32>,
    pub login_user: Option<String>,
    pub cgroup: Option<String>,
    pub container_id: Option<String>,
    pub pod_uid: Option<String>,
    pub unit: Option<String>,
    pub ancestors: Vec<Ancestor>,
    /// `client.workload`: see [`workload`].
    pub workload: Option<String>,
}

/// A stable name for what is running, from the first that applies: the systemd unit (not a
/// login session's `session-N.scope` or a user manager), the container's name (from Docker's
/// metadata on this host) or `container:ID12`, `pod:UID`, else the executable.
pub fn workload(
    unit: Option<&str>,
    container_id: Option<&str>,
    container_name: Option<&str>,
    pod_uid: Option<&str>,
    exe: Option<&str>,
) -> Option<String> {
    let login_session =
        |u: &str| u.starts_with("user@") || (u.starts_with("session-") && u.ends_with(".scope"));
    if let Some(u) = unit.filter(|u| !login_session(u)) {
        return Some(u.to_owned());
    }
    if let Some(n) = container_name {
        return Some(n.to_owned());
    }
    if let Some(id) = container_id {
        return Some(format!("container:{}", id.get(..12).unwrap_or(id)));
    }
    if let Some(p) = pod_uid {
        return Some(format!("pod:{p}"));
    }
    exe.map(str::to_owned)
}

/// The name Docker gave a container (`/var/lib/docker/containers/ID/config.v2.json`).
fn docker_name(id: &str) -> Option<String> {
    let path = Path::new("/var/lib/docker/containers")
        .join(id)
        .join("config.v2.json");
    let text = std::fs::read(path).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    v.get("Name")?
        .as_str()
        .map(|n| n.trim_start_matches('/').to_owned())
        .filter(|n| !n.is_empty())
}

/// Container facts parsed from a cgroup path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerRef {
    pub runtime: Option<&'static str>,
    pub id: Option<String>,
    pub pod_uid: Option<String>,
}

/// Parses a cgroup path (`/proc/PID/cgroup`, v2 `0::` line or any v1 line) for a container id
/// and Kubernetes pod UID. Knows Docker, containerd (plain and Kubernetes), CRI-O and podman.
pub fn parse_container(cgroup: &str) -> ContainerRef {
    let mut r = ContainerRef::default();
    for comp in cgroup.split('/') {
        // Kubernetes pod: "pod<uid>" (cgroupfs) or "kubepods-besteffort-pod<uid_underscored>.slice".
        if let Some(i) = comp.rfind("pod") {
            let rest = &comp[i + 3..];
            let uid: String = rest.trim_end_matches(".slice").replace('_', "-");
            if (comp.starts_with("pod") || comp.starts_with("kubepods"))
                && uid.len() == 36
                && uid.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            {
                r.pod_uid = Some(uid);
            }
        }
        let name = comp.trim_end_matches(".scope");
        let prefixed = [
            ("docker-", "docker"),
            ("cri-containerd-", "containerd"),
            ("crio-", "cri-o"),
            ("libpod-", "podman"),
        ];
        for (prefix, runtime) in prefixed {
            if let Some(id) = name.strip_prefix(prefix) {
                if is_container_id(id) {
                    r.runtime = Some(runtime);
                    r.id = Some(id.to_owned());
                }
            }
        }
        if r.id.is_none() && is_container_id(comp) {
            r.id = Some(comp.to_owned());
            r.runtime = Some(if cgroup.contains("/docker/") {
                "docker"
            } else if cgroup.contains("kubepods") {
                "containerd"
            } else {
                "unknown"
            });
        }
    }
    r
}

/// The cgroup path from the contents of `/proc/PID/cgroup`: the unified (v2) `0::` line when
/// present, else the first v1 line.
pub fn cgroup_path(proc_cgroup: &str) -> Option<String> {
    let line = proc_cgroup
        .lines()
        .find(|l| l.starts_with("0::"))
        .or_else(|| proc_cgroup.lines().next())?;
    line.splitn(3, ':').nth(2).map(str::to_owned)
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The systemd unit a cgroup path belongs to (the last `*.service` or `*.scope` component).
pub fn parse_unit(cgroup: &str) -> Option<String> {
    cgroup
        .split('/')
        .rev()
        .find(|c| c.ends_with(".service") || (c.ends_with(".scope") && !c.starts_with("docker-")))
        .map(str::to_owned)
}

/// Caches [`ProcessInfo`] by (pid, start time) and user/group names by id.
pub struct IdentityCache {
    root: PathBuf,
    /// Identity per pid, with when its start time was last checked.
    procs: HashMap<u32, (Arc<ProcessInfo>, std::time::Instant)>,
    users: HashMap<u32, Option<String>>,
    groups: HashMap<u32, Option<String>>,
    /// Redact `cmdline` (passwords, SQL literals; see [`crate::redact::cmdline`]).
    redact: bool,
}

impl Default for IdentityCache {
    fn default() -> Self {
        Self::new("/proc")
    }
}

const MAX_CACHED: usize = 65_536;
/// How long a cached identity is trusted before its start time is checked again.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

impl IdentityCache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            procs: HashMap::new(),
            users: HashMap::new(),
            groups: HashMap::new(),
            redact: true,
        }
    }

    /// `keep_literals`: command lines as they are, unredacted.
    pub fn set_redact(&mut self, on: bool) {
        self.redact = on;
    }

    /// The identity of `pid`, from cache when its start time matches.
    pub fn lookup(&mut self, pid: u32) -> Result<Arc<ProcessInfo>, IdentityError> {
        // A process that opens many connections (a pool, `pgbench -C`) is checked at most
        // once per interval: a pid is not reused that fast, and `forget` drops exited ones.
        if let Some((p, checked)) = self.procs.get(&pid) {
            if checked.elapsed() < RECHECK {
                return Ok(p.clone());
            }
        }
        let stat = self.read_stat(pid)?;
        if let Some((p, checked)) = self.procs.get_mut(&pid) {
            if p.start_time == stat.start_time {
                *checked = std::time::Instant::now();
                return Ok(p.clone());
            }
        }
        let info = Arc::new(self.resolve(pid, stat, 0)?);
        if self.procs.len() >= MAX_CACHED {
            self.procs.clear();
        }
        self.procs
            .insert(pid, (info.clone(), std::time::Instant::now()));
        Ok(info)
    }

    /// Drops the cache entry of a pid that exited.
    pub fn forget(&mut self, pid: u32) {
        self.procs.remove(&pid);
    }

    pub fn user_name(&mut self, uid: u32) -> Option<String> {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                uzers::get_user_by_uid(uid).map(|u| u.name().to_string_lossy().into_owned())
            })
            .clone()
    }

    pub fn group_name(&mut self, gid: u32) -> Option<String> {
        self.groups
            .entry(gid)
            .or_insert_with(|| {
                uzers::get_group_by_gid(gid).map(|g| g.name().to_string_lossy().into_owned())
            })
            .clone()
    }

    fn read(&self, pid: u32, file: &str) -> Result<String, IdentityError> {
        std::fs::read_to_string(self.root.join(pid.to_string()).join(file))
            .map_err(|_| IdentityError::Gone { pid })
    }

    fn read_stat(&self, pid: u32) -> Result<Stat, IdentityError> {
        parse_stat(pid, &self.read(pid, "stat")?)
    }

    fn resolve(
        &mut self,
        pid: u32,
        stat: Stat,
        depth: usize,
    ) -> Result<ProcessInfo, IdentityError> {
        let status = self.read(pid, "status")?;
        let mut uid = 0;
        let mut gid = 0;
        let mut group_ids = Vec::new();
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("Uid:") {
                uid = v
                    .split_whitespace()
                    .next()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("Gid:") {
                gid = v
                    .split_whitespace()
                    .next()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("Groups:") {
                group_ids = v
                    .split_whitespace()
                    .filter_map(|x| x.parse::<u32>().ok())
                    .collect();
            }
        }
        let login_uid = self
            .read(pid, "loginuid")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&u| u != u32::MAX);
        let exe = std::fs::read_link(self.root.join(pid.to_string()).join("exe"))
            .ok()
            .map(|p| {
                p.to_string_lossy()
                    .trim_end_matches(" (deleted)")
                    .to_owned()
            });
        let cmdline = std::fs::read(self.root.join(pid.to_string()).join("cmdline"))
            .ok()
            .map(|b| {
                let s: Vec<String> = b
                    .split(|&c| c == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                if self.redact {
                    crate::redact::cmdline(&s)
                } else {
                    s.join(" ")
                }
            });
        let cgroup = self.read(pid, "cgroup").ok().and_then(|c| cgroup_path(&c));
        let container = cgroup.as_deref().map(parse_container).unwrap_or_default();
        let unit = cgroup.as_deref().and_then(parse_unit);
        let mut groups = Vec::new();
        if let Some(g) = self.group_name(gid) {
            groups.push(g);
        }
        for g in group_ids {
            if let Some(n) = self.group_name(g) {
                if !groups.contains(&n) {
                    groups.push(n);
                }
            }
        }
        let mut ancestors = Vec::new();
        if depth == 0 {
            let mut ppid = stat.ppid;
            while ancestors.len() < 4 && ppid > 1 {
                let Ok(ps) = self.read_stat(ppid) else { break };
                let puid = self.read(ppid, "status").ok().and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("Uid:"))
                        .and_then(|v| v.split_whitespace().next().and_then(|x| x.parse().ok()))
                });
                let user = puid.and_then(|u| self.user_name(u));
                ancestors.push(Ancestor {
                    pid: ppid,
                    comm: ps.comm.clone(),
                    user,
                });
                ppid = ps.ppid;
            }
        }
        let workload = workload(
            unit.as_deref(),
            container.id.as_deref(),
            container.id.as_deref().and_then(docker_name).as_deref(),
            container.pod_uid.as_deref(),
            exe.as_deref(),
        );
        Ok(ProcessInfo {
            pid,
            start_time: stat.start_time,
            ppid: stat.ppid,
            comm: stat.comm,
            exe,
            cmdline,
            uid,
            user: self.user_name(uid),
            gid,
            groups,
            login_uid,
            login_user: login_uid.and_then(|u| self.user_name(u)),
            cgroup,
            workload,
            container_id: container.id,
            pod_uid: container.pod_uid,
            unit,
            ancestors,
        })
    }
}

#[derive(Debug)]
struct Stat {
    comm: String,
    ppid: u32,
    start_time: u64,
}

/// Parses `/proc/PID/stat`: comm is in parentheses and may itself contain spaces and ')'.
fn parse_stat(pid: u32, s: &str) -> Result<Stat, IdentityError> {
    let bad = |what| IdentityError::Parse { pid, what };
    let open = s.find('(').ok_or(bad("stat comm"))?;
    let close = s.rfind(')').ok_or(bad("stat comm"))?;
    let comm = s.get(open + 1..close).ok_or(bad("stat comm"))?.to_owned();
    let rest: Vec<&str> = s
        .get(close + 1..)
        .ok_or(bad("stat"))?
        .split_whitespace()
        .collect();
    // rest[0] is field 3 (state); ppid is field 4, starttime field 22.
    let ppid = rest
        .get(1)
        .and_then(|v| v.parse().ok())
        .ok_or(bad("stat ppid"))?;
    let start_time = rest
        .get(19)
        .and_then(|v| v.parse().ok())
        .ok_or(bad("stat starttime"))?;
    Ok(Stat {
        comm,
        ppid,
        start_time,
    })
}

/// True when a process with this pid exists.
pub fn alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let s = "1234 (my (odd) proc) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615";
        let st = parse_stat(1234, s).unwrap();
        assert_eq!(st.comm, "my (odd) proc");
        assert_eq!(st.ppid, 1);
        assert_eq!(st.start_time, 98765);
    }

    fn fixture(name: &str) -> ContainerRef {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cgroup/");
        let text = std::fs::read_to_string(format!("{dir}{name}")).unwrap();
        parse_container(&cgroup_path(&text).unwrap())
    }

    #[test]
    fn container_ids_from_committed_cgroup_files() {
        let docker = "3f4e5d6c7b8a99aabbccddeeff00112233445566778899aabbccddeeff001122";
        for f in ["docker-systemd.cgroup", "docker-cgroupfs.cgroup"] {
            let c = fixture(f);
            assert_eq!(c.id.as_deref(), Some(docker), "{f}");
            assert_eq!(c.runtime, Some("docker"), "{f}");
            assert_eq!(c.pod_uid, None, "{f}");
        }
        let k8s = "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b";
        for f in [
            "containerd-k8s-systemd.cgroup",
            "containerd-k8s-cgroupfs.cgroup",
        ] {
            let c = fixture(f);
            assert_eq!(c.id.as_deref(), Some(k8s), "{f}");
            assert_eq!(c.runtime, Some("containerd"), "{f}");
            assert_eq!(
                c.pod_uid.as_deref(),
                Some("8a1f2c3d-4e5f-6071-8293-a4b5c6d7e8f9"),
                "{f}"
            );
        }
        let crio = fixture("crio-k8s.cgroup");
        assert_eq!(crio.runtime, Some("cri-o"));
        assert_eq!(
            crio.id.as_deref(),
            Some("1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef")
        );
        assert_eq!(
            crio.pod_uid.as_deref(),
            Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
        );
        let podman = fixture("podman-rootless.cgroup");
        assert_eq!(podman.runtime, Some("podman"));
        assert_eq!(
            podman.id.as_deref(),
            Some("c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00")
        );
        assert_eq!(fixture("podman-root.cgroup").runtime, Some("podman"));
        for f in ["systemd-service.cgroup", "login-session.cgroup"] {
            assert_eq!(fixture(f), ContainerRef::default(), "{f}: not a container");
        }
    }

    #[test]
    fn systemd_units() {
        assert_eq!(
            parse_unit("/system.slice/postgresql@15-main.service").as_deref(),
            Some("postgresql@15-main.service")
        );
        assert_eq!(
            parse_unit("/user.slice/user-1001.slice/session-4.scope").as_deref(),
            Some("session-4.scope")
        );
        assert_eq!(parse_unit("/"), None);
    }

    #[test]
    fn own_process_resolves() {
        let mut c = IdentityCache::default();
        let me = c.lookup(std::process::id()).unwrap();
        assert_eq!(me.pid, std::process::id());
        assert!(me.exe.is_some());
        // Cached by start time: the same Arc comes back.
        let again = c.lookup(std::process::id()).unwrap();
        assert!(Arc::ptr_eq(&me, &again));
    }
}
