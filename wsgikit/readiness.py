"""A pre-fork server tells whoever started it what happens to it, without calling the app.

A process that starts a server (:class:`~wsgikit.testing.LiveServer`, or a
supervisor of your own) opens a file (or a pipe) for writing, lets the server
inherit it, and names its descriptor in ``$WSGIKIT_READY_FD``. The server then
appends one line per event::

    graceful_timeout <s>     the graceful timeout in force (at start, and at each reload)
    ready <master pid>       the first worker booted (the point of the when_ready hook)
    forked <worker pid>      a worker process started (post_fork)
    booted <worker pid>      a worker loaded the app and serves (post_worker_init)
    exited <worker pid>      the master reaped a worker (child_exit)
    reloading <master pid>   a reload began (HUP or --reload; on_reload)

The graceful timeout is the one the server resolved from all its sources (keyword
arguments, config file, ``WSGIKIT_*``, ``*_CMD_ARGS``), so whoever stops the server
knows how long a graceful stop may take.

A readiness probe over HTTP would run the app's code and show in its logs; this
channel does neither. Each line is one ``write()`` far below ``PIPE_BUF``, so lines
from the master and the workers never interleave, and a full pipe drops the line
instead of blocking the server. The events are reported through the supervisor's
hooks (the user's hooks still run), so :mod:`wsgikit.process` knows nothing of it.

The other way round, ``$WSGIKIT_LIFELINE_FD`` names the read end of a pipe whose
write end only the starting process holds: when that process is gone (even
SIGKILLed), the pipe reads end-of-file and the master stops gracefully
(:class:`Lifeline`, one of the master's services). A test server so never outlives
the test run that started it, although it runs in a session of its own.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
from collections.abc import Callable, Mapping
from typing import Any

from .process import Hooks
from .process.master_services import READ

__all__ = [
    "LIFELINE_FD_ENV",
    "READY_FD_ENV",
    "EventChannel",
    "Lifeline",
    "Reload",
    "ServerEvents",
    "channel_from_env",
    "lifeline_from_env",
    "reporting_hooks",
]

#: The environment variable naming the descriptor the server writes its events to.
READY_FD_ENV = "WSGIKIT_READY_FD"
#: The environment variable naming the read end of the starting process's lifeline.
LIFELINE_FD_ENV = "WSGIKIT_LIFELINE_FD"


class EventChannel:
    """The writing end: one line per event on an inherited descriptor."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK | os.O_APPEND)

    def emit(self, event: str, pid: float | None = None) -> None:
        """Write ``event <pid>`` (or another number: ``graceful_timeout 30.0``); never
        raises (a reader that went away is not our problem)."""
        line = f"{event} {os.getpid() if pid is None else pid}\n".encode()
        try:
            os.write(self.fd, line)
        except OSError:
            pass


def channel_from_env(environ: Mapping[str, str]) -> tuple[EventChannel | None, str]:
    """The channel ``$WSGIKIT_READY_FD`` names, or None; and a problem to log, if any."""
    value = environ.get(READY_FD_ENV)
    if not value:
        return None, ""
    try:
        return EventChannel(int(value)), ""
    except (ValueError, OSError) as exc:
        return None, f"{READY_FD_ENV}={value!r} is not an open file descriptor ({exc}); ignored"


class Lifeline:
    """A master service: stop gracefully once the process that started us is gone.

    It waits on the read end of a pipe (``$WSGIKIT_LIFELINE_FD``); nothing is ever
    written to it, so readable means end-of-file: every write end was closed, which
    the kernel does when the starting process exits, however it exits.
    """

    def __init__(self, fd: int, logger: Any) -> None:
        self.fd: int | None = fd
        self.log = logger
        self._arbiter: Any = None

    def attach(self, arbiter: object) -> None:
        self._arbiter = arbiter

    def watch(self) -> list[tuple[int, int]]:
        return [] if self.fd is None else [(self.fd, READ)]

    def ready(self, fd: int, events: int) -> None:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if data:
            return  # not ours to interpret; the line only matters when it breaks
        self.close()
        self.log.warning(
            "lifeline: the process that started this server is gone; stopping gracefully"
        )
        self._arbiter.stop(graceful=True)

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def close_in_child(self) -> None:
        self.close()


