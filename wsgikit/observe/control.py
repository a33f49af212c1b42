"""The control socket: a unix socket (mode 0600) that ``wsgikit ctl`` talks to.

One request per connection, as one line of JSON, ``{"command": "show", "args":
["workers"]}``; the answer is one line, ``{"ok": true, "data": ...}`` or ``{"ok":
false, "error": "..."}``. Commands (Gunicorn's ``gunicornc`` offers the same):

- ``show all|workers|stats|config|listeners`` (``status`` is ``show all``)
- ``worker add [N]``, ``worker remove [N]``, ``worker kill PID [--now]``
- ``reload`` (as HUP), ``reopen`` (as USR1), ``shutdown [graceful|quick]``
- ``help``

The socket file is created with mode 0600 (``control_socket_mode``), so only
its owner (and root) can stop or reconfigure the server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import stat
from collections.abc import Callable, Mapping
from typing import Any

from .service import SocketService
from .status import status_document

__all__ = ["ControlService", "ControlError", "send_command", "open_control_socket", "COMMANDS"]

COMMANDS: Mapping[str, str] = {
    "show all": "everything below at once (also: status)",
    "show workers": "each worker: pid, requests, status classes, memory, what it serves now",
    "show stats": "totals: requests by status class, in flight, durations, uptime",
    "show config": "the settings the server runs with",
    "show listeners": "the addresses it listens on",
    "worker add [N]": "run N more workers (default 1)",
    "worker remove [N]": "run N fewer workers (never fewer than 1)",
    "worker kill PID [--now]": "stop one worker after its requests (--now: SIGKILL); it is replaced",
    "reload": "load the app and settings anew, as HUP",
    "reopen": "reopen the log files, as USR1",
    "shutdown [graceful|quick]": "stop the server (graceful by default, as TERM; quick as INT)",
    "help": "this list",
}


class ControlError(RuntimeError):
    """A control command failed, or the server could not be reached."""


def open_control_socket(path: str, mode: int = 0o600) -> socket.socket:
    """Listen on the unix socket ``path`` with permissions ``mode`` from its creation.

    A stale socket file (nobody listening) is replaced; a live one is an error,
    as is a path that is not a socket, or a directory that does not exist: which
    directories a server may create, with which owner and mode, is its
    administrator's choice (systemd's ``RuntimeDirectory=``), not ours.
    """
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise OSError(f"no directory {parent} (create it first; systemd: RuntimeDirectory=)")
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise OSError(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(1.0)
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)
        else:
            raise OSError(f"another server listens on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o777 & ~mode)  # the file is never more open than asked
    try:
        sock.bind(path)
        os.chmod(path, mode)
        sock.listen(16)
    except BaseException:
        sock.close()
        raise
    finally:
        os.umask(old)
    sock.setblocking(False)
    return sock


class ControlService(SocketService):
    """Answers control commands from the master's loop."""

    def __init__(
        self,
        listener: socket.socket,
        logger: logging.Logger | None = None,
        *,
        listeners: Callable[[], list[str]] = list,
        config: Callable[[], Mapping[str, Any]] = dict,
        path: str | None = None,
    ) -> None:
        super().__init__(listener, logger)
        self._listeners = listeners
        self._config = config
        self.path = path

    def close(self) -> None:
        super().close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def too_large(self) -> bytes:
        return _encode({"ok": False, "error": "request too large"})

    def answer(self, request: bytes, ended: bool) -> bytes | None:
        if b"\n" not in request and not ended:
            return None
        try:
            message = json.loads(request.split(b"\n", 1)[0] or b"null")
            command = str(message["command"])
            args = [str(a) for a in message.get("args", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return _encode({"ok": False, "error": 'expected {"command": ..., "args": [...]}'})
        try:
            data = self.run(command, args)
        except ControlError as exc:
            return _encode({"ok": False, "error": str(exc)})
        return _encode({"ok": True, "data": data})

    def run(self, command: str, args: list[str]) -> Any:
        """Run one command; raise ControlError with a message for the user."""
        arbiter: Any = self.arbiter
        if command == "status":
            command, args = "show", ["all"]
        if command == "help":
            return dict(COMMANDS)
        if command == "show":
            what = args[0] if args else "all"
            doc = status_document(arbiter.status(), self._listeners(), self._config())
            if what == "all":
                return doc
            if what == "workers":
                return {"workers": doc["workers"], "target": doc["workers_target"]}
            if what == "stats":
                return {k: v for k, v in doc.items() if k not in ("workers", "config", "listeners")}
            if what in ("config", "listeners"):
                return {what: doc[what]}
            raise ControlError(f"show what? all, workers, stats, config or listeners, not {what!r}")
        if command == "worker":
            return self._worker(arbiter, args)
        if command == "reload":
            arbiter.request(signal.SIGHUP)
            return {"reloading": True}
        if command == "reopen":
            arbiter.request(signal.SIGUSR1)
            return {"reopening": True}
        if command == "shutdown":
            mode = args[0] if args else "graceful"
            if mode not in ("graceful", "quick"):
                raise ControlError(f"shutdown graceful or quick, not {mode!r}")
            arbiter.request(signal.SIGTERM if mode == "graceful" else signal.SIGINT)
            return {"stopping": mode}
        raise ControlError(f"unknown command {command!r}; try help")

    def _worker(self, arbiter: Any, args: list[str]) -> Any:
        action = args[0] if args else ""
        if action in ("add", "remove"):
            count = _number(args[1] if len(args) > 1 else "1", "N")
            old = arbiter.workers
            new = old + count if action == "add" else max(1, old - count)
            arbiter.set_workers(new)
            return {"previous": old, "target": new}
        if action == "kill":
            if len(args) < 2:
                raise ControlError("worker kill PID [--now]")
            pid = _number(args[1], "PID")
            now = "--now" in args[2:]
            if not arbiter.kill_worker(pid, graceful=not now):
                raise ControlError(f"no worker with pid {pid}")
            return {"killed": pid, "graceful": not now}
        raise ControlError("worker add [N], worker remove [N] or worker kill PID [--now]")


def _number(text: str, what: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ControlError(f"{what} must be a positive integer, not {text!r}")
    return int(text)


def _encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, default=str).encode("utf-8") + b"\n"


def send_command(
    path: str, command: str, args: list[str] | None = None, timeout: float = 10.0
) -> Any:
    """Send one command to the control socket at ``path``; return its ``data``.

    Raises :class:`ControlError` when the server cannot be reached or says no.
    """
    request = json.dumps({"command": command, "args": list(args or [])}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(request)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except FileNotFoundError:
        raise ControlError(
            f"no control socket at {path} (is the server running with it?)"
        ) from None
    except PermissionError:
        raise ControlError(
            f"not allowed to use {path} (it is mode 0600: run as its owner)"
        ) from None
    except OSError as exc:
        raise ControlError(f"cannot talk to {path}: {exc.strerror or exc}") from None
    try:
        answer = json.loads(b"".join(chunks))
    except ValueError:
        raise ControlError(f"the server at {path} gave no answer") from None
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error", "the server refused")))
    return answer.get("data")
