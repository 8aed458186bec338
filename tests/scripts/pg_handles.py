"""A PostgreSQL client (v3 protocol by hand, trust auth) that moves its connection between file
descriptors and processes the ways a program can, to check what dbgov makes of each:

  dup         sends through a dup(2) of the socket, closes the original, sends again
  fcntl       the same with fcntl(F_DUPFD_CLOEXEC)
  fork        a forked child sends one query on the inherited socket, then the parent one
  exec        clears close-on-exec and execs this script as `exec-child`, which sends a query
  scm_rights  passes the socket to itself over a Unix socket pair (SCM_RIGHTS) and sends a
              query through the received descriptor
  io_uring    sends a query with an io_uring write request, after registering the socket as
              a fixed file
  close_range closes the socket with close_range(2), then an unrelated socket takes its
              number and carries bytes that are not the protocol

Each mode names its queries `SELECT 1 AS <mode>_<step>`.
Usage: pg_handles.py PORT MODE"""
import ctypes
import mmap
import os
import signal
import socket
import struct
import sys

from pgwire import connect, msg, until_ready

# A script that waits for an answer that never comes fails instead of hanging the test.
signal.alarm(60)

libc = ctypes.CDLL(None, use_errno=True)


def ready(fd):
    until_ready(lambda n: os.read(fd, n))


def query(fd, name):
    os.write(fd, msg(b"Q", ("SELECT 1 AS %s\0" % name).encode()))
    ready(fd)


def terminate(fd):
    os.write(fd, msg(b"X", b""))
    os.close(fd)


def io_uring_write(fd, data):
    """One IORING_OP_WRITE of `data` to `fd` through a fresh ring, raw syscalls only. The
    socket is first registered as a fixed file (the write itself names the plain fd)."""
    NR_SETUP, NR_ENTER, NR_REGISTER = 425, 426, 427
    params = ctypes.create_string_buffer(120)
    ring = libc.syscall(NR_SETUP, 4, params)
    if ring < 0:
        sys.exit("io_uring_setup: errno %d" % ctypes.get_errno())
    fds = (ctypes.c_int * 1)(fd)
    if libc.syscall(NR_REGISTER, ring, 2, fds, 1) < 0:
        sys.exit("io_uring_register: errno %d" % ctypes.get_errno())
    p = params.raw
    sq_entries, cq_entries = struct.unpack_from("II", p, 0)
    # struct io_sqring_offsets at 40: head tail ring_mask ring_entries flags dropped array
    sq_head, sq_tail, sq_mask, _, _, _, sq_array = struct.unpack_from("7I", p, 40)
    # struct io_cqring_offsets at 80: head tail ring_mask ring_entries overflow cqes
    cq_head, cq_tail, cq_mask, _, _, cqes = struct.unpack_from("6I", p, 80)
    sq = mmap.mmap(ring, sq_array + 4 * sq_entries, mmap.MAP_SHARED,
                   mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
    cq = mmap.mmap(ring, cqes + 16 * cq_entries, mmap.MAP_SHARED,
                   mmap.PROT_READ | mmap.PROT_WRITE, offset=0x8000000)
    sqes = mmap.mmap(ring, 64 * sq_entries, mmap.MAP_SHARED,
                     mmap.PROT_READ | mmap.PROT_WRITE, offset=0x10000000)
    buf = ctypes.create_string_buffer(data, len(data))
    # struct io_uring_sqe: opcode u8, flags u8, ioprio u16, fd i32, off u64, addr u64, len u32
    sqe = struct.pack("BBHiQQI", 23, 0, 0, fd, 0, ctypes.addressof(buf), len(data))
    sqes[0:len(sqe)] = sqe
    tail = struct.unpack_from("I", sq, sq_tail)[0]
    mask = struct.unpack_from("I", sq, sq_mask)[0]
    struct.pack_into("I", sq, sq_array + 4 * (tail & mask), 0)
    struct.pack_into("I", sq, sq_tail, tail + 1)
    if libc.syscall(NR_ENTER, ring, 1, 1, 1, None, 0) < 0:
        sys.exit("io_uring_enter: errno %d" % ctypes.get_errno())
    head = struct.unpack_from("I", cq, cq_head)[0]
    cmask = struct.unpack_from("I", cq, cq_mask)[0]
    _, res, _ = struct.unpack_from("QiI", cq, cqes + 16 * (head & cmask))
    struct.pack_into("I", cq, cq_head, head + 1)
    if res != len(data):
        sys.exit("io_uring write: %d" % res)
    os.close(ring)


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    if mode == "exec-child":
        fd = int(sys.argv[3])
        query(fd, "exec_after")
        terminate(fd)
        return
    s = connect(port)
    fd = s.fileno()
    query(fd, mode + "_before")
    if mode in ("dup", "fcntl"):
        if mode == "dup":
            new = os.dup(fd)
        else:
            import fcntl
            new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 50)
        query(new, mode + "_through_copy")
        s.detach()
        os.close(fd)
        query(new, mode + "_after_close")
        terminate(new)
    elif mode == "fork":
        pid = os.fork()
        if pid == 0:
            query(fd, "fork_in_child")
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        query(fd, "fork_after")
        terminate(s.detach())
    elif mode == "exec":
        fd = s.detach()
        os.set_inheritable(fd, True)
        os.execv(sys.executable, [sys.executable, __file__, str(port), "exec-child", str(fd)])
    elif mode == "scm_rights":
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        socket.send_fds(a, [b"x"], [fd])
        _, fds, _, _ = socket.recv_fds(b, 1, 1)
        query(fds[0], "scm_rights_received")
        query(fd, "scm_rights_after")
        os.close(fds[0])
        terminate(s.detach())
    elif mode == "io_uring":
        io_uring_write(fd, msg(b"Q", b"SELECT 1 AS io_uring_via\0"))
        ready(fd)
        query(fd, "io_uring_after")
        terminate(s.detach())
    elif mode == "close_range":
        fd = s.detach()
        if libc.syscall(436, fd, fd, 0) != 0:
            sys.exit("close_range: errno %d" % ctypes.get_errno())
        a, b = socket.socketpair()
        # The lowest free number: the one the database connection had.
        if a.fileno() != fd:
            a, b = b, a
        assert a.fileno() == fd, (a.fileno(), b.fileno(), fd)
        for _ in range(20):
            os.write(fd, b"\x00\xffnot the PostgreSQL protocol at all\n")
            b.recv(4096)
    else:
        sys.exit("unknown mode " + mode)


main()
