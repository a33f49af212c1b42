"""Arbiter edge cases: escalation to SIGKILL, failures inside the master, odd reload plans."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
from conftest import Harness, record, run_arbiter, signal_master, wait_for
from test_arbiter import make

from wsgikit.process import WorkerContext, WorkerPlan


def stubborn(harness: Harness) -> Any:
    """Boots, then ignores stop requests and (optionally) blocks SIGABRT/SIGUSR2."""

    def main(ctx: WorkerContext) -> None:
        ctx.add_stop_callback(lambda graceful: None)
        ctx.booted()
        record(harness.events_path, "boot")
        end = time.monotonic() + 30
        while time.monotonic() < end:
            ctx.notify()
            time.sleep(0.02)

    return main


def test_retiring_worker_ignoring_term_is_killed_after_graceful_timeout(harness: Harness) -> None:
    arbiter = make(harness, stubborn(harness), workers=2, graceful_timeout=0.4)

    def driver() -> None:
        wait_for(lambda: len(harness.events("boot")) == 2, "2 workers")
        signal_master(signal.SIGTTOU)
        wait_for(lambda: len(arbiter.worker_pids()) == 1, "scaled down")
        arbiter.stop(graceful=True)
        arbiter.stop(graceful=False)  # upgrade to a fast stop while stopping

    assert run_arbiter(arbiter, driver) == 0
    assert harness.log_lines("did not stop within 0.4s; killing it")


def test_stuck_worker_ignoring_abort_gets_sigkill(harness: Harness) -> None:
    def main(ctx: WorkerContext) -> None:
        if not harness.first_time("once"):
            return harness.idle()(ctx)
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGABRT, signal.SIGUSR2])
        ctx.booted()
        record(harness.events_path, "hang")
        time.sleep(30)

    arbiter = make(harness, main, workers=1, timeout=0.5)
    arbiter.stuck_step = 0.2

    def driver() -> None:
        wait_for(lambda: harness.events("boot"), "replacement")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    (hung,) = harness.pids("hang")
    assert harness.log_lines(f"worker {hung} (killed by signal SIGKILL) replaced by")


def test_reload_plan_validation_and_new_worker_count(harness: Harness) -> None:
    plans = iter(
        [
            WorkerPlan(harness.idle("gen2"), workers=0, timeout=2, graceful_timeout=2),
            WorkerPlan(harness.idle("gen2"), workers=1, timeout=2, graceful_timeout=2),
        ]
    )
    arbiter = make(harness, workers=2, reload=lambda: next(plans))

    def driver() -> None:
        wait_for(lambda: len(harness.events("boot")) == 2, "2 workers")
        signal_master(signal.SIGHUP)
        wait_for(lambda: harness.log_lines("workers=0 (must be >= 1)"), "bad plan refused")
        signal_master(signal.SIGHUP)
        wait_for(lambda: len(harness.events("exit")) == 2, "old generation gone")
        wait_for(lambda: len(arbiter.worker_pids()) == 1, "old workers reaped")
        assert arbiter.workers == 1
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert harness.log_lines("number of workers: 2 -> 1")


def test_master_errors_are_logged_not_fatal(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fork = os.fork
    forks = iter([False, True])

    def flaky_fork() -> int:
        if next(forks, True):
            return real_fork()
        raise OSError(11, "Resource temporarily unavailable")

    def broken_reopen() -> None:
        raise OSError("log dir gone")

    arbiter = make(harness, workers=1, reopen_logs=broken_reopen)
    monkeypatch.setattr(os, "fork", flaky_fork)

    def driver() -> None:
        wait_for(lambda: harness.events("boot"), "booted after a failed fork")
        signal_master(signal.SIGUSR1)
        wait_for(lambda: harness.log_lines("reopen_logs failed in the master"), "logged")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert harness.log_lines("fork failed; retrying in 1s")


def test_internal_error_stops_master_with_status_1(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    arbiter = make(harness, workers=1)
    calls: list[int] = []
    real = arbiter._murder_workers

    def murder() -> None:
        calls.append(1)
        if harness.events("boot"):
            raise RuntimeError("bookkeeping bug")
        real()

    monkeypatch.setattr(arbiter, "_murder_workers", murder)
    assert run_arbiter(arbiter, lambda: None) == 1
    assert "RuntimeError: bookkeeping bug" in harness.log()
    assert harness.log_lines("master loop failed; stopping")
