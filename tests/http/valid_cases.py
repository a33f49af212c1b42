"""Valid but unusual requests that wsgikit must parse and answer normally.

A data module: tests parametrize over ``VALID``. Each ``raw`` holds ``requests`` requests
(1 unless pipelined), each with the ``method``, ``target``, number of header fields
(``headers_count``, Host included, as the parsed request reports them) and decoded
``body`` given. ``limits`` holds Config overrides (Gunicorn's ``limit_*`` names).
Hostile requests, and the outcome each must get, are in ``tests/hostile``.

The ``# h11:`` comment above each case records what plain ``h11.Connection(h11.SERVER)``
(h11 0.16, defaults) does with ``raw``, fed whole and in 1024-byte pieces. Two cases
need wsgikit's help: ``leading-crlf`` (h11 rejects an empty line before the request
line) and ``head-larger-than-h11-buffer`` (h11's default ``max_incomplete_event_size``
of 16 KiB is smaller than a head our own limits allow).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["VALID", "ValidCase"]


@dataclass(frozen=True)
class ValidCase:
    id: str  # short kebab-case id, unique
    raw: bytes  # the exact bytes the client sends
    method: bytes  # request method, as sent
    target: bytes  # request-target, as sent (not decoded)
    headers_count: int  # header fields in the parsed request, Host included
    body: bytes  # the decoded body (chunked framing removed, trailers excluded)
    requests: int = 1  # how many such requests ``raw`` holds (pipelining)
    limits: dict[str, int] = field(default_factory=dict)  # Config overrides
    why: str = ""  # one line: why it is valid, with the RFC section


def _request_line(length: int) -> bytes:
    """``GET /aaa... HTTP/1.1`` exactly ``length`` bytes long, CRLF excluded."""
    return b"GET /" + b"a" * (length - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"


def _field_line(length: int) -> bytes:
    """``X-Long: vvv...`` exactly ``length`` bytes long, CRLF excluded."""
    return b"X-Long: " + b"v" * (length - len(b"X-Long: "))


def _many_fields(count: int) -> bytes:
    """``count`` header field lines in all, Host included."""
    return b"Host: x\r\n" + b"".join(b"X-F%d: v\r\n" % i for i in range(count - 1))


_SIMPLE = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"

VALID: list[ValidCase] = [
    # h11: parses as expected
    ValidCase(
        id="absolute-form-target",
        raw=b"GET http://example.com/a?b=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
        method=b"GET",
        target=b"http://example.com/a?b=1",
        headers_count=1,
        body=b"",
        why="servers MUST accept absolute-form (RFC 9112 §3.2.2)",
    ),
    # h11: parses as expected
    ValidCase(
        id="options-asterisk",
        raw=b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        method=b"OPTIONS",
        target=b"*",
        headers_count=1,
        body=b"",
        why="asterisk-form, for server-wide OPTIONS (RFC 9112 §3.2.4)",
    ),
    # h11: parses as expected
    ValidCase(
        id="header-empty-value",
        raw=b"GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n",
        method=b"GET",
        target=b"/",
        headers_count=2,
        body=b"",
        why="field-value = *field-content may be empty (RFC 9110 §5.5)",
    ),
    # h11: parses as expected
    ValidCase(
        id="header-value-inner-tab",
        raw=b"GET / HTTP/1.1\r\nHost: x\r\nX-Tab: a\tb\r\n\r\n",
        method=b"GET",
        target=b"/",
        headers_count=2,
        body=b"",
        why="HTAB is allowed inside field-content (RFC 9110 §5.5)",
    ),
    # h11: parses as expected
    ValidCase(
        id="header-value-surrounding-ows",
        raw=b"GET / HTTP/1.1\r\nHost: x\r\nX-A: \t v \t\r\n\r\n",
        method=b"GET",
        target=b"/",
        headers_count=2,
        body=b"",
        why="OWS around the field value is allowed and stripped (RFC 9112 §5.1)",
    ),
    # h11: parses as expected
    ValidCase(
        id="header-value-obs-text",
        raw=b"GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\r\n\r\n",
        method=b"GET",
        target=b"/",
        headers_count=2,
        body=b"",
        why="obs-text (0x80-0xFF) is allowed in field values; environ gets latin-1 (RFC 9110 §5.5)",
    ),
    # h11: parses as expected
    ValidCase(
        id="header-count-exactly-100",
        raw=b"GET / HTTP/1.1\r\n" + _many_fields(100) + b"\r\n",
        method=b"GET",
        target=b"/",
        headers_count=100,
        body=b"",
        why="exactly limit_request_fields=100 fields, Host included, is allowed",
    ),
    # h11: parses as expected
    ValidCase(
        id="request-line-exactly-4094",
        raw=_request_line(4094) + b"\r\nHost: x\r\n\r\n",
        method=b"GET",
        target=_request_line(4094)[4:-9],
        headers_count=1,
        body=b"",
        why="a request line of exactly limit_request_line=4094 bytes (CRLF excluded) is allowed",
    ),
    # h11: parses as expected
    ValidCase(
        id="header-field-exactly-8190",
        raw=b"GET / HTTP/1.1\r\nHost: x\r\n" + _field_line(8190) + b"\r\n\r\n",
        method=b"GET",
        target=b"/",
        headers_count=2,
        body=b"",
        why="a field line of exactly limit_request_field_size=8190 bytes (CRLF excluded) is allowed",
    ),
    # wsgikit must let h11 buffer a whole head its own limits allow: here 3 fields just
    # under 8190 bytes make a 24 KiB head, over h11's default max_incomplete_event_size
    # (16 KiB), so pass h11 a larger max_incomplete_event_size (derived from the limits).
    # h11: parses as expected; fed in 1 KiB pieces: rejects 431 ("Receive buffer too long") -> wsgikit must handle
    ValidCase(
        id="head-larger-than-h11-buffer",
        raw=b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-L%d: " % i + b"v" * 8180 + b"\r\n" for i in range(3))
        + b"\r\n",
        method=b"GET",
        target=b"/",
        headers_count=4,
        body=b"",
        why="every field within limit_request_field_size and the count within limit_request_fields",
    ),
    # h11: parses as expected
    ValidCase(
        id="chunked-extensions-and-trailers",
        raw=b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;name=value;flag\r\nhello\r\n6;q="quo ted"\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n',
        method=b"POST",
        target=b"/up",
        headers_count=2,
        body=b"hello world",
        why="chunk extensions are ignored, trailer fields allowed (RFC 9112 §7.1.1, §7.1.2)",
    ),
    # h11: parses as expected
    ValidCase(
        id="chunk-size-hex-mixed-case",
        raw=b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n",
        method=b"POST",
        target=b"/",
        headers_count=2,
        body=b"0123456789abcdefghijk",
        why="HEXDIG is case-insensitive (RFC 9112 §7.1, RFC 5234 App. B.1)",
    ),
    # h11: parses as expected
    ValidCase(
        id="chunked-empty-body",
        raw=b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        method=b"POST",
        target=b"/",
        headers_count=2,
        body=b"",
        why="a chunked body may be just the last-chunk (RFC 9112 §7.1)",
    ),
    # h11: parses as expected
    ValidCase(
        id="te-chunked-mixed-case",
        raw=b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        method=b"POST",
        target=b"/",
        headers_count=2,
        body=b"hello",
        why="transfer-coding names are case-insensitive (RFC 9112 §7)",
    ),
    # h11: parses as expected
    ValidCase(
        id="cl-zero",
        raw=b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        method=b"POST",
        target=b"/",
        headers_count=2,
        body=b"",
        why="Content-Length: 0 is an empty body (RFC 9110 §8.6)",
    ),
    # h11: parses as expected
    ValidCase(
        id="pipelined-pair",
        raw=_SIMPLE + _SIMPLE,
        method=b"GET",
        target=b"/a",
        headers_count=1,
        body=b"",
        requests=2,
        why="a client may pipeline; the server answers in order (RFC 9112 §9.3.2)",
    ),
    # wsgikit must skip empty lines before a request line: h11 raises "no request line
    # received" on them, so strip leading CRLF/LF before feeding h11 (bounded by the
    # request line limit, so a stream of empty lines cannot hold a worker forever).
    # h11: rejects 400 ("no request line received") -> wsgikit must handle
    ValidCase(
        id="leading-crlf",
        raw=b"\r\n" + _SIMPLE,
        method=b"GET",
        target=b"/a",
        headers_count=1,
        body=b"",
        why="a server SHOULD ignore at least one empty line before the request-line (RFC 9112 §2.2)",
    ),
    # h11: parses as expected
    ValidCase(
        id="http10-without-host",
        raw=b"GET / HTTP/1.0\r\n\r\n",
        method=b"GET",
        target=b"/",
        headers_count=0,
        body=b"",
        why="Host is mandatory only in HTTP/1.1 (RFC 9112 §3.2)",
    ),
    # h11: parses as expected
    ValidCase(
        id="percent-encoded-path",
        raw=b"GET /caf%C3%A9/a%20b%2Fc?q=%26x HTTP/1.1\r\nHost: x\r\n\r\n",
        method=b"GET",
        target=b"/caf%C3%A9/a%20b%2Fc?q=%26x",
        headers_count=1,
        body=b"",
        why="pct-encoded octets in path and query; PATH_INFO gets them decoded (RFC 3986 §2.1)",
    ),
    # h11: parses as expected
    ValidCase(
        id="extension-method",
        raw=b"PURGE /cache HTTP/1.1\r\nHost: x\r\n\r\n",
        method=b"PURGE",
        target=b"/cache",
        headers_count=1,
        body=b"",
        why="any token is a method; the app decides (RFC 9110 §9.1)",
    ),
    # h11: parses as expected
    ValidCase(
        id="body-exactly-at-limit",
        raw=b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789",
        method=b"POST",
        target=b"/",
        headers_count=2,
        body=b"0123456789",
        limits={"limit_request_body": 10},
        why="a body of exactly limit_request_body bytes is allowed",
    ),
    # h11: parses as expected
    ValidCase(
        id="chunked-body-exactly-at-limit",
        raw=b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n",
        method=b"POST",
        target=b"/",
        headers_count=2,
        body=b"0123456789",
        limits={"limit_request_body": 10},
        why="a chunked body totalling exactly limit_request_body bytes is allowed",
    ),
]
