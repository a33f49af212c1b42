"""App threads start when a request needs one, up to ``threads`` (as Gunicorn's pool does).

``--threads 1000`` used to start 1000 threads in every worker at boot; a worker now
runs only as many as requests ever needed at once.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from wsgikit.server.app_threads import AppThreads
from wsgikit.testing import LiveServer

from ..support import DEADLINE, wait_for
from .test_threaded import StartResponse, serve

LOG = logging.getLogger("test-app-threads")


def test_one_thread_at_a_time_needs_one_thread() -> None:
    done: list[int] = []
    pool: AppThreads[int] = AppThreads(1000, done.append, LOG)
    pool.start()
    try:
        for i in range(50):
            pool.submit(i)
            wait_for(lambda n=i: len(done) == n + 1, f"job {i} done")
        assert pool.started == 1
    finally:
        pool.shutdown(DEADLINE)


def test_a_thread_per_job_running_at_once_never_more_than_count() -> None:
    gate = threading.Event()
    running = threading.Semaphore(0)
    done: list[int] = []

    def run(job: int) -> None:
        running.release()
        gate.wait(DEADLINE)
        done.append(job)

    pool: AppThreads[int] = AppThreads(3, run, LOG)
    pool.start()
    try:
        for i in range(5):
            pool.submit(i)
        for _ in range(3):
            assert running.acquire(timeout=DEADLINE)
        assert pool.started == 3  # three blocked jobs, three threads; two jobs wait
        assert not running.acquire(timeout=0.2)
        gate.set()
        wait_for(lambda: len(done) == 5, "every job done")
        assert sorted(done) == [0, 1, 2, 3, 4] and pool.started == 3
    finally:
        gate.set()
        pool.shutdown(DEADLINE)


def test_a_thread_the_system_refuses_is_logged_once_and_jobs_still_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    done: list[int] = []
    gate = threading.Event()

    def run(job: int) -> None:
        gate.wait(DEADLINE)
        done.append(job)

    pool: AppThreads[int] = AppThreads(10, run, LOG)
    pool.start()
    real_start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        if self.name.startswith("wsgikit-app"):
            raise RuntimeError("can't start new thread")
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", refuse)
    try:
        with caplog.at_level(logging.WARNING, LOG.name):
            for i in range(4):
                pool.submit(i)
        gate.set()
        wait_for(lambda: len(done) == 4, "every job done by the one thread")
        assert pool.started == 1
        refused = [r for r in caplog.records if "cannot start app thread" in r.getMessage()]
        assert len(refused) == 1, caplog.text
    finally:
        gate.set()
        pool.shutdown(DEADLINE)


def test_threaded_server_with_1000_threads_starts_them_as_requests_need() -> None:
    before = threading.active_count()

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with serve(app, threads=1000) as live:
        client = live.connect()
        for _ in range(20):
            client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert client.read_response().status == 200
        pool = live.server._pool
        assert pool is not None and pool.count == 1000
        assert pool.started <= 2, pool.started  # one request at a time
        # The loop thread and its few app threads, not a thousand.
        assert threading.active_count() - before < 10


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_a_worker_started_with_threads_1000_runs_a_few_threads() -> None:
    # What `wsgikit app --threads 1000` costs a real worker process at boot.
    with LiveServer("examples.hello:application", workers=1, threads=1000) as server:
        (pid,) = server.wait_workers(1)
        for _ in range(5):
            assert server.get("/").status == 200
        tasks = len(os.listdir(f"/proc/{pid}/task"))
        assert tasks < 20, f"worker {pid} runs {tasks} threads"
        assert "with up to 1000 app threads" in server.log_text()
