"""Measure worker memory with many large request heads held open (not a test; a measurement).

    PYTHONPATH=$PWD python -m tests.faults.hold_heads [--root CHECKOUT] [--count 300]
        [--fields 98] [flags for the server...]

Starts ``python -m wsgikit tests.apps:echo -w 2`` from ``--root`` (default: this
checkout; give an older checkout to measure it the same way), opens ``--count``
connections that each send a request line and ``--fields`` header fields of about
8.2 KB (the most ``limit_request_field_size`` allows) but not the blank line that
ends the head, and prints each worker's VmRSS (/proc/<pid>/status) before and while
the heads are held, and how long normal requests took meanwhile.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time

from wsgikit.testing import LiveServer

from ..support import children, wait_for
from .probes import rss_kib, server_settings

FIELD = 8170  # bytes of each field's value: a field line of 8182 bytes, under 8190


def large_head(fields: int) -> bytes:
    """A request line and ``fields`` large header fields, without the final blank line."""
    lines = [b"GET / HTTP/1.1\r\nHost: t\r\n"]
    lines += [b"X-Fill-%03d: %s\r\n" % (i, b"a" * FIELD) for i in range(fields)]
    return b"".join(lines)


def send_heads(port: int, count: int, head: bytes, seconds: float) -> list[socket.socket]:
    """``count`` connections, each sending ``head``: what the sockets take within
    ``seconds`` (a server that stops reading leaves the rest unsent)."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setblocking(False)
        socks.append(sock)
    left = {sock: memoryview(head) for sock in socks}
    deadline = time.monotonic() + seconds
    while left and time.monotonic() < deadline:
        moved = False
        for sock, view in list(left.items()):
            try:
                sent = sock.send(view)
            except BlockingIOError:
                continue
            except OSError:  # refused or closed by the server
                del left[sock]
                continue
            moved = True
            if sent == len(view):
                del left[sock]
            else:
                left[sock] = view[sent:]
        if not moved:
            time.sleep(0.05)
    return socks


def probe_latencies(server: LiveServer, count: int = 20, timeout: float = 5.0) -> list[float]:
    """Seconds each of ``count`` GETs on new connections took (``timeout`` for a failure)."""
    took = []
    for _ in range(count):
        start = time.monotonic()
        try:
            ok = server.get("/", timeout=timeout).status == 200
        except OSError:
            ok = False
        took.append(time.monotonic() - start if ok else timeout)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="checkout to run the server from")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--fields", type=int, default=98)
    args, server_flags = parser.parse_known_args()
    settings = server_settings(server_flags, {"worker_connections": 1000, "header_timeout": 120})
    head = large_head(args.fields)
    with LiveServer("tests.apps:echo", workers=2, cwd=args.root, **settings) as server:
        assert server.process is not None
        master = server.process.pid
        wait_for(lambda: len(children(master)) == 2, "workers")
        workers = sorted(children(master))
        before = {pid: rss_kib(pid) for pid in workers}
        started = time.monotonic()
        held = send_heads(server.port, args.count, head, seconds=10.0)
        time.sleep(1.0)  # let the workers read what the kernel still holds
        during = {pid: rss_kib(pid) for pid in workers}
        took = probe_latencies(server)
        print(
            f"{args.count} heads of {len(head)} bytes held"
            f" ({time.monotonic() - started:.1f} s to send)"
        )
        for pid in workers:
            print(
                f"  worker {pid}: VmRSS {before[pid] / 1024:.0f} MB -> {during[pid] / 1024:.0f} MB"
            )
        print(
            f"  20 probes meanwhile: median {statistics.median(took) * 1000:.0f} ms,"
            f" slowest {max(took) * 1000:.0f} ms"
        )
        for sock in held:
            sock.close()


if __name__ == "__main__":
    main()
