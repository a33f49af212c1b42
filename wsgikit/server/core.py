"""What every worker model does around one request: environ, app call, bookkeeping.

The socket handling differs between the sync and threaded workers; calling the
application, timing it, the access log, the ``pre_request``/``post_request``
hooks and the monitor's task accounting do not, and live here.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from ..config import Config
from ..http import HTTPConnection, Limits, Request, error_response
from ..wsgi import (
    BodySource,
    ErrorStream,
    InputStream,
    ResponseInfo,
    ServerInfo,
    Transport,
    build_environ,
    run_app,
)
from ..wsgi.handler import WSGIApp
from .monitor import Monitor, NullMonitor
from .util import DateCache

__all__ = ["AppRunner", "AccessLog", "peer_address"]

AccessLog = Callable[[dict[str, Any], ResponseInfo, float], None]


def peer_address(addr: Any) -> tuple[str, int] | None:
    """``(host, port)`` of a TCP peer; None for a unix socket peer."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        return str(addr[0]), int(addr[1])
    return None


class _ProgressTransport:
    """Reports each successful send to the monitor: a request that is sending its
    response (a download, an event stream) is making progress, not stuck."""

    __slots__ = ("_inner", "_monitor", "_token")

    def __init__(self, inner: Transport, monitor: Monitor, token: int) -> None:
        self._inner = inner
        self._monitor = monitor
        self._token = token

    def send(self, data: bytes) -> None:
        if data:
            self._inner.send(data)
            self._monitor.task_progress(self._token)

    def sendfile(self, fd: int, offset: int, count: int) -> bool:
        sent = self._inner.sendfile(fd, offset, count)
        if sent:
            self._monitor.task_progress(self._token)
        return sent


class AppRunner:
    """Calls the WSGI app for parsed requests, with the bookkeeping around each call."""

    def __init__(
        self,
        app: WSGIApp,
        config: Config,
        *,
        logger: logging.Logger | None = None,
        access_log: AccessLog | None = None,
        monitor: Monitor | None = None,
        multithread: bool = False,
        multiprocess: bool = False,
    ) -> None:
        self.app = app
        self.config = config
        self.logger = logger or logging.getLogger("wsgikit.error")
        self.access_log = access_log
        self.monitor: Monitor = monitor or NullMonitor()
        self.multithread = multithread
        self.multiprocess = multiprocess
        self.limits = Limits(
            request_line=config.limit_request_line,
            header_fields=config.limit_request_fields,
            header_field_size=config.limit_request_field_size,
            body=config.limit_request_body,
        )
        self.server_header = config.server_header or None
        self.date = DateCache()
        self.errors = ErrorStream(self.logger)
        self._bases: dict[int, dict[str, Any]] = {}

    def new_connection(self) -> HTTPConnection:
        return HTTPConnection(self.limits, self.server_header)

    def error_bytes(self, status: int) -> bytes:
        """A complete error response (it closes the connection)."""
        return error_response(status, self.date(), self.server_header)

    def base_environ(self, listener: socket.socket) -> dict[str, Any]:
        """The per-listener part of environ, computed once."""
        key = listener.fileno()
        base = self._bases.get(key)
        if base is None:
            name = listener.getsockname()
            if isinstance(name, tuple):
                server_name, server_port = str(name[0]), str(name[1])
            else:
                server_name, server_port = "localhost", ""
            info = ServerInfo(
                server_name=server_name,
                server_port=server_port,
                url_scheme="http",
                root_path=self.config.root_path.rstrip("/"),
                multithread=self.multithread,
                multiprocess=self.multiprocess,
            )
            base = info.base_environ(self.errors)
            self._bases[key] = base
        return base

    def handle(
        self,
        conn: HTTPConnection,
        request: Request,
        base: dict[str, Any],
        transport: Transport,
        body: BodySource,
        remote: tuple[str, int] | None,
        keep_alive: bool | Callable[[], bool],
    ) -> ResponseInfo:
        """Run the app for ``request`` and send its response through ``transport``."""
        environ = build_environ(request, base, InputStream(body), remote)
        if remote is None and "HTTP_HOST" in environ and not base["SERVER_PORT"]:
            host, _, port = environ["HTTP_HOST"].rpartition(":")
            if host and port.isdigit():
                environ["SERVER_NAME"], environ["SERVER_PORT"] = host, port
        label = f"{environ['REQUEST_METHOD']} {environ['RAW_URI'][:200]}"
        if remote is not None:
            label += f" from {remote[0]}"
        monitor = self.monitor
        token = monitor.task_started(label)
        if not isinstance(monitor, NullMonitor):
            transport = _ProgressTransport(transport, monitor, token)
        start = time.monotonic()
        self._hook("pre_request", environ)
        info = run_app(
            self.app,
            environ,
            conn,
            transport,
            date=self.date(),
            keep_alive=keep_alive,
            logger=self.logger,
        )
        duration = time.monotonic() - start
        self._hook("post_request", environ, info)
        monitor.task_finished(token, failed=info.error)
        if self.access_log is not None:
            try:
                self.access_log(environ, info, duration)
            except Exception:
                self.logger.exception("access log failed")
        return info

    def _hook(self, name: str, *args: Any) -> None:
        hook = getattr(self.config, name)
        if hook is None:
            return
        try:
            hook(self.monitor, *args)
        except Exception:
            self.logger.exception("hook %s raised", name)
