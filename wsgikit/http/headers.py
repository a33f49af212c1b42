"""Validation of what the application asks us to send: the status and the headers.

h11 stays the authority on request framing; responses are serialized by this
package (see :mod:`wsgikit.http.response`) because h11's ``send`` re-normalizes
every header on every request, which was measured at about a quarter of the
per-request cost of a hello-world app (see docs/design.md). The rules h11 would
apply are kept here: a status line of three digits, token header names, header
values free of control characters, and framing headers (Content-Length /
Transfer-Encoding / Connection) decided by the connection, not the application
(RFC 9112 sections 6 and 9.6).

A response is checked once, by :func:`check_response`; the resulting
:class:`ResponseHead` is what the connection serializes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ResponseError

__all__ = ["HOP_BY_HOP", "ResponseHead", "check_response", "parse_status", "validate_headers"]

# RFC 9110 section 7.6.1 and PEP 3333 ("hop-by-hop" headers belong to the server).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+\Z")
# field-value: VCHAR, obs-text, SP and HTAB only (RFC 9110 section 5.5).
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")
_STATUS = re.compile(r"([2-5][0-9][0-9]) [^\x00-\x08\x0a-\x1f\x7f]*\Z")


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """A status and headers that passed :func:`check_response`."""

    status: str  # e.g. "200 OK"
    code: int
    headers: list[tuple[str, str]]
    content_length: int | None  # what the headers declare, if anything
    close: bool = False  # the app sent "Connection: close": close after this response

    def with_header(self, name: str, value: str) -> ResponseHead:
        """A copy with one more (valid, non-framing) header; the app's list is not changed."""
        length = int(value) if name.lower() == "content-length" else self.content_length
        headers = [*self.headers, (name, value)]
        return ResponseHead(self.status, self.code, headers, length, self.close)


def parse_status(status: str) -> int:
    """Return the code of a WSGI status string such as ``"200 OK"``.

    Raises :class:`ResponseError` for anything that is not three digits
    (200-599: an informational status cannot be a final response), a space and
    a reason phrase without control characters.
    """
    match = _STATUS.match(status) if isinstance(status, str) else None
    if match is None:
        raise ResponseError(f"malformed status {status!r}: expected e.g. '200 OK'")
    return int(match.group(1))


def validate_headers(headers: list[tuple[str, str]]) -> int | None:
    """Check application headers; return the Content-Length they declare, if any."""
    content_length: int | None = None
    for item in headers:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ResponseError(f"header {item!r} is not a (name, value) tuple")
        name, value = item
        if not isinstance(name, str) or _TOKEN.match(name) is None:
            raise ResponseError(f"malformed header name {name!r}")
        if not isinstance(value, str) or _BAD_VALUE.search(value) is not None:
            raise ResponseError(f"malformed value for header {name}: {value!r}")
        lname = name.lower()
        if lname in HOP_BY_HOP:
            raise ResponseError(f"hop-by-hop header {name!r} is set by the server, not the app")
        if lname == "content-length":
            text = value.strip()
            if not text.isdigit() or not text.isascii():
                raise ResponseError(f"malformed Content-Length {value!r}")
            length = int(text)
            if content_length is not None and content_length != length:
                raise ResponseError("conflicting Content-Length headers")
            content_length = length
    return content_length


def _asks_close(item: object) -> bool:
    """True for a ``("Connection", "close")`` header, in any case."""
    return (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], str)
        and item[0].lower() == "connection"
        and item[1].strip().lower() == "close"
    )


def check_response(status: str, headers: list[tuple[str, str]]) -> ResponseHead:
    """Validate an application's status and headers once; raises :class:`ResponseError`.

    ``Connection: close`` is the one hop-by-hop header an app may send (Gunicorn and
    Waitress honour it): it is taken out of the headers and the head is marked
    ``close``, so the connection sends its own ``Connection: close`` and closes after
    this response. Any other hop-by-hop header is an error.
    """
    code = parse_status(status)
    close = any(_asks_close(item) for item in headers)
    if close:
        headers = [item for item in headers if not _asks_close(item)]
    return ResponseHead(status, code, headers, validate_headers(headers), close)
