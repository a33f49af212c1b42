"""One app thread in a supervised worker: the loop runs the app in its own thread.

What the loop did while an app thread ran, it must still do, or do differently:
send a large response to a slow reader (the writer flushes the socket itself),
keep the heartbeat beating during a long response, and give up on a client that
reads nothing when others are waiting (it sees them in its selector). And the
pre-fork server uses this mode only where it applies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from wsgikit.server.monitor import NullMonitor
from wsgikit.testing import LiveServer

from ..support import DEADLINE
from .test_threaded import serve

StartResponse = Callable[..., Any]


def _streamer(mib: int, pause: float = 0.0) -> Callable[..., Iterable[bytes]]:
    """``/big`` streams ``mib`` MiB in 1 MiB pieces (``pause`` s apart); else hello."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] != "/big":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"hello"]
        start_response("200 OK", [("Content-Length", str(mib << 20))])

        def body() -> Iterator[bytes]:
            for _ in range(mib):
                time.sleep(pause)
                yield b"x" * (1 << 20)

        return body()

    return app


def test_a_response_larger_than_every_buffer_reaches_a_slow_reader() -> None:
    # 12 MiB, past the 512 KiB in memory and a 1 MiB spool: the writer must wait for
    # the client, and nobody but itself can flush the socket meanwhile.
    with serve(
        _streamer(12), app_in_loop=True, response_spool_limit=1 << 20, write_timeout=10
    ) as live:
        client = live.connect(rcvbuf=64 << 10, timeout=DEADLINE)
        client.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response()
        assert response.status == 200
        assert len(response.body) == 12 << 20


class _Beats(NullMonitor):
    """A monitor that counts heartbeats while a request runs."""

    def __init__(self) -> None:
        super().__init__()
        self.running = False
        self.beats_while_running = 0

    def notify(self) -> None:
        if self.running:
            self.beats_while_running += 1

    def task_started(self, label: str) -> int:
        self.running = True
        return 0

    def task_finished(
        self, token: int, failed: bool = False, outcome: int = 0, duration: float = 0.0
    ) -> None:
        self.running = False


def test_the_heartbeat_goes_on_while_a_long_response_is_sent() -> None:
    # The supervisor kills a worker whose heartbeat stops for `timeout`: a response
    # that streams for longer than that must not look like a hung worker.
    beats = _Beats()
    with serve(_streamer(8, pause=0.25), app_in_loop=True) as live:
        live.server.monitor = live.server.handler.monitor = beats
        client = live.connect(timeout=DEADLINE)
        client.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response()
        assert len(response.body) == 8 << 20
    # 2 s of streaming, a beat at most every 0.5 s on each write.
    assert beats.beats_while_running >= 3


def test_a_client_that_reads_nothing_gives_way_to_a_waiting_one() -> None:
    # Past the spool limit the writer waits for its client; it gives up after a
    # second without progress once another client wants the worker, not after
    # write_timeout (the loop cannot read while the app runs: it looks).
    with serve(
        _streamer(64), app_in_loop=True, response_spool_limit=1 << 20, write_timeout=30
    ) as live:
        stuck = live.connect(rcvbuf=16 << 10, timeout=DEADLINE)
        stuck.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.5)  # let the app fill the buffers (no event to wait on: it is blocked)
        start = time.monotonic()
        probe = live.connect(timeout=DEADLINE)
        probe.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        response = probe.read_response()
        assert response.status == 200 and response.body == b"hello"
        assert time.monotonic() - start < 10, "the probe waited for write_timeout"


@pytest.mark.parametrize(
    ("threads", "expected"), [(1, b"main"), (2, b"wsgikit-app-")], ids=["1", "2"]
)
def test_a_worker_process_runs_one_app_thread_in_its_main_thread(
    threads: int, expected: bytes
) -> None:
    # Visible to an app: signal.signal() works where it runs, as in the sync worker.
    with LiveServer("tests.apps:which_thread", workers=1, threads=threads) as server:
        body = server.client.get("/").body
    assert body.startswith(expected)
