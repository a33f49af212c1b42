"""Response serialization: the head, the body framing, and wsgikit's error responses.

The framing rules are RFC 9112's (sections 6.1-6.3 and 9.3): no body for HEAD,
204 and 304; the declared Content-Length is never exceeded; without a length an
HTTP/1.1 body is chunked and an HTTP/1.0 body is delimited by closing the
connection; ``Connection: close`` whenever the connection will not be reused.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from http import HTTPStatus

from .headers import ResponseHead

__all__ = ["BodyFraming", "error_content", "error_response", "format_date", "serialize_head"]

_NO_BODY_STATUSES = frozenset({204, 304})


class BodyFraming:
    """How the body of one response goes on the wire, and how much of it may still go."""

    __slots__ = ("chunked", "no_body", "remaining")

    def __init__(self, chunked: bool, no_body: bool, remaining: int | None) -> None:
        self.chunked = chunked
        self.no_body = no_body
        self.remaining = remaining  # bytes the Content-Length still allows; None: unbounded

    def frame(self, data: bytes) -> bytes:
        """Frame a piece of the body (empty for HEAD, 204 and 304)."""
        if self.no_body or not data:
            return b""
        if self.chunked:
            return b"%x\r\n%b\r\n" % (len(data), data)
        remaining = self.remaining
        if remaining is not None:
            if len(data) > remaining:
                data = data[:remaining]  # never send more than Content-Length announced
            self.remaining = remaining - len(data)
        return data

    def consume(self, count: int) -> None:
        """Account for ``count`` body bytes the caller sent itself (``sendfile``)."""
        if self.remaining is not None:
            self.remaining = max(0, self.remaining - count)

    @property
    def allowed(self) -> int | None:
        """How many more body bytes may be sent (None: unbounded)."""
        return 0 if self.no_body else self.remaining

    def end(self) -> bytes:
        """The bytes that end the body (the last chunk, or nothing)."""
        return b"0\r\n\r\n" if self.chunked else b""

    @property
    def truncated(self) -> bool:
        """True when fewer bytes were sent than the Content-Length promised."""
        return bool(self.remaining)


def serialize_head(
    head: ResponseHead,
    *,
    method: bytes,
    http_version: bytes,
    keep_alive: bool,
    date: str,
    server: str | None,
) -> tuple[bytes, BodyFraming, bool]:
    """The response head's bytes, its body framing, and whether the connection stays open.

    ``keep_alive`` is what the request and the server allow; the framing may
    still force a close (an HTTP/1.0 body without a length).
    """
    code = head.code
    content_length = head.content_length
    no_body = method == b"HEAD" or code in _NO_BODY_STATUSES
    keep = keep_alive
    chunked = False
    lines = [f"HTTP/1.1 {head.status}\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in head.headers)
    if code in _NO_BODY_STATUSES:
        content_length = None
    elif content_length is None and not no_body:
        if http_version == b"1.0":
            keep = False  # the body is delimited by closing the connection
        else:
            chunked = True
            lines.append("Transfer-Encoding: chunked\r\n")
    names = {name.lower() for name, _ in head.headers} if head.headers else set()
    if "date" not in names:
        lines.append(f"Date: {date}\r\n")
    if server and "server" not in names:
        lines.append(f"Server: {server}\r\n")
    if not keep:
        lines.append("Connection: close\r\n")
    elif http_version == b"1.0":
        lines.append("Connection: keep-alive\r\n")
    lines.append("\r\n")
    data = "".join(lines).encode("latin-1")  # check_response admits latin-1 only
    return data, BodyFraming(chunked, no_body, None if no_body else content_length), keep


def error_content(status: int, detail: str = "") -> tuple[str, list[tuple[str, str]], bytes]:
    """The status line, headers and body of every error response wsgikit writes itself."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    text = f"{reason}\n{detail}\n" if detail else f"{reason}\n"
    body = text.encode("utf-8", "replace")
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ]
    return f"{status} {reason}", headers, body


def error_response(
    status: int,
    date: str,
    server: str | None = None,
    detail: str = "",
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A complete error response that closes the connection (for a rejected request);
    ``headers`` are added as they are (e.g. ``Retry-After`` for a 503)."""
    status_line, content_headers, body = error_content(status, detail)
    lines = [f"HTTP/1.1 {status_line}"]
    lines += [f"{name}: {value}" for name, value in (*content_headers, *headers)]
    lines += ["Connection: close", f"Date: {date}"]
    if server:
        lines.append(f"Server: {server}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date(timestamp: float) -> str:
    """Format a POSIX timestamp as an IMF-fixdate (RFC 9110 section 5.6.7).

    The caller owns the clock: this layer never reads the time itself.
    """
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )
