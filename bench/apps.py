"""The WSGI apps the benchmark serves, loaded by every server as ``bench.apps:<name>``.

They import nothing beyond the standard library, so a server's start-up time and memory
measured with them are the server's own; the Flask app is in :mod:`bench.flask_app`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["hello", "sleepy", "echo", "file1m"]

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


def echo(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Reads the whole request body and sends it back: the cost of moving a body in and out."""
    body = environ["wsgi.input"].read()
    start_response(
        "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _big_file() -> str:
    """A 1 MiB file in the temp directory, written once (atomically) by whoever comes first."""
    path = os.path.join(tempfile.gettempdir(), "wsgikit-bench-1mib.bin")
    if not os.path.exists(path) or os.path.getsize(path) != 1 << 20:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(range(256)) * 4096)
        os.replace(tmp, path)
    return path


BIG_FILE = _big_file()


def file1m(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """A 1 MiB static file through ``wsgi.file_wrapper`` (a server may use sendfile)."""
    f = open(BIG_FILE, "rb")  # noqa: SIM115 - the server closes it through the wrapper
    start_response(
        "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(1 << 20))]
    )
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is None:
        return iter(lambda: f.read(65536), b"")
    return wrapper(f, 65536)  # type: ignore[no-any-return]
