//! Kernel capture: loads the eBPF object embedded at build time, configures the watched ports
//! and socket paths, attaches the tracepoints, seeds connections that were already open from
//! `/proc`, and drains the ring buffer.
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use agent_common::{
    conn_key, ConnEvent, ConnInfo, ConnState, EventHeader, EventKind, FdSlots, ListenInfo,
    SockOffsets, SockPattern, Source, CONN_FLAG_ALIAS, COUNTERS_LEN, ENGINE_MYSQL, ENGINE_POSTGRES,
    FAMILY_INET, FAMILY_INET6, FAMILY_UNIX, ROLE_CLIENT, ROLE_SERVER, UNIX_PATH_MAX,
};

pub use crate::config::SocketPattern;
use aya::maps::lpm_trie::{Key as LpmKey, LpmTrie};
use aya::maps::{Array, HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::uprobe::UProbeScope;
use aya::programs::{BtfTracePoint, TracePoint, UProbe};
use aya::{Ebpf, EbpfLoader};

use crate::config::SyscallHooks;

/// The kernel programs, built by `build.rs`.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/agent-ebpf"));

/// Errors of the capture stage.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("this dbgov binary was built without its eBPF programs (AYA_BUILD_SKIP); rebuild with bpf-linker installed")]
    NoObject,
    #[error("tracefs is not mounted and mounting it at /sys/kernel/tracing failed: {0}")]
    Tracefs(std::io::Error),
    #[error("loading the eBPF programs failed: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("eBPF program {name} failed: {source}")]
    Program {
        name: &'static str,
        source: Box<aya::programs::ProgramError>,
    },
    #[error("attaching {name} to {category}/{tracepoint} failed: {source}")]
    Attach {
        name: &'static str,
        category: &'static str,
        tracepoint: &'static str,
        source: Box<aya::programs::ProgramError>,
    },
    #[error("the kernel's BTF (/sys/kernel/btf/vmlinux), which `syscall_hooks: raw` needs, cannot be read: {0}; set `syscall_hooks: tracepoints`")]
    Btf(aya::BtfError),
    #[error("eBPF map {0} is missing from the object")]
    MissingMap(&'static str),
    #[error("eBPF map {name}: {source}")]
    Map {
        name: &'static str,
        source: aya::maps::MapError,
    },
    #[error("cannot count the possible CPUs ({0}): {1}")]
    Cpus(&'static str, std::io::Error),
}

/// What the kernel should watch.
#[derive(Clone, Debug, Default)]
pub struct Watch {
    /// (port, engine)
    pub ports: Vec<(u16, u32)>,
    /// Unix socket paths, exact or with one `*`.
    pub unix_paths: Vec<SocketPattern>,
    pub ring_bytes: u32,
    /// Responses are shed while the ring is at least this full (percent; 100: never).
    pub shed_percent: u8,
    /// How the data syscalls are hooked.
    pub hooks: SyscallHooks,
}

/// The object's program `name`, as its type.
fn program<'a, P>(ebpf: &'a mut aya::Ebpf, name: &'static str) -> Result<&'a mut P, CaptureError>
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    ebpf.program_mut(name)
        .ok_or(aya::programs::ProgramError::NotLoaded)
        .and_then(|p| p.try_into())
        .map_err(program_error(name))
}

/// A program error, naming the program.
fn program_error(name: &'static str) -> impl Fn(aya::programs::ProgramError) -> CaptureError {
    move |source| CaptureError::Program {
        name,
        source: Box::new(source),
    }
}

/// Loads and attaches tracepoint programs, each to its tracepoints.
fn attach_tracepoints(
    ebpf: &mut aya::Ebpf,
    list: &[(&'static str, &'static str, &[&'static str])],
) -> Result<(), CaptureError> {
    for &(name, category, tps) in list {
        let prog: &mut TracePoint = program(ebpf, name)?;
        prog.load().map_err(program_error(name))?;
        for &tp in tps {
            prog.attach(category, tp)
                .map_err(|source| CaptureError::Attach {
                    name,
                    category,
                    tracepoint: tp,
                    source: Box::new(source),
                })?;
        }
    }
    Ok(())
}

/// Loads and attaches the data syscalls' BTF programs on `raw_syscalls`: both or, on an
/// error, neither (the caller may then attach the per-syscall tracepoints instead).
fn attach_raw(ebpf: &mut aya::Ebpf) -> Result<(), CaptureError> {
    let btf = aya::Btf::from_sys_fs().map_err(CaptureError::Btf)?;
    let mut attached = Vec::new();
    for &(name, tp) in DATA_RAW {
        let r = program::<BtfTracePoint>(ebpf, name).and_then(|prog| {
            prog.load(tp, &btf)
                .and_then(|()| prog.attach())
                .map_err(|source| CaptureError::Attach {
                    name,
                    category: "raw_syscalls",
                    tracepoint: tp,
                    source: Box::new(source),
                })
        });
        match r {
            Ok(link) => attached.push((name, link)),
            Err(e) => {
                for (name, link) in attached {
                    if let Ok(p) = program::<BtfTracePoint>(ebpf, name) {
                        let _ = p.detach(link);
                    }
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The trie entry of a socket path pattern: the key (prefix length in bits) and the value.
fn trie_entry(p: &SocketPattern) -> (LpmKey<[u8; UNIX_PATH_MAX]>, SockPattern) {
    let mut data = [0u8; UNIX_PATH_MAX];
    let b = p.prefix.as_bytes();
    data[..b.len()].copy_from_slice(b);
    let mut v = SockPattern {
        engine: p.engine,
        prefix_len: b.len() as u32,
        ..Default::default()
    };
    let bits = match &p.suffix {
        // The terminating NUL is part of the key: nothing may follow.
        None => (b.len() as u32 + 1) * 8,
        Some(suf) => {
            v.suffix_len = suf.len() as u32;
            v.suffix[..suf.len()].copy_from_slice(suf.as_bytes());
            b.len() as u32 * 8
        }
    };
    (LpmKey::new(bits, data), v)
}

/// (program, category, tracepoints) of the data syscalls, with `syscall_hooks: tracepoints`.
const DATA_TRACEPOINTS: &[(&str, &str, &[&str])] = &[
    (
        "enter_buf",
        "syscalls",
        &[
            "sys_enter_read",
            "sys_enter_write",
            "sys_enter_sendto",
            "sys_enter_recvfrom",
        ],
    ),
    (
        "enter_iov",
        "syscalls",
        &["sys_enter_readv", "sys_enter_writev"],
    ),
    (
        "enter_msg",
        "syscalls",
        &["sys_enter_sendmsg", "sys_enter_recvmsg"],
    ),
    (
        "exit_data",
        "syscalls",
        &[
            "sys_exit_read",
            "sys_exit_write",
            "sys_exit_sendto",
            "sys_exit_recvfrom",
            "sys_exit_readv",
            "sys_exit_writev",
            "sys_exit_sendmsg",
            "sys_exit_recvmsg",
        ],
    ),
];

/// (program, `raw_syscalls` tracepoint) of the data syscalls, with `syscall_hooks: raw`: BTF
/// tracepoint programs that see every syscall and keep the data syscalls.
const DATA_RAW: &[(&str, &str)] = &[
    ("enter_data_raw", "sys_enter"),
    ("exit_data_raw", "sys_exit"),
];

/// (program, category, tracepoints)
const ATTACHMENTS: &[(&str, &str, &[&str])] = &[
    ("enter_connect", "syscalls", &["sys_enter_connect"]),
    ("exit_connect", "syscalls", &["sys_exit_connect"]),
    ("enter_bind", "syscalls", &["sys_enter_bind"]),
    ("exit_bind", "syscalls", &["sys_exit_bind"]),
    (
        "enter_accept",
        "syscalls",
        &["sys_enter_accept", "sys_enter_accept4"],
    ),
    (
        "exit_accept",
        "syscalls",
        &["sys_exit_accept", "sys_exit_accept4"],
    ),
    ("enter_close", "syscalls", &["sys_enter_close"]),
    (
        "enter_dup_over",
        "syscalls",
        &["sys_enter_dup2", "sys_enter_dup3"],
    ),
    ("enter_dup", "syscalls", &["sys_enter_dup"]),
    ("enter_fcntl", "syscalls", &["sys_enter_fcntl"]),
    (
        "exit_dup",
        "syscalls",
        &[
            "sys_exit_dup",
            "sys_exit_dup2",
            "sys_exit_dup3",
            "sys_exit_fcntl",
        ],
    ),
    ("enter_close_range", "syscalls", &["sys_enter_close_range"]),
    (
        "enter_uncaptured",
        "syscalls",
        &[
            "sys_enter_sendmmsg",
            "sys_enter_recvmmsg",
            "sys_enter_sendfile64",
            "sys_enter_splice",
            "sys_enter_preadv",
            "sys_enter_pwritev",
            "sys_enter_preadv2",
            "sys_enter_pwritev2",
        ],
    ),
    ("sched_fork", "sched", &["sched_process_fork"]),
    ("task_newtask", "task", &["task_newtask"]),
    ("sched_exec", "sched", &["sched_process_exec"]),
    ("sched_exit", "sched", &["sched_process_exit"]),
];

/// Hooks a kernel may lack (built without io_uring): attached when present, and the start-up
/// log says which are missing (io_uring use is then not signalled).
const OPTIONAL_ATTACHMENTS: &[(&str, &str, &[&str])] = &[
    ("io_uring_file_get", "io_uring", &["io_uring_file_get"]),
    (
        "enter_io_uring_register",
        "syscalls",
        &["sys_enter_io_uring_register"],
    ),
];

/// (uprobe program, symbol): entry probes; `ssl_exit` is attached as a return probe to each.
const TLS_PROBES: &[(&str, &str)] = &[
    ("ssl_write_enter", "SSL_write"),
    ("ssl_write_ex_enter", "SSL_write_ex"),
    ("ssl_read_enter", "SSL_read"),
    ("ssl_read_ex_enter", "SSL_read_ex"),
];

/// (program, symbol) of keylog capture, in OpenSSL 3's libcrypto: `kdf_exit` is the return
/// probe of the same symbol.
const KEYLOG_PROBES: &[(&str, &str)] = &[
    ("kdf_enter", "EVP_KDF_derive"),
    ("kdf_exit", "EVP_KDF_derive"),
];

/// A library TLS capture may probe: OpenSSL's libssl (per-call probes) or libcrypto (keylog).
fn is_tls_lib(file: &str) -> bool {
    file.starts_with("libssl.so") || file.starts_with("libcrypto.so")
}

/// The files a process maps whose name passes `want`, each once (from `/proc/PID/maps`).
fn mapped_libs(pid: u32, want: impl Fn(&str) -> bool) -> Vec<String> {
    let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return Vec::new();
    };
    let mut libs: Vec<String> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.rsplit('/').next().is_some_and(&want))
        .map(str::to_owned)
        .collect();
    libs.sort();
    libs.dedup();
    libs
}

/// The loaded and attached kernel side.
pub struct Capture {
    ebpf: Ebpf,
    next_seed_id: u64,
    /// TLS libraries with uprobes attached, by (device, inode).
    tls_libs: HashSet<(u64, u64)>,
    /// TLS uprobes are attached (off without CAP_SYS_ADMIN).
    tls_enabled: bool,
    /// Processes whose maps were already scanned for TLS libraries.
    scanned: HashSet<u32>,
    /// How TLS plaintext is obtained.
    tls_mode: crate::config::TlsCapture,
    /// Keylog mode: processes given per-call TLS probes of their own at start-up.
    seeded: HashSet<u32>,
    /// `TLS_CALLS` is set in the kernel program: per-call TLS probes may be attached.
    tls_calls: bool,
}

/// A TLS library attach result, for logging.
#[derive(Debug)]
pub struct TlsAttach {
    pub path: String,
    pub result: Result<(), String>,
}

fn ensure_tracefs() -> Result<(), CaptureError> {
    if Path::new("/sys/kernel/tracing/events").exists()
        || Path::new("/sys/kernel/debug/tracing/events").exists()
    {
        return Ok(());
    }
    let r = std::process::Command::new("mount")
        .args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
        .status()
        .map_err(CaptureError::Tracefs)?;
    if !r.success() || !Path::new("/sys/kernel/tracing/events").exists() {
        return Err(CaptureError::Tracefs(std::io::Error::other(format!(
            "mount exited with {r}"
        ))));
    }
    Ok(())
}

/// Reads a field offset from a tracepoint format file.
fn tp_offset(category: &str, name: &str, field: &str) -> Option<u32> {
    let text = [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ]
    .iter()
    .find_map(|d| std::fs::read_to_string(format!("{d}/{category}/{name}/format")).ok())?;
    for line in text.lines() {
        if line.contains(&format!(" {field};")) {
            let off = line.split("offset:").nth(1)?.split(';').next()?;
            return off.trim().parse().ok();
        }
    }
    None
}

/// This process's pid as `/proc` numbers it: inside a PID namespace with the host's `/proc`,
/// `getpid()` is the namespace's number, while `/proc/self` names the host's.
fn own_pid() -> u32 {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(std::process::id)
}

/// A socket path as the NUL-padded `sun_path` bytes the kernel reports.
fn path_bytes(path: &str) -> Option<[u8; UNIX_PATH_MAX]> {
    let b = path.as_bytes();
    if b.is_empty() || b.len() >= UNIX_PATH_MAX {
        return None;
    }
    let mut k = [0; UNIX_PATH_MAX];
    k[..b.len()].copy_from_slice(b);
    Some(k)
}

/// The BTF offsets the kernel programs need to read a socket's identity from its fd (see
/// `sock_identity` in the eBPF crate). Any member missing leaves them all unknown, and local
/// ends are then paired from /proc as before.
fn sock_offsets() -> SockOffsets {
    const PAIRS: [(&str, &str); 14] = [
        ("task_struct", "files"),
        ("files_struct", "fdt"),
        ("fdtable", "fd"),
        ("fdtable", "max_fds"),
        ("file", "private_data"),
        ("socket", "sk"),
        ("sock_common", "skc_family"),
        ("sock_common", "skc_daddr"),
        ("sock_common", "skc_rcv_saddr"),
        ("sock_common", "skc_dport"),
        ("sock_common", "skc_num"),
        ("unix_sock", "peer"),
        ("sock_common", "skc_v6_daddr"),
        ("sock_common", "skc_v6_rcv_saddr"),
    ];
    let got = match crate::btf::member_offsets(&PAIRS) {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(
                "kernel BTF unreadable ({e}): local connection ends are paired from /proc"
            );
            return SockOffsets::UNKNOWN;
        }
    };
    // The first twelve are required; IPv6 addresses are optional.
    if let Some(i) = got.iter().take(12).position(Option::is_none) {
        tracing::warn!(
            "kernel BTF lacks {}.{}: local connection ends are paired from /proc",
            PAIRS[i].0,
            PAIRS[i].1
        );
        return SockOffsets::UNKNOWN;
    }
    let g = |i: usize| got.get(i).copied().flatten().unwrap_or(0);
    SockOffsets {
        valid: 1,
        task_files: g(0),
        files_fdt: g(1),
        fdt_fd: g(2),
        fdt_max_fds: g(3),
        file_private_data: g(4),
        socket_sk: g(5),
        skc_family: g(6),
        skc_daddr: g(7),
        skc_rcv_saddr: g(8),
        skc_dport: g(9),
        skc_num: g(10),
        unix_peer: g(11),
        skc_v6_daddr: g(12),
        skc_v6_rcv_saddr: g(13),
        _pad: 0,
    }
}

impl Capture {
    /// Loads and attaches everything. `on_attached` tells how many hooks are live.
    pub fn start(watch: &Watch) -> Result<Self, CaptureError> {
        if EBPF_OBJECT.is_empty() {
            return Err(CaptureError::NoObject);
        }
        ensure_tracefs()?;
        let me = std::process::id();
        let parent_off = tp_offset("sched", "sched_process_fork", "parent_pid").unwrap_or(12);
        let child_off = tp_offset("sched", "sched_process_fork", "child_pid").unwrap_or(20);
        // Without BTF the login user comes from /proc only.
        let loginuid_off = crate::btf::member_offset("task_struct", "loginuid")
            .ok()
            .flatten()
            .unwrap_or(0);
        let sock_off = sock_offsets();
        let newtask_pid = tp_offset("task", "task_newtask", "pid").unwrap_or(8);
        let newtask_flags = tp_offset("task", "task_newtask", "clone_flags").unwrap_or(32);
        let iou_fd = tp_offset("io_uring", "io_uring_file_get", "fd").unwrap_or(32);
        let group_dead = tp_offset("sched", "sched_process_exit", "group_dead").unwrap_or(0);
        // The agent's PID namespace: inside a container, getpid() is not the host's tgid, so
        // the kernel compares the tgid as seen from this namespace.
        let (ns_dev, ns_ino) = std::fs::metadata("/proc/self/ns/pid")
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                (m.dev(), m.ino())
            })
            .unwrap_or((0, 0));
        let shed_percent = u64::from(watch.shed_percent);
        let mut loader = EbpfLoader::new();
        loader
            .override_global("AGENT_TGID", &me, true)
            .override_global("AGENT_NS_DEV", &ns_dev, true)
            .override_global("AGENT_NS_INO", &ns_ino, true)
            .override_global("NEWTASK_PID_OFF", &newtask_pid, true)
            .override_global("NEWTASK_FLAGS_OFF", &newtask_flags, true)
            .override_global("IOU_FD_OFF", &iou_fd, true)
            .override_global("EXIT_GROUP_DEAD_OFF", &group_dead, true)
            .override_global("SOCK_OFF", &sock_off, true)
            .override_global("FORK_PARENT_OFF", &parent_off, true)
            .override_global("FORK_CHILD_OFF", &child_off, true)
            .override_global("LOGINUID_OFF", &loginuid_off, true)
            .override_global("SHED_PERCENT", &shed_percent, true)
            .map_max_entries("EVENTS", watch.ring_bytes);
        let mut ebpf = loader.load(EBPF_OBJECT)?;
        {
            let mut ports: BpfHashMap<_, u16, u32> = BpfHashMap::try_from(
                ebpf.map_mut("PORTS")
                    .ok_or(CaptureError::MissingMap("PORTS"))?,
            )
            .map_err(|source| CaptureError::Map {
                name: "PORTS",
                source,
            })?;
            for &(p, e) in &watch.ports {
                ports.insert(p, e, 0).map_err(|source| CaptureError::Map {
                    name: "PORTS",
                    source,
                })?;
            }
        }
        {
            let mut paths: LpmTrie<_, [u8; UNIX_PATH_MAX], SockPattern> = LpmTrie::try_from(
                ebpf.map_mut("SOCK_PATHS")
                    .ok_or(CaptureError::MissingMap("SOCK_PATHS"))?,
            )
            .map_err(|source| CaptureError::Map {
                name: "SOCK_PATHS",
                source,
            })?;
            for p in &watch.unix_paths {
                let (k, v) = trie_entry(p);
                paths.insert(&k, v, 0).map_err(|source| CaptureError::Map {
                    name: "SOCK_PATHS",
                    source,
                })?;
            }
        }
        let hooks = match watch.hooks {
            SyscallHooks::Tracepoints => {
                attach_tracepoints(&mut ebpf, DATA_TRACEPOINTS)?;
                SyscallHooks::Tracepoints
            }
            SyscallHooks::Raw => {
                attach_raw(&mut ebpf)?;
                SyscallHooks::Raw
            }
            SyscallHooks::Auto => match attach_raw(&mut ebpf) {
                Ok(()) => SyscallHooks::Raw,
                Err(e) => {
                    tracing::warn!(
                        "raw syscall hooks unavailable ({e}); using the per-syscall tracepoints (set syscall_hooks: tracepoints to silence this)"
                    );
                    attach_tracepoints(&mut ebpf, DATA_TRACEPOINTS)?;
                    SyscallHooks::Tracepoints
                }
            },
        };
        tracing::info!(hooks = ?hooks, "data syscalls hooked");
        attach_tracepoints(&mut ebpf, ATTACHMENTS)?;
        for &(name, category, tps) in OPTIONAL_ATTACHMENTS {
            let Some(prog) = ebpf.program_mut(name) else {
                continue;
            };
            let prog: &mut TracePoint = match prog.try_into() {
                Ok(p) => p,
                Err(_) => continue,
            };
            if let Err(e) = prog.load() {
                tracing::warn!(program = name, error = %e, "optional hook not loaded");
                continue;
            }
            for &tp in tps {
                if let Err(e) = prog.attach(category, tp) {
                    tracing::warn!(
                        hook = %format!("{category}/{tp}"),
                        error = %e,
                        "optional hook not attached: use of it on a watched socket is not signalled"
                    );
                }
            }
        }
        for name in TLS_PROBES
            .iter()
            .map(|(p, _)| *p)
            .chain(["ssl_exit"])
            .chain(KEYLOG_PROBES.iter().map(|(p, _)| *p))
        {
            let prog: &mut UProbe = program(&mut ebpf, name)?;
            prog.load().map_err(program_error(name))?;
        }
        let mut me = Self {
            ebpf,
            next_seed_id: 1 << 63,
            tls_libs: HashSet::new(),
            tls_enabled: true,
            scanned: HashSet::new(),
            tls_mode: crate::config::TlsCapture::default(),
            seeded: HashSet::new(),
            tls_calls: false,
        };
        me.scanned.insert(own_pid());
        Ok(me)
    }

    /// How TLS plaintext is obtained (before the first attach).
    pub fn set_tls_capture(&mut self, mode: crate::config::TlsCapture) {
        self.tls_mode = mode;
    }

    /// No TLS uprobes from now on (the process may not create them).
    pub fn disable_tls(&mut self) {
        self.tls_enabled = false;
    }

    /// Attaches the TLS uprobes to every OpenSSL `libssl` found in the well-known library
    /// directories and in the maps of running processes.
    pub fn attach_tls_everywhere(&mut self) -> Vec<TlsAttach> {
        if !self.tls_enabled {
            return Vec::new();
        }
        let mut out = Vec::new();
        for dir in [
            "/usr/lib/x86_64-linux-gnu",
            "/lib/x86_64-linux-gnu",
            "/usr/lib64",
            "/usr/lib",
            "/usr/local/lib",
        ] {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if is_tls_lib(&name) {
                    out.extend(self.attach_tls_lib(&e.path()));
                }
            }
        }
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for p in rd.flatten() {
                if let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                    out.extend(self.attach_tls_for(pid));
                }
            }
        }
        out
    }

    /// Attaches the TLS uprobes to the libssl a process maps, once per library file. Reached
    /// through `/proc/PID/root` so libraries inside containers work too.
    pub fn attach_tls_for(&mut self, pid: u32) -> Vec<TlsAttach> {
        if !self.tls_enabled {
            return Vec::new();
        }
        if !self.scanned.insert(pid) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for lib in mapped_libs(pid, is_tls_lib) {
            out.extend(self.attach_tls_lib(Path::new(&format!("/proc/{pid}/root{lib}"))));
        }
        out
    }

    fn attach_tls_lib(&mut self, path: &Path) -> Option<TlsAttach> {
        use crate::config::TlsCapture;
        use std::os::unix::fs::MetadataExt;
        // The file a link (`libssl.so` from a -dev package) points at names the version.
        let real = std::fs::canonicalize(path).ok()?;
        let name = real.file_name()?.to_string_lossy().into_owned();
        let keylog = self.tls_mode == TlsCapture::Keylog;
        // Keylog: OpenSSL 3's libcrypto gets the key-derivation probes and its libssl none;
        // an older libssl (no EVP_KDF) keeps the per-call probes. Uprobe: libssl only.
        let ssl = name.starts_with("libssl.so");
        let kdf = match (keylog, name.starts_with("libcrypto.so.3"), ssl) {
            (true, true, _) => true,
            (true, false, true) if !name.starts_with("libssl.so.3") => false,
            (false, _, true) => false,
            _ => return None,
        };
        let md = std::fs::metadata(path).ok()?;
        if !self.tls_libs.insert((md.dev(), md.ino())) {
            return None;
        }
        let result = if kdf {
            self.attach_probes(KEYLOG_PROBES, None, path, UProbeScope::AllProcesses)
        } else {
            self.attach_tls_calls(path, UProbeScope::AllProcesses)
        };
        Some(TlsAttach {
            path: path.display().to_string(),
            result,
        })
    }

    /// Attaches the per-call TLS probes (`SSL_read`/`SSL_write` and their returns) to the
    /// library at `path`. The data syscalls' programs look for a call in progress only once
    /// `TLS_CALLS` is set, so it is set first; without it the probes are not attached (a
    /// syscall inside `SSL_write` would be captured as plaintext).
    fn attach_tls_calls(&mut self, path: &Path, scope: UProbeScope) -> Result<(), String> {
        if !self.tls_calls {
            let map = self
                .ebpf
                .map_mut("TLS_CALLS")
                .ok_or_else(|| "map TLS_CALLS missing".to_string())?;
            let mut arr: Array<_, u32> = Array::try_from(map).map_err(|e| e.to_string())?;
            arr.set(0, 1, 0)
                .map_err(|e| format!("enabling the per-call TLS probes: {e}"))?;
            self.tls_calls = true;
        }
        self.attach_probes(TLS_PROBES, Some("ssl_exit"), path, scope)
    }

    /// Attaches each (program, symbol) of `probes` to the library at `path`, and `ret` as the
    /// return probe of each symbol when given. The first failure is the result; a missing
    /// `_ex` symbol is not one (SSL_write_ex/SSL_read_ex do not exist before OpenSSL 1.1.1).
    fn attach_probes(
        &mut self,
        probes: &[(&str, &str)],
        ret: Option<&'static str>,
        path: &Path,
        scope: UProbeScope,
    ) -> Result<(), String> {
        let mut result = Ok(());
        for &(prog, sym) in probes {
            for name in std::iter::once(prog).chain(ret) {
                let r = match self.ebpf.program_mut(name).map(<&mut UProbe>::try_from) {
                    Some(Ok(p)) => p
                        .attach(sym, path, scope)
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    _ => Err(format!("program {name} missing")),
                };
                if let Err(e) = r {
                    if result.is_ok() && !sym.ends_with("_ex") {
                        result = Err(format!("{sym}: {e}"));
                    }
                }
            }
        }
        result
    }

    /// Keylog mode: the sessions of a process found holding a watched connection at start-up
    /// began their handshakes before the agent could see the secrets. Its OpenSSL 3 libssl gets
    /// the per-call probes for this process only (the kernel plants them in no other), so
    /// those sessions are read as in uprobe mode; other processes pay nothing.
    pub fn attach_tls_calls_for(&mut self, pid: u32) -> Vec<TlsAttach> {
        use crate::config::TlsCapture;
        let Some(one) = std::num::NonZeroU32::new(pid) else {
            return Vec::new();
        };
        if !self.tls_enabled || self.tls_mode != TlsCapture::Keylog || !self.seeded.insert(pid) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for lib in mapped_libs(pid, |f| f.starts_with("libssl.so.3")) {
            let path = format!("/proc/{pid}/root{lib}");
            let result = self.attach_tls_calls(Path::new(&path), UProbeScope::OneProcess(one));
            out.push(TlsAttach { path, result });
        }
        out
    }

    /// Processes already scanned for TLS libraries can be forgotten when they exit.
    pub fn forget_pid(&mut self, pid: u32) {
        self.scanned.remove(&pid);
    }

    /// Takes the ring buffer for draining.
    pub fn ring(&mut self) -> Result<RingBuf<MapData>, CaptureError> {
        let map = self
            .ebpf
            .take_map("EVENTS")
            .ok_or(CaptureError::MissingMap("EVENTS"))?;
        RingBuf::try_from(map).map_err(|source| CaptureError::Map {
            name: "EVENTS",
            source,
        })
    }

    /// Sums the per-CPU loss counters.
    pub fn counters(&self) -> Result<[u64; COUNTERS_LEN as usize], CaptureError> {
        let arr: PerCpuArray<_, u64> = PerCpuArray::try_from(
            self.ebpf
                .map("COUNTERS")
                .ok_or(CaptureError::MissingMap("COUNTERS"))?,
        )
        .map_err(|source| CaptureError::Map {
            name: "COUNTERS",
            source,
        })?;
        let mut out = [0u64; COUNTERS_LEN as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            let v = arr
                .get(&(i as u32), 0)
                .map_err(|source| CaptureError::Map {
                    name: "COUNTERS",
                    source,
                })?;
            *slot = if i as u32 == agent_common::CNT_RING_USED_PEAK {
                v.iter().copied().max().unwrap_or(0)
            } else {
                v.iter().sum()
            };
        }
        Ok(out)
    }

    /// Starts a new ring-buffer peak (zeroes the per-CPU high-water marks).
    pub fn reset_ring_peak(&mut self) -> Result<(), CaptureError> {
        let err = |source| CaptureError::Map {
            name: "COUNTERS",
            source,
        };
        let mut arr: PerCpuArray<_, u64> = PerCpuArray::try_from(
            self.ebpf
                .map_mut("COUNTERS")
                .ok_or(CaptureError::MissingMap("COUNTERS"))?,
        )
        .map_err(err)?;
        let cpus = aya::util::nr_cpus().map_err(|(what, e)| CaptureError::Cpus(what, e))?;
        let zero = aya::maps::PerCpuValues::try_from(vec![0u64; cpus])
            .map_err(|e| CaptureError::Cpus("per-CPU values", e))?;
        arr.set(agent_common::CNT_RING_USED_PEAK, zero, 0)
            .map_err(err)
    }

    /// Drops connections of exited processes from the kernel maps (a handle's connection state
    /// goes with its last handle).
    pub fn forget(&mut self, keys: &[(u32, u32)]) {
        if keys.is_empty() {
            return;
        }
        let mut ids = Vec::new();
        if let Some(m) = self.ebpf.map_mut("CONNS") {
            if let Ok(mut conns) = BpfHashMap::<_, u64, ConnInfo>::try_from(m) {
                for &(t, f) in keys {
                    if let Ok(info) = conns.get(&conn_key(t, f), 0) {
                        ids.push(info.conn_id);
                    }
                    let _ = conns.remove(&conn_key(t, f));
                }
            }
        }
        self.release(&ids);
    }

    /// One handle fewer on each of these connections.
    fn release(&mut self, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        if let Some(m) = self.ebpf.map_mut("CONN_STATE") {
            if let Ok(mut st) = BpfHashMap::<_, u64, ConnState>::try_from(m) {
                for id in ids {
                    match st.get(id, 0) {
                        Ok(mut s) if s.refs > 1 => {
                            s.refs -= 1;
                            let _ = st.insert(id, s, 0);
                        }
                        _ => {
                            let _ = st.remove(id);
                        }
                    }
                }
            }
        }
    }

    /// Removes the kernel's entries for processes that no longer exist: watched fds, listeners
    /// and client fd tables whose owner exited without closing them (and that no session
    /// covered). The maps are not LRU, so this keeps them from filling. Returns how many went.
    pub fn sweep(&mut self) -> usize {
        let alive = |tgid: u32| crate::identity::alive(tgid);
        let mut gone = 0;
        let mut dead_conns = Vec::new();
        if let Some(m) = self.ebpf.map("CONNS") {
            if let Ok(conns) = BpfHashMap::<_, u64, ConnInfo>::try_from(m) {
                for k in conns.keys().flatten() {
                    let tgid = (k >> 32) as u32;
                    if !alive(tgid) {
                        dead_conns.push((tgid, k as u32));
                    }
                }
            }
        }
        gone += dead_conns.len();
        self.forget(&dead_conns);
        if let Some(m) = self.ebpf.map_mut("LISTENERS") {
            if let Ok(mut l) = BpfHashMap::<_, u64, ListenInfo>::try_from(m) {
                let dead: Vec<u64> = l
                    .keys()
                    .flatten()
                    .filter(|k| !alive((k >> 32) as u32))
                    .collect();
                for k in dead {
                    gone += 1;
                    let _ = l.remove(&k);
                }
            }
        }
        if let Some(m) = self.ebpf.map_mut("CLIENT_FDS") {
            if let Ok(mut l) = BpfHashMap::<_, u32, FdSlots>::try_from(m) {
                let dead: Vec<u32> = l.keys().flatten().filter(|k| !alive(*k)).collect();
                for k in dead {
                    gone += 1;
                    let _ = l.remove(&k);
                }
            }
        }
        gone
    }

    /// Finds watched connections and listening sockets that were open before the agent
    /// started, adds them to the kernel maps and returns them as synthetic open events.
    pub fn seed(&mut self, watch: &Watch) -> Vec<ConnEvent> {
        let me = own_pid();
        let ports: HashMap<u16, u32> = watch.ports.iter().copied().collect();
        let path_engine = |p: &str| {
            watch
                .unix_paths
                .iter()
                .find(|pat| pat.matches(p))
                .map(|pat| pat.engine)
        };
        // inode -> what the socket is
        let mut wanted: HashMap<u64, SeedSock> = HashMap::new();
        // The agent's own connections (Kafka on a watched port) are not seeded, at either end.
        let own: HashSet<u64> = std::fs::read_dir(format!("/proc/{me}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|f| {
                let l = std::fs::read_link(f.path()).ok()?;
                l.to_str()?
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse()
                    .ok()
            })
            .collect();
        let tcp: Vec<(&str, TcpEntry)> = ["/proc/net/tcp", "/proc/net/tcp6"]
            .into_iter()
            .flat_map(|file| {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                parse_proc_net_tcp(&text)
                    .into_iter()
                    .map(move |e| (file, e))
                    .collect::<Vec<_>>()
            })
            .collect();
        let own_tuples: HashSet<((IpAddr, u16), (IpAddr, u16))> = tcp
            .iter()
            .filter(|(_, e)| own.contains(&e.inode))
            .map(|(_, e)| (e.local, e.remote))
            .collect();
        for (file, e) in tcp {
            if own.contains(&e.inode) || own_tuples.contains(&(e.remote, e.local)) {
                continue;
            }
            {
                let family = if e.local.0.is_ipv4() && file.ends_with("tcp") {
                    FAMILY_INET
                } else {
                    FAMILY_INET6
                };
                if e.state == 0x0A {
                    if let Some(&engine) = ports.get(&e.local.1) {
                        wanted.insert(
                            e.inode,
                            SeedSock::Listen {
                                port: e.local.1,
                                engine,
                                family,
                                path: None,
                            },
                        );
                    }
                } else if e.state == 0x01 {
                    if let Some(&engine) = ports.get(&e.local.1) {
                        wanted.insert(
                            e.inode,
                            SeedSock::Conn {
                                role: ROLE_SERVER,
                                engine,
                                family,
                                local: e.local,
                                remote: e.remote,
                                path: None,
                            },
                        );
                    } else if let Some(&engine) = ports.get(&e.remote.1) {
                        wanted.insert(
                            e.inode,
                            SeedSock::Conn {
                                role: ROLE_CLIENT,
                                engine,
                                family,
                                local: e.local,
                                remote: e.remote,
                                path: None,
                            },
                        );
                    }
                }
            }
        }
        let mut diag = crate::sockdiag::SockDiag::open().ok();
        if let Ok(text) = std::fs::read_to_string("/proc/net/unix") {
            for u in parse_proc_net_unix(&text) {
                if let Some(engine) = u.path.as_deref().and_then(path_engine) {
                    if u.listening {
                        wanted.insert(
                            u.inode,
                            SeedSock::Listen {
                                port: 0,
                                engine,
                                family: FAMILY_UNIX,
                                path: u.path.clone(),
                            },
                        );
                    } else {
                        let unspecified = (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
                        wanted.insert(
                            u.inode,
                            SeedSock::Conn {
                                role: ROLE_SERVER,
                                engine,
                                family: FAMILY_UNIX,
                                local: unspecified,
                                remote: unspecified,
                                path: u.path.clone(),
                            },
                        );
                        // The client end has no path in /proc/net/unix: find it as the peer.
                        if let Some(peer) =
                            diag.as_mut().and_then(|d| d.peer(u.inode).ok().flatten())
                        {
                            wanted.insert(
                                peer,
                                SeedSock::Conn {
                                    role: ROLE_CLIENT,
                                    engine,
                                    family: FAMILY_UNIX,
                                    local: unspecified,
                                    remote: unspecified,
                                    path: u.path.clone(),
                                },
                            );
                        }
                    }
                }
            }
        }
        if wanted.is_empty() {
            return Vec::new();
        }
        let mut events = Vec::new();
        let mut listeners = Vec::new();
        let mut conns = Vec::new();
        // A socket held by several processes (a parent and its forked child) or fds is one
        // connection with several handles.
        let mut seen_inodes: HashMap<u64, u64> = HashMap::new();
        let mut refs: HashMap<u64, u32> = HashMap::new();
        let mut client_fds: HashMap<u32, Vec<u32>> = HashMap::new();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return events;
        };
        for p in procs.flatten() {
            let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
                continue;
            };
            for f in fds.flatten() {
                let Some(fd) = f.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                let Ok(link) = std::fs::read_link(f.path()) else {
                    continue;
                };
                let Some(inode) = link
                    .to_str()
                    .and_then(|s| s.strip_prefix("socket:["))
                    .and_then(|s| s.strip_suffix(']'))
                    .and_then(|s| s.parse::<u64>().ok())
                else {
                    continue;
                };
                let Some(s) = wanted.get(&inode) else {
                    continue;
                };
                match s {
                    SeedSock::Listen {
                        port,
                        engine,
                        family,
                        path,
                    } => {
                        listeners.push((
                            conn_key(pid, fd),
                            ListenInfo {
                                port: *port as u32,
                                engine: *engine,
                                family: *family,
                                _pad: 0,
                                path: path
                                    .as_deref()
                                    .and_then(path_bytes)
                                    .unwrap_or([0; UNIX_PATH_MAX]),
                                _pad2: [0; 4],
                            },
                        ));
                    }
                    SeedSock::Conn {
                        role,
                        engine,
                        family,
                        local,
                        remote,
                        path,
                    } => {
                        // A socket shared by a parent and its forked child is watched in both;
                        // only the first holder is reported as a session.
                        let first = !seen_inodes.contains_key(&inode);
                        let id = *seen_inodes.entry(inode).or_insert_with(|| {
                            self.next_seed_id += 1;
                            self.next_seed_id
                        });
                        *refs.entry(id).or_insert(0) += 1;
                        conns.push((
                            conn_key(pid, fd),
                            ConnInfo {
                                conn_id: id,
                                role: *role,
                                flags: if first { 0 } else { CONN_FLAG_ALIAS },
                            },
                        ));
                        if *role == ROLE_CLIENT {
                            client_fds.entry(pid).or_default().push(fd);
                        }
                        if !first {
                            continue;
                        }
                        let (addr_ip, port, peer_port) = if *role == ROLE_CLIENT {
                            (remote.0, remote.1, 0)
                        } else {
                            (remote.0, local.1, remote.1)
                        };
                        let mut ev = ConnEvent {
                            hdr: EventHeader {
                                kind: EventKind::ConnOpen as u32,
                                source: Source::Seed as u32,
                                ts_ns: crate::audit::now_monotonic_ns(),
                                conn_id: id,
                                tgid: pid,
                                tid: pid,
                                fd,
                                ..Default::default()
                            },
                            role: *role,
                            engine: *engine,
                            family: *family,
                            port: port as u32,
                            addr: ip_bytes(addr_ip),
                            peer_port: peer_port as u32,
                            login_uid: u32::MAX,
                            path: [0; UNIX_PATH_MAX],
                            _pad: [0; 4],
                            comm: [0; 16],
                            sock_id: 0,
                            local_port: 0,
                            local_addr: [0; 16],
                            remote_addr: [0; 16],
                            remote_port: 0,
                            flags: 0,
                            sock: 0,
                            peer_sock: 0,
                        };
                        if let Some(k) = path.as_deref().and_then(path_bytes) {
                            ev.path = k;
                        }
                        events.push(ev);
                    }
                }
            }
        }
        if let Some(m) = self.ebpf.map_mut("LISTENERS") {
            if let Ok(mut l) = BpfHashMap::<_, u64, ListenInfo>::try_from(m) {
                for (k, v) in listeners {
                    let _ = l.insert(k, v, 0);
                }
            }
        }
        if let Some(m) = self.ebpf.map_mut("CONN_STATE") {
            if let Ok(mut c) = BpfHashMap::<_, u64, ConnState>::try_from(m) {
                for (&id, &n) in &refs {
                    let st = ConnState {
                        refs: n,
                        ..Default::default()
                    };
                    let _ = c.insert(id, st, 0);
                }
            }
        }
        if let Some(m) = self.ebpf.map_mut("CONNS") {
            if let Ok(mut c) = BpfHashMap::<_, u64, ConnInfo>::try_from(m) {
                for (k, v) in conns {
                    let _ = c.insert(k, v, 0);
                }
            }
        }
        if let Some(m) = self.ebpf.map_mut("CLIENT_FDS") {
            if let Ok(mut c) = BpfHashMap::<_, u32, FdSlots>::try_from(m) {
                for (tgid, fds) in client_fds {
                    let mut s = FdSlots::default();
                    for (slot, fd) in s.fds.iter_mut().zip(fds) {
                        *slot = fd + 1;
                    }
                    let _ = c.insert(tgid, s, 0);
                }
            }
        }
        events
    }
}

