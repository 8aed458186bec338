//! Types shared by the kernel programs (`agent-ebpf`) and the userspace agent.
//!
//! Every record the kernel writes to the ring buffer starts with an [`EventHeader`]. The header's
//! `kind` says which payload follows. Kind ids are `#[repr(u32)]` and are never reused. There is
//! no implicit padding anywhere (compile-time size asserts below), so userspace can decode the
//! bytes with plain length checks.
#![no_std]

/// Bytes of payload in the smallest data chunk class.
pub const CHUNK_SMALL: usize = 256;
/// Bytes of payload in the middle data chunk class.
pub const CHUNK_MEDIUM: usize = 2048;
/// Bytes of payload in the largest data chunk class.
pub const CHUNK_LARGE: usize = 16384;
/// A single buffer syscall is split into at most this many chunks; the rest is recorded as truncated.
pub const MAX_CHUNKS_PER_CALL: usize = 4;
/// At most this many iovecs of a `readv`/`writev`/`sendmsg`/`recvmsg` are captured.
pub const MAX_IOVECS: usize = 8;
/// Maximum length of a Unix socket path (`sun_path`).
pub const UNIX_PATH_MAX: usize = 108;

/// What a ring-buffer record carries.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Socket payload bytes: [`EventHeader`] followed by `captured_len` bytes.
    Data = 1,
    /// A watched connection was opened: [`ConnEvent`].
    ConnOpen = 2,
    /// A watched connection was closed by its process: [`EventHeader`] only.
    ConnClose = 3,
    /// A syscall moved more bytes than were captured (the per-call capture limit):
    /// [`EventHeader`] only, `stream_offset` where capture stopped and `total_len` the bytes
    /// after it that were not captured. Sent right after the chunks, so userspace knows of
    /// the hole before the peer's answer arrives.
    Truncated = 4,
    /// A watched socket moved bytes through a syscall the agent does not capture
    /// (`sendmmsg`, `recvmmsg`, `sendfile`, `splice`, `preadv`/`pwritev`): [`EventHeader`]
    /// only, `source` names the syscall and `total_len` the byte count asked for, when known.
    Uncaptured = 5,
    /// A process holding a watched client connection called `execve`: [`EventHeader`] only
    /// (`tgid` the process, `conn_id` and `fd` one of its watched connections; one record per
    /// connection still open after the close-on-exec sweep). Userspace reads the process's
    /// identity again.
    Exec = 6,
    /// A TLS 1.3 application traffic secret or a TLS 1.2 key block, as OpenSSL 3 derived it
    /// during a handshake (`tls_capture: keylog`): [`EventHeader`] followed by `captured_len`
    /// secret bytes. `tgid`/`tid` are the process and thread that made the handshake,
    /// `direction` is [`TLS_SECRET_CLIENT`], [`TLS_SECRET_SERVER`] (whose records it
    /// protects) or [`TLS12_KEY_BLOCK`], `conn_id` is 0: userspace finds the connection by
    /// decrypting with it.
    TlsSecret = 7,
}

impl EventKind {
    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::Data),
            2 => Some(Self::ConnOpen),
            3 => Some(Self::ConnClose),
            4 => Some(Self::Truncated),
            5 => Some(Self::Uncaptured),
            6 => Some(Self::Exec),
            7 => Some(Self::TlsSecret),
            _ => None,
        }
    }
}

/// Direction of a data chunk, seen from the process that made the syscall.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The process wrote these bytes to the socket.
    Egress = 0,
    /// The process read these bytes from the socket.
    Ingress = 1,
}

impl Direction {
    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::Egress),
            1 => Some(Self::Ingress),
            _ => None,
        }
    }
}

