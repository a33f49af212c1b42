"""The threaded worker's buffers, over a socketpair (no server)."""

from __future__ import annotations

import os
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsgikit.server.buffers import Budget, BudgetExceeded, OutputBuffer, SpoolBuffer
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


def _drain(out: OutputBuffer, peer: socket.socket, size: int) -> bytes:
    """What the loop does on EVENT_WRITE, with the client reading, until ``size`` bytes came."""
    received = bytearray()
    peer.settimeout(0.05)  # a writer may be about to queue more: flush again soon
    deadline = time.monotonic() + 10.0
    while len(received) < size and time.monotonic() < deadline:
        out.flush()
        try:
            received += peer.recv(1 << 16)
        except TimeoutError:
            pass
    return bytes(received)


def test_without_a_spool_a_writer_waits_past_the_limit_until_the_loop_drains(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    pending = threading.Event()
    out = OutputBuffer(a, limit=64 * 1024, on_pending=pending.set)
    payload = bytes(range(256)) * 4096  # 1 MiB
    done = threading.Event()

    def writer() -> None:
        out.write(payload, timeout=5.0)  # nothing queued: taken whole (one chunk)
        out.write(payload, timeout=5.0)  # over the limit, no spool: waits
        done.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert pending.wait(5.0)
    assert not done.wait(0.2)  # over the limit: the writer waits
    assert len(out) <= 2 * len(payload)
    received = _drain(out, b, 2 * len(payload))
    thread.join(5.0)
    assert done.is_set() and received == payload * 2


def test_a_writer_gives_up_when_nothing_drains(pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    out = OutputBuffer(a, limit=1024, on_pending=lambda: None)
    out.write(b"x" * (1 << 20), timeout=0.3)  # queued whole
    start = time.monotonic()
    with pytest.raises(ClientDisconnected):
        out.write(b"y" * 10, timeout=0.3)
    assert 0.25 < time.monotonic() - start < 3.0
    assert out.closed and len(out) == 0
    with pytest.raises(ClientDisconnected):
        out.write(b"more", timeout=0.3)


def test_a_writer_waiting_for_a_silent_client_gives_up_in_a_second_when_others_wait(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Past the limits the writer waits for its client: up to the write timeout (30 s
    here) while nobody else needs its thread, but once ``crowded()`` says others wait,
    a client that took nothing for a second is given up (it used to hold the thread for
    the whole write timeout)."""
    a, _ = pair
    out = OutputBuffer(a, limit=1024, on_pending=lambda: None)
    out.write(b"x" * (1 << 20), timeout=30.0)  # queued whole; the client reads nothing
    crowded = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            out.write(b"y" * 10, timeout=30.0, crowded=crowded.is_set)
        except ClientDisconnected as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    thread.join(1.5)
    assert thread.is_alive(), "nobody waits for the thread: the writer waits on"
    crowded.set()
    thread.join(10.0)
    assert not thread.is_alive() and len(errors) == 1
    assert "while other requests waited" in str(errors[0])
    assert out.closed


def test_closing_releases_a_waiting_writer(pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    out = OutputBuffer(a, limit=1024, on_pending=lambda: None)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            out.write(b"x" * (1 << 20), timeout=10.0)
            out.write(b"x" * (1 << 20), timeout=10.0)
        except ClientDisconnected as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    time.sleep(0.1)
    out.close()
    thread.join(5.0)
    assert not thread.is_alive() and len(errors) == 1


def test_past_memory_a_response_spills_to_a_file_in_order(
    pair: tuple[socket.socket, socket.socket], tmp_path: Path
) -> None:
    """The writer never waits while the spool may take more; the bytes leave in order,
    memory first, then the file, then memory again once the file is sent."""
    a, b = pair
    budget = Budget(memory=1 << 20, disk=1 << 30, directory=str(tmp_path))
    out = OutputBuffer(
        a, limit=64 * 1024, on_pending=lambda: None, budget=budget, spool_limit=8 << 20
    )
    pieces = [bytes([i]) * 100_000 for i in range(40)]  # 4 MB
    for piece in pieces:
        out.write(piece, timeout=0.1)  # would time out if it waited: nobody drains
    assert out.spilled > 3_500_000 and budget.disk_used == out.spilled
    assert budget.memory_used <= 64 * 1024 + 100_000
    assert os.listdir(tmp_path) == []  # an unnamed file, in the spool directory's file system
    received = _drain(out, b, 4_000_000)
    assert received == b"".join(pieces)
    assert out.spilled == 0 and budget.disk_used == 0 and budget.memory_used == 0
    out.write(b"after", timeout=0.1)  # empty again: straight to the socket
    assert b.recv(100) == b"after"
    out.close()


def test_the_spool_limit_and_budget_bound_a_connection(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, _ = pair
    budget = Budget(memory=1 << 20, disk=300_000)
    out = OutputBuffer(a, limit=10_000, on_pending=lambda: None, budget=budget, spool_limit=1 << 20)
    for _ in range(3):
        out.write(b"x" * 100_000, timeout=0.2)  # memory, then the spool
    with pytest.raises(ClientDisconnected):  # the worker's disk budget is spent: it waits
        out.write(b"x" * 100_000, timeout=0.2)
    assert budget.disk_used == 0 and budget.memory_used == 0  # closing gave it all back
    other = OutputBuffer(
        a, limit=10_000, on_pending=lambda: None, budget=budget, spool_limit=250_000
    )
    other.write(b"x" * 100_000, timeout=0.2)
    other.write(b"x" * 100_000, timeout=0.2)
    with pytest.raises(ClientDisconnected):  # this connection's own limit
        other.write(b"x" * 100_000, timeout=0.2)


def test_a_spool_that_cannot_be_written_falls_back_to_waiting(
    pair: tuple[socket.socket, socket.socket], tmp_path: Path
) -> None:
    a, b = pair
    errors: list[OSError] = []
    budget = Budget(directory=str(tmp_path / "missing"))
    out = OutputBuffer(
        a,
        limit=10_000,
        on_pending=lambda: None,
        budget=budget,
        spool_limit=1 << 20,
        on_spill_error=errors.append,
    )
    out.write(b"x" * 100_000, timeout=0.2)  # the spool fails: memory, whole
    assert len(errors) == 1
    done = threading.Event()
    thread = threading.Thread(target=lambda: (out.write(b"y" * 100, timeout=5), done.set()))
    thread.start()
    assert not done.wait(0.2) and len(errors) == 1  # no spool now: it waits for the client
    assert _drain(out, b, 100_100)[-100:] == b"y" * 100
    thread.join(5.0)
    assert done.is_set() and budget.disk_used == 0


def test_spool_buffer_memory_budget_spools_sooner_and_disk_budget_refuses() -> None:
    budget = Budget(memory=15, disk=25)
    first, second = SpoolBuffer(threshold=100, budget=budget), SpoolBuffer(100, budget)
    first.write(b"0123456789")
    second.write(b"abcde")
    assert not first.spooled and not second.spooled and budget.memory_used == 15
    second.write(b"fghij")  # the worker's memory is spent: to disk, though under threshold
    assert second.spooled and budget.memory_used == 10 and budget.disk_used == 10
    second.write(b"k" * 15)
    with pytest.raises(BudgetExceeded):
        second.write(b"l")
    assert InputStream(second.source()).read() == b"abcdefghij" + b"k" * 15
    second.close()
    first.close()
    assert budget.memory_used == 0 and budget.disk_used == 0


def test_unparsed_input_counts_in_the_memory_budget_above_its_floor() -> None:
    budget = Budget(memory=16_000)
    assert budget.input_floor == 1000
    budget.take_memory(15_500)  # bodies
    budget.hold_input(900)  # over the budget, but under the floor of input
    assert budget.memory_used == 16_400 and budget.input_excess() <= 0
    budget.hold_input(2000)
    assert budget.input_excess() == 1900  # input past the floor, not the whole excess
    budget.release_memory(15_500)
    assert budget.input_excess() <= 0  # back within the budget
    budget.hold_input(-2900)
    assert budget.memory_used == budget.input_used == 0


# ----------------------------------------------------------------- sendfile


def _reader(
    peer: socket.socket, size: int, pause: float = 0.0
) -> tuple[threading.Thread, bytearray]:
    """A client reading ``size`` bytes in small pieces (``pause`` s apart), in a thread."""
    received = bytearray()

    def read() -> None:
        while len(received) < size:
            piece = peer.recv(4096)
            if not piece:
                return
            received.extend(piece)
            time.sleep(pause)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, received


@pytest.mark.parametrize("self_flushing", [False, True], ids=["app-thread", "app-in-loop"])
def test_sendfile_sends_a_file_to_a_slow_reader_without_the_loop(
    pair: tuple[socket.socket, socket.socket], tmp_path: Path, self_flushing: bool
) -> None:
    # 256 KiB through a 4 KiB socket buffer: the writer waits for the socket itself.
    a, b = pair
    data = os.urandom(256 << 10)
    path = tmp_path / "file"
    path.write_bytes(data)
    out = OutputBuffer(a, limit=1024, on_pending=lambda: None, self_flushing=self_flushing)
    if self_flushing:
        out.write(b"head:", timeout=5.0)  # maybe queued: a self-flushing buffer sends it first
    thread, received = _reader(b, len(data) + (5 if self_flushing else 0), pause=0.001)
    with open(path, "rb") as f:
        assert out.sendfile(f.fileno(), 0, len(data), timeout=5.0)
    thread.join(10.0)
    assert bytes(received) == (b"head:" if self_flushing else b"") + data


def test_sendfile_is_refused_behind_queued_bytes_and_for_tls(
    pair: tuple[socket.socket, socket.socket], tmp_path: Path
) -> None:
    a, _ = pair
    path = tmp_path / "file"
    path.write_bytes(b"x" * 100)
    out = OutputBuffer(a, limit=1 << 20, on_pending=lambda: None)
    out.write(b"y" * (64 << 10), timeout=1.0)  # more than the socket takes: queued
    assert len(out) > 0
    with open(path, "rb") as f:
        assert not out.sendfile(f.fileno(), 0, 100, timeout=1.0)  # the loop flushes first
        tls = OutputBuffer(a, limit=1024, on_pending=lambda: None, encode=lambda d: d)
        assert not tls.sendfile(f.fileno(), 0, 100, timeout=1.0)


def test_sendfile_fails_cleanly_when_the_file_is_short_or_the_client_reads_nothing(
    pair: tuple[socket.socket, socket.socket], tmp_path: Path
) -> None:
    a, _ = pair
    path = tmp_path / "file"
    path.write_bytes(b"x" * 100)
    out = OutputBuffer(a, limit=1024, on_pending=lambda: None)
    with open(path, "rb") as f, pytest.raises(ClientDisconnected, match="ended before"):
        out.sendfile(f.fileno(), 0, 200, timeout=1.0)
    assert out.closed
    path.write_bytes(b"x" * (1 << 20))
    out = OutputBuffer(a, limit=1024, on_pending=lambda: None)
    start = time.monotonic()
    with open(path, "rb") as f, pytest.raises(ClientDisconnected, match="read nothing"):
        out.sendfile(f.fileno(), 0, 1 << 20, timeout=0.5)
    assert time.monotonic() - start < 5.0


def test_a_body_of_many_tiny_chunks_costs_its_bytes_not_an_object_each() -> None:
    # A chunked body sent a byte at a time must not cost a Python object per byte
    # (about 40 times its size) against a budget that counts its bytes.
    spool = SpoolBuffer(threshold=1 << 20)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100_000):
            spool.write(b"x")
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 400_000, grown  # 100 KB of body
    big = b"y" * 8192
    spool.write(big)
    assert InputStream(spool.source()).read() == b"x" * 100_000 + big
    spool.close()
