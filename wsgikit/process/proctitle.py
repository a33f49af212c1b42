"""Process titles ("wsgikit: master [name]") when setproctitle is installed, else a no-op."""

from __future__ import annotations


def set_proc_title(title: str) -> bool:
    """Set the title shown by ps/top; returns False when setproctitle is unavailable."""
    try:
        import setproctitle
    except ImportError:
        return False
    setproctitle.setproctitle(title)
    return True


def master_title(name: str) -> str:
    """Title of the master process."""
    return f"wsgikit: master [{name}]"


def worker_title(name: str) -> str:
    """Title of a worker process."""
    return f"wsgikit: worker [{name}]"
