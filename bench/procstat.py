"""CPU time and memory of a server's processes, read from /proc (Linux).

A server under test runs in its own session (the harness starts it with
``start_new_session``), so its processes are exactly those whose session id is
the master's pid. CPU time counts every one of them: the live processes' own
user+system time, plus what the master collected from children it reaped
(``cutime``/``cstime``), so a worker recycled during a run is not lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Sample:
    """CPU seconds of a session at one moment: in all, and per worker process."""

    total: float
    workers: dict[int, float]  # pid -> CPU seconds, every process but the master


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def session_pids(sid: int) -> list[int]:
    """Live processes of session ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            # fields[0] is the state; session id is field 6 of stat, index 3 here.
            if fields is not None and int(fields[3]) == sid:
                pids.append(int(entry))
    return pids


def cpu_sample(master: int) -> Sample:
    """CPU seconds used so far by the server whose master (and session leader) is ``master``."""
    total = 0.0
    workers: dict[int, float] = {}
    for pid in session_pids(master):
        fields = _stat(pid)
        if fields is None:
            continue
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        own = (utime + stime) / TICKS
        if pid == master:
            total += own + (cutime + cstime) / TICKS  # reaped children count too
        else:
            total += own
            workers[pid] = own
    return Sample(total, workers)


def worker_rss_mib(master: int) -> list[float]:
    """Resident memory of each worker process (not the master), MiB."""
    sizes = []
    for pid in session_pids(master):
        if pid == master:
            continue
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as f:
                resident = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        sizes.append(resident * PAGE / (1 << 20))
    return sizes


def busiest_share(before: Sample, after: Sample) -> float | None:
    """The largest share of the workers' CPU time that one worker used between two samples.

    With two workers an even spread is about 0.5; 0.9 and more means one worker took
    (nearly) all the connections.
    """
    used = {pid: after.workers[pid] - before.workers.get(pid, 0.0) for pid in after.workers}
    total = sum(v for v in used.values() if v > 0)
    if total <= 0:
        return None
    return max(used.values()) / total
