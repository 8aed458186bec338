"""A PostgreSQL client (v3 by hand, trust auth) that keeps one connection and, for each line
NAME read from stdin, runs `SELECT 1 AS NAME` and prints `done NAME`. EOF terminates.
Usage: pg_interactive.py PORT"""
import signal
import socket
import struct
import sys

signal.alarm(300)
port = int(sys.argv[1])


def msg(t, body):
    return t + struct.pack("!I", len(body) + 4) + body


def until_ready(s):
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            sys.exit("server closed the connection")
        buf += d
        while len(buf) >= 5:
            t = buf[:1]
            (n,) = struct.unpack("!I", buf[1:5])
            if len(buf) < 1 + n:
                break
            if t == b"E":
                sys.exit("server error: %r" % buf[:1 + n])
            if t == b"Z":
                return
            buf = buf[1 + n:]


s = socket.create_connection(("127.0.0.1", port))
startup = b"user\0postgres\0database\0postgres\0\0"
s.sendall(struct.pack("!II", len(startup) + 8, 196608) + startup)
until_ready(s)
for line in sys.stdin:
    name = line.strip()
    s.sendall(msg(b"Q", ("SELECT 1 AS %s\0" % name).encode()))
    until_ready(s)
    print("done", name, flush=True)
s.sendall(msg(b"X", b""))
s.close()
