//! dbgov kernel programs: capture of database socket traffic.
//!
//! Only capture lives here: connection tracking, the per-connection filter, chunking of payload
//! into the ring buffer, and loss counters. All parsing happens in userspace.
//!
//! All hooks are syscall tracepoints (`syscalls/sys_{enter,exit}_*`) plus `sched/sched_process_fork`:
//! this kernel has no kprobes and refuses fentry. The syscall tracepoint record layout is
//! `common fields (8 bytes) | __syscall_nr: i32 at 8 | args: 8 bytes each from 16` for
//! `sys_enter_*`, and `ret: i64 at 16` for `sys_exit_*`. Syscall numbers are x86_64's.

use agent_common::{
    conn_key, ConnEvent, ConnInfo, ConnState, DataChunk, Direction, EventHeader, EventKind,
    FdSlots, ListenInfo, LocalEndKey, SockOffsets, SockPattern, Source, SslKey, CHUNK_LARGE,
    CHUNK_MEDIUM, CHUNK_SMALL, CNT_MAP_FULL_CONNS, CNT_MAP_FULL_FDS, CNT_MAP_FULL_LISTENERS,
    CNT_MAP_FULL_PENDING, CNT_RING_FULL_BYTES, CNT_RING_FULL_CHUNKS, CNT_RING_FULL_CONN,
    CNT_RING_USED_PEAK, CNT_SHED_BYTES, CNT_SHED_CHUNKS, CNT_SSL_STALE, CNT_SSL_UNATTRIBUTED,
    CNT_STASH_FULL, CNT_TLS_SECRET_LOST, CNT_TRUNC_BYTES, CNT_TRUNC_CHUNKS, CONN_EV_LOCAL_MIRROR,
    CONN_FLAG_ALIAS, COUNTERS_LEN, ENGINE_POSTGRES, FAMILY_INET, FAMILY_INET6, FAMILY_UNIX,
    FD_SLOTS, MAX_CHUNKS_PER_CALL, MAX_IOVECS, ROLE_CLIENT, ROLE_SERVER, SHED_KEEP, SOCK_ID_TCP,
    SOCK_ID_UNIX, SOCK_SUFFIX_MAX, TLS12_KEY_BLOCK, TLS_SECRET_CLIENT, TLS_SECRET_MAX,
    TLS_SECRET_SERVER, TRUNC_SHED, UNIX_PATH_MAX,
};
use aya_ebpf::{
    cty::c_void,
    helpers::{
        bpf_get_current_pid_tgid, bpf_get_current_uid_gid, bpf_get_smp_processor_id,
        bpf_ktime_get_ns, generated::bpf_probe_read_user,
    },
    macros::{btf_tracepoint, map, tracepoint, uprobe, uretprobe},
    maps::{lpm_trie::Key as LpmKey, Array, HashMap, LpmTrie, LruHashMap, PerCpuArray, RingBuf},
    programs::{BtfTracePointContext, ProbeContext, RetProbeContext, TracePointContext},
    EbpfContext, Global,
};

/// The agent's own tgid: never watched (it would otherwise capture its own output). When
/// `AGENT_NS_INO` is set, this is the tgid inside that PID namespace (the agent runs in a
/// container), compared through `bpf_get_ns_current_pid_tgid`.
#[unsafe(no_mangle)]
static AGENT_TGID: Global<u32> = Global::new(0);
/// Response bytes are shed (all but the first [`SHED_KEEP`] of each read or write) while the
/// ring buffer is at least this full, in percent; 100 never sheds.
#[unsafe(no_mangle)]
static SHED_PERCENT: Global<u64> = Global::new(50);
/// Device and inode of the agent's PID namespace (`/proc/self/ns/pid`); 0: compare host tgids.
#[unsafe(no_mangle)]
static AGENT_NS_DEV: Global<u64> = Global::new(0);
#[unsafe(no_mangle)]
static AGENT_NS_INO: Global<u64> = Global::new(0);
/// Offsets of `pid` and `clone_flags` in the `task_newtask` record, and of `fd` in
/// `io_uring_file_get`, from tracefs.
#[unsafe(no_mangle)]
static NEWTASK_PID_OFF: Global<u32> = Global::new(8);
#[unsafe(no_mangle)]
static NEWTASK_FLAGS_OFF: Global<u32> = Global::new(32);
#[unsafe(no_mangle)]
static IOU_FD_OFF: Global<u32> = Global::new(32);
/// Offset of `group_dead` in the `sched_process_exit` record (0: unknown, every exit counts).
#[unsafe(no_mangle)]
static EXIT_GROUP_DEAD_OFF: Global<u32> = Global::new(32);
/// Offsets of `parent_pid` and `child_pid` in the `sched_process_fork` record; userspace reads
/// them from tracefs because the layout changed across kernel versions.
#[unsafe(no_mangle)]
static FORK_PARENT_OFF: Global<u32> = Global::new(12);
#[unsafe(no_mangle)]
static FORK_CHILD_OFF: Global<u32> = Global::new(20);
/// Byte offset of `loginuid` in `struct task_struct`, from the kernel's BTF (0: unknown).
#[unsafe(no_mangle)]
static LOGINUID_OFF: Global<u32> = Global::new(0);

/// Offsets of the kernel struct members on the path from the current task to a socket's
/// `struct sock`, from the kernel's BTF (`valid == 0`: unknown, nothing is read).
#[unsafe(no_mangle)]
static SOCK_OFF: Global<SockOffsets> = Global::new(SockOffsets::UNKNOWN);

#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(16 << 20, 0);

/// Watched connections, keyed by `(tgid << 32) | fd`. Not an LRU map: a full map must show
/// as a counted failure (a gap), never as a silently evicted watch. Entries of exited
/// processes are removed by the exit hook (clients) and by userspace (everything else).
#[map]
static CONNS: HashMap<u64, ConnInfo> = HashMap::with_max_entries(65536, 0);

/// Stream state of watched connections, by conn id, shared by all handles on one.
#[map]
static CONN_STATE: HashMap<u64, ConnState> = HashMap::with_max_entries(65536, 0);

/// Listening sockets of database servers, keyed by `(tgid << 32) | fd`.
#[map]
static LISTENERS: HashMap<u64, ListenInfo> = HashMap::with_max_entries(4096, 0);

/// Watched client connections of each process (tgid), followed across fork, exec and
/// close_range.
#[map]
static CLIENT_FDS: HashMap<u32, FdSlots> = HashMap::with_max_entries(16384, 0);

/// An in-flight `dup`/`dup2`/`dup3`/`fcntl(F_DUPFD)` of a watched fd (the old fd), by pid_tgid.
#[map]
static DUPS: HashMap<u64, u32> = HashMap::with_max_entries(4096, 0);

/// Watched TCP ports (host byte order) -> engine id.
#[map]
static PORTS: HashMap<u16, u32> = HashMap::with_max_entries(256, 0);

/// Watched Unix socket paths and patterns, by longest prefix (see [`SockPattern`]).
#[map]
static SOCK_PATHS: LpmTrie<[u8; UNIX_PATH_MAX], SockPattern> = LpmTrie::with_max_entries(256, 0);

/// Arguments of the last data syscall on a watched fd, keyed by pid_tgid: one entry per
/// thread that has used a watched connection, written in place at each syscall's entry and
/// marked done at its exit (an insert and a delete per syscall cost about three times the
/// lookup), and removed when the thread exits ([`sched_exit`]).
#[map]
static STASH: HashMap<u64, Stash> = HashMap::with_max_entries(16384, 0);

/// An in-flight `connect`/`accept` that matched, keyed by pid_tgid.
#[map]
static PENDING: HashMap<u64, Pending> = HashMap::with_max_entries(4096, 0);

/// fds recently accepted by a forking server (PostgreSQL's postmaster), keyed by tgid, so the
/// backend forked for the connection inherits the watch.
#[map]
static RECENT_ACCEPT: LruHashMap<u32, Recent> = LruHashMap::with_max_entries(1024, 0);

/// Client ends of watched connections on this host, by [`LocalEndKey`] (value: conn id), so
/// the server end accepting the same connection is not captured a second time.
#[map]
static LOCAL_ENDS: LruHashMap<LocalEndKey, u64> = LruHashMap::with_max_entries(16384, 0);

/// When userspace was last woken for a new connection of a process (tgid -> ktime ns).
#[map]
static WOKEN: LruHashMap<u32, u64> = LruHashMap::with_max_entries(4096, 0);

/// Loss counters, per CPU. Indexes are `agent_common::CNT_*`.
#[map]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTERS_LEN, 0);

/// An in-flight `SSL_read*`/`SSL_write*`, keyed by pid_tgid.
#[map]
static SSL_ARGS: LruHashMap<u64, SslArgs> = LruHashMap::with_max_entries(16384, 0);

/// Non-zero once the agent has attached the per-call TLS probes (`SSL_read`/`SSL_write`)
/// anywhere; it sets it before attaching them. Until then no [`SSL_ARGS`] entry can exist,
/// and the data syscalls skip looking for one (an array lookup is a load; the LRU hash
/// lookup it saves is a hash and a bucket walk on every captured call).
#[map]
static TLS_CALLS: Array<u32> = Array::with_max_entries(1, 0);

/// Which socket each `SSL*` of a watched connection uses, learned from the syscall the TLS
/// library makes inside `SSL_read`/`SSL_write`.
#[map]
static SSL_FDS: LruHashMap<SslKey, u32> = LruHashMap::with_max_entries(65536, 0);

/// An in-flight `EVP_KDF_derive` that derives a TLS 1.3 application traffic secret, keyed by
/// pid_tgid (`tls_capture: keylog`).
#[map]
static KDF_ARGS: LruHashMap<u64, KdfArgs> = LruHashMap::with_max_entries(4096, 0);

