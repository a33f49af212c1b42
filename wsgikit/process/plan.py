"""What a generation of workers runs, and the exit status that means "the app cannot boot"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsgikit.process.context import WorkerContext

#: Exit status of a worker (and of the master) when the application failed to load.
BOOT_ERROR_EXIT = 3


@dataclass(frozen=True)
class ReloadPlan:
    """Everything a generation of workers needs; returned by the ``reload`` callable on HUP."""

    worker_main: Callable[[WorkerContext], None]
    workers: int
    timeout: float
    graceful_timeout: float
