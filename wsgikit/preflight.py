"""Settings that can only be checked against the system, checked before anything forks.

:class:`~wsgikit.config.Config` checks each value on its own (types, ranges). What
depends on the machine is checked here, once, by ``--check-config`` and at the start of
every run, so that a mistake is one line naming the setting and exit status 2 instead
of a traceback from a worker or a stop that leaves files behind: log files that cannot
be written, a pidfile that cannot be written (or names a running server), a user or
group that does not exist or cannot be switched to, a spool directory the workers
cannot write to, a log config or TLS files that do not load, a bind address whose
host does not resolve, more workers, app threads or connections than the system
lets a server have (:func:`system_limits`). ``--check-config`` says OK only when a start would get past
all of them.
"""

from __future__ import annotations

import os
import resource
import socket
from dataclasses import dataclass
from pathlib import Path

from .binds import BindError, parse_bind
from .config import SETTINGS, Config, ConfigError
from .logs import Logs
from .process import UserError
from .process.posix import pid_alive, read_pidfile, resolve_group, resolve_user
from .translate import ssl_context

__all__ = [
    "Limit",
    "Owner",
    "SystemLimits",
    "check_settings",
    "check_writable_file",
    "system_limits",
]


@dataclass(frozen=True)
class Owner:
    """The uid and gid the workers (or, with ``workers=0``, the server) switch to."""

    uid: int
    gid: int


