"""Pre-fork mode: run the app's server in worker processes under an :class:`Arbiter`.

This is the only module that knows both sides: the supervisor
(:mod:`wsgikit.process`, which knows nothing of HTTP) and the worker loops
(:mod:`wsgikit.server`). It turns a :class:`Config` into a ``worker_main``
and a :class:`~wsgikit.process.WorkerPlan` (through :mod:`wsgikit.translate`);
workers switch to the configured user and group. It also wires two
development aids onto the supervisor: the event channel of
``$WSGIKIT_READY_FD`` and the lifeline of ``$WSGIKIT_LIFELINE_FD``
(:mod:`wsgikit.readiness`, on the hooks and as a master service) and
``--reload`` (:mod:`wsgikit.reloader`, a master service).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .binds import BindError, parse_bind
from .config import Config, ConfigError
from .gunicorn_compat import GunicornHooks
from .importer import AppImportError, import_app
from .logs import Logs
from .process import (
    BOOT_ERROR_EXIT,
    Arbiter,
    Hooks,
    ReloadRefused,
    StateListener,
    WorkerContext,
    WorkerPlan,
    set_owner,
)
from .process.master_services import MasterService
from .process.memory import memory_readable
from .readiness import channel_from_env, lifeline_from_env, reporting_hooks
from .server import describe, make_server, open_listener
from .translate import process_hooks, server_options, worker_plan
from .wsgi import WSGIApp

if TYPE_CHECKING:
    from .reloader import ReloadService

__all__ = ["run_supervised", "worker_main_for", "listener_urls", "open_services", "BootErrors"]

ConfigLoader = Callable[[], Config]


class BootErrors:
    """Why workers could not load the app, told to the master: one line each, through a
    pipe the workers inherit.

    The master reads it after each worker exits (``child_exit``), so it never fills,
    and keeps the last line: what a daemon's launcher is told when the server cannot
    boot, even when the traceback went to a log nobody reads.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self.last = ""

    def report(self, text: str) -> None:
        """In a worker: one line, written at once (under PIPE_BUF bytes: atomic)."""
        data = " ".join(text.split()).encode("utf-8", "replace")[:1000] + b"\n"
        with contextlib.suppress(OSError):
            os.write(self._write, data)

    def drain(self) -> str:
        """In the master: read what the workers reported; return the last line."""
        data = b""
        while True:
            try:
                chunk = os.read(self._read, 65536)
            except OSError:  # BlockingIOError: nothing more for now
                break
            if not chunk:
                break
            data += chunk
        lines = [line for line in data.decode("utf-8", "replace").splitlines() if line]
        if lines:
            self.last = lines[-1]
        return self.last

    def close(self) -> None:
        """Close both ends (in the master, once the workers are gone)."""
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def worker_main_for(
    config: Config,
    spec: WSGIApp | str | None,
    preloaded: WSGIApp | None,
    listeners: list[socket.socket],
    logs: Logs,
    compat: GunicornHooks | None = None,
    boot_errors: BootErrors | None = None,
) -> Callable[[WorkerContext], None]:
    """The function each worker process runs: load the app, serve until told to stop.

    ``compat`` is the :class:`GunicornHooks` of the supervisor's hooks, so that
    ``pre_request`` sees the worker object ``post_fork`` saw. An app that cannot be
    loaded is logged with its traceback, and its one-line reason is reported to
    ``boot_errors``."""
    options = server_options(config, compat=compat, supervised=True)

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
                if boot_errors is not None:
                    boot_errors.report(str(exc))
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


def listener_urls(config: Config, listeners: list[socket.socket]) -> list[str]:
    """How each listener is reached (``https://`` when TLS is on)."""
    urls = [describe(sock) for sock in listeners]
    if config.tls:
        urls = [u.replace("http://", "https://", 1) for u in urls]
    return urls


def _config_summary(config: Config) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, value in config.as_dict().items():
        if callable(value):
            value = getattr(value, "__qualname__", repr(value))
        elif isinstance(value, tuple):
            value = list(value)
        summary[name] = value
    return summary


def open_services(
    config: Config, listeners: list[socket.socket], logs: Logs, current: Callable[[], Config]
) -> list[MasterService]:
    """The master's services the settings ask for: control socket, metrics, statsd.

    Opened before the workers start, so a bad address fails at once (exit 2).
    """
    services: list[MasterService] = []
    # Each service is imported only when the settings ask for it: not at every start.
    try:
        if config.metrics_bind:
            from .observe import MetricsService

            sock = open_listener(parse_bind(config.metrics_bind), 64, config.reuse_port)
            services.append(MetricsService(sock, logs.error))
            logs.error.info("Metrics at: %s/metrics (and /healthz)", describe(sock))
        if config.control_socket and not config.control_socket_disable:
            from .observe import ControlService
            from .observe.control import open_control_socket

            path = os.path.abspath(config.control_socket)
            try:
                control = open_control_socket(path, config.control_socket_mode)
            except OSError as exc:
                raise ConfigError("control_socket", f"cannot listen on {path}: {exc}") from None
            services.append(
                ControlService(
                    control,
                    logs.error,
                    listeners=lambda: listener_urls(current(), listeners),
                    config=lambda: _config_summary(current()),
                    path=path,
                )
            )
            logs.error.info("Control socket at: %s", path)
        if config.reload:
            services.append(_reload_service(config, logs))
        if config.statsd_host:
            from .observe import StatsdService

            try:
                services.append(
                    StatsdService(
                        config.statsd_host, config.statsd_prefix, config.dogstatsd_tags, logs.error
                    )
                )
            except OSError as exc:
                raise ConfigError("statsd_host", f"{config.statsd_host}: {exc}") from None
    except (BindError, ConfigError):
        for service in services:
            service.close()
        raise
    if config.max_worker_memory and not memory_readable():
        logs.error.warning("max_worker_memory needs /proc to read memory use; it has no effect")
    return services


