"""In-memory plumbing for driving ``call_app`` without sockets."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from wsgikit.http import HTTPConnection, Request
from wsgikit.wsgi import (
    FIXED_DATE,
    ConnectionBody,
    ErrorStream,
    InputStream,
    MemoryTransport,
    ResponseInfo,
    ServerInfo,
    build_environ,
    call_app,
)

DATE = FIXED_DATE
LOGGER = logging.getLogger("tests.wsgi")


def _would_block() -> bool:
    raise AssertionError("the test fed an incomplete body: read would block")


def ConnBody(conn: HTTPConnection, transport: MemoryTransport | None = None) -> ConnectionBody:  # noqa: N802
    """The real body source over ``conn``, for tests that feed the whole body up front.

    ``100 Continue`` goes to ``transport`` on the first read.
    """
    sink = transport.send if transport is not None else (lambda data: None)
    return ConnectionBody(conn, _would_block, sink)


def open_request(raw: bytes, conn: HTTPConnection | None = None) -> tuple[HTTPConnection, Request]:
    conn = conn or HTTPConnection()
    conn.receive_data(raw)
    request = conn.next_event()
    assert isinstance(request, Request), request
    return conn, request


def make_environ(
    raw: bytes = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    *,
    info: ServerInfo | None = None,
    remote: tuple[str, int] | None = ("10.0.0.7", 51234),
    errors: Any = None,
    source: Any = None,
) -> dict[str, Any]:
    conn, request = open_request(raw)
    info = info or ServerInfo("127.0.0.1", "8000")
    base = info.base_environ(errors if errors is not None else ErrorStream(LOGGER))
    return build_environ(request, base, InputStream(source or ConnBody(conn)), remote)


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    complete: bool  # the body framing was satisfied (CL reached / last chunk seen)

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        return ", ".join(values) if values else None


def parse_response(raw: bytes, head_request: bool = False) -> Response:
    """A small independent parser of one HTTP/1.1 response."""
    # skip interim 100 Continue responses
    while raw.startswith(b"HTTP/1.1 1"):
        raw = raw.split(b"\r\n\r\n", 1)[1]
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, f"no complete response head in {raw!r}"
    lines = head.decode("latin-1").split("\r\n")
    version, code, reason = lines[0].split(" ", 2)
    assert version == "HTTP/1.1"
    headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
    resp = Response(int(code), reason, headers, b"", raw, True)  # type: ignore[arg-type]
    if head_request or resp.status in (204, 304):
        resp.body = rest
        return resp
    te = resp.header("Transfer-Encoding")
    cl = resp.header("Content-Length")
    if te == "chunked":
        body = bytearray()
        resp.complete = False
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                assert rest == b"\r\n", rest
                resp.complete = True
                break
            body += rest[:size]
            assert rest[size : size + 2] == b"\r\n"
            rest = rest[size + 2 :]
        resp.body = bytes(body)
    elif cl is not None:
        resp.body = rest
        resp.complete = len(rest) == int(cl)
        assert len(rest) <= int(cl), "more body bytes than Content-Length"
    else:
        resp.body = rest  # close-delimited
    return resp


@dataclass
class Outcome:
    info: ResponseInfo
    transport: MemoryTransport
    conn: HTTPConnection
    environ: dict[str, Any]
    response: Response | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def call(
    app: Any,
    raw: bytes = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    *,
    transport: MemoryTransport | None = None,
    info: ServerInfo | None = None,
    keep_alive: bool = True,
    parse: bool = True,
) -> Outcome:
    """Run ``app`` for the request in ``raw`` and parse what was sent."""
    conn, request = open_request(raw)
    transport = transport or MemoryTransport()
    info = info or ServerInfo("127.0.0.1", "8000")
    base = info.base_environ(ErrorStream(LOGGER))
    environ = build_environ(request, base, InputStream(ConnBody(conn, transport)), ("10.0.0.7", 1))
    result = call_app(
        app, environ, conn, transport, date=DATE, keep_alive=keep_alive, logger=LOGGER
    )
    outcome = Outcome(result, transport, conn, environ)
    if parse and transport.out:
        outcome.response = parse_response(
            bytes(transport.out), head_request=request.method == b"HEAD"
        )
    return outcome


def simple_app(
    status: str = "200 OK", headers: list[tuple[str, str]] | None = None, body: Any = (b"hello",)
) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response(status, list(headers or [("Content-Type", "text/plain")]))
        return body() if callable(body) else list(body)

    return app
