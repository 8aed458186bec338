"""A PostgreSQL client (v3 by hand, trust auth) that keeps one connection and, for each line
NAME read from stdin, runs `SELECT 1 AS NAME` and prints `done NAME`. EOF terminates.
Usage: pg_interactive.py PORT"""
import signal
import sys

from pgwire import connect, msg, until_ready

signal.alarm(300)
port = int(sys.argv[1])


s = connect(port)
for line in sys.stdin:
    name = line.strip()
    s.sendall(msg(b"Q", ("SELECT 1 AS %s\0" % name).encode()))
    until_ready(s.recv)
    print("done", name, flush=True)
s.sendall(msg(b"X", b""))
s.close()
