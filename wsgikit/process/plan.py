"""What a generation of workers runs, and the exit status that means "the app cannot boot"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsgikit.process.worker_context import WorkerContext

#: Exit status of a worker (and of the master) when the application failed to load.
BOOT_ERROR_EXIT = 3


class ReloadRefused(Exception):
    """Raised by an arbiter's ``reload()`` to refuse a reload for a reason that fits one
    line (a setting that cannot be used): the arbiter logs that line, without a
    traceback, and keeps the current workers. Any other exception is logged with its
    traceback."""


@dataclass(frozen=True)
class WorkerPlan:
    """Everything a generation of workers needs.

    The :class:`~wsgikit.process.Arbiter` starts from one and its ``reload``
    callable returns a new one on HUP. ``worker_main(ctx)`` runs in each forked
    worker; it must call ``ctx.booted()`` once it is ready to work, and return
    when asked to stop. ``timeout``: a worker silent (or a task without
    progress) for longer is killed; 0 disables. ``graceful_timeout``: how long
    a stopping worker may take. ``max_requests`` (+ a random 0..``jitter``):
    tasks after which a worker is recycled; 0 disables. ``slots_per_worker``:
    tasks one worker may run at once that are watched for ``timeout``.
    ``outcomes``: how many kinds of task outcome workers count (``task_finished(...,
    outcome=k)``); ``duration_buckets``: upper bounds (seconds) of the task-duration
    histogram. ``max_memory``: bytes of resident memory past which a worker is
    retired gracefully and replaced; 0 disables.
    """

    worker_main: Callable[[WorkerContext], None]
    workers: int
    timeout: float = 30.0
    graceful_timeout: float = 30.0
    max_requests: int = 0
    max_requests_jitter: int = 0
    slots_per_worker: int = 1
    outcomes: int = 0
    duration_buckets: tuple[float, ...] = ()
    max_memory: int = 0

    def __post_init__(self) -> None:
        if self.slots_per_worker < 1:
            raise ValueError("slots_per_worker must be >= 1")
        if list(self.duration_buckets) != sorted(set(self.duration_buckets)):
            raise ValueError("duration_buckets must be strictly increasing")
