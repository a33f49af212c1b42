"""Every hostile case against a live server of each worker type, over a real socket.

A rejected case gets its status, then the server closes; nothing sent behind
the rejection is answered. An accepted case gets its answers, then the client
half-closes and the server closes too, so every extra answer would be seen.
"""

from __future__ import annotations

import socket

import pytest

from wsgikit.testing import LiveServer

from .. import apps
from ..rawhttp import RawClient
from .corpus import CASES, HostileCase

_servers: dict[tuple[object, ...], LiveServer] = {}


@pytest.fixture(scope="module", params=["sync", "threaded"])
def worker_class(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def servers():
    yield _servers
    for server in _servers.values():
        server.stop()
    _servers.clear()


def _server(case: HostileCase, worker_class: str) -> LiveServer:
    key = (worker_class, *sorted(case.limits.items()))
    server = _servers.get(key)
    if server is None:
        server = _servers[key] = LiveServer(
            apps.framing,
            header_timeout=2.0,
            keepalive=2.0,
            worker_class=worker_class,
            **case.limits,
        )
        server.start()
    return server


def exchange(port: int, raw: bytes, half_close: bool) -> tuple[list[int], list[bytes], bytes]:
    """Send ``raw``; return the statuses and bodies answered until the server closed, and any rest."""
    statuses: list[int] = []
    bodies: list[bytes] = []
    with RawClient(port) as client:
        try:
            client.send(raw)
            if half_close:
                client.sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may reject before reading everything
        while True:
            try:
                status, _, body = client.read_response(timeout=10)
            except ConnectionError:
                break  # closed (a rest that is no whole response stays in the buffer)
            statuses.append(status)
            bodies.append(body)
        return statuses, bodies, client.buf


@pytest.mark.parametrize("case", CASES, ids=str)
def test_case_over_a_socket(case: HostileCase, servers, worker_class: str) -> None:
    server = _server(case, worker_class)
    statuses, bodies, rest = exchange(server.port, case.raw, half_close=not case.rejected)
    assert tuple(statuses) == case.outcome, f"{bodies!r}; {case.why}"
    assert rest == b"", "the server sent something that is not a whole response"
    assert not any(b"SMUGGLED" in body for body in bodies), "a smuggled request was answered"


def test_the_app_sees_the_absolute_form_authority_as_host(servers, worker_class: str) -> None:
    case = next(c for c in CASES if c.name == "absolute-form-overrides-host")
    statuses, bodies, _ = exchange(_server(case, worker_class).port, case.raw, half_close=True)
    assert statuses == [200] and bodies == [b"GET /p host=a.example body=0"]
