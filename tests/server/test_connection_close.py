"""An app's ``Connection: close`` is honoured (Gunicorn does); other hop-by-hop headers are a
500, logged with the app's spelling of the header."""

from __future__ import annotations

import logging

import pytest

from wsgikit.http import ResponseError, check_response
from wsgikit.testing import LiveServer
from wsgikit.wsgi import serve_bytes

from ..apps import hop_by_hop
from ..rawhttp import RawClient


def test_the_head_takes_connection_close_out_and_marks_it() -> None:
    head = check_response("200 OK", [("X-A", "1"), ("connection", " Close ")])
    assert head.close and head.headers == [("X-A", "1")]
    assert head.with_header("Content-Length", "0").close


@pytest.mark.parametrize(
    "header", [("Keep-Alive", "timeout=5"), ("Connection", "keep-alive"), ("Upgrade", "h2c")]
)
def test_other_hop_by_hop_headers_stay_an_error(header: tuple[str, str]) -> None:
    with pytest.raises(ResponseError, match=repr(header[0])):
        check_response("200 OK", [header])


def test_sans_io_one_close_header_and_nothing_after() -> None:
    two = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
    out = serve_bytes(hop_by_hop, two)
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert out.lower().count(b"connection: close") == 1
    assert out.count(b"HTTP/1.1 200") == 1  # the second request is not answered
    assert out.endswith(b"done")


def test_the_500_names_the_header_as_the_app_spelled_it(caplog: pytest.LogCaptureFixture) -> None:
    request = b"GET /?kEEp-aLIVE=timeout%3D5 HTTP/1.1\r\nHost: x\r\n\r\n"
    with caplog.at_level(logging.ERROR):
        out = serve_bytes(hop_by_hop, request, logger=logging.getLogger("wsgikit.test.hop"))
    assert out.startswith(b"HTTP/1.1 500 ")
    assert "'kEEp-aLIVE'" in caplog.text


@pytest.mark.parametrize("worker_class", ["sync", "threaded"])
def test_the_connection_closes_after_the_response(worker_class: str) -> None:
    with LiveServer("tests.apps:hop_by_hop", workers=1, worker_class=worker_class) as server:
        with RawClient(server.port) as client:
            client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            response = client.read_response()
            assert response.status == 200 and response.body == b"done"
            assert response.headers["connection"] == "close"
            assert client.read_until_close() == b""  # closed by the server, nothing more
