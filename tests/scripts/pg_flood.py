"""Floods the agent's ring buffer: ROUNDS queries of 1000 rows of 60,000 bytes each, read in
16 KiB pieces (each read a capture record), then `SELECT 1 AS after_flood`.
Usage: pg_flood.py PORT ROUNDS"""
import signal
import sys

from pgwire import connect, msg, until_ready

signal.alarm(300)
port, rounds = int(sys.argv[1]), int(sys.argv[2])


s = connect(port, chunk=16384)
for i in range(rounds):
    s.sendall(msg(b"Q", b"SELECT repeat('x', 60000) AS flood FROM generate_series(1, 1000)\0"))
    until_ready(s.recv, 16384)
s.sendall(msg(b"Q", b"SELECT 1 AS after_flood\0"))
until_ready(s.recv, 16384)
s.sendall(msg(b"X", b""))
s.close()
