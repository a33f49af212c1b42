"""The metrics listener keeps answering health checks while connections sit on it saying
nothing: a silent client is dropped after a second, and when every place is taken the
oldest silent one makes room (a Kubernetes probe gives up after one second)."""

from __future__ import annotations

import re
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from wsgikit.observe import MetricsService
from wsgikit.testing import LiveServer

from ..support import free_port, wait_for
from .test_status import fetch

HEALTHY = {"stopping": False, "booted_workers": 1}


def pump(service: MetricsService, timeout: float = 0.05) -> None:
    """One turn of a master loop: wait on what the service watches, hand it what is ready."""
    poller = select.poll()
    wanted = dict(service.watch())
    for fd, events in wanted.items():
        poller.register(fd, events)
    for fd, events in poller.poll(timeout * 1000):
        if events & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
            events |= select.POLLIN | select.POLLOUT
        service.ready(fd, events)


@contextmanager
def metrics_service(**attributes: Any) -> Iterator[tuple[MetricsService, int]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    service = MetricsService(listener, source=lambda: HEALTHY)
    for name, value in attributes.items():
        setattr(service, name, value)
    try:
        yield service, listener.getsockname()[1]
    finally:
        service.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def answer_to(service: MetricsService, sock: socket.socket, request: bytes) -> bytes:
    """Send ``request`` and turn the service's loop until the answer came (bounded)."""
    sock.sendall(request)
    sock.setblocking(False)
    received = bytearray()

    def answered() -> bool:
        pump(service)
        try:
            while chunk := sock.recv(65536):
                received.extend(chunk)
            return True  # the service closes after its answer
        except BlockingIOError:
            return False

    wait_for(answered, "the answer", timeout=10)
    return bytes(received)


def closed(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_the_oldest_silent_client_makes_room_for_a_health_check() -> None:
    with metrics_service() as (service, port):
        silent = [connect(port) for _ in range(service.max_clients)]
        try:
            wait_for(
                lambda: (pump(service), len(list(service.watch())) > service.max_clients)[1],
                "every silent client accepted",
            )
            probe = connect(port)
            answer = answer_to(service, probe, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"ok\n")
            assert closed(silent[0])  # the oldest made room; the others are still there
            probe.close()
        finally:
            for sock in silent:
                sock.close()


def test_a_silent_client_is_dropped_after_a_second_and_a_slow_request_is_not() -> None:
    with metrics_service() as (service, port):
        silent = connect(port)
        slow = connect(port)
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")  # half a request: it is on its way
        wait_for(
            lambda: (pump(service), len(list(service.watch())) == 3)[1], "both clients accepted"
        )
        pump(service)  # read what the slow one sent
        service.tick(time.monotonic() + service.first_byte_timeout + 0.5)
        assert closed(silent)
        answer = answer_to(service, slow, b"Host: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 ")
        silent.close()
        slow.close()


def test_healthz_answers_at_once_while_idle_connections_hold_the_listener() -> None:
    mport = free_port()
    with LiveServer("tests.apps:whoami", workers=1, metrics_bind=f"127.0.0.1:{mport}"):
        wait_for(lambda: fetch(mport, "/healthz")[0] == 200, "healthy")
        idle = [connect(mport) for _ in range(32)]
        try:
            start = time.monotonic()
            assert fetch(mport, "/healthz", timeout=3) == (200, "ok\n")
            took = time.monotonic() - start
        finally:
            for sock in idle:
                sock.close()
    print(f"\n/healthz behind 32 idle connections: {took * 1000:.0f} ms")


def test_metrics_bind_on_port_0_picks_a_free_port_and_logs_it() -> None:
    with LiveServer("tests.apps:whoami", workers=1, metrics_bind="127.0.0.1:0") as server:
        log = server.wait_for_log("Metrics at: ")
        found = re.search(r"Metrics at: http://127\.0\.0\.1:(\d+)/metrics", log)
        assert found, log
        port = int(found.group(1))
        assert port != 0
        assert fetch(port, "/healthz") == (200, "ok\n")
