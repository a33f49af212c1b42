"""A signal takes effect at every moment of a worker's life, through the real command."""

from __future__ import annotations

import os
import signal
import textwrap
import time
from pathlib import Path

from wsgikit.testing import LiveServer

from ..support import wait_for

SLOW_APP = """
import os, time

# Loading this app is slow once the test says so (as a big Django project can be).
if os.path.exists(os.environ["SLOW_FLAG"]):
    open(os.environ["SLOW_MARK"], "a").write(f"{os.getpid()}\\n")
    time.sleep(60)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
"""


def test_stop_right_after_hup_does_not_wait_for_loading_workers(tmp_path: Path) -> None:
    (tmp_path / "slow_app.py").write_text(textwrap.dedent(SLOW_APP))
    flag, mark = tmp_path / "flag", tmp_path / "mark"
    env = {"SLOW_FLAG": str(flag), "SLOW_MARK": str(mark)}
    server = LiveServer(
        "slow_app:application", workers=2, pythonpath=str(tmp_path), env={**os.environ, **env}
    )
    with server:
        assert server.get("/").status == 200
        flag.touch()
        server.signal(signal.SIGHUP)  # the new generation is now importing the app
        wait_for(lambda: mark.exists() and mark.read_text(), what="a new worker loading")
        started = time.monotonic()
        code = server.stop()
        took = time.monotonic() - started
    assert code == 0, server.log_text()  # not killed
    assert took < 10, f"stop took {took:.1f}s (the graceful timeout is 30 s)"
    assert "did not stop in time" not in server.log_text()
