"""Config -> the options each layer takes: the one place that reads settings for the layers.

:class:`~wsgikit.config.Config` is for people (flags, files, environment). The
layers below never see it: :mod:`wsgikit.http` takes :class:`Limits`,
:mod:`wsgikit.server` a :class:`ServerOptions`, :mod:`wsgikit.process` a
:class:`WorkerPlan` and :class:`Hooks`. These functions build them.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Literal, cast

from .config import Config, ConfigError
from .gunicorn_compat import GunicornHooks
from .http import ClientHeaders, ForwardedPolicy, Limits, TrustedPeers
from .observe import DURATION_BUCKETS, STATUS_CLASSES
from .process import Hooks, WorkerContext, WorkerPlan
from .server import ServerOptions
from .server.tls import TLSSetupError, make_ssl_context

__all__ = [
    "limits",
    "server_options",
    "ssl_context",
    "forwarded_policy",
    "worker_plan",
    "process_hooks",
]


def limits(config: Config) -> Limits:
    """The request limits of ``config``."""
    return Limits(
        request_line=config.limit_request_line,
        header_fields=config.limit_request_fields,
        header_field_size=config.limit_request_field_size,
        body=config.limit_request_body,
    )


def ssl_context(config: Config) -> ssl.SSLContext | None:
    """The TLS context for ``config`` (its ``ssl_context`` hook may build it), or None.

    Reads the certificate files: a file that is missing or wrong raises a
    one-line :class:`ConfigError` naming the setting.
    """
    if config.certfile is None:
        return None
    certfile = config.certfile

    def default_ssl_context_factory() -> ssl.SSLContext:
        return make_ssl_context(
            certfile,
            config.keyfile,
            ca_certs=config.ca_certs,
            cert_reqs=config.cert_reqs,
            ciphers=config.ciphers,
        )

    try:
        if config.ssl_context is not None:
            context = config.ssl_context(config, default_ssl_context_factory)
        else:
            context = default_ssl_context_factory()
    except TLSSetupError as exc:
        raise ConfigError(exc.parameter, str(exc)) from None
    except (OSError, ValueError) as exc:
        raise ConfigError("ssl_context", f"the hook failed: {exc}") from None
    if not isinstance(context, ssl.SSLContext):
        raise ConfigError("ssl_context", f"must return an ssl.SSLContext, not {context!r}")
    return context


def forwarded_policy(config: Config) -> ForwardedPolicy:
    """Whose forwarding headers are believed, and which (``forwarded_allow_ips``...)."""
    return ForwardedPolicy(
        TrustedPeers(config.forwarded_allow_ips),
        config.secure_scheme_headers,
        cast(ClientHeaders, config.forwarded_client_headers),
    )


def server_options(
    config: Config,
    *,
    tls: ssl.SSLContext | None | bool = True,
    compat: GunicornHooks | None = None,
    supervised: bool = False,
) -> ServerOptions:
    """The worker loop's options for ``config``.

    ``tls``: True builds the TLS context from the settings (reading the files);
    a context is used as it is; None or False serves plain HTTP. ``compat`` calls
    ``pre_request``/``post_request`` with Gunicorn's arguments (pass the one given to
    :func:`process_hooks` so that both see the same worker objects). ``supervised``:
    the loop runs in a worker process that a supervisor kills if it hangs, so with one
    app thread the app may run in the loop's own thread (``app_in_loop``).
    """
    compat = compat if compat is not None else GunicornHooks(config)
    context = ssl_context(config) if tls is True else (tls or None)
    return ServerOptions(
        worker_class="threaded" if config.resolved_worker_class == "threaded" else "sync",
        threads=config.threads,
        worker_connections=config.worker_connections,
        limits=limits(config),
        keepalive=config.keepalive,
        header_timeout=config.header_timeout,
        body_timeout=config.body_timeout,
        write_timeout=config.write_timeout,
        graceful_timeout=config.graceful_timeout,
        backlog=config.backlog,
        spool_threshold=config.spool_threshold,
        spool_dir=config.spool_dir,
        buffer_memory=config.buffer_memory,
        spool_budget=config.spool_budget,
        response_spool_limit=config.response_spool_limit,
        root_path=config.root_path,
        server_header=config.server_header or None,
        pre_request=compat.pre_request(),
        post_request=compat.post_request(),
        ssl_context=context,
        forwarded=forwarded_policy(config),
        proxy_protocol=cast(Literal["off", "v1", "v2", "auto"], config.proxy_protocol),
        proxy_allow=TrustedPeers(config.proxy_allow_ips),
        app_in_loop=supervised,
    )


def worker_plan(config: Config, worker_main: Callable[[WorkerContext], None]) -> WorkerPlan:
    """The supervisor's plan for ``config``: how many workers run ``worker_main``, and how."""
    threaded = config.resolved_worker_class == "threaded"
    return WorkerPlan(
        worker_main=worker_main,
        workers=config.resolved_workers,
        timeout=config.timeout,
        graceful_timeout=config.graceful_timeout,
        max_requests=config.max_requests,
        max_requests_jitter=config.max_requests_jitter,
        # One watched slot per app thread.
        slots_per_worker=config.threads if threaded else 1,
        # Outcome k counts responses of status class kxx (0: none was sent).
        outcomes=len(STATUS_CLASSES),
        duration_buckets=DURATION_BUCKETS,
        max_memory=config.max_worker_memory * 2**20,
    )


def process_hooks(config: Config, compat: GunicornHooks | None = None) -> Hooks:
    """The supervisor's hooks from ``config``, called with Gunicorn's arguments
    (``post_fork(server, worker)``...; see :mod:`wsgikit.gunicorn_compat`)."""
    return (compat if compat is not None else GunicornHooks(config)).process_hooks()
