"""Unit tests of the pure parts: shared slots, policies, context, signal queue, hooks."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator

import pytest

from wsgikit.process import Hooks, WorkerContext, set_proc_title
from wsgikit.process.master_signals import SignalQueue, signal_name
from wsgikit.process.master_watchdog import Backoff, find_stuck
from wsgikit.process.master_workers import WorkerHandle, describe_exit, exit_code, format_stats
from wsgikit.process.proctitle import master_title, worker_title
from wsgikit.process.shared_slot import LABEL_SIZE, WorkerSlot, encode_label


@pytest.fixture
def slot() -> Iterator[WorkerSlot]:
    s = WorkerSlot(3)
    yield s
    s.close()


def test_slot_roundtrip(slot: WorkerSlot) -> None:
    snap = slot.snapshot()
    assert (snap.heartbeat, snap.booted, snap.done, snap.errors, snap.tasks) == (0, False, 0, 0, ())
    slot.mark_started(10.0)
    slot.beat(11.0)
    slot.mark_booted(12.0)
    slot.add_counts(3, 1)
    slot.add_counts(2, 0)
    slot.task_begin(0, "GET / from 127.0.0.1", 13.0)
    slot.task_begin(2, "x" * 500, 14.0)
    snap = slot.snapshot()
    assert snap.started == 10.0 and snap.heartbeat == 12.0 and snap.booted
    assert (snap.done, snap.errors) == (5, 1)
    assert [(t.index, t.started) for t in snap.tasks] == [(0, 13.0), (2, 14.0)]
    assert snap.tasks[0].label == "GET / from 127.0.0.1"
    assert snap.tasks[1].label == "x" * LABEL_SIZE
    slot.task_end(0)
    assert [t.index for t in slot.snapshot().tasks] == [2]
    with pytest.raises(IndexError):
        slot.task_begin(3, "out of range", 1.0)


def test_label_truncation_keeps_utf8_whole() -> None:
    raw = encode_label("é" * 150)  # 300 bytes encoded
    assert len(raw) == LABEL_SIZE and raw.decode("utf-8") == "é" * 100
    raw = encode_label("a" + "é" * 150)
    assert len(raw) == LABEL_SIZE - 1 and raw.decode("utf-8")


def test_slot_is_shared_with_a_forked_child(slot: WorkerSlot) -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            slot.beat(42.0)
            slot.task_begin(1, "from child", 43.0)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    snap = slot.snapshot()
    assert snap.heartbeat == 42.0 and snap.tasks[0].label == "from child"


def test_slot_validation_and_close() -> None:
    with pytest.raises(ValueError):
        WorkerSlot(0)
    s = WorkerSlot(1)
    s.close()
    s.close()
    assert s.closed


def test_find_stuck(slot: WorkerSlot) -> None:
    assert find_stuck(slot.snapshot(), 100.0, 0, 0.0) is None  # disabled
    assert find_stuck(slot.snapshot(), 100.0, 5, 99.0) is None  # still booting
    assert find_stuck(slot.snapshot(), 100.0, 5, 90.0) == "did not boot within 5s"
    slot.mark_booted(98.0)
    assert find_stuck(slot.snapshot(), 100.0, 5, 90.0) is None
    slot.task_begin(1, "GET /slow", 93.0)
    reason = find_stuck(slot.snapshot(), 100.0, 5, 90.0)
    assert reason == "task 'GET /slow' without progress for 7.0s (timeout 5s)"
    reason = find_stuck(slot.snapshot(), 110.0, 5, 90.0)
    assert reason is not None and reason.startswith("no heartbeat for 12.0s; task 'GET /slow'")
    # The task runs in the thread that beats: the heartbeat stops a moment before the
    # task's own clock runs out, and the task is named all the same.
    slot.task_touch(1, 104.5)
    slot.beat(104.0)
    reason = find_stuck(slot.snapshot(), 109.2, 5, 90.0)
    assert reason == (
        "no heartbeat for 5.2s; task 'GET /slow' without progress for 4.7s (timeout 5s)"
    )


def test_backoff_doubles_per_boot_failure_caps_and_resets() -> None:
    backoff = Backoff(initial=0.1, cap=0.5)
    assert [backoff.boot_failed(100.0) for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert backoff.next_due() == 100.1
    # Five slots wait; a sixth empty slot (a booted worker died) is refilled at once.
    assert backoff.spawns_allowed(missing=6, alive=1, now=100.0) == 1
    assert backoff.spawns_allowed(missing=5, alive=1, now=100.3) == 2  # 0.1 and 0.2 passed
    backoff.reset()
    assert backoff.next_due() is None and backoff.boot_failed(0.0) == 0.1


def test_backoff_never_leaves_a_server_without_workers() -> None:
    backoff = Backoff(initial=10.0)
    backoff.boot_failed(0.0)
    backoff.boot_failed(0.0)
    assert backoff.spawns_allowed(missing=2, alive=1, now=1.0) == 0
    assert backoff.spawns_allowed(missing=2, alive=0, now=1.0) == 1  # one at once
    assert len(backoff.waiting) == 1
    assert backoff.spawns_allowed(missing=1, alive=0, now=1.0, served=False) == 0  # first boot


def test_describe_exit_and_stats(slot: WorkerSlot) -> None:
    assert describe_exit(0x0100) == "exit code 1"
    assert exit_code(0x0300) == 3
    assert describe_exit(signal.SIGKILL) == "killed by signal SIGKILL"
    assert exit_code(signal.SIGKILL) is None
    assert describe_exit(0x137F) == f"status {0x137F}"  # stopped, not exited
    assert signal_name(999) == "signal 999"
    handle = WorkerHandle(worker_id=7, generation=1, slot=slot, pid=1234)
    stats = handle.stats()
    assert stats["heartbeat_age"] is None and stats["requests"] == 0
    assert "heartbeat=never" in format_stats(stats)
    slot.mark_booted(handle.spawned_at)
    slot.add_counts(4, 1)
    slot.task_begin(0, "busy", handle.spawned_at)
    handle.snapshot()
    handle.slot.close()
    assert handle.snapshot().booted  # the last read survives the close
    line = format_stats(handle.stats())
    assert "pid=1234 id=7 requests=4 in_flight=1 errors=1" in line
    assert WorkerHandle(1, 1, WorkerSlot(1)).snapshot().done == 0


def make_ctx(slots: int = 2, max_requests: int = 0, ppid: int | None = None) -> WorkerContext:
    return WorkerContext(
        5, WorkerSlot(slots), ppid=os.getppid() if ppid is None else ppid, max_requests=max_requests
    )


def test_context_tasks_counts_and_max_requests() -> None:
    ctx = make_ctx(slots=2, max_requests=3)
    stops: list[bool] = []
    ctx.add_stop_callback(stops.append)
    a = ctx.task_started("a")
    b = ctx.task_started("b")
    c = ctx.task_started("c")  # more tasks than slots: counted, not watched
    assert {a, b} == {0, 1} and c == -1
    assert sorted(t.label for t in ctx._slot.snapshot().tasks) == ["a", "b"]
    ctx.task_finished(c)
    ctx.task_finished(a, failed=True)
    assert stops == [] and not ctx.stopping
    ctx.task_finished(b)
    assert stops == [True] and ctx.stopping
    snap = ctx._slot.snapshot()
    assert (snap.done, snap.errors, snap.tasks) == (3, 1, ())


def test_context_threads_share_slots() -> None:
    ctx = make_ctx(slots=4)

    def work() -> None:
        for _ in range(200):
            ctx.task_finished(ctx.task_started("t"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ctx._slot.snapshot().done == 800


def test_context_booted_stop_and_reopen() -> None:
    booted: list[WorkerContext] = []
    ctx = WorkerContext(1, WorkerSlot(1), ppid=os.getppid(), on_booted=booted.append)
    ctx.booted()
    ctx.booted()
    assert booted == [ctx] and ctx.is_booted and ctx._slot.snapshot().booted
    stops: list[bool] = []
    ctx.add_stop_callback(stops.append)
    assert ctx.has_stop_callbacks
    ctx.request_stop(True)
    ctx.request_stop(True)
    ctx.request_stop(False)
    ctx.request_stop(True)
    assert stops == [True, False]
    reopened: list[int] = []
    ctx.add_reopen_callback(lambda: reopened.append(1))
    ctx.reopen()
    assert reopened == [1]


def test_context_tells_who_bounds_an_orphans_stop() -> None:
    ctx = make_ctx(ppid=1_000_000_000)
    told: list[int] = []
    ctx.on_orphaned = lambda: told.append(1)  # a forked worker: SIGTERM to itself
    ctx._next_parent_check = 0.0
    ctx.notify()
    assert told == [1]


def test_context_notices_orphaning() -> None:
    ctx = make_ctx(ppid=1_000_000_000)
    assert not ctx.parent_alive()
    ctx._next_parent_check = 0.0
    ctx.notify()
    assert ctx.stopping and ctx.graceful
    ok = make_ctx()
    assert ok.parent_alive()
    ok._next_parent_check = 0.0
    ok.notify()
    assert not ok.stopping and ok._slot.snapshot().heartbeat > 0


def test_signal_queue_records_and_wakes() -> None:
    queue = SignalQueue([signal.SIGUSR1])
    queue.install()
    try:
        assert queue.wait(0.01) == []
        os.kill(os.getpid(), signal.SIGUSR1)
        assert queue.wait(1.0) == [signal.SIGUSR1]
        queue.push(signal.SIGHUP)
        queue.wake()
        assert queue.wait(1.0) == [signal.SIGHUP]
        woken = threading.Timer(0.05, queue.wake)
        woken.start()
        assert queue.wait(5.0) == []
    finally:
        queue.close()
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL or callable(
        signal.getsignal(signal.SIGUSR1)
    )
    queue.wake()  # closed pipe: ignored


def test_hooks_call_logs_and_survives(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("wsgikit.test.hooks")
    seen: list[tuple[int, ...]] = []
    hooks = Hooks(on_exit=lambda *args: seen.append(args))
    hooks.call(logger, "on_exit", 1, 2)
    hooks.call(logger, "when_ready", 1)  # unset: nothing

    def boom(*args: object) -> None:
        raise RuntimeError("broken hook")

    hooks.on_reload = boom
    with caplog.at_level(logging.ERROR, logger="wsgikit.test.hooks"):
        hooks.call(logger, "on_reload", 1)
    assert seen == [(1, 2)]
    assert "hook on_reload raised" in caplog.text and "broken hook" in caplog.text
    # The supervisor knows nothing of requests: those hooks belong to the server layer.
    assert "pre_request" not in Hooks.names() and len(Hooks.names()) == 12


def test_proc_title() -> None:
    assert master_title("app") == "wsgikit: master [app]"
    assert worker_title("app") == "wsgikit: worker [app]"
    import setproctitle

    before = setproctitle.getproctitle()
    try:
        assert set_proc_title("wsgikit: test")
        assert setproctitle.getproctitle() == "wsgikit: test"
    finally:
        setproctitle.setproctitle(before)
