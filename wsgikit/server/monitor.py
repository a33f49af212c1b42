"""How a worker loop reports liveness and work to whoever runs it.

The server does not know whether it runs in a supervised child process, in a
test's thread or in the main process: it only calls a :class:`Monitor`. The
process supervisor's ``WorkerContext`` has these methods; :class:`NullMonitor`
is the stand-in when nobody watches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["Monitor", "NullMonitor"]


class Monitor(Protocol):
    def notify(self) -> None:
        """The loop is alive (called at least once a second)."""

    def task_started(self, label: str) -> int:
        """A request began; returns a token for :meth:`task_finished`."""

    def task_finished(self, token: int, failed: bool = False) -> None:
        """The request with this token ended."""


class NullMonitor:
    """A monitor that watches nothing, with an optional request budget.

    ``max_requests`` > 0 calls ``on_limit`` once that many requests have
    finished (the one-process equivalent of worker recycling).
    """

    def __init__(self, max_requests: int = 0, on_limit: Callable[[], None] | None = None) -> None:
        self.requests = 0
        self._max = max_requests
        self._on_limit = on_limit

    def notify(self) -> None:
        pass

    def task_started(self, label: str) -> int:
        return 0

    def task_finished(self, token: int, failed: bool = False) -> None:
        self.requests += 1
        if self._max and self.requests == self._max and self._on_limit is not None:
            self._on_limit()
