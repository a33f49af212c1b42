"""The server's side of PEP 3333, checked by wsgiref's validator and webtest's lint.

Both wrap an app and assert on everything the server hands it (environ types
and keys, wsgi.input and wsgi.errors behaviour, start_response) and on how
the server treats the response (iteration, close()). A violation raises inside
the app, which the server turns into a 500, so every request here must get 200.
"""

from __future__ import annotations

import tempfile
import warnings
from wsgiref.validate import validator

import pytest
from webtest.lint import middleware as lint

from wsgikit.testing import LiveServer

from ..rawhttp import RawClient


def _read_all(stream):
    """Read to the end with read(size) only (the validator forbids read())."""
    chunks = []
    while chunk := stream.read(8192):
        chunks.append(chunk)
    return b"".join(chunks)


def inner_app(environ, start_response):
    path = environ["PATH_INFO"]
    stream = environ["wsgi.input"]
    if path == "/read":
        body = _read_all(stream)
    elif path == "/lines":
        body = b"".join(stream.readlines())
    elif path == "/iter":
        body = b"".join(line for line in stream)
    elif path == "/readline":
        body = stream.readline() + stream.read(3) + _read_all(stream)
    else:
        body = b""
    environ["wsgi.errors"].write("a line for the error log\n")
    environ["wsgi.errors"].flush()
    if path == "/file":
        handle = tempfile.TemporaryFile()
        handle.write(b"file contents " * 1000)
        handle.seek(0)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](handle, 4096)
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"a", b"b", b"c"])
    payload = environ["REQUEST_METHOD"].encode() + b" " + body
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


@pytest.fixture(params=["wsgiref.validate", "webtest.lint"], scope="module")
def server(request):
    wrap = validator if request.param == "wsgiref.validate" else lint
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a validator warning is a failure too
        with LiveServer(wrap(inner_app)) as live:
            yield live


@pytest.mark.parametrize("path", ["/read", "/lines", "/iter", "/readline"])
def test_request_bodies(server, path):
    body = b"line one\nline two\nlast"
    r = server.request("POST", path, body=body, headers={"Content-Type": "text/plain"})
    assert r.status == 200, r.body
    assert r.body == b"POST " + body


def test_chunked_body_and_plain_get(server):
    with RawClient(server.port) as c:
        c.send(
            b"POST /read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: text/plain\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"
        )
        status, _, body = c.read_response()
        assert (status, body) == (200, b"POST abcd")
        c.send(b"GET /read HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response()[:1] == (200,)


def test_head_stream_and_file(server):
    assert server.request("HEAD", "/read").status == 200
    r = server.get("/stream")
    assert (r.status, r.body) == (200, b"abc")
    r = server.get("/file")
    assert r.status == 200 and r.body == b"file contents " * 1000


def test_errors_stream_reaches_the_log(server, caplog):
    with caplog.at_level("ERROR", logger="wsgikit.error"):
        assert server.get("/read").status == 200
    assert "a line for the error log" in caplog.text
