"""A PostgreSQL client that sends one query through a syscall dbgov does not capture
(sendfile, splice or sendmmsg), then one through send(2). Speaks the v3 protocol by hand
(trust auth). Mode dup2 instead moves an unrelated socket onto the connection's fd number with dup2(2) and
writes bytes that are not the protocol through it.
Mode flood sends 2000 queries with sendfile(2), each read back, to check that the gaps are
coalesced rather than one event per call.
Usage: pg_uncaptured.py PORT sendfile|splice|sendmmsg|dup2|flood"""
import ctypes
import os
import signal
import socket
import sys

from pgwire import msg, startup_packet, until_ready

# A script that waits for an answer that never comes fails instead of hanging the test.
signal.alarm(60)
import tempfile

port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))


def ready():
    until_ready(s.recv)


s.sendall(startup_packet())
ready()
if mode == "dup2":
    s.sendall(msg(b"Q", b"SELECT 1 AS before_dup2\0"))
    ready()
    a, b = socket.socketpair()
    fd = s.fileno()
    os.dup2(a.fileno(), fd)  # the database connection is closed here
    for _ in range(20):
        os.write(fd, b"\x00\xffnot the PostgreSQL protocol at all\n")
        b.recv(4096)
    sys.exit(0)
q = msg(b"Q", ("SELECT 1 AS via_%s\0" % mode).encode())
if mode == "flood":
    with tempfile.TemporaryFile() as f:
        f.write(q)
        f.flush()
        for i in range(2000):
            sent = os.sendfile(s.fileno(), f.fileno(), 0, len(q))
            assert sent == len(q), sent
            if i < 1999:  # the last answer is read below, as for every mode
                ready()
elif mode == "sendfile":
    with tempfile.TemporaryFile() as f:
        f.write(q)
        f.flush()
        sent = os.sendfile(s.fileno(), f.fileno(), 0, len(q))
        assert sent == len(q), sent
elif mode == "splice":
    r, w = os.pipe()
    os.write(w, q)
    moved = os.splice(r, s.fileno(), len(q))
    assert moved == len(q), moved
elif mode == "sendmmsg":
    class Iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    class Msghdr(ctypes.Structure):
        _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                    ("iov", ctypes.POINTER(Iovec)), ("iovlen", ctypes.c_size_t),
                    ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                    ("flags", ctypes.c_int)]

    class Mmsghdr(ctypes.Structure):
        _fields_ = [("hdr", Msghdr), ("len", ctypes.c_uint)]

    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(q, len(q))
    iov = Iovec(ctypes.cast(buf, ctypes.c_void_p), len(q))
    m = Mmsghdr(Msghdr(None, 0, ctypes.pointer(iov), 1, None, 0, 0), 0)
    n = libc.sendmmsg(s.fileno(), ctypes.byref(m), 1, 0)
    assert n == 1 and m.len == len(q), (n, m.len, ctypes.get_errno())
else:
    sys.exit("unknown mode " + mode)
ready()
s.sendall(msg(b"Q", ("SELECT 1 AS after_%s\0" % mode).encode()))
ready()
s.sendall(msg(b"X", b""))
s.close()
