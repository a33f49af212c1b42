"""Shared-memory status block of one worker: heartbeat, counters and busy task slots.

The master creates one anonymous ``MAP_SHARED`` mmap per worker before forking it; the
child writes into it (cheaply, without locks or syscalls) and the master reads it for
timeout checks, stats and metrics. This is the channel from workers to the master:
nothing is polled from files and nothing is sent per task.

Layout: three times (heartbeat, start, boot), then unsigned 64-bit counters (tasks
done, failed, in flight, one per *outcome* kind, one per duration bucket), the sum of
task durations, then one slot per concurrent task (its start, its last progress and a
label). What an outcome or a task means is the caller's business (the HTTP server
counts status classes); this layer only counts.

Times are ``time.monotonic()`` values, which are system-wide on Linux, so parent and
child can compare them. Each counter is one aligned 8-byte word: the master may read
a block in the middle of an update and see one counter ahead of another, never a torn
number. Readers tolerate torn labels: they are diagnostics only.
"""

from __future__ import annotations

import bisect
import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass

#: heartbeat, started, booted_at (0 = not booted).
_TIMES = struct.Struct("<ddd")
#: counters after the times: done, errors, in flight, then outcomes and buckets.
_DONE, _ERRORS, _IN_FLIGHT, _FIXED = 0, 1, 2, 3
#: task start time (0 = slot free), last progress, label length, label bytes.
LABEL_SIZE = 200
_SLOT = struct.Struct(f"<ddH{LABEL_SIZE}s")
_SLOT_SIZE = (_SLOT.size + 7) // 8 * 8  # slots stay 8-byte aligned


@dataclass(frozen=True)
class TaskInfo:
    """One busy task slot as seen by the master: since when it runs, its last progress."""

    index: int
    label: str
    started: float
    progress: float


@dataclass(frozen=True)
class SlotSnapshot:
    """A consistent-enough copy of a worker's status block.

    ``outcomes[k]`` counts tasks finished with outcome ``k``; ``buckets[i]`` counts
    durations ``<= bounds[i]`` and above the bound before (the last one: above every
    bound); ``duration_sum`` is the sum of all recorded durations (seconds).
    """

    heartbeat: float
    started: float
    booted_at: float
    done: int
    errors: int
    tasks: tuple[TaskInfo, ...]
    in_flight: int = 0
    outcomes: tuple[int, ...] = ()
    buckets: tuple[int, ...] = ()
    duration_sum: float = 0.0

    @property
    def booted(self) -> bool:
        """True once the worker called ``ctx.booted()``."""
        return self.booted_at > 0.0


_TIME = struct.Struct("<d")


def encode_label(label: str) -> bytes:
    """UTF-8 encode ``label``, truncated to LABEL_SIZE bytes without splitting a character."""
    raw = label.encode("utf-8", "replace")[:LABEL_SIZE]
    return raw.decode("utf-8", "ignore").encode("utf-8")


