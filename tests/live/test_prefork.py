"""The pre-fork server as a Gunicorn user drives it: signals, crashes, timeouts, reloads."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wsgikit.testing import LiveServer

from ..rawhttp import RawClient
from ..support import children, wait_for

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "tests.apps:service"


class RequestLoop:
    """Requests in a loop from a thread, counting answers and failures."""

    def __init__(self, server: LiveServer, path: str = "/pid") -> None:
        self.server = server
        self.path = path
        self.ok = 0
        self.failures: list[str] = []
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                r = self.server.get(self.path, timeout=10)
                if r.status == 200:
                    self.ok += 1
                    if self.path == "/pid":
                        self.pids.add(int(r.body))
                else:
                    self.failures.append(f"status {r.status}")
            except Exception as exc:  # a failed request is what we count
                self.failures.append(repr(exc))

    def __enter__(self) -> RequestLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)


@pytest.fixture
def prefork():
    started: list[LiveServer] = []

    def start(app: str = SERVICE, **settings) -> LiveServer:
        settings.setdefault("workers", 2)
        server = LiveServer(app, **settings)
        server.start()
        started.append(server)
        wait_for(lambda: len(children(server.process.pid)) >= settings["workers"], what="workers")
        return server

    yield start
    for server in started:
        server.stop()


@pytest.mark.parametrize("worker_class", ["threaded", "sync"])
def test_killed_worker_is_replaced_and_requests_keep_being_answered(prefork, worker_class):
    server = prefork(workers=2, worker_class=worker_class)
    master = server.process.pid
    with RequestLoop(server) as loop:
        wait_for(lambda: loop.ok > 5, what="first answers")
        victim = sorted(children(master))[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: victim not in children(master) and len(children(master)) == 2,
            what="replacement",
        )
        before = loop.ok
        wait_for(lambda: loop.ok > before + 10, what="answers after the kill")
    # At most the request the victim was serving when it died is lost.
    assert len(loop.failures) <= 1, loop.failures
    log = server.log_text()
    assert f"worker {victim}" in log and "SIGKILL" in log


@pytest.mark.parametrize("worker_class", ["threaded", "sync"])
def test_request_longer_than_timeout_kills_the_worker_with_a_stack_dump(prefork, worker_class):
    server = prefork(workers=1, timeout=1, worker_class=worker_class)
    master = server.process.pid
    (old,) = children(master)
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        server.get("/sleep?30", timeout=20)  # the worker is killed under it
    wait_for(lambda: children(master) and old not in children(master), what="replacement")
    assert server.get("/").body == b"ok"
    log = server.log_text()
    assert "GET /sleep?30" in log  # which request it was serving
    assert "time.sleep" in log or "in service" in log, log[-3000:]  # faulthandler's dump


@pytest.mark.parametrize("worker_class", ["threaded", "sync"])
def test_term_lets_a_request_in_flight_finish_and_the_master_exits_0(prefork, worker_class):
    server = prefork(workers=1, worker_class=worker_class)
    result: dict[str, object] = {}

    def slow() -> None:
        result["response"] = server.get("/sleep?2", timeout=15)

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.5)  # let the request reach the worker (it sleeps 2 s); the 200 is the check
    server.signal(signal.SIGTERM)
    thread.join(15)
    response = result["response"]
    assert response.status == 200 and response.body == b"slept"
    assert server.process.wait(15) == 0


@pytest.mark.parametrize("worker_class", ["threaded", "sync"])
def test_hup_under_load_gives_new_workers_and_no_failed_request(prefork, worker_class):
    server = prefork(workers=2, worker_class=worker_class)
    master = server.process.pid
    old = children(master)
    with RequestLoop(server) as loop:
        wait_for(lambda: loop.ok > 5)
        server.signal(signal.SIGHUP)
        wait_for(
            lambda: len(children(master)) == 2 and not (children(master) & old),
            what="new generation only",
        )
        before = loop.ok
        wait_for(lambda: loop.ok > before + 10)
    assert loop.failures == []
    assert loop.pids - old, "no answer came from a new worker"


def test_ttin_and_ttou_change_the_worker_count(prefork):
    server = prefork(workers=2)
    master = server.process.pid
    server.signal(signal.SIGTTIN)
    wait_for(lambda: len(children(master)) == 3, what="3 workers")
    # One at a time: UNIX merges a signal sent again before it was handled.
    server.signal(signal.SIGTTOU)
    wait_for(lambda: len(children(master)) == 2, what="2 workers")
    server.signal(signal.SIGTTOU)
    wait_for(lambda: len(children(master)) == 1, what="1 worker")
    server.signal(signal.SIGTTOU)  # never below one
    time.sleep(0.5)
    assert len(children(master)) == 1
    assert server.get("/").status == 200


def test_max_requests_recycles_workers(prefork):
    server = prefork(workers=1, max_requests=5)
    # A worker stopping after its 5th request may still answer a 6th, accepted before
    # it stopped accepting: 18 requests need at least 3 workers.
    pids = [int(server.get("/pid").body) for _ in range(18)]
    assert len(set(pids)) >= 3, pids


def test_app_that_fails_to_import_exits_3_with_one_traceback(tmp_path):
    (tmp_path / "broken_app.py").write_text("import json\nraise RuntimeError('cannot start')\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgikit",
            "broken_app:application",
            "-w",
            "3",
            "-b",
            "127.0.0.1:0",
            "--pythonpath",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("raise RuntimeError('cannot start')") == 1, proc.stderr
    assert proc.stderr.count("Traceback") == 1


def test_gunicorn_conf_py_is_accepted(tmp_path):
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(
        "import multiprocessing\n"
        "bind = ['127.0.0.1:0']\n"
        "workers = 2\n"
        "threads = 1\n"
        "timeout = 20\n"
        "graceful_timeout = 10\n"
        "keepalive = 3\n"
        "loglevel = 'debug'\n"
        "accesslog = '-'\n"
        "access_log_format = '%(h)s \"%(r)s\" %(s)s'\n"
        "max_requests = 1000\n"
        "max_requests_jitter = 50\n"
        "preload_app = False\n"
        "worker_tmp_dir = '/dev/shm'\n"
        "def on_starting(server):\n"
        "    print('on_starting hook ran', flush=True)\n"
    )
    with LiveServer(SERVICE, workers=2, config=str(conf)) as server:
        assert server.get("/").body == b"ok"
        wait_for(lambda: '"GET / HTTP/1.1" 200' in server.log_text(), what="access log")
    log = server.log_text()
    assert "on_starting hook ran" in log
    assert "worker_tmp_dir" in log  # accepted with a warning saying it has no effect


@pytest.mark.parametrize("preload", [True, False])
def test_preload_app_loads_once_in_the_master(prefork, preload):
    server = prefork("tests.apps:where_imported", workers=2, preload_app=preload)
    imported, serving = map(int, server.get("/").body.split())
    if preload:
        assert imported == server.process.pid  # loaded before forking
    else:
        assert imported == serving  # each worker loads its own


def test_process_titles_name_master_and_workers(prefork):
    server = prefork(workers=1)
    master = server.process.pid
    (worker,) = children(master)

    def title(pid: int) -> str:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()

    assert title(master).startswith(f"wsgikit: master [{SERVICE}]")
    assert title(worker).startswith(f"wsgikit: worker [{SERVICE}]")


def test_hup_rereads_the_config_file(tmp_path):
    conf = tmp_path / "wsgikit.conf.py"
    conf.write_text("server_header = 'first'\n")
    with LiveServer(SERVICE, workers=1, config=str(conf)) as server:
        master = server.process.pid
        assert server.get("/").headers["Server"] == "first"
        old = children(master)
        conf.write_text("server_header = 'second'\n")
        server.signal(signal.SIGHUP)
        wait_for(lambda: children(master) and not (children(master) & old), what="new workers")
        assert server.get("/").headers["Server"] == "second"


@pytest.mark.parametrize("worker_class", ["threaded", "sync"])
def test_a_response_in_progress_outlives_the_timeout(prefork, worker_class):
    # 6 events 0.4 s apart: 2.4 s in all against a 1 s timeout. Sending is progress,
    # so the worker is not taken for stuck (a silent app would be, as above).
    server = prefork("tests.apps:events", workers=1, timeout=1, worker_class=worker_class)
    master = server.process.pid
    before = children(master)
    response = server.get("/", timeout=20)
    assert response.body == b"".join(f"data: {i}\n\n".encode() for i in range(6))
    assert children(master) == before
    assert "stuck" not in server.log_text()


@pytest.mark.parametrize("worker_class", ["threaded", "sync"])
def test_a_worker_waiting_for_a_slow_client_is_not_stuck(prefork, worker_class):
    # The head trickles in over ~4 s, twice the timeout but within header_timeout:
    # the worker waits for input, which is not being stuck (it keeps beating).
    server = prefork(
        "tests.apps:service", workers=1, timeout=2, header_timeout=8, worker_class=worker_class
    )
    master = server.process.pid
    before = children(master)
    head = b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n"
    with RawClient(server.port, timeout=15) as client:
        for i in range(0, len(head), 2):
            client.send(head[i : i + 2])
            time.sleep(4 / (len(head) / 2))
        response = client.read_response()
    assert response.status == 200 and int(response.body) in before
    assert children(master) == before
    assert "stuck" not in server.log_text()
