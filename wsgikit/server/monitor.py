"""How a worker loop reports liveness and work to whoever runs it.

The server does not know whether it runs in a supervised child process, in a
test's thread or in the main process: it only calls a :class:`Monitor`. The
process supervisor's ``WorkerContext`` has these methods; :class:`NullMonitor`
is the stand-in when nobody watches.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Monitor", "NullMonitor"]


class Monitor(Protocol):
    def notify(self) -> None:
        """The loop is alive (called at least once a second)."""

    def task_started(self, label: str) -> int:
        """A request began; returns a token for :meth:`task_finished`."""

    def task_progress(self, token: int) -> None:
        """The request with this token made progress (sent part of its response)."""

    def task_finished(
        self, token: int, failed: bool = False, outcome: int = 0, duration: float = 0.0
    ) -> None:
        """The request with this token ended: ``failed`` (the app raised), its
        ``outcome`` (the status class: 2 for 2xx; 0 without a response) and how
        long it took in seconds."""


class NullMonitor:
    """A monitor that watches nothing; it only counts finished requests."""

    def __init__(self) -> None:
        self.requests = 0

    def notify(self) -> None:
        pass

    def task_started(self, label: str) -> int:
        return 0

    def task_progress(self, token: int) -> None:
        pass

    def task_finished(
        self, token: int, failed: bool = False, outcome: int = 0, duration: float = 0.0
    ) -> None:
        self.requests += 1
