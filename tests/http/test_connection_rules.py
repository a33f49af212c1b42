"""Rules of the sans-IO connection that the corpora do not cover."""

from __future__ import annotations

import pytest

from wsgikit.http import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    NEED_DATA,
    PAUSED,
    Data,
    HTTPConnection,
    Limits,
    ProtocolError,
    Request,
)
from wsgikit.http.syntax import transfer_coding


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


def _events(raw: bytes, eof: bool = True) -> list[object]:
    conn = HTTPConnection()
    conn.receive_data(raw)
    if eof:
        conn.receive_data(b"")
    events: list[object] = []
    while True:
        try:
            event = conn.next_event()
        except ProtocolError as exc:
            events.append(exc.status)
            return events
        events.append(event)
        if event in (NEED_DATA, PAUSED, CONNECTION_CLOSED):
            return events


@pytest.mark.parametrize(
    "raw",
    [
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n",
    ],
    ids=["length-body", "chunk-data", "trailers", "head"],
)
def test_end_of_input_inside_a_request_is_a_400(raw: bytes) -> None:
    assert _events(raw)[-1] == 400
    assert _events(raw, eof=False)[-1] is NEED_DATA  # without it: wait for more


def test_end_of_input_between_requests_closes_cleanly() -> None:
    assert _events(b"") == [CONNECTION_CLOSED]
    assert _events(b"\r\n") == [CONNECTION_CLOSED]  # the one empty line allowed, then nothing


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ([b"chunked"], None),
        ([b"gzip, chunked"], 501),  # chunked last, another coding before it
        ([b"gzip", b"Chunked"], 501),  # two lines make one list
        ([b"chunked, gzip"], 400),  # chunked not last
        ([b"chunked", b"chunked"], 400),  # chunked twice
        ([b" , chunked"], 400),  # empty member
    ],
)
def test_transfer_coding_rules(values: list[bytes], status: int | None) -> None:
    # h11 refuses most of these too; our rule must not depend on it.
    if status is None:
        transfer_coding(values)
    else:
        with pytest.raises(ProtocolError) as info:
            transfer_coding(values)
        assert info.value.status == status


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        (b"GET http://a.example:81/p HTTP/1.1\r\nHost: b.example\r\n\r\n", b"a.example:81"),
        (b"GET /p HTTP/1.1\r\nHost: b.example\r\n\r\n", b"b.example"),
        (b"GET /p HTTP/1.0\r\n\r\n", None),
        (b"OPTIONS * HTTP/1.1\r\nHost: c\r\n\r\n", b"c"),
        (b"CONNECT d.example:443 HTTP/1.1\r\nHost: d.example:443\r\n\r\n", b"d.example:443"),
    ],
)
def test_request_host_is_the_authority_that_counts(raw: bytes, host: bytes | None) -> None:
    # RFC 9112 section 3.2.2: an absolute-form target's authority wins over Host.
    assert _request(raw)[1].host == host


def test_connect_is_never_kept_alive() -> None:
    _, request = _request(b"CONNECT d:443 HTTP/1.1\r\nHost: d:443\r\n\r\n")
    assert request.keep_alive is False


def test_a_body_that_arrives_alone_is_handed_on_without_a_copy() -> None:
    conn, _ = _request(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    piece = bytes(range(256)) * 200  # 51200 bytes, as one recv() would give them
    conn.receive_data(piece)
    event = conn.next_event()
    assert isinstance(event, Data) and event.data is piece
    rest = b"z" * 48800 + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
    conn.receive_data(rest)
    event = conn.next_event()
    assert isinstance(event, Data) and event.data == b"z" * 48800
    assert conn.next_event() is END_OF_MESSAGE
    assert conn.next_event() is PAUSED
    conn.start_response("200 OK", [("Content-Length", "0")], "D")
    conn.end_response()
    assert conn.start_next_cycle()
    event = conn.next_event()
    assert isinstance(event, Request) and event.target == b"/next"


_CHUNKED = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_the_chunks_of_one_read_come_as_one_data_event() -> None:
    """A client sending tiny chunks costs the server one event per read, not per chunk."""
    conn, _ = _request(_CHUNKED + b"a\r\n0123456789\r\n" * 500 + b"3;x=y\r\nabc\r\n4\r\nde")
    event = conn.next_event()
    assert isinstance(event, Data) and event.data == b"0123456789" * 500 + b"abcde"
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"fg\r\n0\r\n\r\n")
    event = conn.next_event()
    assert isinstance(event, Data) and event.data == b"fg"
    assert conn.next_event() is END_OF_MESSAGE


@pytest.mark.parametrize(
    ("chunks", "refused"),
    [
        pytest.param(b"1\r\nX\r\n" * 64, False, id="64-one-byte"),  # 63 * 64 = 4032 <= 4096
        pytest.param(b"1\r\nX\r\n" * 66, True, id="66-one-byte"),  # 63 * 66 = 4158
        pytest.param(b"1;ab\r\nX\r\n" * 63, True, id="63-with-extensions"),  # 66 * 63
        pytest.param(
            (b"40\r\n" + b"Y" * 64 + b"\r\n") * 200 + b"1\r\nX\r\n" * 64,
            False,
            id="200-of-64-bytes",
        ),
        pytest.param(
            b"1\r\nX\r\n" * 60 + b"1000\r\n" + b"Y" * 4096 + b"\r\n" + b"1\r\nX\r\n" * 60,
            False,
            id="repaid-by-a-large-chunk",
        ),
    ],
)
def test_many_small_chunks_are_refused(chunks: bytes, refused: bool) -> None:
    limits = Limits(chunk_average=64, small_chunks=64)
    for piece in (len(chunks) + 5, 7):  # whole, and a few bytes per read
        conn = HTTPConnection(limits)
        conn.receive_data(_CHUNKED)
        assert isinstance(conn.next_event(), Request)
        raw = chunks + b"0\r\n\r\n"
        try:
            for start in range(0, len(raw), piece):
                conn.receive_data(raw[start : start + piece])
                while (event := conn.next_event()) not in (NEED_DATA, END_OF_MESSAGE):
                    assert isinstance(event, Data)
        except ProtocolError as exc:
            assert refused and exc.status == 400 and "small chunks" in str(exc)
        else:
            assert not refused and event is END_OF_MESSAGE


def test_chunk_data_before_an_error_in_the_same_read_comes_first() -> None:
    """As if the bytes had come in two reads: what was accepted does not depend on the cut."""
    conn, _ = _request(_CHUNKED + b"2\r\nok\r\n1\r\nX\x00\n")
    event = conn.next_event()
    assert isinstance(event, Data) and event.data == b"okX"
    with pytest.raises(ProtocolError, match="CRLF"):
        conn.next_event()
