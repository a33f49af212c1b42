"""Stops and reloads under load: nothing already received is lost, no deploy is lost."""

from __future__ import annotations

import concurrent.futures
import signal
import time

from ..rawhttp import RawClient


def _get(port: int, path: str) -> int:
    with RawClient(port, timeout=30) as client:
        client.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        return client.read_response().status


def test_term_answers_every_request_already_received(prefork):
    """50 concurrent requests of 0.1 s each on 2 workers of 1 thread take ~2.5 s; TERM
    comes 0.7 s after they were sent. Every one is answered (the queued ones used to be
    cut at header_timeout, here 1 s), within graceful_timeout."""
    server = prefork(header_timeout=1, graceful_timeout=20)
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(_get, server.port, "/sleep?0.1") for _ in range(50)]
        time.sleep(0.7)
        server.signal(signal.SIGTERM)
        statuses = []
        for future in futures:
            try:
                statuses.append(future.result(timeout=40))
            except Exception as exc:
                statuses.append(repr(exc))
    assert server.process.wait(30) == 0
    assert statuses.count(200) == 50, statuses
