"""Both worker models over real sockets: keep-alive, pipelining, uploads, timeouts, errors.

Tests that take the ``worker_class`` fixture run against the sync and the threaded
worker; the rest name the worker whose own behaviour they check.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from wsgikit.server import sync
from wsgikit.testing import LiveServer

from .. import apps
from ..rawhttp import RawClient
from ..support import wait_for

GET = b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n"


@pytest.fixture(scope="module", params=["sync", "threaded"])
def worker_class(request):
    return request.param


@pytest.fixture(scope="module")
def echo_server(worker_class):
    with LiveServer(
        apps.echo, header_timeout=2.0, keepalive=2.0, worker_class=worker_class
    ) as server:
        yield server


def test_keep_alive_serves_several_requests_on_one_connection(echo_server):
    with RawClient(echo_server.port) as c:
        for i in range(3):
            c.send(GET % str(i).encode())
            status, headers, body = c.read_response()
            assert status == 200
            assert json.loads(body)["path"] == f"/{i}"
            assert "connection" not in headers


def test_http10_closes_unless_keep_alive_asked(echo_server):
    with RawClient(echo_server.port) as c:
        c.send(b"GET /a HTTP/1.0\r\n\r\n")
        status, headers, _ = c.read_response()
        assert status == 200 and headers["connection"] == "close"
        assert c.closed_by_server()
    with RawClient(echo_server.port) as c:
        c.send(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, headers, _ = c.read_response()
        assert headers["connection"].lower() == "keep-alive"
        c.send(b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert json.loads(c.read_response()[2])["path"] == "/b"


def test_pipelined_requests_are_answered_in_order(echo_server):
    with RawClient(echo_server.port) as c:
        c.send(b"".join(GET % str(i).encode() for i in range(5)))
        paths = [json.loads(c.read_response()[2])["path"] for _ in range(5)]
        assert paths == ["/0", "/1", "/2", "/3", "/4"]


def test_connection_close_is_honoured(echo_server):
    with RawClient(echo_server.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + GET % b"after")
        status, headers, _ = c.read_response()
        assert headers["connection"] == "close"
        assert c.closed_by_server()


def test_chunked_upload(echo_server):
    with RawClient(echo_server.port) as c:
        c.send(
            b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n"
        )
        status, _, body = c.read_response()
        assert status == 200
        assert json.loads(body)["body"] == "hello world"


def test_expect_100_continue_is_sent_when_the_app_reads(echo_server):
    with RawClient(echo_server.port) as c:
        c.send(b"POST /c HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        status, _, _ = c.read_response()
        assert status == 100
        c.send(b"abcde")
        status, _, body = c.read_response()
        assert status == 200 and json.loads(body)["body"] == "abcde"


def test_no_100_continue_when_the_app_does_not_read(wsgikit_server):
    def no_read(environ, start_response):
        start_response("413 Payload Too Large", [("Content-Length", "0")])
        return [b""]

    server = wsgikit_server(no_read, worker_class="sync")
    with RawClient(server.port) as c:
        c.send(b"PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n")
        status, headers, _ = c.read_response()
        # The final status comes straight away, and since the body never
        # comes, the connection cannot be reused.
        assert status == 413
        assert headers["connection"] == "close"


def test_head_keeps_headers_without_body(echo_server):
    with RawClient(echo_server.port) as c:
        c.send(b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" + GET % b"next")
        status, headers, body = c.read_response(head_only=True)
        assert status == 200 and body == b""
        assert int(headers["content-length"]) > 0  # what a GET would announce
        status, _, body = c.read_response()
        assert json.loads(body)["path"] == "/next"


def test_streaming_response_is_chunked(wsgikit_server, worker_class):
    server = wsgikit_server(apps.streaming, worker_class=worker_class)
    with RawClient(server.port) as c:
        c.send(b"GET /?3 HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, body = c.read_response()
        assert headers["transfer-encoding"] == "chunked"
        assert body == b"piece 0\npiece 1\npiece 2\n"


def test_client_disconnect_mid_response_then_normal_request(wsgikit_server, worker_class):
    app = apps.Tracked(size=64 << 20)
    server = wsgikit_server(app, body_timeout=5.0, worker_class=worker_class)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
    assert sock.recv(1024).startswith(b"HTTP/1.1 200")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # reset, mid-body
    assert app.closed.wait(10), "the response's close() was not called"
    response = server.get("/")
    assert response.status == 200


def test_file_wrapper_is_sent_with_sendfile_and_a_length(wsgikit_server, tmp_path, worker_class):
    data = bytes(range(256)) * 4096  # 1 MiB
    path = tmp_path / "blob"
    path.write_bytes(data)

    def files(environ, start_response):
        handle = open(path, "rb")
        handle.seek(int(environ["QUERY_STRING"] or 0))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](handle)

    server = wsgikit_server(files, worker_class=worker_class)
    with RawClient(server.port) as c:
        c.send(b"GET /?0 HTTP/1.1\r\nHost: t\r\n\r\nGET /?1000 HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, body = c.read_response()
        assert headers["content-length"] == str(len(data)) and body == data
        status, headers, body = c.read_response()
        assert body == data[1000:]


def test_head_timeout_answers_408(wsgikit_server, worker_class):
    server = wsgikit_server(apps.echo, header_timeout=0.3, worker_class=worker_class)
    with RawClient(server.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n")  # never finished
        start = time.monotonic()
        data = c.read_until_close(5)
        assert data.startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - start < 3


def test_idle_keep_alive_connection_is_closed(wsgikit_server, worker_class):
    server = wsgikit_server(apps.echo, keepalive=0.3, worker_class=worker_class)
    with RawClient(server.port) as c:
        c.send(GET % b"x")
        assert c.read_response()[0] == 200
        assert c.closed_by_server(5)


def test_app_exception_gives_500_and_the_connection_survives(wsgikit_server, caplog, worker_class):
    def broken(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("kaboom")
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = wsgikit_server(broken, worker_class=worker_class)
    with RawClient(server.port) as c:
        c.send(GET % b"boom")
        status, _, body = c.read_response()
        assert status == 500 and b"Internal Server Error" in body
        c.send(GET % b"fine")
        assert c.read_response()[2] == b"ok"
    assert "kaboom" in caplog.text


def test_graceful_stop_finishes_the_request_in_flight(worker_class):
    server = LiveServer(apps.sleepy, worker_class=worker_class)
    server.start()
    try:
        c = RawClient(server.port)
        c.send(b"GET /?0.5 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.1)  # let the request reach the app (the response is the real check)
        server._server.stop()
        status, headers, body = c.read_response()
        assert status == 200 and body == b"slept 0.5"
        assert headers["connection"] == "close"
        c.close()
    finally:
        server.stop()


def test_an_idle_keep_alive_client_does_not_starve_a_new_one(wsgikit_server, worker_class):
    server = wsgikit_server(apps.echo, keepalive=30, worker_class=worker_class)
    with RawClient(server.port) as holder:
        holder.send(GET % b"first")
        assert holder.read_response()[0] == 200  # now idle, allowed to stay 30 s
        # Served well before the other client's 30 s keep-alive would have freed the worker.
        start = time.monotonic()
        assert server.get("/newcomer", timeout=10).status == 200
        assert time.monotonic() - start < 10
        if worker_class == "sync":
            # One connection at a time: the idle one was given up for the newcomer
            # (the threaded worker holds both).
            assert holder.closed_by_server(5)


def test_a_busy_keep_alive_client_does_not_starve_a_new_one(wsgikit_server, worker_class):
    server = wsgikit_server(apps.echo, keepalive=30, worker_class=worker_class)
    done = threading.Event()
    served: list[int] = []

    def hog() -> None:
        with RawClient(server.port) as c:
            try:
                while not done.is_set():
                    c.send(GET % b"hog")
                    status, headers, _ = c.read_response()
                    served.append(status)
                    if headers.get("connection") == "close":
                        return
            except (ConnectionError, OSError):
                return

    thread = threading.Thread(target=hog)
    thread.start()
    try:
        wait_for(lambda: len(served) > 20)
        # Served well before the other client's 30 s keep-alive would have freed the worker.
        start = time.monotonic()
        assert server.get("/newcomer", timeout=10).status == 200
        assert time.monotonic() - start < 10
    finally:
        done.set()
        thread.join(10)


def test_sync_a_keep_alive_connection_keeps_its_turn_while_another_client_waits(
    wsgikit_server, monkeypatch
):
    """The sync worker shares an accept and a close among a few requests of a
    connection (its turn) before it gives the worker up to a waiting client."""
    monkeypatch.setattr(sync, "_TURN_REQUESTS", 3)
    monkeypatch.setattr(sync, "_TURN_SECONDS", 60.0)
    newcomer_waits = threading.Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/0":
            newcomer_waits.wait(10)  # the first response goes out while a client waits
        body = environ["PATH_INFO"].encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    server = wsgikit_server(app, keepalive=30, worker_class="sync")
    with RawClient(server.port) as holder:
        holder.send(GET % b"0" + GET % b"1" + GET % b"2" + GET % b"3")
        with RawClient(server.port) as newcomer:
            newcomer.send(GET % b"newcomer")  # waits in the listen backlog
            newcomer_waits.set()
            answers = [holder.read_response() for _ in range(3)]
            assert [body for _, _, body in answers] == [b"/0", b"/1", b"/2"]
            # Two responses within the turn keep the connection; the third ends the
            # turn while a client waits, and the fourth request is not read.
            assert [headers.get("connection") for _, headers, _ in answers] == [
                None,
                None,
                "close",
            ]
            assert holder.closed_by_server()
            status, _, body = newcomer.read_response()
            assert (status, body) == (200, b"/newcomer")


@pytest.mark.parametrize(
    ("setting", "expected"), [("wsgikit", "wsgikit"), ("edge/1", "edge/1"), ("", None)]
)
def test_server_header_can_be_changed_or_dropped(wsgikit_server, setting, expected):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    server = wsgikit_server(app, server_header=setting)
    assert server.get("/").headers.get("Server") == expected


def test_app_server_header_wins(wsgikit_server):
    def app(environ, start_response):
        start_response("200 OK", [("Server", "mine"), ("Content-Length", "0")])
        return [b""]

    headers = wsgikit_server(app).get("/").headers
    assert headers.get_all("Server") == ["mine"]


def test_keepalive_zero_closes_after_each_response(wsgikit_server, worker_class):
    server = wsgikit_server(apps.echo, keepalive=0, worker_class=worker_class)
    with RawClient(server.port) as c:
        c.send(GET % b"once")
        status, headers, _ = c.read_response()
        assert status == 200 and headers["connection"] == "close"
        assert c.closed_by_server()


def test_every_worker_honours_the_longest_timeouts(wsgikit_server, worker_class):
    """The bounds config.py enforces are ones every wait can take: a request, a keep-alive
    one, an upload and a rejection (which sets a socket timeout) all work at the maximum."""
    from wsgikit.config import MAX_SECONDS

    longest = {
        name: MAX_SECONDS
        for name in ("header_timeout", "body_timeout", "keepalive", "write_timeout")
    }
    server = wsgikit_server(apps.echo, worker_class=worker_class, **longest)
    with RawClient(server.port) as c:
        c.send(b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        assert json.loads(c.read_response().body)["body"] == "abc"
        c.send(GET % b"again")
        assert c.read_response().status == 200
    with RawClient(server.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        assert c.read_response().status == 400
