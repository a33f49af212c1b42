"""A sans-IO HTTP/1.1 server connection on top of h11.

Feed it bytes with :meth:`HTTPConnection.receive_data`, pull events with
:meth:`HTTPConnection.next_event`, and turn a response into bytes with
:meth:`start_response` / :meth:`send_body` / :meth:`end_response`. No sockets,
threads or clocks: the caller does the I/O and supplies the ``Date`` value.

h11 parses every request head and body. This class adds what h11 leaves to
the application:

- limits on the request line, header count and header size, checked on the
  raw bytes *before* h11 sees them, so an oversized head is answered 414/431
  rather than buffered;
- stricter rejection of ambiguous framing (Content-Length together with
  Transfer-Encoding, obs-fold, repeated Host) that h11 tolerates but that
  enables request smuggling behind a proxy;
- a status for every error, HTTP/1.0 keep-alive, ``100 Continue``
  bookkeeping, and the response framing rules.

Each request gets its own ``h11.Connection``; the bytes h11 buffered past the
end of one request (pipelining) are taken back through its public
``trailing_data`` and re-checked against the limits before the next request is
parsed.
"""

from __future__ import annotations

import re
from enum import Enum

import h11

from .errors import ProtocolError, ResponseError
from .events import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    NEED_DATA,
    PAUSED,
    Data,
    Event,
    Request,
)
from .headers import ResponseHead, check_response
from .limits import Limits
from .response import BodyFraming, serialize_head

__all__ = ["HTTPConnection", "ConnState"]

_NOT_STARTED = BodyFraming(chunked=False, no_body=True, remaining=None)
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 3986 host (reg-name, IPv4 or [IP-literal]) with an optional port.
_HOST = re.compile(rb"(\[[0-9A-Fa-f:.vV]+\]|[-A-Za-z0-9._~%!$&'()*+,;=]*)(:[0-9]*)?\Z")
_CHUNKED_NOT_LAST = re.compile(rb"(?im)^transfer-encoding:[^\n]*chunked[ \t]*,")


class ConnState(Enum):
    """Where the connection is in the request/response cycle."""

    HEAD = "head"  # waiting for (more of) a request head
    BODY = "body"  # reading the request body
    DONE = "done"  # request fully read; waiting for the response to end
    CLOSED = "closed"  # nothing more will be read or written
    ERROR = "error"  # the client sent something we rejected


def _tokens(value: bytes) -> set[bytes]:
    return {part.strip().lower() for part in value.split(b",")}


