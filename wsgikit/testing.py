"""A real server for tests: :class:`LiveServer`.

``LiveServer(app)`` serves ``app`` from a thread of the calling process
(fast, shares the test's memory); ``LiveServer("pkg.mod:app", workers=2)``
runs the real pre-fork server in a subprocess. Both bind 127.0.0.1 on a port
chosen by the OS, wait until the server answers, and stop it (by PID for a
subprocess) when the ``with`` block ends.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import Config

__all__ = ["LiveServer", "Response"]


def _cli_args(settings: Mapping[str, Any]) -> list[str]:
    """Command-line flags for settings given by name (``threads=4`` -> ``--threads 4``)."""
    from .config import SETTINGS

    args: list[str] = []
    for name, value in settings.items():
        if name == "config":
            flag = "--config"
        elif name in SETTINGS and SETTINGS[name].flags:
            flag = [f for f in SETTINGS[name].flags if f.startswith("--")][0]
        else:
            raise TypeError(f"{name!r} is not a setting with a command-line flag")
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is True:
                args.append(flag)
            elif item is not False and item is not None:
                args += [flag, str(item)]
    return args


@dataclass
class Response:
    """A response as :meth:`LiveServer.request` saw it."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class LiveServer:
    """Serve a WSGI app on 127.0.0.1 for the duration of a ``with`` block.

    ``app`` is a WSGI callable (thread mode only) or an import string; ``port`` 0
    (the default) lets the OS choose.
    ``workers=0`` (the default) runs in a thread; ``workers >= 1`` runs
    ``python -m wsgikit`` in a subprocess. Other keyword arguments are settings
    of :class:`~wsgikit.config.Config` (thread mode) or CLI flags spelled as
    setting names (subprocess mode, e.g. ``threads=4``); ``env`` and ``cwd``
    apply to the subprocess.
    """

    def __init__(
        self,
        app: Any,
        *,
        workers: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 15.0,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        **settings: Any,
    ) -> None:
        self.app = app
        self.workers = workers
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self.env = env
        self.cwd = cwd
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._listeners: list[Any] = []
        self._log: Any = None

    # ---------------------------------------------------------------- url

    @property
    def tls(self) -> bool:
        """True when the server was given a ``certfile`` (it serves HTTPS)."""
        return bool(self.settings.get("certfile"))

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def _client_context(self) -> Any:
        import ssl

        # Whoever tests a server knows which certificate it was given: only TLS
        # itself is checked here, not who signed it.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    def request(
        self,
        method: str,
        path: str = "/",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Response:
        """Make one request on a new connection (http.client) and read the response."""
        conn = (
            http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self._client_context()
            )
            if self.tls
            else http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        )
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def get(self, path: str = "/", **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    # ---------------------------------------------------------- lifecycle

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.workers == 0:
            self._start_thread()
        else:
            self._start_process()

    def _start_thread(self) -> None:
        from .facade import load_app
        from .server import make_server, open_listeners
        from .translate import server_options

        config = Config(bind=(f"{self.host}:{self.port}",), workers=0, **self.settings)
        app = load_app(self.app)
        self._listeners = open_listeners(config.bind, config.backlog)
        self.port = self._listeners[0].getsockname()[1]
        self._server = make_server(app, self._listeners, server_options(config))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"wsgikit-live-{self.port}", daemon=True
        )
        self._thread.start()
        self._wait_ready()

    def _start_process(self) -> None:
        if not isinstance(self.app, str):
            raise TypeError("a subprocess LiveServer needs the app as an import string")
        # We bind the socket and hand it over as fd://N: the port is known at once,
        # whatever the server logs and wherever it logs it.
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        fd = listener.fileno()
        args = [sys.executable, "-m", "wsgikit", self.app, "-b", f"fd://{fd}"]
        args += ["-w", str(self.workers)]
        args += _cli_args(self.settings)
        self._log = tempfile.NamedTemporaryFile(prefix="wsgikit-live-", suffix=".log")
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            self.process = subprocess.Popen(
                args,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                pass_fds=(fd,),
                cwd=self.cwd,
            )
        finally:
            listener.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Wait until a worker answers HTTP (then the master's signal handlers are set too)."""
        deadline = time.monotonic() + self.startup_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                with socket.create_connection((self.host, self.port), timeout=2.0) as raw:
                    probe = (
                        self._client_context().wrap_socket(raw, server_hostname=self.host)
                        if self.tls
                        else raw
                    )
                    probe.sendall(b"OPTIONS * HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
                    if probe.recv(16).startswith(b"HTTP/1."):
                        return
            except OSError as exc:
                last = exc
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"server not answering on {self.url}: {last}\n{self.log_text()}")

    def log_text(self) -> str:
        """What a subprocess server has logged so far."""
        if self._log is None:
            return ""
        with open(self._log.name, encoding="utf-8", errors="replace") as file:
            return file.read()

    def signal(self, signum: int) -> None:
        """Send a signal to the subprocess server's master."""
        assert self.process is not None
        self.process.send_signal(signum)

    #: Seconds ``stop()`` waits beyond the graceful timeout before it kills.
    stop_margin = 5.0

    def stop(self, timeout: float | None = None) -> int | None:
        """Stop gracefully (SIGTERM / stop()); kill if it does not stop in time.

        The default ``timeout`` is the server's own ``graceful_timeout`` plus
        ``stop_margin``: a graceful stop is given the time it was configured with.
        """
        if timeout is None:
            graceful = self.settings.get("graceful_timeout", Config().graceful_timeout)
            timeout = float(graceful) + self.stop_margin
        code: int | None = None
        if self._server is not None:
            self._server.stop()
            if self._thread is not None:
                self._thread.join(timeout)
            from .server import close_listeners

            close_listeners(self._listeners)
            self._server = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(5)
            code = self.process.returncode
        return code
