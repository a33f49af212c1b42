"""How much memory a process uses, as the kernel counts it (Linux ``/proc``)."""

from __future__ import annotations

import os

__all__ = ["resident_memory", "memory_readable"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_memory(pid: int) -> int | None:
    """Resident set size of ``pid`` in bytes; None if it cannot be read (gone, no /proc)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as file:
            fields = file.read().split()
        return int(fields[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


def memory_readable() -> bool:
    """True where :func:`resident_memory` works (Linux)."""
    return resident_memory(os.getpid()) is not None
