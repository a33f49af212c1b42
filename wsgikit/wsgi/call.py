"""Drive one WSGI call: ``start_response``, ``write()``, the result iterable.

The server hands us an :class:`~wsgikit.http.HTTPConnection` whose request head
has been read, and a :class:`Transport` to send bytes through. We never touch
a socket here, so all of this is tested with an in-memory transport.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from ..http import (
    HTTPConnection,
    ProtocolError,
    ResponseError,
    ResponseHead,
    check_response,
    error_content,
)
from .file_wrapper import FileWrapper

__all__ = ["Transport", "ResponseInfo", "call_app", "ClientDisconnected", "WSGIApp"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
WSGIApp = Callable[..., Iterable[bytes]]


_SENDFILE_PIECE = 8 << 20  # bytes per sendfile() call
_COALESCE = 64 << 10  # a first body piece up to this size is sent with the head


class ClientDisconnected(OSError):
    """The client went away while we were sending."""


class Transport(Protocol):
    """The two things a response needs from the connection below."""

    def send(self, data: bytes) -> None:
        """Send all of ``data``; raise :class:`ClientDisconnected` when the client is gone."""

    def sendfile(self, fd: int, offset: int, count: int) -> bool:
        """Send ``count`` bytes of ``fd`` from ``offset`` zero-copy; False if unsupported."""


@dataclass(slots=True)
class ResponseInfo:
    """What happened, for the access log and the keep-alive decision."""

    status: int = 0
    sent: int = 0  # body bytes sent
    headers: list[tuple[str, str]] | None = None
    error: bool = False  # the app raised or misbehaved
    disconnected: bool = False  # the client went away mid-response
    keep_alive: bool = False


class _Responder:
    """The state of one response; its methods are the WSGI callables."""

    def __init__(
        self,
        conn: HTTPConnection,
        transport: Transport,
        date: str,
        keep_alive: bool | Callable[[], bool],
    ) -> None:
        self.conn = conn
        self.transport = transport
        self.date = date
        self.allow_keep_alive = keep_alive
        self.head: ResponseHead | None = None
        self.head_sent = False
        self.info = ResponseInfo()

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.head_sent:
                    # PEP 3333: too late to change the response; re-raise.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # break the reference cycle
        elif self.head is not None:
            raise AssertionError("start_response() called a second time without exc_info")
        if type(status) is not str:
            raise ResponseError(f"status must be a str, not {type(status).__name__}")
        if type(headers) is not list:
            raise ResponseError(f"headers must be a list, not {type(headers).__name__}")
        self.head = check_response(status, headers)  # checked here, once
        return self.write

    def send_head(self) -> None:
        self.transport.send(self._serialize_head())

    def _serialize_head(self) -> bytes:
        """The response head's bytes; from here on the head counts as sent."""
        if self.head is None:
            raise AssertionError("the application sent body data before calling start_response()")
        allow = self.allow_keep_alive
        if not isinstance(allow, bool):
            allow = allow()  # asked late: a stop may have begun while the app ran
        data = self.conn.send_head(self.head, self.date, keep_alive=allow)
        self.head_sent = True
        self.info.status = self.head.code
        self.info.headers = self.head.headers
        return data

    def write(self, data: bytes) -> None:
        if type(data) is not bytes:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(f"WSGI body data must be bytes, not {type(data).__name__}")
            data = bytes(data)
        head = b"" if self.head_sent else self._serialize_head()
        if data:
            allowed = self.conn.body_bytes_allowed  # send_body truncates to Content-Length
            framed = self.conn.send_body(data)
            if framed:
                self.info.sent += len(data) if allowed is None else min(len(data), allowed)
                if head and len(framed) <= _COALESCE:
                    # The head and a first piece that is not large go out in one send
                    # (one syscall, one TCP segment for a small response).
                    self.transport.send(head + framed)
                    return
                if head:
                    self.transport.send(head)
                self.transport.send(framed)
                return
        if head:
            self.transport.send(head)


def _close(result: object, logger: logging.Logger) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            logger.exception("Error closing the application's response iterable")


