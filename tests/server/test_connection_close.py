"""An app's ``Connection: close`` is honoured (Gunicorn does); other hop-by-hop headers are a
500, logged with the app's spelling of the header."""

from __future__ import annotations

import gc
import logging

import pytest

from wsgikit.http import ResponseError, check_response
from wsgikit.server.buffers import OutputBuffer
from wsgikit.testing import LiveServer
from wsgikit.wsgi import serve_bytes

from ..apps import hop_by_hop
from ..rawhttp import RawClient
from ..support import wait_for


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


def test_a_closed_connection_is_freed_without_the_cyclic_garbage_collector() -> None:
    # A connection's objects (its socket, parser, output buffer) must not hold each
    # other in a cycle: each closed connection then waited for the cyclic collector,
    # whose runs cost about 10 us per connection under Connection: close traffic.
    with LiveServer("tests.apps:hop_by_hop") as server:
        with RawClient(server.port) as client:  # served once before we look
            client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.read_until_close() != b""
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(5):
                with RawClient(server.port) as client:
                    client.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    assert client.read_until_close().startswith(b"HTTP/1.1 200 OK\r\n")
            wait_for(lambda: server._server.connection_count == 0, what="connections closed")
            gc.collect()
            cyclic = [o for o in gc.garbage if isinstance(o, OutputBuffer)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert cyclic == []
