"""Rules of the sans-IO connection that the corpora do not cover."""

from __future__ import annotations

import pytest

from wsgikit.http import HTTPConnection, Request


def _request(raw: bytes) -> tuple[HTTPConnection, Request]:
    conn = HTTPConnection()
    conn.receive_data(raw)
    event = conn.next_event()
    assert isinstance(event, Request)
    return conn, event


@pytest.mark.parametrize(
    ("raw", "keep"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", False),  # close wins
    ],
)
def test_keep_alive_rules(raw: bytes, keep: bool) -> None:
    conn, request = _request(raw)
    assert request.keep_alive is keep
    head = conn.start_response("200 OK", [("Content-Length", "0")], "D")
    assert (b"Connection: close" in head) is not keep


def test_app_date_and_server_headers_are_not_doubled() -> None:
    conn, _ = _request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    head = conn.start_response(
        "200 OK", [("Date", "Mon, 01 Jan 2024 00:00:00 GMT"), ("Server", "app")], "SERVERDATE"
    )
    assert head.count(b"Date:") == 1 and b"SERVERDATE" not in head
    assert head.count(b"Server:") == 1 and b"Server: app" in head
