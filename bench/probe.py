"""A new client's view during a load run: can a fresh connection get an answer?

wrk keeps its connections open and only counts a timeout when a late response arrives,
so a server that keeps serving a few busy keep-alive connections while every other
connection waits (a sync worker holding keep-alive clients) still looks fast. The probe
opens a new connection every ``interval`` seconds during the run and times ``GET /``.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from types import TracebackType
from typing import TypeVar

from bench.servers import HOST

_T = TypeVar("_T", bound="Periodic")


class Periodic:
    """Calls :meth:`tick` every ``interval`` seconds from a thread, for the duration of a
    ``with`` block; leaving it waits up to ``join_timeout`` for a tick under way."""

    def __init__(self, interval: float, join_timeout: float, name: str) -> None:
        self.interval = interval
        self._join_timeout = join_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def __enter__(self: _T) -> _T:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(self._join_timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def tick(self) -> None:
        raise NotImplementedError


class Prober(Periodic):
    """Probe ``port`` from a thread for the duration of a ``with`` block."""

    def __init__(self, port: int, timeout: float, interval: float = 0.25) -> None:
        super().__init__(interval, timeout + 1, "bench-probe")
        self.port, self.timeout = port, timeout
        self.latencies: list[float | None] = []  # None: no 2xx answer within the timeout

    def tick(self) -> None:
        self.latencies.append(self._probe())

    def _probe(self) -> float | None:
        start = time.perf_counter()
        try:
            with socket.create_connection((HOST, self.port), timeout=self.timeout) as sock:
                sock.settimeout(max(0.01, self.timeout - (time.perf_counter() - start)))
                sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                head = sock.recv(16)
        except OSError:
            return None
        return time.perf_counter() - start if head.startswith(b"HTTP/1.1 2") else None

    def summary(self) -> dict[str, float | int | None]:
        answered = [s * 1000 for s in self.latencies if s is not None]
        return {
            "sent": len(self.latencies),
            "answered": len(answered),
            "p50_ms": round(statistics.median(answered), 2) if answered else None,
            "max_ms": round(max(answered), 2) if answered else None,
        }
