"""What every worker loop shares: its options, the request handler, stopping.

A worker model subclasses :class:`WorkerLoop` and implements
:meth:`serve_forever`; the request bookkeeping itself is in
:class:`~wsgikit.server.request.RequestHandler`, which the loop owns.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from ..wsgi import WSGIApp
from .monitor import Monitor
from .options import ServerOptions
from .request import AccessLog, RequestHandler
from .waker import Waker

__all__ = ["WorkerLoop"]


class WorkerLoop:
    """Serves listening sockets until :meth:`stop` (see the subclasses)."""

    #: Seconds a stopping loop keeps an idle keep-alive connection open (at most until
    #: its keep-alive deadline). Its client was told it may send another request and
    #: may be sending it now: closing under it would lose that request. One that comes
    #: in this window is answered with ``Connection: close``; a connection quiet for
    #: the whole window is closed then, with a lingering close.
    drain_window = 2.0

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

    def _accept_backlog(self) -> list[tuple[socket.socket, Any, socket.socket]]:
        """At a graceful stop: the connections already waiting in the listen backlog.

        A client whose connection the kernel accepted before the stop has sent its
        request, or is sending it: closing the listeners under it would reset it,
        although it was received as much as one this worker is serving. So a
        stopping worker accepts, without blocking, what waits there now, and
        answers it (with ``Connection: close``) before it exits. Once: at most
        ``options.backlog`` per listener, as many as the backlog can hold, and
        never again after this call (the listeners are shared by all the workers
        of a master; a retiring worker must not go on taking their clients).
        Returns ``(socket, address, listener)`` triples, the sockets blocking as
        accept() made them.
        """
        taken: list[tuple[socket.socket, Any, socket.socket]] = []
        for listener in self.listeners:
            for _ in range(self.options.backlog):
                try:
                    sock, addr = listener.accept()
                except ConnectionAbortedError:
                    continue  # that one went away while waiting
                except (BlockingIOError, InterruptedError):
                    break  # nothing left: the backlog is drained
                except OSError as exc:  # EMFILE: the rest stays for the other workers
                    self.logger.error(
                        "accept() failed on %s while draining it: %s", listener.getsockname(), exc
                    )
                    break
                taken.append((sock, addr, listener))
        if taken:
            self.logger.info("stopping: answering %d connection(s) from the backlog", len(taken))
        return taken
