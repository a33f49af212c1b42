"""The threaded worker's app threads: up to ``threads`` of them, started when needed.

``--threads 1000`` is a ceiling, not a cost paid at boot: like Gunicorn's
``ThreadPoolExecutor``, a thread is started when a job is handed out and no
started thread is idle, until there are ``count`` of them; they then stay for
the worker's life. So a worker that never sees more than a few requests at once
runs a few threads, whatever the setting says, and boots as fast as with one.

Only the selector loop calls :meth:`AppThreads.submit`, so starting threads is
never racy; the threads only tell it, through a semaphore, how many of them are
idle. A thread the system refuses to start (thread or memory limit reached) is
logged once and the job waits for a thread already running: the worker keeps
serving with what it has.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["AppThreads"]

J = TypeVar("J")


class AppThreads(Generic[J]):
    """Up to ``count`` daemon threads running ``run(job)`` for jobs from a queue.

    The queue never holds more than the loop hands out (at most ``count`` jobs at a
    time); daemon threads let a fast stop return while an app call is stuck.
    """

    def __init__(
        self,
        count: int,
        run: Callable[[J], None],
        logger: logging.Logger,
        name: str = "wsgikit-app",
    ) -> None:
        self.count = max(1, count)
        self._run = run
        self._logger = logger
        self._name = name
        self._jobs: queue.SimpleQueue[J | None] = queue.SimpleQueue()
        # One release per thread that waits (or is about to wait) for a job no
        # submit has claimed yet.
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._refused = False  # a thread start failed: logged once

    @property
    def started(self) -> int:
        """How many threads run now (at most ``count``)."""
        return len(self._threads)

    def start(self) -> None:
        """Start the first thread, so a failure to start any shows at boot."""
        if not self._threads and not self._spawn(claimed=False):
            raise RuntimeError("cannot start an app thread")

    def submit(self, job: J) -> None:
        """Queue ``job``; start a thread for it if none is idle and there is room."""
        self._jobs.put(job)
        if self._idle.acquire(blocking=False):
            return  # an idle thread takes it
        if len(self._threads) < self.count:
            self._spawn(claimed=True)

    def _spawn(self, claimed: bool) -> bool:
        thread = threading.Thread(
            target=self._work,
            args=(claimed,),
            name=f"{self._name}-{len(self._threads)}",
            daemon=True,
        )
        try:
            thread.start()
        except RuntimeError as exc:  # "can't start new thread": a system limit
            if not self._refused:
                self._refused = True
                self._logger.warning(
                    "cannot start app thread %d of %d (%s): serving with %d",
                    len(self._threads) + 1,
                    self.count,
                    exc,
                    len(self._threads),
                )
            return False
        self._threads.append(thread)
        return True

    def _work(self, claimed: bool) -> None:
        # A thread started for a job does not announce itself idle: that job is its.
        if not claimed:
            self._idle.release()
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._run(job)
            self._idle.release()

    def shutdown(self, timeout: float | None) -> None:
        """Ask every thread to exit; wait for them up to ``timeout`` seconds in all."""
        threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
