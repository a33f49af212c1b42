"""Gunicorn's hooks get Gunicorn's arguments: our copy of its example config runs unchanged."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from wsgikit.gunicorn_compat import GunicornRequest
from wsgikit.testing import LiveServer

from ..apps import service
from ..support import wait_for

CONFIG = Path(__file__).with_name("example_config.py")
SERVICE = "tests.apps:service"


def _lines(record: Path, kind: str) -> list[list[str]]:
    if not record.exists():
        return []
    return [
        line.split(" ")[1:]
        for line in record.read_text().splitlines()
        if line.startswith(kind + " ")
    ]


def test_gunicorns_example_config_runs_with_its_hooks(tmp_path: Path) -> None:
    record = tmp_path / "hooks.txt"
    env = {**os.environ, "HOOK_RECORD": str(record)}
    server = LiveServer(SERVICE, workers=2, config=str(CONFIG), env=env)
    with server:
        master = server.process.pid
        wait_for(lambda: len(_lines(record, "post_worker_init")) == 2, what="2 workers")
        response = server.get("/pid?x=1", headers={"X-Request-Id": "abc"})
        assert response.status == 200
        worker = int(response.body)
        # The only request: LiveServer's readiness comes from the master, not the app.
        wait_for(lambda: _lines(record, "post_request"), what="post_request")
        server.signal(signal.SIGTTIN)
        wait_for(lambda: _lines(record, "nworkers_changed"), what="nworkers_changed")
        server.signal(signal.SIGHUP)
        wait_for(lambda: _lines(record, "on_reload"), what="on_reload")
        wait_for(lambda: len(_lines(record, "child_exit")) >= 3, what="old workers retired")
        server.signal(signal.SIGINT)  # a fast stop: the workers run worker_int
        assert server.process.wait(30) == 0
    log = server.log_text()
    assert "Traceback" not in log, log
    assert "Server is ready. Spawning workers" in log and "Worker spawned (pid: " in log
    # A Gunicorn-only hook is named, not fatal; Gunicorn's defaults given explicitly
    # (spew = False) change nothing and get no warning; tmp_upload_dir is spool_dir.
    assert "'pre_exec' has no effect" in log
    for name in ("spew", "tmp_upload_dir"):
        assert f"'{name}'" not in log, log
    assert _lines(record, "on_starting") == [[str(master), "sync"]]
    (ready,) = _lines(record, "when_ready")
    assert ready[:3] == [str(master), "2", "2"] and ready[3].startswith("['fd://")
    assert _lines(record, "pre_fork")[0] == ["[booting]", "2"]
    forks = _lines(record, "post_fork")
    assert [f[1] for f in forks[:2]] == ["1", "2"]  # age: the worker's ordinal
    assert all(f[2] == str(master) and f[3] == str(master) and f[4] == "True" for f in forks)
    inits = {i[0]: i for i in _lines(record, "post_worker_init")}
    assert inits[str(worker)][2] == str(master)  # the attribute post_fork set on it
    assert float(inits[str(worker)][3]) == 30
    (pre,) = _lines(record, "pre_request")
    assert pre == [str(worker), "GET", "/pid", "x=1", "/pid?x=1", "(1,", "1)", "abc"]
    (post,) = _lines(record, "post_request")
    assert post[:4] == [str(worker), "/pid", "/pid", "200"]
    assert post[4:] == ["OK", "200", "text/plain", "True"]
    # server.WORKERS in the master's hooks: pid -> worker, the live workers, oldest first.
    by_age = {int(f[1]): f"{f[0]}={f[0]}/{f[1]}" for f in forks}
    assert _lines(record, "nworkers_changed")[0] == ["3", "2", f"{by_age[1]},{by_age[2]}"]
    ((reload_pid, at_reload),) = _lines(record, "on_reload")
    assert reload_pid == str(master)
    assert at_reload == f"{by_age[1]},{by_age[2]},{by_age[3]}"
    for pid, _, others in _lines(record, "child_exit"):  # a reaped worker is no longer in it
        assert others == "-" or pid not in {o.split("=")[0] for o in others.split(",")}
    assert any(others != "-" for *_, others in _lines(record, "child_exit"))
    # The fast stop reached the workers of the new generation: each ran worker_int.
    interrupted = _lines(record, "worker_int")
    assert interrupted and all(x[1] == "True" for x in interrupted)
    assert _lines(record, "on_exit") == [[str(master)]]
    exits = {x[0] for x in _lines(record, "worker_exit")}
    assert str(worker) in exits  # retired by the reload
    assert {x[0] for x in _lines(record, "child_exit")} >= exits


def test_req_path_is_the_raw_path_as_in_gunicorn() -> None:
    # Gunicorn's req.path is the target's path as sent: not percent-decoded (PATH_INFO is).
    seen: list[tuple[str, str, str]] = []

    def pre_request(worker: object, req: Any) -> None:
        seen.append((req.path, req.query, req.uri))

    with LiveServer(service, pre_request=pre_request) as server:
        assert server.get("/x%20y?a=%20b").status == 200
        assert server.get("/a%2Fb/c").status == 200
    assert seen == [("/x%20y", "a=%20b", "/x%20y?a=%20b"), ("/a%2Fb/c", "", "/a%2Fb/c")]


@pytest.mark.parametrize(
    ("raw_uri", "path"),
    [("http://h:8/p%41/?q#f", "/p%41/"), ("http://h", ""), ("*", "*"), ("//a%20b", "//a%20b")],
)
def test_req_path_of_other_target_forms(raw_uri: str, path: str) -> None:
    req = GunicornRequest({"RAW_URI": raw_uri, "PATH_INFO": "/decoded"})
    assert req.path == path
