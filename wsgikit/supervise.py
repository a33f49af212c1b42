"""Pre-fork mode: run the app's server in worker processes under an :class:`Arbiter`.

This is the only module that knows both sides: the supervisor
(:mod:`wsgikit.process`, which knows nothing of HTTP) and the worker loops
(:mod:`wsgikit.server`). It turns a :class:`Config` into a ``worker_main``
and a reload plan; workers switch to the configured user and group.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable

from .config import Config
from .importer import AppImportError, import_app
from .logs import Logs
from .process import (
    BOOT_ERROR_EXIT,
    Arbiter,
    Hooks,
    ReloadPlan,
    WorkerContext,
    set_owner,
)
from .serve import make_server
from .server import describe
from .wsgi.handler import WSGIApp

__all__ = ["run_supervised", "worker_main_for"]

ConfigLoader = Callable[[], Config]


def worker_main_for(
    config: Config,
    spec: WSGIApp | str | None,
    preloaded: WSGIApp | None,
    listeners: list[socket.socket],
    logs: Logs,
) -> Callable[[WorkerContext], None]:
    """The function each worker process runs: load the app, serve until told to stop."""

    def worker_main(ctx: WorkerContext) -> None:
        if config.user or config.group:
            set_owner(config.user, config.group)
        app = preloaded
        if app is None:
            assert isinstance(spec, str)
            try:
                app = import_app(spec)
            except AppImportError as exc:
                if exc.details:
                    logs.error.error("%s\n%s", exc, exc.details.rstrip())
                else:
                    logs.error.error("%s", exc)
                sys.exit(BOOT_ERROR_EXIT)
        server = make_server(
            app,
            listeners,
            config,
            monitor=ctx,
            logger=logs.error,
            access_log=logs.access if logs.access_enabled else None,
            multiprocess=True,
        )
        ctx.add_stop_callback(server.stop)
        ctx.booted()
        server.serve_forever()

    return worker_main


def _plan(
    config: Config,
    spec: WSGIApp | str | None,
    preloaded: WSGIApp | None,
    listeners: list[socket.socket],
    logs: Logs,
) -> ReloadPlan:
    return ReloadPlan(
        worker_main=worker_main_for(config, spec, preloaded, listeners, logs),
        workers=config.resolved_workers,
        timeout=config.timeout,
        graceful_timeout=config.graceful_timeout,
    )


def run_supervised(
    config: Config,
    spec: WSGIApp | str | None,
    preloaded: WSGIApp | None,
    listeners: list[socket.socket],
    logs: Logs,
    reload_config: ConfigLoader | None = None,
) -> int:
    """Run the arbiter until it stops; returns its exit status (0, or 3 on boot failure)."""
    for sock in listeners:
        logs.error.info("Listening at: %s (%d)", describe(sock), os.getpid())
    logs.error.info(
        "Using worker: %s%s",
        config.resolved_worker_class,
        f" with {config.threads} app thread{'s' if config.threads > 1 else ''}"
        if config.resolved_worker_class == "threaded"
        else "",
    )

    def reload() -> ReloadPlan:
        new = reload_config() if reload_config is not None else config
        if new.bind != config.bind:
            logs.error.warning("a changed bind takes effect only after a restart")
        # With preload_app the master's copy of the app is reused (as Gunicorn does);
        # otherwise each new worker imports the app afresh.
        return _plan(new, spec, preloaded, listeners, logs)

    plan = _plan(config, spec, preloaded, listeners, logs)
    arbiter = Arbiter(
        plan.worker_main,
        workers=plan.workers,
        timeout=plan.timeout,
        graceful_timeout=plan.graceful_timeout,
        max_requests=config.max_requests,
        max_requests_jitter=config.max_requests_jitter,
        hooks=Hooks(**{name: getattr(config, name) for name in Hooks.names()}),
        logger=logs.error,
        reload=reload,
        reopen_logs=logs.reopen,
        proc_name=config.proc_name or _default_name(spec),
        # One watched slot per app thread (a reload that adds threads is not watched
        # for the extra ones until a restart).
        slots_per_worker=config.threads if config.resolved_worker_class == "threaded" else 1,
    )
    return arbiter.run()


def _default_name(spec: WSGIApp | str | None) -> str:
    if isinstance(spec, str):
        return spec
    if spec is None:
        return "wsgikit demo"
    return getattr(spec, "__name__", type(spec).__name__)
