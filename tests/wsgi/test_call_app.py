"""Driving a whole response through ``call_app``: framing, close(), errors."""

from __future__ import annotations

import logging
import wsgiref.validate
from typing import Any

import pytest

from wsgikit.http import HTTPConnection, Limits, ProtocolError
from wsgikit.wsgi import ErrorStream, InputStream, ServerInfo, build_environ, call_app

from .helpers import DATE, LOGGER, ConnBody, MemoryTransport, call, open_request, simple_app

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
GET10 = b"GET / HTTP/1.0\r\n\r\n"
HEAD = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"


def gen_app(
    *chunks: bytes, headers: list[tuple[str, str]] | None = None, status: str = "200 OK"
) -> Any:
    def app(environ: Any, start_response: Any) -> Any:
        start_response(status, list(headers or []))
        yield from chunks

    return app


class Closing:
    """A result iterable that records close(); optionally raises while iterating."""

    def __init__(
        self, chunks: list[Any], fail_at: int | None = None, close_raises: bool = False
    ) -> None:
        self.chunks = chunks
        self.fail_at = fail_at
        self.close_raises = close_raises
        self.closed = 0
        self.yielded = 0

    def __iter__(self) -> Any:
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("iterable failed")
            self.yielded += 1
            yield chunk

    def close(self) -> None:
        self.closed += 1
        if self.close_raises:
            raise OSError("close failed")


def closing_app(
    result: Closing, status: Any = "200 OK", headers: list[tuple[str, str]] | None = None
) -> Any:
    def app(environ: Any, start_response: Any) -> Any:
        start_response(status, list(headers or []))
        return result

    return app


# ------------------------------------------------------------------ framing


def test_single_item_list_gets_content_length() -> None:
    out = call(simple_app(body=[b"hello world"]))
    resp = out.response
    assert resp is not None
    assert resp.header("Content-Length") == "11"
    assert resp.header("Transfer-Encoding") is None
    assert resp.body == b"hello world"
    assert out.info.keep_alive is True
    assert out.info.sent == 11
    assert out.info.status == 200


def test_single_item_tuple_gets_content_length() -> None:
    out = call(lambda e, sr: (sr("200 OK", []), (b"abc",))[1])
    assert out.response is not None and out.response.header("Content-Length") == "3"


def test_app_content_length_is_not_duplicated() -> None:
    out = call(simple_app(headers=[("Content-Length", "5")], body=[b"hello"]))
    assert out.response is not None
    assert [n for n, _ in out.response.headers if n.lower() == "content-length"] == [
        "Content-Length"
    ]


def test_generator_without_length_is_chunked_on_http11() -> None:
    out = call(gen_app(b"one ", b"", b"two"))
    resp = out.response
    assert resp is not None
    assert resp.header("Transfer-Encoding") == "chunked"
    assert resp.header("Content-Length") is None
    assert resp.body == b"one two"
    assert resp.complete
    assert out.transport.out.endswith(b"0\r\n\r\n")
    assert out.info.keep_alive is True


def test_multi_item_list_is_chunked() -> None:
    out = call(simple_app(body=[b"a", b"b"]))
    assert out.response is not None
    assert out.response.header("Transfer-Encoding") == "chunked"
    assert out.response.body == b"ab"


def test_generator_without_length_is_close_delimited_on_http10() -> None:
    out = call(gen_app(b"one ", b"two"), GET10)
    resp = out.response
    assert resp is not None
    assert resp.header("Transfer-Encoding") is None
    assert resp.header("Content-Length") is None
    assert resp.header("Connection") == "close"
    assert resp.body == b"one two"
    assert out.info.keep_alive is False


