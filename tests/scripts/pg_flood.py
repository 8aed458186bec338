"""Floods the agent's ring buffer: ROUNDS queries of 1000 rows of 60,000 bytes each, read in
16 KiB pieces (each read a capture record), then `SELECT 1 AS after_flood`.
Usage: pg_flood.py PORT ROUNDS"""
import signal
import socket
import struct
import sys

signal.alarm(300)
port, rounds = int(sys.argv[1]), int(sys.argv[2])


def msg(t, body):
    return t + struct.pack("!I", len(body) + 4) + body


def until_ready(s):
    """Reads up to ReadyForQuery, 16 KiB per read, keeping only what framing needs."""
    buf = b""
    while True:
        d = s.recv(16384)
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
for i in range(rounds):
    s.sendall(msg(b"Q", b"SELECT repeat('x', 60000) AS flood FROM generate_series(1, 1000)\0"))
    until_ready(s)
s.sendall(msg(b"Q", b"SELECT 1 AS after_flood\0"))
until_ready(s)
s.sendall(msg(b"X", b""))
s.close()