/// The syscall (or library call) that produced a record.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Read = 0,
    Write = 1,
    Readv = 2,
    Writev = 3,
    Sendto = 4,
    Recvfrom = 5,
    Sendmsg = 6,
    Recvmsg = 7,
    Connect = 8,
    Accept = 9,
    Close = 10,
    Seed = 11,
    Fork = 12,
    SslWrite = 13,
    SslRead = 14,
    Sendmmsg = 15,
    Recvmmsg = 16,
    Sendfile = 17,
    Splice = 18,
    Preadv = 19,
    Pwritev = 20,
    /// The fd was passed to another process over a Unix socket (`SCM_RIGHTS`).
    ScmRights = 21,
    /// An io_uring request used the fd.
    IoUring = 22,
    /// The fd was registered with an io_uring (`io_uring_register`, fixed files).
    IoUringRegister = 23,
    /// `execve` by the process holding the fd.
    Exec = 24,
    /// OpenSSL 3's key derivation (`EVP_KDF_derive`), for a TLS secret.
    Kdf = 25,
}

impl Source {
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Read,
            1 => Self::Write,
            2 => Self::Readv,
            3 => Self::Writev,
            4 => Self::Sendto,
            5 => Self::Recvfrom,
            6 => Self::Sendmsg,
            7 => Self::Recvmsg,
            8 => Self::Connect,
            9 => Self::Accept,
            10 => Self::Close,
            11 => Self::Seed,
            12 => Self::Fork,
            13 => Self::SslWrite,
            14 => Self::SslRead,
            15 => Self::Sendmmsg,
            16 => Self::Recvmmsg,
            17 => Self::Sendfile,
            18 => Self::Splice,
            19 => Self::Preadv,
            20 => Self::Pwritev,
            21 => Self::ScmRights,
            22 => Self::IoUring,
            23 => Self::IoUringRegister,
            24 => Self::Exec,
            25 => Self::Kdf,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Readv => "readv",
            Self::Writev => "writev",
            Self::Sendto => "sendto",
            Self::Recvfrom => "recvfrom",
            Self::Sendmsg => "sendmsg",
            Self::Recvmsg => "recvmsg",
            Self::Connect => "connect",
            Self::Accept => "accept",
            Self::Close => "close",
            Self::Seed => "seed",
            Self::Fork => "fork",
            Self::SslWrite => "SSL_write",
            Self::SslRead => "SSL_read",
            Self::Sendmmsg => "sendmmsg",
            Self::Recvmmsg => "recvmmsg",
            Self::Sendfile => "sendfile",
            Self::Splice => "splice",
            Self::Preadv => "preadv",
            Self::Pwritev => "pwritev",
            Self::ScmRights => "SCM_RIGHTS",
            Self::IoUring => "io_uring",
            Self::IoUringRegister => "io_uring_register",
            Self::Exec => "execve",
            Self::Kdf => "EVP_KDF_derive",
        }
    }
}

/// Which end of the connection the watched process is.
pub const ROLE_CLIENT: u32 = 1;
pub const ROLE_SERVER: u32 = 2;

/// Database engine ids, as stored in the port and path maps.
pub const ENGINE_POSTGRES: u32 = 1;
pub const ENGINE_MYSQL: u32 = 2;

/// Address families carried in [`ConnEvent::family`].
pub const FAMILY_INET: u32 = 2;
pub const FAMILY_INET6: u32 = 10;
pub const FAMILY_UNIX: u32 = 1;

/// Connection flag: this `(tgid, fd)` is a second handle on a connection another entry opened
/// (`dup`, `fcntl(F_DUPFD)`, or inherited across `fork`). It shares the connection's
/// [`ConnState`]; the connection ends when its last handle is closed.
pub const CONN_FLAG_ALIAS: u32 = 1;

