"""The example applications, checked in-process with WebTest (no server involved).

These pin down what each app in ``examples/`` answers, so the live-server tests can
compare what goes over the wire against the same expectations.
"""

from __future__ import annotations

import io
import json

import pytest
import webtest

from examples import api, bottle_app, flask_app, hello, post_app, pyramid_app, query_app


@pytest.fixture(scope="module")
def django_app():
    pytest.importorskip("django")
    from examples import django_app

    return django_app


# ----------------------------------------------------------------------- hello


def test_hello_answers_every_path() -> None:
    app = webtest.TestApp(hello.application)
    for path in ("/", "/anything/else?x=1"):
        res = app.get(path)
        assert res.status_int == 200
        assert res.content_type == "text/plain"
        assert res.body == b"Hello, World!"


def test_hello_answers_post() -> None:
    res = webtest.TestApp(hello.application).post("/", b"ignored")
    assert res.body == b"Hello, World!"


# ------------------------------------------------------------------------- api


def test_api_index() -> None:
    res = webtest.TestApp(api.application).get("/")
    assert res.status_int == 200
    assert res.content_type == "application/json"
    assert res.headers["Content-Length"] == str(len(res.body))
    assert res.json == {"message": "Welcome to the API", "endpoints": ["/users", "/posts"]}


def test_api_users() -> None:
    res = webtest.TestApp(api.application).get("/users")
    assert res.json == {"users": [{"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob"}]}


@pytest.mark.parametrize("path", ["/posts", "/nope", "/users/1"])
def test_api_unknown_path_is_a_200_json_error(path: str) -> None:
    # As in the original emulator: a JSON error document, but status 200.
    res = webtest.TestApp(api.application).get(path)
    assert res.status_int == 200
    assert res.json == {"error": "Not found"}


# ------------------------------------------------------------------- query_app


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", b"Hello, World!"),
        ("name=Alice", b"Hello, Alice!"),
        ("name=Alice&name=Bob", b"Hello, Alice!"),
        ("name=J%C3%BCrgen", "Hello, Jürgen!".encode()),
        ("name=a+b", b"Hello, a b!"),
        ("other=1", b"Hello, World!"),
    ],
)
def test_query_app(query: str, expected: bytes) -> None:
    res = webtest.TestApp(query_app.application).get("/", params=query)
    assert res.status_int == 200
    assert res.content_type == "text/plain"
    assert res.body == expected


# -------------------------------------------------------------------- post_app


def test_post_app_echoes_json() -> None:
    app = webtest.TestApp(post_app.application)
    res = app.post_json("/", {"key": "value", "n": [1, 2]})
    assert res.status_int == 200
    assert res.content_type == "application/json"
    assert res.headers["Content-Length"] == str(len(res.body))
    assert res.json == {"received": {"key": "value", "n": [1, 2]}, "status": "success"}


@pytest.mark.parametrize("body", [b"not json", b"", b"\xff\xfe\xfa", b"{"])
def test_post_app_invalid_json(body: bytes) -> None:
    res = webtest.TestApp(post_app.application).post("/", body, content_type="application/json")
    assert res.status_int == 200
    assert res.json == {"error": "Invalid JSON"}


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_post_app_other_methods_get_200_error(method: str) -> None:
    # Kept from the original emulator: 200 with an error document, not 405.
    res = getattr(webtest.TestApp(post_app.application), method)("/")
    assert res.status_int == 200
    assert res.json == {"error": "Method not allowed"}


def _call(app, environ: dict) -> tuple[str, bytes]:
    """Call a WSGI app directly, returning (status, body)."""
    got: list[str] = []

    def start_response(status, headers, exc_info=None):
        got.append(status)

    body = b"".join(app(environ, start_response))
    return got[0], body


def test_post_app_reads_only_content_length_bytes() -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": "8",
        "wsgi.input": io.BytesIO(b'{"a": 1}NOT PART OF THE BODY'),
    }
    status, body = _call(post_app.application, environ)
    assert status == "200 OK"
    assert json.loads(body) == {"received": {"a": 1}, "status": "success"}


