"""Backpressure for the threaded worker: how much work the loop reads ahead of its app threads.

The selector loop reads whole requests before an app thread sees them. Without
a bound it would read every request every client sends, however busy the
threads are. :class:`Admission` keeps the books:

- at most ``threads`` requests run at once, and at most ``queued`` complete
  requests wait for a thread, in ``ready`` or, handed ahead (``hand_ahead``),
  in the app threads' own queue (``in_flight`` counts both kinds handed out);
- past that the worker is *saturated*: a connection that starts sending a new
  request is not read but waits in a first-come-first-served line, its bytes
  left in its socket;
- when room frees up, the oldest waiting connections are admitted, each for
  one read: a slow client whose request is still incomplete after that read
  gives its turn back rather than hold room complete requests could use.
"""

from __future__ import annotations

import collections
from typing import Generic, Protocol, TypeVar

__all__ = ["Admission", "Waiter"]


class Waiter(Protocol):
    """What admission needs of a connection; it sets the two flags, the loop reads them."""

    paused: bool  # waiting in line: not read until admitted
    admitted: bool  # may read once ahead of the line
    closed: bool


W = TypeVar("W", bound=Waiter)


class Admission(Generic[W]):
    """The run queue and the waiting line of one threaded worker loop."""

    def __init__(self, threads: int, queued: int, *, hand_ahead: bool = False) -> None:
        self.threads = threads
        self.capacity = threads + queued
        # How many requests may be handed out at once: one per app thread, or (with
        # ``hand_ahead``) all of them, to a pool whose own queue holds what no thread
        # runs yet, so a thread that finishes takes the next request at once
        # instead of waiting for the loop to wake up and hand it over.
        self.slots = self.capacity if hand_ahead else threads
        self.in_flight = 0  # requests handed to the app threads (running or queued there)
        self.ready: collections.deque[W] = collections.deque()  # complete, waiting for a thread
        self._line: collections.deque[W] = collections.deque()
        self._admitted = 0  # admitted connections that have not read yet

    @property
    def idle(self) -> bool:
        """No request is running or waiting for a thread."""
        return not self.ready and self.in_flight == 0

    @property
    def crowded(self) -> bool:
        """Requests or connections wait for an app thread. Read from app threads too
        (a deque's length is read atomically); a moment's staleness does no harm."""
        return self.in_flight > self.threads or bool(self.ready) or bool(self._line)

    @property
    def waiting(self) -> int:
        """Complete requests that wait for an app thread (here or in the pool's queue)."""
        return len(self.ready) + max(0, self.in_flight - self.threads)

    @property
    def lined(self) -> int:
        """Connections waiting in line, their requests left in their sockets."""
        return len(self._line)

    def saturated(self) -> bool:
        return self.in_flight + len(self.ready) >= self.capacity

    def must_wait(self, conn: W) -> bool:
        """True when ``conn``, about to read a new request, must wait in line instead."""
        return not conn.admitted and (self.saturated() or bool(self._line))

    def wait(self, conn: W) -> None:
        """Put ``conn`` at the end of the line."""
        conn.paused = True
        self._line.append(conn)

    def leave_line(self, conn: W) -> None:
        """Take ``conn`` out of the line (it is closing, or timed out)."""
        if conn.paused:
            conn.paused = False
            try:
                self._line.remove(conn)
            except ValueError:
                pass

    def used(self, conn: W) -> None:
        """``conn`` has read what it had: its admission is spent."""
        if conn.admitted:
            conn.admitted = False
            self._admitted -= 1

    def queue(self, conn: W) -> None:
        """``conn`` holds a complete request; it runs when a thread is free."""
        self.ready.append(conn)

    def next_to_run(self) -> W | None:
        """The next queued request to hand to a free app thread (counted as running)."""
        while self.ready and self.in_flight < self.slots:
            conn = self.ready.popleft()
            if not conn.closed:
                self.in_flight += 1
                return conn
        return None

    def finished(self) -> None:
        """An app thread finished a request."""
        self.in_flight -= 1

    def admit(self) -> list[W]:
        """Admit waiting connections, oldest first, as many as there is room for."""
        if not self._line or self.saturated():
            return []
        room = self.capacity - self.in_flight - len(self.ready) - self._admitted
        admitted: list[W] = []
        while self._line and room > 0:
            conn = self._line.popleft()
            if conn.closed:
                continue
            room -= 1
            conn.paused = False
            conn.admitted = True
            self._admitted += 1
            admitted.append(conn)
        return admitted

    def clear(self) -> None:
        """Forget queued requests (the loop is shutting down)."""
        self.ready.clear()
