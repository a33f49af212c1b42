"""wsgikit.process on its own: a pre-fork supervisor of two workers running a plain function.

No HTTP anywhere: each worker reports that it is ready, then "works" (here, it
beats every 0.2 s) until the master tells it to stop. The master restarts a
worker that dies or stops beating, reloads on HUP and stops on TERM, as it
does for wsgikit's HTTP workers. Run ``python -m examples.supervisor`` and try
``kill -TERM``, ``kill -HUP`` or ``kill -TTIN`` on the master's pid.
"""

import logging
import os
import time

from wsgikit.process import Arbiter, WorkerContext, WorkerPlan


def work(ctx: WorkerContext) -> None:
    # Load what the worker needs here, then say it is ready: the master waits for
    # booted() before starting the next worker, and counts a worker that never
    # calls it as failing to boot.
    ctx.booted()
    print(f"worker {os.getpid()} booted", flush=True)
    while not ctx.stopping:  # set when the master asks this worker to stop
        ctx.notify()  # heartbeat: a worker silent for longer than timeout is killed
        time.sleep(0.2)
    print(f"worker {os.getpid()} stopping", flush=True)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[%(process)d] %(message)s")
    return Arbiter(WorkerPlan(work, workers=2, timeout=5, graceful_timeout=5)).run()


if __name__ == "__main__":
    raise SystemExit(main())
