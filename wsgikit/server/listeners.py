"""Open, describe and close listening sockets.

Bind strings are parsed by :mod:`wsgikit.binds`; systemd socket activation
(``LISTEN_FDS``) is read by :func:`systemd_sockets`.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import time
from collections.abc import Iterable, Mapping

from ..binds import Address, BindError, parse_bind

__all__ = [
    "open_listener",
    "open_listeners",
    "systemd_sockets",
    "describe",
    "close_listeners",
    "owned_unix_paths",
]


def _unlink_stale_unix_socket(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise BindError(f"cannot listen on unix:{path}: the path exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)  # nobody listens: a leftover from a crashed server
    except OSError as exc:  # e.g. a timeout: a live server with a full backlog
        raise BindError(
            f"cannot listen on unix:{path}: cannot tell whether a server listens there ({exc})"
        ) from None
    else:
        raise BindError(f"cannot listen on unix:{path}: another server is listening there")
    finally:
        probe.close()


def open_listener(
    address: Address,
    backlog: int = 2048,
    reuse_port: bool = False,
    retries: int = 3,
    *,
    umask: int | None = None,
    owner: tuple[int, int] | None = None,
) -> socket.socket:
    """Open a listening socket; raise :class:`BindError` with one clear line on failure.

    For a ``unix:`` address, ``umask`` (if given) is the process umask while the
    socket file is created, so it decides who may connect (the file's mode is
    0777 minus the mask); ``owner`` is the ``(uid, gid)`` the file is then given
    (-1 leaves one unchanged), as Gunicorn gives it to ``--user``/``--group``.
    Neither touches a socket passed in as ``fd://N``: it belongs to whoever
    created it.
    """
    if address.kind == "fd":
        try:
            sock = socket.socket(fileno=address.fd)
        except OSError as exc:
            raise BindError(f"cannot use {address}: {exc.strerror or exc}") from None
        sock.setblocking(False)
        return sock
    if address.kind == "unix":
        _unlink_stale_unix_socket(address.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            previous = os.umask(umask) if umask is not None else None
            try:
                sock.bind(address.path)
            finally:
                if previous is not None:
                    os.umask(previous)
            sock.listen(backlog)
        except OSError as exc:
            sock.close()
            raise BindError(f"cannot listen on {address}: {exc.strerror or exc}") from None
        if owner is not None:
            try:
                # The socket file itself, never what a symlink put in its place
                # since the bind points to (a socket's fchown would not reach the file).
                os.chown(address.path, *owner, follow_symlinks=False)
            except OSError as exc:
                sock.close()
                os.unlink(address.path)
                uid, gid = owner
                raise BindError(
                    f"cannot give {address} to uid {uid} gid {gid}: {exc.strerror or exc}"
                ) from None
        sock.setblocking(False)
        return sock
    try:
        infos = socket.getaddrinfo(
            address.lookup_host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise BindError(f"cannot listen on {address}: {exc.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    for attempt in range(retries + 1):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(sockaddr)
            sock.listen(backlog)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE and attempt < retries:
                time.sleep(0.3)
                continue
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise BindError(f"cannot listen on {address}: {reason or exc}") from None
        sock.setblocking(False)
        return sock
    raise AssertionError("unreachable")  # pragma: no cover


def systemd_sockets(environ: Mapping[str, str], pid: int | None = None) -> list[socket.socket]:
    """Sockets passed by systemd socket activation (``LISTEN_PID`` / ``LISTEN_FDS``)."""
    if environ.get("LISTEN_PID") != str(os.getpid() if pid is None else pid):
        return []
    count = int(environ.get("LISTEN_FDS", "0") or 0)
    socks = []
    for fd in range(3, 3 + count):
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        socks.append(sock)
    return socks


def open_listeners(
    binds: tuple[str, ...] | list[str],
    backlog: int = 2048,
    reuse_port: bool = False,
    *,
    umask: int | None = None,
    owner: tuple[int, int] | None = None,
) -> list[socket.socket]:
    """Open every bind, closing the ones already opened if a later one fails.

    ``umask`` and ``owner`` apply to unix socket files (see :func:`open_listener`).
    """
    addresses = [parse_bind(b) for b in binds]
    socks: list[socket.socket] = []
    try:
        for address in addresses:
            socks.append(open_listener(address, backlog, reuse_port, umask=umask, owner=owner))
    except BaseException:
        close_listeners(socks)
        raise
    return socks


def describe(sock: socket.socket) -> str:
    """A URL-ish description of a listening socket for log lines."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name}"
    host, port = name[0], name[1]
    if sock.family == socket.AF_INET6:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def close_listeners(socks: list[socket.socket], remove: Iterable[str] = ()) -> None:
    """Close listeners, then remove the unix socket files named in ``remove``.

    Only the paths of ``unix:`` binds we opened ourselves belong there (see
    :func:`owned_unix_paths`): a socket passed in by systemd or as ``fd://N``
    belongs to whoever created it, and must outlive us.
    """
    for sock in socks:
        sock.close()
    for path in remove:
        try:
            os.unlink(path)
        except OSError:
            pass


def owned_unix_paths(binds: Iterable[str]) -> list[str]:
    """The socket files that opening ``binds`` creates (and closing should remove)."""
    return [a.path for a in map(parse_bind, binds) if a.kind == "unix"]
