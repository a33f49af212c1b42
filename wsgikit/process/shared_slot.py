"""Shared-memory status block of one worker: heartbeat, counters and busy task slots.

The master creates one anonymous ``MAP_SHARED`` mmap per worker before forking it; the
child writes into it (cheaply, without locks or syscalls) and the master reads it for
timeout checks and stats. Times are ``time.monotonic()`` values, which are system-wide
on Linux, so parent and child can compare them. Readers tolerate torn labels: they are
diagnostics only.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass

#: heartbeat, started, booted_at (0 = not booted), tasks done, errors.
_HEADER = struct.Struct("<dddQQ")
#: task start time (0 = slot free), label length, label bytes.
LABEL_SIZE = 200
_SLOT = struct.Struct(f"<dH{LABEL_SIZE}s")


@dataclass(frozen=True)
class TaskInfo:
    """One busy task slot as seen by the master."""

    index: int
    label: str
    started: float


@dataclass(frozen=True)
class SlotSnapshot:
    """A consistent-enough copy of a worker's status block."""

    heartbeat: float
    started: float
    booted_at: float
    done: int
    errors: int
    tasks: tuple[TaskInfo, ...]

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
    """The shared status block of one worker, with writer (child) and reader (master) sides."""

    def __init__(self, task_slots: int = 1) -> None:
        if task_slots < 1:
            raise ValueError("task_slots must be >= 1")
        self.task_slots = task_slots
        self._mem = mmap.mmap(-1, _HEADER.size + _SLOT.size * task_slots)

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return self._mem.closed

    def close(self) -> None:
        """Unmap this process's view of the block (the other side keeps its own)."""
        if not self._mem.closed:
            self._mem.close()

    # -- writer side (worker) -------------------------------------------------------

    def beat(self, now: float) -> None:
        """Record a heartbeat at monotonic time ``now``."""
        struct.pack_into("<d", self._mem, 0, now)

    def mark_started(self, now: float) -> None:
        """Record the worker start time (also counts as a heartbeat)."""
        struct.pack_into("<dd", self._mem, 0, now, now)

    def mark_booted(self, now: float) -> None:
        """Record that the worker finished loading and is ready."""
        struct.pack_into("<d", self._mem, 16, now)
        self.beat(now)

    def add_counts(self, done: int, errors: int) -> None:
        """Add to the task counters (callers serialize concurrent updates)."""
        _, _, _, old_done, old_errors = _HEADER.unpack_from(self._mem, 0)
        struct.pack_into("<QQ", self._mem, 24, old_done + done, old_errors + errors)

    def task_begin(self, index: int, label: str, now: float) -> None:
        """Mark task slot ``index`` busy since ``now`` with ``label``; label first, time last."""
        offset = self._slot_offset(index)
        raw = encode_label(label)
        struct.pack_into(f"<H{LABEL_SIZE}s", self._mem, offset + 8, len(raw), raw)
        struct.pack_into("<d", self._mem, offset, now)

    def task_touch(self, index: int, now: float) -> None:
        """Task ``index`` (busy: its owner holds the token) made progress at ``now``."""
        _TIME.pack_into(self._mem, self._slot_offset(index), now)

    def task_end(self, index: int) -> None:
        """Mark task slot ``index`` free."""
        struct.pack_into("<d", self._mem, self._slot_offset(index), 0.0)

    # -- reader side (master) -------------------------------------------------------

    def snapshot(self) -> SlotSnapshot:
        """Read the whole block."""
        heartbeat, started, booted_at, done, errors = _HEADER.unpack_from(self._mem, 0)
        tasks = []
        for index in range(self.task_slots):
            since, length, raw = _SLOT.unpack_from(self._mem, self._slot_offset(index))
            if since > 0.0:
                label = raw[: min(length, LABEL_SIZE)].decode("utf-8", "replace")
                tasks.append(TaskInfo(index, label, since))
        return SlotSnapshot(heartbeat, started, booted_at, done, errors, tuple(tasks))

    def _slot_offset(self, index: int) -> int:
        if not 0 <= index < self.task_slots:
            raise IndexError(f"task slot {index} out of range(0, {self.task_slots})")
        return _HEADER.size + _SLOT.size * index
