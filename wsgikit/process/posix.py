"""POSIX process chores for a server master: pidfile, user/group, umask, chdir (daemon mode
is in :mod:`wsgikit.process.daemon`)."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import tempfile
from collections.abc import Iterator

from wsgikit.process.parent_death import parent_death_signal, set_parent_death_signal


class PidfileError(RuntimeError):
    """The pidfile names a live process, or cannot be written."""


class UserError(ValueError):
    """An unknown user or group, or not allowed to switch to it."""


def pid_alive(pid: int) -> bool:
    """True if a process ``pid`` exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def read_pidfile(path: str) -> int | None:
    """The pid stored in ``path``, or None if missing, unreadable or unparsable.

    Read as bytes: no codec is looked up, which could fail at exit in a process that
    dropped root and can no longer import from a root-only Python installation.
    """
    try:
        with open(path, "rb") as f:
            return int(f.read().strip() or b"0") or None
    except (FileNotFoundError, PermissionError, ValueError):
        return None


def write_pidfile(path: str, pid: int | None = None, owner: tuple[int, int] | None = None) -> None:
    """Write ``pid`` (default: ours) to ``path``, atomically; refuse if it names a live process.

    A stale pidfile (dead process) is replaced. The new content is written to a
    file that :func:`tempfile.mkstemp` creates in the target directory (random
    name, ``O_EXCL``: it never opens an existing file or follows a symlink
    someone planted there), then renamed over ``path`` (a rename replaces a
    symlink at ``path`` itself, never its target). Mode 0644, as Gunicorn's.
    ``owner`` (``(uid, gid)``, -1 leaves one unchanged) is given to that file
    through its descriptor before the rename, so that a process about to drop
    its privileges may still remove it; a chown by path after the rename would
    follow a symlink put there meanwhile.
    """
    pid = os.getpid() if pid is None else pid
    existing = read_pidfile(path)
    if existing is not None and existing != pid and pid_alive(existing):
        raise PidfileError(
            f"pidfile {path} names a running process (pid {existing}); is the server already running?"
        )
    directory, name = os.path.split(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise PidfileError(f"cannot write pidfile {path}: {exc.strerror}") from exc
    try:
        try:
            os.fchmod(fd, 0o644)
            if owner is not None:
                os.fchown(fd, *owner)
            os.write(fd, f"{pid}\n".encode("ascii"))
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise PidfileError(f"cannot write pidfile {path}: {exc.strerror}") from exc


def remove_pidfile(path: str, pid: int | None = None) -> bool:
    """Remove ``path`` if it still holds ``pid`` (default: ours); True if removed.

    False too when it cannot be removed (e.g. no longer allowed to): at a stop there
    is nobody left to tell but the caller.
    """
    pid = os.getpid() if pid is None else pid
    if read_pidfile(path) != pid:
        return False
    with contextlib.suppress(FileNotFoundError, PermissionError):
        os.unlink(path)
        return True
    return False


@contextlib.contextmanager
def pidfile(path: str | None, owner: tuple[int, int] | None = None) -> Iterator[None]:
    """Hold a pidfile for the duration of a ``with`` block (``None``: no pidfile);
    ``owner`` as for :func:`write_pidfile`."""
    if path is None:
        yield
        return
    write_pidfile(path, owner=owner)
    try:
        yield
    finally:
        remove_pidfile(path)


def _numeric_id(value: str | int) -> int | None:
    if isinstance(value, int):
        return value
    return int(value) if value.isdigit() else None


def resolve_user(user: str | int) -> tuple[int, int]:
    """(uid, primary gid) for a user name or id.

    A numeric id need not have a passwd entry (a container run with an arbitrary uid,
    as OpenShift does): as in Gunicorn, its group is then this process's effective
    group unless one is given.
    """
    uid = _numeric_id(user)
    try:
        entry = pwd.getpwuid(uid) if uid is not None else pwd.getpwnam(str(user))
    except KeyError:
        if uid is None:
            raise UserError(f"unknown user: {user!r}") from None
        return uid, os.getegid()
    return entry.pw_uid, entry.pw_gid


def resolve_group(group: str | int) -> int:
    """gid for a group name or id (a numeric id need not have a group entry)."""
    gid = _numeric_id(group)
    if gid is not None:
        return gid
    try:
        return grp.getgrnam(str(group)).gr_gid
    except KeyError:
        raise UserError(f"unknown group: {group!r}") from None


def set_owner(user: str | int | None = None, group: str | int | None = None) -> None:
    """Switch the process to ``user``/``group`` (names or ids); group first, then user.

    With only ``user``, its primary group is used. A no-op when nothing changes.
    A parent-death signal (see :mod:`wsgikit.process.parent_death`) survives the switch.
    """
    uid: int | None = None
    gid: int | None = None
    death_signal = parent_death_signal()  # the kernel clears it when we switch
    if user is not None:
        uid, gid = resolve_user(user)
    if group is not None:
        gid = resolve_group(group)
    try:
        if gid is not None and gid != os.getgid():
            os.setgid(gid)
        if uid is not None and uid != os.getuid():
            group_id = gid if gid is not None else os.getgid()
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:  # a uid without a passwd entry: no groups but its own
                os.setgroups([group_id])
            else:
                os.initgroups(name, group_id)
            os.setuid(uid)
    except PermissionError as exc:
        raise UserError(f"cannot switch to user={user!r} group={group!r}: {exc.strerror}") from exc
    if death_signal and parent_death_signal() != death_signal:
        set_parent_death_signal(death_signal)


def set_umask(mask: int | str) -> int:
    """Set the umask (an int or an octal string like ``"027"``); returns the previous one."""
    try:
        value = int(mask, 8) if isinstance(mask, str) else mask
    except ValueError:
        raise ValueError(f"invalid umask: {mask!r} (expected octal, e.g. '027')") from None
    if not 0 <= value <= 0o777:
        raise ValueError(f"invalid umask: {mask!r} (must be between 0 and 0o777)")
    return os.umask(value)


def chdir(path: str) -> None:
    """Change the working directory, with a clear error."""
    try:
        os.chdir(path)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot chdir to {path!r}: {exc.strerror}") from exc