/// Indexes into the per-CPU `COUNTERS` array.
pub const CNT_RING_FULL_CHUNKS: u32 = 0;
pub const CNT_RING_FULL_BYTES: u32 = 1;
pub const CNT_TRUNC_CHUNKS: u32 = 2;
pub const CNT_TRUNC_BYTES: u32 = 3;
pub const CNT_RING_FULL_CONN: u32 = 4;
pub const CNT_STASH_FULL: u32 = 5;
/// TLS plaintext on a watched process that could not be tied to a socket.
pub const CNT_SSL_UNATTRIBUTED: u32 = 6;
/// A kernel map was full: a connection could not be watched (`CONNS`/`CONN_STATE`).
pub const CNT_MAP_FULL_CONNS: u32 = 7;
/// A kernel map was full: a database server's listening socket could not be recorded.
pub const CNT_MAP_FULL_LISTENERS: u32 = 8;
/// A kernel map was full: an in-flight `connect`/`accept`/`bind`/`dup` could not be followed.
pub const CNT_MAP_FULL_PENDING: u32 = 9;
/// A process held more watched client connections than the per-process table follows across
/// `fork`, `exec` and `close_range`.
pub const CNT_MAP_FULL_FDS: u32 = 10;
/// Stale TLS call state (a missed return probe) was dropped; the syscall was captured.
pub const CNT_SSL_STALE: u32 = 11;
/// Not a count: the most bytes the ring buffer held, as a probe saw it after submitting a
/// record (per CPU; the agent reads the maximum over CPUs and resets it).
pub const CNT_RING_USED_PEAK: u32 = 12;
/// Response reads and writes cut short because the ring buffer was fuller than the shedding
/// threshold, and the bytes left out.
pub const CNT_SHED_CHUNKS: u32 = 13;
pub const CNT_SHED_BYTES: u32 = 14;

/// Under load (the ring fuller than its shedding threshold), a response read or write keeps
/// only this many leading bytes; requests are never shed.
pub const SHED_KEEP: u64 = 512;
/// `captured_len` of a [`EventKind::Truncated`] record whose hole was shed under load (0: the
/// capture limit).
pub const TRUNC_SHED: u32 = 1;
/// TLS secrets that could not be sent to userspace (ring buffer full): the sessions they
/// belong to cannot be decrypted.
pub const CNT_TLS_SECRET_LOST: u32 = 15;
pub const COUNTERS_LEN: u32 = 16;

/// [`EventKind::TlsSecret`] `direction`: the client's application traffic secret
/// (`c ap traffic`), which protects what the client sends.
pub const TLS_SECRET_CLIENT: u32 = 0;
/// The server's application traffic secret (`s ap traffic`).
pub const TLS_SECRET_SERVER: u32 = 1;
/// A TLS 1.2 key block (the PRF's `key expansion` output): both directions' keys and IVs.
pub const TLS12_KEY_BLOCK: u32 = 2;
/// Longest secret a [`EventKind::TlsSecret`] record carries (SHA-384's 48 bytes, and a TLS 1.2
/// AEAD key block of at most 88 bytes, fit).
pub const TLS_SECRET_MAX: usize = 128;

/// The fixed header at the start of every ring-buffer record. 64 bytes, no padding.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EventHeader {
    /// [`EventKind`].
    pub kind: u32,
    /// [`Source`].
    pub source: u32,
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) at the syscall's exit.
    pub ts_ns: u64,
    /// Connection id assigned by the kernel program when the connection entered the watched map.
    pub conn_id: u64,
    /// Position of the first payload byte in this connection's stream for `direction`.
    pub stream_offset: u64,
    pub tgid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    pub fd: u32,
    /// [`Direction`].
    pub direction: u32,
    /// Bytes the syscall moved in total (for data), across all chunks of this call.
    pub total_len: u32,
    /// Payload bytes carried by this record.
    pub captured_len: u32,
}

