"""Status, control and metrics: what ``wsgikit status`` and ``/metrics`` report matches
the requests sent; ``wsgikit ctl`` steers workers; ``/healthz`` follows the drain;
statsd gets the same counters; a worker over its memory limit is replaced."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from wsgikit.testing import LiveServer

from ..support import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


def ctl(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "wsgikit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )


def status(path: str) -> dict[str, Any]:
    proc = ctl("status", "--json", "-s", path)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def fetch(port: int, path: str, timeout: float = 10) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def metrics(port: int) -> dict[str, float]:
    code, text = fetch(port, "/metrics")
    assert code == 200
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


@pytest.fixture
def control(tmp_path: Path) -> str:
    (tmp_path / "run").mkdir()
    return str(tmp_path / "run" / "wsgikit.ctl")


def test_status_and_prometheus_count_the_requests_sent(control: str) -> None:
    mport = free_port()
    with LiveServer(
        "tests.apps:whoami", workers=2, metrics_bind=f"127.0.0.1:{mport}", control_socket=control
    ) as server:
        assert oct(os.stat(control).st_mode & 0o777) == "0o600"
        wait_for(lambda: metrics(mport)["wsgikit_workers_booted"] == 2, "both workers booted")
        before = metrics(mport)
        base = status(control)
        sent = {"2xx": 7, "4xx": 3, "5xx": 2}
        for _ in range(sent["2xx"]):
            assert server.get("/").status == 200
        for _ in range(sent["4xx"]):
            assert server.get("/status/404").status == 404
        for _ in range(sent["5xx"]):
            assert server.get("/status/503").status == 503
        total = sum(sent.values())

        def counted() -> dict[str, float] | None:
            now = metrics(mport)
            done = now["wsgikit_request_duration_seconds_count"]
            return now if done - before["wsgikit_request_duration_seconds_count"] >= total else None

        after = wait_for(counted, "the metrics to count every request")
        assert isinstance(after, dict)
        for name, count in sent.items():
            key = f'wsgikit_requests_total{{status="{name}"}}'
            assert after[key] - before[key] == count
        assert (
            after['wsgikit_request_duration_seconds_bucket{le="+Inf"}']
            == after["wsgikit_request_duration_seconds_count"]
        )
        assert after["wsgikit_workers"] == 2 and after["wsgikit_requests_in_flight"] == 0
        assert after["wsgikit_workers_memory_bytes"] > 0 and after["wsgikit_uptime_seconds"] > 0

        doc = status(control)
        assert doc["requests"] - base["requests"] == total
        for name, count in sent.items():
            assert doc["status"][name] - base["status"][name] == count
        assert sum(w["requests"] for w in doc["workers"]) == doc["requests"]
        assert doc["listeners"] == [f"http://127.0.0.1:{server.port}"]
        assert doc["config"]["workers"] == 2 and doc["in_flight"] == 0
        assert all(w["rss"] > 0 and w["booted"] for w in doc["workers"])

        table = ctl("status", "-s", control)
        assert table.returncode == 0
        assert f"requests: {doc['requests']}" in table.stdout
        for worker in doc["workers"]:
            assert str(worker["pid"]) in table.stdout
        assert fetch(mport, "/healthz") == (200, "ok\n")
        assert fetch(mport, "/nothing")[0] == 404


def test_a_busy_worker_shows_the_request_it_serves(control: str) -> None:
    with LiveServer("tests.apps:whoami", workers=1, control_socket=control) as server:
        done = threading.Event()
        thread = threading.Thread(
            target=lambda: (server.get("/sleep/3", timeout=30), done.set()), daemon=True
        )
        thread.start()

        def busy() -> list[dict[str, Any]]:
            return [b for w in status(control)["workers"] for b in w["busy"]]

        serving = wait_for(busy, "the worker to report its request")
        assert isinstance(serving, list)
        assert serving[0]["request"].startswith("GET /sleep/3 from 127.0.0.1")
        assert serving[0]["running"] >= 0
        thread.join(30)
        assert done.is_set()


def test_ctl_adds_removes_kills_and_reloads_workers(control: str) -> None:
    with LiveServer("tests.apps:whoami", workers=1, control_socket=control) as server:
        assert ctl("ctl", "-s", control, "worker", "add", "2").returncode == 0
        wait_for(lambda: status(control)["workers_booted"] == 3, "three workers")
        assert ctl("ctl", "-s", control, "worker", "remove").returncode == 0
        wait_for(lambda: len(status(control)["workers"]) == 2, "two workers")
        victim = status(control)["workers"][0]["pid"]
        assert ctl("ctl", "-s", control, "worker", "kill", str(victim)).returncode == 0
        wait_for(
            lambda: (
                (pids := [w["pid"] for w in status(control)["workers"] if w["booted"]])
                and victim not in pids
                and len(pids) == 2
            ),
            "the killed worker to be replaced",
        )
        refused = ctl("ctl", "-s", control, "worker", "kill", "999999999")
        assert refused.returncode == 1 and "no worker with pid 999999999" in refused.stderr
        assert ctl("ctl", "-s", control, "reload").returncode == 0
        wait_for(lambda: status(control)["master"]["generation"] == 2, "the reload")
        assert server.get("/").status == 200
        shown = json.loads(ctl("ctl", "-s", control, "--json", "show", "listeners").stdout)
        assert shown == {"listeners": [f"http://127.0.0.1:{server.port}"]}
        assert ctl("ctl", "-s", control, "shutdown").returncode == 0
        assert server.process is not None
        assert server.process.wait(30) == 0
    assert not os.path.exists(control)


def test_every_ctl_command_the_docs_list(control: str, tmp_path: Path) -> None:
    access = tmp_path / "access.log"
    with LiveServer(
        "tests.apps:whoami", workers=1, control_socket=control, accesslog=str(access)
    ) as server:
        assert server.get("/").status == 200
        # show workers|stats|config, as tables and as JSON.
        workers = ctl("ctl", "-s", control, "show", "workers")
        assert workers.returncode == 0 and workers.stdout.startswith("PID ")
        assert str(server.worker_pids[0]) in workers.stdout
        stats = ctl("ctl", "-s", control, "show", "stats")
        assert stats.returncode == 0 and "requests: " in stats.stdout
        assert "PID" not in stats.stdout
        config = ctl("ctl", "-s", control, "--json", "show", "config")
        assert json.loads(config.stdout)["config"]["control_socket"] == control
        table = ctl("ctl", "-s", control, "show", "config").stdout.splitlines()
        assert "control_socket_mode        = 0o600" in table
        # A reader that leaves early (``| head``) is no error: no traceback, exit 0. Here
        # the pipe's reader is gone before the command writes, so every write fails.
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            piped = subprocess.run(
                [sys.executable, "-m", "wsgikit", "ctl", "-s", control, "show", "config"],
                stdout=write_end,
                stderr=subprocess.PIPE,
                text=True,
                timeout=60,
                cwd=ROOT,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
            )
        finally:
            os.close(write_end)
        assert piped.returncode == 0 and piped.stderr == "", piped.stderr
        # reopen: the access log, moved away (logrotate), is written anew at its path.
        wait_for(lambda: access.exists() and access.stat().st_size > 0, "the access log")
        access.rename(tmp_path / "access.log.1")
        assert ctl("ctl", "-s", control, "reopen").returncode == 0
        wait_for(
            lambda: server.get("/").status == 200 and access.exists() and access.read_text(),
            "the access log to be reopened",
        )
        # worker kill PID --now: SIGKILL, without waiting for the request it serves.
        outcome: list[str] = []

        def sleeper() -> None:
            try:
                outcome.append(str(server.get("/sleep/60", timeout=90).status))
            except Exception as exc:  # the connection is cut: what --now means
                outcome.append(type(exc).__name__)

        thread = threading.Thread(target=sleeper, daemon=True)
        thread.start()
        wait_for(lambda: status(control)["in_flight"] == 1, "the request to run")
        victim = server.worker_pids[0]
        killed = ctl("ctl", "-s", control, "worker", "kill", str(victim), "--now")
        assert killed.returncode == 0, killed.stderr
        thread.join(30)
        assert outcome and outcome != ["200"], outcome
        server.wait_for(
            lambda: server.worker_pids and victim not in server.worker_pids, "a new worker"
        )
        assert server.get("/").status == 200
        # shutdown quick: as INT.
        assert ctl("ctl", "-s", control, "shutdown", "quick").returncode == 0
        assert server.process is not None
        server.process.wait(30)
    assert re.search(r"master \d+: fast stop \(SIGINT\)", server.log_text()), server.log_text()


def test_a_control_socket_in_a_missing_directory_is_one_line_and_creates_nothing(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing" / "deeper"
    proc = ctl("tests.apps:whoami", "-b", "127.0.0.1:0", "--control-socket", f"{missing}/w.ctl")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"wsgikit: error: setting 'control_socket': cannot listen on {missing}/w.ctl: "
        f"no directory {missing} (create it first; systemd: RuntimeDirectory=)"
    ]
    assert not (tmp_path / "missing").exists()


def test_ctl_without_a_server_says_so(tmp_path: Path) -> None:
    proc = ctl("status", "-s", str(tmp_path / "none.ctl"))
    assert proc.returncode == 1 and "no control socket at" in proc.stderr
    proc = ctl("status", "--json")  # no socket named anywhere
    assert proc.returncode == 2 and "control_socket" in proc.stderr


def test_healthz_is_503_while_draining_and_the_request_still_ends_well() -> None:
    mport = free_port()
    with LiveServer(
        "tests.apps:whoami", workers=1, metrics_bind=f"127.0.0.1:{mport}", graceful_timeout=20
    ) as server:
        wait_for(lambda: fetch(mport, "/healthz")[0] == 200, "healthy")
        results: list[int] = []
        thread = threading.Thread(
            target=lambda: results.append(server.get("/sleep/2", timeout=30).status), daemon=True
        )
        thread.start()
        wait_for(lambda: metrics(mport)["wsgikit_requests_in_flight"] == 1, "the request to run")
        server.signal(signal.SIGTERM)
        assert wait_for(
            lambda: fetch(mport, "/healthz") == (503, "draining\n"), "503 while draining"
        )
        thread.join(30)
        assert results == [200]


def test_statsd_gets_the_counters(tmp_path: Path) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(1.0)
    port = receiver.getsockname()[1]
    try:
        with LiveServer(
            "tests.apps:whoami",
            workers=2,
            statsd_host=f"127.0.0.1:{port}",
            statsd_prefix="shop",
            dogstatsd_tags="env:test",
        ) as server:
            for _ in range(5):
                assert server.get("/").status == 200
            lines: list[str] = []

            def counted() -> bool:
                try:
                    lines.extend(receiver.recv(65536).decode().splitlines())
                except TimeoutError:
                    pass
                total = sum(
                    int(m.group(1))
                    for line in lines
                    if (m := re.fullmatch(r"shop\.wsgikit\.requests:(\d+)\|c\|#env:test", line))
                )
                two = any(
                    re.fullmatch(r"shop\.wsgikit\.workers:2\|g\|#env:test", line) for line in lines
                )
                return total >= 5 and two

            wait_for(counted, "five requests and two workers seen by statsd")
            assert any(line.startswith("shop.wsgikit.request.status.2xx:") for line in lines)
            assert any(
                re.fullmatch(r"shop\.wsgikit\.workers:2\|g\|#env:test", line) for line in lines
            )
            assert any(line.startswith("shop.wsgikit.request.duration:") for line in lines)
    finally:
        receiver.close()


def test_a_worker_over_its_memory_limit_is_replaced_without_a_failed_request() -> None:
    with LiveServer("tests.apps:whoami", workers=1, max_worker_memory=150) as server:
        first = json.loads(server.get("/").body)["pid"]
        statuses = [server.get("/grow/40", timeout=30).status for _ in range(5)]
        # 200 MiB more are alive now: the master (it looks once a second) retires the
        # worker after its requests and starts another. Requests go on meanwhile.
        pids: set[int] = set()

        def replaced() -> bool:
            response = server.get("/", timeout=30)
            statuses.append(response.status)
            pids.add(json.loads(response.body)["pid"])
            return bool(pids - {first})

        wait_for(replaced, "a new worker")
        assert set(statuses) == {200}
        log = wait_for(
            lambda: "over the limit of 150.0 MiB" in server.log_text() and server.log_text()
        )
        assert isinstance(log, str)
        assert re.search(rf"worker {first} \(id 1\) uses \d+\.\d MiB of memory", log)
