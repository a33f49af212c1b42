"""A wake-up channel for a loop blocked in ``select``/``poll``."""

from __future__ import annotations

import os

__all__ = ["Waker"]


class Waker:
    """A file descriptor that wakes a loop blocked in ``select``/``poll``.

    An ``eventfd`` where the OS has one (one counter, one read to drain it
    whatever the number of wakes), else a pipe. ``wake()`` is safe to call
    from another thread or a signal handler.
    """

    def __init__(self) -> None:
        eventfd = getattr(os, "eventfd", None)
        if eventfd is not None:
            fd: int = eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._read_fd = self._write_fd = fd
        else:  # pragma: no cover - not Linux
            self._read_fd, self._write_fd = os.pipe()
            os.set_blocking(self._read_fd, False)
            os.set_blocking(self._write_fd, False)

    def fileno(self) -> int:
        return self._read_fd

    def wake(self) -> None:
        fd = self._write_fd
        if fd < 0:
            return  # closed
        try:
            # An eventfd adds 1 to its counter; a pipe takes one byte.
            os.write(fd, b"\1\0\0\0\0\0\0\0")
        except OSError:
            pass  # full (already awake) or closed

    def drain(self) -> None:
        """Read what woke us: called when the descriptor is readable, so one read
        empties an eventfd, and a pipe left with bytes only wakes the loop again."""
        read_fd = self._read_fd
        try:
            os.read(read_fd, 4096 if read_fd != self._write_fd else 8)
        except OSError:
            pass

    def close(self) -> None:
        # Forget the numbers first: a late wake() must not write into a descriptor
        # the OS has handed to someone else meanwhile.
        read_fd, write_fd = self._read_fd, self._write_fd
        self._read_fd = self._write_fd = -1
        for fd in {read_fd, write_fd} - {-1}:
            os.close(fd)
