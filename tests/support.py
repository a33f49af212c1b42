"""Small helpers every kind of test uses: a bounded wait, a free port, the children of a
process, and a subprocess that never outlives its test."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: The default bound of a wait in tests; generous, for a shared and loaded machine.
DEADLINE = 15.0


def wait_for(condition: Callable[[], object], what: str = "", timeout: float = DEADLINE) -> object:
    """Poll ``condition`` every 20 ms until it returns something true, and return that;
    fail naming ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or condition}")
        time.sleep(0.02)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return set()
    return {int(p) for p in text.split()}


@contextlib.contextmanager
def reaped(proc: subprocess.Popen[Any]) -> Iterator[subprocess.Popen[Any]]:
    """Run the block; then kill ``proc`` (by its PID) if the test left it running."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def bench_settings(scenario: str, servers: list[str], workers: int, **extra: Any) -> Any:
    """The bench harness's settings for one short round of ``scenario`` with the
    Python load generator (tests of the harness's own logic; nothing is started)."""
    from bench.harness import SCENARIOS, Settings
    from bench.loadgen import LoadGen

    return Settings(
        scenarios=[SCENARIOS[scenario]],
        servers=servers,
        rounds=1,
        duration=1,
        warmup=0,
        workers=workers,
        starts=0,
        connections=None,
        idle_clients=0,
        slow_clients=0,
        wsgikit_cmd="wsgikit",
        gunicorn_cmd="gunicorn",
        loadgen=LoadGen("python", 2),
        **extra,
    )