def check_writable_file(name: str, path: str) -> None:
    """Raise :class:`ConfigError` for setting ``name`` unless ``path`` can be written."""
    absolute = os.path.abspath(path)
    if os.path.isdir(absolute):
        raise ConfigError(name, f"{path!r} is a directory, not a file")
    if os.path.exists(absolute):
        if not os.access(absolute, os.W_OK):
            raise ConfigError(name, f"cannot write {path!r}: permission denied")
        return
    directory = os.path.dirname(absolute)
    if not os.path.isdir(directory):
        raise ConfigError(name, f"cannot create {path!r}: no directory {directory!r}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(name, f"cannot create {path!r}: permission denied in {directory!r}")


def _owner(config: Config) -> Owner | None:
    if config.user is None and config.group is None:
        return None
    uid, gid = os.geteuid(), os.getegid()
    if config.user is not None:
        try:
            uid, gid = resolve_user(config.user)
        except UserError as exc:
            raise ConfigError("user", str(exc)) from None
    if config.group is not None:
        try:
            gid = resolve_group(config.group)
        except UserError as exc:
            raise ConfigError("group", str(exc)) from None
    if os.geteuid() != 0 and (uid, gid) != (os.geteuid(), os.getegid()):
        name = "user" if uid != os.geteuid() else "group"
        raise ConfigError(
            name,
            f"switching to uid {uid} gid {gid} needs root (running as uid {os.geteuid()})",
        )
    return Owner(uid, gid)


def _allowed(path: str, owner: Owner, want: int) -> bool:
    """Whether ``owner`` has ``want`` (``os.W_OK | os.X_OK`` bits) on ``path`` (mode bits)."""
    info = os.stat(path)
    shift = 6 if info.st_uid == owner.uid else 3 if info.st_gid == owner.gid else 0
    return (info.st_mode >> shift) & want == want


def _writable_by(directory: str, owner: Owner) -> bool:
    """Whether ``owner`` may reach ``directory`` and create and remove files in it."""
    if owner.uid == 0:
        return True
    parent = directory
    while True:
        parent = os.path.dirname(parent)
        if not _allowed(parent, owner, os.X_OK):
            return False
        if parent == os.path.dirname(parent):
            break
    return _allowed(directory, owner, os.W_OK | os.X_OK)


def _check_pidfile(config: Config, owner: Owner | None) -> None:
    path = config.pidfile
    if path is None:
        return
    existing = read_pidfile(path)
    if existing is not None and existing != os.getpid() and pid_alive(existing):
        raise ConfigError(
            "pidfile",
            f"{path} names a running process (pid {existing}); is the server already running?",
        )
    check_writable_file("pidfile", path)
    if config.resolved_workers == 0 and owner is not None:
        # One process that switches user after writing the pidfile must still be
        # allowed to remove it when it stops (it is handed the file, see facade).
        directory = os.path.dirname(os.path.abspath(path))
        if not _writable_by(directory, owner):
            raise ConfigError(
                "pidfile",
                f"{path!r}: with workers=0 the server runs as uid {owner.uid} and could not "
                f"remove it from {directory!r}; use a directory that user may write",
            )


def _check_spool_dir(config: Config, owner: Owner | None) -> None:
    """The threaded worker's temporary files go there: it must be a directory the
    workers can create files in (found at start-up, not at the first large upload)."""
    path = config.spool_dir
    if path is None:
        return
    absolute = os.path.abspath(path)
    if not os.path.isdir(absolute):
        raise ConfigError("spool_dir", f"{path!r} is not a directory")
    allowed = _writable_by(absolute, owner) if owner is not None else None
    if allowed is None:
        allowed = os.access(absolute, os.W_OK | os.X_OK)
    if not allowed:
        raise ConfigError("spool_dir", f"cannot create files in {path!r}: permission denied")


def _check_binds(config: Config) -> None:
    """Every TCP address to listen on must resolve (binding is the start's business)."""
    binds = [("bind", b) for b in config.bind]
    if os.environ.get("LISTEN_PID") == str(os.getpid()):
        binds = []  # systemd's sockets replace the binds
    if config.metrics_bind:
        binds.append(("metrics_bind", config.metrics_bind))
    for name, text in binds:
        try:
            address = parse_bind(text)
        except BindError as exc:  # pragma: no cover - Config parsed them already
            raise ConfigError(name, str(exc)) from None
        if address.kind != "tcp":
            continue
        try:
            socket.getaddrinfo(
                address.lookup_host,
                address.port,
                type=socket.SOCK_STREAM,
                flags=socket.AI_PASSIVE,
            )
        except (socket.gaierror, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(name, f"cannot listen on {address}: {reason}") from None


@dataclass(frozen=True)
class Limit:
    """A ceiling the system sets, and where it comes from (shown in the error)."""

    value: int
    source: str


@dataclass(frozen=True)
class SystemLimits:
    """What the system lets a server have; ``None`` where the system sets no bound.

    ``tasks``: processes and threads together (workers, and every worker's app
    threads), the fewest of ``kernel.threads-max``, ``kernel.pid_max`` (each thread
    takes a pid) and ``RLIMIT_NPROC`` (for a user other than root). ``threads``: app
    threads of one worker, ``tasks`` and half of ``vm.max_map_count`` (each thread
    stack is two memory maps). ``open_files``: the hard ``RLIMIT_NOFILE``, the most
    file descriptors a worker can ever have (each connection holds one).
    """

    tasks: Limit | None
    threads: Limit | None
    open_files: Limit | None


def _proc_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None  # not Linux, or not readable here


def _rlimit(which: int, hard: bool) -> int | None:
    soft_value, hard_value = resource.getrlimit(which)
    value = hard_value if hard else soft_value
    return None if value == resource.RLIM_INFINITY else value


def _fewest(*limits: Limit | None) -> Limit | None:
    found = [limit for limit in limits if limit is not None]
    return min(found, key=lambda limit: limit.value) if found else None


def _limit(value: int | None, source: str) -> Limit | None:
    return None if value is None else Limit(value, source)


def system_limits(uid: int | None = None) -> SystemLimits:
    """Read the limits of this system for a server whose workers run as ``uid``.

    ``uid`` defaults to this process's effective user; root is not held to
    ``RLIMIT_NPROC`` (the kernel does not hold it either).
    """
    uid = os.geteuid() if uid is None else uid
    nproc = _rlimit(resource.RLIMIT_NPROC, hard=False) if uid != 0 else None
    tasks = _fewest(
        _limit(_proc_int("/proc/sys/kernel/threads-max"), "kernel.threads-max"),
        _limit(_proc_int("/proc/sys/kernel/pid_max"), "kernel.pid_max"),
        _limit(nproc, "RLIMIT_NPROC, ulimit -u"),
    )
    maps = _proc_int("/proc/sys/vm/max_map_count")
    threads = _fewest(tasks, _limit(None if maps is None else maps // 2, "vm.max_map_count / 2"))
    open_files = _limit(
        _rlimit(resource.RLIMIT_NOFILE, hard=True), "hard RLIMIT_NOFILE, ulimit -Hn"
    )
    return SystemLimits(tasks, threads, open_files)


def _check_capacity(config: Config, owner: Owner | None) -> None:
    """Workers, app threads and connections within what the system allows at all.

    Gunicorn forks every worker it is asked for and raises in a worker that cannot
    start a thread; here an impossible count is one line before anything forks.
    Only a count one worker (or the master) can never reach is refused: ``--threads
    1000`` starts (threads start as requests need them), ``--threads 1000000`` does
    not. Workers times threads is not checked: with threads started on demand, a
    server that could never run all of them at once still serves.
    """
    limits = system_limits(None if owner is None else owner.uid)
    workers = config.resolved_workers
    if limits.tasks is not None and workers > limits.tasks.value:
        raise ConfigError(
            "workers",
            f"expected at most {limits.tasks.value} processes ({limits.tasks.source}), "
            f"got {workers}",
        )
    if config.resolved_worker_class != "threaded":
        return  # the sync worker runs one thread and one connection at a time
    threads = config.threads
    if limits.threads is not None and threads > limits.threads.value:
        raise ConfigError(
            "threads",
            f"expected at most {limits.threads.value} threads per worker "
            f"({limits.threads.source}), got {threads}",
        )
    connections = config.worker_connections
    # The default (Gunicorn's too) always starts: past the limit, accepting pauses.
    default: int = SETTINGS["worker_connections"].default
    if limits.open_files is not None and connections > max(limits.open_files.value, default):
        raise ConfigError(
            "worker_connections",
            f"expected at most {limits.open_files.value} (each connection is an open file; "
            f"{limits.open_files.source}), got {connections}",
        )


def _check_log_config(config: Config) -> None:
    """A log config (file or dict) is loaded as the start loads it: it must work.

    Loading it configures :mod:`logging` in this process, as the start does next.
    """
    if config.logconfig is not None or config.logconfig_dict is not None:
        Logs(config).close()


def check_settings(config: Config) -> Owner | None:
    """Check what depends on the system; return the user/group to switch to, if any.

    Raises :class:`ConfigError` naming the setting. Called by ``--check-config`` and
    before every start, in the launching process (before daemon mode detaches).
    """
    if config.logconfig is None and config.logconfig_dict is None:
        if config.errorlog != "-":
            check_writable_file("errorlog", config.errorlog)
        if config.accesslog is not None and config.accesslog != "-":
            check_writable_file("accesslog", config.accesslog)
    _check_log_config(config)
    owner = _owner(config)
    _check_pidfile(config, owner)
    _check_spool_dir(config, owner)
    _check_capacity(config, owner)
    ssl_context(config)  # the TLS files are read: one that cannot be used is one line
    _check_binds(config)
    return owner
