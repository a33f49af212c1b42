"""The reference ceiling: a bare pre-fork epoll loop that parses with h11 and calls a WSGI app.

Not a server anyone should deploy: no timeouts, no limits beyond h11's, no
supervision, a minimal environ. It is what "h11 plus a WSGI call" costs when
nothing else is done, so the harness can show how far a real server is from it.
Every connection is served: each worker runs one epoll loop over all of its
connections, and each worker has its own listening socket on the same port
(``SO_REUSEPORT``), so the kernel spreads a burst of connections over them.
Responses go out through ``h11.Connection.send``.

``python -m bench.reference bench.apps:hello -w 2 -b 127.0.0.1:8000``
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import select
import signal
import socket
import sys
from collections.abc import Callable, Iterable
from typing import Any

import h11

WSGIApp = Callable[..., Iterable[bytes]]


class _Conn:
    __slots__ = ("sock", "h11", "out", "request", "body")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.h11 = h11.Connection(h11.SERVER)
        self.out = bytearray()
        self.request: h11.Request | None = None
        self.body = bytearray()


def _environ(request: h11.Request, body: bytes, server_port: int) -> dict[str, Any]:
    target = request.target.decode("latin-1")
    path, _, query = target.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method.decode("ascii"),
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("ascii"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in request.headers:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value.decode("latin-1")
        else:
            environ["HTTP_" + key] = value.decode("latin-1")
    return environ


def _respond(app: WSGIApp, conn: _Conn, port: int) -> None:
    assert conn.request is not None
    status_headers: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status_headers[:] = [status, headers]
        return lambda data: None

    result = app(_environ(conn.request, bytes(conn.body), port), start_response)
    try:
        chunks = list(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = status_headers
    send = conn.h11.send
    conn.out += send(h11.Response(status_code=int(status[:3]), headers=headers))
    for chunk in chunks:
        if chunk:
            conn.out += send(h11.Data(data=chunk))
    conn.out += send(h11.EndOfMessage())
    conn.request = None
    conn.body = bytearray()


def _worker(host: str, port: int, app: WSGIApp) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.listen(2048)
    listener.setblocking(False)
    poller = select.epoll()
    poller.register(listener.fileno(), select.EPOLLIN)
    conns: dict[int, _Conn] = {}

    def close(conn: _Conn) -> None:
        poller.unregister(conn.sock.fileno())
        del conns[conn.sock.fileno()]
        conn.sock.close()

    while True:
        for fd, mask in poller.poll():
            if fd == listener.fileno():
                try:
                    sock, _ = listener.accept()
                except BlockingIOError:
                    continue
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conns[sock.fileno()] = _Conn(sock)
                poller.register(sock.fileno(), select.EPOLLIN)
                continue
            conn = conns[fd]
            if mask & select.EPOLLIN:
                try:
                    data = conn.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = b""
                if data is not None:
                    conn.h11.receive_data(data)
                    if not _advance(app, conn, port):
                        close(conn)
                        continue
            if conn.out:
                try:
                    sent = conn.sock.send(conn.out)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError:
                    close(conn)
                    continue
                del conn.out[:sent]
            if conn.h11.our_state is h11.MUST_CLOSE and not conn.out:
                close(conn)
                continue
            poller.modify(fd, select.EPOLLIN | (select.EPOLLOUT if conn.out else 0))


def _advance(app: WSGIApp, conn: _Conn, port: int) -> bool:
    """Handle every event h11 has; False when the connection is done."""
    while True:
        try:
            event = conn.h11.next_event()
        except h11.RemoteProtocolError:
            return False
        if event is h11.NEED_DATA:
            return True
        if isinstance(event, h11.Request):
            conn.request = event
        elif isinstance(event, h11.Data):
            conn.body += event.data
        elif isinstance(event, h11.EndOfMessage):
            _respond(app, conn, port)
            if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
                conn.h11.start_next_cycle()
        elif event is h11.PAUSED:
            return True
        else:  # ConnectionClosed
            return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reference")
    parser.add_argument("app")
    parser.add_argument("-w", "--workers", type=int, default=2)
    parser.add_argument("-b", "--bind", default="127.0.0.1:8000")
    args = parser.parse_args(argv)
    module, _, attr = args.app.partition(":")
    app = getattr(importlib.import_module(module), attr or "application")
    host, _, port = args.bind.rpartition(":")
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
            try:
                _worker(host, int(port), app)
            finally:
                os._exit(0)
        children.append(pid)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    for pid in children:
        os.kill(pid, signal.SIGTERM)
    for pid in children:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    sys.exit(main())