/// Payload of a [`EventKind::ConnOpen`] record. 232 bytes, no padding.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ConnEvent {
    pub hdr: EventHeader,
    /// [`ROLE_CLIENT`] or [`ROLE_SERVER`].
    pub role: u32,
    /// [`ENGINE_POSTGRES`] or [`ENGINE_MYSQL`].
    pub engine: u32,
    /// [`FAMILY_INET`], [`FAMILY_INET6`] or [`FAMILY_UNIX`].
    pub family: u32,
    /// For a client: the server port it connected to. For a server: the port it listens on.
    pub port: u32,
    /// For a client: the server address. For a server: the peer (client) address, when known.
    pub addr: [u8; 16],
    /// For a server: the client's port, when known.
    pub peer_port: u32,
    /// The audit login uid of the process (`u32::MAX` when unset or unknown), read in the
    /// kernel so that short-lived clients are attributed even if they exit before /proc is read.
    pub login_uid: u32,
    /// For Unix sockets: the socket path, NUL padded.
    pub path: [u8; UNIX_PATH_MAX],
    pub _pad: [u8; 4],
    /// The process's `comm`.
    pub comm: [u8; 16],
    /// [`SOCK_ID_TCP`] or [`SOCK_ID_UNIX`] when the kernel read the socket's own identity
    /// (below) at connect/accept time, else 0 (older capture files, or offsets unknown).
    pub sock_id: u32,
    /// TCP: the socket's local port (`skc_num`, host order).
    pub local_port: u32,
    /// TCP: the socket's local address (IPv4 in the first 4 bytes, or IPv6).
    pub local_addr: [u8; 16],
    /// TCP: the socket's remote address, as `local_addr`.
    pub remote_addr: [u8; 16],
    /// TCP: the socket's remote port (`skc_dport`, host order).
    pub remote_port: u32,
    /// [`CONN_EV_LOCAL_MIRROR`] or 0.
    pub flags: u32,
    /// The kernel address of the socket's `struct sock` (an identity, never dereferenced).
    pub sock: u64,
    /// Unix: the kernel address of the peer's `struct sock` (`unix_sock.peer`), 0 if none.
    pub peer_sock: u64,
}

/// [`ConnEvent::flags`]: a server end whose client end on this host the kernel already
/// watches. Its bytes are not captured (the client end carries the same conversation); the
/// event only names the server process.
pub const CONN_EV_LOCAL_MIRROR: u32 = 1;

/// Key of the kernel's map of local client ends, by which an accepted socket finds that its
/// client is on this host: TCP (client address, client port, server port); Unix: the kernel
/// address of the server end's `struct sock` in `addr[..8]`, ports `u32::MAX`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalEndKey {
    pub addr: [u8; 16],
    pub port: u32,
    pub peer_port: u32,
}

/// [`ConnEvent::sock_id`]: the TCP tuple fields are valid.
pub const SOCK_ID_TCP: u32 = 1;
/// [`ConnEvent::sock_id`]: `sock` and `peer_sock` are valid (a Unix stream socket).
pub const SOCK_ID_UNIX: u32 = 2;

/// Byte offsets of kernel struct members the programs read to find a socket's identity from
/// its fd, found by userspace in the kernel's BTF and passed as one global at load time.
/// `valid` is 0 when any of them is unknown (the programs then skip the read).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SockOffsets {
    pub valid: u32,
    /// `task_struct.files`.
    pub task_files: u32,
    /// `files_struct.fdt`.
    pub files_fdt: u32,
    /// `fdtable.fd`.
    pub fdt_fd: u32,
    /// `fdtable.max_fds`.
    pub fdt_max_fds: u32,
    /// `file.private_data` (the `struct socket` of a socket file).
    pub file_private_data: u32,
    /// `socket.sk`.
    pub socket_sk: u32,
    /// `sock_common.skc_family`.
    pub skc_family: u32,
    /// `sock_common.skc_daddr`.
    pub skc_daddr: u32,
    /// `sock_common.skc_rcv_saddr`.
    pub skc_rcv_saddr: u32,
    /// `sock_common.skc_dport`.
    pub skc_dport: u32,
    /// `sock_common.skc_num`.
    pub skc_num: u32,
    /// `sock_common.skc_v6_daddr` (0 without IPv6).
    pub skc_v6_daddr: u32,
    /// `sock_common.skc_v6_rcv_saddr` (0 without IPv6).
    pub skc_v6_rcv_saddr: u32,
    /// `unix_sock.peer`.
    pub unix_peer: u32,
    pub _pad: u32,
}

impl SockOffsets {
    /// All unknown: the programs read no socket identity.
    pub const UNKNOWN: Self = Self {
        valid: 0,
        task_files: 0,
        files_fdt: 0,
        fdt_fd: 0,
        fdt_max_fds: 0,
        file_private_data: 0,
        socket_sk: 0,
        skc_family: 0,
        skc_daddr: 0,
        skc_rcv_saddr: 0,
        skc_dport: 0,
        skc_num: 0,
        skc_v6_daddr: 0,
        skc_v6_rcv_saddr: 0,
        unix_peer: 0,
        _pad: 0,
    };
}

