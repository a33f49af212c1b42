"""Helpers for process tests: bounded waits, an event file workers append to, a log file,
and a runner that drives an in-process ``Arbiter`` from a thread."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from tests.support import DEADLINE, wait_for
from wsgikit.process import Arbiter, WorkerContext

__all__ = ["DEADLINE", "wait_for"]  # the process tests import them from here


def record(path: Path, kind: str, extra: str = "") -> None:
    """Append one ``kind pid extra`` line (O_APPEND keeps concurrent lines whole)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{kind} {os.getpid()} {extra}\n".encode())
    finally:
        os.close(fd)


@dataclass
class Harness:
    tmp_path: Path
    log_path: Path
    events_path: Path
    logger: logging.Logger

    def events(self, kind: str | None = None) -> list[tuple[str, int, str]]:
        if not self.events_path.exists():
            return []
        out = []
        for line in self.events_path.read_text().splitlines():
            k, pid, extra = (line.split(" ", 2) + [""])[:3]
            if kind is None or k == kind:
                out.append((k, int(pid), extra))
        return out

    def pids(self, kind: str) -> list[int]:
        return [pid for _, pid, _ in self.events(kind)]

    def log(self) -> str:
        for handler in self.logger.handlers:
            handler.flush()
        return self.log_path.read_text() if self.log_path.exists() else ""

    def log_lines(self, needle: str) -> list[str]:
        return [line for line in self.log().splitlines() if needle in line]

    def first_time(self, name: str) -> bool:
        """True for the first process (of any) that asks about ``name``, False after."""
        try:
            os.close(os.open(self.tmp_path / name, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return False
        return True

    # Worker mains ------------------------------------------------------------------

    def idle(self, tag: str = "") -> Callable[[WorkerContext], None]:
        """Boots, beats every 20 ms until asked to stop."""

        def main(ctx: WorkerContext) -> None:
            ctx.booted()
            record(self.events_path, "boot", tag)
            while not ctx.stopping:
                ctx.notify()
                time.sleep(0.02)
            record(self.events_path, "exit", tag)

        return main


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    logger = logging.getLogger(f"wsgikit.test.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    log_path = tmp_path / "arbiter.log"
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(process)d %(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        yield Harness(tmp_path, log_path, tmp_path / "events", logger)
    finally:
        logger.removeHandler(handler)
        handler.close()


def run_arbiter(arbiter: Arbiter, driver: Callable[[], None], limit: float = 20.0) -> int:
    """Run ``arbiter`` in this (main) thread while ``driver`` runs in another; re-raise its
    failure. The driver must end the run (``stop()`` or a signal); after ``limit`` seconds
    or a driver failure the arbiter is stopped fast."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            driver()
        except BaseException as exc:
            errors.append(exc)
            arbiter.stop(graceful=False)

    thread = threading.Thread(target=target, daemon=True)
    timer = threading.Timer(limit, arbiter.stop, kwargs={"graceful": False})
    timer.daemon = True
    thread.start()
    timer.start()
    try:
        status = arbiter.run()
    finally:
        timer.cancel()
        thread.join(DEADLINE)
        for pid in arbiter.worker_pids():  # never expected: run() reaps everything
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    if errors:
        raise errors[0]
    return status


def booted_workers(harness: Harness, arbiter: Arbiter, count: int) -> list[int]:
    """Wait until ``count`` workers have booted and the master has recorded each of them;
    return its worker pids, oldest first.

    A worker's boot event alone does not say the master knows it: a master descheduled
    between ``fork()`` and recording the new pid (a loaded machine) lets the child boot
    first, and ``worker_pids()`` read meanwhile from the driver's thread lacks it.
    """

    def known() -> list[int] | None:
        pids = arbiter.worker_pids()
        booted = harness.pids("boot")
        return pids if len(booted) == count and set(booted) <= set(pids) else None

    return cast("list[int]", wait_for(known, f"{count} booted workers known to the master"))


def signal_master(sig: signal.Signals) -> None:
    """Deliver ``sig`` to this process (the in-process master)."""
    os.kill(os.getpid(), sig)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie left for an init that does not reap is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    return True