def lifeline_from_env(environ: Mapping[str, str], logger: Any) -> tuple[Lifeline | None, str]:
    """The :class:`Lifeline` ``$WSGIKIT_LIFELINE_FD`` names, or None; and a problem to log."""
    value = environ.get(LIFELINE_FD_ENV)
    if not value:
        return None, ""
    try:
        fd = int(value)
        os.set_inheritable(fd, False)  # the workers' own children need not hold it
    except (ValueError, OSError) as exc:
        return None, f"{LIFELINE_FD_ENV}={value!r} is not an open file descriptor ({exc}); ignored"
    return Lifeline(fd, logger), ""


def reporting_hooks(hooks: Hooks, channel: EventChannel) -> Hooks:
    """``hooks`` with each lifecycle point also reported on ``channel`` (ours first)."""

    def worker_pid(*args: Any) -> int:
        # child_exit(arbiter, worker): the worker handle carries the pid.
        return int(getattr(args[-1], "pid", 0)) if args else 0

    def chain(name: str, event: str, pid: Callable[..., int | None]) -> Callable[..., None]:
        user = getattr(hooks, name)

        def hook(*args: Any) -> None:
            channel.emit(event, pid(*args))
            if user is not None:
                user(*args)

        return hook

    def own_pid(*_args: Any) -> int | None:
        return None

    return dataclasses.replace(
        hooks,
        when_ready=chain("when_ready", "ready", own_pid),
        post_fork=chain("post_fork", "forked", own_pid),
        post_worker_init=chain("post_worker_init", "booted", own_pid),
        child_exit=chain("child_exit", "exited", worker_pid),
        on_reload=chain("on_reload", "reloading", own_pid),
    )


@dataclasses.dataclass
class Reload:
    """One reload as the events tell it: the workers serving when it began, and the new ones."""

    before: tuple[int, ...]
    new: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ServerEvents:
    """The reading end: what the lines written so far say about the server."""

    ready: bool = False
    master_pid: int | None = None
    #: The graceful timeout the server resolved, in seconds (the latest reported).
    graceful_timeout: float | None = None
    #: Live workers, pid -> "forked" or "booted", in the order they started.
    workers: dict[int, str] = dataclasses.field(default_factory=dict)
    #: Workers that exited, in order, with whether they had booted.
    exited: list[tuple[int, bool]] = dataclasses.field(default_factory=list)
    #: Every reload so far, in order.
    reload_history: list[Reload] = dataclasses.field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> ServerEvents:
        """The state after the events in ``text`` (a torn last line is left for later)."""
        state = cls()
        for line in text.splitlines(keepends=True):
            event, _, pid_text = line.partition(" ")
            if not line.endswith("\n"):
                continue
            if event == "graceful_timeout":
                try:
                    state.graceful_timeout = float(pid_text)
                except ValueError:
                    pass
                continue
            if not pid_text.strip().isdigit():
                continue
            pid = int(pid_text)
            if event == "ready":
                state.ready, state.master_pid = True, pid
            elif event == "forked":
                state.workers[pid] = "forked"
                if state.reload_history:
                    state.reload_history[-1].new.append(pid)
            elif event == "booted":
                state.workers[pid] = "booted"
            elif event == "exited":
                state.exited.append((pid, state.workers.pop(pid, "") == "booted"))
            elif event == "reloading":
                state.reload_history.append(Reload(tuple(state.workers)))
        return state

    @property
    def reloads(self) -> int:
        """How many reloads began."""
        return len(self.reload_history)

    @property
    def booted(self) -> list[int]:
        """PIDs of live workers that serve."""
        return [pid for pid, how in self.workers.items() if how == "booted"]
