"""Live tests of the threaded worker: real sockets on 127.0.0.1, the loop in a thread.

Every wait is bounded: sockets carry timeouts, threads are joined with a
deadline, and conditions are polled with :func:`wait_for`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from wsgikit.config import Config
from wsgikit.server.threaded import ThreadedServer
from wsgikit.translate import server_options

from ..rawhttp import RawClient
from ..support import DEADLINE, wait_for

StartResponse = Callable[..., Any]


# ------------------------------------------------------------------ the server


@dataclass
class Live:
    server: ThreadedServer
    thread: threading.Thread
    address: tuple[str, int]
    sockets: list[socket.socket] = field(default_factory=list)

    def connect(self, rcvbuf: int | None = None, timeout: float = 5.0) -> RawClient:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sockets.append(sock)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect(self.address)
        return RawClient(sock=sock, timeout=timeout)

    def stop(self, graceful: bool = True, timeout: float = DEADLINE) -> float:
        """Stop the server; return how long serve_forever took to return."""
        start = time.monotonic()
        self.server.stop(graceful)
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "serve_forever did not return"
        return time.monotonic() - start


@pytest.fixture(params=[False, True], ids=["app-thread", "app-in-loop"])
def app_in_loop(request: pytest.FixtureRequest) -> bool:
    """Both ways of running one app thread: a thread of its own (embedded servers),
    or the loop's own thread (a supervised worker process, ``app_in_loop``)."""
    return bool(request.param)


@contextlib.contextmanager
def serve(
    app: Callable[..., Iterable[bytes]], app_in_loop: bool = False, **settings: Any
) -> Iterator[Live]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    options = dataclasses.replace(server_options(Config(**settings)), app_in_loop=app_in_loop)
    server = ThreadedServer(app, [listener], options)
    thread = threading.Thread(target=server.serve_forever, name="test-loop", daemon=True)
    thread.start()
    live = Live(server, thread, listener.getsockname())
    try:
        yield live
    finally:
        for sock in live.sockets:
            sock.close()
        if thread.is_alive():
            server.stop(graceful=False)
            thread.join(DEADLINE)
        listener.close()
        assert not thread.is_alive(), "serve_forever did not return"


# ------------------------------------------------------------------ apps


