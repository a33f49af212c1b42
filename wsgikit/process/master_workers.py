"""Master side: its record of each forked worker, and how to describe how one ended."""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass, field

from wsgikit.process.master_signals import signal_name
from wsgikit.process.memory import resident_memory
from wsgikit.process.shared_slot import SlotSnapshot, WorkerSlot


def describe_exit(status: int) -> str:
    """Human form of a ``waitpid`` status: ``exit code 1`` or ``killed by signal SIGKILL``."""
    if os.WIFSIGNALED(status):
        return f"killed by signal {signal_name(os.WTERMSIG(status))}"
    if os.WIFEXITED(status):
        return f"exit code {os.WEXITSTATUS(status)}"
    return f"status {status}"


def exit_code(status: int) -> int | None:
    """The exit code of a ``waitpid`` status, or None if the process was killed."""
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else None


class KillStage(enum.Enum):
    """How far the master went in killing a worker found stuck."""

    NONE = "none"
    DUMPED = "dumped"  # SIGUSR2: it wrote every thread's stack
    ABORTED = "aborted"  # SIGABRT: its worker_abort hook ran
    KILLED = "killed"  # SIGKILL


@dataclass(eq=False)
class WorkerHandle:
    """One worker as the master sees it; this is the ``worker_info`` handed to hooks.

    ``pid`` is 0 until the fork happened (i.e. during ``pre_fork``).
    """

    worker_id: int
    generation: int
    slot: WorkerSlot
    max_requests: int = 0
    timeout: float = 0.0
    graceful_timeout: float = 0.0
    pid: int = 0
    spawned_at: float = field(default_factory=time.monotonic)
    started: float = field(default_factory=time.time)
    #: Set once the master asked it to stop (retire, scale down, shutdown).
    retiring: bool = False
    retire_deadline: float = 0.0
    #: Escalation when killed for being stuck (or for not stopping in time).
    kill_stage: KillStage = KillStage.NONE
    kill_next_at: float = 0.0
    _last: SlotSnapshot | None = None

    def snapshot(self) -> SlotSnapshot:
        """Current shared status; the last one read once the slot is closed."""
        if not self.slot.closed:
            self._last = self.slot.snapshot()
        if self._last is None:
            return SlotSnapshot(0.0, 0.0, 0.0, 0, 0, ())
        return self._last

    @property
    def age(self) -> float:
        """Seconds since the fork."""
        return time.monotonic() - self.spawned_at

    def stats(self, memory: bool = False) -> dict[str, object]:
        """Per-worker numbers for ``Arbiter.stats()`` and the USR2 log line.

        With ``memory``, also its resident memory (``rss``, bytes; read from /proc),
        its counters by outcome and duration, and what each busy task does.
        """
        snap = self.snapshot()
        now = time.monotonic()
        extra: dict[str, object] = {}
        if memory:
            extra = {
                "rss": resident_memory(self.pid) if self.pid else None,
                "outcomes": list(snap.outcomes),
                "buckets": list(snap.buckets),
                "duration_sum": snap.duration_sum,
                "busy": [
                    {
                        "task": task.label,
                        "running": max(0.0, now - task.started),
                        "idle": max(0.0, now - task.progress),
                    }
                    for task in snap.tasks
                ],
            }
        return {
            "pid": self.pid,
            "worker_id": self.worker_id,
            "generation": self.generation,
            "age": now - self.spawned_at,
            "started": self.started,
            "booted": snap.booted,
            "requests": snap.done,
            "in_flight": max(snap.in_flight, len(snap.tasks)),
            "errors": snap.errors,
            "tasks": [task.label for task in snap.tasks],
            "heartbeat_age": (now - snap.heartbeat) if snap.heartbeat else None,
            "retiring": self.retiring,
            **extra,
        }


@dataclass
class Counters:
    """Task counters summed over workers (those gone too, so totals never go back)."""

    done: int = 0
    errors: int = 0
    outcomes: list[int] = field(default_factory=list)
    buckets: list[int] = field(default_factory=list)
    duration_sum: float = 0.0

    def add(self, snap: SlotSnapshot | Counters) -> None:
        """Add one worker's (or another total's) counters."""
        self.done += snap.done
        self.errors += snap.errors
        self.duration_sum += snap.duration_sum
        for mine, theirs in ((self.outcomes, snap.outcomes), (self.buckets, snap.buckets)):
            if len(mine) < len(theirs):
                mine.extend([0] * (len(theirs) - len(mine)))
            for index, value in enumerate(theirs):
                mine[index] += value

    def copy(self) -> Counters:
        """An independent copy."""
        return Counters(
            self.done, self.errors, list(self.outcomes), list(self.buckets), self.duration_sum
        )


def format_stats(stats: dict[str, object]) -> str:
    """One log line of worker stats."""
    beat = stats["heartbeat_age"]
    beat_text = f"{beat:.1f}s ago" if isinstance(beat, float) else "never"
    age = stats["age"]
    uptime = f"{age:.1f}s" if isinstance(age, float) else "?"
    return (
        f"worker stats: pid={stats['pid']} id={stats['worker_id']} "
        f"requests={stats['requests']} in_flight={stats['in_flight']} "
        f"errors={stats['errors']} uptime={uptime} heartbeat={beat_text}"
    )
