"""A small request/response socket server that lives in the master's loop.

The control socket and the metrics listener are both "read one request, write
one answer, close": this class does that without ever blocking the master.
Sockets are non-blocking, a client gets ``timeout`` seconds and
``max_request`` bytes for its request, at most ``max_clients`` are served at
once (more wait in the listen backlog), and every socket is closed in a
freshly forked worker.

Connections that say nothing must not keep a health check out: a load
balancer's probe gives up after a second. So a client that has sent nothing
is dropped after ``first_byte_timeout``, and when every place is taken the
oldest such client makes room for the next connection.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

from ..process.master_services import READ, WRITE

__all__ = ["SocketService"]


class _Client:
    __slots__ = ("sock", "inbox", "outbox", "accepted", "deadline", "answered")

    def __init__(self, sock: socket.socket, accepted: float, deadline: float) -> None:
        self.sock = sock
        self.inbox = bytearray()
        self.outbox = b""
        self.accepted = accepted
        self.deadline = deadline
        self.answered = False

    @property
    def silent(self) -> bool:
        """Nothing received yet (and so nothing to answer)."""
        return not self.inbox and not self.answered


class SocketService:
    """Serves one listening socket from the master's loop; subclasses write :meth:`answer`."""

    max_clients = 16
    timeout = 5.0
    first_byte_timeout = 1.0
    max_request = 64 * 1024

    def __init__(self, listener: socket.socket, logger: logging.Logger | None = None) -> None:
        listener.setblocking(False)
        self.listener = listener
        self.log = logger or logging.getLogger("wsgikit.error")
        self.arbiter: object = None
        self._clients: dict[int, _Client] = {}

    # -- what the subclass provides -------------------------------------------------

    def answer(self, request: bytes, ended: bool) -> bytes | None:
        """The whole answer to ``request`` (all bytes received so far; ``ended``: the
        client closed its side), or None while the request is incomplete."""
        raise NotImplementedError

    def too_large(self) -> bytes:
        """The answer to a request over ``max_request`` bytes."""
        return b""

    # -- MasterService --------------------------------------------------------------

    def attach(self, arbiter: object) -> None:
        self.arbiter = arbiter

    def watch(self) -> Iterator[tuple[int, int]]:
        if self.listener.fileno() >= 0 and (
            len(self._clients) < self.max_clients or self._oldest_silent() is not None
        ):
            yield self.listener.fileno(), READ
        for fd, client in self._clients.items():
            yield fd, WRITE if client.answered else READ

    def ready(self, fd: int, events: int) -> None:
        if fd == self.listener.fileno():
            self._accept()
            return
        client = self._clients.get(fd)
        if client is None:
            return
        if client.answered:
            if events & WRITE:
                self._send(client)
            return
        if events & READ:
            self._receive(client)

    def tick(self, now: float) -> None:
        for client in [c for c in self._clients.values() if now >= c.deadline]:
            self._drop(client)

    def close(self) -> None:
        for client in list(self._clients.values()):
            self._drop(client)
        self.listener.close()

    def close_in_child(self) -> None:
        for client in self._clients.values():
            client.sock.close()
        self._clients.clear()
        self.listener.close()

    # -- internals ------------------------------------------------------------------

    def _oldest_silent(self) -> _Client | None:
        silent = [c for c in self._clients.values() if c.silent]
        return min(silent, key=lambda c: c.accepted) if silent else None

    def _accept(self) -> None:
        while len(self._clients) < self.max_clients or self._oldest_silent() is not None:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                self.log.warning("%s: accept() failed: %s", type(self).__name__, exc)
                return
            sock.setblocking(False)
            if len(self._clients) >= self.max_clients:
                oldest = self._oldest_silent()
                assert oldest is not None
                self._drop(oldest)  # a connection that said nothing makes room
            now = time.monotonic()
            deadline = now + min(self.first_byte_timeout, self.timeout)
            self._clients[sock.fileno()] = _Client(sock, now, deadline)

    def _receive(self, client: _Client) -> None:
        try:
            data = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(client)
            return
        if data and not client.inbox:
            client.deadline = client.accepted + self.timeout  # it spoke: the full time
        client.inbox += data
        if len(client.inbox) > self.max_request:
            reply: bytes | None = self.too_large()
        else:
            reply = self.answer(bytes(client.inbox), not data)
        if reply is None:
            if not data:
                self._drop(client)
            return
        client.answered = True
        client.outbox = reply
        self._send(client)

    def _send(self, client: _Client) -> None:
        try:
            while client.outbox:
                sent = client.sock.send(client.outbox)
                client.outbox = client.outbox[sent:]
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._drop(client)

    def _drop(self, client: _Client) -> None:
        self._clients.pop(client.sock.fileno(), None)
        try:
            client.sock.close()
        except OSError:
            pass
