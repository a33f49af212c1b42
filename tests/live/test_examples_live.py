"""The original emulator's example apps and real frameworks, served and checked over HTTP."""

from __future__ import annotations

import json

import pytest

from wsgikit.testing import LiveServer


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
