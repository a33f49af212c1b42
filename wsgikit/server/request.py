"""What every worker model does around one request: environ, app call, bookkeeping.

The socket handling differs between the sync and threaded workers; building the
environ, calling the app (through :func:`wsgikit.wsgi.call_app`), timing it, the
access log, the ``pre_request``/``post_request`` hooks and the monitor's task
accounting do not, and live in :class:`RequestHandler`.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ..http import HTTPConnection, ProtocolError, Request, error_response, format_date
from ..wsgi import (
    BodySource,
    ClientDisconnected,
    ErrorStream,
    InputStream,
    ResponseInfo,
    ServerInfo,
    Transport,
    WSGIApp,
    build_environ,
    call_app,
)
from .monitor import Monitor, NullMonitor
from .options import ServerOptions
from .proxied import Forwarding, Peer

__all__ = ["RequestHandler", "AccessLog", "DateCache", "peer_address"]

AccessLog = Callable[[dict[str, Any], ResponseInfo, float], None]


class DateCache:
    """The ``Date`` header value, formatted at most once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = format_date(now)
        return self._value


def peer_address(addr: Any) -> tuple[str, int] | None:
    """``(host, port)`` of a TCP peer; None for a unix socket peer."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        return str(addr[0]), int(addr[1])
    return None


class RequestHandler:
    """Answers parsed requests with the WSGI app, with the bookkeeping around each call."""

    def __init__(
        self,
        app: WSGIApp,
        options: ServerOptions,
        *,
        logger: logging.Logger | None = None,
        access_log: AccessLog | None = None,
        monitor: Monitor | None = None,
        multithread: bool = False,
        multiprocess: bool = False,
    ) -> None:
        self.app = app
        self.options = options
        self.logger = logger or logging.getLogger("wsgikit.error")
        self.access_log = access_log
        self.monitor: Monitor = monitor or NullMonitor()
        self.multithread = multithread
        self.multiprocess = multiprocess
        self.limits = options.limits
        self.server_header = options.server_header or None
        self.date = DateCache()
        self.errors = ErrorStream(self.logger)
        self._bases: dict[int, dict[str, Any]] = {}
        self.forwarding = Forwarding(options.forwarded) if options.forwarded else None
        self.url_scheme = "https" if options.ssl_context is not None else "http"
        self._task = threading.local()  # the monitor token of the request this thread runs

    def touch(self) -> None:
        """The request this thread is answering made progress, or is waiting on its client.

        Transports call it after each send and while they wait to send: the
        supervisor's ``timeout`` is meant for an app that hangs, not for a slow
        client (the write timeout bounds that).
        """
        token = getattr(self._task, "token", -1)
        if token >= 0:
            self.monitor.task_progress(token)

    def new_connection(self) -> HTTPConnection:
        return HTTPConnection(self.limits, self.server_header)

    def error_bytes(self, status: int, retry_after: int | None = None) -> bytes:
        """A complete error response (it closes the connection); ``retry_after``:
        seconds for a ``Retry-After`` header (RFC 9110 section 10.2.3)."""
        headers = () if retry_after is None else (("Retry-After", str(retry_after)),)
        return error_response(status, self.date(), self.server_header, headers=headers)

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
                url_scheme=self.url_scheme,
                root_path=self.options.root_path.rstrip("/"),
                multithread=self.multithread,
                multiprocess=self.multiprocess,
            )
            base = info.base_environ(self.errors)
            self._bases[key] = base
        return base

    def peer(self, remote: tuple[str, int] | None) -> Peer:
        """The client of a new connection, and whether its forwarding headers count."""
        if self.forwarding is None:
            return Peer(remote)
        return self.forwarding.peer(remote)

    def handle(
        self,
        conn: HTTPConnection,
        request: Request,
        base: dict[str, Any],
        transport: Transport,
        body: BodySource,
        peer: Peer,
        keep_alive: bool | Callable[[], bool],
        body_length: int | None = None,
    ) -> ResponseInfo:
        """Run the app for ``request`` and send its response through ``transport``.

        ``body_length``: the size of a chunked body the server has already read whole;
        it becomes ``CONTENT_LENGTH`` (Django, Bottle and Falcon read nothing without
        one, whatever ``wsgi.input_terminated`` says) and ``HTTP_TRANSFER_ENCODING``
        goes, as Waitress does: the app sees a body of known length.
        """
        remote = peer.remote
        environ = build_environ(request, base, InputStream(body), remote)
        if body_length is not None and "CONTENT_LENGTH" not in environ:
            # The body is no longer chunked for the app (Bottle would de-chunk it again).
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["CONTENT_LENGTH"] = str(body_length)
        if remote is None and "HTTP_HOST" in environ and not base["SERVER_PORT"]:
            host, _, port = environ["HTTP_HOST"].rpartition(":")
            if host and port.isdigit():
                environ["SERVER_NAME"], environ["SERVER_PORT"] = host, port
        refused: ProtocolError | None = None
        if peer.trusted and self.forwarding is not None:
            try:
                self.forwarding.apply(environ, request, peer)
            except ProtocolError as exc:
                refused = exc
        label = f"{environ['REQUEST_METHOD']} {environ['RAW_URI'][:200]}"
        if environ["REMOTE_ADDR"]:
            label += f" from {environ['REMOTE_ADDR']}"
        monitor = self.monitor
        token = monitor.task_started(label)
        self._task.token = token
        start = time.monotonic()
        failed = True  # until the app call returns
        status = 0
        try:
            if refused is not None:
                info = self._refuse(transport, refused)
            else:
                self._hook(self.options.pre_request, "pre_request", environ)
                info = call_app(
                    self.app,
                    environ,
                    conn,
                    transport,
                    date=self.date(),
                    keep_alive=keep_alive,
                    logger=self.logger,
                )
            failed = info.error
            status = info.status
            if refused is None:
                self._hook(self.options.post_request, "post_request", environ, info)
        finally:
            self._task.token = -1
            duration = time.monotonic() - start
            monitor.task_finished(token, failed=failed, outcome=status // 100, duration=duration)
        if self.access_log is not None:
            try:
                self.access_log(environ, info, duration)
            except Exception:
                self.logger.exception("access log failed")
        return info

    def _refuse(self, transport: Transport, exc: ProtocolError) -> ResponseInfo:
        """Answer a request the server itself rejects (the app is not called); close after."""
        self.logger.debug("rejected request (%d): %s", exc.status, exc)
        info = ResponseInfo(status=exc.status, keep_alive=False)
        try:
            transport.send(self.error_bytes(exc.status))
        except ClientDisconnected:
            info.disconnected = True
        return info

    def _hook(self, hook: Callable[..., Any] | None, name: str, *args: Any) -> None:
        if hook is None:
            return
        try:
            hook(self.monitor, *args)
        except Exception:
            self.logger.exception("hook %s raised", name)
