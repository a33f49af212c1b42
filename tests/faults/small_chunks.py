"""Measure what one client streaming tiny chunks costs the other clients of its worker
(not a test; a measurement).

    PYTHONPATH=$PWD python -m tests.faults.small_chunks [--root CHECKOUT] [--chunk 1]
        [--ext ""] [--seconds 5] [--gunicorn] [flags for the server...]

Starts ``python -m wsgikit tests.apps:echo -w 1`` from ``--root`` (default: this
checkout; give an older checkout to measure it the same way), or, with ``--gunicorn``, Gunicorn's
gthread worker, one process, one thread), then for ``--seconds``: one attacker sends a
chunked POST body of ``--chunk``-byte chunks (each with the chunk extension ``--ext``,
e.g. ``;a=b``) as fast as the server takes them, and a probe sends GETs one after the
other, each on a new connection. Prints the probe's requests per second and latencies,
what the attacker got through, and the worker's CPU time. ``--chunk 0`` runs the probe
alone.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from wsgikit.testing import LiveServer

from ..support import children, free_port, wait_for

_HEAD = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunk_block(size: int, ext: bytes, total: int = 65536) -> bytes:
    """About ``total`` bytes of body chunks of ``size`` bytes each."""
    chunk = b"%x%s\r\n%s\r\n" % (size, ext, b"X" * size)
    return chunk * max(1, total // len(chunk))


class Attacker(threading.Thread):
    """Streams a chunked body until stopped, on a new connection each time the server
    refuses one; records what the server did about it."""

    def __init__(self, port: int, block: bytes) -> None:
        super().__init__(name="attacker", daemon=True)
        self.port = port
        self.block = block
        self.sent = 0
        self.refused = 0
        self.answers: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
                sock.sendall(_HEAD)
                self._stream(sock)

    def _stream(self, sock: socket.socket) -> None:
        while not self.stop.is_set():
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(self.block)
            except OSError:
                break
            self.sent += len(self.block)
        else:
            return
        self.refused += 1
        try:
            answer = sock.recv(200)
        except OSError as exc:
            answer = repr(exc).encode()
        self.answers.add(answer.split(b"\r\n", 1)[0].decode() or "closed")


def probe(port: int, seconds: float) -> list[float]:
    """Latencies of GETs sent one after the other for ``seconds`` (5.0: failed)."""
    took = []
    end = time.monotonic() + seconds
    request = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    while time.monotonic() < end:
        start = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(request)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            ok = data.startswith(b"HTTP/1.1 200")
        except OSError:
            ok = False
        took.append(time.monotonic() - start if ok else 5.0)
    return took


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(port: int, worker: int, args: argparse.Namespace) -> None:
    attacker = None
    if args.chunk:
        attacker = Attacker(port, chunk_block(args.chunk, args.ext.encode()))
        attacker.start()
        time.sleep(0.5)
    cpu = cpu_seconds(worker)
    took = probe(port, args.seconds)
    cpu = cpu_seconds(worker) - cpu
    if attacker is not None:
        attacker.stop.set()
        attacker.join(10)
    took.sort()
    print(
        f"probe: {len(took) / args.seconds:.0f} requests/s, median"
        f" {statistics.median(took) * 1000:.1f} ms, p99 {took[int(len(took) * 0.99)] * 1000:.1f} ms,"
        f" max {took[-1] * 1000:.0f} ms; worker CPU {cpu / args.seconds * 100:.0f} %"
    )
    if attacker is not None:
        print(
            f"attacker ({args.chunk}-byte chunks{', ext ' + args.ext if args.ext else ''}):"
            f" {attacker.sent / 1e6:.1f} MB sent, refused {attacker.refused} times"
            f" {sorted(attacker.answers)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="checkout to run the server from")
    parser.add_argument("--chunk", type=int, default=1)
    parser.add_argument("--ext", default="")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--gunicorn", action="store_true")
    args, server_flags = parser.parse_known_args()
    if args.gunicorn:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "1", "--threads", "1",
             "-b", f"127.0.0.1:{port}", "tests.apps:echo", *server_flags],
        )  # fmt: skip
        try:
            wait_for(lambda: children(proc.pid), "gunicorn's worker")
            wait_for(lambda: socket.create_connection(("127.0.0.1", port)).close() or True)
            measure(port, min(children(proc.pid)), args)
        finally:
            proc.terminate()
            proc.wait(10)
        return
    settings = {}
    for flag, value in zip(server_flags[::2], server_flags[1::2], strict=True):
        settings[flag.lstrip("-").replace("-", "_")] = value
    with LiveServer("tests.apps:echo", workers=1, cwd=args.root, **settings) as server:
        assert server.process is not None
        wait_for(lambda: children(server.process.pid), "the worker")
        measure(server.port, min(children(server.process.pid)), args)


if __name__ == "__main__":
    main()
