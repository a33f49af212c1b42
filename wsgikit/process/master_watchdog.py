"""Master side: pure policies applied each tick, stuck detection and crash backoff."""

from __future__ import annotations

from dataclasses import dataclass

from wsgikit.process.shared_slot import SlotSnapshot


def find_stuck(snap: SlotSnapshot, now: float, timeout: float, spawned_at: float) -> str | None:
    """Why this worker counts as stuck at ``now``, or None if it is healthy.

    Before boot only the boot time is bounded; after boot the heartbeat must be fresher
    than ``timeout`` and no task may have been running longer than ``timeout`` (which
    catches a hung thread in a threaded worker whose loop still beats). ``timeout <= 0``
    disables the checks.
    """
    if timeout <= 0:
        return None
    if not snap.booted:
        if now - spawned_at > timeout:
            return f"did not boot within {timeout:g}s"
        return None
    reasons = [
        f"task {task.label!r} without progress for {now - task.progress:.1f}s"
        for task in snap.tasks
        if now - task.progress > timeout
    ]
    silence = now - snap.heartbeat
    if silence > timeout:
        reasons.insert(0, f"no heartbeat for {silence:.1f}s")
    if not reasons:
        return None
    return "; ".join(reasons) + f" (timeout {timeout:g}s)"


@dataclass
class Backoff:
    """Delay before respawning after crashes, doubling while workers die young.

    A crash of a worker that lived at least ``stable_after`` seconds resets the streak and
    is replaced at once; each further quick crash doubles the delay up to ``cap``.
    """

    initial: float = 0.1
    cap: float = 10.0
    stable_after: float = 5.0
    streak: int = 0

    def record_crash(self, lifetime: float) -> float:
        """Register a crash after ``lifetime`` seconds; return the delay before respawning."""
        if lifetime >= self.stable_after:
            self.streak = 0
            return 0.0
        self.streak += 1
        return min(self.cap, self.initial * 2.0 ** (self.streak - 1))

    def reset(self) -> None:
        """Forget the crash streak (e.g. after a reload)."""
        self.streak = 0