def test_http10_keep_alive_with_length() -> None:
    out = call(simple_app(body=[b"hi"]), b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert out.response is not None
    assert out.response.header("Connection") == "keep-alive"
    assert out.info.keep_alive is True


def test_head_keeps_headers_and_sends_no_body() -> None:
    out = call(
        simple_app(
            headers=[("Content-Type", "text/plain"), ("Content-Length", "5")], body=[b"hello"]
        ),
        HEAD,
    )
    resp = out.response
    assert resp is not None
    assert resp.status == 200
    assert resp.header("Content-Length") == "5"
    assert resp.header("Content-Type") == "text/plain"
    assert resp.body == b""
    assert out.info.keep_alive is True


def test_head_with_generator_sends_no_body_and_no_chunking() -> None:
    out = call(gen_app(b"a", b"b"), HEAD)
    resp = out.response
    assert resp is not None
    assert resp.body == b""
    assert resp.header("Transfer-Encoding") is None


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
@pytest.mark.parametrize("body", [[b"oops"], [b""], [], [b"a", b"b"]])
def test_204_and_304_have_no_body(status: str, body: list[bytes]) -> None:
    out = call(simple_app(status=status, headers=[], body=body))
    resp = out.response
    assert resp is not None
    assert resp.status == int(status[:3])
    assert resp.body == b""
    assert resp.header("Transfer-Encoding") is None
    assert out.info.keep_alive is True


def test_204_gets_no_content_length_added() -> None:
    # RFC 9110 section 8.6: no Content-Length in a 204 response.
    out = call(simple_app(status="204 No Content", headers=[], body=[b""]))
    assert out.response is not None
    assert out.response.header("Content-Length") is None


def test_304_gets_no_made_up_content_length() -> None:
    # A Content-Length in a 304 must be the length of the full representation;
    # the empty body of a 304 says nothing about that.
    out = call(simple_app(status="304 Not Modified", headers=[], body=[b""]))
    assert out.response is not None
    assert out.response.header("Content-Length") is None


def test_content_length_shorter_than_body_truncates_and_stops_iterating() -> None:
    produced: list[bytes] = []

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Length", "3")])
        for chunk in (b"hello", b"world", b"more"):
            produced.append(chunk)
            yield chunk

    out = call(app)
    resp = out.response
    assert resp is not None
    assert resp.body == b"hel"
    assert resp.complete
    assert out.transport.out.endswith(b"\r\n\r\nhel")
    assert produced == [b"hello"]  # iteration stopped at Content-Length
    assert out.info.sent == 3


def test_content_length_longer_than_body_closes_the_connection() -> None:
    out = call(gen_app(b"abc", headers=[("Content-Length", "10")]))
    resp = out.response
    assert resp is not None
    assert resp.body == b"abc"
    assert not resp.complete
    assert out.info.keep_alive is False


def test_server_keep_alive_false_sends_connection_close() -> None:
    out = call(simple_app(), keep_alive=False)
    assert out.response is not None
    assert out.response.header("Connection") == "close"
    assert out.info.keep_alive is False


def test_client_connection_close_is_honoured() -> None:
    out = call(simple_app(), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.response is not None and out.response.header("Connection") == "close"
    assert out.info.keep_alive is False


def test_date_and_server_headers_added() -> None:
    out = call(simple_app())
    assert out.response is not None
    assert out.response.header("Date") == DATE
    assert out.response.header("Server") == "wsgikit"


def test_str_chunk_before_head_gives_500(caplog: pytest.LogCaptureFixture) -> None:
    out = call(gen_app("text"))  # type: ignore[arg-type]
    assert out.response is not None and out.response.status == 500
    assert "must be bytes" in caplog.text


def test_empty_str_chunk_before_head_gives_500() -> None:
    out = call(gen_app(""))  # type: ignore[arg-type]
    assert out.response is not None and out.response.status == 500


def test_str_chunk_after_head_closes_without_500() -> None:
    out = call(gen_app(b"ok ", "text"))  # type: ignore[arg-type]
    resp = out.response
    assert resp is not None
    assert resp.status == 200
    assert resp.body == b"ok "
    assert not resp.complete
    assert b"500" not in out.transport.out
    assert out.info.keep_alive is False
    assert out.info.error is True


def test_unread_100_continue_body_closes_the_connection() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    out = call(simple_app(body=[b"no thanks"]), raw)
    assert b"100 Continue" not in out.transport.out
    assert out.response is not None and out.response.status == 200
    assert out.response.header("Connection") == "close"
    assert out.info.keep_alive is False


def test_reading_a_100_continue_body() -> None:
    conn, request = open_request(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    )
    transport = MemoryTransport()

    class Source:
        def read_chunk(self, size: int) -> bytes:
            transport.send(conn.send_continue())
            conn.receive_data(b"hello")  # the client sends the body after the 100
            while True:
                event = conn.next_event()
                if hasattr(event, "data"):
                    return event.data  # type: ignore[no-any-return]
                return b""

    def app(environ: Any, start_response: Any) -> Any:
        body = environ["wsgi.input"].read(5)
        start_response("200 OK", [])
        return [body]

    env = build_environ(
        request, ServerInfo("h", "1").base_environ(None), InputStream(Source()), None
    )
    info = call_app(app, env, conn, transport, date=DATE, logger=LOGGER)
    assert transport.out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert transport.out.endswith(b"\r\n\r\nhello")
    assert info.status == 200


# ------------------------------------------------------------------- close()


def test_close_called_on_success() -> None:
    result = Closing([b"a", b"b"])
    out = call(closing_app(result))
    assert out.response is not None and out.response.body == b"ab"
    assert result.closed == 1


def test_close_called_when_iterable_raises_midway(caplog: pytest.LogCaptureFixture) -> None:
    result = Closing([b"a", b"b", b"c"], fail_at=1)
    out = call(closing_app(result))
    assert result.closed == 1
    assert out.response is not None and out.response.body == b"a"
    assert out.info.keep_alive is False
    assert "iterable failed" in caplog.text


def test_close_called_when_iterable_raises_before_first_chunk() -> None:
    result = Closing([b"a"], fail_at=0)
    out = call(closing_app(result))
    assert result.closed == 1
    assert out.response is not None and out.response.status == 500


@pytest.mark.parametrize("after", [0, 10, 80])
def test_close_called_when_client_disconnects(after: int) -> None:
    result = Closing([b"x" * 50, b"y" * 50, b"z" * 50])
    out = call(closing_app(result), transport=MemoryTransport(disconnect_after=after), parse=False)
    assert result.closed == 1
    assert out.info.disconnected is True
    assert out.info.keep_alive is False
    assert out.info.error is False


def test_disconnect_stops_iteration() -> None:
    result = Closing([b"x" * 500] * 10)
    call(closing_app(result), transport=MemoryTransport(disconnect_after=600), parse=False)
    assert result.yielded < 10


def test_close_called_when_start_response_raises() -> None:
    result = Closing([b"a"])

    class LazyApp:
        """Calls start_response (with a bad status) only when iterated."""

        def __call__(self, environ: Any, start_response: Any) -> Any:
            self.start_response = start_response
            return self

        def __iter__(self) -> Any:
            self.start_response("OK", [])
            yield from result

        def close(self) -> None:
            result.close()

    out = call(LazyApp())
    assert out.response is not None and out.response.status == 500
    assert result.closed == 1


def test_close_called_when_start_response_raises_after_head() -> None:
    result = Closing([b"a", b"b"])
    out = call(closing_app(result, headers=[("Content-Length", "1")]))
    assert out.response is not None and out.response.body == b"a"
    assert result.closed == 1


def test_exception_in_close_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    result = Closing([b"fine"], close_raises=True)
    out = call(closing_app(result))
    assert result.closed == 1
    assert out.response is not None and out.response.body == b"fine"
    assert out.response.complete
    assert "close failed" in caplog.text
    assert any(r.exc_info for r in caplog.records)


# ---------------------------------------------------------------- exceptions


def test_exception_before_headers_gives_500_with_traceback_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def app(environ: Any, start_response: Any) -> Any:
        1 / 0  # noqa: B018
        return []

    with caplog.at_level(logging.ERROR, logger="tests.wsgi"):
        out = call(app, b"GET /boom?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    resp = out.response
    assert resp is not None
    assert resp.status == 500
    assert resp.body == b"Internal Server Error\n"
    assert b"ZeroDivisionError" not in out.transport.out  # no details leak to the client
    assert resp.complete
    assert out.info.error is True
    assert "/boom?x=1" in caplog.text
    assert "Traceback" in caplog.text and "ZeroDivisionError" in caplog.text


def test_exception_after_start_response_but_before_body_gives_500() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("X-A", "1")])
        raise ValueError("nope")

    out = call(app)
    assert out.response is not None and out.response.status == 500
    assert out.response.header("X-A") is None


def test_exception_after_headers_closes_and_appends_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise ValueError("mid-stream")

    out = call(app)
    resp = out.response
    assert resp is not None
    assert resp.status == 200
    assert resp.body == b"partial"
    assert not resp.complete
    assert out.transport.out.count(b"HTTP/1.1") == 1
    assert out.info.keep_alive is False
    assert out.info.error is True
    assert "mid-stream" in caplog.text


def test_500_to_a_client_that_went_away() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        raise ValueError("x")

    out = call(app, transport=MemoryTransport(disconnect_after=5), parse=False)
    assert out.info.disconnected is True


# ----------------------------------------------------- body source errors


def test_body_too_large_gives_413_not_500(caplog: pytest.LogCaptureFixture) -> None:
    conn = HTTPConnection(Limits(body=5))
    conn, request = open_request(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"a\r\n0123456789\r\n0\r\n\r\n",
        conn,
    )
    transport = MemoryTransport()
    env = build_environ(
        request,
        ServerInfo("h", "1").base_environ(ErrorStream(LOGGER)),
        InputStream(ConnBody(conn, transport)),
        None,
    )

    def app(environ: Any, start_response: Any) -> Any:
        environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b"read it"]

    info = call_app(app, env, conn, transport, date=DATE, logger=LOGGER)
    assert transport.out.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in transport.out
    assert info.status == 413
    assert info.keep_alive is False
    assert info.error is False


