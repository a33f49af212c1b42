"""Buffers of the threaded worker: request bodies in, response bytes out, within budgets.

:class:`Budget` is what one worker loop may hold for its clients, all
connections together: bytes in memory, and bytes in temporary files of its
spool directory. Per connection limits alone did not bound a worker: 300
connections each holding a 1 MB body took a worker to 200 MB, and 800
connections each holding 800 KB of an unfinished request head (under the head
limits) took two workers to 289 and 363 MB. Received bytes not parsed yet
(partial heads, pipelined requests) count as well (:meth:`Budget.hold_input`);
past the budget the loop refuses the largest partial heads
(:meth:`Budget.input_excess`).

:class:`SpoolBuffer` holds a request body while the selector loop reads it: in
memory up to a threshold, or until the worker's memory budget is spent, then
in a temporary file, within the disk budget (past it :class:`BudgetExceeded`,
which the loop answers 503). A large upload costs disk, not memory (the idea of
Waitress's ``buffers.py``).

:class:`OutputBuffer` holds response bytes between an app thread (which writes)
and the selector loop (which flushes them with non-blocking sends). Past its
in-memory limit it spills to a temporary file (Waitress's overflowable
buffers), up to a per-connection limit and within the worker's disk budget, so
that an app thread answering a client that reads slowly, or not at all, is
free as soon as the response is written; the loop sends the rest as the client
takes it (and closes a client that stops reading after ``write_timeout``).
Only when neither memory nor disk may take more does the writer wait for the
client, and then only while the client takes bytes: at most ``write_timeout``
without progress, and at most :data:`CROWDED_STALL` (1 s) without progress
while other requests wait for an app thread, so that a client that reads
nothing of a response past the spool limit never holds an app thread others
need.
"""

from __future__ import annotations

import os
import select
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from typing import IO

from ..wsgi import BodySource, BytesBody, ClientDisconnected, FileBody

__all__ = ["Budget", "BudgetExceeded", "SpoolBuffer", "OutputBuffer", "CROWDED_STALL"]

_WAIT_SLICE = 0.25  # a writer waiting for the client looks around at least this often
#: Seconds without progress after which a writer that waits for its client while
#: others wait for an app thread gives up (see OutputBuffer.write).
CROWDED_STALL = 1.0
_SMALL_PIECE = 4096  # body pieces under this size are copied together, not kept one by one
_REFILL = 256 * 1024  # bytes of a spilled response read back into memory at a time
_UNLIMITED = 2**63 - 1


class BudgetExceeded(Exception):
    """The worker's spool budget cannot hold these bytes now (answered 503)."""


class Budget:
    """Bytes one worker loop holds for its clients: in memory, and in its spool directory.

    ``memory`` bounds request bodies and unsent responses kept in memory;
    ``disk`` bounds what the temporary files in ``directory`` (None: the
    system's temporary directory) hold. Used by the loop and the app threads at
    once, so every count is taken under a lock.
    """

    def __init__(
        self, memory: int = _UNLIMITED, disk: int = _UNLIMITED, directory: str | None = None
    ) -> None:
        self.memory = memory
        self.disk = disk
        self.directory = directory
        self.memory_used = 0
        self.disk_used = 0
        #: Of ``memory_used``, received bytes not parsed yet (partial request heads,
        #: pipelined requests): counted, but not stored by this class.
        self.input_used = 0
        self._lock = threading.Lock()

    @property
    def disk_free(self) -> int:
        return max(0, self.disk - self.disk_used)

    def take_memory(self, count: int) -> bool:
        """Count ``count`` more bytes in memory if the budget allows them; True if it did."""
        with self._lock:
            if self.memory_used + count > self.memory:
                return False
            self.memory_used += count
            return True

    def force_memory(self, count: int) -> None:
        """Count bytes that must be held in memory whatever the budget (one chunk)."""
        with self._lock:
            self.memory_used += count

    def release_memory(self, count: int) -> None:
        with self._lock:
            self.memory_used -= count

    def hold_input(self, delta: int) -> None:
        """Count ``delta`` more (or, negative, fewer) received bytes held unparsed.

        They are in memory already (the loop read them to parse them), so they
        are counted whatever the budget; :meth:`input_excess` says how many of
        them the loop should give up.
        """
        with self._lock:
            self.memory_used += delta
            self.input_used += delta

    @property
    def input_floor(self) -> int:
        """Unparsed bytes never refused for memory: 1/16 of the budget (2 MiB of the
        default 32 MiB), so that heads arriving in a few TCP segments are not refused
        because bodies and responses fill the rest."""
        return self.memory // 16

    def input_excess(self) -> int:
        """Bytes of unparsed input to give up to bring the worker back within its
        memory budget (0 or less: none): the excess over the budget, but never
        below :attr:`input_floor` of input."""
        with self._lock:
            return min(self.memory_used - self.memory, self.input_used - self.input_floor)

    def take_disk(self, count: int) -> bool:
        """Count ``count`` more bytes on disk if the budget allows them; True if it did."""
        with self._lock:
            if self.disk_used + count > self.disk:
                return False
            self.disk_used += count
            return True

    def force_disk(self, count: int) -> None:
        with self._lock:
            self.disk_used += count

    def release_disk(self, count: int) -> None:
        with self._lock:
            self.disk_used -= count

    def temporary_file(self) -> IO[bytes]:
        """A new unnamed, unbuffered temporary file in the spool directory.

        Unbuffered, so that a full disk is an ``OSError`` of the write that found
        it, not of a later flush.
        """
        return tempfile.TemporaryFile(buffering=0, dir=self.directory)


