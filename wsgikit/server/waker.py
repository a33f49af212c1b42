"""A wake-up channel for a loop blocked in ``select``/``poll``."""

from __future__ import annotations

import socket

__all__ = ["Waker"]


class Waker:
    """A socket pair that wakes a loop blocked in ``select``/``poll``.

    ``wake()`` is safe to call from another thread or a signal handler.
    """

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)

    def fileno(self) -> int:
        return self._reader.fileno()

    def wake(self) -> None:
        try:
            self._writer.send(b"\0")
        except OSError:
            pass  # full (already awake) or closed

    def drain(self) -> None:
        try:
            while self._reader.recv(4096):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self._reader.close()
        self._writer.close()
