"""Stops and reloads under load: nothing already received is lost, no deploy is lost."""

from __future__ import annotations

import concurrent.futures
import signal
import time

import pytest

from ..rawhttp import RawClient
from ..support import children, wait_for
from .probes import Probes, open_fds, rss_kib


def _get(port: int, path: str) -> int:
    with RawClient(port, timeout=30) as client:
        client.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        return client.read_response().status


@pytest.mark.parametrize(
    "settings",
    [{}, {"worker_class": "sync"}, {"worker_connections": 5}],
    ids=["threaded", "sync", "threaded-5-connections"],
)
def test_term_answers_every_request_already_received(prefork, settings):
    """50 concurrent requests of 0.1 s each on 2 workers of 1 thread take ~2.5 s; TERM
    comes 0.7 s after they were sent. Every one is answered within graceful_timeout:
    the ones a worker holds (the threaded worker's queued ones used to be cut at
    header_timeout, here 1 s), and the ones still in the listen backlog (the sync worker
    and a threaded one at worker_connections used to reset them: 34 and 32 of 50)."""
    server = prefork(header_timeout=1, graceful_timeout=20, **settings)
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
    print(f"\nTERM with 50 requests queued ({settings}): {statuses.count(200)} of 50 answered")


def test_two_hups_within_50_ms_are_both_applied(prefork, tmp_path):
    """Two deploys in quick succession: the config file changes, HUP, it changes again,
    HUP within 50 ms while the first reload is under way. The second is not dropped:
    the final workers serve the second change."""
    conf = tmp_path / "wsgikit.conf.py"
    # A worker takes a moment to boot (as an app that imports a lot does), so that
    # the second HUP lands while the first reload is under way on a busy machine too.
    slow_boot = "import time\ndef post_worker_init(worker):\n    time.sleep(0.3)\n"
    conf.write_text(slow_boot + "server_header = 'v1'\n")
    server = prefork(config=str(conf))
    master = server.process.pid
    first_workers = children(master)
    with Probes(server, path="/", interval=0.05, timeout=5.0) as probes:
        conf.write_text(slow_boot + "server_header = 'v2'\n")
        server.signal(signal.SIGHUP)
        sent = time.monotonic()
        while "reloading: starting" not in server.log_text():  # the first one is under way
            assert time.monotonic() - sent < 5.0, server.log_text()
            time.sleep(0.002)
        conf.write_text(slow_boot + "server_header = 'v3'\n")
        server.signal(signal.SIGHUP)
        gap = time.monotonic() - sent
        wait_for(lambda: server.log_text().count("reload complete") == 2, "second reload")
        wait_for(lambda: len(children(master)) == 2, "old generations gone")
    assert "HUP during the reload to generation 2: reloading again after it" in server.log_text()
    assert server.get("/").headers["Server"] == "v3"
    assert not children(master) & first_workers
    assert probes.failures == [], probes.summary()
    print(f"\nHUP twice, {gap * 1000:.0f} ms apart: both applied; probes {probes.summary()}")


def test_10000_keep_alive_requests_leave_no_fd_or_memory_growth(prefork):
    server = prefork(workers=1, keepalive=30)
    (worker,) = children(server.process.pid)
    with RawClient(server.port, timeout=10) as warm:
        for _ in range(200):  # warm up: imports, caches, allocator arenas
            warm.get("/")
    fds, rss = open_fds(worker), rss_kib(worker)
    batch = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" * 100
    with RawClient(server.port, timeout=30) as client:
        for _ in range(50):  # 5,000 pipelined in batches of 100 on one connection
            client.send(batch)
            for _ in range(100):
                assert client.read_response().body == b"ok"
    for _ in range(50):  # and 5,000 on 50 connections of 100 each
        with RawClient(server.port, timeout=30) as client:
            client.send(batch)
            for _ in range(100):
                assert client.read_response().body == b"ok"
    wait_for(lambda: open_fds(worker) <= fds, "connections closed", 5.0)
    grown = rss_kib(worker) - rss
    assert open_fds(worker) <= fds
    assert grown < 2048, f"RSS grew by {grown} KiB over 10,000 requests"
    print(f"\n10,000 keep-alive requests: fds {fds} -> {open_fds(worker)}, RSS {grown:+d} KiB")
