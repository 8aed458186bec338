"""Oversize input against PostgreSQL (v3 protocol by hand, trust auth):
1. a Query message claiming a 1 GiB length, 64 KiB of it, then the connection closes;
2. a 10 MiB query (`SELECT length('aaa...') AS ten_mib`);
3. a 100 MB result (100 rows of 1,000,000 bytes), read to the end;
4. `SELECT 1 AS after_oversize`.
Usage: pg_oversize.py PORT"""
import signal
import struct
import sys

from pgwire import connect, msg, until_ready

signal.alarm(120)
port = int(sys.argv[1])


s = connect(port, chunk=1 << 20)
s.sendall(b"Q" + struct.pack("!I", 1 << 30) + b"x" * 65536)
s.close()

s = connect(port, chunk=1 << 20)
s.sendall(msg(b"Q", b"SELECT length('" + b"a" * (10 << 20) + b"') AS ten_mib\0"))
until_ready(s.recv, 1 << 20)
s.close()

s = connect(port, chunk=1 << 20)
s.sendall(msg(b"Q", b"SELECT repeat('x', 1000000) AS hundred_mb FROM generate_series(1, 100)\0"))
until_ready(s.recv, 1 << 20)
s.close()

s = connect(port, chunk=1 << 20)
s.sendall(msg(b"Q", b"SELECT 1 AS after_oversize\0"))
until_ready(s.recv, 1 << 20)
s.sendall(msg(b"X", b""))
s.close()
