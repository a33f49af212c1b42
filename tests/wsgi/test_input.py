"""``wsgi.input``: reading the request body."""

from __future__ import annotations

import io

import pytest

from wsgikit.http import HTTPConnection, ProtocolError
from wsgikit.wsgi import BytesBody, FileBody, InputStream

from .helpers import ConnBody, open_request

BODY = b"line one\nline two\n\nlast line without newline"


class Pieces:
    """Hands out pre-arranged pieces; asking for more than there is would block.

    With ``ended`` the source signals the end (b"") once, then refuses to be
    read again.
    """

    def __init__(self, *pieces: bytes, ended: bool = True) -> None:
        self.pieces = list(pieces)
        self.ended = ended
        self.finished = False
        self.sizes: list[int] = []

    def read_chunk(self, size: int) -> bytes:
        self.sizes.append(size)
        assert size >= 1
        if self.finished:
            raise AssertionError("read again after the end of the body was signalled")
        if not self.pieces:
            if not self.ended:
                raise AssertionError("would block: no more bytes have arrived")
            self.finished = True
            return b""
        piece = self.pieces[0]
        chunk, rest = piece[:size], piece[size:]
        if rest:
            self.pieces[0] = rest
        else:
            self.pieces.pop(0)
        return chunk


def stream(data: bytes = BODY, piece: int = 0) -> InputStream:
    if piece:
        return InputStream(Pieces(*[data[i : i + piece] for i in range(0, len(data), piece)]))
    return InputStream(BytesBody(data))


@pytest.mark.parametrize("piece", [0, 1, 3, 7])
def test_read_all(piece: int) -> None:
    s = stream(piece=piece)
    assert s.read() == BODY
    assert s.read() == b""
    assert s.read() == b""


@pytest.mark.parametrize("arg", [-1, None])
def test_read_minus_one_and_none_read_all(arg: int | None) -> None:
    s = stream(piece=5)
    assert s.read(arg) == BODY
    assert s.read(arg) == b""


@pytest.mark.parametrize("piece", [0, 1, 4])
def test_read_n(piece: int) -> None:
    s = stream(piece=piece)
    assert s.read(4) == b"line"
    assert s.read(5) == b" one\n"
    assert s.read(0) == b""
    rest = s.read(1000)
    assert rest == BODY[9:]
    assert s.read(1) == b""
    assert s.read(1) == b""


@pytest.mark.parametrize("piece", [0, 1, 6])
def test_readline(piece: int) -> None:
    s = stream(piece=piece)
    assert s.readline() == b"line one\n"
    assert s.readline() == b"line two\n"
    assert s.readline() == b"\n"
    assert s.readline() == b"last line without newline"
    assert s.readline() == b""
    assert s.readline() == b""


@pytest.mark.parametrize("piece", [0, 1, 3])
def test_readline_with_limit_smaller_than_the_line(piece: int) -> None:
    s = stream(piece=piece)
    assert s.readline(4) == b"line"
    assert s.readline(3) == b" on"
    assert s.readline(100) == b"e\n"
    assert s.readline(None) == b"line two\n"
    assert s.readline(0) == b""
    assert s.readline(-1) == b"\n"


def test_readline_limit_at_end_of_body() -> None:
    s = stream(b"abc")
    assert s.readline(10) == b"abc"
    assert s.readline(10) == b""


def test_readlines() -> None:
    assert stream(piece=4).readlines() == [
        b"line one\n",
        b"line two\n",
        b"\n",
        b"last line without newline",
    ]


def test_readlines_with_hint_stops_once_hint_reached() -> None:
    s = stream()
    assert s.readlines(10) == [b"line one\n", b"line two\n"]
    assert s.readlines(-1) == [b"\n", b"last line without newline"]
    assert s.readlines() == []


def test_readlines_hint_none_or_zero_reads_all() -> None:
    assert len(stream().readlines(None)) == 4
    assert len(stream().readlines(0)) == 4


@pytest.mark.parametrize("piece", [0, 2])
def test_iteration(piece: int) -> None:
    s = stream(piece=piece)
    assert iter(s) is s
    assert list(s) == BODY.splitlines(keepends=True)
    assert list(s) == []


def test_mixed_reads_share_one_buffer() -> None:
    s = stream(piece=3)
    assert s.read(2) == b"li"
    assert s.readline() == b"ne one\n"
    assert next(iter(s)) == b"line two\n"
    assert s.read() == b"\nlast line without newline"


