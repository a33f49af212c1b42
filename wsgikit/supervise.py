"""Pre-fork mode: run the app's server in worker processes under an :class:`Arbiter`.

This is the only module that knows both sides: the supervisor
(:mod:`wsgikit.process`, which knows nothing of HTTP) and the worker loops
(:mod:`wsgikit.server`). It turns a :class:`Config` into a ``worker_main``
and a :class:`~wsgikit.process.WorkerPlan` (through :mod:`wsgikit.translate`);
workers switch to the configured user and group.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable

from .config import Config
from .importer import AppImportError, import_app
from .logs import Logs
from .process import BOOT_ERROR_EXIT, Arbiter, WorkerContext, WorkerPlan, set_owner
from .server import describe, make_server
from .translate import process_hooks, server_options, worker_plan
from .wsgi import WSGIApp

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
    options = server_options(config)

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
            options,
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
) -> WorkerPlan:
    return worker_plan(config, worker_main_for(config, spec, preloaded, listeners, logs))


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

    def reload() -> WorkerPlan:
        new = reload_config() if reload_config is not None else config
        if new.bind != config.bind:
            logs.error.warning("a changed bind takes effect only after a restart")
        # With preload_app the master's copy of the app is reused (as Gunicorn does);
        # otherwise each new worker imports the app afresh.
        return _plan(new, spec, preloaded, listeners, logs)

    arbiter = Arbiter(
        _plan(config, spec, preloaded, listeners, logs),
        hooks=process_hooks(config),
        logger=logs.error,
        reload=reload,
        reopen_logs=logs.reopen,
        proc_name=config.proc_name or _default_name(spec),
    )
    return arbiter.run()


def _default_name(spec: WSGIApp | str | None) -> str:
    if isinstance(spec, str):
        return spec
    if spec is None:
        return "wsgikit demo"
    return getattr(spec, "__name__", type(spec).__name__)
