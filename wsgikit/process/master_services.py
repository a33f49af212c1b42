"""Master side: services that share the master's loop (a status socket, a metrics sender).

The master is an event loop that only reacts: it sleeps in one wait on its signal
pipe. A service adds the file descriptors it needs to that same wait and gets called
back when one is ready, and once per turn of the loop (``tick``). No thread runs in
the master, so forking a worker never copies a lock held by another thread (Gunicorn
has to stop and restart its control-socket thread around every fork for that reason).

A service must never block: non-blocking sockets, bounded buffers, deadlines checked
in ``tick``. An exception in a service is logged and the master carries on.
"""

from __future__ import annotations

import select
from collections.abc import Iterable
from typing import Protocol

__all__ = ["MasterService", "READ", "WRITE", "poll_fds"]

READ = select.POLLIN
WRITE = select.POLLOUT
_ERRORS = select.POLLERR | select.POLLHUP | select.POLLNVAL


class MasterService(Protocol):
    """What the :class:`~wsgikit.process.Arbiter` asks of a service it runs."""

    def attach(self, arbiter: object) -> None:
        """Called once by the arbiter that will run the service (before ``run()``)."""

    def watch(self) -> Iterable[tuple[int, int]]:
        """The ``(fd, READ | WRITE)`` pairs to wait on now."""

    def ready(self, fd: int, events: int) -> None:
        """``fd`` is ready for ``events`` (an error or hang-up counts as both)."""

    def tick(self, now: float) -> None:
        """Once per turn of the master loop (at most ``Arbiter.tick`` apart): deadlines."""

    def close(self) -> None:
        """The master is exiting: close every socket."""

    def close_in_child(self) -> None:
        """In a freshly forked worker: close the inherited sockets, keep no state."""


def poll_fds(
    timeout: float, wanted: dict[int, int], wake_fd: int
) -> tuple[bool, list[tuple[int, int]]]:
    """Wait up to ``timeout`` seconds on ``wake_fd`` and ``wanted``; return (woken, ready).

    ``ready`` lists ``(fd, events)`` of the wanted descriptors, errors turned into
    both READ and WRITE so the owner sees the failure on its next call.
    """
    poller = select.poll()
    poller.register(wake_fd, select.POLLIN)
    for fd, wanted_events in wanted.items():
        if fd != wake_fd:
            poller.register(fd, wanted_events)
    try:
        polled = poller.poll(max(0.0, timeout) * 1000)
    except InterruptedError:
        return True, []
    woken = False
    ready: list[tuple[int, int]] = []
    for fd, mask in polled:
        if fd == wake_fd:
            woken = True
        else:
            ready.append((fd, (mask | READ | WRITE) if mask & _ERRORS else mask))
    return woken, ready
