"""Config -> the options each layer takes: the one place that reads settings for the layers.

:class:`~wsgikit.config.Config` is for people (flags, files, environment). The
layers below never see it: :mod:`wsgikit.http` takes :class:`Limits`,
:mod:`wsgikit.server` a :class:`ServerOptions`, :mod:`wsgikit.process` a
:class:`WorkerPlan` and :class:`Hooks`. These functions build them.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import Config
from .http import Limits
from .process import Hooks, WorkerContext, WorkerPlan
from .server import ServerOptions

__all__ = ["limits", "server_options", "worker_plan", "process_hooks"]


def limits(config: Config) -> Limits:
    """The request limits of ``config``."""
    return Limits(
        request_line=config.limit_request_line,
        header_fields=config.limit_request_fields,
        header_field_size=config.limit_request_field_size,
        body=config.limit_request_body,
    )


def server_options(config: Config) -> ServerOptions:
    """The worker loop's options for ``config``."""
    return ServerOptions(
        worker_class="threaded" if config.resolved_worker_class == "threaded" else "sync",
        threads=config.threads,
        worker_connections=config.worker_connections,
        limits=limits(config),
        keepalive=config.keepalive,
        header_timeout=config.header_timeout,
        body_timeout=config.body_timeout,
        write_timeout=config.write_timeout,
        spool_threshold=config.spool_threshold,
        root_path=config.root_path,
        server_header=config.server_header or None,
        pre_request=config.pre_request,
        post_request=config.post_request,
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
    )


def process_hooks(config: Config) -> Hooks:
    """The supervisor's hooks from ``config``."""
    return Hooks(**{name: getattr(config, name) for name in Hooks.names()})