enum SeedSock {
    Listen {
        port: u16,
        engine: u32,
        family: u32,
        path: Option<String>,
    },
    Conn {
        role: u32,
        engine: u32,
        family: u32,
        local: (IpAddr, u16),
        remote: (IpAddr, u16),
        path: Option<String>,
    },
}

fn ip_bytes(ip: IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(v) => b[..4].copy_from_slice(&v.octets()),
        IpAddr::V6(v) => b = v.octets(),
    }
    b
}

/// Engine ids for the watch configuration.
pub fn engine_ids() -> (u32, u32) {
    (ENGINE_POSTGRES, ENGINE_MYSQL)
}

/// One line of `/proc/net/tcp{,6}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpEntry {
    pub local: (IpAddr, u16),
    pub remote: (IpAddr, u16),
    pub state: u8,
    pub inode: u64,
}

fn parse_hex_addr(s: &str) -> Option<(IpAddr, u16)> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let ip = match a.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(a, 16).ok()?.to_le_bytes(),
        )),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(a.get(i * 8..i * 8 + 8)?, 16).ok()?;
                b[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            let v6 = Ipv6Addr::from(b);
            v6.to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6))
        }
        _ => return None,
    };
    Some((ip, port))
}

/// Parses `/proc/net/tcp` or `/proc/net/tcp6`.
pub fn parse_proc_net_tcp(text: &str) -> Vec<TcpEntry> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(TcpEntry {
                local: parse_hex_addr(f.get(1)?)?,
                remote: parse_hex_addr(f.get(2)?)?,
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// One line of `/proc/net/unix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixEntry {
    pub inode: u64,
    pub listening: bool,
    pub path: Option<String>,
}

/// Parses `/proc/net/unix` (stream sockets only).
pub fn parse_proc_net_unix(text: &str) -> Vec<UnixEntry> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Num RefCount Protocol Flags Type St Inode [Path]
            let flags = u32::from_str_radix(f.get(3)?, 16).ok()?;
            let ty = u32::from_str_radix(f.get(4)?, 16).ok()?;
            if ty != 1 {
                return None;
            }
            Some(UnixEntry {
                inode: f.get(6)?.parse().ok()?,
                listening: flags & 0x10000 != 0,
                path: f.get(7).map(|s| s.to_string()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_tcp_lines() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   104        0 31337 1 0000000000000000 100 0 0 10 0\n";
        let e = parse_proc_net_tcp(t);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].local, (IpAddr::V4(Ipv4Addr::LOCALHOST), 5432));
        assert_eq!(e[0].state, 0x0A);
        assert_eq!(e[0].inode, 31337);
        let t6 = "hdr\n   0: 0000000000000000FFFF00000100007F:1538 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000   104        0 4242 1\n";
        let e = parse_proc_net_tcp(t6);
        assert_eq!(e[0].local, (IpAddr::V4(Ipv4Addr::LOCALHOST), 5432));
        assert_eq!(e[0].remote.1, 0xD431);
    }

    #[test]
    fn proc_net_unix_lines() {
        let t = "Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 23456 /tmp/.s.PGSQL.5432\n0000000000000000: 00000003 00000000 00000000 0001 03 23457 /tmp/.s.PGSQL.5432\n0000000000000000: 00000003 00000000 00000000 0001 03 23458\n";
        let u = parse_proc_net_unix(t);
        assert_eq!(u.len(), 3);
        assert!(u[0].listening);
        assert_eq!(u[1].path.as_deref(), Some("/tmp/.s.PGSQL.5432"));
        assert_eq!(u[2].path, None);
    }
}
