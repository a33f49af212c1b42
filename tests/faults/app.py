"""The app the fault tests serve: a few paths that crash, stream, read or sleep."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Any]


def faulty(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """What the fault tests send: ``/crash`` ends the worker process at once (as a
    segfaulting C extension or the OOM killer would); ``/big?N`` answers N bytes
    (its ``X-Pid`` header names the worker);
    ``/upload`` reads the whole body and answers its size; ``/peek?N`` reads only N
    bytes of it; ``/sleep?S`` sleeps S seconds; ``/pid`` the worker's PID; else ``ok``."""
    path = environ["PATH_INFO"]
    query = environ.get("QUERY_STRING") or ""
    if path == "/crash":
        os._exit(1)
    if path == "/big":
        size = int(query or 1 << 24)
        start_response("200 OK", [("Content-Length", str(size)), ("X-Pid", str(os.getpid()))])
        block = b"x" * 65536
        return (block[: min(65536, size - i)] for i in range(0, size, 65536))
    if path == "/upload":
        body = str(len(environ["wsgi.input"].read())).encode()
    elif path == "/peek":
        body = environ["wsgi.input"].read(int(query or 10))
    elif path == "/sleep":
        time.sleep(float(query or 1))
        body = b"slept"
    elif path == "/pid":
        body = str(os.getpid()).encode()
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
