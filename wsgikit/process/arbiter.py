"""The master process: keeps N workers alive, watches them, and reacts to signals.

Signal handlers only record (see ``signals.py``); each tick of the loop then reaps dead
workers, kills stuck ones, advances a pending reload and fixes the worker count, each
in its own method. Worker bookkeeping, shared memory, child setup and the pure policies
live in their own modules.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import random
import signal
import time
from collections.abc import Callable, Sequence

from wsgikit.process.hooks import Hooks
from wsgikit.process.master_services import MasterService
from wsgikit.process.master_signals import MASTER_SIGNALS, SignalQueue, signal_name
from wsgikit.process.master_state import MasterState, StateListener
from wsgikit.process.master_watchdog import Backoff, find_stuck
from wsgikit.process.master_workers import (
    Counters,
    KillStage,
    WorkerHandle,
    describe_exit,
    exit_code,
    format_stats,
)
from wsgikit.process.memory import resident_memory
from wsgikit.process.plan import BOOT_ERROR_EXIT, ReloadRefused, WorkerPlan
from wsgikit.process.proctitle import master_title, set_proc_title, worker_title
from wsgikit.process.shared_slot import WorkerSlot
from wsgikit.process.worker_context import WorkerContext
from wsgikit.process.worker_process import WorkerMain, flush_output, run_worker


@dataclasses.dataclass
class Generation:
    """Workers started from one ``WorkerPlan`` (the initial one, or one per HUP)."""

    number: int
    plan: WorkerPlan
    booted_once: bool = False


class Arbiter:
    """A pre-fork supervisor running ``plan.worker_main(ctx)`` in ``plan.workers`` processes.

    ``run()`` must be called from the main thread (it installs signal handlers); it
    returns 0 after a normal stop and ``BOOT_ERROR_EXIT`` when workers cannot boot.
    On SIGHUP, ``reload()`` (if given) returns the plan of the next generation.
    ``services`` share the master's loop (see :mod:`~wsgikit.process.master_services`).
    ``on_state(state, message)`` (if given) is told when the server is ready, reloading
    or stopping (e.g. :class:`~wsgikit.process.SystemdNotify`).
    """

    #: Longest sleep of the loop between checks (seconds).
    tick = 0.5
    #: Sleep while a worker is booting, to notice the booted flag quickly.
    boot_poll = 0.05
    #: Pause between the stack dump, SIGABRT and SIGKILL of a stuck worker.
    stuck_step = 0.5
    #: How long a fast stop (INT/QUIT) waits before SIGKILL.
    fast_stop_timeout = 1.0

    def __init__(
        self,
        plan: WorkerPlan,
        *,
        hooks: Hooks | None = None,
        logger: logging.Logger | None = None,
        reload: Callable[[], WorkerPlan] | None = None,
        reopen_logs: Callable[[], None] | None = None,
        proc_name: str = "wsgikit",
        services: Sequence[MasterService] = (),
        on_state: StateListener | None = None,
    ) -> None:
        if plan.workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = plan.workers
        self.hooks = hooks if hooks is not None else Hooks()
        self.log = logger if logger is not None else logging.getLogger("wsgikit.error")
        self.proc_name = proc_name
        self.backoff = Backoff()
        self.pid = 0
        self._reload = reload
        self._reopen_logs = reopen_logs
        self._on_state = on_state
        self._current = Generation(1, plan)
        self._incoming: Generation | None = None
        self._reload_pending = False  # a HUP came during a reload
        self._handles: dict[int, WorkerHandle] = {}
        self._signals: SignalQueue | None = None
        self._stop_request: bool | None = None
        self._stopping = False
        self._graceful = True
        self._stop_signal = signal.SIGTERM
        self._exit_status = 0
        self._next_id = 0
        self._next_spawn_at = 0.0  # after a failed fork(), no spawn before this
        self._last_boot_failure = 0  # worker id of the last worker that died before booting
        self._replacing: collections.deque[str] = collections.deque()
        self.started = time.time()
        self._started_at = time.monotonic()
        self._spawned = 0
        self._reloads = 0
        self._gone = Counters()  # counters of workers that exited
        self._next_memory_check = 0.0
        self._services = list(services)
        for service in self._services:
            service.attach(self)

    # -- public API -----------------------------------------------------------------

    @property
    def plan(self) -> WorkerPlan:
        """The plan of the current generation of workers."""
        return self._current.plan

    @property
    def timeout(self) -> float:
        """Current worker timeout (seconds); a reload may change it."""
        return self._current.plan.timeout

    @property
    def graceful_timeout(self) -> float:
        """Current graceful stop timeout (seconds); a reload may change it."""
        return self._current.plan.graceful_timeout

    def worker_pids(self) -> list[int]:
        """PIDs of all live workers (including retiring ones), oldest first."""
        return [h.pid for h in self._sorted_handles()]

    def worker_handles(self) -> list[WorkerHandle]:
        """The master's record of each live worker (retiring ones too), oldest first."""
        return self._sorted_handles()

    def stats(self) -> list[dict[str, object]]:
        """Per-worker stats: pid, age, started, requests, in_flight, errors, heartbeat_age..."""
        return [h.stats() for h in self._sorted_handles()]

    @property
    def stopping(self) -> bool:
        """True once a stop began (a graceful one drains the workers)."""
        return self._stopping or self._stop_request is not None

    def status(self) -> dict[str, object]:
        """Everything the master knows, for status, metrics and control clients.

        ``workers`` holds each live worker's ``stats(memory=True)``; ``totals`` sums
        the counters of every worker this master ran (those gone included), so they
        only grow; ``in_flight`` is what the live workers run now.
        """
        workers = [h.stats(memory=True) for h in self._sorted_handles()]
        totals = self._gone.copy()
        in_flight = 0
        for handle in self._handles.values():
            totals.add(handle.snapshot())
            in_flight += handle.snapshot().in_flight
        return {
            "pid": self.pid or os.getpid(),
            "started": self.started,
            "uptime": time.monotonic() - self._started_at,
            "workers_target": self.workers,
            "generation": self._current.number,
            "reloading": self._incoming is not None,
            "stopping": self.stopping,
            "booted_workers": sum(
                1 for h in self._handles.values() if h.snapshot().booted and not h.retiring
            ),
            "spawned": self._spawned,
            "reloads": self._reloads,
            "master_rss": resident_memory(os.getpid()),
            "max_memory": self.plan.max_memory,
            "timeout": self.timeout,
            "graceful_timeout": self.graceful_timeout,
            "duration_bounds": list(self.plan.duration_buckets),
            "totals": {
                "requests": totals.done,
                "errors": totals.errors,
                "in_flight": in_flight,
                "outcomes": totals.outcomes,
                "buckets": totals.buckets,
                "duration_sum": totals.duration_sum,
            },
            "workers": workers,
        }

    def set_workers(self, count: int) -> int:
        """Change the number of workers (>= 1), as TTIN/TTOU do; returns the old number.

        Call it from the master's loop (a service), not from another thread.
        """
        if count < 1:
            raise ValueError("workers must be >= 1")
        old = self.workers
        if count != old:
            self._set_target(count)
        return old

    def kill_worker(self, pid: int, graceful: bool = True) -> bool:
        """Stop one worker (it is replaced): gracefully, or at once (SIGKILL).

        Returns False when ``pid`` is not a live worker. From the master's loop only.
        """
        handle = self._handles.get(pid)
        if handle is None:
            return False
        if graceful:
            if not handle.retiring:
                self._retire(handle, "asked to stop it")
        else:
            self.log.info("killing worker %d (id %d): asked to", handle.pid, handle.worker_id)
            self._kill(handle, signal.SIGKILL)
        return True

    def request(self, signum: int) -> None:
        """Act as if ``signum`` had been received (HUP reload, USR1 reopen, TERM stop...)."""
        if self._signals is not None:
            self._signals.push(signum)

    def stop(self, graceful: bool = True) -> None:
        """Ask the loop to stop; safe from other threads and signal handlers."""
        previous = self._stop_request
        self._stop_request = graceful if previous is None else (previous and graceful)
        if self._signals is not None:
            self._signals.wake()

    def run(self) -> int:
        """Run the master loop in this process until stopped; return the exit status."""
        self.pid = os.getpid()
        self._signals = SignalQueue()
        try:
            self._signals.install()
        except ValueError as exc:
            self._signals.close()
            raise RuntimeError("Arbiter.run() must be called from the main thread") from exc
        set_proc_title(master_title(self.proc_name))
        self.log.info("master %d starting %d workers", self.pid, self.workers)
        self.hooks.call(self.log, "on_starting", self)
        try:
            self._loop()
        except Exception:
            self.log.exception("master loop failed; stopping")
            self._exit_status = 1
            self._begin_stop(False, signal.SIGQUIT, "internal error")
        finally:
            self._shutdown()
            self.hooks.call(self.log, "on_exit", self)
            for service in self._services:
                try:
                    service.close()
                except Exception:
                    self.log.exception("closing %r failed", service)
            self._signals.close()
            self.log.info("master %d exiting with status %d", self.pid, self._exit_status)
        return self._exit_status

    # -- the loop -------------------------------------------------------------------

    def _loop(self) -> None:
        assert self._signals is not None
        announced = False
        while True:
            if self._stop_request is not None:
                self._begin_stop(self._stop_request, signal.SIGINT, "stop()")
            if self._stopping:
                return
            self._reap_workers()
            self._murder_workers()
            self._recycle_workers()
            self._manage_reload()
            self._manage_workers()
            if not announced and self._current.booted_once:
                announced = True
                self.log.info("master %d ready", self.pid)
                self.hooks.call(self.log, "when_ready", self)
                self._announce(MasterState.READY, self._serving())
            for signum in self._wait(self._sleep_time()):
                self._dispatch(signum)

    def _sleep_time(self) -> float:
        now = time.monotonic()
        sleep = self.tick
        if self._incoming is not None or not self._current.booted_once or self._reload_pending:
            sleep = self.boot_poll
        if self._next_spawn_at > now:
            sleep = min(sleep, max(0.01, self._next_spawn_at - now))
        due = self.backoff.next_due()
        if due is not None:
            sleep = min(sleep, max(0.01, due - now))
        for handle in self._handles.values():
            if handle.kill_stage in (KillStage.DUMPED, KillStage.ABORTED):
                sleep = min(sleep, max(0.01, handle.kill_next_at - now))
            elif handle.retiring:
                sleep = min(sleep, max(0.01, handle.retire_deadline - now))
        return sleep

    def _dispatch(self, signum: int) -> None:
        if signum == signal.SIGCHLD:
            return  # reaping happens every tick
        if signum == signal.SIGTERM:
            self._begin_stop(True, signal.SIGTERM)
        elif signum in (signal.SIGINT, signal.SIGQUIT):
            self._begin_stop(False, signal.Signals(signum))
        elif signum == signal.SIGHUP:
            self._start_reload()
        elif signum == signal.SIGTTIN:
            self._set_target(self.workers + 1)
        elif signum == signal.SIGTTOU:
            if self.workers <= 1:
                self.log.info("TTOU ignored: already at 1 worker")
            else:
                self._set_target(self.workers - 1)
        elif signum == signal.SIGUSR1:
            self._reopen()
        elif signum == signal.SIGUSR2:
            self._log_stats("USR2")

    def _begin_stop(self, graceful: bool, sig: signal.Signals, source: str = "") -> None:
        if self._stopping and (graceful or not self._graceful):
            return
        self._stopping = True
        self._graceful = graceful
        self._stop_signal = signal.SIGTERM if graceful else sig
        if sig == signal.SIGTERM and not graceful:
            self._stop_signal = signal.SIGINT
        kind = "graceful" if graceful else "fast"
        why = source or signal_name(sig)
        self.log.info("master %d: %s stop (%s)", self.pid, kind, why)
        self._announce(MasterState.STOPPING, f"{kind} stop ({why})")
        if self._incoming is not None:
            # Its workers are stopped with the others: that is no failed reload, and
            # the server is not READY again.
            self.log.info("reload to generation %d abandoned: stopping", self._incoming.number)
            self._incoming = None
        self._reload_pending = False

    # -- reap -----------------------------------------------------------------------

    def _reap_workers(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            handle = self._handles.pop(pid, None)
            if handle is not None:
                self._worker_exited(handle, status)

    def _worker_exited(self, handle: WorkerHandle, status: int) -> None:
        snap = handle.snapshot()
        handle.slot.close()
        self._gone.add(snap)
        how = describe_exit(status)
        who = f"worker {handle.pid} (id {handle.worker_id})"
        self.hooks.call(self.log, "child_exit", self, handle)
        if self._incoming is not None and handle.generation == self._incoming.number:
            if not snap.booted:
                self._abort_reload(f"new {who} {how} before booting")
            else:
                self.log.warning("new %s exited during reload (%s)", who, how)
            return
        if (
            exit_code(status) == BOOT_ERROR_EXIT
            and not snap.booted
            and handle.generation == self._current.number
            and not (self._stopping or handle.retiring)
        ):
            self.log.error(
                "worker failed to boot: %s exited with status %d before booting; stopping",
                who,
                BOOT_ERROR_EXIT,
            )
            self._exit_status = BOOT_ERROR_EXIT
            self._begin_stop(False, signal.SIGQUIT, "boot error")
            return
        if self._stopping or handle.retiring or handle.generation != self._current.number:
            self.log.info("%s exited (%s)", who, how)
            return
        if not snap.booted:
            # It could not boot (killed while importing the app, a boot timeout):
            # doubling delays for its slot, so a broken host is not a fork loop.
            delay = self.backoff.boot_failed(time.monotonic())
            self._last_boot_failure = handle.worker_id
            self.log.warning(
                "%s died before booting (%s); refilling its slot in %.2fs "
                "(boot failure %d in a row)",
                who,
                how,
                delay,
                self.backoff.streak,
            )
        else:
            self._current.booted_once = True  # even if it died before the loop noticed
            if handle.kill_stage is KillStage.NONE and exit_code(status) != 0:
                # A booted worker died (a crashing request, an OOM kill): replaced at
                # once. (A stuck one was reported when killed; exit 0 is a recycle.)
                self.log.warning("%s died (%s) after %.1fs; replacing it", who, how, handle.age)
        self._replacing.append(f"{handle.pid} ({how})")

    # -- murder ---------------------------------------------------------------------

    def _murder_workers(self) -> None:
        now = time.monotonic()
        for handle in list(self._handles.values()):
            if handle.kill_stage is not KillStage.NONE:
                self._escalate(handle, now)
            elif handle.retiring:
                if now > handle.retire_deadline:
                    self.log.warning(
                        "worker %d did not stop within %gs; killing it",
                        handle.pid,
                        handle.graceful_timeout,
                    )
                    self._kill(handle, signal.SIGKILL)
                    handle.kill_stage = KillStage.KILLED
            else:
                self._check_stuck(handle, now)

    def _check_stuck(self, handle: WorkerHandle, now: float) -> None:
        snap = handle.snapshot()
        reason = find_stuck(snap, now, handle.timeout, handle.spawned_at)
        if reason is None:
            return
        who = f"worker {handle.pid} (id {handle.worker_id})"
        initial_boot = handle.generation == self._current.number and not self._current.booted_once
        if not snap.booted and initial_boot:
            self.log.error(
                "worker failed to boot: %s %s; stopping (a worker_main must call "
                "ctx.booted() once it is ready to work)",
                who,
                reason,
            )
            self._kill(handle, signal.SIGKILL)
            handle.kill_stage = KillStage.KILLED
            self._exit_status = BOOT_ERROR_EXIT
            self._begin_stop(False, signal.SIGQUIT, "boot timeout")
            return
        self.log.error("%s is stuck: %s; dumping its stacks (SIGUSR2) and killing it", who, reason)
        self._kill(handle, signal.SIGUSR2)
        handle.kill_stage = KillStage.DUMPED
        handle.kill_next_at = now + self.stuck_step

    def _escalate(self, handle: WorkerHandle, now: float) -> None:
        """Stuck worker: stack dump -> SIGABRT (``worker_abort``) -> SIGKILL."""
        if handle.kill_stage is KillStage.KILLED or now < handle.kill_next_at:
            return
        if handle.kill_stage is KillStage.DUMPED:
            self._kill(handle, signal.SIGABRT)
            handle.kill_stage = KillStage.ABORTED
            handle.kill_next_at = now + self.stuck_step
        else:
            self._kill(handle, signal.SIGKILL)
            handle.kill_stage = KillStage.KILLED

    # -- manage ---------------------------------------------------------------------

    def _manage_workers(self) -> None:
        if self._stopping:
            return
        gen = self._current
        active = [
            h for h in self._sorted_handles() if h.generation == gen.number and not h.retiring
        ]
        if not gen.booted_once and any(h.snapshot().booted for h in active):
            gen.booted_once = True
        for handle in active[: max(0, len(active) - self.workers)]:
            self._retire(handle, "scaling down")
        if self.backoff.streak and any(
            h.worker_id > self._last_boot_failure and h.snapshot().booted for h in active
        ):
            self.backoff.reset()  # a worker booted since the last failure
        missing = self.workers - len(active)
        if not gen.booted_once:
            missing = min(missing, 1 - len(active))  # boot one worker first
        now = time.monotonic()
        if missing > 0 and now >= self._next_spawn_at:
            allowed = self.backoff.spawns_allowed(missing, len(active), now, gen.booted_once)
            for _ in range(allowed):
                if self._spawn(gen) is None:
                    return
                missing -= 1
        if missing <= 0:
            self._replacing.clear()

    def _set_target(self, count: int) -> None:
        old = self.workers
        self.workers = count
        self.log.info("number of workers: %d -> %d", old, count)
        self.hooks.call(self.log, "nworkers_changed", self, count, old)

    def _retire(self, handle: WorkerHandle, why: str) -> None:
        handle.retiring = True
        handle.retire_deadline = time.monotonic() + handle.graceful_timeout
        self.log.info("retiring worker %d (id %d): %s", handle.pid, handle.worker_id, why)
        self._kill(handle, signal.SIGTERM)

    # -- reload ---------------------------------------------------------------------

    def _start_reload(self) -> None:
        if self._incoming is not None:
            # Two deploys in quick succession: the second one must not be lost. Remember
            # it (any number of HUPs meanwhile make one) and reload again, reading the
            # settings afresh, once this reload has completed or failed.
            if not self._reload_pending:
                self.log.info(
                    "HUP during the reload to generation %d: reloading again after it",
                    self._incoming.number,
                )
            self._reload_pending = True
            return
        if self._reload is None:
            plan = dataclasses.replace(self._current.plan, workers=self.workers)
        else:
            try:
                plan = self._reload()
            except ReloadRefused as exc:
                self.log.error("reload failed: %s; keeping the current workers", exc)
                return
            except Exception:
                self.log.exception("reload failed; keeping the current workers")
                return
        if plan.workers < 1:
            self.log.error(
                "reload failed: workers=%d (must be >= 1); keeping workers", plan.workers
            )
            return
        self.hooks.call(self.log, "on_reload", self)
        gen = Generation(self._current.number + 1, plan)
        self._incoming = gen
        self._reloads += 1
        self._announce(MasterState.RELOADING, f"reloading: starting generation {gen.number}")
        self.log.info(
            "reloading: starting %d new workers (generation %d)", plan.workers, gen.number
        )
        for _ in range(plan.workers):
            if self._spawn(gen) is None:
                self._abort_reload("fork failed")
                return

    def _manage_reload(self) -> None:
        if self._stopping:
            return
        gen = self._incoming
        if gen is None:
            if self._reload_pending:
                self._reload_pending = False
                self._start_reload()
            return
        new = [h for h in self._handles.values() if h.generation == gen.number]
        if len(new) < gen.plan.workers or not all(h.snapshot().booted for h in new):
            return
        old = self._current
        gen.booted_once = True
        self._current, self._incoming = gen, None
        self.backoff.reset()
        self._replacing.clear()
        self.log.info(
            "reload complete: generation %d booted (%s), retiring generation %d",
            gen.number,
            ", ".join(str(h.pid) for h in new),
            old.number,
        )
        for handle in self._sorted_handles():
            if handle.generation != gen.number and not handle.retiring:
                self._retire(handle, f"replaced by generation {gen.number}")
        if gen.plan.workers != self.workers:
            self._set_target(gen.plan.workers)
        self._announce(MasterState.READY, self._serving())

    def _abort_reload(self, why: str) -> None:
        gen = self._incoming
        if gen is None or self.stopping:  # a stop ends the reload (see _begin_stop)
            return
        self._incoming = None
        self.log.error("reload failed: %s; keeping the current workers", why)
        self._announce(MasterState.READY, f"reload failed ({why}); {self._serving()}")
        for handle in list(self._handles.values()):
            if handle.generation == gen.number and not handle.retiring:
                self._retire(handle, "reload aborted")

    # -- spawn ----------------------------------------------------------------------

    def _spawn(self, gen: Generation) -> WorkerHandle | None:
        self._next_id += 1
        plan = gen.plan
        limit = 0
        if plan.max_requests > 0:
            limit = plan.max_requests + random.randint(0, max(0, plan.max_requests_jitter))
        handle = WorkerHandle(
            worker_id=self._next_id,
            generation=gen.number,
            slot=WorkerSlot(
                plan.slots_per_worker, outcomes=plan.outcomes, bounds=plan.duration_buckets
            ),
            max_requests=limit,
            timeout=gen.plan.timeout,
            graceful_timeout=gen.plan.graceful_timeout,
        )
        self.hooks.call(self.log, "pre_fork", self, handle)
        flush_output(self.log)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, MASTER_SIGNALS)
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            handle.slot.close()
            self.log.exception("fork failed; retrying in 1s")
            self._next_spawn_at = time.monotonic() + 1.0
            return None
        if pid == 0:  # pragma: no cover - runs in the child, which never returns
            code = 1
            try:
                code = self._run_child(handle, gen.plan.worker_main)
            finally:
                _leave_child(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        handle.pid = pid
        handle.spawned_at = time.monotonic()
        self._handles[pid] = handle
        self._spawned += 1
        who = f"worker {pid} (id {handle.worker_id})"
        if self._replacing and gen is self._current:
            self.log.info("worker %s replaced by %s", self._replacing.popleft(), who)
        else:
            self.log.info("booting %s, generation %d", who, gen.number)
        return handle

    def _run_child(self, handle: WorkerHandle, worker_main: WorkerMain) -> int:
        """Child side of the fork: drop the master's state, then run the worker."""
        handle.pid = os.getpid()
        if self._signals is not None:
            self._signals.close_in_child()
        for other in self._handles.values():
            other.slot.close()
        for service in self._services:
            service.close_in_child()
        set_proc_title(worker_title(self.proc_name))

        def on_booted(ctx: WorkerContext) -> None:
            self.hooks.call(self.log, "post_worker_init", ctx)

        ctx = WorkerContext(
            handle.worker_id,
            handle.slot,
            ppid=self.pid,
            max_requests=handle.max_requests,
            on_booted=on_booted,
            graceful_timeout=handle.graceful_timeout,
        )
        return run_worker(
            worker_main,
            ctx,
            arbiter=self,
            handle=handle,
            hooks=self.hooks,
            logger=self.log,
            reopen_logs=self._reopen_logs,
        )

    # -- memory ---------------------------------------------------------------------

    def _recycle_workers(self) -> None:
        """Retire (gracefully; they are replaced) workers over the plan's memory limit."""
        limit = self.plan.max_memory
        now = time.monotonic()
        if limit <= 0 or self._stopping or now < self._next_memory_check:
            return
        self._next_memory_check = now + 1.0
        for handle in self._sorted_handles():
            if handle.retiring or handle.generation != self._current.number:
                continue
            rss = resident_memory(handle.pid)
            if rss is not None and rss > limit and handle.snapshot().booted:
                self.log.warning(
                    "worker %d (id %d) uses %.1f MiB of memory, over the limit of %.1f MiB: "
                    "replacing it after its current requests",
                    handle.pid,
                    handle.worker_id,
                    rss / 2**20,
                    limit / 2**20,
                )
                self._retire(handle, f"memory {rss / 2**20:.1f} MiB > {limit / 2**20:.1f} MiB")

    # -- services -------------------------------------------------------------------

    def _wait(self, timeout: float) -> list[int]:
        """Sleep until a signal, a service's socket, or ``timeout``; serve the services."""
        assert self._signals is not None
        if not self._services:
            return self._signals.wait(timeout)
        wanted: dict[int, int] = {}
        owners: dict[int, MasterService] = {}
        for service in self._services:
            try:
                for fd, events in service.watch():
                    wanted[fd] = wanted.get(fd, 0) | events
                    owners[fd] = service
            except Exception:
                self.log.exception("service %r failed", service)
        signals, ready = self._signals.wait_io(timeout, wanted)
        for fd, events in ready:
            try:
                owners[fd].ready(fd, events)
            except Exception:
                self.log.exception("service %r failed on fd %d", owners[fd], fd)
        now = time.monotonic()
        for service in self._services:
            try:
                service.tick(now)
            except Exception:
                self.log.exception("service %r failed", service)
        return signals

    # -- misc -----------------------------------------------------------------------

    def _serving(self) -> str:
        n = self.workers
        return f"{n} worker{'s' if n != 1 else ''}, generation {self._current.number}"

    def _announce(self, state: MasterState, message: str) -> None:
        if self._on_state is None:
            return
        try:
            self._on_state(state, message)
        except Exception:
            self.log.exception("on_state listener raised; ignoring")

    def _reopen(self) -> None:
        if self._reopen_logs is not None:
            try:
                self._reopen_logs()
            except Exception:
                self.log.exception("reopen_logs failed in the master")
        for handle in list(self._handles.values()):
            self._kill(handle, signal.SIGUSR1)

    def _log_stats(self, why: str) -> None:
        handles = self._sorted_handles()
        self.log.info("%s: %d workers", why, len(handles))
        for handle in handles:
            self.log.info(format_stats(handle.stats()))

    def _sorted_handles(self) -> list[WorkerHandle]:
        return sorted(self._handles.values(), key=lambda h: h.worker_id)

    def _kill(self, handle: WorkerHandle, sig: signal.Signals) -> None:
        try:
            os.kill(handle.pid, sig)
        except ProcessLookupError:
            pass

    # -- shutdown -------------------------------------------------------------------

    def _shutdown(self) -> None:
        """Stop every worker: the stop signal, a bounded wait, then SIGKILL."""
        assert self._signals is not None
        if not self._stopping:
            self._begin_stop(True, signal.SIGTERM)
        self._log_stats("shutdown")
        for handle in self._handles.values():
            handle.retiring = True
            self._kill(handle, self._stop_signal)
        graceful = self._graceful
        wait = self.graceful_timeout if graceful else self.fast_stop_timeout
        deadline = time.monotonic() + wait
        while self._handles and time.monotonic() < deadline:
            for signum in self._wait(0.05):
                if graceful and signum in (signal.SIGINT, signal.SIGQUIT):
                    graceful = False
                    self.log.info("fast stop requested during graceful stop")
                    for handle in self._handles.values():
                        self._kill(handle, signal.Signals(signum))
                    deadline = min(deadline, time.monotonic() + self.fast_stop_timeout)
            if graceful and self._stop_request is False:
                graceful = False
                for handle in self._handles.values():
                    self._kill(handle, signal.SIGINT)
                deadline = min(deadline, time.monotonic() + self.fast_stop_timeout)
            self._reap_workers()
        if self._handles:
            self.log.warning(
                "killing workers that did not stop in time: %s",
                ", ".join(str(pid) for pid in self._handles),
            )
            for handle in self._handles.values():
                self._kill(handle, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while self._handles and time.monotonic() < deadline:
            self._reap_workers()
            if self._handles:
                self._wait(0.02)
        for handle in self._handles.values():
            handle.slot.close()


def _leave_child(code: int) -> None:
    """End a forked worker with ``code``; nothing may return into the master's code.

    A stop signal's handler raises ``SystemExit`` in a worker that has not begun
    serving; arriving while the worker exits (coverage, for one, saves its data
    inside a patched ``os._exit``), that exception must not unwind the child into
    the master's loop. So the stop signals are blocked first, and the exit retried.
    """
    while True:
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
            os._exit(code)
        except BaseException:  # noqa: S110 - whatever it is, leave anyway
            continue


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
