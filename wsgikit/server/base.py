"""What every worker loop shares: its settings, the app runner, stopping.

A worker model subclasses :class:`WorkerLoop` and implements
:meth:`serve_forever`; the request bookkeeping itself is in
:class:`~wsgikit.server.core.AppRunner`, which the loop owns.
"""

from __future__ import annotations

import logging
import socket

from ..config import Config
from ..wsgi.handler import WSGIApp
from .core import AccessLog, AppRunner
from .monitor import Monitor
from .util import Waker

__all__ = ["WorkerLoop"]


class WorkerLoop:
    """Serves listening sockets until :meth:`stop` (see the subclasses)."""

    def __init__(
        self,
        app: WSGIApp,
        listeners: list[socket.socket],
        config: Config | None = None,
        *,
        monitor: Monitor | None = None,
        logger: logging.Logger | None = None,
        access_log: AccessLog | None = None,
        multiprocess: bool = False,
    ) -> None:
        self.config = config or Config()
        self.listeners = listeners
        self.runner = AppRunner(
            app,
            self.config,
            logger=logger,
            access_log=access_log,
            monitor=monitor,
            multithread=self.multithreaded(),
            multiprocess=multiprocess,
        )
        self.logger = self.runner.logger
        self.monitor = self.runner.monitor
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
