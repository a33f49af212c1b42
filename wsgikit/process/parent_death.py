"""Worker side: learn at once that the master died, at any moment of a worker's life.

A worker whose master was SIGKILLed is re-parented and nobody will stop it any more.
On Linux the kernel can send a signal when the parent dies (``prctl(PR_SET_PDEATHSIG)``,
called through ``ctypes``: no dependency); elsewhere a daemon thread compares
``os.getppid()`` with the master's pid twice a second. Either way the worker gets its
ordinary stop signal, so it stops the same way whether it is loading the app, serving or
already stopping.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

__all__ = ["parent_death_signal", "set_parent_death_signal", "watch_parent"]

_PR_SET_PDEATHSIG = 1
_PR_GET_PDEATHSIG = 2
#: Seconds between two parent checks of the polling fallback.
POLL_INTERVAL = 0.5


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn: Callable[..., int] = libc.prctl
    except (OSError, AttributeError):
        return None
    return fn


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (0 cancels).

    Returns False where the OS has no such facility. The setting is per process
    and is cleared by the kernel when the effective user or group changes (see
    :func:`wsgikit.process.set_owner`, which sets it again).
    """
    prctl = _prctl()
    if prctl is None:
        return False
    return bool(prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(sig), 0, 0, 0) == 0)


def parent_death_signal() -> int:
    """The parent-death signal currently set for this process (0: none, or unsupported)."""
    prctl = _prctl()
    if prctl is None:
        return 0
    value = ctypes.c_int(0)
    if prctl(_PR_GET_PDEATHSIG, ctypes.byref(value), 0, 0, 0) != 0:
        return 0
    return value.value


def _poll_parent(ppid: int, sig: int, interval: float) -> None:
    while os.getppid() == ppid:
        time.sleep(interval)
    with contextlib.suppress(OSError):
        os.kill(os.getpid(), sig)


def watch_parent(ppid: int, sig: int = signal.SIGTERM, *, interval: float = POLL_INTERVAL) -> str:
    """Send ``sig`` to this process as soon as ``ppid`` is no longer its parent.

    Returns how: ``"pdeathsig"`` (the kernel does it) or ``"poll"`` (a daemon thread
    checks every ``interval`` seconds and ends once it has sent the signal). A
    parent that died before the watch began is noticed at once.
    """
    if set_parent_death_signal(sig):
        if os.getppid() != ppid:  # died before the kernel was asked to tell us
            os.kill(os.getpid(), sig)
        return "pdeathsig"
    thread = threading.Thread(
        target=_poll_parent, args=(ppid, sig, interval), name="wsgikit-parent-watch", daemon=True
    )
    thread.start()
    return "poll"
