"""The facade: settings -> app -> listening sockets -> a supervised or in-process server.

``serve()`` is the door for code, ``wsgikit.cli`` the door for the shell; both
build one :class:`~wsgikit.config.Config` and end up in :func:`serve_config`.
This module and :mod:`wsgikit.supervise` are the only ones that turn a
``Config`` into running layers (through :mod:`wsgikit.translate`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from .config import SETTINGS, Config, ConfigError, port_bind
from .importer import AppImportError, check_app_spec, import_app
from .logs import Logs
from .preflight import check_settings
from .process import (
    BOOT_ERROR_EXIT,
    DaemonLink,
    MasterState,
    PidfileError,
    SystemdNotify,
    chdir,
    daemonize,
    pidfile,
    set_owner,
    set_umask,
)
from .server import (
    close_listeners,
    make_server,
    open_listeners,
    owned_unix_paths,
    systemd_sockets,
)
from .supervise import listener_urls, run_supervised
from .translate import server_options
from .wsgi import WSGIApp

__all__ = ["serve", "serve_config", "load_app", "prepare_process"]


def load_app(app: WSGIApp | str | None) -> WSGIApp:
    """The WSGI callable for ``app``: a callable, an import string, or None (demo page)."""
    if app is None:
        from .demo import application

        return application
    if isinstance(app, str):
        return import_app(app)
    if not callable(app):
        raise AppImportError(f"app must be a WSGI callable or 'module:attr', not {app!r}")
    return app


def prepare_process(config: Config) -> None:
    """Environment, working directory and import path, before the app is loaded."""
    for pair in config.raw_env:
        key, _, value = pair.partition("=")
        os.environ[key] = value
    if config.chdir:
        try:
            chdir(config.chdir)
        except OSError as exc:
            raise ConfigError("chdir", str(exc.strerror)) from None
    for path in reversed(config.pythonpath):
        if path not in sys.path:
            sys.path.insert(0, path)
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def serve(
    app: WSGIApp | str | None = None,
    bind: str | list[str] | tuple[str, ...] | None = None,
    workers: int | None = None,
    *,
    log_level: str | None = None,
    **settings: Any,
) -> int:
    """Serve a WSGI app until stopped; return the exit status.

    ``app`` is a WSGI callable or an import string (``module:attr``,
    ``module:factory()``). ``workers=0`` serves in the calling process;
    ``workers >= 1`` runs the pre-fork supervisor; the default is
    ``$WEB_CONCURRENCY``, else the number of CPUs. Any other setting of
    :class:`~wsgikit.config.Config` is accepted as a keyword argument, and so
    are ``worker_connections``, ``daemon``, ``timeout`` and ``log_level`` as
    earlier releases' ``run()`` took them.
    """
    if bind is not None:
        settings["bind"] = bind
    elif "bind" not in settings:
        port = port_bind()  # a container's $PORT, as Gunicorn
        if port is not None:
            settings["bind"] = port
    if workers is not None:
        settings["workers"] = workers
    if log_level is not None:
        settings["loglevel"] = log_level
    config = Config(**settings)
    return serve_config(config, app)


def serve_config(
    config: Config,
    app: WSGIApp | str | None = None,
    reload_config: Callable[[], Config] | None = None,
) -> int:
    """Run a server for ``config``; raises ConfigError, BindError or AppImportError.

    ``reload_config`` is called on SIGHUP (pre-fork mode) to re-read the settings.
    """
    prepare_process(config)
    # Log config, TLS files, binds, user...: what cannot work stops us before anything
    # is bound.
    owner = check_settings(config)
    spec = app if app is not None else config.wsgi_app
    workers = config.resolved_workers
    logs = Logs(config)
    try:
        if workers == 0 or config.preload_app or not isinstance(spec, str):
            loaded: WSGIApp | None = load_app(spec)
        else:
            check_app_spec(spec)
            loaded = None
        listeners = systemd_sockets(os.environ)
        owned: list[str] = []
        if not listeners:  # systemd's sockets replace the binds; they are not ours to remove
            listeners = open_listeners(
                config.bind,
                config.backlog,
                config.reuse_port,
                umask=config.umask,
                owner=None if owner is None else (owner.uid, owner.gid),
            )
            owned = owned_unix_paths(config.bind)
        try:
            # In one process, the pidfile goes to --user/--group (so that the process
            # may still remove it at exit); a master keeps its own user.
            pid_owner = (owner.uid, owner.gid) if owner is not None and workers == 0 else None
            with _process_settings(config, listeners, logs, pid_owner) as service:
                if workers == 0:
                    assert loaded is not None
                    if owner is not None:
                        set_owner(owner.uid, owner.gid)  # after binding, as workers do
                    return _run_in_process(config, loaded, listeners, logs, service)
                reasons: list[str] = []
                status = run_supervised(
                    config,
                    spec,
                    loaded,
                    listeners,
                    logs,
                    reload_config,
                    service.on_state,
                    on_boot_failure=reasons.append,
                )
                if status == BOOT_ERROR_EXIT:
                    service.failed(status, _boot_failure(config, "".join(reasons[-1:])))
                elif status != 0:
                    service.failed(status, "wsgikit: error: the master stopped with an error")
                return status
        finally:
            close_listeners(listeners, remove=owned)
    finally:
        logs.close()


def _boot_failure(config: Config, reason: str = "") -> str:
    """The launcher's line when a daemon cannot boot: why (the exception's line the
    worker reported), and where the traceback is."""
    where = (
        f"its traceback is in {config.errorlog}"
        if config.errorlog != "-"
        else "daemon mode has no terminal: use --error-logfile to see its traceback"
    )
    why = reason or "a worker failed to boot"
    return f"wsgikit: error: the app cannot be loaded: {why} ({where})"


class _Service:
    """Who waits to hear that we serve: systemd (``$NOTIFY_SOCKET``), the shell that
    launched the daemon (``-D``). Both are told when the server is ready, reloading or
    stopping, and the launcher why it failed."""

    def __init__(self, link: DaemonLink, notify: SystemdNotify) -> None:
        self.link = link
        self.notify = notify

    def on_state(self, state: MasterState, message: str) -> None:
        self.notify(state, message)
        if state is MasterState.READY:
            self.link.ready()

    def failed(self, status: int, message: str) -> None:
        self.link.failed(status, message)


@contextlib.contextmanager
def _process_settings(
    config: Config,
    listeners: list[socket.socket],
    logs: Logs,
    pid_owner: tuple[int, int] | None = None,
) -> Iterator[_Service]:
    """Daemon mode, umask and pidfile (given to ``pid_owner``), for the process that
    serves or supervises.

    With ``daemon`` the launching process waits until the daemon serves or fails
    (see :func:`wsgikit.process.daemonize`); a failure in here is reported to it.
    """
    link = DaemonLink(-1)
    if config.daemon:
        link = daemonize(keep_fds=[sock.fileno() for sock in listeners], wait=True)
    service = _Service(link, SystemdNotify.from_environ(logger=logs.error))
    try:
        if config.umask is not None:
            set_umask(config.umask)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(pidfile(config.pidfile, pid_owner))
            except PidfileError as exc:  # checked before starting; lost a race since
                raise ConfigError("pidfile", str(exc)) from None
            yield service
    except ConfigError as exc:
        service.failed(2, f"wsgikit: error: {exc}")
        raise
    except BaseException as exc:
        if link.waiting:
            detail = "".join(traceback.format_exception(exc)).rstrip()
            service.failed(1, f"{detail}\nwsgikit: error: the daemon failed to start")
        raise
    finally:
        link.failed(1, "wsgikit: error: the daemon stopped before it was ready")


def _run_in_process(
    config: Config,
    app: WSGIApp,
    listeners: list[socket.socket],
    logs: Logs,
    service: _Service | None = None,
) -> int:
    """workers=0: serve in this process, for embedding and development."""
    for name in ("max_requests", "timeout", "max_worker_memory", "reload"):
        if getattr(config, name) != SETTINGS[name].default:
            logs.error.warning(
                "%s has no effect with workers=0 (no supervisor to restart a worker)", name
            )
    for name in ("metrics_bind", "control_socket", "statsd_host"):
        if getattr(config, name) != SETTINGS[name].default:
            logs.error.warning("%s has no effect with workers=0 (the supervisor serves it)", name)
    server = make_server(
        app,
        listeners,
        server_options(config),
        logger=logs.error,
        access_log=logs.access if logs.access_enabled else None,
    )
    service = service or _Service(DaemonLink(-1), SystemdNotify(None))
    # Before "Listening at": a TERM sent by whoever waits for that line is a stop.
    restore = _install_signals(server, logs, service) if _in_main_thread() else lambda: None
    for url in listener_urls(config, listeners):
        logs.error.info("Listening at: %s (%d)", url, os.getpid())
    service.on_state(MasterState.READY, "serving in one process (workers=0)")
    try:
        server.serve_forever()
    finally:
        restore()
    logs.error.info("Shutting down: done")
    return 0


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _install_signals(server: Any, logs: Logs, service: _Service) -> Callable[[], None]:
    """TERM: graceful stop; INT/QUIT: fast stop (a second INT exits now); USR1: reopen
    logs; HUP, TTIN, TTOU, USR2: logged and ignored (they need the supervisor)."""
    previous: dict[int, Any] = {}

    def stop(signum: int, frame: Any) -> None:
        graceful = signum == signal.SIGTERM
        logs.error.info(
            "Received %s: %s stop", signal.Signals(signum).name, "graceful" if graceful else "fast"
        )
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        server.stop(graceful)
        kind = "graceful" if graceful else "fast"
        service.on_state(MasterState.STOPPING, f"{kind} stop ({signal.Signals(signum).name})")

    def reopen(signum: int, frame: Any) -> None:
        logs.reopen()

    def needs_workers(signum: int, frame: Any) -> None:
        # Without this, HUP would kill the process and TTIN/TTOU stop it.
        logs.error.warning(
            "Received %s: it needs the supervisor (workers >= 1); ignored",
            signal.Signals(signum).name,
        )

    handlers: dict[int, Callable[[int, Any], None]] = {
        signal.SIGTERM: stop,
        signal.SIGINT: stop,
        signal.SIGQUIT: stop,
        signal.SIGUSR1: reopen,
        signal.SIGHUP: needs_workers,
        signal.SIGTTIN: needs_workers,
        signal.SIGTTOU: needs_workers,
        signal.SIGUSR2: needs_workers,
    }
    for signum, handler in handlers.items():
        previous[signum] = signal.signal(signum, handler)

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore
