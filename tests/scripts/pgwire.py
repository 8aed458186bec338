"""The few pieces of the PostgreSQL v3 protocol the scripted test clients share: they talk to
the server with their own sockets and syscalls, which drivers would hide."""
import socket
import struct
import sys


def msg(t, body):
    """A frontend message: type byte, length, body."""
    return t + struct.pack("!I", len(body) + 4) + body


def startup_packet(user="postgres", database="postgres"):
    params = b"user\0%s\0database\0%s\0\0" % (user.encode(), database.encode())
    return struct.pack("!II", len(params) + 8, 196608) + params


def until_ready(read, chunk=65536):
    """Reads messages up to ReadyForQuery through `read(n)` (at most `chunk` bytes per call),
    without keeping row bodies, so a huge result streams through. Exits on an ErrorResponse
    or when the server closes the connection."""
    buf = b""

    def fill(n):
        nonlocal buf
        while len(buf) < n:
            d = read(chunk)
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
                buf = read(min(chunk, body))
                if not buf:
                    sys.exit("server closed the connection")
            k = min(body, len(buf))
            buf = buf[k:]
            body -= k


def connect(port, chunk=65536):
    """A TCP connection to 127.0.0.1:port, logged in as postgres (trust) and ready."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(startup_packet())
    until_ready(s.recv, chunk)
    return s