def _wait_writable(sock: socket.socket, timeout: float) -> None:
    """Wait until ``sock`` takes bytes (or fails), at most ``timeout`` seconds."""
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    poller.poll(max(0, int(timeout * 1000)))


def _write_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (a full disk raises ``OSError``)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


class SpoolBuffer:
    """A request body being received: in memory up to ``threshold`` bytes (and while the
    worker's memory budget allows), then in a temporary file (within its disk budget).

    :meth:`write` raises :class:`BudgetExceeded` when the disk budget cannot take
    the bytes, and ``OSError`` when the file cannot be written (a full disk).
    """

    def __init__(self, threshold: int, budget: Budget | None = None) -> None:
        self.threshold = threshold
        self.budget = budget if budget is not None else Budget()
        self.size = 0
        # The pieces as they came (large ones are kept, not copied); small ones are
        # gathered in a bytearray, so a body of many tiny chunks costs no more memory
        # than its bytes (plus one object per _SMALL_PIECE).
        self._memory: list[bytes | bytearray] = []
        self._in_memory = 0
        self._file: IO[bytes] | None = None
        self._on_disk = 0  # bytes counted against the disk budget

    @property
    def spooled(self) -> bool:
        """True once the body has moved to a temporary file."""
        return self._file is not None

    def write(self, data: bytes) -> None:
        count = len(data)
        if self._file is None:
            if self.size + count <= self.threshold and self.budget.take_memory(count):
                memory = self._memory
                if count >= _SMALL_PIECE:
                    memory.append(data if type(data) is bytes else bytes(data))
                elif memory and isinstance(tail := memory[-1], bytearray):
                    tail += data
                else:
                    memory.append(bytearray(data))
                self._in_memory += count
                self.size += count
                return
            self._move_to_disk()
        assert self._file is not None
        if not self.budget.take_disk(count):
            raise BudgetExceeded(f"spool budget of {self.budget.disk} bytes spent")
        self._on_disk += count
        _write_all(self._file.fileno(), data, self.size)
        self.size += count

    def _move_to_disk(self) -> None:
        held = self._in_memory
        if not self.budget.take_disk(held):
            raise BudgetExceeded(f"spool budget of {self.budget.disk} bytes spent")
        self._on_disk += held
        self._file = self.budget.temporary_file()
        offset = 0
        for piece in self._memory:
            _write_all(self._file.fileno(), piece, offset)
            offset += len(piece)
        self.budget.release_memory(held)
        self._memory = []
        self._in_memory = 0

    def source(self) -> BodySource:
        """The body, from its first byte, as ``wsgi.input``'s source."""
        if self._file is not None:
            self._file.seek(0)
            return FileBody(self._file)
        pieces: list[bytes] = [
            piece if isinstance(piece, bytes) else bytes(piece) for piece in self._memory
        ]
        return BytesBody(pieces)

    def close(self) -> None:
        """Release the memory or the temporary file, and their share of the budget."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.budget.release_disk(self._on_disk)
        self._on_disk = 0
        self.budget.release_memory(self._in_memory)
        self._memory = []
        self._in_memory = 0


class OutputBuffer:
    """Response bytes on their way to a non-blocking socket.

    One app thread writes (:meth:`write`), the selector loop flushes
    (:meth:`flush`); one lock guards the bytes and every use of the socket for
    sending. When the buffer is empty, :meth:`write` first tries to send
    directly (a small response then leaves without waking the loop); what the
    socket does not take is queued and ``on_pending`` asks the loop to flush.

    Queued bytes stay in memory up to ``limit`` (and while the worker's memory
    budget allows), then go to a temporary file, up to ``spool_limit`` bytes
    (and while the disk budget allows), in order: once part of the response is
    in the file, the rest follows it there. When neither may take more, the
    writer waits until the loop has sent enough, at most ``timeout`` without
    progress (counted from the last byte the client took, not from the start of
    the wait), or :data:`CROWDED_STALL` while ``crowded()`` says others need the
    writer's thread; a single write is taken whole when nothing is queued, so
    memory never holds more than ``limit`` plus one chunk.

    Once :attr:`closed` (the client went away, a write timed out, or the loop
    closed the connection) nothing more is sent and writers get
    :class:`~wsgikit.wsgi.ClientDisconnected`.

    ``encode`` (TLS: :meth:`~wsgikit.server.tls.TLSSession.encrypt`) turns what
    :meth:`write` and :meth:`append` are given into the bytes to send, under
    the buffer's lock, so the records leave in the order they were made.
    ``on_spill_error`` is told (under the lock) when the spool file cannot be
    written; the buffer then keeps to memory.
    """

    def __init__(
        self,
        sock: socket.socket,
        limit: int,
        on_pending: Callable[[], None],
        encode: Callable[[bytes], bytes] | None = None,
        *,
        budget: Budget | None = None,
        spool_limit: int = 0,
        on_spill_error: Callable[[OSError], None] | None = None,
        self_flushing: bool = False,
    ) -> None:
        self._sock = sock
        # The writer runs in the loop's own thread (one app thread, run inline): no
        # one else flushes while it waits, so it waits for the socket and sends itself.
        self._self_flushing = self_flushing
        self.limit = limit
        self.spool_limit = spool_limit
        self._budget = budget if budget is not None else Budget()
        self._on_pending = on_pending
        self._encode = encode
        self._on_spill_error = on_spill_error
        self._data = bytearray()  # the head of the queue, counted against memory
        self._file: IO[bytes] | None = None  # the tail, once spilled
        self._file_start = 0  # next byte of the file to send
        self._file_end = 0  # bytes written to the file (all counted against disk)
        self._spill_broken = False
        self._sent = 0  # bytes sent in all: progress, for a waiting writer
        self._progress_at = time.monotonic()  # when the client last took bytes
        self._lock = threading.Lock()
        # Made by the first writer that must wait for the loop (most connections
        # never have one): a Condition costs more to build than the rest of a buffer.
        self._cond: threading.Condition | None = None
        self._pending = False  # the loop was asked to flush and has not drained us yet
        self.closed = False

    def __len__(self) -> int:
        return len(self._data) + self._file_end - self._file_start

    @property
    def spilled(self) -> int:
        """Bytes of this connection's responses in its temporary file now."""
        return self._file_end

    # ------------------------------------------------------- the app thread

    def write(
        self,
        data: bytes,
        timeout: float,
        on_wait: Callable[[], None] | None = None,
        crowded: Callable[[], bool] | None = None,
    ) -> None:
        """Queue ``data`` (memory, else the spool file); wait only when neither may take it.

        Raises ClientDisconnected if the connection is closed, or, while this
        waits, once the client has taken nothing for ``timeout`` seconds, or for
        :data:`CROWDED_STALL` seconds while ``crowded()`` is true (other requests
        wait for a thread: this one must not hold its thread for a client that
        reads nothing). While it waits, ``on_wait`` is called at least once a second.
        """
        with self._lock:
            if self.closed:
                raise ClientDisconnected("connection closed")
            if self._encode is not None:
                data = self._encode(data)
            view = memoryview(data)
            if not self._data and self._file_end == self._file_start:
                sent = self._send(view)
                if self.closed:
                    raise ClientDisconnected("connection closed while sending")
                if sent == len(view):
                    return
                view = view[sent:]
            if not self._enqueue(view):
                self._ask_flush()
                while not self._enqueue(view):
                    if self.closed:
                        raise ClientDisconnected("connection closed while sending")
                    allowed = timeout
                    if crowded is not None and crowded():
                        allowed = min(timeout, CROWDED_STALL)
                    stalled = time.monotonic() - self._progress_at
                    if stalled >= allowed:
                        self._close_locked()
                        why = " while other requests waited" if allowed < timeout else ""
                        raise ClientDisconnected(f"client read nothing for {stalled:.1f} s{why}")
                    wait = min(allowed - stalled, _WAIT_SLICE)
                    if self._self_flushing:
                        _wait_writable(self._sock, wait)
                        self._flush_locked()
                    else:
                        if self._cond is None:
                            self._cond = threading.Condition(self._lock)
                        self._cond.wait(wait)
                    if on_wait is not None:
                        on_wait()
            if self.closed:
                raise ClientDisconnected("connection closed while sending")
            self._ask_flush()

    def sendfile(
        self,
        fd: int,
        offset: int,
        count: int,
        timeout: float,
        on_progress: Callable[[], None] | None = None,
        crowded: Callable[[], bool] | None = None,
    ) -> bool:
        """Send ``count`` bytes of file ``fd`` from ``offset`` with ``os.sendfile``
        (no copy through Python); False, before sending anything, where it cannot
        be used: TLS, or bytes already queued that only the loop may flush.

        Waits for the socket itself (without holding the lock, so the loop is never
        blocked by it), with the same bounds as :meth:`write`. Raises
        ClientDisconnected as :meth:`write` does, and if the file ends early.
        """
        if self._encode is not None:
            return False
        sock = self._sock
        sent = 0
        with self._lock:
            self._progress_at = time.monotonic()  # a new transfer starts its clock
        while sent < count:
            with self._lock:
                if self.closed:
                    raise ClientDisconnected("connection closed")
                queued = bool(self._data) or self._file_end > self._file_start
                if queued and self._self_flushing:
                    self._flush_locked()
                    queued = bool(len(self))
                elif queued and sent == 0:
                    return False  # the loop flushes these first; iterate behind them
                done = -1
                if not queued:
                    try:
                        done = os.sendfile(sock.fileno(), fd, offset + sent, count - sent)
                    except (BlockingIOError, InterruptedError):
                        done = -1
                    except OSError as exc:
                        self._close_locked()
                        raise ClientDisconnected(f"sendfile failed: {exc}") from None
                    if done == 0:
                        self._close_locked()
                        raise ClientDisconnected("the file ended before its announced length")
                    if done > 0:
                        sent += done
                        self._sent += done
                        self._progress_at = time.monotonic()
                        self._notify()
                stalled = time.monotonic() - self._progress_at
                allowed = timeout
                if crowded is not None and crowded():
                    allowed = min(timeout, CROWDED_STALL)
                if done <= 0 and stalled >= allowed:
                    self._close_locked()
                    raise ClientDisconnected(f"client read nothing for {stalled:.1f} s")
            if on_progress is not None:
                on_progress()
            if done <= 0:
                _wait_writable(sock, min(allowed - stalled, _WAIT_SLICE))
        return True

    def _enqueue(self, view: memoryview) -> bool:
        """Queue ``view`` in memory or in the file if either may take it now."""
        if self.closed:
            return True  # the caller reports it
        count = len(view)
        spilling = self._file_end > self._file_start
        if not spilling and len(self._data) + count <= self.limit:
            if self._budget.take_memory(count):
                self._data += view
                return True
        if (
            not self._spill_broken
            and self._file_end + count <= self.spool_limit
            and self._budget.take_disk(count)
        ):
            try:
                self._spill(view)
                return True
            except OSError as exc:
                self._budget.release_disk(count)
                self._spill_broken = True
                if self._on_spill_error is not None:
                    self._on_spill_error(exc)
        if not self._data and not spilling:
            self._budget.force_memory(count)  # nothing queued: take one chunk whole
            self._data += view
            return True
        return False

    def _spill(self, data: bytes | bytearray | memoryview) -> None:
        """Append to the file (disk already counted); OSError if it cannot be written."""
        if self._file is None:
            self._file = self._budget.temporary_file()
        _write_all(self._file.fileno(), data, self._file_end)
        self._file_end += len(data)

    def _ask_flush(self) -> None:
        if not self._pending and not self.closed:
            self._pending = True
            self._on_pending()

    # ------------------------------------------------------------- the loop

    def append(self, data: bytes) -> None:
        """Queue bytes from the loop thread itself (it flushes them next)."""
        with self._lock:
            if not self.closed:
                self._append(self._encode(data) if self._encode is not None else data)

    def append_raw(self, data: bytes) -> None:
        """Queue bytes as they are (a TLS session's own records), from the loop thread."""
        with self._lock:
            if not self.closed:
                self._append(data)

    def _append(self, data: bytes) -> None:
        if self._file_end > self._file_start:  # behind a spilled response, in order
            self._budget.force_disk(len(data))
            try:
                self._spill(data)
            except OSError:
                self._budget.release_disk(len(data))
                self._close_locked()
            return
        self._budget.force_memory(len(data))
        self._data += data

    def flush(self) -> bool:
        """Send what the socket takes now; True once nothing is left (or closed)."""
        with self._lock:
            return self._flush_locked()

    def _flush_locked(self) -> bool:
        """:meth:`flush`, with the lock held."""
        before = self._sent
        while not self.closed:
            if not self._data and self._file_end > self._file_start:
                self._refill()
                continue
            if not self._data:
                break
            sent = self._send(self._data)
            if sent == 0:
                break
            del self._data[:sent]
            self._budget.release_memory(sent)
            self._sent += sent
        if self._sent != before:
            self._notify()
        if len(self):
            return False
        self._pending = False
        return True

    def _refill(self) -> None:
        """Read the next part of the file back into memory; empty the file once read."""
        assert self._file is not None
        try:
            chunk = os.pread(
                self._file.fileno(),
                min(_REFILL, self._file_end - self._file_start),
                self._file_start,
            )
        except OSError:
            chunk = b""
        if not chunk:  # the file lost bytes we wrote: nothing sane is left to send
            self._close_locked()
            return
        self._file_start += len(chunk)
        self._budget.force_memory(len(chunk))
        self._data += chunk
        if self._file_start == self._file_end:
            self._empty_file()

    def _empty_file(self) -> None:
        if self._file is not None:
            try:
                os.ftruncate(self._file.fileno(), 0)
            except OSError:
                self._file.close()
                self._file = None
        self._budget.release_disk(self._file_end)
        self._file_start = self._file_end = 0

    def close(self) -> None:
        """Stop sending; wake and fail any waiting writer; give the budget back."""
        with self._lock:
            self._close_locked()

    # ------------------------------------------------------------- internal

    def _close_locked(self) -> None:
        self.closed = True
        if self._data:
            self._budget.release_memory(len(self._data))
            self._data = bytearray()
        if self._file_end:
            self._empty_file()
        if self._file is not None:
            self._file.close()
            self._file = None
        self._pending = False
        self._notify()

    def _notify(self) -> None:
        """Wake the writer waiting for the loop, if one ever waited (lock held)."""
        if self._cond is not None:
            self._cond.notify_all()

    def _send(self, data: bytes | bytearray | memoryview) -> int:
        try:
            sent = self._sock.send(data)
            if sent:
                self._progress_at = time.monotonic()
            return sent
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            self._close_locked()
            return 0