class HTTPConnection:
    """One server-side HTTP/1.1 connection, without I/O."""

    def __init__(self, limits: Limits | None = None, server_header: str | None = "wsgikit") -> None:
        self.limits = limits or Limits()
        self.server_header = server_header
        self.state = ConnState.HEAD
        self.request: Request | None = None
        self._buffer = bytearray()  # head bytes not yet given to h11
        self._eof = False
        self._h11: h11.Connection | None = None
        self._body_seen = 0
        self._max_head = self.limits.head_size
        self._scanned = 0  # head bytes whose lines have been checked
        self._fields = 0  # header fields counted so far
        self._reset_response()

    def _reset_response(self) -> None:
        self.response_started = False
        self.response_finished = False
        self.continue_sent = False
        self.keep_alive = False
        self.status = 0
        self._framing = _NOT_STARTED

    # ------------------------------------------------------------------ input

    def receive_data(self, data: bytes) -> None:
        """Give the connection bytes from the client; ``b""`` means end of input."""
        if not data:
            self._eof = True
        if self.state is ConnState.HEAD:
            self._buffer += data
        elif self._h11 is not None and self.state in (ConnState.BODY, ConnState.DONE):
            if self._h11.their_state is not h11.ERROR:
                self._h11.receive_data(data)

    @property
    def buffered_head(self) -> bool:
        """True while part of a request head has arrived but not all of it."""
        return self.state is ConnState.HEAD and bool(self._buffer)

    @property
    def request_complete(self) -> bool:
        """True once the whole request body has been received."""
        return self.state is ConnState.DONE

    def next_event(self) -> Event:
        """Return the next event, or raise :class:`ProtocolError`.

        After a ``ProtocolError`` the connection is in the ERROR state: answer
        with :func:`error_response` for ``exc.status`` and close.
        """
        state = self.state
        try:
            if state is ConnState.HEAD:
                return self._next_head()
            if state is ConnState.BODY:
                return self._next_body()
        except ProtocolError:
            self.state = ConnState.ERROR
            raise
        if state is ConnState.DONE:
            return PAUSED
        if state is ConnState.ERROR:
            raise ProtocolError("connection is in the error state")
        return CONNECTION_CLOSED

    def _next_head(self) -> Event:
        buf = self._buffer
        if self._scanned == 0:
            # RFC 9112 section 2.2: ignore empty lines received before a request line.
            while buf[:1] == b"\n" or buf[:2] == b"\r\n":
                del buf[: 1 if buf[:1] == b"\n" else 2]
        end = self._scan_head(buf)
        if end < 0:
            if self._eof:
                if not buf:
                    self.state = ConnState.CLOSED
                    return CONNECTION_CLOSED
                raise ProtocolError("connection closed in the middle of a request head")
            return NEED_DATA
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._max_head)
        self._h11 = conn
        head = bytes(buf[:end])
        conn.receive_data(head)
        rest = bytes(buf[end:])
        buf.clear()
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            status = exc.error_status_hint
            if status == 501 and _CHUNKED_NOT_LAST.search(head) is not None:
                # RFC 9112 section 6.3: chunked not the final coding is a 400.
                status = 400
            raise ProtocolError(f"malformed request head: {exc}", status) from None
        if not isinstance(event, h11.Request):  # pragma: no cover - h11 guarantees a Request
            raise ProtocolError("malformed request head")
        request = self._make_request(event)
        self.request = request
        self._body_seen = 0
        self._reset_response()
        self.state = ConnState.BODY
        if rest:
            conn.receive_data(rest)
        if self._eof:
            conn.receive_data(b"")
        return request

    def _scan_head(self, buf: bytearray) -> int:
        """Check the head's lines against the limits as they arrive (RFC 9112 sections 2-5).

        Returns the end of the head (just past its blank line), or -1 while it is
        incomplete. Lines already checked are not scanned again, so a head that
        trickles in byte by byte costs linear time.
        """
        limits = self.limits
        pos = self._scanned
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                break
            # A CR just before the LF is part of the line ending, not the line.
            length = nl - pos - (1 if nl > pos and buf[nl - 1] == 13 else 0)
            if pos == 0:
                if length > limits.request_line:
                    raise ProtocolError(
                        f"request line longer than {limits.request_line} bytes", status=414
                    )
            elif length == 0:
                self._scanned = 0
                self._fields = 0
                return nl + 1  # the blank line that ends the head
            else:
                if length > limits.header_field_size:
                    raise ProtocolError(
                        f"header field longer than {limits.header_field_size} bytes", status=431
                    )
                if buf[pos] in (32, 9):
                    # RFC 9112 section 5.2: obs-fold may be rejected with 400; we do.
                    raise ProtocolError("obsolete line folding in header field")
                self._fields += 1
                if self._fields > limits.header_fields:
                    raise ProtocolError(
                        f"more than {limits.header_fields} header fields", status=431
                    )
            pos = self._scanned = nl + 1
        size = len(buf)
        partial = size - pos - (1 if size > pos and buf[size - 1] == 13 else 0)
        if pos == 0 and partial > limits.request_line:
            raise ProtocolError(f"request line longer than {limits.request_line} bytes", status=414)
        if pos > 0 and partial > limits.header_field_size:
            raise ProtocolError(
                f"header field longer than {limits.header_field_size} bytes", status=431
            )
        if size > self._max_head:
            raise ProtocolError("request head too large", status=431)
        return -1

    def _make_request(self, event: h11.Request) -> Request:
        version = event.http_version
        if not version.startswith(b"1."):
            # RFC 9110 section 15.6.6: the major version is not supported.
            raise ProtocolError(f"HTTP/{version.decode()} is not supported", status=505)
        headers = list(event.headers)
        content_length: int | None = None
        chunked = False
        hosts = 0
        connection: set[bytes] = set()
        expect = False
        for name, value in headers:
            if _BAD_VALUE.search(value) is not None:
                # h11 lets some control bytes through (RFC 9110 section 5.5 forbids them).
                raise ProtocolError(f"control character in header {name.decode()!r}")
            if name == b"content-length":
                content_length = int(value)
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"host":
                hosts += 1
                if _HOST.match(value) is None:
                    raise ProtocolError("malformed Host header")  # RFC 9112 section 3.2
            elif name == b"connection":
                connection |= _tokens(value)
            elif name == b"expect" and value.lower() == b"100-continue":
                expect = True
        if hosts > 1:
            raise ProtocolError("more than one Host header")  # RFC 9112 section 3.2
        if hosts == 0 and version != b"1.0":
            raise ProtocolError("missing Host header")  # RFC 9112 section 3.2
        if chunked and content_length is not None:
            # RFC 9112 section 6.3: a server MAY reject this outright; a proxy in
            # front of us may have framed the body differently (smuggling).
            raise ProtocolError("both Content-Length and Transfer-Encoding")
        if chunked and version == b"1.0":
            raise ProtocolError("Transfer-Encoding in an HTTP/1.0 request")  # RFC 9112 section 6.1
        limit = self.limits.body
        if limit is not None and content_length is not None and content_length > limit:
            raise ProtocolError(f"request body larger than {limit} bytes", status=413)
        # RFC 9112 section 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only
        # with "keep-alive" (and "close" wins over it, section 9.6).
        keep_alive = b"close" not in connection and (
            version != b"1.0" or b"keep-alive" in connection
        )
        return Request(
            method=event.method,
            target=event.target,
            http_version=version,
            headers=headers,
            keep_alive=keep_alive,
            expects_continue=expect and version != b"1.0",
            content_length=content_length,
            chunked=chunked,
        )

    def _next_body(self) -> Event:
        conn = self._h11
        assert conn is not None
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            status = exc.error_status_hint
            raise ProtocolError(f"malformed request body: {exc}", status) from None
        if type(event) is h11.Data:
            data = bytes(event.data)
            self._body_seen += len(data)
            limit = self.limits.body
            if limit is not None and self._body_seen > limit:
                raise ProtocolError(f"request body larger than {limit} bytes", status=413)
            return Data(data)
        if type(event) is h11.EndOfMessage:
            self.state = ConnState.DONE
            return END_OF_MESSAGE
        if event is h11.NEED_DATA:
            return NEED_DATA
        # h11 only returns ConnectionClosed here if the peer closed cleanly at a
        # point where that ends the body, which cannot happen for a request.
        raise ProtocolError("unexpected end of request body")  # pragma: no cover

    # ----------------------------------------------------------------- output

    def send_continue(self) -> bytes:
        """The ``100 Continue`` interim response, once, if the client waits for it."""
        request = self.request
        if (
            request is None
            or not request.expects_continue
            or self.continue_sent
            or self.response_started
            or self.state is not ConnState.BODY
        ):
            return b""
        self.continue_sent = True
        return b"HTTP/1.1 100 Continue\r\n\r\n"

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        date: str,
        keep_alive: bool = True,
    ) -> bytes:
        """Check and serialize a response head (see :meth:`send_head`).

        ``status`` and ``headers`` are WSGI native strings. Raises
        :class:`ResponseError` for a malformed status or header.
        """
        return self.send_head(check_response(status, headers), date, keep_alive)

    def send_head(self, head: ResponseHead, date: str, keep_alive: bool = True) -> bytes:
        """Serialize a checked response head and decide the body framing.

        ``keep_alive=False`` forces ``Connection: close`` (e.g. while the server
        is stopping).
        """
        request = self.request
        if request is None or self.response_started:
            raise ResponseError("no request to respond to, or response already started")
        keep = keep_alive and request.keep_alive and not head.close
        if self.state is ConnState.BODY and request.expects_continue and not self.continue_sent:
            # The client holds its body back until it sees 100 Continue: the
            # body will never arrive, so this connection cannot be reused.
            keep = False
        data, framing, keep = serialize_head(
            head,
            method=request.method,
            http_version=request.http_version,
            keep_alive=keep,
            date=date,
            server=self.server_header,
        )
        self.response_started = True
        self.status = head.code
        self.keep_alive = keep
        self._framing = framing
        return data

    def send_body(self, data: bytes) -> bytes:
        """Frame a piece of the response body (empty for HEAD, 204 and 304)."""
        return self._framing.frame(data)

    def consume_body(self, count: int) -> None:
        """Account for ``count`` body bytes the caller sent itself (``sendfile``)."""
        self._framing.consume(count)

    @property
    def body_bytes_allowed(self) -> int | None:
        """How many more body bytes the announced Content-Length allows (None: unbounded)."""
        return self._framing.allowed

    def end_response(self) -> bytes:
        """Finish the response; returns the last bytes to send (the final chunk)."""
        self.response_finished = True
        if self._framing.truncated:
            # Fewer bytes than Content-Length promised: the only honest way out
            # is to close, so the client sees a truncated message.
            self.keep_alive = False
        return self._framing.end()

    def start_next_cycle(self) -> bool:
        """Prepare for the next request on this connection.

        Returns False when the connection must close instead: keep-alive is off,
        or the previous request's body has not been fully received (a caller
        that wants to keep the connection drains it first with
        :meth:`next_event`).
        """
        if not (self.response_finished and self.keep_alive and self.state is ConnState.DONE):
            self.state = ConnState.CLOSED
            return False
        conn = self._h11
        assert conn is not None
        data, closed = conn.trailing_data
        self._h11 = None
        self._buffer = bytearray(data)
        self._eof = closed
        self.request = None
        self.state = ConnState.HEAD
        self._reset_response()
        return True

    def close(self) -> None:
        """Mark the connection closed: no more events or responses."""
        self.state = ConnState.CLOSED
