"""The tests' one raw-socket HTTP client: send bytes, read responses, every wait bounded."""

from __future__ import annotations

import socket
import time
from typing import NamedTuple


class Response(NamedTuple):
    """One response as read off the wire (header names lower-cased)."""

    status: int
    headers: dict[str, str]
    body: bytes


class RawClient:
    """A socket with a read buffer, so pipelined responses can be read one by one.

    Every read waits at most ``timeout`` seconds in all (or the timeout given
    to the call), then raises :class:`TimeoutError` showing what it has.
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        timeout: float = 10.0,
        sock: socket.socket | None = None,
    ) -> None:
        self.sock = sock if sock is not None else socket.create_connection((host, port), timeout)
        self.timeout = timeout
        self.buf = b""

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def get(self, path: str = "/", extra: str = "") -> Response:
        """Send a GET (``extra``: more header lines, each ending in CRLF) and read its answer."""
        self.send(f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode())
        return self.read_response()

    def _more(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete answer in time; have {self.buf[:300]!r}")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        self.buf += chunk
        return bool(chunk)

    def _until(self, marker: bytes, deadline: float, what: str) -> bytes:
        while (pos := self.buf.find(marker)) < 0:
            if not self._more(deadline):
                raise ConnectionError(f"closed before {what}: {self.buf[:300]!r}")
        data, self.buf = self.buf[: pos + len(marker)], self.buf[pos + len(marker) :]
        return data

    def _exact(self, size: int, deadline: float, what: str) -> bytes:
        while len(self.buf) < size:
            if not self._more(deadline):
                raise ConnectionError(f"closed {what}")
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def read_until(self, marker: bytes, timeout: float | None = None) -> bytes:
        """Everything up to and including ``marker`` (e.g. a piece of a streamed body)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        return self._until(marker, deadline, repr(marker))

    def read_until_close(self, timeout: float | None = None) -> bytes:
        """Everything until the server closes the connection."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._more(deadline):
            pass
        data, self.buf = self.buf, b""
        return data

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True if the server closes without sending anything more."""
        return self.read_until_close(timeout) == b""

    def at_eof(self, timeout: float) -> bool:
        """True if the server closes within ``timeout`` (what it sends meanwhile is kept)."""
        deadline = time.monotonic() + timeout
        try:
            while self._more(deadline):
                pass
        except TimeoutError:
            return False
        return True

    def read_head(self, timeout: float | None = None) -> tuple[int, dict[str, str]]:
        deadline = time.monotonic() + (timeout or self.timeout)
        head = self._until(b"\r\n\r\n", deadline, "a response head").decode("latin-1")
        lines = head[:-4].split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def read_response(self, timeout: float | None = None, head_only: bool = False) -> Response:
        """Read one response (Content-Length, chunked, or until close); ``head_only``: a
        HEAD response, no body."""
        deadline = time.monotonic() + (timeout or self.timeout)
        status, headers = self.read_head(timeout)
        if head_only or status in (100, 101, 102, 103, 204, 304):
            return Response(status, headers, b"")
        if "content-length" in headers:
            body = self._exact(int(headers["content-length"]), deadline, "mid-body")
        elif headers.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                size_line = self._until(b"\r\n", deadline, "mid-chunk")
                size = int(size_line[:-2].split(b";")[0], 16)
                if size == 0:
                    self._until(b"\r\n", deadline, "before the last CRLF")
                    break
                parts.append(self._exact(size + 2, deadline, "mid-chunk")[:-2])
            body = b"".join(parts)
        else:
            body = self.read_until_close(max(0.0, deadline - time.monotonic()) or None)
        return Response(status, headers, body)


def http_get(port: int, path: str = "/", host: str = "127.0.0.1", timeout: float = 5.0) -> bytes:
    """One ``GET`` with ``Connection: close`` on a new connection: the raw answer."""
    with RawClient(port, host, timeout) as client:
        client.send(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return client.read_until_close()


def answers(port: int, path: str = "/") -> bytes | None:
    """The raw answer to ``GET path``, or None if nothing listens (yet)."""
    try:
        return http_get(port, path)
    except OSError:
        return None
