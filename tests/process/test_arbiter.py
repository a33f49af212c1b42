"""Arbiter behaviour, run in-process (main thread) and driven from a thread by signals."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    Harness,
    alive,
    booted_workers,
    record,
    run_arbiter,
    signal_master,
    wait_for,
)

from wsgikit.process import BOOT_ERROR_EXIT, Arbiter, Hooks, WorkerContext, WorkerPlan
from wsgikit.process.master_watchdog import Backoff

_PLAN_FIELDS = ("workers", "timeout", "graceful_timeout", "max_requests", "max_requests_jitter")


def make(harness: Harness, main: Any = None, **kw: Any) -> Arbiter:
    kw.setdefault("workers", 2)
    kw.setdefault("timeout", 2.0)
    kw.setdefault("graceful_timeout", 3.0)
    plan = WorkerPlan(main or harness.idle(), **{k: kw.pop(k) for k in _PLAN_FIELDS if k in kw})
    arbiter = Arbiter(plan, logger=harness.logger, **kw)
    arbiter.tick = 0.1
    return arbiter


def test_starts_n_workers_one_first_then_graceful_stop(harness: Harness) -> None:
    booted_before_fork: list[int] = []

    def pre_fork(arbiter: Arbiter, info: Any) -> None:
        booted_before_fork.append(len(harness.events("boot")))

    def slow_boot(ctx: WorkerContext) -> None:
        time.sleep(0.2)
        harness.idle()(ctx)

    arbiter = make(harness, slow_boot, workers=3, hooks=Hooks(pre_fork=pre_fork))

    def driver() -> None:
        assert len(booted_workers(harness, arbiter, 3)) == 3
        signal_master(signal.SIGTERM)

    assert run_arbiter(arbiter, driver) == 0
    # The first worker had booted before the others were forked.
    assert booted_before_fork[0] == 0 and min(booted_before_fork[1:]) >= 1
    assert sorted(harness.pids("exit")) == sorted(harness.pids("boot"))
    assert len(harness.log_lines("exited (exit code 0)")) == 3
    assert harness.log_lines("shutdown: 3 workers")
    assert len(harness.log_lines("worker stats: pid=")) == 3
    assert arbiter.worker_pids() == []


def test_killed_worker_is_replaced_and_logged(harness: Harness) -> None:
    arbiter = make(harness)
    replaced: dict[str, int] = {}

    def driver() -> None:
        wait_for(lambda: len(harness.events("boot")) == 2, "2 workers")
        victim = arbiter.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        # The third worker to boot, once the master has recorded it.
        new = wait_for(
            lambda: set(arbiter.worker_pids()) & set(harness.pids("boot")[2:]),
            "replacement booted and known to the master",
        ).pop()
        replaced.update(old=victim, new=new)
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    lines = [
        line
        for line in harness.log_lines("SIGKILL")
        if str(replaced["old"]) in line and str(replaced["new"]) in line
    ]
    assert lines, harness.log()


@pytest.mark.parametrize("how", ["raise", "exit3"])
def test_boot_error_stops_master_with_status_3(harness: Harness, how: str) -> None:
    def broken(ctx: WorkerContext) -> None:
        record(harness.events_path, "boot")
        if how == "raise":
            raise RuntimeError("cannot import app")
        raise SystemExit(BOOT_ERROR_EXIT)

    arbiter = make(harness, broken, workers=4)
    started = time.monotonic()
    assert run_arbiter(arbiter, lambda: None) == BOOT_ERROR_EXIT
    assert time.monotonic() - started < 5
    assert len(harness.events("boot")) == 1  # no fork loop, the others never started
    assert harness.log_lines("worker failed to boot")
    if how == "raise":
        assert harness.log().count("RuntimeError: cannot import app") == 1
        assert harness.log().count("Traceback") == 1


def test_boot_timeout_stops_master_with_status_3(harness: Harness) -> None:
    def hangs(ctx: WorkerContext) -> None:
        time.sleep(30)

    arbiter = make(harness, hangs, workers=2, timeout=0.5)
    assert run_arbiter(arbiter, lambda: None) == BOOT_ERROR_EXIT
    assert harness.log_lines("did not boot within 0.5s; stopping")


def test_a_booted_worker_that_dies_is_replaced_at_once(harness: Harness) -> None:
    """A request that crashes its worker (segfault, os._exit, OOM kill) must not delay the
    replacement: a shared doubling delay left the server without workers for seconds."""

    def crashes(ctx: WorkerContext) -> None:
        ctx.booted()
        record(harness.events_path, "boot")
        time.sleep(0.02)
        os._exit(1)

    arbiter = make(harness, crashes, workers=1)
    arbiter.backoff = Backoff(initial=60.0, cap=60.0)  # any delay would stall the test

    def driver() -> None:
        wait_for(lambda: len(harness.events("boot")) >= 8, "8 crashes, each replaced")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert len(harness.log_lines("died (exit code 1) after")) >= 7
    assert not harness.log_lines("refilling")


def _boots_then_fails(harness: Harness, first: int, failures: int, gate: Path | None = None) -> Any:
    """A worker main: the ``first`` workers boot, the next ``failures`` die before booting,
    the rest boot (once ``gate`` exists, if given: at most 1 s later)."""

    def main(ctx: WorkerContext) -> None:
        done = len(harness.events("boot")) + len(harness.events("no-boot"))
        if done >= first and len(harness.events("no-boot")) < failures:
            record(harness.events_path, "no-boot")
            os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would, mid-import
        if gate is not None and done >= first:
            deadline = time.monotonic() + 1.0
            while not gate.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        harness.idle()(ctx)

    return main


def test_a_worker_that_cannot_boot_delays_only_its_own_slot(harness: Harness) -> None:
    # The replacement of the booted worker boots only once the test has looked: a boot
    # ends the streak and frees the delayed slot (as it should), which the look must precede.
    gate = harness.tmp_path / "boot"
    arbiter = make(harness, _boots_then_fails(harness, first=2, failures=1, gate=gate))
    arbiter.backoff = Backoff(initial=60.0, cap=60.0)

    def driver() -> None:
        first, second = booted_workers(harness, arbiter, 2)
        os.kill(first, signal.SIGKILL)  # its replacement dies before booting...
        wait_for(lambda: harness.log_lines("refilling its slot in 60.00s"), "slot delayed")
        os.kill(second, signal.SIGKILL)  # ...which must not delay this booted one's
        wait_for(
            lambda: second not in (pids := arbiter.worker_pids()) and pids, "the other refilled"
        )
        assert len(arbiter.worker_pids()) == 1  # the delayed slot still waits
        gate.touch()
        wait_for(lambda: len(harness.events("boot")) == 3, "the other slot booted")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert harness.log_lines("(boot failure 1 in a row)")


def test_boot_failures_double_the_delay_but_never_leave_zero_workers(harness: Harness) -> None:
    arbiter = make(harness, _boots_then_fails(harness, first=1, failures=3), workers=1)
    arbiter.backoff = Backoff(initial=30.0, cap=60.0)

    def driver() -> None:
        (only,) = booted_workers(harness, arbiter, 1)
        os.kill(only, signal.SIGKILL)
        # Three workers in a row die before booting; with no worker left, each is
        # retried at once rather than after 30, 60 and 60 seconds.
        wait_for(lambda: len(harness.events("boot")) == 2, "serving again")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert len(harness.events("no-boot")) == 3
    for line in ("in 30.00s (boot failure 1", "in 60.00s (boot failure 2", "(boot failure 3"):
        assert harness.log_lines(line), harness.log()


def test_silent_worker_is_killed_and_replaced(harness: Harness) -> None:
    def main(ctx: WorkerContext) -> None:
        if not harness.first_time("hung-once"):
            return harness.idle()(ctx)
        ctx.booted()
        record(harness.events_path, "hang")
        time.sleep(30)  # no heartbeat any more

    def worker_abort(ctx: WorkerContext) -> None:
        record(harness.events_path, "abort")

    arbiter = make(harness, main, workers=1, timeout=0.6, hooks=Hooks(worker_abort=worker_abort))

    def driver() -> None:
        wait_for(lambda: harness.events("boot"), "replacement booted")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    (hung,) = harness.pids("hang")
    assert harness.pids("abort") == [hung]
    stuck = harness.log_lines("is stuck: no heartbeat")
    assert stuck and str(hung) in stuck[0]
    assert not alive(hung)


def test_term_lets_running_task_finish(harness: Harness) -> None:
    def main(ctx: WorkerContext) -> None:
        ctx.add_stop_callback(lambda graceful: None)
        ctx.booted()
        token = ctx.task_started("slow job")
        record(harness.events_path, "task")
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            ctx.notify()
            time.sleep(0.02)
        ctx.task_finished(token)
        record(harness.events_path, "done", str(ctx.stopping))
        while not ctx.stopping:
            ctx.notify()
            time.sleep(0.02)

    arbiter = make(harness, main, workers=1, timeout=5)
    sent: list[float] = []

    def driver() -> None:
        wait_for(lambda: harness.events("task"), "task started")
        sent.append(time.monotonic())
        signal_master(signal.SIGTERM)

    assert run_arbiter(arbiter, driver) == 0
    assert time.monotonic() - sent[0] > 1.0
    assert harness.events("done") == [("done", harness.pids("task")[0], "True")]
    assert harness.log_lines("graceful stop (SIGTERM)")
    assert not harness.log_lines("did not stop in time")


def test_int_is_a_fast_stop(harness: Harness) -> None:
    def stubborn(ctx: WorkerContext) -> None:
        ctx.add_stop_callback(lambda graceful: record(harness.events_path, "stop", str(graceful)))
        ctx.booted()
        record(harness.events_path, "boot")
        end = time.monotonic() + 30
        while time.monotonic() < end:
            ctx.notify()
            time.sleep(0.02)

    def worker_int(ctx: WorkerContext) -> None:
        record(harness.events_path, "int")

    arbiter = make(harness, stubborn, workers=1, hooks=Hooks(worker_int=worker_int))
    sent: list[float] = []

    def driver() -> None:
        wait_for(lambda: harness.events("boot"), "booted")
        sent.append(time.monotonic())
        signal_master(signal.SIGINT)

    assert run_arbiter(arbiter, driver) == 0
    assert time.monotonic() - sent[0] < 3
    assert harness.events("stop")[0][2] == "False"
    assert harness.events("int")
    assert harness.log_lines("killing workers that did not stop in time")
    assert harness.log_lines("killed by signal SIGKILL")


def test_quit_during_graceful_stop_switches_to_fast(harness: Harness) -> None:
    def stubborn(ctx: WorkerContext) -> None:
        ctx.add_stop_callback(lambda graceful: None)
        ctx.booted()
        record(harness.events_path, "boot")
        time.sleep(30)

    arbiter = make(harness, stubborn, workers=1, timeout=60, graceful_timeout=30)

    def driver() -> None:
        wait_for(lambda: harness.events("boot"), "booted")
        signal_master(signal.SIGTERM)
        wait_for(lambda: harness.log_lines("graceful stop"), "graceful stop began")
        signal_master(signal.SIGQUIT)

    started = time.monotonic()
    assert run_arbiter(arbiter, driver) == 0
    assert time.monotonic() - started < 8
    assert harness.log_lines("fast stop requested during graceful stop")


def test_hup_starts_new_generation_then_retires_old(harness: Harness) -> None:
    reloads: list[str] = []

    def reload() -> WorkerPlan:
        return WorkerPlan(harness.idle("gen2"), workers=2, timeout=2, graceful_timeout=2)

    hooks = Hooks(on_reload=lambda arbiter: reloads.append("on_reload"))
    arbiter = make(harness, harness.idle("gen1"), reload=reload, hooks=hooks)

    def driver() -> None:
        wait_for(lambda: len(harness.events("boot")) == 2, "gen1 booted")
        signal_master(signal.SIGHUP)
        wait_for(lambda: len(harness.events("exit")) == 2, "gen1 retired")
        wait_for(lambda: len(arbiter.worker_pids()) == 2, "2 workers left")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert reloads == ["on_reload"]
    old = {pid for _, pid, tag in harness.events("boot") if tag == "gen1"}
    new = {pid for _, pid, tag in harness.events("boot") if tag == "gen2"}
    assert len(new) == 2 and not old & new
    exited_first = {pid for _, pid, _ in harness.events("exit")[:2]}
    assert exited_first == old
    log = harness.log()
    complete = log.index("reload complete")
    for pid in old:  # old workers were only retired after the new ones had booted
        assert log.index(f"retiring worker {pid}") > complete


def test_hup_with_failing_reload_keeps_workers(harness: Harness) -> None:
    def reload() -> WorkerPlan:
        raise ValueError("syntax error in new code")

    arbiter = make(harness, reload=reload)

    def driver() -> None:
        before = booted_workers(harness, arbiter, 2)
        signal_master(signal.SIGHUP)
        wait_for(lambda: harness.log_lines("reload failed"), "reload failure logged")
        assert arbiter.worker_pids() == before
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert "ValueError: syntax error in new code" in harness.log()


def test_hup_with_new_generation_failing_boot_keeps_workers(harness: Harness) -> None:
    def broken(ctx: WorkerContext) -> None:
        raise ImportError("new app is broken")

    arbiter = make(harness, reload=lambda: WorkerPlan(broken, 2, 2.0, 2.0))

    def driver() -> None:
        before = booted_workers(harness, arbiter, 2)
        signal_master(signal.SIGHUP)
        wait_for(lambda: harness.log_lines("reload failed: new worker"), "reload aborted")
        wait_for(lambda: arbiter.worker_pids() == before, "only the old workers left")
        signal_master(signal.SIGHUP)  # a second attempt is possible
        wait_for(lambda: len(harness.log_lines("reload failed: new worker")) >= 2, "again")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert len(harness.events("exit")) == 2  # only at the final stop


def test_hup_without_reload_callable_restarts_workers(harness: Harness) -> None:
    def slow_boot(ctx: WorkerContext) -> None:
        if len(harness.events("boot")):
            time.sleep(0.5)  # a reload's workers boot slowly: the second HUP comes meanwhile
        harness.idle()(ctx)

    arbiter = make(harness, slow_boot, workers=1, timeout=5)

    def driver() -> None:
        wait_for(lambda: len(harness.events("boot")) == 1, "booted")
        signal_master(signal.SIGHUP)
        wait_for(lambda: harness.log_lines("reloading: starting"), "first reload")
        signal_master(signal.SIGHUP)  # during the first: done once the first ends
        wait_for(lambda: len(harness.events("exit")) == 2, "two generations retired")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert len(harness.events("boot")) == 3
    assert len(harness.log_lines("reload complete")) == 2


def test_a_hup_during_a_reload_is_applied_after_it(harness: Harness) -> None:
    """Two deploys in quick succession: the workers end up running the second one."""
    deployed = ["v1"]

    def slow_boot(tag: str) -> Any:
        def main(ctx: WorkerContext) -> None:
            time.sleep(0.5)  # importing the new code: the second HUP comes meanwhile
            harness.idle(tag)(ctx)

        return main

    def reload() -> WorkerPlan:  # reads "the config file" when called
        return WorkerPlan(slow_boot(deployed[0]), workers=2, timeout=5, graceful_timeout=2)

    arbiter = make(harness, harness.idle("v1"), reload=reload)

    def driver() -> None:
        wait_for(lambda: len(harness.events("boot")) == 2, "v1 serving")
        deployed[0] = "v2"
        signal_master(signal.SIGHUP)
        wait_for(lambda: harness.log_lines("reloading: starting"), "v2 reload started")
        deployed[0] = "v3"
        signal_master(signal.SIGHUP)
        signal_master(signal.SIGHUP)  # more HUPs meanwhile make one more reload
        wait_for(lambda: len(harness.log_lines("reload complete")) == 2, "second reload")
        wait_for(lambda: len(arbiter.worker_pids()) == 2, "old generations reaped")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    final = {pid for _, pid, tag in harness.events("boot") if tag == "v3"}
    assert len(final) == 2
    assert {pid for _, pid, tag in harness.events("exit") if tag != "v3"} == {
        pid for _, pid, tag in harness.events("boot") if tag != "v3"
    }
    assert len(harness.log_lines("reload complete")) == 2


def test_ttin_ttou_change_the_count_never_below_one(harness: Harness) -> None:
    changes: list[tuple[int, int]] = []
    hooks = Hooks(nworkers_changed=lambda arbiter, new, old: changes.append((new, old)))
    arbiter = make(harness, workers=1, hooks=hooks)

    def driver() -> None:
        wait_for(lambda: len(arbiter.worker_pids()) == 1, "1 worker")
        # Signals of one kind coalesce while pending, so wait for each to be handled.
        for count in (2, 3):
            signal_master(signal.SIGTTIN)
            wait_for(lambda c=count: len(harness.events("boot")) == c, f"{count} workers")
        oldest = arbiter.worker_pids()[0]
        for count in (2, 1):
            signal_master(signal.SIGTTOU)
            wait_for(lambda c=count: arbiter.workers == c, f"target {count}")
        signal_master(signal.SIGTTOU)
        wait_for(lambda: harness.log_lines("TTOU ignored"), "TTOU at 1 ignored")
        wait_for(lambda: len(arbiter.worker_pids()) == 1, "back to 1 worker")
        assert oldest not in arbiter.worker_pids()
        assert arbiter.workers == 1
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert changes == [(2, 1), (3, 2), (2, 3), (1, 2)]
    assert harness.log_lines("TTOU ignored")
    assert harness.log_lines("scaling down")


def test_max_requests_recycles_workers_and_stats(harness: Harness) -> None:
    reopened: list[int] = []

    def busy(ctx: WorkerContext) -> None:
        ctx.booted()
        record(harness.events_path, "boot")
        while not ctx.stopping:
            token = ctx.task_started("job")
            time.sleep(0.01)
            ctx.task_finished(token, failed=True)
        record(harness.events_path, "exit")

    def reopen_logs() -> None:
        if os.getpid() == master:
            reopened.append(os.getpid())
        else:
            record(harness.events_path, "reopen")

    master = os.getpid()
    arbiter = make(harness, busy, workers=1, max_requests=5, max_requests_jitter=3)
    arbiter._reopen_logs = reopen_logs

    def driver() -> None:
        wait_for(lambda: len(harness.events("exit")) >= 3, "3 recycled workers")
        # Its worker is replaced every ~50 ms: between a reap and the next boot there is
        # none to report, so look until one is there.
        stats: Any = wait_for(arbiter.stats, "a live worker's stats")
        assert set(stats[0]) >= {"pid", "age", "started", "requests", "in_flight"}
        signal_master(signal.SIGUSR2)
        wait_for(lambda: harness.log_lines("USR2: "), "stats logged")

        def reopen_asked() -> object:
            # Workers here live ~50 ms; one may exit right as the signal reaches it,
            # so ask again until a live one has answered (reopening is idempotent).
            signal_master(signal.SIGUSR1)
            return reopened and harness.events("reopen")

        wait_for(reopen_asked, "logs reopened")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert not harness.log_lines("died")  # a recycle is not a crash
    assert harness.log_lines("(exit code 0) replaced by worker")
    finals = [line for line in harness.log_lines("worker stats: pid=")]
    assert finals and "errors=" in finals[0]


def test_hooks_are_called_and_a_raising_hook_is_survived(harness: Harness) -> None:
    calls: list[str] = []

    def note(name: str) -> Any:
        def hook(*args: Any) -> None:
            calls.append(name)

        return hook

    def child(name: str) -> Any:
        def hook(*args: Any) -> None:
            record(harness.events_path, name)

        return hook

    def boom(*args: Any) -> None:
        raise RuntimeError("hook bug")

    hooks = Hooks(
        on_starting=note("on_starting"),
        when_ready=boom,
        pre_fork=note("pre_fork"),
        post_fork=child("post_fork"),
        post_worker_init=child("post_worker_init"),
        worker_exit=child("worker_exit"),
        child_exit=note("child_exit"),
        on_exit=note("on_exit"),
    )
    arbiter = make(harness, workers=1, hooks=hooks)

    def driver() -> None:
        wait_for(lambda: harness.events("boot"), "booted")
        wait_for(lambda: harness.log_lines("hook when_ready raised"), "hook failure logged")
        arbiter.stop()

    assert run_arbiter(arbiter, driver) == 0
    assert calls == ["on_starting", "pre_fork", "child_exit", "on_exit"]
    kinds = [kind for kind, _, _ in harness.events()]
    assert kinds == ["post_fork", "post_worker_init", "boot", "exit", "worker_exit"]
    assert "RuntimeError: hook bug" in harness.log()


def test_run_outside_main_thread_is_refused(harness: Harness) -> None:
    arbiter = make(harness)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            arbiter.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(5)
    assert isinstance(errors[0], RuntimeError)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        Arbiter(WorkerPlan(lambda ctx: None, workers=0))
    with pytest.raises(ValueError):
        WorkerPlan(lambda ctx: None, workers=1, slots_per_worker=0)
