"""A real server for tests: :class:`LiveServer`, and a :class:`Client` that speaks real HTTP.

``LiveServer(app)`` serves ``app`` from a thread of the calling process (fast,
shares the test's memory); ``LiveServer("pkg.mod:app", workers=2)`` runs the
real pre-fork server in a subprocess. Both bind 127.0.0.1 on a port chosen by
the OS and stop the server (by PID for a subprocess) when the ``with`` block
ends.

A pre-fork server is ready when its first worker has booted: the master says so
on a descriptor named by ``$WSGIKIT_READY_FD`` (see :mod:`wsgikit.readiness`),
and says the same of every worker it starts, replaces or retires, so a test can
send a signal and wait for its effect. Nothing calls the app to find out. When
the server fails to start, or exits during a test, the error carries its log.

A pre-fork test server stays under the test's control: it loads no config file
from the working directory (only the one given as ``config=``), runs in the
foreground, logs errors to the output the test reads, and holds a lifeline
(``$WSGIKIT_LIFELINE_FD``): if the test process dies, even by SIGKILL, the server
stops gracefully. Its log and events go to files without a name, which nothing
has to clean up.
"""

from __future__ import annotations

import errno
import http.client
import json as jsonlib
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import traceback
import urllib.parse
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any, TypeVar

from .config import SETTINGS, Config, ConfigError
from .readiness import LIFELINE_FD_ENV, READY_FD_ENV, ServerEvents

__all__ = ["Client", "LiveServer", "Response", "ServerError", "import_string_of"]

T = TypeVar("T")
_SIGKILL = signal.SIGKILL  # a default argument of methods; LiveServer.signal shadows the module


class ServerError(AssertionError):
    """The server failed to start, died, or did not do what a test waited for.

    The message ends with the server's log, so the test report shows it. An
    ``AssertionError``, because for a test this is a failure, not an error in
    the test's own code.
    """


def _check_settings(settings: Mapping[str, Any], prefork: bool) -> None:
    """Raise :class:`~wsgikit.config.ConfigError` for a name that is not a setting, or
    (pre-fork) one that cannot be handed to another process; the same one line in
    thread and pre-fork mode."""
    import difflib

    for name in settings:
        if name == "config":
            continue
        if name not in SETTINGS:
            close = difflib.get_close_matches(name, list(SETTINGS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(name, f"no such setting{hint}")
        if prefork and not SETTINGS[name].flags:
            raise ConfigError(
                name,
                "a pre-fork server runs in another process and this setting has no "
                "command-line flag: set it in a config file given as config='path'",
            )
    if settings.get("daemon"):
        raise ConfigError(
            "daemon", "a test server runs in the foreground (the test holds its PID and log)"
        )


def _cli_args(settings: Mapping[str, Any]) -> list[str]:
    """Command-line flags for settings given by name (``threads=4`` -> ``--threads 4``)."""
    args: list[str] = []
    for name, value in settings.items():
        if name == "config":
            flag = "--config"
        else:
            flag = [f for f in SETTINGS[name].flags if f.startswith("--")][0]
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is True:
                args.append(flag)
            elif item is not False and item is not None:
                args += [flag, str(item)]
    return args


def import_string_of(app: Any) -> str:
    """``module:name`` for an app defined at the top level of an importable module.

    A pre-fork server loads the app in other processes, so it needs to know
    where to import it from; a function or object bound to a module-level name
    (a Flask app, a plain WSGI function) is found by identity. Anything else
    gets a ``TypeError`` saying to pass an import string.
    """
    if isinstance(app, str):
        return app
    candidates = [getattr(app, "__module__", None), getattr(app, "import_name", None)]
    for module_name in candidates:
        module = sys.modules.get(module_name) if isinstance(module_name, str) else None
        if module is None or module_name == "__main__":
            continue
        qualname = getattr(app, "__qualname__", None)
        if isinstance(qualname, str) and "<" not in qualname and "." not in qualname:
            if getattr(module, qualname, None) is app:
                return f"{module_name}:{qualname}"
        for name, value in vars(module).items():
            if value is app and not name.startswith("_"):
                return f"{module_name}:{name}"
    raise TypeError(
        f"a pre-fork server imports the app in its worker processes: give it as an import "
        f"string like 'myproject.wsgi:application' (could not find {app!r} at the top level "
        f"of an importable module)"
    )


def _child_pythonpath() -> str:
    """The import path entries this process has in front of the standard ones (the
    test's rootdir, pytest's ``pythonpath``, ``$PYTHONPATH``), so the server imports
    the same modules the test sees."""
    standard = {os.path.realpath(p) for p in sysconfig.get_paths().values() if isinstance(p, str)}
    entries: list[str] = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.getcwd())
        if path in standard or path.endswith(".zip"):
            break
        if os.path.isdir(path) and path not in entries:
            entries.append(path)
    inherited = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(entries + ([inherited] if inherited else []))


# ------------------------------------------------------------------ client


@dataclass
class Response:
    """A response as the client saw it: ``status``, ``reason``, ``headers``, ``body``."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes
    reason: str = ""

    @property
    def text(self) -> str:
        """The body decoded with the charset of Content-Type (UTF-8 when none)."""
        charset = self.headers.get_content_charset() or "utf-8"
        return self.body.decode(charset, "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.body)

    @property
    def ok(self) -> bool:
        """Whether the status is below 400."""
        return self.status < 400

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 80 else self.body[:77] + b"..."
        return f"<Response {self.status} {self.reason} {body!r}>"


class Client:
    """Real HTTP to a server, one connection per request (``http.client``).

    ``client.get("/users", params={"page": 2})``, ``client.post("/users",
    json={...})``, ``client.post("/login", data={"user": "x"})`` (a form);
    each returns a :class:`Response`. A request that fails because the server
    died raises :class:`ServerError` with the server's log.
    """

    def __init__(self, server: LiveServer, timeout: float = 10.0) -> None:
        self.server = server
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str = "/",
        *,
        body: bytes | str | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Send one request and read the whole response."""
        head = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json).encode()
            head.setdefault("Content-Type", "application/json")
        elif data is not None:
            body = urllib.parse.urlencode(data).encode()
            head.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if isinstance(body, str):
            body = body.encode()
        if params:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
        wait = self.timeout if timeout is None else timeout
        server = self.server
        conn = (
            http.client.HTTPSConnection(
                server.host, server.port, timeout=wait, context=server._client_context()
            )
            if server.tls
            else http.client.HTTPConnection(server.host, server.port, timeout=wait)
        )
        try:
            conn.request(method, path, body=body, headers=head)
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read(), resp.reason)
        except (OSError, http.client.HTTPException):
            self.server.check_alive()  # a dead server says so, with its log
            raise
        finally:
            conn.close()

    def get(self, path: str = "/", **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def head(self, path: str = "/", **kwargs: Any) -> Response:
        return self.request("HEAD", path, **kwargs)

    def options(self, path: str = "/", **kwargs: Any) -> Response:
        return self.request("OPTIONS", path, **kwargs)

    def post(self, path: str = "/", **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str = "/", **kwargs: Any) -> Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str = "/", **kwargs: Any) -> Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str = "/", **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)