/// A data record with a fixed payload capacity `N`. Only `hdr.captured_len` bytes are valid.
#[repr(C)]
pub struct DataChunk<const N: usize> {
    pub hdr: EventHeader,
    pub data: [u8; N],
}

/// Value of the kernel's watched-connection map, keyed by `(tgid << 32) | fd`. Several keys
/// may name one connection (aliases): its stream state is in [`ConnState`], by `conn_id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnInfo {
    pub conn_id: u64,
    pub role: u32,
    /// [`CONN_FLAG_ALIAS`] or 0.
    pub flags: u32,
}

/// Stream state of a watched connection, keyed by `conn_id`, shared by all its handles.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnState {
    /// Bytes written so far (egress stream offset).
    pub tx_off: u64,
    /// Bytes read so far (ingress stream offset).
    pub rx_off: u64,
    /// Plaintext bytes written through the TLS library (`SSL_write*`).
    pub ssl_tx_off: u64,
    /// Plaintext bytes read through the TLS library (`SSL_read*`).
    pub ssl_rx_off: u64,
    /// Open handles (`(tgid, fd)` entries) on the connection.
    pub refs: u32,
    pub _pad: u32,
}

/// Value of the listener map, keyed by `(tgid << 32) | fd`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ListenInfo {
    pub port: u32,
    pub engine: u32,
    pub family: u32,
    pub _pad: u32,
    /// For Unix listeners: the bound path, NUL padded (accepted connections report it).
    pub path: [u8; UNIX_PATH_MAX],
    pub _pad2: [u8; 4],
}

/// Key of the SSL* -> fd map: the `SSL*` pointer is only unique within one process.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SslKey {
    pub ssl: u64,
    pub tgid: u32,
    pub _pad: u32,
}

/// Value of the Unix socket path trie. The trie is keyed by the path's first bytes (a longest
/// prefix match): an exact path is stored with its terminating NUL, a pattern `PREFIX*SUFFIX`
/// by `PREFIX`; the kernel then checks that the path ends with `suffix`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SockPattern {
    pub engine: u32,
    /// Bytes of the prefix the trie matched (the path must be at least this plus the suffix).
    pub prefix_len: u32,
    pub suffix_len: u32,
    pub _pad: u32,
    pub suffix: [u8; SOCK_SUFFIX_MAX],
}

/// Longest suffix of a socket path pattern.
pub const SOCK_SUFFIX_MAX: usize = 16;

/// Client connections of one process that the kernel follows across `fork`, `exec` and
/// `close_range`: `fd + 1` per slot, 0 for a free one.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FdSlots {
    pub fds: [u32; FD_SLOTS],
}

/// Watched client connections followed per process.
pub const FD_SLOTS: usize = 8;

/// Builds the `(tgid, fd)` map key.
#[inline(always)]
pub fn conn_key(tgid: u32, fd: u32) -> u64 {
    ((tgid as u64) << 32) | fd as u64
}

const _: () = assert!(core::mem::size_of::<EventHeader>() == 64);
const _: () = assert!(core::mem::size_of::<ConnEvent>() == 296);
const _: () = assert!(core::mem::size_of::<SockOffsets>() == 64);
const _: () = assert!(core::mem::size_of::<LocalEndKey>() == 24);
const _: () = assert!(core::mem::size_of::<ConnInfo>() == 16);
const _: () = assert!(core::mem::size_of::<ConnState>() == 40);
const _: () = assert!(core::mem::size_of::<SockPattern>() == 32);
const _: () = assert!(core::mem::size_of::<ListenInfo>() == 128);
const _: () = assert!(core::mem::size_of::<DataChunk<CHUNK_SMALL>>() == 64 + CHUNK_SMALL);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `repr(C)` data without padding or pointers.
    unsafe impl aya::Pod for super::ConnInfo {}
    // SAFETY: repr(C), u32 fields only, no padding.
    unsafe impl aya::Pod for super::SockOffsets {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ListenInfo {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::SockPattern {}
    // SAFETY: repr(C), u64/u32 fields, no padding.
    unsafe impl aya::Pod for super::ConnState {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::FdSlots {}
}
