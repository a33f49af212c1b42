"""The connection's input buffer: consumed from the front, copied as little as possible."""

from __future__ import annotations

from wsgikit.http.buffer import InputBuffer


def test_a_bytes_object_taken_whole_is_not_copied() -> None:
    buf = InputBuffer()
    data = b"x" * 1000
    buf.append(data)
    assert buf.take(5000) is data
    assert len(buf) == 0


def test_positions_are_relative_to_what_is_unconsumed() -> None:
    buf = InputBuffer()
    buf.append(b"abc\r\ndef")
    assert buf.find(b"\n") == 4
    buf.skip(5)
    assert buf.find(b"f") == 2 and buf.byte(0) == ord("d")
    assert buf.find(b"d", 1) == -1
    assert buf.slice(1, 3) == b"ef"
    buf.append(b"gh")
    assert buf.take(3) == b"def" and buf.take(10) == b"gh"
    assert len(buf) == 0 and buf.take(1) == b""


def test_appends_grow_and_compact_without_losing_bytes() -> None:
    buf = InputBuffer()
    expected = bytearray()
    taken = bytearray()
    for i in range(2000):
        piece = bytes([i % 251]) * 97
        buf.append(piece)
        expected += piece
        taken += buf.take(61)  # leaves a growing tail, so the front is compacted
    taken += buf.take(len(buf))
    assert taken == expected


def test_mutable_input_is_copied() -> None:
    buf = InputBuffer()
    data = bytearray(b"abc")
    buf.append(data)  # type: ignore[arg-type]  # a caller may hand a bytearray
    data[0] = ord("z")
    assert buf.take(3) == b"abc"
