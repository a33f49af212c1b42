"""The systemd notify protocol (``sd_notify``), without a library: one datagram.

systemd starts a ``Type=notify`` service with ``$NOTIFY_SOCKET`` naming a unix datagram
socket (a path, or ``@name`` in the abstract namespace). The service sends
newline-separated ``KEY=VALUE`` assignments to it: ``READY=1`` once it serves,
``RELOADING=1`` with ``MONOTONIC_USEC=`` when a reload begins (then ``READY=1`` again),
``STOPPING=1`` when it stops, and ``STATUS=`` text for ``systemctl status``. See
sd_notify(3). Without ``$NOTIFY_SOCKET`` every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

from wsgikit.process.master_state import MasterState

__all__ = ["SystemdNotify"]


class SystemdNotify:
    """Sends notifications to ``address`` (a ``$NOTIFY_SOCKET`` value); a no-op without one.

    An instance is a :data:`~wsgikit.process.master_state.StateListener`: call it with a
    :class:`MasterState` and a status line. Sending never raises: a supervisor that
    went away is logged once at debug level and otherwise ignored.
    """

    def __init__(self, address: str | None, logger: logging.Logger | None = None) -> None:
        self.address = address or None
        self.log = logger if logger is not None else logging.getLogger("wsgikit.error")

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, logger: logging.Logger | None = None
    ) -> SystemdNotify:
        """The notifier ``$NOTIFY_SOCKET`` asks for (a no-op when it is not set)."""
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET"), logger)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: object) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; True if it was sent."""
        if self.address is None:
            return False
        address = self.address
        if address.startswith("@"):
            address = "\0" + address[1:]  # the abstract namespace
        lines = []
        for key, value in fields.items():
            text = str(value).replace("\n", " ")  # one assignment per line
            lines.append(f"{key}={text}")
        data = "\n".join(lines).encode("utf-8", "replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(1.0)
                sock.connect(address)
                sock.sendall(data)
        except OSError as exc:
            self.log.debug("systemd notify to %s failed: %s", self.address, exc)
            return False
        return True

    def __call__(self, state: MasterState, message: str) -> None:
        """Tell systemd about ``state``, with ``message`` as the status line."""
        if state is MasterState.READY:
            self.send(READY=1, STATUS=message, MAINPID=os.getpid())
        elif state is MasterState.RELOADING:
            usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            self.send(RELOADING=1, MONOTONIC_USEC=usec, STATUS=message)
        elif state is MasterState.STOPPING:
            self.send(STOPPING=1, STATUS=message)

    def status(self, message: str) -> None:
        """Only a new status line (``systemctl status`` shows it)."""
        self.send(STATUS=message)
