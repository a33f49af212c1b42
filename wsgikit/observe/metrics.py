"""The metrics listener: Prometheus's ``/metrics`` and a ``/healthz`` that needs no app route.

Served by the master itself, so it answers while workers are busy, booting or
draining: ``/healthz`` is 200 while at least one booted worker serves and the
master is not stopping, else 503 (with the reason in the body). A load
balancer or a Kubernetes readiness probe pointed at it takes the instance out
of rotation as soon as a graceful stop begins.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..http import NEED_DATA, HTTPConnection, Limits, ProtocolError, Request, format_date
from .prometheus import CONTENT_TYPE, render_prometheus
from .service import SocketService
from .status import healthy, status_document

__all__ = ["MetricsService"]

_LIMITS = Limits(request_line=4096, header_fields=64, header_field_size=8190, body=0)


def _response(status: int, reason: str, body: bytes, content_type: str, head: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {reason}",
        f"Date: {format_date(time.time())}",
        "Server: wsgikit",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else body)


class MetricsService(SocketService):
    """``GET /metrics`` (Prometheus text), ``GET /healthz``; one request per connection."""

    def __init__(
        self,
        listener: socket.socket,
        logger: logging.Logger | None = None,
        source: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(listener, logger)
        self._source = source

    def _raw(self) -> Mapping[str, Any]:
        if self._source is not None:
            return self._source()
        status = getattr(self.arbiter, "status", None)
        if status is None:
            raise RuntimeError("MetricsService is not attached to an arbiter")
        result: Mapping[str, Any] = status()
        return result

    def too_large(self) -> bytes:
        return _response(431, "Request Header Fields Too Large", b"", "text/plain", False)

    def answer(self, request: bytes, ended: bool) -> bytes | None:
        conn = HTTPConnection(_LIMITS)
        conn.receive_data(request)
        if ended:
            conn.receive_data(b"")
        try:
            event = conn.next_event()
        except ProtocolError as exc:
            return _response(exc.status, "Bad Request", b"bad request\n", "text/plain", False)
        if event is NEED_DATA:
            return None
        if not isinstance(event, Request):
            return b""
        method = event.method.decode("latin-1")
        path = event.target.decode("latin-1").split("?", 1)[0]
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            return _response(405, "Method Not Allowed", b"GET only\n", "text/plain", False)
        if path == "/metrics":
            doc = status_document(self._raw())
            text = render_prometheus(doc).encode("utf-8")
            return _response(200, "OK", text, CONTENT_TYPE, head)
        if path in ("/healthz", "/readyz"):
            ok, why = healthy(self._raw())
            if ok:
                return _response(200, "OK", b"ok\n", "text/plain", head)
            body = f"{why}\n".encode()
            return _response(503, "Service Unavailable", body, "text/plain", head)
        body = b"not found: try /metrics or /healthz\n"
        return _response(404, "Not Found", body, "text/plain", head)
