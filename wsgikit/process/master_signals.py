"""Master side: signal handlers only record the signal and wake the loop.

A self-pipe (non-blocking, close-on-exec) wakes ``select()``; ``stop()`` from another
thread uses the same pipe. Handlers never do real work, so no code runs re-entrantly.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import signal
from collections.abc import Iterable, Iterator
from types import FrameType
from typing import Any

from wsgikit.process.master_services import poll_fds

#: Signals the master reacts to.
MASTER_SIGNALS: tuple[signal.Signals, ...] = (
    signal.SIGHUP,
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGCHLD,
)


def signal_name(signum: int) -> str:
    """``SIGKILL`` for 9, ``signal 99`` for unknown numbers."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class SignalQueue:
    """Records signals in a queue and wakes a ``wait()``-ing loop through a self-pipe."""

    def __init__(self, signals: Iterable[signal.Signals] = MASTER_SIGNALS) -> None:
        self.signals = tuple(signals)
        self._queue: collections.deque[int] = collections.deque(maxlen=64)
        self._previous: dict[signal.Signals, Any] = {}
        self._rfd, self._wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def install(self) -> None:
        """Install the recording handler for every signal (main thread only)."""
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        """Put back the handlers that were there before ``install()``."""
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def close(self) -> None:
        """Restore handlers and close the pipe."""
        self.restore()
        for fd in (self._rfd, self._wfd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def close_in_child(self) -> None:
        """In a freshly forked child: drop the inherited pipe, keep no state."""
        self._previous.clear()
        self._queue.clear()
        for fd in (self._rfd, self._wfd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def wake(self) -> None:
        """Wake a pending ``wait()``; safe from signal handlers and other threads."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wfd, b"!")

    def push(self, signum: int) -> None:
        """Record ``signum`` as if it had been delivered."""
        self._queue.append(signum)
        self.wake()

    def wait(self, timeout: float) -> list[int]:
        """Block up to ``timeout`` seconds for a wake-up; return recorded signals in order."""
        if not self._queue:
            with contextlib.suppress(InterruptedError):
                select.select([self._rfd], [], [], max(0.0, timeout))
        self._drain_pipe()
        return list(self._pop_all())

    def wait_io(
        self, timeout: float, wanted: dict[int, int]
    ) -> tuple[list[int], list[tuple[int, int]]]:
        """As :meth:`wait`, also watching ``wanted`` (``{fd: events}``); returns
        (recorded signals, ready ``(fd, events)``)."""
        if not wanted:
            return self.wait(timeout), []
        _, ready = poll_fds(0.0 if self._queue else timeout, wanted, self._rfd)
        self._drain_pipe()
        return list(self._pop_all()), ready

    def _pop_all(self) -> Iterator[int]:
        while self._queue:
            yield self._queue.popleft()

    def _drain_pipe(self) -> None:
        while True:
            try:
                if not os.read(self._rfd, 4096):
                    return
            except (BlockingIOError, InterruptedError, OSError):
                return

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.push(signum)
