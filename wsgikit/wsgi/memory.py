"""Drive the HTTP and WSGI layers in memory: a transport that collects bytes, and a
one-call server over a byte string.

This is the test double that ships with the layers (as httpcore ships its mock
streams): whoever builds on :mod:`wsgikit.http` and :mod:`wsgikit.wsgi` can run
an app against raw request bytes and look at the raw response bytes, without a
socket, a thread or a clock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from ..http import (
    CONNECTION_CLOSED,
    NEED_DATA,
    HTTPConnection,
    Limits,
    ProtocolError,
    Request,
    error_response,
)
from .call import ClientDisconnected, WSGIApp, call_app
from .environ import ServerInfo, build_environ
from .errors import ErrorStream
from .input import ConnectionBody, InputStream, drain_body

__all__ = ["MemoryTransport", "serve_bytes", "FIXED_DATE"]

#: The ``Date`` value :func:`serve_bytes` uses unless given one (so output is repeatable).
FIXED_DATE = "Thu, 01 Jan 2026 00:00:00 GMT"


class MemoryTransport:
    """A :class:`~wsgikit.wsgi.Transport` that appends everything sent to :attr:`out`.

    ``disconnect_after``: behave like a client that goes away once that many
    bytes were sent (``send`` raises :class:`ClientDisconnected`).
    ``sendfile=False``: report ``sendfile`` unsupported, so file bodies are iterated.
    """

    def __init__(self, disconnect_after: int | None = None, sendfile: bool = True) -> None:
        self.out = bytearray()
        self.disconnect_after = disconnect_after
        self.sendfile_supported = sendfile
        self.sendfile_calls: list[tuple[int, int, int]] = []

    def send(self, data: bytes) -> None:
        limit = self.disconnect_after
        if limit is not None and len(self.out) + len(data) > limit:
            self.out += data[: max(0, limit - len(self.out))]
            raise ClientDisconnected("peer reset")
        self.out += data

    def sendfile(self, fd: int, offset: int, count: int) -> bool:
        self.sendfile_calls.append((fd, offset, count))
        if not self.sendfile_supported:
            return False
        self.send(os.pread(fd, count, offset))  # what a socket would carry
        return True


def _no_more_input() -> bool:
    return False  # every byte was given up front: a body cut short times out (408)


def serve_bytes(
    app: WSGIApp,
    data: bytes,
    *,
    limits: Limits | None = None,
    server: ServerInfo | None = None,
    remote: tuple[str, int] | None = ("127.0.0.1", 40000),
    date: str = FIXED_DATE,
    server_header: str | None = "wsgikit",
    logger: logging.Logger | None = None,
    transport: MemoryTransport | None = None,
    on_response: Callable[[Request], None] | None = None,
) -> bytes:
    """Serve every request in ``data`` (a client's whole byte stream, then EOF).

    Returns the bytes a client would receive: one response per request,
    keep-alive and pipelining as on a socket, an error response for a
    malformed request (and nothing after it). ``on_response`` is called with
    each request after its response.
    """
    log = logger or logging.getLogger("wsgikit.error")
    out = transport or MemoryTransport()
    info = server or ServerInfo("127.0.0.1", "8000")
    base = info.base_environ(ErrorStream(log))
    conn = HTTPConnection(limits, server_header)
    conn.receive_data(data)
    conn.receive_data(b"")
    while True:
        try:
            event = conn.next_event()
        except ProtocolError as exc:
            out.out += error_response(exc.status, date, server_header)
            break
        if event is NEED_DATA or event is CONNECTION_CLOSED or not isinstance(event, Request):
            break
        body = ConnectionBody(conn, _no_more_input, out.send)
        environ = build_environ(event, base, InputStream(body), remote)
        result = call_app(app, environ, conn, out, date=date, logger=log)
        if on_response is not None:
            on_response(event)
        if not result.keep_alive or result.disconnected:
            break
        try:
            if not drain_body(body):
                break
        except ProtocolError:
            break
        if not conn.start_next_cycle():
            break
    return bytes(out.out)