def test_body_timeout_gives_408() -> None:
    class Slow:
        def read_chunk(self, size: int) -> bytes:
            raise ProtocolError("timed out reading the request body", status=408)

    conn, request = open_request(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n")
    transport = MemoryTransport()
    env = build_environ(request, ServerInfo("h", "1").base_environ(None), InputStream(Slow()), None)

    def app(environ: Any, start_response: Any) -> Any:
        environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b""]

    info = call_app(app, env, conn, transport, date=DATE, logger=LOGGER)
    assert transport.out.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"Connection: close" in transport.out
    assert info.status == 408
    assert info.keep_alive is False


def test_malformed_chunked_body_gives_400() -> None:
    out = call(
        lambda e, sr: (e["wsgi.input"].read(), sr("200 OK", []), [b""])[2],
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    )
    assert out.response is not None and out.response.status == 400
    assert out.info.keep_alive is False


# --------------------------------------------------------------- ErrorStream


def test_error_stream_writes_lines_to_the_logger(caplog: pytest.LogCaptureFixture) -> None:
    stream = ErrorStream(logging.getLogger("tests.errors"))
    with caplog.at_level(logging.ERROR, logger="tests.errors"):
        assert stream.write("first line\nsecond ") == len("first line\nsecond ")
        assert [r.getMessage() for r in caplog.records] == ["first line"]
        stream.write("part\n")
        stream.writelines(["a\n", "b"])
        stream.flush()
        stream.flush()  # nothing pending: no empty record
    assert [r.getMessage() for r in caplog.records] == ["first line", "second part", "a", "b"]
    assert all(r.levelno == logging.ERROR and r.name == "tests.errors" for r in caplog.records)