# ------------------------------------------------------------------ server


class LiveServer:
    """Serve a WSGI app on 127.0.0.1 for the duration of a ``with`` block.

    ``app`` is a WSGI callable or an import string. ``workers=0`` (the
    default) serves from a thread; ``workers >= 1`` runs ``python -m wsgikit``
    in a subprocess (an app given as a callable must then live at the top
    level of a module, see :func:`import_string_of`). Other keyword arguments
    are settings of :class:`~wsgikit.config.Config` (thread mode) or the same
    names turned into command-line flags (subprocess mode, e.g. ``threads=4``);
    ``config="path"`` reads a config file too (the working directory's
    ``gunicorn.conf.py`` or ``wsgikit.conf.py`` is not read unless named so).
    ``env`` and ``cwd`` apply to the subprocess, which also gets this process's
    import path. ``port`` 0 (the default) lets the OS choose; a ``certfile``
    setting makes it serve HTTPS, and the client speaks HTTPS to it.

    A name that is not a setting raises :class:`~wsgikit.config.ConfigError` at
    once, in both modes.
    """

    #: Seconds ``stop()`` waits beyond the graceful timeout before it kills.
    stop_margin = 5.0

    def __init__(
        self,
        app: Any,
        *,
        workers: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 30.0,
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
        _check_settings(settings, workers > 0)
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None
        self.client = Client(self)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._thread_error: str = ""
        self._listeners: list[Any] = []
        self._graceful_timeout: float | None = None
        self._log: IO[bytes] | None = None
        self._events: IO[bytes] | None = None
        self._lifeline: Callable[[], object] | None = None
        self._stopping = False
        #: Whether an error already told the test that the server died.
        self.exit_reported = False
        #: How much of the log an error message already carried (so a report need
        #: not show it twice).
        self.log_reported = 0

    # ------------------------------------------------------------ queries

    @property
    def tls(self) -> bool:
        """True when the server was given a ``certfile`` (it serves HTTPS)."""
        return bool(self.settings.get("certfile"))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def _client_context(self) -> Any:
        import ssl

        # Whoever tests a server knows which certificate it was given: only TLS
        # itself is checked here, not who signed it.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    @property
    def prefork(self) -> bool:
        """Whether this is a pre-fork server in a subprocess (else a thread of this process)."""
        return self.workers > 0

    @property
    def master_pid(self) -> int:
        """The PID of the pre-fork master, as the master reported it when ready (the
        subprocess's PID until then)."""
        if self.process is None:
            raise RuntimeError("master_pid: this server runs in a thread, not a pre-fork master")
        return self.events().master_pid or self.process.pid

    @property
    def graceful_timeout(self) -> float:
        """The graceful timeout the server runs with, in seconds, wherever it was set
        (keyword argument, config file, ``WSGIKIT_*``, ``*_CMD_ARGS``): a pre-fork
        server reports the value it resolved."""
        reported = self.events().graceful_timeout if self.prefork else self._graceful_timeout
        if reported is not None:
            return reported
        return float(self.settings.get("graceful_timeout", Config().graceful_timeout))

    @property
    def stop_timeout(self) -> float:
        """How long :meth:`stop` waits before it kills: ``graceful_timeout`` plus
        ``stop_margin``."""
        return self.graceful_timeout + self.stop_margin

    @property
    def worker_pids(self) -> list[int]:
        """PIDs of the workers that serve now (booted, not yet exited), oldest first."""
        return self.events().booted

    @property
    def exit_status(self) -> int | None:
        """The subprocess's exit status once it has exited, else None."""
        return None if self.process is None else self.process.poll()

    def events(self) -> ServerEvents:
        """What the pre-fork server reported so far (see :mod:`wsgikit.readiness`)."""
        if self._events is None:
            return ServerEvents()
        return ServerEvents.parse(_read_all(self._events).decode("ascii", "replace"))

    def log_text(self) -> str:
        """What a subprocess server has logged so far (stdout and stderr)."""
        if self._log is None:
            return ""
        return _read_all(self._log).decode("utf-8", "replace")

    def log_size(self) -> int:
        """The log's length so far; ``log_text()[size:]`` is what came after."""
        return len(self.log_text())

    def check_alive(self) -> None:
        """Raise :class:`ServerError` (with the log) if the server died or its thread failed."""
        if self._thread_error:
            raise ServerError(f"the server thread failed:\n{self._thread_error}")
        if self.process is not None and not self._stopping:
            code = self.process.poll()
            if code is not None:
                self.exit_reported = True
                raise self._error(f"the server exited with {_describe(code)}")

    def _error(self, message: str) -> ServerError:
        if self.process is None:
            return ServerError(message)
        log = self.log_text()
        self.log_reported = len(log)
        if not log:
            log = "(nothing)\n"
        return ServerError(f"{message}\n--- log of the server (pid {self.master_pid}) ---\n{log}")

    # ---------------------------------------------------- requests (old spelling)

    def request(
        self,
        method: str,
        path: str = "/",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Response:
        """Make one request on a new connection; ``self.client`` has more."""
        return self.client.request(method, path, body=body, headers=headers, timeout=timeout)

    def get(self, path: str = "/", **kwargs: Any) -> Response:
        return self.client.get(path, **kwargs)

    def webtest(self) -> Any:
        """A ``webtest.TestApp`` that sends its requests over real HTTP to this server
        (needs the WebTest and WSGIProxy2 packages)."""
        import importlib

        return importlib.import_module("webtest").TestApp(self.url)

    # ---------------------------------------------------------- waiting

    def wait_for(self, condition: Callable[[], T], what: str, timeout: float | None = None) -> T:
        """Poll ``condition`` until it returns something true and return that.

        Raises :class:`ServerError` with the log when the server dies meanwhile or
        ``timeout`` (default ``startup_timeout``) passes.
        """
        deadline = time.monotonic() + (self.startup_timeout if timeout is None else timeout)
        while True:
            value = condition()
            if value:
                return value
            self.check_alive()
            if time.monotonic() >= deadline:
                raise self._error(f"timed out waiting for {what}")
            time.sleep(0.02)

    def wait_for_log(self, text: str, timeout: float | None = None) -> str:
        """Wait until ``text`` appears in the log; return the log."""
        return self.wait_for(
            lambda: self.log_text() if text in self.log_text() else "", repr(text), timeout
        )

    def wait_workers(self, count: int | None = None, timeout: float | None = None) -> list[int]:
        """Wait until ``count`` workers (default: ``workers``) serve; return their PIDs."""
        want = self.workers if count is None else count

        def serving() -> list[int]:
            pids = self.worker_pids
            return pids if len(pids) == want else []

        return self.wait_for(serving, f"{want} booted worker(s)", timeout)

    def signal(self, signum: int) -> None:
        """Send a signal to the pre-fork master."""
        if self.process is None:
            raise RuntimeError("signal(): this server runs in a thread, not a pre-fork master")
        if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            self._stopping = True  # the test stops it: its exit is not a failure
        self.process.send_signal(signum)

    def kill_worker(self, pid: int | None = None, signum: int = _SIGKILL) -> int:
        """Send ``signum`` to a worker (default: the oldest that serves); return its PID."""
        if pid is None:
            pid = (self.worker_pids or self.wait_workers())[0]
        os.kill(pid, signum)
        return pid

    def replace_worker(
        self, pid: int | None = None, signum: int = _SIGKILL, timeout: float | None = None
    ) -> tuple[int, int]:
        """Kill a worker and wait until the master booted its replacement: (old, new)."""
        before = set(self.worker_pids)
        old = self.kill_worker(pid, signum)

        def replaced() -> int:
            state = self.events()
            if old in state.workers:
                return 0
            fresh = [p for p in state.booted if p not in before]
            return fresh[0] if fresh else 0

        return old, self.wait_for(replaced, f"a worker to replace {old}", timeout)

    def reload(self, timeout: float | None = None) -> list[int]:
        """Send HUP and wait until the new generation serves and the old one is gone.

        Returns the new workers' PIDs; raises :class:`ServerError` (with the log,
        which says why) if the new generation failed to boot.
        """
        count = self.events().reloads
        self.signal(signal.SIGHUP)
        return self.wait_reload(count + 1, timeout)

    def wait_reload(self, number: int | None = None, timeout: float | None = None) -> list[int]:
        """Wait until reload ``number`` (1 = the first since start; default: the next
        one) completed; return the new workers' PIDs. A reload that failed (the new
        workers could not load the app; the old ones keep serving) raises
        :class:`ServerError` with the log."""
        want = self.events().reloads + 1 if number is None else number

        def done() -> list[int]:
            state = self.events()
            if state.reloads < want:
                return []
            reload = state.reload_history[want - 1]
            failed = [pid for pid, booted in state.exited if pid in reload.new and not booted]
            if failed:
                raise self._error(
                    f"reload {want} failed: new worker {failed[0]} exited before booting "
                    "(the old workers keep serving)"
                )
            if not reload.new or any(state.workers.get(p) != "booted" for p in reload.new):
                return []
            if any(p in state.workers for p in reload.before):
                return []
            return list(reload.new)

        return self.wait_for(done, f"reload {want} to complete", timeout)

    # ---------------------------------------------------------- lifecycle

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LiveServer:
        """Start serving; return self. Raises :class:`ServerError` (pre-fork, with the log),
        or the error of the app or the settings (thread mode)."""
        if self.workers == 0:
            self._start_thread()
        else:
            self._start_process()
        return self

    def _start_thread(self) -> None:
        from .config_sources import load_config_file
        from .facade import load_app
        from .importer import AppImportError
        from .server import close_listeners, make_server, open_listeners
        from .translate import server_options

        host = f"[{self.host}]" if ":" in self.host else self.host
        settings = dict(self.settings)
        path = settings.pop("config", None)
        if path:
            values, problems = load_config_file(str(path))
            for problem in problems:
                warnings.warn(problem, stacklevel=3)
            settings = {**values, **settings}
        config = Config(**{**settings, "bind": (f"{host}:{self.port}",), "workers": 0})
        self._graceful_timeout = config.graceful_timeout
        try:
            app = load_app(self.app)
        except AppImportError as exc:
            if not exc.details:
                raise
            # Where the app failed is the app's own traceback: put it in the message.
            raise AppImportError(f"{exc}\n{exc.details.rstrip()}", exc.details) from None
        self._listeners = open_listeners(config.bind, config.backlog)
        self.port = self._listeners[0].getsockname()[1]
        try:
            self._server = make_server(app, self._listeners, server_options(config))
        except BaseException:
            close_listeners(self._listeners)
            raise

        def run() -> None:
            try:
                self._server.serve_forever()
            except BaseException:
                self._thread_error = traceback.format_exc()
                raise

        # The socket listens already: connections wait in its backlog until the loop
        # runs, so the server is ready now, with nothing sent through the app.
        self._thread = threading.Thread(target=run, name=f"wsgikit-live-{self.port}", daemon=True)
        self._thread.start()

    def _start_process(self) -> None:
        spec = import_string_of(self.app)
        # The settings given here are checked here, as in thread mode: one line.
        Config(**{k: v for k, v in self.settings.items() if k != "config"})
        # We bind the socket and hand it over as fd://N: the port is known at once,
        # whatever the server logs and wherever it logs it.
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(128)
        except OSError as exc:
            listener.close()
            from .binds import BindError

            reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            where = f"[{self.host}]" if ":" in self.host else self.host
            raise BindError(f"cannot listen on {where}:{self.port}: {reason or exc}") from None
        self.port = listener.getsockname()[1]
        fd = listener.fileno()
        args = [sys.executable, "-m", "wsgikit", spec, "-b", f"fd://{fd}"]
        args += ["-w", str(self.workers)]
        if "config" not in self.settings:
            # Not the working directory's gunicorn.conf.py / wsgikit.conf.py: a test
            # server is what the test says, not what production is configured with.
            args += ["--config", os.devnull]
        if "errorlog" not in self.settings:
            args += ["--error-logfile", "-"]  # into the log the test reads
        args += _cli_args(self.settings)
        # Two files the server writes and we read: its output, and its events. They
        # have no name (nothing to clean up, even after a SIGKILL), outlive stop() (a
        # test reads the log after the with block) and close when this object goes.
        self._log = _anonymous_file(self)
        self._events = _anonymous_file(self)
        # The lifeline: we hold the only write end; when this process is gone, the
        # master reads end-of-file and stops.
        lifeline_read, lifeline_write = os.pipe()
        self._lifeline = weakref.finalize(self, _close, lifeline_write)
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["PYTHONPATH"] = _child_pythonpath()
        env[READY_FD_ENV] = str(self._events.fileno())
        env[LIFELINE_FD_ENV] = str(lifeline_read)
        env["WSGIKIT_DAEMON"] = "false"  # over a config file's daemon = True
        try:
            self.process = subprocess.Popen(
                args,
                stdout=self._log.fileno(),
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                pass_fds=(fd, self._events.fileno(), lifeline_read),
                cwd=self.cwd,
            )
        finally:
            listener.close()
            os.close(lifeline_read)
        try:
            self.wait_for(lambda: self.events().ready, "the server to be ready")
        except ServerError as exc:
            self.stop()
            raise ServerError(f"the server did not start: {exc}") from None
        if self.events().master_pid != self.process.pid:
            # Detached all the same (-D in $GUNICORN_CMD_ARGS or $WSGIKIT_CMD_ARGS):
            # the lifeline stops it.
            master = self.events().master_pid
            self.stop()
            raise self._error(
                f"the server did not start: it detached (daemon mode, master {master}); a "
                "test server must run in the foreground: remove -D from $GUNICORN_CMD_ARGS "
                "or $WSGIKIT_CMD_ARGS"
            )

    def stop(self, timeout: float | None = None) -> int | None:
        """Stop gracefully (SIGTERM / stop()); kill if it does not stop in time.

        The default ``timeout`` is :attr:`stop_timeout`: the ``graceful_timeout`` the
        server runs with (wherever it was set) plus ``stop_margin``, so a graceful stop
        is given the time it was configured with. Returns the subprocess's exit status
        (None in thread mode).
        """
        if timeout is None:
            timeout = self.stop_timeout
        self._stopping = True
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
            master = self.events().master_pid
            if self._lifeline is not None:
                self._lifeline()  # closes it, once; a detached master stops on this
            if master is not None and master != self.process.pid:
                _wait_gone(master, timeout)
        return code


def _anonymous_file(owner: object) -> IO[bytes]:
    """A new empty file without a name (nothing to remove, even after a SIGKILL), in
    append mode for every process that shares it; closed when ``owner`` goes."""
    import fcntl

    file = tempfile.TemporaryFile(prefix="wsgikit-live-", buffering=0)
    flags = fcntl.fcntl(file.fileno(), fcntl.F_GETFL)
    fcntl.fcntl(file.fileno(), fcntl.F_SETFL, flags | os.O_APPEND)
    weakref.finalize(owner, file.close)
    return file


def _read_all(file: IO[bytes]) -> bytes:
    """Everything written to ``file`` so far (``pread``: no shared offset moves)."""
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(file.fileno(), 1 << 16, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _exited(pid: int) -> bool:
    """Whether ``pid`` (not our child) has exited; a zombie its new parent has not
    reaped yet has exited too."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or the number was reused
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[:1] == ["Z"]
    except OSError:
        return False  # no /proc: alive, as kill() said


def _wait_gone(pid: int, timeout: float) -> None:
    """Wait until ``pid`` (not our child) has exited; SIGKILL it after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not _exited(pid):
        if time.monotonic() >= deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            return
        time.sleep(0.05)


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"
