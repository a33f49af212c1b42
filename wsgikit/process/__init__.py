"""Generic pre-fork process supervision: an ``Arbiter`` forks workers that run a callable.

Nothing here knows about HTTP or WSGI; the server layer plugs a ``worker_main`` in.
"""

from wsgikit.process.arbiter import Arbiter
from wsgikit.process.context import WorkerContext
from wsgikit.process.hooks import Hooks
from wsgikit.process.plan import BOOT_ERROR_EXIT, ReloadPlan
from wsgikit.process.posix import (
    PidfileError,
    UserError,
    chdir,
    daemonize,
    pidfile,
    remove_pidfile,
    set_owner,
    set_umask,
    write_pidfile,
)
from wsgikit.process.proctitle import set_proc_title
from wsgikit.process.workers import WorkerHandle

__all__ = [
    "BOOT_ERROR_EXIT",
    "Arbiter",
    "Hooks",
    "PidfileError",
    "ReloadPlan",
    "UserError",
    "WorkerContext",
    "WorkerHandle",
    "chdir",
    "daemonize",
    "pidfile",
    "remove_pidfile",
    "set_owner",
    "set_proc_title",
    "set_umask",
    "write_pidfile",
]
