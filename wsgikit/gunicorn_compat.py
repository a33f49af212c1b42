"""Gunicorn's hooks, called with Gunicorn's arguments: a ``gunicorn.conf.py`` works unchanged.

A Gunicorn config file defines ``post_fork(server, worker)``, ``pre_request(worker,
req)``, ``post_request(worker, req, environ, resp)`` and the rest, and reads
``server.log``, ``server.cfg``, ``worker.pid``, ``worker.age``, ``req.path``,
``resp.status`` and so on. The layers below know nothing of Gunicorn: the supervisor
calls its hooks with its own :class:`~wsgikit.process.Arbiter`, ``WorkerHandle`` and
``WorkerContext``, the server with its monitor, the environ and a
:class:`~wsgikit.wsgi.ResponseInfo`. This module, used by :mod:`wsgikit.translate`,
wraps each hook of a :class:`~wsgikit.config.Config` so that it receives objects with
Gunicorn's attribute names instead. One :class:`GunicornWorker` stands for a worker
process for its whole life, so a hook may keep state on it (``post_fork`` sets an
attribute, ``pre_request`` reads it), as with Gunicorn.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from .config import Config
from .process import Hooks

__all__ = [
    "GunicornConfig",
    "GunicornRequest",
    "GunicornResponse",
    "GunicornServer",
    "GunicornWorker",
    "GunicornHooks",
]

Hook = Callable[..., Any]
ERROR_LOGGER = "wsgikit.error"


class GunicornConfig:
    """``server.cfg`` / ``worker.cfg``: the settings under Gunicorn's names.

    Every setting of :class:`~wsgikit.config.Config` is an attribute; as in Gunicorn,
    ``workers`` is the resolved count, ``bind`` and ``address`` are lists, and
    ``worker_class_str`` names the worker class.
    """

    def __init__(self, config: Config) -> None:
        self._config = config

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)

    @property
    def workers(self) -> int:
        return self._config.resolved_workers

    @property
    def bind(self) -> list[str]:
        return list(self._config.bind)

    @property
    def address(self) -> list[str]:
        return list(self._config.bind)

    @property
    def worker_class_str(self) -> str:
        return self._config.resolved_worker_class

    @property
    def settings(self) -> dict[str, Any]:
        return self._config.as_dict()


class GunicornWorker:
    """A worker as Gunicorn's hooks see it (``gunicorn.workers.base.Worker``).

    ``pid``, ``ppid``, ``age`` (the worker's ordinal, 1 for the first one the master
    started), ``log``, ``cfg``, ``alive`` (False once it was asked to stop),
    ``booted``, ``nr`` (requests handled), ``max_requests``, ``timeout``, ``notify()``.
    """

    def __init__(self, age: int, log: logging.Logger, cfg: GunicornConfig) -> None:
        self.age = age
        self.log = log
        self.cfg = cfg
        self.timeout = cfg.timeout
        self._pid = 0
        self._source: Any = None  # the WorkerHandle, then the WorkerContext (or monitor)

    def _attach(self, source: Any) -> GunicornWorker:
        if source is not None:
            self._source = source
            pid = getattr(source, "pid", 0)
            if pid:
                self._pid = pid
        return self

    @property
    def pid(self) -> int | str:
        """The worker's pid (``"[booting]"`` in ``pre_fork``, as in Gunicorn)."""
        return int(getattr(self._source, "pid", 0) or 0) or self._pid or "[booting]"

    @property
    def ppid(self) -> int:
        ppid = getattr(self._source, "ppid", 0)
        if ppid:
            return int(ppid)
        # Seen from the master (a WorkerHandle), the parent is the master itself.
        return os.getppid() if self._pid == os.getpid() else os.getpid()

    @property
    def alive(self) -> bool:
        source = self._source
        return not (getattr(source, "stopping", False) or getattr(source, "retiring", False))

    @property
    def booted(self) -> bool:
        source = self._source
        if hasattr(source, "is_booted"):
            return bool(source.is_booted)
        if hasattr(source, "snapshot"):
            return bool(source.snapshot().booted)
        return self._pid != 0

    @property
    def nr(self) -> int:
        return int(getattr(self._source, "done", getattr(self._source, "requests", 0)))

    @property
    def max_requests(self) -> int:
        return int(getattr(self._source, "max_requests", 0))

    def notify(self) -> None:
        """A heartbeat, as Gunicorn's ``worker.notify()``."""
        notify = getattr(self._source, "notify", None)
        if notify is not None:
            notify()

    def __repr__(self) -> str:
        return f"<wsgikit worker {self.pid} age {self.age}>"


