"""Supervisor hooks (Gunicorn's names and meanings) and a caller that never lets one kill us.

Only the process lifecycle is here: the supervisor knows nothing of requests,
so ``pre_request``/``post_request`` belong to the server layer's options.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

Hook = Callable[..., Any]


@dataclass
class Hooks:
    """Optional callbacks run at points of the process lifecycle.

    Master side: ``on_starting``, ``when_ready``, ``pre_fork``, ``child_exit``,
    ``nworkers_changed``, ``on_reload``, ``on_exit``. Worker side: ``post_fork``,
    ``post_worker_init``, ``worker_int``, ``worker_abort``, ``worker_exit``.
    """

    on_starting: Hook | None = None
    when_ready: Hook | None = None
    pre_fork: Hook | None = None
    post_fork: Hook | None = None
    post_worker_init: Hook | None = None
    worker_int: Hook | None = None
    worker_abort: Hook | None = None
    child_exit: Hook | None = None
    worker_exit: Hook | None = None
    nworkers_changed: Hook | None = None
    on_reload: Hook | None = None
    on_exit: Hook | None = None

    @classmethod
    def names(cls) -> list[str]:
        """All hook names, in declaration order."""
        return [f.name for f in fields(cls)]

    def call(self, logger: logging.Logger, name: str, *args: Any) -> None:
        """Run hook ``name`` if set; an exception is logged with its traceback, never raised."""
        hook: Hook | None = getattr(self, name)
        if hook is None:
            return
        try:
            hook(*args)
        except Exception:
            logger.exception("hook %s raised; ignoring", name)
