"""Small WSGI apps the live tests serve."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote

StartResponse = Callable[..., Any]


def echo(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answers with what it saw: method, path, query, headers and the body."""
    body = environ["wsgi.input"].read()
    payload = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "script_name": environ["SCRIPT_NAME"],
        "query": environ["QUERY_STRING"],
        "body": body.decode("latin-1"),
        "content_length": environ.get("CONTENT_LENGTH"),
        "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
        "multithread": environ["wsgi.multithread"],
        "multiprocess": environ["wsgi.multiprocess"],
    }
    data = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]


def streaming(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
    """A chunked response of ``?n`` pieces (default 5)."""
    count = int(environ.get("QUERY_STRING") or 5)
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(count):
        yield f"piece {i}\n".encode()


class Tracked:
    """An app whose response iterables record whether close() was called."""

    def __init__(self, size: int = 1 << 20) -> None:
        self.size = size
        self.closed = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _ClosingIter(self.size, self.closed)


class _ClosingIter:
    def __init__(self, size: int, closed: threading.Event) -> None:
        self.left = size
        self.closed = closed

    def __iter__(self) -> Iterator[bytes]:
        while self.left > 0:
            n = min(self.left, 65536)
            self.left -= n
            yield b"x" * n

    def close(self) -> None:
        self.closed.set()


def sleepy(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Sleeps ``?seconds`` (default 1) then answers."""
    seconds = float(environ.get("QUERY_STRING") or 1)
    time.sleep(seconds)
    body = f"slept {seconds}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def service(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """``/pid`` answers the worker's PID; ``/sleep?S`` sleeps S seconds; else ``ok``."""
    import os

    path = environ["PATH_INFO"]
    if path == "/sleep":
        time.sleep(float(environ.get("QUERY_STRING") or 1))
        body = b"slept"
    elif path == "/pid":
        body = str(os.getpid()).encode()
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


IMPORTED_IN = __import__("os").getpid()  # the process that imported this module


def where_imported(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answers ``<pid that imported the app> <pid serving the request>``."""
    import os

    body = f"{IMPORTED_IN} {os.getpid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def events(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
    """An event stream: ``?N`` events 0.4 s apart (default 6)."""
    count = int(environ.get("QUERY_STRING") or 6)
    start_response("200 OK", [("Content-Type", "text/event-stream")])
    for i in range(count):
        yield f"data: {i}\n\n".encode()
        time.sleep(0.4)


def whoami(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Who the server says the client is, and how it was reached; ``/status/N`` answers N;
    ``/grow/MB`` keeps MB more mebibytes alive in this process; ``/big/N`` sends N bytes;
    ``/sleep/S`` answers after S seconds; ``/gated?PATH`` streams in two pieces (see _gated);
    a body is read and its size reported."""
    path = environ["PATH_INFO"]
    size = len(environ["wsgi.input"].read())
    if path.startswith("/status/"):
        code = int(path.rsplit("/", 1)[1])
        start_response(f"{code} Whatever", [("Content-Type", "text/plain")])
        return [b"status\n"]
    if path.startswith("/grow/"):
        _HELD.append(b"\x01" * (int(path.rsplit("/", 1)[1]) * 2**20))  # touched: resident
    if path.startswith("/sleep/"):
        time.sleep(float(path.rsplit("/", 1)[1]))
    if path == "/gated":
        return _gated(start_response, unquote(environ.get("QUERY_STRING", "")))
    if path.startswith("/big/"):
        count = int(path.rsplit("/", 1)[1])
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"x" * min(65536, count - i) for i in range(0, count, 65536))
    payload = {
        "remote_addr": environ["REMOTE_ADDR"],
        "remote_port": environ["REMOTE_PORT"],
        "scheme": environ["wsgi.url_scheme"],
        "server_name": environ["SERVER_NAME"],
        "server_port": environ["SERVER_PORT"],
        "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
        "host": environ.get("HTTP_HOST"),
        "body_size": size,
        "pid": os.getpid(),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(payload).encode()]


_HELD: list[bytes] = []  # what /grow keeps alive (a leak on purpose)


def _gated(start_response: StartResponse, gate: str) -> Iterator[bytes]:
    """``/gated?PATH``: sends ``first``, then waits (at most 20 s) for the file PATH to exist
    before it sends ``second``: a client that sees ``first`` before it makes the file saw
    the response in pieces, while the app was still running."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"first\n"
    deadline = time.monotonic() + 20
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            yield b"the gate never opened\n"
            return
        time.sleep(0.01)
    yield b"second\n"


def hop_by_hop(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Sends ``?h`` as a response header: ``Connection: close`` by default."""
    name, _, value = (environ.get("QUERY_STRING") or "Connection=close").partition("=")
    start_response("200 OK", [("Content-Type", "text/plain"), (name, value)])
    return [b"done"]


def framing(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Reads the whole body; answers with the method, path, host and body size (never the body).

    The hostile corpus uses it: a smuggled request that got answered would show
    its path, while a body that merely looks like a request never shows up.
    """
    size = len(environ["wsgi.input"].read())
    host = environ.get("HTTP_HOST", "")
    text = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} host={host} body={size}"
    data = text.encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def orphans(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """``/orphan?FILE`` leaves an orphan (a child forks a grandchild and exits) that
    waits for FILE to exist (30 s at most), then exits; ``/slow?FILE`` creates FILE and
    answers 1 s later;
    anything else answers ``pid PPID`` of the worker (1: its master is PID 1)."""
    path, query = environ["PATH_INFO"], unquote(environ["QUERY_STRING"])
    if path == "/orphan":
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in a forked child
            try:
                if os.fork() == 0:
                    os.closerange(3, 65536)  # not the client's socket, nor the listener
                    deadline = time.monotonic() + 30
                    while not os.path.exists(query) and time.monotonic() < deadline:
                        time.sleep(0.02)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
    elif path == "/slow":
        with open(query, "w"):
            pass
        time.sleep(1.0)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{path} ppid {os.getppid()}".encode()]


def which_thread(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """``main`` when the app runs in the process's main thread, else the thread's name."""
    current = threading.current_thread()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"main" if current is threading.main_thread() else current.name.encode()]
