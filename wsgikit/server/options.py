"""The worker loops' own settings: one frozen object, independent of the CLI and config files.

:mod:`wsgikit.config` is for people (flags, files, environment); the facade
turns a ``Config`` into a :class:`ServerOptions` in one function
(:func:`wsgikit.translate.server_options`). Code that embeds a worker loop
builds one directly.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..http import ForwardedPolicy, Limits, TrustedPeers

__all__ = ["ServerOptions", "RequestHook", "DEFAULT_LIMITS"]

#: ``hook(monitor, environ)`` before the app runs; ``hook(monitor, environ, info)`` after.
RequestHook = Callable[..., Any]

#: Gunicorn's head limits, and request bodies capped at 1 GiB (the threaded worker
#: buffers a whole body before the app runs, so it must not spool without bound).
DEFAULT_LIMITS = Limits(body=1 << 30)


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How a worker loop serves its listeners.

    - ``worker_class``: ``"threaded"`` (a selector loop reads whole requests and
      hands them to ``threads`` app threads) or ``"sync"`` (one connection at a time).
    - ``worker_connections``: most connections the threaded loop holds at once.
    - ``limits``: request line, header and body limits (:class:`~wsgikit.http.Limits`).
    - ``header_timeout``: seconds for a request head to arrive (408 after).
    - ``keepalive``: seconds an idle keep-alive connection is kept; 0 closes after
      each response.
    - ``body_timeout``: seconds a request body read may stall (408 after).
    - ``write_timeout``: seconds a response write may stall before the client
      counts as gone.
    - ``graceful_timeout``: at a graceful stop, how long the threaded loop keeps
      answering requests it already holds (the ones waiting their turn included).
    - ``backlog``: the listen backlog the listeners were opened with. At a graceful
      stop a worker accepts the connections waiting there (at most this many per
      listener: more would be connections that came after the stop) and answers them.
    - ``spool_threshold``: request bodies larger than this go to a temporary file.
    - ``spool_dir``: where the threaded loop's temporary files go (None: the
      system's temporary directory).
    - ``buffer_memory``: most bytes of request bodies, unsent responses and
      unparsed input (unfinished heads, pipelined requests) the threaded loop keeps
      in memory, all connections together; past it bodies and responses spool and
      the largest unfinished heads are answered 503 with ``Retry-After``.
    - ``spool_budget``: most bytes the threaded loop keeps in its temporary files,
      all connections together (request bodies past it: 503 with Retry-After).
    - ``response_spool_limit``: most bytes of one response spooled for a slow
      client; past it the app thread waits for the client (``write_timeout``).
    - ``root_path``: the app's mount point (``SCRIPT_NAME``).
    - ``server_header``: the ``Server`` response header; None sends none.
    - ``pre_request`` / ``post_request``: called around each request.
    - ``ssl_context``: serve TLS on every listener with this context (see
      :func:`wsgikit.server.tls.make_ssl_context`); None serves plain HTTP.
    - ``forwarded``: whose ``X-Forwarded-*``/``Forwarded`` headers are believed
      and which (:class:`~wsgikit.http.ForwardedPolicy`); None ignores them all.
    - ``proxy_protocol``: ``"off"``, or the PROXY protocol version (``"v1"``,
      ``"v2"``, ``"auto"``) that peers in ``proxy_allow`` must send first.
    - ``app_in_loop``: with ``threads=1``, the threaded loop runs the app in its own
      thread instead of handing each request to an app thread (a quarter less CPU
      per small request). The loop cannot then return from a fast stop while the
      app is stuck: meant for a supervised worker process, whose supervisor kills
      it; a server embedded in a thread keeps the app thread.
    """

    worker_class: Literal["sync", "threaded"] = "threaded"
    threads: int = 1
    worker_connections: int = 1000
    limits: Limits = field(default=DEFAULT_LIMITS)
    keepalive: float = 2.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    write_timeout: float = 30.0
    graceful_timeout: float = 30.0
    backlog: int = 2048
    spool_threshold: int = 1 << 20
    spool_dir: str | None = None
    buffer_memory: int = 32 << 20
    spool_budget: int = 1 << 30
    response_spool_limit: int = 64 << 20
    root_path: str = ""
    server_header: str | None = "wsgikit"
    pre_request: RequestHook | None = None
    post_request: RequestHook | None = None
    ssl_context: ssl.SSLContext | None = None
    forwarded: ForwardedPolicy | None = field(default_factory=ForwardedPolicy)
    proxy_protocol: Literal["off", "v1", "v2", "auto"] = "off"
    proxy_allow: TrustedPeers = field(default_factory=TrustedPeers)
    app_in_loop: bool = False

    def __post_init__(self) -> None:
        if self.worker_class not in ("sync", "threaded"):
            raise ValueError(
                f"worker_class must be 'sync' or 'threaded', not {self.worker_class!r}"
            )
        if self.proxy_protocol not in ("off", "v1", "v2", "auto"):
            raise ValueError(
                f"proxy_protocol must be 'off', 'v1', 'v2' or 'auto', not {self.proxy_protocol!r}"
            )
        if self.proxy_protocol != "off":
            # The parser is loaded only when it is used, but with the options: in a
            # supervisor that is before the workers fork and switch to --user, who may
            # not be allowed to read the installation.
            from ..http import proxy_protocol  # noqa: F401
        if self.threads < 1 or self.worker_connections < 1:
            raise ValueError("threads and worker_connections must be >= 1")
