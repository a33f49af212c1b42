"""The child wrapper, run in this process (no fork) with signal handlers restored after."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wsgikit.process import BOOT_ERROR_EXIT, Hooks, WorkerContext
from wsgikit.process.master_signals import MASTER_SIGNALS
from wsgikit.process.master_workers import WorkerHandle
from wsgikit.process.parent_death import set_parent_death_signal
from wsgikit.process.shared_slot import WorkerSlot
from wsgikit.process.worker_process import (
    IGNORED_IN_WORKER,
    WorkerSignals,
    run_worker,
    stderr_fd,
    system_exit_code,
)

TOUCHED = (*MASTER_SIGNALS, *IGNORED_IN_WORKER, signal.SIGABRT)
LOGGER = logging.getLogger("wsgikit.test.child")


@pytest.fixture(autouse=True)
def restore_signals() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in TOUCHED}
    try:
        yield
    finally:
        set_parent_death_signal(0)  # run_worker asked for one, for this very process
        faulthandler.unregister(signal.SIGUSR2)
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def run(main: Callable[[WorkerContext], None], hooks: Hooks | None = None, **kw: Any) -> int:
    slot = WorkerSlot(1)
    ctx = WorkerContext(1, slot, ppid=os.getppid())
    handle = WorkerHandle(1, 1, slot, pid=os.getpid())
    return run_worker(
        main, ctx, arbiter="ARBITER", handle=handle, hooks=hooks or Hooks(), logger=LOGGER, **kw
    )


def test_normal_return_runs_hooks_and_exits_0() -> None:
    calls: list[tuple[str, Any]] = []
    hooks = Hooks(
        post_fork=lambda arbiter, info: calls.append(("post_fork", arbiter)),
        worker_exit=lambda arbiter, info: calls.append(("worker_exit", info.worker_id)),
    )

    def main(ctx: WorkerContext) -> None:
        calls.append(("main", ctx._slot.snapshot().heartbeat > 0))
        ctx.booted()

    assert run(main, hooks) == 0
    assert calls == [("post_fork", "ARBITER"), ("main", True), ("worker_exit", 1)]


def test_return_without_booted_says_what_to_do(caplog: pytest.LogCaptureFixture) -> None:
    # A worker_main that forgets ctx.booted() is told so, not left to a silent exit 3.
    with caplog.at_level(logging.ERROR, logger=LOGGER.name):
        assert run(lambda ctx: None) == BOOT_ERROR_EXIT
    assert "returned without calling ctx.booted()" in caplog.text


def test_return_before_boot_when_asked_to_stop_is_normal() -> None:
    def main(ctx: WorkerContext) -> None:
        ctx.request_stop(True)  # e.g. SIGTERM arrived while the app was loading

    assert run(main) == 0


def test_exception_before_boot_is_a_boot_error(caplog: pytest.LogCaptureFixture) -> None:
    def main(ctx: WorkerContext) -> None:
        raise ImportError("no module named app")

    with caplog.at_level(logging.ERROR, logger=LOGGER.name):
        assert run(main) == BOOT_ERROR_EXIT
    assert "failed to boot" in caplog.text and "no module named app" in caplog.text


def test_exception_after_boot_exits_1(caplog: pytest.LogCaptureFixture) -> None:
    def main(ctx: WorkerContext) -> None:
        ctx.booted()
        raise RuntimeError("bug")

    with caplog.at_level(logging.ERROR, logger=LOGGER.name):
        assert run(main) == 1
    assert "worker_main raised" in caplog.text


@pytest.mark.parametrize(("arg", "code"), [(None, 0), (5, 5), ("bye", 1)])
def test_sys_exit_codes(arg: Any, code: int) -> None:
    def main(ctx: WorkerContext) -> None:
        raise SystemExit(arg)

    assert run(main) == code
    assert system_exit_code(SystemExit(arg)) == code


def test_real_signals_reach_the_context() -> None:
    seen: list[Any] = []
    hooks = Hooks(worker_int=lambda ctx: seen.append("worker_int"))

    def main(ctx: WorkerContext) -> None:
        ctx.add_stop_callback(lambda graceful: seen.append(graceful))
        ctx.add_reopen_callback(lambda: seen.append("reopen"))
        ctx.booted()
        os.kill(os.getpid(), signal.SIGHUP)  # ignored in workers
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)

    assert run(main, hooks, reopen_logs=lambda: seen.append("reopen_logs")) == 0
    assert seen == ["reopen_logs", "reopen", True, "worker_int", False]


def test_fast_stop_without_callbacks_exits(caplog: pytest.LogCaptureFixture) -> None:
    def main(ctx: WorkerContext) -> None:
        ctx.booted()
        os.kill(os.getpid(), signal.SIGQUIT)
        raise AssertionError("not reached")

    def broken_reopen() -> None:
        raise OSError("disk gone")

    assert run(main) == 0
    ctx = WorkerContext(1, WorkerSlot(1), ppid=os.getppid())
    with caplog.at_level(logging.ERROR, logger=LOGGER.name):
        WorkerSignals(ctx, Hooks(), LOGGER, broken_reopen).on_usr1(signal.SIGUSR1, None)
    assert "reopen_logs failed" in caplog.text


def test_stderr_fd_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert stderr_fd() == 2


def test_term_before_boot_exits_at_once() -> None:
    # SIGTERM while the app loads (no stop callback, not booted): nothing to finish.
    def main(ctx: WorkerContext) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("not reached: the worker went on loading")

    assert run(main) == 0


def test_term_in_post_fork_exits_at_once() -> None:
    hooks = Hooks(post_fork=lambda arbiter, info: os.kill(os.getpid(), signal.SIGTERM))
    assert run(lambda ctx: (_ for _ in ()).throw(AssertionError("not reached")), hooks) == 0


def test_a_stop_requested_before_the_callback_exists_is_not_lost() -> None:
    seen: list[bool] = []
    ctx = WorkerContext(1, WorkerSlot(1), ppid=os.getppid())
    ctx.request_stop(True)
    ctx.add_stop_callback(seen.append)
    assert seen == [True]
