"""StatsD: the master sends the counters' changes once a second over UDP (or a unix socket).

Gunicorn sends one packet per request from each worker; here the workers only
count into shared memory and the master sends the differences, so the request
path pays nothing. Metric names follow Gunicorn's, under ``wsgikit.`` (with
``statsd_prefix`` before it): ``requests`` and ``request.status.2xx`` (counters),
``request.duration`` (the interval's mean in ms, sampled at 1/count so StatsD
counts every request), ``workers`` and ``requests.in_flight`` (gauges).
``dogstatsd_tags`` are appended in Datadog's ``|#tags`` form.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

from .status import STATUS_CLASSES

__all__ = ["StatsdService", "statsd_socket"]

INTERVAL = 1.0


def statsd_socket(address: str) -> tuple[socket.socket, Any]:
    """A non-blocking datagram socket for ``HOST:PORT`` or ``unix://PATH``, and its target."""
    if address.startswith("unix:"):
        path = address.split(":", 1)[1]
        if path.startswith("//"):
            path = path[2:]
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        target: Any = path
    else:
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        family, kind, proto, _, target = socket.getaddrinfo(
            host, int(port), type=socket.SOCK_DGRAM
        )[0]
        sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    return sock, target


class StatsdService:
    """A master service without sockets to wait on: it sends from ``tick``."""

    def __init__(
        self,
        address: str,
        prefix: str = "",
        tags: str = "",
        logger: logging.Logger | None = None,
        interval: float = INTERVAL,
    ) -> None:
        self.sock, self.target = statsd_socket(address)
        self.prefix = (prefix.rstrip(".") + ".") if prefix else ""
        self.prefix += "wsgikit."
        self.suffix = f"|#{tags}" if tags else ""
        self.log = logger or logging.getLogger("wsgikit.error")
        self.interval = interval
        self.arbiter: Any = None
        self._next = 0.0
        self._last: dict[str, float] = {}
        self._warned = False

    def attach(self, arbiter: object) -> None:
        self.arbiter = arbiter

    def watch(self) -> Iterator[tuple[int, int]]:
        return iter(())

    def ready(self, fd: int, events: int) -> None:  # pragma: no cover - watches nothing
        pass

    def tick(self, now: float) -> None:
        if now < self._next or self.arbiter is None:
            return
        self._next = now + self.interval
        self.flush()

    def flush(self) -> None:
        """Send what changed since the last flush (and the gauges)."""
        raw = self.arbiter.status()
        totals = raw["totals"]
        counters = {
            "requests": float(totals["requests"]),
            "request.errors": float(totals["errors"]),
        }
        for index, name in enumerate(STATUS_CLASSES):
            outcomes = totals["outcomes"]
            counters[f"request.status.{name}"] = float(
                outcomes[index] if index < len(outcomes) else 0
            )
        counters["duration_sum"] = float(totals["duration_sum"])
        lines = []
        deltas = {k: v - self._last.get(k, 0.0) for k, v in counters.items()}
        self._last = counters
        for name, delta in deltas.items():
            if name != "duration_sum" and delta > 0:
                lines.append(f"{self.prefix}{name}:{int(delta)}|c{self.suffix}")
        served = deltas["requests"]
        if served > 0:
            mean_ms = deltas["duration_sum"] / served * 1000.0
            lines.append(
                f"{self.prefix}request.duration:{mean_ms:.3f}|ms|@{1.0 / served:.6g}{self.suffix}"
            )
        lines.append(f"{self.prefix}workers:{len(raw['workers'])}|g{self.suffix}")
        lines.append(f"{self.prefix}requests.in_flight:{totals['in_flight']}|g{self.suffix}")
        for packet in _packets(lines):
            try:
                self.sock.sendto(packet, self.target)
            except OSError as exc:
                if not self._warned:
                    self._warned = True
                    self.log.warning("statsd: cannot send to %s: %s", self.target, exc)

    def close(self) -> None:
        self.sock.close()

    def close_in_child(self) -> None:
        self.sock.close()


def _packets(lines: list[str], limit: int = 1400) -> Iterator[bytes]:
    """Lines joined by newlines into datagrams that fit a common MTU."""
    batch = b""
    for line in lines:
        data = line.encode("utf-8")
        if batch and len(batch) + 1 + len(data) > limit:
            yield batch
            batch = b""
        batch = data if not batch else batch + b"\n" + data
    if batch:
        yield batch
