"""Master side: the states the master announces, for whoever supervises it in turn.

An init system (systemd's ``Type=notify``), the process that launched a daemon, or a
test may want to know when the server is ready, reloading or stopping. The
:class:`~wsgikit.process.Arbiter` calls a :data:`StateListener` at each of these points;
it does not know who listens.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

__all__ = ["MasterState", "StateListener"]


class MasterState(enum.Enum):
    """A point of the master's life that others may wait for."""

    #: The first worker booted (or, after a reload, the new generation did, or the
    #: reload failed and the old one goes on): the server answers requests.
    READY = "ready"
    #: A reload began (HUP): a new generation of workers is starting.
    RELOADING = "reloading"
    #: A stop began; nothing new will be started.
    STOPPING = "stopping"


#: ``listener(state, message)``: ``message`` is a short human status line. Called in
#: the master's loop (never from a signal handler); it must not block for long.
StateListener = Callable[[MasterState, str], None]
