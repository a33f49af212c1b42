"""The original emulator's example apps and real frameworks, served and checked over HTTP."""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from wsgikit.testing import LiveServer

from ..rawhttp import RawClient
from .test_prefork import ROOT


@pytest.fixture(scope="module")
def serve():
    servers: dict[str, LiveServer] = {}

    def start(spec: str) -> LiveServer:
        if spec not in servers:
            servers[spec] = LiveServer(spec)
            servers[spec].start()
        return servers[spec]

    yield start
    for server in servers.values():
        server.stop()


def test_hello(serve):
    r = serve("examples.hello:application").get("/")
    assert (r.status, r.body) == (200, b"Hello, World!")


def test_json_api(serve):
    server = serve("examples.api:application")
    r = server.get("/")
    assert r.status == 200 and r.headers["Content-Type"] == "application/json"
    assert json.loads(r.body)["endpoints"] == ["/users", "/posts"]
    users = json.loads(server.get("/users").body)["users"]
    assert [u["name"] for u in users] == ["Alice", "Bob"]
    assert json.loads(server.get("/nope").body) == {"error": "Not found"}


def test_query_parameters(serve):
    server = serve("examples.query_app:application")
    assert server.get("/?name=Alice").body == b"Hello, Alice!"
    assert server.get("/").body == b"Hello, World!"
    assert server.get("/?name=J%C3%BCrgen").text == "Hello, Jürgen!"


def test_post_json_echo(serve):
    server = serve("examples.post_app:application")
    r = server.request(
        "POST", "/", body=b'{"key": "value"}', headers={"Content-Type": "application/json"}
    )
    assert json.loads(r.body) == {"received": {"key": "value"}, "status": "success"}
    r = server.request("POST", "/", body=b"not json")
    assert json.loads(r.body) == {"error": "Invalid JSON"}
    assert json.loads(server.get("/").body) == {"error": "Method not allowed"}


def test_flask(serve):
    server = serve("examples.flask_app:application")
    assert server.get("/").body == b"Hello from Flask!"
    assert json.loads(server.get("/api/data").body) == {"message": "API response"}
    assert server.get("/missing").status == 404


def test_django(serve):
    server = serve("examples.django_app:application")
    r = server.get("/")
    assert (r.status, r.body) == (200, b"Hello from Django!")
    assert json.loads(server.get("/json").body)["framework"] == "django"
    body = bytes(range(256)) * 100
    r = server.request("POST", "/echo", body=body)
    assert r.body == body and r.headers["X-Request-Method"] == "POST"


def test_bottle(serve):
    server = serve("examples.bottle_app:application")
    assert server.get("/").body == b"Hello from Bottle!"
    assert server.get("/hello/bob").body == b"Hello, bob!"
    r = server.request("POST", "/echo", body=b"payload")
    assert r.body == b"payload"


def test_pyramid(serve):
    server = serve("examples.pyramid_app:application")
    assert server.get("/").body == b"Hello from Pyramid!"
    assert json.loads(server.get("/json").body)["framework"] == "pyramid"
    assert server.request("POST", "/echo", body=b"pyr").body == b"pyr"


# ------------------------------------------------ the layers used on their own


def _wait_for_lines(
    proc: subprocess.Popen[bytes], wanted: Callable[[list[str]], bool], timeout: float = 15.0
) -> list[str]:
    """Lines the process prints until ``wanted(lines)``, waiting at most ``timeout`` in all."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while not wanted(lines):
            left = deadline - time.monotonic()
            assert left > 0 and sel.select(left), f"only {lines} printed"
            line = proc.stdout.readline()  # unbuffered: select sees every byte not read
            assert line, f"the process ended after printing {lines}"
            lines.append(line.decode().strip())
    return lines


def _start(module: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        bufsize=0,
    )


def test_a_server_assembled_by_hand_from_the_http_and_wsgi_layers():
    proc = _start("examples.layers_server", "0")
    try:
        (line,) = _wait_for_lines(proc, lambda lines: len(lines) == 1)
        port = int(line.rsplit(":", 1)[1])
        with RawClient(port) as client:  # keep-alive, a body left unread, pipelining
            assert client.get("/").body == b"Hello, World!"
            client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
            client.send(b"GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
            assert [client.read_response().status for _ in range(2)] == [200, 200]
        with RawClient(port) as client:  # a malformed request gets its status and a close
            client.send(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n")
            assert client.read_until_close().startswith(b"HTTP/1.1 400 ")
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_supervisor_of_two_workers_running_a_plain_function():
    proc = _start("examples.supervisor")
    try:
        # Workers print to the pipe the master logs to: a worker's line and its newline
        # can be two writes with a log line in between, so count the words, not lines.
        _wait_for_lines(proc, lambda lines: " ".join(lines).count(" booted") == 2)
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=20)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, out
    assert out.count(" stopping") == 2, out
