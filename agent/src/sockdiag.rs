//! Unix socket peers through `NETLINK_SOCK_DIAG`: which socket inode is at the other end of a
//! connected Unix stream socket. `/proc/net/unix` does not say; the kernel's unix_diag does.
//! Used to pair the client and server ends of a local session, like addresses pair TCP ends.
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Errors talking to the kernel's socket diagnostics.
#[derive(Debug, thiserror::Error)]
pub enum SockDiagError {
    #[error("opening the sock_diag netlink socket: {0}")]
    Open(std::io::Error),
    #[error("sock_diag request: {0}")]
    Io(std::io::Error),
    #[error("sock_diag answered with error {0}")]
    Kernel(i32),
}

const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const UDIAG_SHOW_PEER: u32 = 0x4;
const UNIX_DIAG_PEER: u16 = 2;

/// A netlink socket for unix_diag queries.
pub struct SockDiag {
    fd: OwnedFd,
    seq: u32,
}

impl SockDiag {
    pub fn open() -> Result<Self, SockDiagError> {
        // SAFETY: plain socket(2) call; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(SockDiagError::Open(std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let tv = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        // SAFETY: valid option pointer and length.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        Ok(Self { fd, seq: 1 })
    }

    /// The inode of the socket connected to the Unix socket `inode`, if any.
    pub fn peer(&mut self, inode: u64) -> Result<Option<u64>, SockDiagError> {
        self.seq = self.seq.wrapping_add(1);
        let mut req = [0u8; 40];
        req[0..4].copy_from_slice(&40u32.to_ne_bytes());
        req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        req[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // struct unix_diag_req
        req[16] = libc::AF_UNIX as u8;
        req[20..24].copy_from_slice(&u32::MAX.to_ne_bytes()); // all states
        req[24..28].copy_from_slice(&(inode as u32).to_ne_bytes());
        req[28..32].copy_from_slice(&UDIAG_SHOW_PEER.to_ne_bytes());
        req[32..40].copy_from_slice(&[0xff; 8]); // no cookie
                                                 // SAFETY: sending a fully initialised buffer to the kernel (a zeroed sockaddr_nl).
        let sent = unsafe {
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            libc::sendto(
                self.fd.as_raw_fd(),
                req.as_ptr().cast(),
                req.len(),
                0,
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if sent < 0 {
            return Err(SockDiagError::Io(std::io::Error::last_os_error()));
        }
        let mut buf = [0u8; 8192];
        loop {
            // SAFETY: receiving into a local buffer of the given length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(SockDiagError::Io(std::io::Error::last_os_error()));
            }
            let msg = buf.get(..n as usize).unwrap_or(&[]);
            match parse_reply(msg, self.seq) {
                Reply::Peer(p) => return Ok(p),
                Reply::Error(e) if e == -libc::ENOENT => return Ok(None),
                Reply::Error(e) => return Err(SockDiagError::Kernel(e)),
                Reply::Other => continue,
            }
        }
    }
}

enum Reply {
    Peer(Option<u64>),
    Error(i32),
    Other,
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn parse_reply(msg: &[u8], seq: u32) -> Reply {
    let (Some(len), Some(ty), Some(mseq)) = (u32_at(msg, 0), u16_at(msg, 4), u32_at(msg, 8)) else {
        return Reply::Other;
    };
    if mseq != seq {
        return Reply::Other;
    }
    if ty == NLMSG_ERROR {
        return Reply::Error(u32_at(msg, 16).map(|e| e as i32).unwrap_or(-libc::EIO));
    }
    if ty != SOCK_DIAG_BY_FAMILY {
        return Reply::Other;
    }
    let end = (len as usize).min(msg.len());
    // nlmsghdr (16) + unix_diag_msg (16), then rtattrs aligned to 4.
    let mut i = 32;
    while i + 4 <= end {
        let (Some(alen), Some(aty)) = (u16_at(msg, i), u16_at(msg, i + 2)) else {
            break;
        };
        if alen < 4 {
            break;
        }
        if aty == UNIX_DIAG_PEER {
            // 0: the server end is not accepted yet and has no inode; the caller falls back.
            return Reply::Peer(u32_at(msg, i + 4).map(u64::from).filter(|&p| p != 0));
        }
        i += (alen as usize + 3) & !3;
    }
    Reply::Peer(None)
}

/// The socket inode behind `/proc/PID/fd/FD`.
pub fn socket_inode(pid: u32, fd: u32) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests;
