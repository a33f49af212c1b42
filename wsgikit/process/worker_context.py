"""Worker side: ``WorkerContext``, what a worker's main function gets to report liveness and
work, and to learn that it must stop."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from wsgikit.process.shared_slot import WorkerSlot

#: How often ``notify()`` also checks that the master is still our parent (seconds).
PARENT_CHECK_INTERVAL = 1.0


class WorkerContext:
    """The worker side of the supervisor contract (the server layer's "monitor").

    Heartbeats and task bookkeeping go to shared memory the master watches. Stop
    requests (signals, ``max_requests``, orphaning) are delivered through stop
    callbacks, which run in signal-handler context and must only set flags or write a
    wake-up fd. ``notify()`` checks cheaply, once per ``PARENT_CHECK_INTERVAL``, whether
    the master died, and then calls ``on_orphaned`` (in a forked worker: a SIGTERM to
    itself, which also bounds the stop by ``graceful_timeout``, the master's job), or
    requests a graceful stop.
    """

    def __init__(
        self,
        worker_id: int,
        slot: WorkerSlot,
        *,
        ppid: int,
        max_requests: int = 0,
        on_booted: Callable[[WorkerContext], None] | None = None,
        graceful_timeout: float = 30.0,
    ) -> None:
        self.worker_id = worker_id
        self.pid = os.getpid()
        self.ppid = ppid
        self.max_requests = max_requests
        #: How long a graceful stop may take; an orphan enforces it itself.
        self.graceful_timeout = graceful_timeout
        #: Called instead of a graceful stop when ``notify()`` finds the master gone.
        self.on_orphaned: Callable[[], None] | None = None
        self.stopping = False
        self.graceful = True
        self._slot = slot
        self._lock = threading.Lock()
        self._free = list(range(slot.task_slots - 1, -1, -1))
        self._done = 0
        self._booted = False
        self._on_booted = on_booted
        self._stop_callbacks: list[Callable[[bool], None]] = []
        self._reopen_callbacks: list[Callable[[], None]] = []
        self._next_parent_check = time.monotonic() + PARENT_CHECK_INTERVAL

    # -- liveness -------------------------------------------------------------------

    def notify(self) -> None:
        """Heartbeat: one shared-memory write, plus a parent check once a second."""
        now = time.monotonic()
        self._slot.beat(now)
        if now >= self._next_parent_check:
            self._next_parent_check = now + PARENT_CHECK_INTERVAL
            if not self.parent_alive():
                if self.on_orphaned is not None:
                    self.on_orphaned()
                else:
                    self.request_stop(True)

    def parent_alive(self) -> bool:
        """False once the master died and we were re-parented."""
        return os.getppid() == self.ppid

    def booted(self) -> None:
        """The app is loaded and the worker is ready; lifts the boot deadline."""
        if self._booted:
            return
        self._booted = True
        self._slot.mark_booted(time.monotonic())
        if self._on_booted is not None:
            self._on_booted(self)

    @property
    def is_booted(self) -> bool:
        """True after ``booted()``."""
        return self._booted

    @property
    def done(self) -> int:
        """Tasks finished by this worker so far."""
        return self._done

    # -- tasks ----------------------------------------------------------------------

    def task_started(self, label: str) -> int:
        """A unit of work began; returns the token for ``task_finished``.

        Safe from several threads. When more tasks run at once than the worker has slots,
        the token is -1: the task is counted but not watched for timeouts.
        """
        now = time.monotonic()
        with self._lock:
            token = self._free.pop() if self._free else -1
            self._slot.add_in_flight(1)
        if token >= 0:
            self._slot.task_begin(token, label, now)
        else:
            self._slot.beat(now)
        return token

    def task_progress(self, token: int) -> None:
        """The task is making progress (e.g. sending its response): not stuck.

        ``timeout`` then bounds how long a task goes without progress, so a
        long download or event stream is not mistaken for a hung one.
        """
        if token >= 0:
            self._slot.task_touch(token, time.monotonic())

    def task_finished(
        self, token: int, failed: bool = False, outcome: int = -1, duration: float | None = None
    ) -> None:
        """A unit of work ended; counts it and stops gracefully once ``max_requests`` is hit.

        ``outcome`` (an index below the plan's ``outcomes``) and ``duration``
        (seconds) feed the counters and the histogram the master reads.
        """
        now = time.monotonic()
        with self._lock:
            if token >= 0:
                self._slot.task_end(token)
                self._free.append(token)
            self._slot.add_in_flight(-1)
            self._slot.task_done(failed, outcome, duration)
            self._done += 1
            limit_hit = 0 < self.max_requests <= self._done
        self._slot.beat(now)
        if limit_hit:
            self.request_stop(True)

    # -- stop and reopen ------------------------------------------------------------

    def add_stop_callback(self, fn: Callable[[bool], None]) -> None:
        """Call ``fn(graceful)`` when this worker must stop.

        It may run inside a signal handler: set a flag or write to a wake-up fd. Avoid
        ``threading.Event.set()`` there, which can deadlock with a main thread in ``wait()``.
        If a stop was already requested, ``fn`` is called at once: a stop is never lost.
        """
        self._stop_callbacks.append(fn)
        if self.stopping:
            fn(self.graceful)

    def add_reopen_callback(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` when the worker is asked to reopen its log files (USR1)."""
        self._reopen_callbacks.append(fn)

    @property
    def has_stop_callbacks(self) -> bool:
        """True if someone will act on a stop request."""
        return bool(self._stop_callbacks)

    def request_stop(self, graceful: bool) -> None:
        """Mark the worker stopping and tell the callbacks; a later fast stop overrides."""
        if self.stopping and (graceful or not self.graceful):
            return
        self.stopping = True
        self.graceful = graceful
        for fn in list(self._stop_callbacks):
            fn(graceful)

    def reopen(self) -> None:
        """Run the reopen callbacks."""
        for fn in list(self._reopen_callbacks):
            fn()
