"""The arbiter as a real master process, driven from outside with real signals."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import DEADLINE, alive, wait_for

SCRIPT = Path(__file__).with_name("arbiter_script.py")
ROOT = Path(__file__).resolve().parents[2]


class Master:
    def __init__(self, tmp_path: Path, scenario: str) -> None:
        self.events_path = tmp_path / "events"
        self.output_path = tmp_path / "output"
        self.output = open(self.output_path, "wb")  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), scenario, str(self.events_path)],
            stdout=self.output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group, so cleanup reaches workers
        )

    def text(self) -> str:
        return self.output_path.read_text(errors="replace")

    def events(self, kind: str) -> list[tuple[int, str]]:
        if not self.events_path.exists():
            return []
        out = []
        for line in self.events_path.read_text().splitlines():
            k, pid, extra = (line.split(" ", 2) + [""])[:3]
            if k == kind:
                out.append((int(pid), extra))
        return out

    def wait(self) -> int:
        return self.proc.wait(DEADLINE)

    def cleanup(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(DEADLINE)
        self.output.close()


@pytest.fixture
def master_factory(tmp_path: Path) -> Iterator[Callable[[str], Master]]:
    """Start masters by scenario name; every one is killed (by process group) afterwards."""
    started: list[Master] = []

    def start(scenario: str) -> Master:
        master = Master(tmp_path, scenario)
        started.append(master)
        return master

    try:
        yield start
    finally:
        for master in started:
            master.cleanup()


def test_stuck_thread_gets_stack_dump_and_is_replaced(
    master_factory: Callable[[str], Master],
) -> None:
    master = master_factory("stuck")
    wait_for(lambda: len(master.events("boot")) >= 2, "stuck worker replaced")
    first = master.events("boot")[0][0]
    master.proc.send_signal(signal.SIGTERM)
    assert master.wait() == 0
    out = master.text()
    stuck = [line for line in out.splitlines() if "is stuck" in line]
    assert stuck and str(first) in stuck[0]
    assert "task 'GET /slow from 127.0.0.1' without progress for" in stuck[0]
    # faulthandler's dump of every thread, including the hung app thread
    assert "Thread 0x" in out and 'File "' in out and "app_thread" in out


def test_real_signals_kill9_and_term(master_factory: Callable[[str], Master]) -> None:
    master = master_factory("idle")
    wait_for(lambda: len(master.events("boot")) == 2, "2 workers")
    victim = master.events("boot")[0][0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(master.events("boot")) == 3, "replacement")
    new = master.events("boot")[2][0]
    master.proc.send_signal(signal.SIGTERM)
    assert master.wait() == 0
    lines = [
        line
        for line in master.text().splitlines()
        if str(victim) in line and str(new) in line and "SIGKILL" in line
    ]
    assert lines, master.text()
    assert len(master.events("exit")) == 2


def test_boot_error_exit_status_3(master_factory: Callable[[str], Master]) -> None:
    started = time.monotonic()
    master = master_factory("broken")
    assert master.wait() == 3
    assert time.monotonic() - started < DEADLINE
    out = master.text()
    assert out.count("ModuleNotFoundError: No module named 'no_such_module_for_wsgikit_tests'") == 1
    assert out.count("Traceback") == 1
    assert "worker failed to boot" in out
    assert out.count("booting worker") == 1


def test_workers_stop_when_master_dies(master_factory: Callable[[str], Master]) -> None:
    master = master_factory("idle")
    wait_for(lambda: len(master.events("boot")) == 2, "2 workers")
    os.kill(master.proc.pid, signal.SIGKILL)
    master.proc.wait(DEADLINE)
    wait_for(lambda: len(master.events("exit")) == 2, "orphaned workers exit")
    assert {extra for _, extra in master.events("exit")} == {"orphaned"}
    for pid, _ in master.events("boot"):
        wait_for(lambda pid=pid: not alive(pid), f"worker {pid} gone")


def test_term_while_a_worker_loads_the_app_stops_at_once(
    master_factory: Callable[[str], Master],
) -> None:
    # The worker has no server (no stop callback) yet: nothing to finish, so it exits
    # at once instead of serving later and making the master wait graceful_timeout.
    master = master_factory("loading")
    wait_for(lambda: master.events("loading"), "a worker loading its app")
    started = time.monotonic()
    master.proc.send_signal(signal.SIGTERM)
    assert master.proc.wait(DEADLINE) == 0, master.text()
    assert time.monotonic() - started < 10  # the graceful timeout is 30 s
    assert "did not stop in time" not in master.text()
    assert not master.events("boot")


@pytest.mark.parametrize("scenario", ["loading", "loading-poll"])
def test_worker_orphaned_while_loading_exits(
    master_factory: Callable[[str], Master], scenario: str
) -> None:
    # With the kernel's parent-death signal, or (-poll) the parent-pid check.
    master = master_factory(scenario)
    wait_for(lambda: master.events("loading"), "a worker loading its app")
    ((worker, _),) = master.events("loading")
    os.kill(master.proc.pid, signal.SIGKILL)
    master.proc.wait(DEADLINE)
    wait_for(lambda: not alive(worker), f"orphaned worker {worker} gone", timeout=10)
    assert not master.events("boot"), "it never went on to serve"


@pytest.mark.parametrize("scenario", ["busy", "busy-poll"])
def test_an_orphan_with_a_request_in_flight_exits_after_graceful_timeout(
    master_factory: Callable[[str], Master], scenario: str
) -> None:
    # Its request never ends and its master, who would kill it after graceful_timeout
    # (1 s here), is gone: the worker enforces that bound itself.
    master = master_factory(scenario)
    wait_for(lambda: master.events("boot"), "a worker serving")
    ((worker, _),) = master.events("boot")
    try:
        os.kill(master.proc.pid, signal.SIGKILL)
        master.proc.wait(DEADLINE)
        wait_for(lambda: master.events("stop-asked"), "the orphan asked to stop")
        wait_for(lambda: not alive(worker), f"orphaned worker {worker} gone", timeout=15)
    finally:
        if alive(worker):
            os.kill(worker, signal.SIGKILL)
    assert "requests still running 1s after its master died; exiting" in master.text()
