"""What the fault tests measure a live pre-fork server with: probes, process facts, clients.

Every wait is bounded; every process a test starts is stopped by PID (the
``prefork`` fixture in ``conftest.py``).
"""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import time
from pathlib import Path

from wsgikit.testing import LiveServer

from ..rawhttp import RawClient


def server_settings(flags: list[str], defaults: dict[str, object]) -> dict[str, object]:
    """A measurement script's leftover ``--flag value`` pairs as LiveServer settings."""
    settings = dict(defaults)
    for flag, value in zip(flags[::2], flags[1::2], strict=True):
        settings[flag.lstrip("-").replace("-", "_")] = value
    return settings


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (``VmRSS`` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    """How many file descriptors ``pid`` has open."""
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


class Probes:
    """A normal client: one GET on a new connection every ``interval`` seconds, on a fixed
    schedule (a probe does not wait for the one before), each allowed ``timeout``
    seconds; counts what was answered in time and what was not."""

    def __init__(
        self,
        server: LiveServer,
        path: str = "/pid",
        interval: float = 0.1,
        timeout: float = 2.0,
    ) -> None:
        self.server = server
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.answered = 0
        self.failures: list[str] = []
        self.failed_started: list[float] = []  # when each failed probe was sent (monotonic)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(4, int(timeout / interval) + 2), thread_name_prefix="probe"
        )
        self._thread = threading.Thread(target=self._schedule, name="probes", daemon=True)

    @property
    def sent(self) -> int:
        return self.answered + len(self.failures)

    @property
    def availability(self) -> float:
        return self.answered / self.sent if self.sent else 0.0

    def _schedule(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._pool.submit(self._probe)
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def failed_since(self, moment: float) -> int:
        """How many probes sent at or after ``moment`` (monotonic) failed."""
        with self._lock:
            return sum(1 for started in self.failed_started if started >= moment)

    def _probe(self) -> None:
        started = time.monotonic()
        try:
            response = self.server.get(self.path, timeout=self.timeout)
            failure = None if response.status == 200 else f"status {response.status}"
        except Exception as exc:  # a failed probe is what we count
            failure = repr(exc)
        with self._lock:
            if failure is None:
                self.answered += 1
            else:
                self.failures.append(failure)
                self.failed_started.append(started)

    def __enter__(self) -> Probes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._pool.shutdown(wait=True)

    def summary(self) -> str:
        return f"{self.answered} of {self.sent} answered; failures: {self.failures[:5]}"


def idle_clients(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that say nothing (the caller closes them)."""
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]


def non_reading_client(port: int, path: str) -> socket.socket:
    """A client that asks for ``path`` and never reads the answer (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    return sock


def stall_every_worker(
    port: int, path: str, workers: int, each: int = 2, most: int = 8
) -> list[socket.socket]:
    """Non-reading clients of ``path`` until every worker serves ``each`` of them (the
    response's ``X-Pid`` tells which), at most ``most``. A client whose response head
    does not come within a second waits behind a worker's busy app threads (it stalls
    that worker too, but we cannot tell which): we go on with the next one."""
    stalled: list[socket.socket] = []
    per_worker: dict[str, int] = {}
    while len(stalled) < most:
        sock = non_reading_client(port, path)
        stalled.append(sock)
        client = RawClient(sock=sock, timeout=1.0)
        try:
            _, headers = client.read_head()
        except (TimeoutError, ConnectionError):
            continue
        pid = headers["x-pid"]
        per_worker[pid] = per_worker.get(pid, 0) + 1
        if len(per_worker) == workers and min(per_worker.values()) >= each:
            break
    return stalled


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Read and discard until the server closes ``sock``; True if it did within ``timeout``."""
    with RawClient(sock=sock, timeout=timeout) as client:
        return client.at_eof(timeout)
