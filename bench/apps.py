"""The WSGI apps the benchmark serves, loaded by both servers as ``bench.apps:<name>``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["hello", "sleepy"]

StartResponse = Callable[..., Any]

BODY = b"Hello, World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def hello(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The smallest useful response: measures the server's per-request overhead."""
    start_response("200 OK", list(HEADERS))
    return [BODY]


def sleepy(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Waits 10 ms per request, like an app blocked on a database or an upstream call."""
    time.sleep(0.01)
    start_response("200 OK", list(HEADERS))
    return [BODY]
