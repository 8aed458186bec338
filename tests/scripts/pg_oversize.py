"""Oversize input against PostgreSQL (v3 protocol by hand, trust auth):
1. a Query message claiming a 1 GiB length, 64 KiB of it, then the connection closes;
2. a 10 MiB query (`SELECT length('aaa...') AS ten_mib`);
3. a 100 MB result (100 rows of 1,000,000 bytes), read to the end;
4. `SELECT 1 AS after_oversize`.
Usage: pg_oversize.py PORT"""
import signal
import socket
import struct
import sys

signal.alarm(120)
port = int(sys.argv[1])


def msg(t, body):
    return t + struct.pack("!I", len(body) + 4) + body


def connect():
    s = socket.create_connection(("127.0.0.1", port))
    startup = b"user\0postgres\0database\0postgres\0\0"
    s.sendall(struct.pack("!II", len(startup) + 8, 196608) + startup)
    until_ready(s)
    return s


def until_ready(s):
    """Reads messages up to ReadyForQuery without keeping their bodies (a 100 MB result
    streams through)."""
    buf = b""

    def fill(n):
        nonlocal buf
        while len(buf) < n:
            d = s.recv(1 << 20)
            if not d:
                sys.exit("server closed the connection")
            buf += d

    while True:
        fill(5)
        t = buf[:1]
        (n,) = struct.unpack("!I", buf[1:5])
        buf = buf[5:]
        body = n - 4
        if t in (b"E", b"Z"):
            fill(body)
            data, buf = buf[:body], buf[body:]
            if t == b"E":
                sys.exit("server error: %r" % data)
            return
        while body > 0:
            if not buf:
                buf = s.recv(min(1 << 20, body))
                if not buf:
                    sys.exit("server closed the connection")
            k = min(body, len(buf))
            buf = buf[k:]
            body -= k


s = connect()
s.sendall(b"Q" + struct.pack("!I", 1 << 30) + b"x" * 65536)
s.close()

s = connect()
s.sendall(msg(b"Q", b"SELECT length('" + b"a" * (10 << 20) + b"') AS ten_mib\0"))
until_ready(s)
s.close()

s = connect()
s.sendall(msg(b"Q", b"SELECT repeat('x', 1000000) AS hundred_mb FROM generate_series(1, 100)\0"))
until_ready(s)
s.close()

s = connect()
s.sendall(msg(b"Q", b"SELECT 1 AS after_oversize\0"))
until_ready(s)
s.sendall(msg(b"X", b""))
s.close()