def test_empty_body() -> None:
    s = stream(b"")
    assert s.read() == b""
    assert s.read(5) == b""
    assert s.readline() == b""
    assert s.readlines() == []
    assert list(s) == []


def test_never_asks_the_source_again_after_the_end() -> None:
    src = Pieces(b"abc", b"def")
    s = InputStream(src)
    assert s.read() == b"abcdef"
    # Pieces raises if asked again after signalling the end.
    assert s.read() == b""
    assert s.read(10) == b""
    assert s.readline() == b""
    assert list(s) == []
    assert src.finished


def test_read_n_does_not_wait_for_more_than_asked() -> None:
    # Only 5 bytes have arrived; the rest would block. read(5) must return.
    s = InputStream(Pieces(b"hello", ended=False))
    assert s.read(5) == b"hello"


def test_read_n_asks_the_source_for_at_most_what_is_missing() -> None:
    src = Pieces(b"0123456789", ended=False)
    s = InputStream(src)
    assert s.read(3) == b"012"
    assert src.sizes == [3]
    assert s.read(4) == b"3456"
    assert all(size <= 4 for size in src.sizes[1:])


def test_readline_returns_once_a_newline_arrived() -> None:
    # A streaming upload: the first line is here, the next has not arrived yet.
    s = InputStream(Pieces(b"first\nsec", ended=False))
    assert s.readline() == b"first\n"


def test_readline_with_limit_returns_once_limit_buffered() -> None:
    s = InputStream(Pieces(b"abcdef", ended=False))
    assert s.readline(6) == b"abcdef"


def test_file_body() -> None:
    s = InputStream(FileBody(io.BytesIO(BODY)))
    assert s.readline() == b"line one\n"
    assert s.read() == BODY[9:]
    assert s.read() == b""


def test_close_is_harmless() -> None:
    s = stream()
    s.close()


# ------------------------------------------------------- bodies from HTTP


def _conn_stream(raw: bytes) -> tuple[HTTPConnection, InputStream]:
    conn, _request = open_request(raw)
    return conn, InputStream(ConnBody(conn))


def test_content_length_body_from_the_connection() -> None:
    _, s = _conn_stream(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello\nworld"
        b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"  # pipelined: not part of the body
    )
    assert s.readline() == b"hello\n"
    assert s.read() == b"world"
    assert s.read() == b""


def test_chunked_request_body() -> None:
    _, s = _conn_stream(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1\r\n\n\r\nb\r\nworld\nagain\r\n0\r\n\r\n"
    )
    assert list(s) == [b"hello\n", b"world\n", b"again"]
    assert s.read() == b""


def test_chunked_request_body_read_in_small_pieces() -> None:
    _, s = _conn_stream(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    parts = []
    while True:
        part = s.read(4)
        if not part:
            break
        parts.append(part)
    assert parts == [b"0123", b"4567", b"89ab", b"c"]


def test_body_read_never_blocks_past_content_length() -> None:
    # ConnBody raises if the connection needs more bytes (a socket would block).
    _, s = _conn_stream(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    assert s.read(100) == b"abc"
    assert s.read(100) == b""


def test_malformed_chunk_raises_protocol_error_from_read() -> None:
    _, s = _conn_stream(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n"
    )
    with pytest.raises(ProtocolError) as err:
        s.read()
    assert err.value.status == 400


def test_a_body_in_pieces_is_read_without_copying_a_piece_that_fits() -> None:
    first, second = b"a" * 1000, b"b" * 500
    body = BytesBody([first, second])
    assert body.read_chunk(4096) is first  # handed on as it came
    assert body.read_chunk(200) == b"b" * 200  # a part of one
    assert body.read_chunk(4096) == b"b" * 300
    assert body.read_chunk(4096) == b""


def test_read_returns_a_single_piece_body_as_it_is() -> None:
    piece = b"x" * 65536
    assert InputStream(BytesBody([piece])).read() is piece
    assert InputStream(BytesBody([piece])).read(65536) is piece
    stream = InputStream(BytesBody([b"12345", b"678"]))
    assert stream.read(3) == b"123"
    assert stream.read(4) == b"4567"
    assert stream.read() == b"8"
    assert InputStream(BytesBody([b"ab", b"cd", b"ef"])).read() == b"abcdef"