class GunicornServer:
    """The master as Gunicorn's hooks see it (``gunicorn.arbiter.Arbiter``).

    ``log``, ``cfg``, ``pid``, ``num_workers`` (settable: scales like TTIN/TTOU),
    ``WORKERS`` (pid -> worker), ``proc_name``, ``address``, ``timeout``,
    ``kill_worker(pid, sig)``.
    """

    def __init__(
        self,
        arbiter: Any,
        log: logging.Logger,
        cfg: GunicornConfig,
        worker: Callable[[Any], GunicornWorker] | None = None,
    ) -> None:
        self._arbiter = arbiter
        self.log = log
        self.cfg = cfg
        self.address = cfg.address
        self.timeout = cfg.timeout
        self.proc_name = getattr(arbiter, "proc_name", "wsgikit")
        self.reexec_pid = 0
        self.master_pid = 0
        # The worker object of a WorkerHandle: the same one its hooks see.
        self._worker = worker if worker is not None else _new_worker(log, cfg)

    @property
    def pid(self) -> int:
        return int(getattr(self._arbiter, "pid", 0) or os.getpid())

    @property
    def num_workers(self) -> int:
        return int(self._arbiter.workers)

    @num_workers.setter
    def num_workers(self, value: int) -> None:
        self._arbiter.set_workers(int(value))

    @property
    def WORKERS(self) -> dict[int, GunicornWorker]:  # noqa: N802 - Gunicorn's name
        """pid -> worker, for every live worker (retiring ones too), oldest first.

        Built from the arbiter's own records each time it is read, so it is right in
        every master-side hook (a worker that exited is gone by ``child_exit``, as in
        Gunicorn). In a worker process, the arbiter's records are the master's as they
        were at the fork.
        """
        handles = getattr(self._arbiter, "worker_handles", None)
        if handles is None:
            return {}
        return {h.pid: self._worker(h) for h in handles() if h.pid}

    def kill_worker(self, pid: int, sig: int = signal.SIGTERM) -> None:
        """Send ``sig`` to worker ``pid`` (it is replaced when it exits)."""
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


class GunicornRequest:
    """A request as Gunicorn's ``pre_request``/``post_request`` see it.

    ``method``, ``uri`` (the raw target), ``path`` (its path, not percent-decoded),
    ``query``, ``fragment``,
    ``version`` (``(1, 1)``), ``headers`` (a list of ``(NAME, value)``, names upper-cased
    as Gunicorn does), ``scheme``, ``remote_addr``/``peer_addr``, ``body`` (the
    ``wsgi.input`` stream), and ``environ``.
    """

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "")
        self.uri = environ.get("RAW_URI", "")
        self.path = _raw_path(self.uri) if self.uri else environ.get("PATH_INFO", "")
        self.query = environ.get("QUERY_STRING", "")
        self.fragment = ""
        major, _, minor = environ.get("SERVER_PROTOCOL", "HTTP/1.1")[5:].partition(".")
        self.version = (int(major or 1), int(minor or 0))
        self.scheme = environ.get("wsgi.url_scheme", "http")
        port = environ.get("REMOTE_PORT") or 0
        self.peer_addr = self.remote_addr = (environ.get("REMOTE_ADDR", ""), int(port))
        self.body = environ.get("wsgi.input")
        self.headers = _headers(environ)
        self.trailers: list[tuple[str, str]] = []

    def __repr__(self) -> str:
        return f"<wsgikit request {self.method} {self.uri}>"


