"""A graceful stop answers the connections waiting in the listen backlog, once.

Both worker models, in a thread over a real listener: while the one app thread
is busy, clients connect and send their request; they wait in the listen
backlog (the sync worker serves one connection at a time; the threaded one is at
``worker_connections``). A graceful stop answers them with ``Connection: close``
instead of leaving them to be reset when the listener closes, and takes at most
``backlog`` of them: the listener is shared with the other workers of a master,
and the rest are theirs.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from wsgikit.server import ServerOptions, make_server

from ..rawhttp import RawClient
from ..support import DEADLINE

StartResponse = Callable[..., Any]


@pytest.mark.parametrize("worker_class", ["sync", "threaded"])
def test_a_graceful_stop_answers_the_backlog_once_and_at_most_backlog(worker_class: str) -> None:
    busy = threading.Event()
    release = threading.Event()

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if environ["PATH_INFO"] == "/first":
            busy.set()
            release.wait(DEADLINE)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    options = ServerOptions(worker_class=worker_class, worker_connections=1, backlog=3)
    server = make_server(app, [listener], options)
    thread = threading.Thread(target=server.serve_forever, name="test-loop", daemon=True)
    thread.start()
    clients: list[RawClient] = []
    try:
        first = RawClient(port, timeout=DEADLINE)
        clients.append(first)
        first.send(b"GET /first HTTP/1.1\r\nHost: t\r\n\r\n")
        assert busy.wait(DEADLINE)
        waiting = []
        for i in range(5):  # in the backlog, their requests sent
            client = RawClient(port, timeout=DEADLINE)
            clients.append(client)
            client.send(f"GET /{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            waiting.append(client)
        server.stop()
        release.set()
        assert first.read_response().status == 200
        for client in waiting[:3]:
            response = client.read_response()
            assert response.status == 200 and response.headers["connection"] == "close"
            assert client.at_eof(DEADLINE)
        thread.join(DEADLINE)
        assert not thread.is_alive()
        # The other two are still in the backlog, for whoever else listens there.
        listener.settimeout(DEADLINE)
        for i in (3, 4):  # oldest first, unread
            sock, _ = listener.accept()
            with sock:
                sock.settimeout(DEADLINE)
                assert sock.recv(1024) == f"GET /{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode()

        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        release.set()
        if thread.is_alive():
            server.stop(graceful=False)
            thread.join(DEADLINE)
        for client in clients:
            client.close()
        listener.close()