def test_app_writes_to_wsgi_errors(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: Any, start_response: Any) -> Any:
        print("from the app", file=environ["wsgi.errors"])
        start_response("200 OK", [])
        return [b""]

    call(app)
    assert "from the app" in [r.getMessage() for r in caplog.records]


# --------------------------------------------------------- wsgiref validator


def test_wsgiref_validator_sees_no_violation() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.errors"].write("note\n")
        environ["wsgi.errors"].flush()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"got ", data]

    raw = b"POST /v?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
    out = call(wsgiref.validate.validator(app), raw)
    assert out.info.error is False
    assert out.response is not None and out.response.body == b"got body"


def test_keep_alive_callable_is_asked_when_the_head_is_sent() -> None:
    stopping: list[bool] = []

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [])
        stopping.append(True)  # a graceful stop begins while the app runs
        return [b"done"]

    out = call(app, keep_alive=lambda: not stopping)
    assert out.response is not None
    assert out.response.header("Connection") == "close"
    assert out.response.body == b"done"
    assert out.info.keep_alive is False


def test_keep_alive_callable_true_keeps_the_connection() -> None:
    out = call(simple_app(), keep_alive=lambda: True)
    assert out.response is not None and out.response.header("Connection") is None
    assert out.info.keep_alive is True


def test_app_returning_none_gives_500(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [])
        return None

    out = call(app)
    assert out.response is not None and out.response.status == 500
    assert "NoneType" in caplog.text
