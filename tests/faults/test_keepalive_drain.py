"""A worker that retires (HUP, memory recycling) under keep-alive load loses no request.

Six (threaded) or two (sync) ``http.client`` clients keep one connection each and send their next request as soon
as the last answer arrived, as a naive client or a proxy's upstream pool does: none
retries. A retiring worker stops accepting, answers what comes on its open connections
with ``Connection: close`` and closes a connection only after it has been quiet for a
while, so every request is answered.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from wsgikit.testing import LiveServer

from ..support import wait_for


class KeepAliveClients:
    """``count`` threads, each sending GET requests on its own keep-alive connection."""

    def __init__(self, port: int, count: int = 6, path: str = "/") -> None:
        self.port = port
        self.path = path
        self.answered = 0
        self.closes = 0  # answers that said Connection: close
        self.pids: set[int] = set()
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"keep-alive-{i}", daemon=True)
            for i in range(count)
        ]

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            while not self._stop.is_set():
                try:
                    conn.request("GET", self.path)
                    response = conn.getresponse()
                    body = response.read()
                    failure = None if response.status == 200 else f"status {response.status}"
                    closed = response.will_close
                except Exception as exc:  # what a user would see: a lost request
                    failure, closed, body = repr(exc), True, b""
                    conn.close()
                with self._lock:
                    if failure is None:
                        self.answered += 1
                        self.closes += closed
                        self.pids.add(json.loads(body)["pid"])
                    else:
                        self.failures.append(failure)
        finally:
            conn.close()

    def progressed(self, by: int) -> bool:
        """Wait until ``by`` more requests were answered (bounded)."""
        start = self.answered
        return bool(wait_for(lambda: self.answered >= start + by, f"{by} more answers"))

    @contextmanager
    def running(self) -> Iterator[KeepAliveClients]:
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(30)
            assert not any(t.is_alive() for t in self._threads)


@pytest.mark.parametrize(
    ("clients", "settings"),
    [
        pytest.param(6, {"worker_class": "threaded", "threads": 4}, id="threaded"),
        # As many clients as workers: a sync worker keeps its connection alive only
        # while nobody else waits to connect.
        pytest.param(2, {"worker_class": "sync"}, id="sync"),
    ],
)
def test_retiring_workers_lose_no_keep_alive_request(
    clients: int, settings: dict[str, object]
) -> None:
    with LiveServer(
        "tests.apps:whoami", workers=2, keepalive=5, max_worker_memory=60, **settings
    ) as server:
        with KeepAliveClients(server.port, clients).running() as load:
            load.progressed(50)
            for _ in range(3):
                server.reload()
                load.progressed(50)
            # Memory recycling: one worker goes over its limit and is replaced. One
            # grow alone takes the worker that serves it over the limit (a worker starts
            # at 20-30 MiB), however the three are spread over the two workers.
            before = set(server.worker_pids)
            for _ in range(3):
                assert server.get("/grow/45", timeout=30).status == 200
            server.wait_for(
                lambda: server.worker_pids and not before <= set(server.worker_pids),
                "a worker over its memory limit to be replaced",
                timeout=30,
            )
            load.progressed(50)
        assert "over the limit of 60.0 MiB" in server.log_text()
    summary = (
        f"{load.answered} answered ({load.closes} with Connection: close) by "
        f"{len(load.pids)} workers; failures: {load.failures[:5]}"
    )
    print(f"\n3 HUPs and a memory retire under keep-alive load: {summary}")
    assert load.failures == [], summary
    assert load.closes > 0 and len(load.pids) >= 4  # three generations and a spare
