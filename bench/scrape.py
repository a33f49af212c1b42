"""Watching a server while it is measured, as its operators would: Prometheus, probes, ctl.

With ``--observe`` each wsgikit contestant also runs with its status and metrics on:
``--metrics-bind`` on a port of its own and ``--control-socket`` in a directory of its
own (so any number of servers run at once without colliding), and during every
measured run a :class:`Scraper` reads ``/metrics``, ``/healthz`` and the control
socket's ``show all`` once per ``interval``, as a Prometheus scrape, a load balancer's
probe and ``wsgikit status`` would. What that costs the request path is the difference
between the contestant's runs with and without it.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

from bench.probe import Periodic
from bench.servers import HOST


def _http_get(port: int, path: str, timeout: float) -> bool:
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            head += chunk
        while sock.recv(65536):  # the listener closes after its answer
            pass
    return head.startswith(b"HTTP/1.1 200")


def _control_show(path: str, timeout: float) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(b'{"command": "show", "args": ["all"]}\n')
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return bool(json.loads(data).get("ok"))


class Scraper(Periodic):
    """Reads the server's metrics, health and status every ``interval`` seconds from a
    thread, for the duration of a ``with`` block; counts what answered."""

    def __init__(
        self, metrics_port: int, control_path: str, interval: float = 1.0, timeout: float = 2.0
    ) -> None:
        super().__init__(interval, 3 * timeout + 1, "bench-scrape")
        self.metrics_port, self.control_path = metrics_port, control_path
        self.timeout = timeout
        self.counts = {"scrapes": 0, "failed": 0}

    def tick(self) -> None:
        checks: tuple[Callable[[], bool], ...] = (
            lambda: _http_get(self.metrics_port, "/metrics", self.timeout),
            lambda: _http_get(self.metrics_port, "/healthz", self.timeout),
            lambda: _control_show(self.control_path, self.timeout),
        )
        for check in checks:
            try:
                ok = check()
            except (OSError, ValueError):
                ok = False
            self.counts["scrapes"] += 1
            self.counts["failed"] += not ok