#[repr(C)]
#[derive(Clone, Copy)]
struct KdfArgs {
    /// Where the secret is written.
    out: u64,
    len: u32,
    /// [`TLS_SECRET_CLIENT`], [`TLS_SECRET_SERVER`] or [`TLS12_KEY_BLOCK`].
    which: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SslArgs {
    ssl: u64,
    buf: u64,
    /// `size_t *written` / `size_t *readbytes` of the `_ex` variants, else 0.
    len_ptr: u64,
    direction: u32,
    /// 1 for the `_ex` variants.
    ex: u32,
    /// When the call began, or made its last syscall (ns).
    ts: u64,
    /// fd + 1 of the watched socket this call read or wrote (0: none yet).
    fd: u32,
    _pad: u32,
}

/// A TLS call that has made no syscall for this long is stale (its return probe was missed):
/// within one `SSL_read`/`SSL_write` the library's syscalls follow each other within CPU time.
const SSL_STALE_NS: u64 = 1_000_000_000;

/// Wake the agent only once this much data is waiting; otherwise it drains on its own timer.
/// Saves a wakeup per event at high rates (the agent polls every few milliseconds).
const WAKEUP_BYTES: u64 = 256 * 1024;

#[inline(always)]
fn wake_flags() -> u64 {
    use aya_ebpf::bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP};
    let used = EVENTS.query(BPF_RB_AVAIL_DATA as u64);
    if let Some(p) = COUNTERS.get_ptr_mut(CNT_RING_USED_PEAK) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe {
            if used > *p {
                *p = used;
            }
        }
    }
    if used >= WAKEUP_BYTES {
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
}

const KIND_BUF: u32 = 0;
const KIND_IOV: u32 = 1;
/// `sendmsg`/`recvmsg`: the iovec array is read from the `msghdr` at entry (then [`KIND_IOV`]).
const KIND_MSG: u32 = 2;

