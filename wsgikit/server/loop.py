"""What every worker loop shares: its options, the request handler, stopping.

A worker model subclasses :class:`WorkerLoop` and implements
:meth:`serve_forever`; the request bookkeeping itself is in
:class:`~wsgikit.server.request.RequestHandler`, which the loop owns.
"""

from __future__ import annotations

import logging
import socket

from ..wsgi import WSGIApp
from .monitor import Monitor
from .options import ServerOptions
from .request import AccessLog, RequestHandler
from .waker import Waker

__all__ = ["WorkerLoop"]


class WorkerLoop:
    """Serves listening sockets until :meth:`stop` (see the subclasses)."""

    def __init__(
        self,
        app: WSGIApp,
        listeners: list[socket.socket],
        options: ServerOptions | None = None,
        *,
        monitor: Monitor | None = None,
        logger: logging.Logger | None = None,
        access_log: AccessLog | None = None,
        multiprocess: bool = False,
    ) -> None:
        self.options = options or ServerOptions()
        self.listeners = listeners
        self.handler = RequestHandler(
            app,
            self.options,
            logger=logger,
            access_log=access_log,
            monitor=monitor,
            multithread=self.multithreaded(),
            multiprocess=multiprocess,
        )
        self.logger = self.handler.logger
        self.monitor = self.handler.monitor
        self._waker = Waker()
        self._stopping = False
        self._graceful = True
        self._setup()

    def _setup(self) -> None:
        """A worker model's own state, set up at the end of ``__init__``."""

    def multithreaded(self) -> bool:
        """Whether the app may run in several threads at once (``wsgi.multithread``)."""
        return False

    def serve_forever(self) -> None:
        raise NotImplementedError

    def stop(self, graceful: bool = True) -> None:
        """Stop accepting; finish the requests in flight (graceful) and return.

        Safe to call from another thread or a signal handler.
        """
        self._graceful = self._graceful and graceful
        self._stopping = True
        self._waker.wake()

    @property
    def stopping(self) -> bool:
        return self._stopping
