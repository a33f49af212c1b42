"""Generic pre-fork process supervision: an ``Arbiter`` forks workers that run a callable.

Nothing here knows about HTTP or WSGI; the server layer plugs a ``worker_main`` in.
Modules are named for the side of the fork they run on: ``arbiter`` and
``master_*`` in the master, ``worker_*`` in each worker, ``shared_slot`` (the
shared-memory status block) on both.
"""

from wsgikit.process.arbiter import Arbiter
from wsgikit.process.daemon import DaemonLink, daemonize
from wsgikit.process.hooks import Hooks
from wsgikit.process.master_state import MasterState, StateListener
from wsgikit.process.master_workers import KillStage, WorkerHandle
from wsgikit.process.parent_death import (
    parent_death_signal,
    set_parent_death_signal,
    watch_parent,
)
from wsgikit.process.plan import BOOT_ERROR_EXIT, ReloadRefused, WorkerPlan
from wsgikit.process.posix import (
    PidfileError,
    UserError,
    chdir,
    pidfile,
    remove_pidfile,
    set_owner,
    set_umask,
    write_pidfile,
)
from wsgikit.process.proctitle import set_proc_title
from wsgikit.process.systemd_notify import SystemdNotify
from wsgikit.process.worker_context import WorkerContext

__all__ = [
    "BOOT_ERROR_EXIT",
    "Arbiter",
    "DaemonLink",
    "Hooks",
    "KillStage",
    "MasterState",
    "PidfileError",
    "ReloadRefused",
    "StateListener",
    "SystemdNotify",
    "UserError",
    "WorkerContext",
    "WorkerHandle",
    "WorkerPlan",
    "chdir",
    "daemonize",
    "parent_death_signal",
    "pidfile",
    "remove_pidfile",
    "set_owner",
    "set_parent_death_signal",
    "set_proc_title",
    "set_umask",
    "watch_parent",
    "write_pidfile",
]