#[repr(C)]
#[derive(Clone, Copy)]
struct Stash {
    fd: u32,
    kind: u32,
    source: u32,
    direction: u32,
    /// Buffer pointer (KIND_BUF) or iovec array pointer (KIND_IOV).
    ptr: u64,
    /// iovec count for KIND_IOV.
    count: u64,
    /// The connection the fd named at entry (a handle closed and reused by another thread
    /// during a blocking call does not take this call's bytes).
    conn_id: u64,
    role: u32,
    /// The syscall, plus one; 0 once its exit has taken the entry.
    nr: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Pending {
    fd: u32,
    role: u32,
    engine: u32,
    family: u32,
    port: u32,
    peer_port: u32,
    addr: [u8; 16],
    /// accept: user pointer to the peer sockaddr (0 when not requested).
    sockaddr: u64,
    path: [u8; UNIX_PATH_MAX],
    _pad: [u8; 4],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Recent {
    /// fd + 1 of recent accepts; 0 marks a free slot.
    fds: [u32; 4],
}

const NR_READ: i32 = 0;
const NR_WRITE: i32 = 1;
const NR_READV: i32 = 19;
const NR_WRITEV: i32 = 20;
const NR_SENDTO: i32 = 44;
const NR_RECVFROM: i32 = 45;
const NR_SENDMSG: i32 = 46;
const NR_RECVMSG: i32 = 47;
const NR_SENDFILE: i32 = 40;
const NR_SPLICE: i32 = 275;
const NR_PREADV: i32 = 295;
const NR_PWRITEV: i32 = 296;
const NR_RECVMMSG: i32 = 299;
const NR_SENDMMSG: i32 = 307;
const NR_PREADV2: i32 = 327;
const NR_PWRITEV2: i32 = 328;
const EINPROGRESS: i64 = -115;

/// A field of the tracepoint's record at a constant offset, loaded directly: a tracepoint
/// program may read its record at any aligned offset past the common header (the verifier
/// checks each load), which costs one instruction where `bpf_probe_read_kernel` costs a
/// helper call (about 20 ns here; the data syscalls' programs made six per call).
#[inline(always)]
fn field<T: Copy>(ctx: &TracePointContext, off: usize) -> T {
    // SAFETY: `off` is a constant offset of a field of type T in the syscall tracepoint
    // records, within the record and aligned for T.
    unsafe { core::ptr::read((ctx.as_ptr() as *const u8).add(off) as *const T) }
}

/// Argument `i` of a syscall tracepoint (six 8-byte arguments from offset 16), read with a
/// helper: a program shared by syscalls of fewer arguments may read past the shortest record,
/// which the kernel refuses to attach to with direct loads.
#[inline(always)]
fn arg(ctx: &TracePointContext, i: usize) -> u64 {
    // SAFETY: a read of the tracepoint record; it fails cleanly (0) past its end.
    unsafe { ctx.read_at::<u64>(16 + 8 * i) }.unwrap_or(0)
}

/// Argument `i` of a syscall tracepoint whose every syscall has more than `i` arguments
/// (the data syscalls' entries: all have at least three), loaded directly.
#[inline(always)]
fn arg_direct(ctx: &TracePointContext, i: usize) -> u64 {
    field::<u64>(ctx, 16 + 8 * i)
}

#[inline(always)]
fn syscall_nr(ctx: &TracePointContext) -> i32 {
    // `__syscall_nr` is an i32 at offset 8 of every syscall tracepoint record.
    field::<i32>(ctx, 8)
}

#[inline(always)]
fn ret(ctx: &TracePointContext) -> i64 {
    // `ret` is an i64 at offset 16 of `sys_exit_*` records.
    field::<i64>(ctx, 16)
}

#[inline(always)]
fn count(idx: u32, by: u64) {
    if let Some(p) = COUNTERS.get_ptr_mut(idx) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe { *p += by };
    }
}

#[inline(always)]
fn read_user<T>(src: u64) -> Option<T> {
    let mut v = core::mem::MaybeUninit::<T>::uninit();
    // SAFETY: reads size_of::<T>() bytes of user memory into a local buffer.
    let r = unsafe {
        bpf_probe_read_user(
            v.as_mut_ptr() as *mut c_void,
            core::mem::size_of::<T>() as u32,
            src as *const c_void,
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: fully initialised by the successful read above.
    Some(unsafe { v.assume_init() })
}

#[inline(always)]
fn header(kind: EventKind, source: Source, conn_id: u64, fd: u32, dir: u32) -> EventHeader {
    let pid_tgid = bpf_get_current_pid_tgid();
    let uid_gid = bpf_get_current_uid_gid();
    EventHeader {
        kind: kind as u32,
        source: source as u32,
        // SAFETY: helper without preconditions.
        ts_ns: unsafe { bpf_ktime_get_ns() },
        conn_id,
        stream_offset: 0,
        tgid: (pid_tgid >> 32) as u32,
        tid: pid_tgid as u32,
        uid: uid_gid as u32,
        gid: (uid_gid >> 32) as u32,
        fd,
        direction: dir,
        total_len: 0,
        captured_len: 0,
    }
}

/// Reserves a chunk of capacity `N`, copies `n <= N` user bytes into it and submits it.
#[inline(always)]
fn emit_chunk<const N: usize>(hdr: &EventHeader, src: u64, n: usize) -> bool {
    let Some(mut entry) = EVENTS.reserve::<DataChunk<N>>(0) else {
        return false;
    };
    let p = entry.as_mut_ptr();
    let mut len = n;
    if len > N {
        len = N;
    }
    // SAFETY: `p` points at a reserved record of size_of::<DataChunk<N>>(); len <= N.
    let r = unsafe {
        (*p).hdr = *hdr;
        (*p).hdr.captured_len = len as u32;
        bpf_probe_read_user(
            (*p).data.as_mut_ptr() as *mut c_void,
            len as u32,
            src as *const c_void,
        )
    };
    if r != 0 {
        entry.discard(0);
        return false;
    }
    entry.submit(wake_flags());
    true
}

/// How many of the `n` bytes of a read or write to capture: all, except for a response while
/// the ring is at least `SHED_PERCENT` full: then only its first `SHED_KEEP` bytes, so that
/// requests keep the room (a statement whose answer was cut is still reported, incomplete).
#[inline(always)]
fn shed_len(role: u32, dir: u32, n: u64) -> u64 {
    use aya_ebpf::bindings::{BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE};
    let response = (role == ROLE_CLIENT) == (dir == Direction::Ingress as u32);
    if !response || n <= SHED_KEEP {
        return n;
    }
    let pct = SHED_PERCENT.load();
    if pct >= 100 {
        return n;
    }
    let size = EVENTS.query(BPF_RB_RING_SIZE as u64);
    let used = EVENTS.query(BPF_RB_AVAIL_DATA as u64);
    if used * 100 < size * pct {
        return n;
    }
    SHED_KEEP
}

/// Counts and announces `missing` response bytes from stream offset `at` shed under load.
#[inline(always)]
fn shed(hdr: &EventHeader, at: u64, missing: u64) {
    count(CNT_SHED_CHUNKS, 1);
    count(CNT_SHED_BYTES, missing);
    emit_hole(hdr, at, missing, TRUNC_SHED);
}

/// Emits `len` user bytes from `src` as up to `max_chunks` chunks. Returns the bytes consumed
/// (captured, lost to a full ring, or truncated): always `len`.
#[inline(always)]
fn emit_buf(hdr: &mut EventHeader, src: u64, len: u64, off: u64, max_chunks: usize) {
    let mut done: u64 = 0;
    for _ in 0..max_chunks {
        if done >= len {
            break;
        }
        let rem = len - done;
        let n = if rem > CHUNK_LARGE as u64 {
            CHUNK_LARGE as u64
        } else {
            rem
        };
        hdr.stream_offset = off + done;
        let ok = if n <= CHUNK_SMALL as u64 {
            emit_chunk::<CHUNK_SMALL>(hdr, src + done, n as usize)
        } else if n <= CHUNK_MEDIUM as u64 {
            emit_chunk::<CHUNK_MEDIUM>(hdr, src + done, n as usize)
        } else {
            emit_chunk::<CHUNK_LARGE>(hdr, src + done, n as usize)
        };
        if !ok {
            count(CNT_RING_FULL_CHUNKS, 1);
            count(CNT_RING_FULL_BYTES, n);
        }
        done += n;
    }
    if done < len {
        count(CNT_TRUNC_CHUNKS, 1);
        count(CNT_TRUNC_BYTES, len - done);
        emit_truncated(hdr, off + done, len - done);
    }
}

/// Tells userspace that `missing` bytes from stream offset `at` were not captured (the
/// capture limit).
#[inline(always)]
fn emit_truncated(hdr: &EventHeader, at: u64, missing: u64) {
    emit_hole(hdr, at, missing, 0);
}

/// A [`EventKind::Truncated`] record; `mark` is 0 or [`TRUNC_SHED`].
#[inline(always)]
fn emit_hole(hdr: &EventHeader, at: u64, missing: u64, mark: u32) {
    let Some(mut entry) = EVENTS.reserve::<EventHeader>(0) else {
        // The hole still shows when the next chunk arrives.
        return;
    };
    let p = entry.as_mut_ptr();
    // SAFETY: `p` points at a reserved EventHeader; every field is written.
    unsafe {
        *p = *hdr;
        (*p).kind = EventKind::Truncated as u32;
        (*p).stream_offset = at;
        (*p).total_len = if missing > u32::MAX as u64 {
            u32::MAX
        } else {
            missing as u32
        };
        (*p).captured_len = mark;
    }
    entry.submit(wake_flags());
}

/// A data syscall's number and first three arguments, from a syscall tracepoint's record or
/// from the registers at `raw_syscalls/sys_enter`.
#[derive(Clone, Copy)]
struct SysArgs {
    nr: i32,
    a0: u64,
    a1: u64,
    a2: u64,
}

impl SysArgs {
    /// From a `syscalls/sys_enter_*` record of a syscall with at least three arguments.
    #[inline(always)]
    fn of_record(ctx: &TracePointContext) -> Self {
        Self {
            nr: syscall_nr(ctx),
            a0: arg_direct(ctx, 0),
            a1: arg_direct(ctx, 1),
            a2: arg_direct(ctx, 2),
        }
    }
}

/// The kind of argument list of a data syscall (None: not one).
#[inline(always)]
fn data_kind(nr: i32) -> Option<u32> {
    match nr {
        NR_READ | NR_WRITE | NR_SENDTO | NR_RECVFROM => Some(KIND_BUF),
        NR_READV | NR_WRITEV => Some(KIND_IOV),
        NR_SENDMSG | NR_RECVMSG => Some(KIND_MSG),
        _ => None,
    }
}

#[inline(always)]
fn stash_data(a: &SysArgs, kind: u32) {
    let fd = a.a0 as u32;
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // The one map lookup every fd on the host pays.
    let Some(conn) = CONNS.get_ptr(conn_key(tgid, fd)) else {
        return;
    };
    // SAFETY: map value pointer, read once.
    let (conn_id, role) = unsafe { ((*conn).conn_id, (*conn).role) };
    // Inside SSL_read/SSL_write: remember which socket this SSL* uses, and do not capture
    // the ciphertext (the plaintext comes from the uprobes). A call state that made no
    // syscall for a second is stale (a missed return probe): it is dropped and counted, and
    // this syscall is captured as plaintext, so a leftover state cannot silence a thread.
    let pid_tgid = bpf_get_current_pid_tgid();
    let tls_calls = TLS_CALLS.get(0).is_some_and(|v| *v != 0);
    if let Some(sa) = tls_calls.then(|| SSL_ARGS.get_ptr_mut(pid_tgid)).flatten() {
        // SAFETY: helper without preconditions.
        let now = unsafe { bpf_ktime_get_ns() };
        // SAFETY: map value pointer of this thread's own entry.
        let (ssl, ts) = unsafe { ((*sa).ssl, (*sa).ts) };
        if now.wrapping_sub(ts) > SSL_STALE_NS {
            let _ = SSL_ARGS.remove(pid_tgid);
            count(CNT_SSL_STALE, 1);
        } else {
            let key = SslKey { ssl, tgid, _pad: 0 };
            let _ = SSL_FDS.insert(key, fd, 0);
            // SAFETY: as above.
            unsafe {
                (*sa).fd = fd + 1;
                (*sa).ts = now;
            }
            return;
        }
    }
    let nr = a.nr;
    let (source, direction) = match nr {
        NR_READ => (Source::Read, Direction::Ingress),
        NR_WRITE => (Source::Write, Direction::Egress),
        NR_READV => (Source::Readv, Direction::Ingress),
        NR_WRITEV => (Source::Writev, Direction::Egress),
        NR_SENDTO => (Source::Sendto, Direction::Egress),
        NR_RECVFROM => (Source::Recvfrom, Direction::Ingress),
        NR_SENDMSG => (Source::Sendmsg, Direction::Egress),
        NR_RECVMSG => (Source::Recvmsg, Direction::Ingress),
        _ => return,
    };
    let (ptr, cnt) = if kind == KIND_BUF || kind == KIND_IOV {
        (a.a1, a.a2)
    } else {
        // struct msghdr: msg_iov at offset 16, msg_iovlen at offset 24.
        let msg = a.a1;
        let Some(iov) = read_user::<u64>(msg + 16) else {
            return;
        };
        let Some(n) = read_user::<u64>(msg + 24) else {
            return;
        };
        (iov, n)
    };
    let st = Stash {
        fd,
        kind: if kind == KIND_BUF { KIND_BUF } else { KIND_IOV },
        source: source as u32,
        direction: direction as u32,
        ptr,
        count: cnt,
        conn_id,
        role,
        nr: nr as u32 + 1,
    };
    // The thread's entry from its last call is overwritten in place: no insert.
    if let Some(e) = STASH.get_ptr_mut(pid_tgid) {
        // SAFETY: map value pointer of this thread's own entry.
        unsafe { *e = st };
    } else if STASH.insert(pid_tgid, st, 0).is_err() {
        count(CNT_STASH_FULL, 1);
    }
}

/// `sys_enter_{read,write,sendto,recvfrom}(fd, buf, count, ...)`.
#[tracepoint]
pub fn enter_buf(ctx: TracePointContext) -> u32 {
    stash_data(&SysArgs::of_record(&ctx), KIND_BUF);
    0
}

/// `sys_enter_{readv,writev}(fd, iov, iovcnt)`.
#[tracepoint]
pub fn enter_iov(ctx: TracePointContext) -> u32 {
    stash_data(&SysArgs::of_record(&ctx), KIND_IOV);
    0
}

/// `sys_enter_{sendmsg,recvmsg}(fd, msg, flags)`.
#[tracepoint]
pub fn enter_msg(ctx: TracePointContext) -> u32 {
    let a = SysArgs::of_record(&ctx);
    if a.nr == NR_SENDMSG {
        scm_rights(a.a1);
    }
    stash_data(&a, KIND_MSG);
    0
}

/// x86-64 `struct pt_regs`, as 8-byte words: the syscall's number and arguments at
/// `raw_syscalls/sys_enter` and `sys_exit`.
const REG_DX: usize = 12;
const REG_SI: usize = 13;
const REG_DI: usize = 14;
const REG_ORIG_AX: usize = 15;
const REG_CS: usize = 17;
/// `__USER_CS`: the task made a 64-bit syscall. A 32-bit (compat) syscall has other
/// numbers and is not captured, as the `syscalls/*` tracepoints do not report it either.
const USER64_CS: u64 = 0x33;

/// The registers of a BTF `raw_syscalls` tracepoint (argument 0, `struct pt_regs *`): word `i`,
/// loaded directly (the verifier checks the load against the kernel's BTF).
#[inline(always)]
fn reg(regs: *const u64, i: usize) -> u64 {
    // SAFETY: `regs` is the tracepoint's trusted `struct pt_regs *`; `i` is a field index
    // within it.
    unsafe { core::ptr::read(regs.add(i)) }
}

/// `raw_syscalls/sys_enter(regs, id)` as a BTF tracepoint: the data syscalls' entries in one
/// program, which costs each syscall less than the `syscalls/sys_enter_*` tracepoints (no
/// record is built for it) but runs for every syscall, so it returns at once for the others.
#[btf_tracepoint(function = "sys_enter")]
pub fn enter_data_raw(ctx: BtfTracePointContext) -> i32 {
    let id: i64 = ctx.arg(1);
    let Some(kind) = data_kind(id as i32) else {
        return 0;
    };
    let regs: *const u64 = ctx.arg(0);
    if reg(regs, REG_CS) != USER64_CS {
        return 0;
    }
    let a = SysArgs {
        nr: id as i32,
        a0: reg(regs, REG_DI),
        a1: reg(regs, REG_SI),
        a2: reg(regs, REG_DX),
    };
    if a.nr == NR_SENDMSG {
        scm_rights(a.a1);
    }
    stash_data(&a, kind);
    0
}

/// `raw_syscalls/sys_exit(regs, ret)` as a BTF tracepoint: the data syscalls' exits.
#[btf_tracepoint(function = "sys_exit")]
pub fn exit_data_raw(ctx: BtfTracePointContext) -> i32 {
    let regs: *const u64 = ctx.arg(0);
    let nr = reg(regs, REG_ORIG_AX) as i32;
    if data_kind(nr).is_none() || reg(regs, REG_CS) != USER64_CS {
        return 0;
    }
    let ret: i64 = ctx.arg(1);
    take_data(nr, ret);
    0
}

/// Tells userspace that watched `fd` moves bytes through a syscall that is not captured.
#[inline(always)]
fn uncaptured(fd: u64, source: Source, dir: Direction, len: u64) {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let fd = fd as u32;
    let Some(conn) = CONNS.get_ptr(conn_key(tgid, fd)) else {
        return;
    };
    // SAFETY: map value pointer, read once.
    let conn_id = unsafe { (*conn).conn_id };
    let Some(mut entry) = EVENTS.reserve::<EventHeader>(0) else {
        count(CNT_RING_FULL_CONN, 1);
        return;
    };
    let mut hdr = header(EventKind::Uncaptured, source, conn_id, fd, dir as u32);
    hdr.total_len = if len > u32::MAX as u64 {
        u32::MAX
    } else {
        len as u32
    };
    entry.write(hdr);
    entry.submit(wake_flags());
}

/// `sys_enter_{sendmmsg,recvmmsg,sendfile64,splice,preadv,pwritev,preadv2,pwritev2}`: paths
/// bytes can take that the agent does not decode. On a watched socket each call becomes a
/// gap (`uncaptured_syscall`) naming the syscall, so such traffic is never unseen silently.
#[tracepoint]
pub fn enter_uncaptured(ctx: TracePointContext) -> u32 {
    match syscall_nr(&ctx) {
        NR_SENDMMSG => uncaptured(arg(&ctx, 0), Source::Sendmmsg, Direction::Egress, 0),
        NR_RECVMMSG => uncaptured(arg(&ctx, 0), Source::Recvmmsg, Direction::Ingress, 0),
        // sendfile(out_fd, in_fd, offset, count): only the output can be a socket.
        NR_SENDFILE => uncaptured(
            arg(&ctx, 0),
            Source::Sendfile,
            Direction::Egress,
            arg(&ctx, 3),
        ),
        // splice(fd_in, off_in, fd_out, off_out, len, flags): either end can be a socket.
        NR_SPLICE => {
            let len = arg(&ctx, 4);
            uncaptured(arg(&ctx, 0), Source::Splice, Direction::Ingress, len);
            uncaptured(arg(&ctx, 2), Source::Splice, Direction::Egress, len);
        }
        NR_PREADV | NR_PREADV2 => uncaptured(arg(&ctx, 0), Source::Preadv, Direction::Ingress, 0),
        NR_PWRITEV | NR_PWRITEV2 => uncaptured(arg(&ctx, 0), Source::Pwritev, Direction::Egress, 0),
        _ => {}
    }
    0
}

/// `sys_exit_*` of every data syscall: `ret` is the byte count actually moved.
#[tracepoint]
pub fn exit_data(ctx: TracePointContext) -> u32 {
    take_data(syscall_nr(&ctx), ret(&ctx));
    0
}

/// The exit of data syscall `nr` with return value `n`: the bytes the entry's stash points
/// at are captured.
#[inline(always)]
fn take_data(nr: i32, n: i64) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let Some(e) = STASH.get_ptr_mut(pid_tgid) else {
        return;
    };
    // SAFETY: map value pointer of this thread's own entry: copied out, then marked taken.
    let st = unsafe {
        let st = *e;
        (*e).nr = 0;
        st
    };
    // Taken already (this exit is of a call on an fd that is not watched), or left by a call
    // whose exit was not seen (it was another syscall).
    if st.nr == 0 || st.nr != nr as u32 + 1 {
        return;
    }
    if n <= 0 {
        return;
    }
    let n = n as u64;
    let (conn_id, role) = (st.conn_id, st.role);
    // The connection still exists (its state goes when its last handle closes).
    let Some(state) = CONN_STATE.get_ptr_mut(conn_id) else {
        return;
    };
    // SAFETY: map value pointer; a racing writer on the same connection only skews offsets,
    // which userspace reports as a gap.
    let off = unsafe {
        let c = &mut *state;
        if st.direction == Direction::Egress as u32 {
            let o = c.tx_off;
            c.tx_off = o + n;
            o
        } else {
            let o = c.rx_off;
            c.rx_off = o + n;
            o
        }
    };
    let source = match Source::from_u32(st.source) {
        Some(s) => s,
        None => return,
    };
    let mut hdr = header(EventKind::Data, source, conn_id, st.fd, st.direction);
    hdr.total_len = n as u32;
    let keep = shed_len(role, st.direction, n);
    if st.kind == KIND_BUF {
        emit_buf(&mut hdr, st.ptr, keep, off, MAX_CHUNKS_PER_CALL);
        if keep < n {
            shed(&hdr, off + keep, n - keep);
        }
        return;
    }
    // iovec arrays: struct iovec { void *iov_base; size_t iov_len; }
    let mut done: u64 = 0;
    for i in 0..MAX_IOVECS {
        if done >= keep || i as u64 >= st.count {
            break;
        }
        let Some(base) = read_user::<u64>(st.ptr + 16 * i as u64) else {
            break;
        };
        let Some(len) = read_user::<u64>(st.ptr + 16 * i as u64 + 8) else {
            break;
        };
        let mut take = keep - done;
        if len < take {
            take = len;
        }
        emit_buf(&mut hdr, base, take, off + done, 1);
        done += take;
    }
    if keep < n && done == keep {
        shed(&hdr, off + done, n - done);
    } else if done < n {
        count(CNT_TRUNC_CHUNKS, 1);
        count(CNT_TRUNC_BYTES, n - done);
        emit_truncated(&hdr, off + done, n - done);
    }
}

/// Parses a user `sockaddr` into `p`. Returns the engine when the address is watched.
#[inline(always)]
fn match_sockaddr(sa: u64, p: &mut Pending) -> Option<u32> {
    let family = read_user::<u16>(sa)?;
    match family as u32 {
        FAMILY_INET | FAMILY_INET6 => {
            // sin_port / sin6_port at offset 2, network byte order.
            let port = u16::from_be(read_user::<u16>(sa + 2)?);
            p.family = family as u32;
            p.port = port as u32;
            if family as u32 == FAMILY_INET {
                let a = read_user::<[u8; 4]>(sa + 4)?;
                p.addr[0] = a[0];
                p.addr[1] = a[1];
                p.addr[2] = a[2];
                p.addr[3] = a[3];
            } else {
                p.addr = read_user::<[u8; 16]>(sa + 8)?;
            }
            // SAFETY: plain value read.
            unsafe { PORTS.get(port) }.copied()
        }
        FAMILY_UNIX => {
            let mut key = LpmKey::new((UNIX_PATH_MAX * 8) as u32, [0u8; UNIX_PATH_MAX]);
            // SAFETY: reads at most UNIX_PATH_MAX bytes of the user's sun_path (offset 2).
            let r = unsafe {
                aya_ebpf::helpers::generated::bpf_probe_read_user_str(
                    key.data.as_mut_ptr() as *mut c_void,
                    UNIX_PATH_MAX as u32,
                    (sa + 2) as *const c_void,
                )
            };
            if r <= 1 {
                return None;
            }
            let len = (r - 1) as u32;
            let pat = SOCK_PATHS.get(&key).copied()?;
            if pat.suffix_len > 0 {
                let sl = pat.suffix_len;
                if sl as usize > SOCK_SUFFIX_MAX || len < pat.prefix_len + sl {
                    return None;
                }
                let start = len - sl;
                for i in 0..SOCK_SUFFIX_MAX {
                    if i as u32 >= sl {
                        break;
                    }
                    let at = ((start + i as u32) as usize) & 127;
                    if at >= UNIX_PATH_MAX || key.data[at] != pat.suffix[i] {
                        return None;
                    }
                }
            }
            p.family = FAMILY_UNIX;
            p.path = key.data;
            Some(pat.engine)
        }
        _ => None,
    }
}

#[inline(always)]
fn empty_pending(fd: u32, role: u32) -> Pending {
    Pending {
        fd,
        role,
        engine: 0,
        family: 0,
        port: 0,
        peer_port: 0,
        addr: [0; 16],
        sockaddr: 0,
        path: [0; UNIX_PATH_MAX],
        _pad: [0; 4],
    }
}

/// [`Pending::role`] of the agent's own connection to a watched address (never captured).
const ROLE_AGENT: u32 = 3;
/// [`LOCAL_ENDS`] value of the agent's own client end.
const AGENT_END: u64 = u64::MAX;

#[inline(always)]
fn is_agent() -> bool {
    let ino = AGENT_NS_INO.load();
    if ino == 0 {
        return (bpf_get_current_pid_tgid() >> 32) as u32 == AGENT_TGID.load();
    }
    let mut ns = aya_ebpf::bindings::bpf_pidns_info { pid: 0, tgid: 0 };
    // SAFETY: writes at most size_of::<bpf_pidns_info>() bytes into the local; fails (non-zero)
    // when the current task is not in that namespace.
    let r = unsafe {
        aya_ebpf::helpers::generated::bpf_get_ns_current_pid_tgid(
            AGENT_NS_DEV.load(),
            ino,
            &mut ns as *mut _,
            core::mem::size_of::<aya_ebpf::bindings::bpf_pidns_info>() as u32,
        )
    };
    r == 0 && ns.tgid == AGENT_TGID.load()
}

/// `sys_enter_connect(fd, uservaddr, addrlen)`.
#[tracepoint]
pub fn enter_connect(ctx: TracePointContext) -> u32 {
    // The agent's own connections to a watched address (Kafka on a watched port, the proxy's
    // upstream) are followed only so that the local server end is not captured either.
    let role = if is_agent() { ROLE_AGENT } else { ROLE_CLIENT };
    let mut p = empty_pending(arg(&ctx, 0) as u32, role);
    if let Some(engine) = match_sockaddr(arg(&ctx, 1), &mut p) {
        p.engine = engine;
        if PENDING.insert(bpf_get_current_pid_tgid(), p, 0).is_err() {
            count(CNT_MAP_FULL_PENDING, 1);
        }
    }
    0
}

/// `sys_exit_connect`: `ret` 0 or -EINPROGRESS means the connection is (being) established.
#[tracepoint]
pub fn exit_connect(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: copied before removal.
    let Some(p) = (unsafe { PENDING.get(pid_tgid) }).copied() else {
        return 0;
    };
    let _ = PENDING.remove(pid_tgid);
    let r = ret(&ctx);
    if r != 0 && r != EINPROGRESS {
        return 0;
    }
    open_conn(&p, p.fd, Source::Connect);
    0
}

/// `current->loginuid.val`, read at the offset userspace found in BTF.
#[inline(always)]
fn login_uid() -> u32 {
    let off = LOGINUID_OFF.load();
    if off == 0 {
        return u32::MAX;
    }
    // SAFETY: helper without preconditions; the result is only used as an address to read.
    let task = unsafe { aya_ebpf::helpers::bpf_get_current_task() };
    let mut v: u32 = u32::MAX;
    // SAFETY: bounded 4-byte kernel read into a local.
    let r = unsafe {
        aya_ebpf::helpers::generated::bpf_probe_read_kernel(
            (&mut v as *mut u32) as *mut c_void,
            4,
            (task + off as u64) as *const c_void,
        )
    };
    if r != 0 {
        return u32::MAX;
    }
    v
}

/// Reads a `T` from kernel memory at `src`.
#[inline(always)]
fn read_kernel<T>(src: u64) -> Option<T> {
    let mut v = core::mem::MaybeUninit::<T>::uninit();
    // SAFETY: reads size_of::<T>() bytes of kernel memory into a local buffer; the helper
    // fails cleanly on a bad address.
    let r = unsafe {
        aya_ebpf::helpers::generated::bpf_probe_read_kernel(
            v.as_mut_ptr() as *mut c_void,
            core::mem::size_of::<T>() as u32,
            src as *const c_void,
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: fully initialised by the successful read above.
    Some(unsafe { v.assume_init() })
}

/// The socket's own identity at connect/accept time, so that userspace pairs the two local
/// ends of a connection from what the kernel knows instead of racing `/proc`:
/// `current->files->fdt->fd[fd]->private_data` is the `struct socket`, its `sk` the
/// `struct sock`, whose `sock_common` holds the TCP tuple, and a Unix socket's `unix_sock.peer`
/// the other end. Every step is a checked `bpf_probe_read_kernel`; on any failure `sock_id`
/// stays 0 and userspace falls back to its older pairing.
#[inline(always)]
fn sock_identity(fd: u32, e: &mut ConnEvent) {
    let o = SOCK_OFF.load();
    if o.valid == 0 {
        return;
    }
    let FdSlot::File(file) = fd_file(&o, fd) else {
        return;
    };
    let Some(socket) = read_kernel::<u64>(file + o.file_private_data as u64) else {
        return;
    };
    let Some(sk) = read_kernel::<u64>(socket + o.socket_sk as u64) else {
        return;
    };
    if sk == 0 {
        return;
    }
    let Some(family) = read_kernel::<u16>(sk + o.skc_family as u64) else {
        return;
    };
    e.sock = sk;
    match family as u32 {
        FAMILY_UNIX => {
            if let Some(peer) = read_kernel::<u64>(sk + o.unix_peer as u64) {
                e.peer_sock = peer;
                e.sock_id = SOCK_ID_UNIX;
            }
        }
        FAMILY_INET | FAMILY_INET6 => {
            let (Some(num), Some(dport)) = (
                read_kernel::<u16>(sk + o.skc_num as u64),
                read_kernel::<u16>(sk + o.skc_dport as u64),
            ) else {
                return;
            };
            e.local_port = num as u32;
            e.remote_port = u16::from_be(dport) as u32;
            if family as u32 == FAMILY_INET {
                let (Some(l), Some(r)) = (
                    read_kernel::<[u8; 4]>(sk + o.skc_rcv_saddr as u64),
                    read_kernel::<[u8; 4]>(sk + o.skc_daddr as u64),
                ) else {
                    return;
                };
                e.local_addr = [0; 16];
                e.remote_addr = [0; 16];
                e.local_addr[0] = l[0];
                e.local_addr[1] = l[1];
                e.local_addr[2] = l[2];
                e.local_addr[3] = l[3];
                e.remote_addr[0] = r[0];
                e.remote_addr[1] = r[1];
                e.remote_addr[2] = r[2];
                e.remote_addr[3] = r[3];
            } else {
                if o.skc_v6_daddr == 0 {
                    return;
                }
                let (Some(l), Some(r)) = (
                    read_kernel::<[u8; 16]>(sk + o.skc_v6_rcv_saddr as u64),
                    read_kernel::<[u8; 16]>(sk + o.skc_v6_daddr as u64),
                ) else {
                    return;
                };
                e.local_addr = l;
                e.remote_addr = r;
            }
            e.sock_id = SOCK_ID_TCP;
        }
        _ => {}
    }
}

#[inline(always)]
fn new_conn_id() -> u64 {
    // SAFETY: helpers without preconditions. Unique per CPU and nanosecond.
    unsafe { (bpf_ktime_get_ns() << 8) | (bpf_get_smp_processor_id() as u64 & 0xff) }
}

/// The [`LocalEndKey`] of a connection end whose socket identity the kernel read.
#[inline(always)]
fn local_end_key(e: &ConnEvent, role: u32) -> Option<LocalEndKey> {
    let mut k = LocalEndKey {
        addr: [0; 16],
        port: 0,
        peer_port: 0,
    };
    if e.sock_id == SOCK_ID_TCP {
        if role == ROLE_CLIENT {
            k.addr = e.local_addr;
            k.port = e.local_port;
            k.peer_port = e.remote_port;
        } else {
            k.addr = e.remote_addr;
            k.port = e.remote_port;
            k.peer_port = e.local_port;
        }
    } else if e.sock_id == SOCK_ID_UNIX {
        let sk = if role == ROLE_CLIENT {
            e.peer_sock
        } else {
            e.sock
        };
        if sk == 0 {
            return None;
        }
        let b = sk.to_le_bytes();
        for i in 0..8 {
            k.addr[i] = b[i];
        }
        k.port = u32::MAX;
        k.peer_port = u32::MAX;
    } else {
        return None;
    }
    Some(k)
}

/// Starts watching `(tgid, fd)` as a new connection (one handle). A full map is counted.
#[inline(always)]
fn watch(tgid: u32, fd: u32, info: ConnInfo) {
    let state = ConnState {
        tx_off: 0,
        rx_off: 0,
        ssl_tx_off: 0,
        ssl_rx_off: 0,
        refs: 1,
        _pad: 0,
    };
    if CONN_STATE.insert(info.conn_id, state, 0).is_err()
        || CONNS.insert(conn_key(tgid, fd), info, 0).is_err()
    {
        let _ = CONN_STATE.remove(info.conn_id);
        count(CNT_MAP_FULL_CONNS, 1);
        return;
    }
    if info.role == ROLE_CLIENT {
        slot_add(tgid, fd);
    }
}

/// Makes `(to_tgid, to_fd)` a second handle on the connection watched at
/// `(from_tgid, from_fd)`: a duplicated or inherited fd. Returns whether it did.
#[inline(always)]
fn alias(from_tgid: u32, from_fd: u32, to_tgid: u32, to_fd: u32) -> bool {
    // SAFETY: plain value read.
    let Some(mut info) = (unsafe { CONNS.get(conn_key(from_tgid, from_fd)) }).copied() else {
        return false;
    };
    info.flags = CONN_FLAG_ALIAS;
    let Some(st) = CONN_STATE.get_ptr_mut(info.conn_id) else {
        return false;
    };
    if CONNS.insert(conn_key(to_tgid, to_fd), info, 0).is_err() {
        count(CNT_MAP_FULL_CONNS, 1);
        return false;
    }
    // SAFETY: map value pointer. Two racing handle changes on one connection at most skew the
    // count, which ends the session early (a close) or leaves it to the process-exit reaper.
    unsafe { (*st).refs += 1 };
    if info.role == ROLE_CLIENT {
        slot_add(to_tgid, to_fd);
    }
    true
}

/// Records a watched client fd of `tgid` in its slot table.
#[inline(always)]
fn slot_add(tgid: u32, fd: u32) {
    // SAFETY: plain value read.
    let mut s = (unsafe { CLIENT_FDS.get(tgid) })
        .copied()
        .unwrap_or(FdSlots { fds: [0; FD_SLOTS] });
    let mut free = FD_SLOTS;
    for i in 0..FD_SLOTS {
        if s.fds[i] == fd + 1 {
            return;
        }
        if free == FD_SLOTS && s.fds[i] == 0 {
            free = i;
        }
    }
    if free >= FD_SLOTS {
        count(CNT_MAP_FULL_FDS, 1);
        return;
    }
    s.fds[free] = fd + 1;
    if CLIENT_FDS.insert(tgid, s, 0).is_err() {
        count(CNT_MAP_FULL_FDS, 1);
    }
}

#[inline(always)]
fn slot_remove(tgid: u32, fd: u32) {
    if let Some(p) = CLIENT_FDS.get_ptr_mut(tgid) {
        for i in 0..FD_SLOTS {
            // SAFETY: map value pointer.
            unsafe {
                if (*p).fds[i] == fd + 1 {
                    (*p).fds[i] = 0;
                }
            }
        }
    }
}

#[inline(always)]
fn open_conn(p: &Pending, fd: u32, source: Source) {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let conn_id = new_conn_id();
    let info = ConnInfo {
        conn_id,
        role: p.role,
        flags: 0,
    };
    let Some(mut entry) = EVENTS.reserve::<ConnEvent>(0) else {
        if p.role == ROLE_AGENT {
            return;
        }
        // Userspace will not know the connection, but its bytes are still captured and the
        // loss is counted.
        watch(tgid, fd, info);
        count(CNT_RING_FULL_CONN, 1);
        return;
    };
    let e = entry.as_mut_ptr();
    // SAFETY: `e` points at a reserved ConnEvent; every field is written.
    unsafe {
        (*e).hdr = header(EventKind::ConnOpen, source, conn_id, fd, 0);
        (*e).role = p.role;
        (*e).engine = p.engine;
        (*e).family = p.family;
        (*e).port = p.port;
        (*e).addr = p.addr;
        (*e).peer_port = p.peer_port;
        (*e).login_uid = login_uid();
        (*e).path = p.path;
        (*e)._pad = [0; 4];
        (*e).comm = aya_ebpf::helpers::bpf_get_current_comm().unwrap_or([0; 16]);
        (*e).sock_id = 0;
        (*e).local_port = 0;
        (*e).local_addr = [0; 16];
        (*e).remote_addr = [0; 16];
        (*e).remote_port = 0;
        (*e).flags = 0;
        (*e).sock = 0;
        (*e).peer_sock = 0;
        sock_identity(fd, &mut *e);
    }
    // A local connection is seen at both ends: the client end registers itself, and the
    // server end that accepts it is then not captured (userspace decodes the client end).
    // SAFETY: `e` was fully written above.
    let mut mirror = false;
    if let Some(k) = local_end_key(
        unsafe { &*e },
        if p.role == ROLE_AGENT {
            ROLE_CLIENT
        } else {
            p.role
        },
    ) {
        if p.role == ROLE_AGENT {
            // The agent's own connection: neither end is captured. Its client end is only
            // remembered, so that the local server accepting it knows.
            let _ = LOCAL_ENDS.insert(k, AGENT_END, 0);
            entry.discard(0);
            return;
        } else if p.role == ROLE_CLIENT {
            let _ = LOCAL_ENDS.insert(k, conn_id, 0);
        } else {
            // SAFETY: plain value read.
            if let Some(end) = unsafe { LOCAL_ENDS.get(k) }.copied() {
                let _ = LOCAL_ENDS.remove(k);
                if end == AGENT_END {
                    entry.discard(0);
                    return;
                }
                mirror = true;
            }
        }
    }
    if p.role == ROLE_AGENT {
        entry.discard(0);
        return;
    }
    if mirror {
        // SAFETY: as above.
        unsafe { (*e).flags = CONN_EV_LOCAL_MIRROR };
    } else {
        watch(tgid, fd, info);
    }
    // A new client may be gone in milliseconds (`psql -c`): wake userspace now, so it reads
    // the client's /proc entry (executable, command line) while the process still runs.
    // Server ends (a long-lived listener) wait for the next drain, and so do processes that
    // connected in the last second: with `pgbench -C` that saves two wakeups per connection.
    // A process seen in the last second (a pool, `pgbench -C`) is already known to userspace.
    let mut wake = false;
    if p.role == ROLE_CLIENT {
        // SAFETY: helper without preconditions.
        let now = unsafe { bpf_ktime_get_ns() };
        // SAFETY: plain value read.
        let last = unsafe { WOKEN.get(tgid) }.copied().unwrap_or(0);
        if last == 0 || now.wrapping_sub(last) > 1_000_000_000 {
            wake = true;
            let _ = WOKEN.insert(tgid, now, 0);
        }
    }
    entry.submit(if wake {
        aya_ebpf::bindings::BPF_RB_FORCE_WAKEUP as u64
    } else {
        wake_flags()
    });
}

/// `sys_enter_bind(fd, umyaddr, addrlen)`: a database server's listening address is remembered
/// until the bind's result is known.
#[tracepoint]
pub fn enter_bind(ctx: TracePointContext) -> u32 {
    if is_agent() {
        return 0;
    }
    let fd = arg(&ctx, 0) as u32;
    let mut p = empty_pending(fd, ROLE_SERVER);
    if let Some(engine) = match_sockaddr(arg(&ctx, 1), &mut p) {
        p.engine = engine;
        if PENDING.insert(bpf_get_current_pid_tgid(), p, 0).is_err() {
            count(CNT_MAP_FULL_PENDING, 1);
        }
    }
    0
}

/// `sys_exit_bind`: only a successful bind makes a listener (a failed one must not shadow the
/// real server's socket).
#[tracepoint]
pub fn exit_bind(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: copied before removal.
    let Some(p) = (unsafe { PENDING.get(pid_tgid) }).copied() else {
        return 0;
    };
    let _ = PENDING.remove(pid_tgid);
    if ret(&ctx) != 0 || p.role != ROLE_SERVER {
        return 0;
    }
    let tgid = (pid_tgid >> 32) as u32;
    let li = ListenInfo {
        port: p.port,
        engine: p.engine,
        family: p.family,
        _pad: 0,
        path: p.path,
        _pad2: [0; 4],
    };
    if LISTENERS.insert(conn_key(tgid, p.fd), li, 0).is_err() {
        count(CNT_MAP_FULL_LISTENERS, 1);
    }
    0
}

/// `sys_enter_accept{,4}(fd, upeer_sockaddr, upeer_addrlen[, flags])`.
#[tracepoint]
pub fn enter_accept(ctx: TracePointContext) -> u32 {
    let fd = arg(&ctx, 0) as u32;
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: plain value read.
    let Some(li) = (unsafe { LISTENERS.get(conn_key(tgid, fd)) }).copied() else {
        return 0;
    };
    let mut p = empty_pending(fd, ROLE_SERVER);
    p.engine = li.engine;
    p.port = li.port;
    p.family = li.family;
    p.path = li.path;
    p.sockaddr = arg(&ctx, 1);
    if PENDING.insert(bpf_get_current_pid_tgid(), p, 0).is_err() {
        count(CNT_MAP_FULL_PENDING, 1);
    }
    0
}

/// `sys_exit_accept{,4}`: `ret` is the new connection's fd.
#[tracepoint]
pub fn exit_accept(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: copied before removal.
    let Some(mut p) = (unsafe { PENDING.get(pid_tgid) }).copied() else {
        return 0;
    };
    let _ = PENDING.remove(pid_tgid);
    let r = ret(&ctx);
    if r < 0 {
        return 0;
    }
    let fd = r as u32;
    if p.sockaddr != 0 && p.family != FAMILY_UNIX {
        if let Some(fam) = read_user::<u16>(p.sockaddr) {
            if let Some(port) = read_user::<u16>(p.sockaddr + 2) {
                p.peer_port = u16::from_be(port) as u32;
            }
            if fam as u32 == FAMILY_INET {
                if let Some(a) = read_user::<[u8; 4]>(p.sockaddr + 4) {
                    p.addr[0] = a[0];
                    p.addr[1] = a[1];
                    p.addr[2] = a[2];
                    p.addr[3] = a[3];
                }
            } else if fam as u32 == FAMILY_INET6 {
                if let Some(a) = read_user::<[u8; 16]>(p.sockaddr + 8) {
                    p.addr = a;
                }
            }
        }
    }
    open_conn(&p, fd, Source::Accept);
    if p.engine == ENGINE_POSTGRES {
        // PostgreSQL forks a backend per accepted connection: remember the fd for the fork.
        let tgid = (pid_tgid >> 32) as u32;
        // SAFETY: plain value read.
        let mut rec = (unsafe { RECENT_ACCEPT.get(tgid) })
            .copied()
            .unwrap_or(Recent { fds: [0; 4] });
        let mut placed = false;
        for i in 0..4 {
            if !placed && rec.fds[i] == 0 {
                rec.fds[i] = fd + 1;
                placed = true;
            }
        }
        if !placed {
            rec.fds[0] = fd + 1;
        }
        let _ = RECENT_ACCEPT.insert(tgid, rec, 0);
    }
    0
}

/// `sched/sched_process_fork(parent_comm, parent_pid, child_comm, child_pid)`: a forking server
/// hands its freshly accepted connections to the child.
#[tracepoint]
pub fn sched_fork(ctx: TracePointContext) -> u32 {
    // SAFETY: offsets come from the tracepoint's format file.
    let parent = unsafe { ctx.read_at::<u32>(FORK_PARENT_OFF.load() as usize) }.unwrap_or(0);
    // SAFETY: as above.
    let child = unsafe { ctx.read_at::<u32>(FORK_CHILD_OFF.load() as usize) }.unwrap_or(0);
    // SAFETY: plain value read.
    let Some(rec) = (unsafe { RECENT_ACCEPT.get(parent) }).copied() else {
        return 0;
    };
    let _ = RECENT_ACCEPT.remove(parent);
    for i in 0..4 {
        let slot = rec.fds[i];
        if slot == 0 {
            continue;
        }
        // The child holds a second handle: the parent's close is then not the session's end.
        alias(parent, slot - 1, child, slot - 1);
    }
    0
}

/// `task/task_newtask(pid, comm, clone_flags, ...)`, in the parent: a new process (not a
/// thread) inherits the parent's watched client connections, which stay watched in the
/// child under the same connection.
#[tracepoint]
pub fn task_newtask(ctx: TracePointContext) -> u32 {
    const CLONE_THREAD: u64 = 0x0001_0000;
    // SAFETY: offsets come from the tracepoint's format file.
    let flags = unsafe { ctx.read_at::<u64>(NEWTASK_FLAGS_OFF.load() as usize) }.unwrap_or(0);
    if flags & CLONE_THREAD != 0 {
        return 0;
    }
    // SAFETY: as above.
    let child = unsafe { ctx.read_at::<u32>(NEWTASK_PID_OFF.load() as usize) }.unwrap_or(0);
    let parent = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: plain value read.
    let Some(slots) = (unsafe { CLIENT_FDS.get(parent) }).copied() else {
        return 0;
    };
    for i in 0..FD_SLOTS {
        let slot = slots.fds[i];
        if slot != 0 {
            alias(parent, slot - 1, child, slot - 1);
        }
    }
    0
}

/// `sched/sched_process_exec`: the close-on-exec sweep already ran, so a watched client fd
/// that is no longer open ends its watch; each one still open is reported, and userspace
/// reads the process's new identity.
#[tracepoint]
pub fn sched_exec(_ctx: TracePointContext) -> u32 {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: plain value read.
    let Some(slots) = (unsafe { CLIENT_FDS.get(tgid) }).copied() else {
        return 0;
    };
    for i in 0..FD_SLOTS {
        let slot = slots.fds[i];
        if slot == 0 {
            continue;
        }
        let fd = slot - 1;
        if !fd_open(fd) {
            end_watch(fd);
            continue;
        }
        // SAFETY: plain value read.
        if let Some(info) = (unsafe { CONNS.get(conn_key(tgid, fd)) }).copied() {
            let hdr = header(EventKind::Exec, Source::Exec, info.conn_id, fd, 0);
            if EVENTS.output::<EventHeader>(&hdr, wake_flags()).is_err() {
                count(CNT_RING_FULL_CONN, 1);
            }
        }
    }
    0
}

/// `sched/sched_process_exit`: when the whole process is gone, its watched client handles
/// close (the kernel closes its files without a `close` syscall).
#[tracepoint]
pub fn sched_exit(ctx: TracePointContext) -> u32 {
    // Every exiting thread: its syscall entry, if it used a watched connection.
    let _ = STASH.remove(bpf_get_current_pid_tgid());
    let off = EXIT_GROUP_DEAD_OFF.load();
    if off != 0 {
        // SAFETY: offset from the tracepoint's format file.
        let dead = unsafe { ctx.read_at::<u8>(off as usize) }.unwrap_or(0);
        if dead == 0 {
            return 0;
        }
    }
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: plain value read.
    let Some(slots) = (unsafe { CLIENT_FDS.get(tgid) }).copied() else {
        return 0;
    };
    for i in 0..FD_SLOTS {
        let slot = slots.fds[i];
        if slot != 0 {
            end_watch(slot - 1);
        }
    }
    let _ = CLIENT_FDS.remove(tgid);
    0
}

/// Whether `fd` is open in the current process's file table (true when the kernel offsets
/// are unknown).
#[inline(always)]
fn fd_open(fd: u32) -> bool {
    let o = SOCK_OFF.load();
    if o.valid == 0 {
        return true;
    }
    !matches!(fd_file(&o, fd), FdSlot::Closed)
}

/// What the current task's file table holds at `fd`.
enum FdSlot {
    /// The table could not be read.
    Unknown,
    /// No file at that number.
    Closed,
    /// The `struct file` address.
    File(u64),
}

/// Walks task -> files -> fdt -> fd[fd] with the offsets userspace found in BTF.
#[inline(always)]
fn fd_file(o: &SockOffsets, fd: u32) -> FdSlot {
    // SAFETY: helper without preconditions; the result is only used as an address to read.
    let task = unsafe { aya_ebpf::helpers::bpf_get_current_task() };
    let Some(files) = read_kernel::<u64>(task + o.task_files as u64) else {
        return FdSlot::Unknown;
    };
    let Some(fdt) = read_kernel::<u64>(files + o.files_fdt as u64) else {
        return FdSlot::Unknown;
    };
    let Some(max) = read_kernel::<u32>(fdt + o.fdt_max_fds as u64) else {
        return FdSlot::Unknown;
    };
    if fd >= max {
        return FdSlot::Closed;
    }
    let Some(fds) = read_kernel::<u64>(fdt + o.fdt_fd as u64) else {
        return FdSlot::Unknown;
    };
    match read_kernel::<u64>(fds + 8 * fd as u64) {
        None => FdSlot::Unknown,
        Some(0) => FdSlot::Closed,
        Some(f) => FdSlot::File(f),
    }
}

/// `sys_enter_close(fd)`.
#[tracepoint]
pub fn enter_close(ctx: TracePointContext) -> u32 {
    end_watch(arg(&ctx, 0) as u32);
    0
}

/// `sys_enter_{dup2,dup3}(oldfd, newfd, ...)`: `newfd` is closed and replaced. A watch on it
/// ends there, so an unrelated socket moved onto that number is not decoded as the session.
/// When `oldfd` is watched, `newfd` becomes a second handle on it (see [`exit_dup`]).
#[tracepoint]
pub fn enter_dup_over(ctx: TracePointContext) -> u32 {
    let (old, new) = (arg(&ctx, 0), arg(&ctx, 1));
    if old != new {
        end_watch(new as u32);
        stash_dup(old as u32);
    }
    0
}

/// `sys_enter_dup(oldfd)`.
#[tracepoint]
pub fn enter_dup(ctx: TracePointContext) -> u32 {
    stash_dup(arg(&ctx, 0) as u32);
    0
}

/// `sys_enter_fcntl(fd, cmd, arg)`: `F_DUPFD` and `F_DUPFD_CLOEXEC` duplicate.
#[tracepoint]
pub fn enter_fcntl(ctx: TracePointContext) -> u32 {
    const F_DUPFD: u64 = 0;
    const F_DUPFD_CLOEXEC: u64 = 1030;
    let cmd = arg(&ctx, 1);
    if cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC {
        stash_dup(arg(&ctx, 0) as u32);
    }
    0
}

#[inline(always)]
fn stash_dup(old: u32) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if CONNS.get_ptr(conn_key(tgid, old)).is_none() {
        return;
    }
    if DUPS.insert(pid_tgid, old, 0).is_err() {
        count(CNT_MAP_FULL_PENDING, 1);
    }
}

/// `sys_exit_{dup,dup2,dup3,fcntl}`: `ret` is the new fd, a second handle on the connection.
#[tracepoint]
pub fn exit_dup(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: copied before removal.
    let Some(old) = (unsafe { DUPS.get(pid_tgid) }).copied() else {
        return 0;
    };
    let _ = DUPS.remove(pid_tgid);
    let r = ret(&ctx);
    if r < 0 || r as u32 == old {
        return 0;
    }
    let tgid = (pid_tgid >> 32) as u32;
    alias(tgid, old, tgid, r as u32);
    0
}

/// `sys_enter_close_range(fd, max_fd, flags)`: the watched client fds in the range end (with
/// `CLOSE_RANGE_CLOEXEC` they end at the exec instead), and so does any other watched fd among
/// the first 32 of the range.
#[tracepoint]
pub fn enter_close_range(ctx: TracePointContext) -> u32 {
    const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;
    if arg(&ctx, 2) & CLOSE_RANGE_CLOEXEC != 0 {
        return 0;
    }
    let (first, last) = (arg(&ctx, 0) as u32, arg(&ctx, 1) as u32);
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: plain value read.
    if let Some(slots) = (unsafe { CLIENT_FDS.get(tgid) }).copied() {
        for i in 0..FD_SLOTS {
            let slot = slots.fds[i];
            if slot != 0 && slot - 1 >= first && slot - 1 <= last {
                end_watch(slot - 1);
            }
        }
    }
    for i in 0..32u32 {
        let fd = first.wrapping_add(i);
        if fd < first || fd > last {
            break;
        }
        end_watch(fd);
    }
    0
}

/// `sys_enter_sendmsg`: a watched fd passed to another process in an `SCM_RIGHTS` message is a
/// gap on its connection (the receiver's use of it is not followed). The first two control
/// messages and eight fds of each are checked.
#[inline(always)]
fn scm_rights(msg: u64) {
    // struct msghdr: msg_control at 32, msg_controllen at 40.
    let Some(clen) = read_user::<u64>(msg + 40) else {
        return;
    };
    if clen < 20 {
        return;
    }
    let Some(ctl) = read_user::<u64>(msg + 32) else {
        return;
    };
    let mut off: u64 = 0;
    for _ in 0..2 {
        if off + 20 > clen {
            break;
        }
        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; data }
        let Some(h) = read_user::<[u32; 4]>(ctl + off) else {
            break;
        };
        let len = h[0] as u64 | ((h[1] as u64) << 32);
        if len < 16 || len > clen {
            break;
        }
        if h[2] == 1 && h[3] == 1 {
            let n = (len - 16) / 4;
            for j in 0..8u64 {
                if j >= n {
                    break;
                }
                if let Some(fd) = read_user::<i32>(ctl + off + 16 + 4 * j) {
                    if fd >= 0 {
                        uncaptured(fd as u64, Source::ScmRights, Direction::Egress, 0);
                    }
                }
            }
        }
        off += (len + 7) & !7;
    }
}

/// `io_uring/io_uring_file_get(ctx, req, user_data, fd)`: an io_uring request on a watched fd
/// moves bytes the agent does not see.
#[tracepoint]
pub fn io_uring_file_get(ctx: TracePointContext) -> u32 {
    // SAFETY: offset from the tracepoint's format file.
    let fd = unsafe { ctx.read_at::<i32>(IOU_FD_OFF.load() as usize) }.unwrap_or(-1);
    if fd >= 0 {
        uncaptured(fd as u64, Source::IoUring, Direction::Egress, 0);
    }
    0
}

/// `sys_enter_io_uring_register(fd, opcode, arg, nr_args)`: a watched fd registered as an
/// io_uring fixed file (its later requests do not name the fd).
#[tracepoint]
pub fn enter_io_uring_register(ctx: TracePointContext) -> u32 {
    const REGISTER_FILES: u64 = 2;
    const REGISTER_FILES_UPDATE: u64 = 6;
    const REGISTER_FILES2: u64 = 13;
    const REGISTER_FILES_UPDATE2: u64 = 14;
    let (op, a, nr) = (arg(&ctx, 1), arg(&ctx, 2), arg(&ctx, 3));
    let (fds, n) = match op {
        REGISTER_FILES => (a, nr),
        // struct io_uring_files_update { u32 offset; u32 resv; u64 fds; }
        REGISTER_FILES_UPDATE => (read_user::<u64>(a + 8).unwrap_or(0), nr),
        // struct io_uring_rsrc_register { u32 nr; u32 flags; u64 resv2; u64 data; u64 tags; }
        REGISTER_FILES2 => (
            read_user::<u64>(a + 16).unwrap_or(0),
            read_user::<u32>(a).unwrap_or(0) as u64,
        ),
        // struct io_uring_rsrc_update2 { u32 offset; u32 resv; u64 data; u64 tags; u32 nr; }
        REGISTER_FILES_UPDATE2 => (
            read_user::<u64>(a + 8).unwrap_or(0),
            read_user::<u32>(a + 24).unwrap_or(0) as u64,
        ),
        _ => return 0,
    };
    if fds == 0 {
        return 0;
    }
    for j in 0..16u64 {
        if j >= n {
            break;
        }
        if let Some(fd) = read_user::<i32>(fds + 4 * j) {
            if fd >= 0 {
                uncaptured(fd as u64, Source::IoUringRegister, Direction::Egress, 0);
            }
        }
    }
    0
}

/// The watched connection on `fd` of the current process ends (its fd is closed or replaced).
/// The connection itself ends with its last handle.
#[inline(always)]
fn end_watch(fd: u32) {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let key = conn_key(tgid, fd);
    // SAFETY: copied before removal.
    let Some(info) = (unsafe { CONNS.get(key) }).copied() else {
        return;
    };
    let _ = CONNS.remove(key);
    if info.role == ROLE_CLIENT {
        slot_remove(tgid, fd);
    }
    if let Some(st) = CONN_STATE.get_ptr_mut(info.conn_id) {
        // SAFETY: map value pointer.
        let refs = unsafe { (*st).refs };
        if refs > 1 {
            // SAFETY: as above.
            unsafe { (*st).refs = refs - 1 };
            return;
        }
        let _ = CONN_STATE.remove(info.conn_id);
    }
    let hdr = header(EventKind::ConnClose, Source::Close, info.conn_id, fd, 0);
    if EVENTS.output::<EventHeader>(&hdr, wake_flags()).is_err() {
        count(CNT_RING_FULL_CONN, 1);
    }
}

#[inline(always)]
fn ssl_enter(ctx: &ProbeContext, direction: Direction, ex: bool) {
    let ssl: u64 = ctx.arg(0).unwrap_or(0);
    let buf: u64 = ctx.arg(1).unwrap_or(0);
    let len_ptr: u64 = if ex { ctx.arg(3).unwrap_or(0) } else { 0 };
    let a = SslArgs {
        ssl,
        buf,
        len_ptr,
        direction: direction as u32,
        ex: if ex { 1 } else { 0 },
        // SAFETY: helper without preconditions.
        ts: unsafe { bpf_ktime_get_ns() },
        fd: 0,
        _pad: 0,
    };
    let _ = SSL_ARGS.insert(bpf_get_current_pid_tgid(), a, 0);
}

/// uprobe `SSL_write(SSL *ssl, const void *buf, int num)`.
#[uprobe]
pub fn ssl_write_enter(ctx: ProbeContext) -> u32 {
    ssl_enter(&ctx, Direction::Egress, false);
    0
}

/// uprobe `SSL_write_ex(SSL *ssl, const void *buf, size_t num, size_t *written)`.
#[uprobe]
pub fn ssl_write_ex_enter(ctx: ProbeContext) -> u32 {
    ssl_enter(&ctx, Direction::Egress, true);
    0
}

/// uprobe `SSL_read(SSL *ssl, void *buf, int num)`.
#[uprobe]
pub fn ssl_read_enter(ctx: ProbeContext) -> u32 {
    ssl_enter(&ctx, Direction::Ingress, false);
    0
}

/// uprobe `SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes)`.
#[uprobe]
pub fn ssl_read_ex_enter(ctx: ProbeContext) -> u32 {
    ssl_enter(&ctx, Direction::Ingress, true);
    0
}

/// uretprobe of all four: `SSL_read`/`SSL_write` return the byte count (<= 0 on failure);
/// the `_ex` variants return 1 and store the count through their last argument.
#[uretprobe]
pub fn ssl_exit(ctx: RetProbeContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: copied before removal.
    let Some(a) = (unsafe { SSL_ARGS.get(pid_tgid) }).copied() else {
        return 0;
    };
    let _ = SSL_ARGS.remove(pid_tgid);
    let r: i64 = ctx.ret::<i64>() as i32 as i64;
    let n: u64 = if a.ex == 1 {
        if r != 1 || a.len_ptr == 0 {
            return 0;
        }
        read_user::<u64>(a.len_ptr).unwrap_or(0)
    } else {
        if r <= 0 {
            return 0;
        }
        r as u64
    };
    if n == 0 {
        return 0;
    }
    let tgid = (pid_tgid >> 32) as u32;
    // The plaintext belongs to the socket this very call read or wrote. A read served from
    // the library's buffer makes no syscall: it goes to the socket its SSL* last used. A write
    // always reaches its socket inside the call; one that did not is not attributed, so an
    // SSL* tied to a connection once cannot pass off later bytes as that connection's.
    let fd = if a.fd != 0 {
        a.fd - 1
    } else if a.direction == Direction::Ingress as u32 {
        // SAFETY: plain value read.
        match unsafe {
            SSL_FDS.get(SslKey {
                ssl: a.ssl,
                tgid,
                _pad: 0,
            })
        } {
            Some(fd) => *fd,
            // Not a watched connection, or no syscall seen yet for this SSL*.
            None => return 0,
        }
    } else {
        return 0;
    };
    // SAFETY: plain value read.
    let Some((conn_id, role)) =
        (unsafe { CONNS.get(conn_key(tgid, fd)) }).map(|c| (c.conn_id, c.role))
    else {
        count(CNT_SSL_UNATTRIBUTED, 1);
        return 0;
    };
    let Some(conn) = CONN_STATE.get_ptr_mut(conn_id) else {
        count(CNT_SSL_UNATTRIBUTED, 1);
        return 0;
    };
    // SAFETY: map value pointer.
    let off = unsafe {
        let c = &mut *conn;
        if a.direction == Direction::Egress as u32 {
            let o = c.ssl_tx_off;
            c.ssl_tx_off = o + n;
            o
        } else {
            let o = c.ssl_rx_off;
            c.ssl_rx_off = o + n;
            o
        }
    };
    let source = if a.direction == Direction::Egress as u32 {
        Source::SslWrite
    } else {
        Source::SslRead
    };
    let mut hdr = header(EventKind::Data, source, conn_id, fd, a.direction);
    hdr.total_len = n as u32;
    let keep = shed_len(role, a.direction, n);
    emit_buf(&mut hdr, a.buf, keep, off, MAX_CHUNKS_PER_CALL);
    if keep < n {
        shed(&hdr, off + keep, n - keep);
    }
    0
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

/// `OSSL_PARAM` as OpenSSL 3 lays it out: key, data_type, data, data_size, return_size.
const OSSL_PARAM_SIZE: u64 = 40;
/// `tls13_hkdf_expand` passes 6 or 7 parameters (mode, digest, key, prefix, label, data, end).
const KDF_MAX_PARAMS: u64 = 8;

/// uprobe `EVP_KDF_derive(EVP_KDF_CTX *ctx, unsigned char *key, size_t keylen,
/// const OSSL_PARAM params[])` in OpenSSL 3's libcrypto. OpenSSL's TLS 1.3 key schedule
/// derives every secret through it, with the label (`c ap traffic`, `s ap traffic`, ...) among
/// the parameters, and so does its TLS 1.2 PRF (the label is the first `seed`). Only the two
/// TLS 1.3 application traffic secrets and the TLS 1.2 key block are kept: with them userspace
/// decrypts the records the syscall tracepoints captured, so steady-state TLS traffic pays no
/// probe at all (a handshake makes 4 to 20 calls).
#[uprobe]
pub fn kdf_enter(ctx: ProbeContext) -> u32 {
    let out: u64 = ctx.arg(1).unwrap_or(0);
    let len: u64 = ctx.arg(2).unwrap_or(0);
    let params: u64 = ctx.arg(3).unwrap_or(0);
    if out == 0 || params == 0 || len == 0 || len > TLS_SECRET_MAX as u64 {
        return 0;
    }
    let mut i = 0;
    while i < KDF_MAX_PARAMS {
        let p = params + i * OSSL_PARAM_SIZE;
        let Some(key) = read_user::<u64>(p) else {
            return 0;
        };
        if key == 0 {
            return 0;
        }
        if read_user::<[u8; 5]>(key) == Some(*b"seed\0") {
            // TLS1-PRF: the first seed is the label.
            let data = read_user::<u64>(p + 16).unwrap_or(0);
            let size = read_user::<u64>(p + 24).unwrap_or(0);
            if data == 0 || size != 13 || read_user::<[u8; 13]>(data) != Some(*b"key expansion") {
                return 0;
            }
            let a = KdfArgs {
                out,
                len: len as u32,
                which: TLS12_KEY_BLOCK,
            };
            let _ = KDF_ARGS.insert(bpf_get_current_pid_tgid(), a, 0);
            return 0;
        }
        if read_user::<[u8; 6]>(key) == Some(*b"label\0") {
            let data = read_user::<u64>(p + 16).unwrap_or(0);
            let size = read_user::<u64>(p + 24).unwrap_or(0);
            if data == 0 || size != 12 {
                return 0;
            }
            let which = match read_user::<[u8; 12]>(data) {
                Some(l) if l == *b"c ap traffic" => TLS_SECRET_CLIENT,
                Some(l) if l == *b"s ap traffic" => TLS_SECRET_SERVER,
                _ => return 0,
            };
            let a = KdfArgs {
                out,
                len: len as u32,
                which,
            };
            let _ = KDF_ARGS.insert(bpf_get_current_pid_tgid(), a, 0);
            return 0;
        }
        i += 1;
    }
    0
}

/// uretprobe of `EVP_KDF_derive`: returns 1 on success, the secret is then in `out`.
#[uretprobe]
pub fn kdf_exit(ctx: RetProbeContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: copied before removal.
    let Some(a) = (unsafe { KDF_ARGS.get(pid_tgid) }).copied() else {
        return 0;
    };
    let _ = KDF_ARGS.remove(pid_tgid);
    let r: i64 = ctx.ret::<i64>() as i32 as i64;
    if r <= 0 {
        return 0;
    }
    let Some(mut entry) = EVENTS.reserve::<DataChunk<TLS_SECRET_MAX>>(0) else {
        count(CNT_TLS_SECRET_LOST, 1);
        return 0;
    };
    let p = entry.as_mut_ptr();
    let mut hdr = header(EventKind::TlsSecret, Source::Kdf, 0, 0, a.which);
    let n = (a.len as usize).min(TLS_SECRET_MAX);
    hdr.total_len = n as u32;
    hdr.captured_len = n as u32;
    // SAFETY: `p` points at a reserved chunk; the header is written whole and the secret
    // read into its data array (zeroed first, so nothing uninitialised reaches userspace).
    let ok = unsafe {
        (*p).hdr = hdr;
        (*p).data = [0u8; TLS_SECRET_MAX];
        bpf_probe_read_user(
            (*p).data.as_mut_ptr() as *mut c_void,
            n as u32,
            a.out as *const c_void,
        ) == 0
    };
    if ok {
        entry.submit(wake_flags());
    } else {
        entry.discard(0);
        count(CNT_TLS_SECRET_LOST, 1);
    }
    0
}