class WorkerSlot:
    """The shared status block of one worker, with writer (child) and reader (master) sides.

    ``outcomes``: how many outcome kinds :meth:`task_done` counts; ``bounds``: the
    upper bounds (seconds, increasing) of the task-duration histogram.
    """

    def __init__(
        self, task_slots: int = 1, *, outcomes: int = 0, bounds: Sequence[float] = ()
    ) -> None:
        if task_slots < 1:
            raise ValueError("task_slots must be >= 1")
        if list(bounds) != sorted(set(bounds)):
            raise ValueError("duration bounds must be strictly increasing")
        self.task_slots = task_slots
        self.outcome_kinds = max(0, outcomes)
        self.bounds = tuple(float(b) for b in bounds)
        self._buckets_at = _FIXED + self.outcome_kinds
        self._count_words = self._buckets_at + (len(self.bounds) + 1 if self.bounds else 0)
        sum_at = _TIMES.size + 8 * self._count_words
        self._slots_at = sum_at + 8
        self._mem = mmap.mmap(-1, self._slots_at + _SLOT_SIZE * task_slots)
        self._counts = memoryview(self._mem)[_TIMES.size : sum_at].cast("Q")
        self._sum = memoryview(self._mem)[sum_at : self._slots_at].cast("d")

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return self._mem.closed

    def close(self) -> None:
        """Unmap this process's view of the block (the other side keeps its own)."""
        if not self._mem.closed:
            self._counts.release()
            self._sum.release()
            self._mem.close()

    # -- writer side (worker) -------------------------------------------------------

    def beat(self, now: float) -> None:
        """Record a heartbeat at monotonic time ``now``."""
        _TIME.pack_into(self._mem, 0, now)

    def mark_started(self, now: float) -> None:
        """Record the worker start time (also counts as a heartbeat)."""
        struct.pack_into("<dd", self._mem, 0, now, now)

    def mark_booted(self, now: float) -> None:
        """Record that the worker finished loading and is ready."""
        _TIME.pack_into(self._mem, 16, now)
        self.beat(now)

    def add_counts(self, done: int, errors: int) -> None:
        """Add to the task counters (callers serialize concurrent updates)."""
        self._counts[_DONE] += done
        self._counts[_ERRORS] += errors

    def task_begin(self, index: int, label: str, now: float) -> None:
        """Mark task slot ``index`` busy since ``now`` with ``label``; label first, time last."""
        offset = self._slot_offset(index)
        raw = encode_label(label)
        struct.pack_into(f"<dH{LABEL_SIZE}s", self._mem, offset + 8, now, len(raw), raw)
        _TIME.pack_into(self._mem, offset, now)

    def task_touch(self, index: int, now: float) -> None:
        """Task ``index`` (busy: its owner holds the token) made progress at ``now``."""
        _TIME.pack_into(self._mem, self._slot_offset(index) + 8, now)

    def task_end(self, index: int) -> None:
        """Mark task slot ``index`` free."""
        _TIME.pack_into(self._mem, self._slot_offset(index), 0.0)

    def add_in_flight(self, delta: int) -> None:
        """Tasks began (+1) or ended (-1); callers serialize concurrent updates."""
        self._counts[_IN_FLIGHT] += delta

    def task_done(self, failed: bool, outcome: int, duration: float | None) -> None:
        """Count one finished task: its outcome kind and, when given, its duration.

        An outcome outside ``range(outcomes)`` is counted as done only. Callers
        serialize concurrent updates.
        """
        counts = self._counts
        counts[_DONE] += 1
        if failed:
            counts[_ERRORS] += 1
        if 0 <= outcome < self.outcome_kinds:
            counts[_FIXED + outcome] += 1
        if duration is not None and self.bounds:
            counts[self._buckets_at + bisect.bisect_left(self.bounds, duration)] += 1
            self._sum[0] += duration

    # -- reader side (master) -------------------------------------------------------

    def snapshot(self) -> SlotSnapshot:
        """Read the whole block."""
        heartbeat, started, booted_at = _TIMES.unpack_from(self._mem, 0)
        counts = self._counts.tolist()
        tasks = []
        for index in range(self.task_slots):
            since, progress, length, raw = _SLOT.unpack_from(self._mem, self._slot_offset(index))
            if since > 0.0:
                label = raw[: min(length, LABEL_SIZE)].decode("utf-8", "replace")
                tasks.append(TaskInfo(index, label, since, max(since, progress)))
        return SlotSnapshot(
            heartbeat,
            started,
            booted_at,
            counts[_DONE],
            counts[_ERRORS],
            tuple(tasks),
            in_flight=counts[_IN_FLIGHT],
            outcomes=tuple(counts[_FIXED : self._buckets_at]),
            buckets=tuple(counts[self._buckets_at :]),
            duration_sum=self._sum[0],
        )

    def _slot_offset(self, index: int) -> int:
        if not 0 <= index < self.task_slots:
            raise IndexError(f"task slot {index} out of range(0, {self.task_slots})")
        return self._slots_at + _SLOT_SIZE * index
