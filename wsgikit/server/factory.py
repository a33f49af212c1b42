"""Build the worker loop a :class:`ServerOptions` asks for."""

from __future__ import annotations

import logging
import socket

from ..wsgi import WSGIApp
from .loop import WorkerLoop
from .monitor import Monitor
from .options import ServerOptions
from .request import AccessLog
from .sync import SyncServer
from .threaded import ThreadedServer

__all__ = ["make_server"]


def make_server(
    app: WSGIApp,
    listeners: list[socket.socket],
    options: ServerOptions | None = None,
    *,
    monitor: Monitor | None = None,
    logger: logging.Logger | None = None,
    access_log: AccessLog | None = None,
    multiprocess: bool = False,
) -> WorkerLoop:
    """The sync or threaded worker loop over ``listeners``, not started.

    Both kinds offer ``serve_forever()`` and ``stop(graceful=True)``; run
    ``serve_forever()`` in a thread to embed a server in a program or a test.
    """
    options = options or ServerOptions()
    loop_class: type[WorkerLoop]
    loop_class = ThreadedServer if options.worker_class == "threaded" else SyncServer
    return loop_class(
        app,
        listeners,
        options,
        monitor=monitor,
        logger=logger,
        access_log=access_log,
        multiprocess=multiprocess,
    )
