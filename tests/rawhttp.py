"""Raw-socket client for live tests: send bytes, read responses, every wait bounded."""

from __future__ import annotations

import socket
import time


class RawClient:
    """A socket with a read buffer, so pipelined responses can be read one by one."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
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

    def read_response(
        self, timeout: float | None = None, head_only: bool = False
    ) -> tuple[int, dict[str, str], bytes]:
        """Read one response (Content-Length, chunked, or until close); ``head_only``: a HEAD response, no body."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._more(deadline):
                raise ConnectionError(f"closed before a response head: {self.buf[:300]!r}")
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if head_only or status in (100, 101, 102, 103, 204, 304):
            return status, headers, b""
        if "content-length" in headers:
            size = int(headers["content-length"])
            while len(self.buf) < size:
                if not self._more(deadline):
                    raise ConnectionError("closed mid-body")
            body, self.buf = self.buf[:size], self.buf[size:]
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    if not self._more(deadline):
                        raise ConnectionError("closed mid-chunk")
                size_line, _, self.buf = self.buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    if not self._more(deadline):
                        raise ConnectionError("closed mid-chunk")
                body += self.buf[:size]
                self.buf = self.buf[size + 2 :]
                if size == 0:
                    break
        else:
            body = self.read_until_close()
        return status, headers, body
