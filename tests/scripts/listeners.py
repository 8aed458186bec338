"""Two ways to confuse the agent's table of database listeners.

1. A bind to the watched PostgreSQL port that fails (the port is taken), after which the same
   socket binds an unwatched port, listens and carries bytes that are not the protocol: it
   must not be taken for a database server.
2. COUNT Unix sockets bound at paths that match the watched pattern DIR/.s.PGSQL.*, more than
   the table holds: the overflow must be reported, not silently dropped.
Usage: listeners.py PGPORT DIR COUNT"""
import errno
import os
import signal
import resource
import socket
import sys

# A script that waits for an answer that never comes fails instead of hanging the test.
signal.alarm(60)

pgport, d, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])

s = socket.socket()
try:
    s.bind(("127.0.0.1", pgport))
    sys.exit("binding the server's port should have failed")
except OSError as e:
    assert e.errno == errno.EADDRINUSE, e
s.bind(("127.0.0.1", 0))
s.listen(1)
c = socket.create_connection(s.getsockname())
a, _ = s.accept()
for _ in range(10):
    c.sendall(b"\x00\xff not the protocol \n")
    a.recv(4096)
    a.sendall(b"\x00\xff nor this \n")
    c.recv(4096)
for x in (a, c, s):
    x.close()

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
need = count + 64
if soft < need:
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
held = []
for i in range(count):
    u = socket.socket(socket.AF_UNIX)
    u.bind(os.path.join(d, ".s.PGSQL.%d" % (10000 + i)))
    held.append(u)
for u in held:
    u.close()
print("bound", len(held))
