"""Buffers of the threaded worker: request bodies in, response bytes out.

:class:`SpoolBuffer` holds a request body while the selector loop reads it; a
body larger than a threshold moves to a temporary file, so a large upload costs
disk, not memory (the idea of Waitress's ``buffers.py``).

:class:`OutputBuffer` holds response bytes between an app thread (which writes)
and the selector loop (which flushes them with non-blocking sends). It is
bounded: past its limit the writing thread waits until the loop has drained it,
so a client that stops reading costs at most ``limit`` bytes plus one chunk.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Callable
from typing import IO

from ..wsgi import BodySource, BytesBody, ClientDisconnected, FileBody

__all__ = ["SpoolBuffer", "OutputBuffer"]

_WAIT_SLICE = 1.0  # a writer waiting for the client reports in at least this often


class SpoolBuffer:
    """A request body being received: in memory up to ``threshold`` bytes, then on disk."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.size = 0
        self._memory = bytearray()
        self._file: IO[bytes] | None = None

    @property
    def spooled(self) -> bool:
        """True once the body has moved to a temporary file."""
        return self._file is not None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is not None:
            self._file.write(data)
            return
        self._memory += data
        if self.size > self.threshold:
            self._file = tempfile.TemporaryFile()
            self._file.write(self._memory)
            self._memory = bytearray()

    def source(self) -> BodySource:
        """The body, from its first byte, as ``wsgi.input``'s source."""
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            return FileBody(self._file)
        return BytesBody(bytes(self._memory))

    def close(self) -> None:
        """Release the memory or the temporary file."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory = bytearray()


class OutputBuffer:
    """Response bytes on their way to a non-blocking socket.

    One app thread writes (:meth:`write`), the selector loop flushes
    (:meth:`flush`); one lock guards the bytes and every use of the socket for
    sending. When the buffer is empty, :meth:`write` first tries to send
    directly (a small response then leaves without waking the loop); what the
    socket does not take is buffered and ``on_pending`` asks the loop to flush.

    Once :attr:`closed` (the client went away, a write timed out, or the loop
    closed the connection) nothing more is sent and writers get
    :class:`~wsgikit.wsgi.ClientDisconnected`.

    ``encode`` (TLS: :meth:`~wsgikit.server.tls.TLSSession.encrypt`) turns what
    :meth:`write` and :meth:`append` are given into the bytes to send, under
    the buffer's lock, so the records leave in the order they were made.
    """

    def __init__(
        self,
        sock: socket.socket,
        limit: int,
        on_pending: Callable[[], None],
        encode: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self._sock = sock
        self.limit = limit
        self._on_pending = on_pending
        self._encode = encode
        self._data = bytearray()
        self._cond = threading.Condition(threading.Lock())
        self._pending = False  # the loop was asked to flush and has not drained us yet
        self.closed = False

    def __len__(self) -> int:
        return len(self._data)

    # ------------------------------------------------------- the app thread

    def write(self, data: bytes, timeout: float, on_wait: Callable[[], None] | None = None) -> None:
        """Queue ``data``; wait while more than ``limit`` bytes are queued.

        Raises ClientDisconnected if the connection is closed, or if the loop
        made no progress draining the buffer for ``timeout`` seconds. While it
        waits, ``on_wait`` is called at least once a second.
        """
        with self._cond:
            if self.closed:
                raise ClientDisconnected("connection closed")
            if self._encode is not None:
                data = self._encode(data)
            view = memoryview(data)
            if not self._data:
                sent = self._send(view)
                if self.closed:
                    raise ClientDisconnected("connection closed while sending")
                if sent == len(view):
                    return
                view = view[sent:]
            self._data += view
            if not self._pending:
                self._pending = True
                self._on_pending()
            queued = len(self._data)
            deadline = time.monotonic() + timeout
            while len(self._data) > self.limit and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._close_locked()
                    raise ClientDisconnected(f"client read nothing for {timeout:g} s")
                self._cond.wait(min(left, _WAIT_SLICE))
                if on_wait is not None:
                    on_wait()
                if len(self._data) < queued:  # progress: restart the stall timer
                    queued = len(self._data)
                    deadline = time.monotonic() + timeout
            if self.closed:
                raise ClientDisconnected("connection closed while sending")

    # ------------------------------------------------------------- the loop

    def append(self, data: bytes) -> None:
        """Queue bytes from the loop thread itself (it flushes them next)."""
        with self._cond:
            if not self.closed:
                self._data += self._encode(data) if self._encode is not None else data

    def append_raw(self, data: bytes) -> None:
        """Queue bytes as they are (a TLS session's own records), from the loop thread."""
        with self._cond:
            if not self.closed:
                self._data += data

    def flush(self) -> bool:
        """Send what the socket takes now; True once nothing is left (or closed)."""
        with self._cond:
            before = len(self._data)
            while self._data and not self.closed:
                sent = self._send(self._data)
                if sent == 0:
                    break
                del self._data[:sent]
            if len(self._data) != before:
                self._cond.notify_all()
            if self._data:
                return False
            self._pending = False
            return True

    def close(self) -> None:
        """Stop sending; wake and fail any waiting writer."""
        with self._cond:
            self._close_locked()

    # ------------------------------------------------------------- internal

    def _close_locked(self) -> None:
        self.closed = True
        self._data = bytearray()
        self._pending = False
        self._cond.notify_all()

    def _send(self, data: bytes | bytearray | memoryview) -> int:
        try:
            return self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            self._close_locked()
            return 0