def _raw_path(uri: str) -> str:
    """The path of request target ``uri`` as the client sent it (not percent-decoded,
    unlike ``PATH_INFO``), as Gunicorn's ``req.path``: ``/x%20y`` for ``/x%20y?a=1``,
    ``/p`` for ``http://host/p``."""
    target = uri.partition("#")[0].partition("?")[0]
    if not target.startswith("/") and "://" in target:  # absolute-form
        authority_and_path = target.partition("://")[2]
        slash = authority_and_path.find("/")
        return authority_and_path[slash:] if slash >= 0 else ""
    return target


def _new_worker(log: logging.Logger, cfg: GunicornConfig) -> Callable[[Any], GunicornWorker]:
    """A worker object per handle, for a :class:`GunicornServer` made on its own."""

    def worker(source: Any) -> GunicornWorker:
        return GunicornWorker(getattr(source, "worker_id", 0), log, cfg)._attach(source)

    return worker


def _headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-"), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            headers.append((key.replace("_", "-"), value))
    return headers


class GunicornResponse:
    """A response as Gunicorn's ``post_request`` sees it.

    ``status`` (``"200 OK"``), ``status_code`` (200), ``headers`` (the app's list),
    ``sent`` and ``response_length`` (body bytes sent), ``version``.
    """

    def __init__(self, info: Any) -> None:
        code = int(getattr(info, "status", 0) or 0)
        headers = getattr(info, "headers", None)
        self.status_code = code
        self.status = str(getattr(info, "status_line", "") or _status_line(code))
        self.headers: list[tuple[str, str]] = list(headers or [])
        self.sent = int(getattr(info, "sent", 0) or 0)
        self.response_length = self.sent
        self.version = "wsgikit"
        self.info = info


