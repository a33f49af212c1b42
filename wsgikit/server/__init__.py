"""Socket I/O and the worker loops (sync; threaded).

A worker loop serves listening sockets it is given and reports liveness to a
:class:`Monitor`; it does not know whether it runs in a supervised child
process, a thread or the main process.
"""

from .base import WorkerLoop
from .core import AccessLog, AppRunner
from .listeners import (
    Address,
    BindError,
    close_listeners,
    describe,
    open_listener,
    open_listeners,
    owned_unix_paths,
    parse_bind,
    systemd_sockets,
)
from .monitor import Monitor, NullMonitor
from .sync import SyncServer
from .threaded import ThreadedServer

__all__ = [
    "AccessLog",
    "Address",
    "AppRunner",
    "BindError",
    "Monitor",
    "NullMonitor",
    "SyncServer",
    "ThreadedServer",
    "WorkerLoop",
    "close_listeners",
    "describe",
    "open_listener",
    "open_listeners",
    "owned_unix_paths",
    "parse_bind",
    "systemd_sockets",
]
