"""A master run as a real process by test_subprocess.py: ``arbiter_script.py SCENARIO EVENTS``.

Logs go to stderr; workers append ``kind pid extra`` lines to the EVENTS file.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

from wsgikit.process import Arbiter, WorkerContext, WorkerPlan

EVENTS = sys.argv[2]


def record(kind: str, extra: str = "") -> None:
    fd = os.open(EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{kind} {os.getpid()} {extra}\n".encode())
    finally:
        os.close(fd)


def idle(ctx: WorkerContext) -> None:
    ctx.booted()
    record("boot")
    while not ctx.stopping:
        ctx.notify()
        time.sleep(0.02)
    record("exit", "parent-alive" if ctx.parent_alive() else "orphaned")


def stuck_thread(ctx: WorkerContext) -> None:
    """A threaded worker whose event loop keeps beating while an app thread hangs."""

    def app_thread() -> None:
        ctx.task_started("GET /slow from 127.0.0.1")
        time.sleep(60)

    ctx.booted()
    record("boot")
    threading.Thread(target=app_thread, name="app-thread", daemon=True).start()
    while not ctx.stopping:
        ctx.notify()
        time.sleep(0.02)


def loading(ctx: WorkerContext) -> None:
    """A worker whose app takes long to import: it has no stop callback yet."""
    record("loading")
    time.sleep(60)
    idle(ctx)


def busy(ctx: WorkerContext) -> None:
    """A worker whose request never ends: asked to stop, it keeps working."""
    ctx.add_stop_callback(lambda graceful: record("stop-asked"))
    ctx.booted()
    record("boot")
    while True:
        ctx.notify()
        time.sleep(0.02)


def broken(ctx: WorkerContext) -> None:
    import no_such_module_for_wsgikit_tests  # type: ignore[import-not-found]  # noqa: F401


SCENARIOS = {
    "idle": (idle, {"workers": 2}),
    "stuck": (stuck_thread, {"workers": 1, "timeout": 1.0, "slots_per_worker": 4}),
    "broken": (broken, {"workers": 3}),
    # The default graceful timeout: a lost TERM would show as a 30 s wait.
    "loading": (loading, {"workers": 1, "graceful_timeout": 30.0}),
    "loading-poll": (loading, {"workers": 1, "graceful_timeout": 30.0}),
    "busy": (busy, {"workers": 1, "graceful_timeout": 1.0}),
    "busy-poll": (busy, {"workers": 1, "graceful_timeout": 1.0}),
}


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(process)d %(levelname)s %(message)s"
    )
    worker_main, options = SCENARIOS[sys.argv[1]]
    if sys.argv[1].endswith("-poll"):  # as on a system without a parent-death signal
        from wsgikit.process import parent_death

        parent_death.set_parent_death_signal = lambda sig: False
    plan = WorkerPlan(worker_main, **{"graceful_timeout": 3.0, **options})  # type: ignore[arg-type]
    arbiter = Arbiter(plan)
    arbiter.tick = 0.1
    return arbiter.run()


if __name__ == "__main__":
    sys.exit(main())
