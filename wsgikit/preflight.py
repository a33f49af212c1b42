"""Settings that can only be checked against the system, checked before anything forks.

:class:`~wsgikit.config.Config` checks each value on its own (types, ranges). What
depends on the machine is checked here, once, by ``--check-config`` and at the start of
every run, so that a mistake is one line naming the setting and exit status 2 instead
of a traceback from a worker or a stop that leaves files behind: log files that cannot
be written, a pidfile that cannot be written (or names a running server), a user or
group that does not exist or cannot be switched to, a spool directory the workers
cannot write to, a log config or TLS files that do not load, a bind address whose
host does not resolve. ``--check-config`` says OK only when a start would get past
all of them.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from .binds import BindError, parse_bind
from .config import Config, ConfigError
from .logs import Logs
from .process import UserError
from .process.posix import pid_alive, read_pidfile, resolve_group, resolve_user
from .translate import ssl_context

__all__ = ["Owner", "check_settings", "check_writable_file"]


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
                address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
        except (socket.gaierror, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(name, f"cannot listen on {address}: {reason}") from None


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
    ssl_context(config)  # the TLS files are read: one that cannot be used is one line
    _check_binds(config)
    return owner