def _reload_service(config: Config, logs: Logs) -> ReloadService:
    """``--reload``: watch the project's files; a change reloads the workers, as HUP."""
    from .reloader import ReloadService, WatchSpec  # only with --reload: not at every start

    spec = WatchSpec.for_project([os.getcwd(), *config.pythonpath], config.reload_extra_files)
    try:
        service = ReloadService(spec, config.reload_engine, logs.error)
    except RuntimeError as exc:
        raise ConfigError("reload_engine", str(exc)) from None
    return service  # it logs what it watches once it does


def _plan(
    config: Config,
    spec: WSGIApp | str | None,
    preloaded: WSGIApp | None,
    listeners: list[socket.socket],
    logs: Logs,
    compat: GunicornHooks,
    boot_errors: BootErrors,
) -> WorkerPlan:
    main = worker_main_for(config, spec, preloaded, listeners, logs, compat, boot_errors)
    return worker_plan(config, main)


def run_supervised(
    config: Config,
    spec: WSGIApp | str | None,
    preloaded: WSGIApp | None,
    listeners: list[socket.socket],
    logs: Logs,
    reload_config: ConfigLoader | None = None,
    on_state: StateListener | None = None,
    on_boot_failure: Callable[[str], None] | None = None,
) -> int:
    """Run the arbiter until it stops; returns its exit status (0, or 3 on boot failure).

    ``on_state`` is told when the server is ready, reloading or stopping;
    ``on_boot_failure`` why the app could not be loaded (the exception's line, e.g.
    ``error while importing 'app': RuntimeError: boom``) when the status is 3."""
    boot_errors = BootErrors()
    try:
        status = _run_arbiter(
            config, spec, preloaded, listeners, logs, reload_config, on_state, boot_errors
        )
        if status == BOOT_ERROR_EXIT and on_boot_failure is not None:
            on_boot_failure(boot_errors.drain())
        return status
    finally:
        boot_errors.close()


def _run_arbiter(
    config: Config,
    spec: WSGIApp | str | None,
    preloaded: WSGIApp | None,
    listeners: list[socket.socket],
    logs: Logs,
    reload_config: ConfigLoader | None,
    on_state: StateListener | None,
    boot_errors: BootErrors,
) -> int:
    compat = GunicornHooks(config, logs.error)
    first = _plan(
        config, spec, preloaded, listeners, logs, compat, boot_errors
    )  # reads the TLS files: fail early
    running = [config]
    services = open_services(config, listeners, logs, lambda: running[0])
    lifeline, problem = lifeline_from_env(os.environ, logs.error)
    if problem:
        logs.error.warning("%s", problem)
    if lifeline is not None:
        services.append(lifeline)
    channel, problem = channel_from_env(os.environ)
    if problem:
        logs.error.warning("%s", problem)
    if channel is not None:
        channel.emit("graceful_timeout", config.graceful_timeout)
    for url in listener_urls(config, listeners):
        logs.error.info("Listening at: %s (%d)", url, os.getpid())
    logs.error.info(
        "Using worker: %s%s",
        config.resolved_worker_class,
        (
            f" with up to {config.threads} app threads"
            if config.threads > 1
            else " with 1 app thread"
        )
        if config.resolved_worker_class == "threaded"
        else "",
    )

    def reload() -> WorkerPlan:
        # A setting that cannot be used (a broken certificate, a bad config file) is
        # one line in the log, as at start-up; the current workers keep serving.
        try:
            new = reload_config() if reload_config is not None else config
            for name in ("bind", "metrics_bind", "control_socket", "statsd_host"):
                if getattr(new, name) != getattr(config, name):
                    logs.error.warning("a changed %s takes effect only after a restart", name)
            # With preload_app the master's copy of the app is reused (as Gunicorn does);
            # otherwise each new worker imports the app afresh. TLS files are read again.
            compat_new = GunicornHooks(new, logs.error, previous=compat)
            plan = _plan(new, spec, preloaded, listeners, logs, compat_new, boot_errors)
        except ConfigError as exc:
            raise ReloadRefused(str(exc)) from None
        running[0] = new
        if channel is not None:
            channel.emit("graceful_timeout", new.graceful_timeout)
        return plan

    if preloaded is not None and config.reload:
        logs.error.warning(
            "reload: the app is loaded in the master (--preload, or an app object), so new "
            "workers reuse it and code changes are not picked up"
        )
    hooks = _draining(process_hooks(config, compat), boot_errors)
    if channel is not None:
        hooks = reporting_hooks(hooks, channel)
    try:
        arbiter = Arbiter(
            first,
            hooks=hooks,
            logger=logs.error,
            reload=reload,
            reopen_logs=logs.reopen,
            proc_name=config.proc_name or _default_name(spec),
            services=services,
            on_state=on_state,
        )
    except BaseException:
        for service in services:
            with contextlib.suppress(Exception):
                service.close()
        raise
    return arbiter.run()


def _draining(hooks: Hooks, boot_errors: BootErrors) -> Hooks:
    """``hooks`` whose ``child_exit`` first reads what the worker reported, if anything."""
    user = hooks.child_exit

    def child_exit(*args: Any) -> None:
        boot_errors.drain()
        if user is not None:
            user(*args)

    return dataclasses.replace(hooks, child_exit=child_exit)


def _default_name(spec: WSGIApp | str | None) -> str:
    if isinstance(spec, str):
        return spec
    if spec is None:
        return "wsgikit demo"
    return getattr(spec, "__name__", type(spec).__name__)