def call_app(
    app: WSGIApp,
    environ: dict[str, Any],
    conn: HTTPConnection,
    transport: Transport,
    *,
    date: str,
    keep_alive: bool | Callable[[], bool] = True,
    logger: logging.Logger,
) -> ResponseInfo:
    """Call ``app`` and send its response; always calls the result's ``close()``.

    ``keep_alive`` (a bool, or a callable asked when the head is sent) says
    whether the server allows the connection to stay open.

    Never raises for app errors: an exception before the head is sent becomes
    a 500; after it, the connection is marked not reusable (the client sees a
    truncated response). A client that goes away ends the response quietly.
    """
    r = _Responder(conn, transport, date, keep_alive)
    info = r.info
    result: Iterable[bytes] | None = None
    try:
        result = app(environ, r.start_response)
        _send_result(r, result)
        transport.send(conn.end_response())
        info.keep_alive = conn.keep_alive
        return info
    except ClientDisconnected as exc:
        info.disconnected = True
        logger.debug("client went away during the response: %s", exc)
        return info
    except ProtocolError as exc:
        # Reading the request body failed (malformed chunk, too large, timeout):
        # the client's fault, answered with the status the HTTP layer chose.
        status = exc.status
        logger.info("bad request body: %s", exc)
    except Exception:
        info.error = True
        status = 500
        _report(logger, environ, "Error handling request")
    finally:
        if result is not None:
            _close(result, logger)
    if r.head_sent:
        return info  # too late for an error status: the connection will be closed
    _send_error(r, status)
    return info


def _send_result(r: _Responder, result: Iterable[bytes]) -> None:
    conn = r.conn
    head = r.head
    if isinstance(result, FileWrapper) and head is not None:
        if _send_file(r, head, result):
            return
    elif (
        head is not None
        and not r.head_sent
        and head.content_length is None
        and head.code not in (204, 304)  # RFC 9110 section 8.6
        and type(result) in (list, tuple)
        and len(result) == 1  # type: ignore[arg-type]
        and type(result[0]) is bytes  # type: ignore[index]
    ):
        # A single-chunk body: announce its length instead of chunking it.
        r.head = head.with_header("Content-Length", str(len(result[0])))  # type: ignore[index]
    for chunk in result:
        if chunk:
            r.write(chunk)
        elif not r.head_sent and type(chunk) is not bytes:
            r.write(chunk)  # raises the TypeError with a clear message
        if r.head_sent and conn.body_bytes_allowed == 0:
            break  # Content-Length reached: stop iterating (the rest is not sent)
    if not r.head_sent:
        r.send_head()


def _send_file(r: _Responder, head: ResponseHead, wrapper: FileWrapper) -> bool:
    """Send a FileWrapper's file with ``sendfile`` when possible; True if done."""
    located = wrapper.fileno_and_size()
    if located is None:
        return False
    fd, offset, size = located
    if head.content_length is None:
        r.head = head.with_header("Content-Length", str(size))
    r.send_head()
    count = min(size, r.conn.body_bytes_allowed or 0)
    if not count:
        return True  # nothing to send (HEAD, or an empty file)
    # In pieces, so that a long transfer shows progress to whoever watches.
    sent = 0
    while sent < count:
        piece = min(_SENDFILE_PIECE, count - sent)
        if not r.transport.sendfile(fd, offset + sent, piece):
            if sent:
                raise ClientDisconnected("sendfile stopped working mid-file")
            return False  # iterate instead: the file position is unchanged
        sent += piece
        r.conn.consume_body(piece)
        r.info.sent += piece
    return True


def _report(logger: logging.Logger, environ: dict[str, Any], message: str) -> None:
    method = environ.get("REQUEST_METHOD", "?")
    uri = environ.get("RAW_URI", "?")
    logger.error("%s %s %s", message, method, uri, exc_info=sys.exc_info())


def _send_error(r: _Responder, status: int) -> None:
    status_line, headers, body = error_content(status)
    r.head = check_response(status_line, headers)
    if status < 500:
        r.allow_keep_alive = False  # the request body is in an unknown state
    try:
        r.send_head()
        r.write(body)
        r.transport.send(r.conn.end_response())
        r.info.keep_alive = r.conn.keep_alive
    except ClientDisconnected:
        r.info.disconnected = True
