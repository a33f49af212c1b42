"""The fault tests' pre-fork server: a real ``python -m wsgikit`` subprocess, stopped by PID."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wsgikit.testing import LiveServer

from ..support import children, wait_for

FAULTY = "tests.faults.app:faulty"


@pytest.fixture
def prefork() -> Iterator[Callable[..., LiveServer]]:
    """``prefork(**settings)``: the faulty app on 2 workers (the defaults otherwise),
    started and waited for; stopped (SIGTERM, then SIGKILL by PID) after the test."""
    started: list[LiveServer] = []

    def start(app: str = FAULTY, **settings: Any) -> LiveServer:
        settings.setdefault("workers", 2)
        server = LiveServer(app, **settings)
        server.start()
        started.append(server)
        assert server.process is not None
        master = server.process.pid
        wait_for(lambda: len(children(master)) >= settings["workers"], what="workers")
        return server

    yield start
    for server in started:
        server.stop()
