"""Master side: pure policies applied each tick, stuck detection and boot-failure backoff."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    silence = now - snap.heartbeat
    # A worker that runs its task in the thread that beats (a sync worker, or one app
    # thread run by the loop) goes silent with the task: then every task is named.
    reasons = [
        f"task {task.label!r} without progress for {now - task.progress:.1f}s"
        for task in snap.tasks
        if now - task.progress > timeout or silence > timeout
    ]
    if silence > timeout:
        reasons.insert(0, f"no heartbeat for {silence:.1f}s")
    if not reasons:
        return None
    return "; ".join(reasons) + f" (timeout {timeout:g}s)"


@dataclass
class Backoff:
    """When to refill worker slots left empty by workers that died before they booted.

    Only boot failures back off. A booted worker that dies (a request that crashed
    it, an OOM kill) is replaced at once: with a shared delay, one client sending a
    crashing request every half second kept the whole server without workers.

    Each boot failure in a row doubles the delay (``initial`` up to ``cap``) of the
    slot it leaves empty; other slots are not delayed. A worker that boots ends the
    streak and frees the waiting slots. And once the server has served, it never
    sits with no worker at all while a spawn is possible: with none alive, one
    waiting slot is refilled at once (see :meth:`spawns_allowed`).
    """

    initial: float = 0.1
    cap: float = 10.0
    streak: int = 0
    #: When each slot waiting for its delay may be refilled (monotonic seconds).
    waiting: list[float] = field(default_factory=list)

    def boot_failed(self, now: float) -> float:
        """A worker died before booting at ``now``: delay its slot; return the delay."""
        self.streak += 1
        delay = min(self.cap, self.initial * 2.0 ** (self.streak - 1))
        self.waiting.append(now + delay)
        return delay

    def reset(self) -> None:
        """A worker booted (or a new generation did): forget the streak, free the slots."""
        self.streak = 0
        self.waiting.clear()

    def next_due(self) -> float | None:
        """When the next waiting slot may be refilled, if any waits."""
        return min(self.waiting) if self.waiting else None

    def spawns_allowed(self, missing: int, alive: int, now: float, served: bool = True) -> int:
        """How many of ``missing`` workers may be started at ``now`` with ``alive`` running.

        Slots whose delay has not passed are held back, except that a server that has
        ``served`` and has no worker ``alive`` refills one of them at once.
        """
        self.waiting = [due for due in self.waiting if due > now]
        allowed = missing - len(self.waiting)
        if allowed <= 0 < missing and alive == 0 and served:
            self.waiting.remove(min(self.waiting))
            allowed = 1
        return max(0, allowed)
