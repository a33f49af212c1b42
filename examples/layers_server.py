"""A small HTTP/1.1 server assembled by hand from wsgikit.http and wsgikit.wsgi.

One connection at a time over a plain socket, keep-alive included; the sans-IO
connection parses, the WSGI layer calls the app. Run it with
``python -m examples.layers_server [PORT]`` (0 picks a free port) and visit the
address it prints.
"""

import logging
import socket
import sys

from examples.hello import application
from wsgikit.http import NEED_DATA, HTTPConnection, ProtocolError, Request, error_response
from wsgikit.wsgi import (
    ConnectionBody,
    InputStream,
    ServerInfo,
    build_environ,
    call_app,
    drain_body,
)

DATE = "Thu, 01 Jan 2026 00:00:00 GMT"  # a real server formats the current time


class SocketTransport:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def sendfile(self, fd: int, offset: int, count: int) -> bool:
        return False  # let the WSGI layer iterate file bodies


def serve_connection(sock: socket.socket, base: dict, peer: tuple) -> None:
    conn, out = HTTPConnection(), SocketTransport(sock)

    def fill() -> bool:  # more bytes for the parser; False ends the body with a 408
        conn.receive_data(sock.recv(65536))
        return True

    while True:
        try:
            event = conn.next_event()
        except ProtocolError as exc:
            return out.send(error_response(exc.status, DATE))
        if event is NEED_DATA:
            fill()
        elif isinstance(event, Request):
            body = ConnectionBody(conn, fill, out.send)
            environ = build_environ(event, base, InputStream(body), peer)
            info = call_app(application, environ, conn, out, date=DATE, logger=logging.getLogger())
            if not (info.keep_alive and drain_body(body) and conn.start_next_cycle()):
                return
        else:
            return  # the client closed between requests


def main(port: int) -> None:
    listener = socket.create_server(("127.0.0.1", port))
    host, port = listener.getsockname()
    base = ServerInfo(host, str(port)).base_environ(sys.stderr)
    print(f"listening on http://{host}:{port}", flush=True)
    while True:
        sock, peer = listener.accept()
        with sock:
            serve_connection(sock, base, peer)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
