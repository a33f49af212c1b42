"""Measure worker memory with many request bodies held open (not a test; a measurement).

    PYTHONPATH=$PWD python -m tests.faults.hold_bodies [--root CHECKOUT] [--count 300]
        [--size 1000000] [flags for the server...]

Starts ``python -m wsgikit tests.apps:echo -w 2`` from ``--root`` (default: this
checkout; give an older checkout to measure it the same way), opens ``--count``
connections that each send a ``--size``-byte body but its last byte, and prints
each worker's VmRSS (/proc/<pid>/status) before and while the bodies are held,
then completes them and checks every answer.
"""

from __future__ import annotations

import argparse
import socket
import time

from wsgikit.testing import LiveServer

from ..rawhttp import RawClient
from ..support import children, wait_for
from .probes import rss_kib, server_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="checkout to run the server from")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--size", type=int, default=1_000_000)
    args, server_flags = parser.parse_known_args()
    settings = server_settings(server_flags, {"worker_connections": 1000, "body_timeout": 120})
    with LiveServer("tests.apps:echo", workers=2, cwd=args.root, **settings) as server:
        assert server.process is not None
        master = server.process.pid
        wait_for(lambda: len(children(master)) == 2, "workers")
        workers = sorted(children(master))
        before = {pid: rss_kib(pid) for pid in workers}
        held = []
        head = f"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {args.size}\r\n\r\n".encode()
        for _ in range(args.count):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
            sock.sendall(head)
            held.append(sock)
        started = time.monotonic()
        for sock in held:
            sock.sendall(b"b" * (args.size - 1))
        time.sleep(1.0)  # let the workers read what the kernel still holds
        during = {pid: rss_kib(pid) for pid in workers}
        print(f"{args.count} bodies of {args.size} bytes held ({time.monotonic() - started:.1f} s)")
        for pid in workers:
            print(
                f"  worker {pid}: VmRSS {before[pid] / 1024:.0f} MB -> {during[pid] / 1024:.0f} MB"
            )
        for sock in held:
            sock.sendall(b"b")
        for sock in held:
            with RawClient(sock=sock, timeout=60) as client:
                assert client.read_response().status == 200
        print(f"  all {args.count} answered 200")


if __name__ == "__main__":
    main()