def _status_line(code: int) -> str:
    from http import HTTPStatus

    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _positional_count(fn: Hook) -> int | None:
    """How many positional arguments ``fn`` takes (None: any number)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for param in params:
        if param.kind is param.VAR_POSITIONAL:
            return None
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


class GunicornHooks:
    """Wraps the hooks of a :class:`Config` so that they get Gunicorn's arguments.

    One instance per :class:`Config` (one per generation of workers): it keeps one
    :class:`GunicornServer` and one :class:`GunicornWorker` per worker, so the objects
    a hook sees are the same from one call to the next.
    """

    def __init__(
        self,
        config: Config,
        log: logging.Logger | None = None,
        *,
        previous: GunicornHooks | None = None,
    ) -> None:
        self.config = config
        self.cfg = GunicornConfig(config)
        self.log = log if log is not None else logging.getLogger(ERROR_LOGGER)
        self._server: GunicornServer | None = None
        self._workers: dict[int, GunicornWorker] = {}
        self._local: GunicornWorker | None = None  # the worker of this process
        if previous is not None:  # a reload: the same workers, the new settings
            self._workers = previous._workers
            self._server = previous._server
            if self._server is not None:
                self._server.cfg = self.cfg
                self._server._worker = self.worker
        self._request = threading.local()  # the req pre_request saw, for post_request

    # -- the objects ------------------------------------------------------------------

    def server(self, arbiter: Any) -> GunicornServer:
        if self._server is None or self._server._arbiter is not arbiter:
            self._server = GunicornServer(arbiter, self.log, self.cfg, self.worker)
        return self._server

    def worker(self, source: Any) -> GunicornWorker:
        """The worker for a ``WorkerHandle`` or ``WorkerContext`` (by its ordinal), or for
        the server's monitor in a worker process (or in one process with workers=0)."""
        age = getattr(source, "worker_id", None)
        if age is None:  # a monitor: this process's worker
            if self._local is None:
                self._local = GunicornWorker(0, self.log, self.cfg)
                self._local._pid = os.getpid()
            return self._local._attach(source if hasattr(source, "notify") else None)
        worker = self._workers.get(age)
        if worker is None:
            worker = self._workers[age] = GunicornWorker(age, self.log, self.cfg)
        worker._attach(source)
        if worker._pid and worker._pid == os.getpid():
            self._local = worker  # in the worker process: the one pre_request sees
        return worker

    def _forget(self, handle: Any) -> None:
        """A worker exited (``child_exit`` in the master): drop its object."""
        self._workers.pop(getattr(handle, "worker_id", -1), None)

    # -- the hooks --------------------------------------------------------------------

    def process_hooks(self) -> Hooks:
        """The supervisor's :class:`Hooks`, each calling the config's hook Gunicorn's way."""
        c = self.config
        server, worker = self.server, self.worker
        wrapped: dict[str, Hook | None] = {
            "on_starting": _wrap(c.on_starting, lambda a: (server(a),)),
            "when_ready": _wrap(c.when_ready, lambda a: (server(a),)),
            "on_reload": _wrap(c.on_reload, lambda a: (server(a),)),
            "on_exit": _wrap(c.on_exit, lambda a: (server(a),)),
            "pre_fork": _wrap(c.pre_fork, lambda a, h: (server(a), worker(h))),
            "post_fork": _wrap(c.post_fork, lambda a, h: (server(a), worker(h))),
            # Always wrapped: the worker's object is forgotten once it exited.
            "child_exit": _wrap(
                c.child_exit or _nothing, lambda a, h: (server(a), worker(h)), self._forget
            ),
            "worker_exit": _wrap(c.worker_exit, lambda a, h: (server(a), worker(h))),
            "nworkers_changed": _wrap(
                c.nworkers_changed, lambda a, new, old: (server(a), new, old)
            ),
            "post_worker_init": _wrap(c.post_worker_init, lambda ctx: (worker(ctx),)),
            "worker_int": _wrap(c.worker_int, lambda ctx: (worker(ctx),)),
            "worker_abort": _wrap(c.worker_abort, lambda ctx: (worker(ctx),)),
        }
        return Hooks(**wrapped)

    def pre_request(self) -> Hook | None:
        """``hook(monitor, environ)`` for the server, calling ``pre_request(worker, req)``."""
        hook = self.config.pre_request
        if hook is None:
            return None

        def pre_request(monitor: Any, environ: dict[str, Any]) -> None:
            req = GunicornRequest(environ)
            self._request.current = (id(environ), req)  # the same object in post_request
            hook(self.worker(monitor), req)

        return pre_request

    def post_request(self) -> Hook | None:
        """``hook(monitor, environ, info)`` for the server, calling Gunicorn's
        ``post_request(worker, req, environ, resp)`` (or its two- and three-argument forms,
        which Gunicorn accepts too)."""
        hook = self.config.post_request
        if hook is None:
            return None
        count = _positional_count(hook)

        def post_request(monitor: Any, environ: dict[str, Any], info: Any) -> None:
            seen = getattr(self._request, "current", None)
            self._request.current = None
            req = seen[1] if seen and seen[0] == id(environ) else GunicornRequest(environ)
            args: tuple[Any, ...] = (self.worker(monitor), req, environ, GunicornResponse(info))
            hook(*(args if count is None else args[:count]))

        return post_request


def _nothing(*args: Any) -> None:
    """The ``child_exit`` hook of a config without one."""


def _wrap(
    hook: Hook | None,
    adapt: Callable[..., tuple[Any, ...]],
    after: Callable[..., None] | None = None,
) -> Hook | None:
    if hook is None:
        return None

    def call(*args: Any) -> Any:
        try:
            return hook(*adapt(*args))
        finally:
            if after is not None:
                after(*args[1:])

    call.__name__ = call.__qualname__ = getattr(hook, "__name__", "hook")
    call.__wrapped__ = hook  # type: ignore[attr-defined]
    return call
