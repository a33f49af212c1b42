"""The threaded worker's buffers, over a socketpair (no server)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from wsgikit.server.buffers import OutputBuffer, SpoolBuffer
from wsgikit.wsgi import ClientDisconnected, InputStream


def test_spool_buffer_stays_in_memory_up_to_the_threshold() -> None:
    spool = SpoolBuffer(threshold=10)
    spool.write(b"0123456789")
    assert not spool.spooled
    assert InputStream(spool.source()).read() == b"0123456789"
    spool.close()


def test_spool_buffer_moves_a_large_body_to_a_file() -> None:
    spool = SpoolBuffer(threshold=10)
    for piece in (b"01234", b"56789", b"abcdef"):
        spool.write(piece)
    assert spool.spooled and spool.size == 16
    assert InputStream(spool.source()).read() == b"0123456789abcdef"
    spool.close()
    assert not spool.spooled


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    b.settimeout(5.0)
    yield a, b
    a.close()
    b.close()


def test_small_writes_go_straight_to_the_socket(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    pending: list[int] = []
    out = OutputBuffer(a, limit=1024, on_pending=lambda: pending.append(1))
    out.write(b"hello", timeout=1.0)
    assert len(out) == 0 and pending == []
    assert b.recv(100) == b"hello"


def test_a_writer_waits_past_the_limit_until_the_loop_drains(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    pending = threading.Event()
    out = OutputBuffer(a, limit=64 * 1024, on_pending=pending.set)
    payload = b"x" * (1 << 20)
    done = threading.Event()

    def writer() -> None:
        out.write(payload, timeout=5.0)
        done.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert pending.wait(5.0)
    assert not done.wait(0.2)  # over the limit: the writer waits
    received = bytearray()
    deadline = time.monotonic() + 10.0
    while len(received) < len(payload) and time.monotonic() < deadline:
        out.flush()  # what the loop does on EVENT_WRITE
        received += b.recv(1 << 16)
    thread.join(5.0)
    assert done.is_set() and bytes(received) == payload


def test_a_writer_gives_up_when_nothing_drains(pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    out = OutputBuffer(a, limit=1024, on_pending=lambda: None)
    start = time.monotonic()
    with pytest.raises(ClientDisconnected):
        out.write(b"x" * (1 << 20), timeout=0.3)
    assert 0.25 < time.monotonic() - start < 3.0
    assert out.closed and len(out) == 0
    with pytest.raises(ClientDisconnected):
        out.write(b"more", timeout=0.3)


def test_closing_releases_a_waiting_writer(pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    out = OutputBuffer(a, limit=1024, on_pending=lambda: None)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            out.write(b"x" * (1 << 20), timeout=10.0)
        except ClientDisconnected as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    time.sleep(0.1)
    out.close()
    thread.join(5.0)
    assert not thread.is_alive() and len(errors) == 1
