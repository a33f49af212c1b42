"""A sans-IO HTTP/1.1 server connection.

Feed it bytes with :meth:`HTTPConnection.receive_data`, pull events with
:meth:`HTTPConnection.next_event`, and turn a response into bytes with
:meth:`start_response` / :meth:`send_body` / :meth:`end_response`. No sockets,
threads or clocks: the caller does the I/O and supplies the ``Date`` value.

The received bytes stay in one buffer of ours. A head is checked line by line
as it arrives (:mod:`.head`: CRLF line endings, the size and count limits,
obs-fold); once it is complete, its control bytes and raw framing headers are
checked and h11 parses it (request line, field syntax); the body is read by our own
framing readers (:mod:`.body`), which stop exactly where the body ends, so
the bytes after it are the next request's head (pipelining). Every error is a
:class:`ProtocolError` with the status to answer; after one, nothing more
the client sent is interpreted.
"""

from __future__ import annotations

from enum import Enum

from .body import BodyReader, ChunkedBody, LengthBody
from .buffer import InputBuffer
from .errors import ProtocolError, ResponseError
from .events import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    NEED_DATA,
    PAUSED,
    Event,
    Request,
)
from .head import HeadScanner, parse_head
from .headers import ResponseHead, check_response
from .limits import Limits
from .response import BodyFraming, serialize_head

__all__ = ["HTTPConnection", "ConnState"]

_NOT_STARTED = BodyFraming(chunked=False, no_body=True, remaining=None)


class ConnState(Enum):
    """Where the connection is in the request/response cycle."""

    HEAD = "head"  # waiting for (more of) a request head
    BODY = "body"  # reading the request body
    DONE = "done"  # request fully read; waiting for the response to end
    CLOSED = "closed"  # nothing more will be read or written
    ERROR = "error"  # the client sent something we rejected


class HTTPConnection:
    """One server-side HTTP/1.1 connection, without I/O."""

    def __init__(self, limits: Limits | None = None, server_header: str | None = "wsgikit") -> None:
        self.limits = limits or Limits()
        self.server_header = server_header
        self.state = ConnState.HEAD
        self.request: Request | None = None
        self._in = InputBuffer()  # received bytes not yet consumed
        self._eof = False
        self._scanner = HeadScanner(self.limits)
        self._body: BodyReader = LengthBody(0)
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
        elif self.state in (ConnState.HEAD, ConnState.BODY, ConnState.DONE):
            self._in.append(data)

    @property
    def buffered_head(self) -> bool:
        """True while part of a request head has arrived but not all of it."""
        return self.state is ConnState.HEAD and bool(len(self._in))

    @property
    def buffered_bytes(self) -> int:
        """Bytes received and not yet consumed: a partial head, or requests pipelined
        behind the current one (what a server counts against its memory budget)."""
        return len(self._in)

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
            if state is ConnState.BODY:
                event = self._body.next_event(self._in, self._eof)
                if event is END_OF_MESSAGE:
                    self.state = ConnState.DONE
                return event
            if state is ConnState.HEAD:
                return self._next_head()
        except ProtocolError:
            self.state = ConnState.ERROR
            raise
        if state is ConnState.DONE:
            return PAUSED
        if state is ConnState.ERROR:
            raise ProtocolError("connection is in the error state")
        return CONNECTION_CLOSED

    def _next_head(self) -> Event:
        buf = self._in
        scanner = self._scanner
        end = scanner.scan(buf)
        if end < 0:
            if self._eof:
                if not len(buf):
                    self.state = ConnState.CLOSED
                    return CONNECTION_CLOSED
                raise ProtocolError("connection closed in the middle of a request head")
            return NEED_DATA
        request = parse_head(buf.take(end), scanner)
        self.request = request
        self._scanner = HeadScanner(self.limits)
        if request.chunked:
            self._body = ChunkedBody(self.limits, scanner.fields)
        else:
            self._body = LengthBody(request.content_length or 0)
        self._reset_response()
        self.state = ConnState.BODY
        return request

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
        self.request = None
        self.state = ConnState.HEAD
        self._reset_response()
        return True

    def close(self) -> None:
        """Mark the connection closed: no more events or responses. What was
        received and not consumed is dropped (its memory is freed now, not when
        the caller drops the connection after a lingering close)."""
        self.state = ConnState.CLOSED
        self._in = InputBuffer()
