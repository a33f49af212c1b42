"""Daemon mode that does not hide failure: the launching process waits for the verdict.

A classic double fork returns to the shell at once, so a daemon that cannot start
(a broken app, a pidfile already held) fails silently with status 0. Here the process
that launched the daemon keeps the read end of a pipe and waits: the daemon writes
its status and a message once it serves (:meth:`DaemonLink.ready`) or once it has
failed (:meth:`DaemonLink.failed`), and the launcher exits with that status, the
message on its stderr. After a failure the launcher returns only once the daemon has
exited (its pidfile removed, its sockets closed), so that a retry right after it finds
none of them held. A daemon that dies without a word closes the pipe; the launcher
then exits 1 saying so.
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Iterable
from typing import NoReturn

__all__ = ["DaemonLink", "daemonize"]

#: Status of the launcher when the daemon died without reporting.
SILENT_DEATH_EXIT = 1

#: How long the launcher waits, after a failure report, for the daemon to exit (its
#: clean-up is short; this only bounds a daemon that hangs on its way out).
EXIT_WAIT = 10.0


class DaemonLink:
    """The daemon's end of the pipe to the process that launched it.

    Only the first report counts. The pipe is closed in forked children (workers), so
    that the launcher learns of the daemon's death even while workers live on. After a
    failure the pipe stays open until this process exits: the launcher waits for that.
    ``DaemonLink(-1)`` (no launcher waiting) ignores every report.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._held = -1  # the pipe after a failure report, closed by our exit
        if fd >= 0:
            os.register_at_fork(after_in_child=self._forget)

    @property
    def waiting(self) -> bool:
        """True until a report was sent."""
        return self._fd >= 0

    def ready(self, message: str = "") -> None:
        """The daemon serves: the launcher exits 0 (printing ``message`` if any)."""
        self._report(0, message)

    def failed(self, status: int, message: str) -> None:
        """The daemon cannot start: the launcher prints ``message`` and exits ``status``."""
        self._report(status if status != 0 else 1, message)

    def _report(self, status: int, message: str) -> None:
        fd = self._fd
        if fd < 0:
            return
        self._fd = -1
        data = f"{status}\n{message}".encode("utf-8", "replace")
        # After a failure the daemon still removes its pidfile and closes its sockets:
        # the launcher reads to the end of the pipe, which comes when we exit.
        hold = status != 0
        try:
            while data:
                data = data[os.write(fd, data) :]
        except OSError:
            hold = False  # the launcher is gone (killed): nobody left to tell
        if hold:
            self._held = fd
        else:
            os.close(fd)

    def _forget(self) -> None:
        for fd in (self._fd, self._held):
            if fd >= 0:
                os.close(fd)
        self._fd = self._held = -1


def _await_report(read_fd: int, first_child: int) -> NoReturn:
    """The launcher: wait for the daemon's report, print its message, exit with its status."""
    os.waitpid(first_child, 0)  # the intermediate process exits as soon as it forked
    text = _read_report(read_fd).decode("utf-8", "replace")
    head, _, message = text.partition("\n")
    if not head.strip().isdigit():
        message = "the daemon exited before it was ready (see the error log)"
        status = SILENT_DEATH_EXIT
    else:
        status = int(head)
    if message:
        sys.stderr.write(message.rstrip("\n") + "\n")
        sys.stderr.flush()
    os._exit(status)


def _read_report(read_fd: int) -> bytes:
    """Read the daemon's report to the end of the pipe: the daemon closes it at once
    when it serves, and by exiting after a failure. Once a report came, the end is
    awaited for at most ``EXIT_WAIT`` seconds."""
    chunks: list[bytes] = []
    deadline = float("inf")
    while True:
        # No overall deadline: the daemon's own start is bounded (the worker boot
        # timeout), and its death closes the pipe.
        wait = min(1.0, max(0.0, deadline - time.monotonic()))
        ready, _, _ = select.select([read_fd], [], [], wait)
        if not ready:
            if time.monotonic() >= deadline:
                break
            continue
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        deadline = min(deadline, time.monotonic() + EXIT_WAIT)
    return b"".join(chunks)


def daemonize(
    keep_fds: Iterable[int] = (), *, umask: int | None = None, wait: bool = False
) -> DaemonLink:
    """Detach from the terminal: double fork, ``setsid``, stdio to /dev/null.

    Only the grandchild returns. With ``wait=False`` the original process exits 0 at
    once; with ``wait=True`` it waits for the :class:`DaemonLink` report and exits
    with the daemon's status. File descriptors in ``keep_fds`` (e.g. listening
    sockets) stay open and inheritable.
    """
    read_fd, write_fd = os.pipe() if wait else (-1, -1)
    pid = os.fork()
    if pid > 0:
        if not wait:
            os._exit(0)
        os.close(write_fd)
        _await_report(read_fd, pid)
    if read_fd >= 0:
        os.close(read_fd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    if umask is not None:
        os.umask(umask)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    for fd in keep_fds:
        os.set_inheritable(fd, True)
    return DaemonLink(write_fd)