def hello(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def echo(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]


# ------------------------------------------------------------------ tests


def test_idle_and_slow_clients_do_not_starve_normal_requests() -> None:
    head = b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"  # ~3 s at a byte per 100 ms
    with serve(hello, threads=4, worker_connections=1000, header_timeout=30) as live:
        idle = [live.connect() for _ in range(200)]
        slow = [live.connect() for _ in range(20)]
        wait_for(lambda: live.server.connection_count >= 220, "220 connections held")
        slow_status: list[int] = []
        stop = threading.Event()

        def trickle(client: RawClient) -> None:
            for i in range(len(head)):
                if stop.is_set():
                    return
                client.send(head[i : i + 1])
                time.sleep(0.1)
            slow_status.append(client.read_response().status)

        drivers = [threading.Thread(target=trickle, args=(c,), daemon=True) for c in slow]
        for driver in drivers:
            driver.start()
        try:
            time.sleep(0.3)  # let every slow client be mid-head
            for _ in range(20):
                client = live.connect()
                response = client.get("/")
                assert response.status == 200 and response.body == b"hello"
                client.sock.close()
            # Ordering, not timing: every normal request was answered while all the
            # slow clients were still sending their heads.
            assert slow_status == []
        finally:
            for driver in drivers:
                driver.join(DEADLINE)
            stop.set()
        assert slow_status == [200] * 20
        assert all(not d.is_alive() for d in drivers)
        del idle


def test_trickled_body_does_not_hold_an_app_thread(app_in_loop: bool) -> None:
    with serve(echo, app_in_loop=app_in_loop, threads=1, body_timeout=5) as live:
        slow = live.connect()
        slow.send(b"POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n")
        body = b"0123456789"
        for i, byte in enumerate(body):
            slow.send(bytes([byte]))
            if i in (2, 6):
                # Answered while the only app thread's would-be request is still
                # incomplete: the rest of its body is sent only after this returns.
                assert live.connect().get("/fast").status == 200
            time.sleep(0.1)
        response = slow.read_response()
        assert response.status == 200 and response.body == body


def test_head_timeout_answers_408(app_in_loop: bool) -> None:
    with serve(hello, app_in_loop=app_in_loop, header_timeout=0.5) as live:
        client = live.connect()
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        start = time.monotonic()
        response = client.read_response()
        assert response.status == 408
        assert response.headers["connection"] == "close"
        assert 0.4 < time.monotonic() - start < 3.0
        assert client.at_eof(2.0)
        # A connection that sends nothing is closed quietly at the same deadline.
        quiet = live.connect()
        assert quiet.at_eof(3.0) and quiet.buf == b""


def test_body_timeout_answers_408(app_in_loop: bool) -> None:
    with serve(echo, app_in_loop=app_in_loop, body_timeout=0.5) as live:
        client = live.connect()
        client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n123")
        assert client.read_response().status == 408
        assert client.at_eof(2.0)


def test_worker_connections_is_honoured(app_in_loop: bool) -> None:
    with serve(hello, app_in_loop=app_in_loop, worker_connections=5, keepalive=30) as live:
        held = [live.connect() for _ in range(5)]
        for client in held:
            assert client.get().status == 200  # accepted and kept alive
        assert live.server.connection_count == 5
        sixth = live.connect()  # the kernel completes it: it waits in the backlog
        sixth.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        sixth.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sixth.sock.recv(1)
        assert live.server.connection_count == 5
        held[0].sock.close()
        sixth.sock.settimeout(5.0)
        assert sixth.read_response().status == 200
        for client in held[1:]:
            assert client.get().status == 200  # the others are still served


def _big_app(produced: list[int], mib: int) -> Callable[..., Iterable[bytes]]:
    """``/big`` streams ``mib`` MiB, counting what it produced; anything else is hello."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] != "/big":
            return hello(environ, start_response)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        chunk = b"x" * (1 << 20)

        def body() -> Iterator[bytes]:
            for _ in range(mib):
                produced[0] += 1
                yield chunk

        return body()

    return app


def test_a_client_that_stops_reading_costs_spool_not_an_app_thread(app_in_loop: bool) -> None:
    """Past the in-memory output buffer a response spills to a temporary file: the one app
    thread finishes at once, others are served, and the silent client is closed after
    write_timeout, giving its memory and disk back."""
    produced = [0]
    with serve(
        _big_app(produced, 20), app_in_loop=app_in_loop, threads=1, write_timeout=1.0
    ) as live:
        stalled = live.connect(rcvbuf=65536)
        stalled.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_for(lambda: produced[0] == 20, "the whole response written by the app")
        for _ in range(3):  # the only app thread is free again
            assert live.connect().get("/").status == 200
        budget = live.server.budget
        assert budget.memory_used <= 512 * 1024 + (1 << 20)  # the rest is on disk
        assert budget.disk_used >= 15 << 20
        assert stalled.at_eof(10.0), "closed after write_timeout without progress"
        wait_for(lambda: budget.disk_used == 0 and budget.memory_used == 0, "budget returned")
        assert live.stop() < 5.0


def test_past_the_spool_limit_the_app_waits_for_the_client() -> None:
    produced = [0]
    limit = 4 << 20
    with serve(_big_app(produced, 50), threads=2, response_spool_limit=limit) as live:
        stalled = live.connect(rcvbuf=65536)
        stalled.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_for(lambda: produced[0] >= 5, "the big response to fill its spool")
        time.sleep(0.3)  # let it fill every buffer on the way
        assert produced[0] < 20, f"{produced[0]} MiB produced for a client that reads nothing"
        assert live.server.budget.disk_used <= limit
        for _ in range(3):  # answered while the stalled client still reads nothing
            assert live.connect().get("/").status == 200
        stalled.sock.close()  # the blocked app thread is released (ClientDisconnected)
        assert live.stop() < 5.0


def test_graceful_stop_finishes_in_flight_requests() -> None:
    started = threading.Event()

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if environ["PATH_INFO"] == "/sleep":
            started.set()
            time.sleep(1.0)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    with serve(app, threads=1, keepalive=30) as live:
        window = live.server.drain_window
        idle = live.connect()
        assert idle.get("/").status == 200  # now an idle keep-alive connection
        later = live.connect()
        assert later.get("/").status == 200  # another, whose next request comes at the stop
        busy = live.connect()
        busy.send(b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n")
        assert started.wait(DEADLINE)
        queued = live.connect()  # complete, waiting for the only app thread
        queued.send(b"GET /queued HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_for(lambda: live.server._admission.waiting == 1, "the second request to be queued")
        stopper = threading.Thread(target=live.stop, daemon=True)
        start = time.monotonic()
        stopper.start()
        # The keep-alive connections are not closed under their clients: a request
        # that comes on one is answered, with Connection: close.
        wait_for(lambda: live.server.stopping, "the stop")
        later.send(b"GET /later HTTP/1.1\r\nHost: t\r\n\r\n")
        response = busy.read_response()
        assert response.status == 200 and response.body == b"done"
        assert response.headers["connection"] == "close"  # the stop began while it ran
        assert busy.at_eof(1.0)  # closed after its response
        response = queued.read_response()
        assert response.status == 200 and response.body == b"done"
        assert response.headers["connection"] == "close"
        assert queued.at_eof(1.0)
        response = later.read_response()
        assert response.status == 200 and response.headers["connection"] == "close"
        assert later.at_eof(1.0)
        # The quiet one is closed once it has been quiet for the drain window.
        assert idle.at_eof(window + 2.0), "idle connection not closed after the drain window"
        assert time.monotonic() - start >= window * 0.9
        stopper.join(DEADLINE)
        assert not live.thread.is_alive()
        assert time.monotonic() - start < window + 3.0


def test_fast_stop_does_not_wait_for_a_stuck_app() -> None:
    release = threading.Event()
    started = threading.Event()

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        started.set()
        release.wait(DEADLINE)
        start_response("200 OK", [])
        return [b""]

    with serve(app, threads=1) as live:
        client = live.connect()
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert started.wait(DEADLINE)
        try:
            assert live.stop(graceful=False) < 2.5
            assert client.at_eof(1.0)
        finally:
            release.set()


def test_keep_alive_pipelining_chunked_continue_and_head() -> None:
    with serve(echo, threads=2, spool_threshold=1000) as live:
        client = live.connect()
        # Pipelined: three requests in one write, answered in order.
        client.send(
            b"POST /1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nonePOST /2 HTTP/1.1\r\n"
            b"Host: t\r\nContent-Length: 3\r\n\r\ntwoGET /3 HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        assert [client.read_response().body for _ in range(3)] == [b"one", b"two", b""]
        # Chunked upload, larger than the spool threshold (goes to a temporary file).
        data = bytes(range(256)) * 400
        pieces = [data[i : i + 4000] for i in range(0, len(data), 4000)]
        chunks = b"".join(b"%x\r\n%b\r\n" % (len(piece), piece) for piece in pieces)
        client.send(
            b"POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunks
            + b"0\r\n\r\n"
        )
        response = client.read_response()
        assert response.status == 200 and response.body == data
        # Expect: 100-continue: the loop sends 100 Continue, then reads the body.
        client.send(
            b"POST /c HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        assert client.read_head()[0] == 100
        client.send(b"hello")
        assert client.read_response().body == b"hello"
        # HEAD: a head and no body; the connection stays usable.
        client.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response(head_only=True)
        assert response.status == 200 and response.headers["content-length"] == "0"
        response = client.get("/after-head")
        assert response.status == 200 and response.body == b""
        assert client.buf == b""


def test_malformed_request_is_answered_and_closed(app_in_loop: bool) -> None:
    with serve(hello, app_in_loop=app_in_loop, limit_request_body=1000) as live:
        client = live.connect()
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        response = client.read_response()
        assert response.status == 400
        assert client.at_eof(2.0)
        big = live.connect()
        big.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n")
        assert big.read_response().status == 413


def test_idle_keep_alive_connection_is_closed(app_in_loop: bool) -> None:
    with serve(hello, app_in_loop=app_in_loop, keepalive=0.3) as live:
        client = live.connect()
        assert client.get().status == 200
        start = time.monotonic()
        assert client.at_eof(3.0)
        assert 0.2 < time.monotonic() - start < 2.0


@pytest.mark.parametrize(("threads", "multithread"), [(1, False), (4, True)])
def test_environ_says_whether_the_app_runs_in_several_threads(
    threads: int, multithread: bool
) -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        seen.update(environ)
        start_response("200 OK", [])
        return [b""]

    with serve(app, threads=threads) as live:
        assert live.connect().get().status == 200
    assert seen["wsgi.multithread"] is multithread


def test_a_freed_app_thread_takes_the_next_waiting_request_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The loop hands complete requests to the app threads' queue ahead of time: a
    thread that finishes one starts the next waiting request at once, not when the
    loop next wakes up to hand it over (here the loop is held right after the first
    request finishes, and the second one still starts)."""
    first_running = threading.Event()
    release_first = threading.Event()
    second_running = threading.Event()

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if environ["PATH_INFO"] == "/first":
            first_running.set()
            release_first.wait(DEADLINE)
        else:
            second_running.set()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    with serve(app, threads=1) as live:
        first = live.connect()
        first.send(b"GET /first HTTP/1.1\r\nHost: t\r\n\r\n")
        assert first_running.wait(DEADLINE)
        second = live.connect()
        second.send(b"GET /second HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_for(lambda: live.server._admission.waiting == 1, "the second request to be read")
        loop_free = threading.Event()
        take_finished = live.server._take_finished

        def held_loop() -> None:  # the loop, woken by the finished request, is held here
            loop_free.wait(DEADLINE)
            take_finished()

        monkeypatch.setattr(live.server, "_take_finished", held_loop)
        try:
            release_first.set()
            assert second_running.wait(5.0), "the second request waited for the loop"
        finally:
            loop_free.set()
        assert first.read_response().body == b"/first"
        assert second.read_response().body == b"/second"


def test_requests_queued_in_the_pool_free_a_thread_held_by_a_silent_client() -> None:
    """Requests handed ahead to the app threads' queue count as waiting for a thread: an
    app thread stuck past the spool limit on a client that reads nothing gives it up
    after a second without progress, not after write_timeout (60 s here)."""
    produced = [0]
    with serve(
        _big_app(produced, 50), threads=1, response_spool_limit=4 << 20, write_timeout=60
    ) as live:
        stalled = live.connect(rcvbuf=65536)
        stalled.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_for(lambda: produced[0] >= 5, "the big response to fill its spool")
        waiting = live.connect(timeout=DEADLINE)
        assert waiting.get("/").status == 200
        assert produced[0] < 50, "the stalled response was not given up"
        assert stalled.at_eof(DEADLINE), "the stalled client is closed"


def test_saturated_pool_still_answers_every_request() -> None:
    # Two threads, more concurrent clients than the bounded queue holds: the queue
    # fills to its bound, the rest wait in their sockets, and all are answered.
    gate = threading.Semaphore(0)
    running = threading.Semaphore(0)

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        running.release()
        gate.acquire(timeout=DEADLINE)
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    with serve(app, threads=2) as live:
        bound = live.server.max_queued
        count = 2 + bound + 10
        clients = [live.connect() for _ in range(count)]
        for i, client in enumerate(clients):
            client.send(f"GET /{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        for _ in range(2):
            assert running.acquire(timeout=DEADLINE)  # both threads hold a request
        admission = live.server._admission
        wait_for(lambda: admission.waiting == bound, f"{bound} requests queued")
        wait_for(lambda: admission.lined == 10, "the other 10 left in their sockets")
        assert admission.waiting == bound
        for _ in range(count):
            gate.release()
        bodies = [client.read_response().body for client in clients]
        assert bodies == [f"/{i}".encode() for i in range(count)]


def test_saturated_worker_serves_waiting_connections_in_turn(app_in_loop: bool) -> None:
    """With every app thread busy, waiting keep-alive clients are served first come,
    first served: none waits for long while others get served over and over."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        time.sleep(0.002)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    worst: list[float] = []
    served: list[int] = []
    stop = threading.Event()
    with serve(app, app_in_loop=app_in_loop, threads=1, keepalive=30) as live:
        clients = [live.connect() for _ in range(12)]

        def loop(client: RawClient) -> None:
            longest = 0.0
            count = 0
            while not stop.is_set():
                start = time.monotonic()
                assert client.get("/").status == 200
                longest = max(longest, time.monotonic() - start)
                count += 1
            worst.append(longest)
            served.append(count)

        threads = [threading.Thread(target=loop, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        time.sleep(2.0)  # the load itself: how long the clients keep asking
        stop.set()
        for t in threads:
            t.join(DEADLINE)
    assert len(worst) == 12
    # Turns are shared: no client got fewer than a third of the busiest one's answers
    # (an unfair loop serves the same few connections over and over).
    assert min(served) * 3 >= max(served), sorted(served)
    # 12 clients on one thread at ~2 ms each: a fair turn is ~30 ms; a shared machine
    # may stall us for a while, so allow far more.
    assert max(worst) < 2.0, sorted(worst)


def test_a_slow_head_times_out_even_while_the_worker_is_busy(app_in_loop: bool) -> None:
    """Waiting in line for a busy app thread must not shelter a slowloris client."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        time.sleep(0.2)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    stop = threading.Event()
    with serve(app, app_in_loop=app_in_loop, threads=1, header_timeout=1.0) as live:
        busy = [live.connect() for _ in range(4)]

        def hammer(client: RawClient) -> None:
            while not stop.is_set():
                client.get("/")

        def trickle(sock: socket.socket) -> None:
            # A head that never ends: a byte every 0.1 s for as long as the test runs.
            head = b"GET /slow HTTP/1.1\r\nHost: t\r\n" + b"X-Slow: 1\r\n" * 100
            for byte in head:
                if stop.wait(0.1):
                    return
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    return

        slow = live.connect()
        workers = [threading.Thread(target=hammer, args=(c,)) for c in busy]
        workers.append(threading.Thread(target=trickle, args=(slow.sock,)))
        for t in workers:
            t.start()
        try:
            start = time.monotonic()
            slow.sock.settimeout(8.0)
            answer = slow.sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
            # header_timeout is 1 s; the wait in line for a turn to be read (four
            # clients ahead, 0.2 s each) comes on top, never the whole trickle.
            assert time.monotonic() - start < 6.0
        finally:
            stop.set()
            for t in workers:
                t.join(DEADLINE)


# ------------------------------------------------------- budgets for bodies


def _post_head(length: int, expect: bool = False) -> bytes:
    extra = "Expect: 100-continue\r\n" if expect else ""
    return f"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\n{extra}\r\n".encode()


def test_a_body_the_spool_budget_can_never_hold_is_413_before_100_continue(
    app_in_loop: bool,
) -> None:
    with serve(echo, app_in_loop=app_in_loop, spool_threshold=1000, spool_budget=100_000) as live:
        client = live.connect()
        client.send(_post_head(200_000, expect=True))
        status, headers = client.read_head()
        assert status == 413  # not 100: the client never sends the body
        assert live.server.budget.disk_used == 0


def test_a_body_the_spool_budget_cannot_hold_now_is_503_with_retry_after(app_in_loop: bool) -> None:
    with serve(echo, app_in_loop=app_in_loop, spool_threshold=1000, spool_budget=100_000) as live:
        holder = live.connect()
        holder.send(_post_head(80_000) + b"x" * 70_000)  # held open, 70 KB spooled
        wait_for(lambda: live.server.budget.disk_used >= 70_000, "the first body spooled")
        late = live.connect()
        late.send(_post_head(50_000, expect=True))
        status, headers = late.read_head()
        assert status == 503 and headers["retry-after"] == "5"
        chunked = live.connect()  # no length declared: refused when it outgrows the budget
        chunked.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunked.send(b"%x\r\n%s\r\n" % (40_000, b"y" * 40_000))
        status, headers = chunked.read_head()
        assert status == 503 and headers["retry-after"] == "5"
        assert chunked.at_eof(5.0)
        holder.send(b"x" * 10_000)  # the first one completes, as if nothing happened
        response = holder.read_response()
        assert response.status == 200 and len(response.body) == 80_000
        wait_for(lambda: live.server.budget.disk_used == 0, "the spool emptied")
        assert live.connect().get("/").status == 200


def test_bodies_past_the_memory_budget_are_spooled_sooner(app_in_loop: bool) -> None:
    """Each body is under spool_threshold, but together they would exceed buffer_memory:
    the ones past it go to disk, so a worker's memory is bounded, not only a connection's."""
    with serve(
        echo, app_in_loop=app_in_loop, spool_threshold=1 << 20, buffer_memory=200_000
    ) as live:
        clients = [live.connect() for _ in range(10)]
        for client in clients:
            client.send(_post_head(50_000) + b"z" * 49_999)  # held open, one byte short
        budget = live.server.budget
        wait_for(lambda: budget.memory_used + budget.disk_used >= 10 * 49_999, "all held")
        assert budget.memory_used <= 200_000 and budget.disk_used >= 250_000
        for client in clients:
            client.send(b"z")
        for client in clients:
            assert client.read_response().body == b"z" * 50_000
        wait_for(lambda: budget.memory_used == budget.disk_used == 0, "budget returned")


def test_partial_heads_count_in_the_memory_budget_and_the_largest_are_refused() -> None:
    """Bytes of unfinished heads count in buffer_memory with the bodies: past it the
    largest partial head is answered 503 (and its bytes dropped); a small one (under
    1/16 of the budget in all) is kept, and whole requests are answered meanwhile."""
    with serve(hello, buffer_memory=1 << 20, header_timeout=30) as live:
        budget = live.server.budget
        holder = live.connect()  # a body held open fills the budget but 8 KB
        holder.send(_post_head(1_040_000) + b"x" * 1_039_999)
        wait_for(lambda: budget.memory_used >= 1_039_999, "the body held in memory")
        field = b"X-Fill: " + b"a" * 8000 + b"\r\n"
        small = live.connect()
        small.send(b"GET / HTTP/1.1\r\nHost: t\r\n" + field * 3)
        wait_for(lambda: budget.input_used >= 24_000, "the small partial head counted")
        big = live.connect()
        big.send(b"GET / HTTP/1.1\r\nHost: t\r\n" + field * 40)
        status, headers = big.read_head()
        assert status == 503 and headers["retry-after"] == "5"
        assert big.at_eof(5.0)
        assert budget.input_used < 30_000  # the small head, not the big one
        assert live.connect().get("/").status == 200
        small.send(b"\r\n")
        assert small.read_response().body == b"hello"
        holder.send(b"x")
        assert holder.read_response().status == 200
        wait_for(lambda: budget.memory_used == budget.input_used == 0, "budget returned")


def test_a_full_disk_is_507_not_silence(
    app_in_loop: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(echo, app_in_loop=app_in_loop, spool_threshold=1000) as live:
        # The spool directory's file system is full: every write says ENOSPC.
        live.server.budget.temporary_file = lambda: open("/dev/full", "r+b", buffering=0)  # type: ignore[method-assign]
        client = live.connect()
        client.send(_post_head(5000) + b"x" * 5000)
        status, headers = client.read_head()
        assert status == 507 and "retry-after" in headers
        assert client.at_eof(5.0)
        assert live.server.budget.disk_used == 0
        assert live.connect().get("/").status == 200  # small bodies still work
    assert any("cannot write to the spool directory" in r.message for r in caplog.records)


def test_a_file_wrapper_response_goes_out_with_sendfile(
    app_in_loop: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 << 20)
    path = tmp_path / "file"
    path.write_bytes(data)
    calls: list[int] = []
    real = os.sendfile

    def counting(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        calls.append(count)
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", counting)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(path, "rb"))

    with serve(app, app_in_loop=app_in_loop) as live:
        client = live.connect(rcvbuf=64 << 10, timeout=DEADLINE)
        for _ in range(2):  # keep-alive: the connection is reused after it
            response = client.get("/")
            assert response.status == 200 and response.body == data
    assert calls, "os.sendfile was not used"