@pytest.mark.parametrize("content_length", [None, "", "abc"])
def test_post_app_missing_or_bad_content_length_reads_nothing(content_length) -> None:
    environ = {"REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(b'{"a": 1}')}
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    status, body = _call(post_app.application, environ)
    assert json.loads(body) == {"error": "Invalid JSON"}


# ------------------------------------------------------------------- flask_app


def test_flask_index() -> None:
    res = webtest.TestApp(flask_app.application).get("/")
    assert res.status_int == 200
    assert res.content_type == "text/html"
    assert res.body == b"Hello from Flask!"


def test_flask_api_data() -> None:
    res = webtest.TestApp(flask_app.application).get("/api/data")
    assert res.status_int == 200
    assert res.content_type == "application/json"
    assert res.json == {"message": "API response"}


def test_flask_not_found() -> None:
    res = webtest.TestApp(flask_app.application).get("/missing", status=404)
    assert res.status_int == 404


# ------------------------------------------------------------------ django_app


def test_django_index(django_app) -> None:
    res = webtest.TestApp(django_app.application).get("/")
    assert res.status_int == 200
    assert res.content_type == "text/plain"
    assert res.body == b"Hello from Django!"


def test_django_json(django_app) -> None:
    res = webtest.TestApp(django_app.application).get("/json")
    assert res.content_type == "application/json"
    assert res.json == {"framework": "django", "message": "JSON response"}


def test_django_echo_post(django_app) -> None:
    body = bytes(range(256)) * 4
    res = webtest.TestApp(django_app.application).post(
        "/echo", body, content_type="application/octet-stream"
    )
    assert res.status_int == 200
    assert res.headers["X-Request-Method"] == "POST"
    assert res.body == body


def test_django_echo_other_method(django_app) -> None:
    res = webtest.TestApp(django_app.application).put("/echo", b"put body")
    assert res.headers["X-Request-Method"] == "PUT"
    assert res.body == b"put body"


def test_django_not_found(django_app) -> None:
    webtest.TestApp(django_app.application).get("/missing", status=404)


def test_django_accepts_any_host(django_app) -> None:
    res = webtest.TestApp(django_app.application, extra_environ={"HTTP_HOST": "x"}).get("/")
    assert res.status_int == 200


# ------------------------------------------------------------------ bottle_app


def test_bottle_index() -> None:
    res = webtest.TestApp(bottle_app.application).get("/")
    assert res.status_int == 200
    assert res.content_type == "text/plain"
    assert res.body == b"Hello from Bottle!"


def test_bottle_hello_name() -> None:
    res = webtest.TestApp(bottle_app.application).get("/hello/Alice")
    assert res.body == b"Hello, Alice!"


def test_bottle_echo() -> None:
    body = b'{"k": "v"}\x00\xff'
    res = webtest.TestApp(bottle_app.application).post(
        "/echo", body, content_type="application/json"
    )
    assert res.status_int == 200
    assert res.content_type == "application/json"
    assert res.headers["X-Request-Method"] == "POST"
    assert res.body == body


def test_bottle_echo_large_body_spooled() -> None:
    # Bigger than bottle's MEMFILE_MAX (100 KiB), so bottle spools it to a temp file.
    body = b"0123456789abcdef" * 16384
    res = webtest.TestApp(bottle_app.application).post("/echo", body)
    assert res.body == body


def test_bottle_echo_rejects_get() -> None:
    webtest.TestApp(bottle_app.application).get("/echo", status=405)


def test_bottle_not_found() -> None:
    webtest.TestApp(bottle_app.application).get("/missing", status=404)


# ----------------------------------------------------------------- pyramid_app


def test_pyramid_index() -> None:
    res = webtest.TestApp(pyramid_app.application).get("/")
    assert res.status_int == 200
    assert res.content_type == "text/plain"
    assert res.body == b"Hello from Pyramid!"


def test_pyramid_json() -> None:
    res = webtest.TestApp(pyramid_app.application).get("/json")
    assert res.content_type == "application/json"
    assert json.loads(res.body) == {"framework": "pyramid", "message": "JSON response"}


def test_pyramid_echo() -> None:
    body = b"hello \x00 world"
    res = webtest.TestApp(pyramid_app.application).post(
        "/echo", body, content_type="application/octet-stream"
    )
    assert res.status_int == 200
    assert res.headers["X-Request-Method"] == "POST"
    assert res.body == body


def test_pyramid_echo_is_post_only() -> None:
    webtest.TestApp(pyramid_app.application).get("/echo", status=404)


def test_pyramid_make_app_builds_fresh_apps() -> None:
    assert pyramid_app.make_app() is not pyramid_app.application
