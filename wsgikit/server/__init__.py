"""Socket I/O and the worker loops (sync; threaded).

A worker loop serves listening sockets it is given, with the options it is
given (:class:`ServerOptions`), and reports liveness to a :class:`Monitor`; it
does not know whether it runs in a supervised child process, a thread or the
main process, nor where its options came from.
"""

from ..binds import Address, BindError, parse_bind
from .factory import make_server
from .listeners import (
    close_listeners,
    describe,
    open_listener,
    open_listeners,
    owned_unix_paths,
    systemd_sockets,
)
from .loop import WorkerLoop
from .monitor import Monitor, NullMonitor
from .options import DEFAULT_LIMITS, RequestHook, ServerOptions
from .request import AccessLog, RequestHandler
from .sync import SyncServer
from .threaded import ThreadedServer

__all__ = [
    "DEFAULT_LIMITS",
    "AccessLog",
    "Address",
    "BindError",
    "Monitor",
    "NullMonitor",
    "RequestHandler",
    "RequestHook",
    "ServerOptions",
    "SyncServer",
    "ThreadedServer",
    "WorkerLoop",
    "close_listeners",
    "describe",
    "make_server",
    "open_listener",
    "open_listeners",
    "owned_unix_paths",
    "parse_bind",
    "systemd_sockets",
]
