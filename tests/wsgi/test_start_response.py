"""``start_response``: exc_info rules, validation of status and headers, ``write()``."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest

from .helpers import call

pytestmark = pytest.mark.usefixtures("caplog")


def test_returns_write_and_write_data_precedes_iterable_data() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        assert callable(write)
        write(b"first ")
        write(b"second ")
        return [b"third"]

    out = call(app)
    assert out.response is not None
    assert out.response.status == 200
    assert out.response.body == b"first second third"
    assert out.response.complete
    assert out.info.keep_alive is True


def test_exc_info_before_head_sent_replaces_the_status() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
        try:
            raise ValueError("boom")
        except ValueError:
            start_response("503 Service Unavailable", [("X-Second", "2")], sys.exc_info())
        return [b"sorry"]

    out = call(app)
    resp = out.response
    assert resp is not None
    assert resp.status == 503
    assert resp.reason == "Service Unavailable"
    assert resp.header("X-Second") == "2"
    assert resp.header("X-First") is None
    assert resp.body == b"sorry"
    assert out.info.error is False


def test_exc_info_after_head_sent_reraises_and_truncates(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        try:
            raise KeyError("late")
        except KeyError:
            try:
                start_response("500 Oops", [], sys.exc_info())
            except KeyError:
                seen.append("re-raised")
                raise

    out = call(app)
    assert seen == ["re-raised"]
    resp = out.response
    assert resp is not None
    assert resp.status == 200  # the head already sent stays
    assert resp.body == b"partial"
    assert not resp.complete  # no last chunk: the client sees a truncated body
    assert b"500" not in out.transport.out
    assert out.info.keep_alive is False
    assert out.info.error is True
    assert "KeyError" in caplog.text


def test_exc_info_after_write_reraises_from_start_response() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        write = start_response("200 OK", [("Content-Length", "100")])
        write(b"x" * 10)
        try:
            raise RuntimeError("db gone")
        except RuntimeError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b"unreachable"]

    out = call(app)
    assert out.response is not None and out.response.status == 200
    assert out.response.body == b"x" * 10
    assert out.info.keep_alive is False
    assert out.info.error is True


def test_second_call_without_exc_info_gives_500(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [])
        start_response("201 Created", [])
        return [b"x"]

    out = call(app)
    assert out.response is not None and out.response.status == 500
    assert out.info.error is True
    assert "second time" in caplog.text


@pytest.mark.parametrize(
    "status",
    [
        "200",
        "OK 200",
        200,
        "2000 X",
        "099 X",
        "100 Continue",
        "600 Nope",
        "200 OK\r\nX-Injected: 1",
        "20 OK",
        b"200 OK",
    ],
)
def test_malformed_status_gives_500_and_is_logged(
    status: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response(status, [("Content-Type", "text/plain")])
        return [b"body"]

    with caplog.at_level(logging.ERROR, logger="tests.wsgi"):
        out = call(app)
    resp = out.response
    assert resp is not None
    assert resp.status == 500
    assert resp.body == b"Internal Server Error\n"
    assert b"X-Injected" not in out.transport.out
    assert out.info.error is True
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info is not None


@pytest.mark.parametrize(
    "header",
    [
        ("X-Bad", "a\r\nX-Injected: 1"),
        ("X-Bad", "a\nb"),
        ("X-Bad", "a\rb"),
        ("X-Bad", "nul\x00"),
        ("X-Bad", "euro \u20ac"),  # not latin-1
        ("X Bad", "space in name"),
        ("X-Bad:", "colon in name"),
        ("", "empty name"),
        (b"X-Bytes", "bytes name"),
        ("X-Int", 5),
        ("X-Bytes", b"bytes value"),
        ("only-one",),
        ("Content-Length", "abc"),
        ("Content-Length", "-1"),
    ],
)
def test_malformed_header_gives_500(header: Any, caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain"), header])
        return [b"body"]

    out = call(app)
    assert out.response is not None and out.response.status == 500
    assert b"X-Injected" not in out.transport.out
    assert b"body" not in out.transport.out
    assert caplog.records


def test_headers_must_be_a_list() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", (("Content-Type", "text/plain"),))
        return [b"body"]

    out = call(app)
    assert out.response is not None and out.response.status == 500


@pytest.mark.parametrize(
    "name",
    [
        "Connection",
        "Transfer-Encoding",
        "Keep-Alive",
        "Upgrade",
        "TE",
        "Trailer",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "connection",
    ],
)
def test_hop_by_hop_header_gives_500(name: str, caplog: pytest.LogCaptureFixture) -> None:
    # (Connection: close is the one honoured: tests/server/test_connection_close.py.)
    value = "keep-alive" if name.lower() == "connection" else "close"

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [(name, value)])
        return [b"body"]

    out = call(app)
    assert out.response is not None and out.response.status == 500
    assert "hop-by-hop" in caplog.text and repr(name) in caplog.text


def test_latin1_header_value_is_sent() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("X-Name", "caf\xe9"), ("X-Tab", "a\tb")])
        return [b"ok"]

    out = call(app)
    assert out.response is not None and out.response.status == 200
    assert b"X-Name: caf\xe9\r\n" in out.transport.out
    assert b"X-Tab: a\tb\r\n" in out.transport.out


def test_reason_phrase_is_kept() -> None:
    out = call(lambda e, sr: (sr("418 I'm a teapot", []), [b""])[1])
    assert out.response is not None
    assert (out.response.status, out.response.reason) == (418, "I'm a teapot")


def test_body_before_start_response_gives_500() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        yield b"too early"

    out = call(app)
    assert out.response is not None and out.response.status == 500
    assert b"too early" not in out.transport.out


def test_start_response_inside_the_iterable_is_honoured() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("202 Accepted", [("Content-Type", "text/plain")])
        yield b"lazy"

    out = call(app)
    assert out.response is not None
    assert out.response.status == 202
    assert out.response.body == b"lazy"


def test_write_rejects_str() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        write = start_response("200 OK", [])
        write("text")
        return []

    out = call(app)
    assert out.response is not None and out.response.status == 500


def test_write_accepts_bytearray_and_memoryview() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        write = start_response("200 OK", [])
        write(bytearray(b"ab"))
        write(memoryview(b"cd"))
        return []

    out = call(app)
    assert out.response is not None and out.response.body == b"abcd"
