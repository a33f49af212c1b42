"""Worker side: what runs in a freshly forked worker (signals, stack dumps, hooks, then
``worker_main``).

``run_worker`` returns the exit status; the arbiter passes it to ``os._exit`` so a child
never returns into the master's code path.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType

from wsgikit.process.hooks import Hooks
from wsgikit.process.master_signals import MASTER_SIGNALS
from wsgikit.process.master_workers import WorkerHandle
from wsgikit.process.parent_death import watch_parent
from wsgikit.process.plan import BOOT_ERROR_EXIT
from wsgikit.process.worker_context import WorkerContext

WorkerMain = Callable[[WorkerContext], None]

#: Signals a worker ignores: they are meant for the master.
IGNORED_IN_WORKER = (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGWINCH)


def stderr_fd() -> int:
    """The file descriptor behind ``sys.stderr``, or 2 if it has none (e.g. captured)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return 2


def flush_output(logger: logging.Logger) -> None:
    """Flush stdio and every handler from ``logger`` up to the root logger."""
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        current = current.parent
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def system_exit_code(exc: SystemExit) -> int:
    """Exit status ``sys.exit(arg)`` would produce."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    with contextlib.suppress(Exception):
        print(exc.code, file=sys.stderr)
    return 1


class WorkerSignals:
    """The worker's signal handlers, delegating to its ``WorkerContext`` and hooks."""

    def __init__(
        self,
        ctx: WorkerContext,
        hooks: Hooks,
        logger: logging.Logger,
        reopen_logs: Callable[[], None] | None,
    ) -> None:
        self.ctx = ctx
        self.hooks = hooks
        self.logger = logger
        self.reopen_logs = reopen_logs
        self._orphan_deadline = False

    def install(self) -> None:
        """Replace the master's handlers inherited through fork, then unblock signals."""
        for sig in MASTER_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        for sig in IGNORED_IN_WORKER:
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self.on_term)
        signal.signal(signal.SIGINT, self.on_int)
        signal.signal(signal.SIGQUIT, self.on_int)
        signal.signal(signal.SIGUSR1, self.on_usr1)
        signal.signal(signal.SIGABRT, self.on_abrt)
        # The master sends USR2 to get every thread's stack written to stderr.
        faulthandler.register(signal.SIGUSR2, file=stderr_fd(), all_threads=True)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [*MASTER_SIGNALS, signal.SIGABRT])

    def on_term(self, signum: int, frame: FrameType | None) -> None:
        """Graceful stop: finish in-flight work, then return from ``worker_main``.

        A worker that has not begun working (not booted and no stop callback yet: it
        is loading the app, or running ``post_fork``) has nothing to finish: it exits
        at once, with status 0. An orphan (its master is gone: nobody would kill it
        after ``graceful_timeout``) bounds its own stop by it.
        """
        if not self.ctx.parent_alive():
            self._bound_orphan()
        if not self.ctx.is_booted and not self.ctx.has_stop_callbacks:
            self.ctx.request_stop(True)
            raise SystemExit(0)
        self.ctx.request_stop(True)

    def _bound_orphan(self) -> None:
        """Arm a timer: past ``graceful_timeout``, exit whatever still runs (as the
        master would have killed us)."""
        if self._orphan_deadline:
            return
        self._orphan_deadline = True
        timeout = self.ctx.graceful_timeout
        self.logger.warning(
            "worker %d: its master %d is gone; stopping within graceful_timeout (%gs)",
            self.ctx.pid,
            self.ctx.ppid,
            timeout,
        )
        signal.signal(signal.SIGALRM, self._orphan_timed_out)
        signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.001))

    def _orphan_timed_out(self, signum: int, frame: FrameType | None) -> None:
        self.logger.error(
            "worker %d: requests still running %gs after its master died; exiting",
            self.ctx.pid,
            self.ctx.graceful_timeout,
        )
        flush_output(self.logger)
        os._exit(1)

    def on_int(self, signum: int, frame: FrameType | None) -> None:
        """Fast stop (INT/QUIT); without stop callbacks, exit right away."""
        self.hooks.call(self.logger, "worker_int", self.ctx)
        if not self.ctx.has_stop_callbacks:
            raise SystemExit(0)
        self.ctx.request_stop(False)

    def on_usr1(self, signum: int, frame: FrameType | None) -> None:
        """Reopen log files."""
        if self.reopen_logs is not None:
            try:
                self.reopen_logs()
            except Exception:
                self.logger.exception("reopen_logs failed in worker %d", self.ctx.pid)
        self.ctx.reopen()

    def on_abrt(self, signum: int, frame: FrameType | None) -> None:
        """The master gave up on us (stuck): run ``worker_abort`` and exit at once."""
        self.hooks.call(self.logger, "worker_abort", self.ctx)
        flush_output(self.logger)
        os._exit(1)


def run_worker(
    worker_main: WorkerMain,
    ctx: WorkerContext,
    *,
    arbiter: object,
    handle: WorkerHandle,
    hooks: Hooks,
    logger: logging.Logger,
    reopen_logs: Callable[[], None] | None = None,
) -> int:
    """Run one worker to completion and return its exit status.

    SIGTERM stops the worker gracefully, or at once if it has not begun serving; the
    death of the master (``ctx.ppid``) sends it SIGTERM.
    An exception before ``ctx.booted()`` is a boot failure: its traceback is logged once
    and the status is ``BOOT_ERROR_EXIT`` so the master stops instead of fork-looping.
    After boot an exception is logged and gives status 1; a normal return gives 0.
    """
    code = 1
    try:
        WorkerSignals(ctx, hooks, logger, reopen_logs).install()
        ctx.on_orphaned = lambda: os.kill(os.getpid(), signal.SIGTERM)
        # An orphan stops like any worker told to: by its TERM handler, at any moment.
        watch_parent(ctx.ppid, signal.SIGTERM)
        hooks.call(logger, "post_fork", arbiter, handle)
        ctx.notify()
        worker_main(ctx)
        code = 0
        if not ctx.is_booted and not ctx.stopping:
            logger.error(
                "worker %d (id %d): worker_main returned without calling ctx.booted(); "
                "call ctx.booted() once the worker is ready to work, then return only "
                "when asked to stop",
                ctx.pid,
                ctx.worker_id,
            )
            code = BOOT_ERROR_EXIT
    except SystemExit as exc:
        code = system_exit_code(exc)
    except BaseException:
        if ctx.is_booted:
            logger.exception("worker %d (id %d): worker_main raised", ctx.pid, ctx.worker_id)
            code = 1
        else:
            logger.exception("worker %d (id %d) failed to boot", ctx.pid, ctx.worker_id)
            code = BOOT_ERROR_EXIT
    hooks.call(logger, "worker_exit", arbiter, handle)
    flush_output(logger)
    return code
