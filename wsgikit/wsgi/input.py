"""``wsgi.input``: a file-like view of the request body (PEP 3333)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from ..http import NEED_DATA, Data, HTTPConnection, ProtocolError

__all__ = ["BodySource", "InputStream", "BytesBody", "FileBody", "ConnectionBody", "drain_body"]

_CHUNK = 65536


class BodySource(Protocol):
    """Where body bytes come from: a socket, a spooled buffer, a test.

    ``read_chunk(n)`` returns up to ``n`` bytes (at least one) and ``b""`` once
    the body has ended; it never blocks past the end of the body.
    """

    def read_chunk(self, size: int) -> bytes: ...


class BytesBody:
    """A body already in memory: one ``bytes`` object, or the pieces it arrived in.

    A piece that fits a read is handed on as it is, not copied.
    """

    def __init__(self, data: bytes | Sequence[bytes]) -> None:
        self._chunks: list[bytes] = [data] if isinstance(data, bytes) else list(data)
        self._index = 0  # the piece being read
        self._pos = 0  # bytes of it already read

    def read_chunk(self, size: int) -> bytes:
        chunks = self._chunks
        while self._index < len(chunks):
            chunk = chunks[self._index]
            pos = self._pos
            left = len(chunk) - pos
            if left <= 0:
                self._index += 1
                self._pos = 0
                continue
            if left <= size:
                self._index += 1
                self._pos = 0
                return chunk if pos == 0 else chunk[pos:]
            self._pos = pos + size
            return chunk[pos : pos + size]
        return b""


class FileBody:
    """A body spooled to a (temporary) binary file, positioned at its start."""

    def __init__(self, file: object) -> None:
        self._file = file

    def read_chunk(self, size: int) -> bytes:
        data: bytes = self._file.read(size)  # type: ignore[attr-defined]
        return data


class ConnectionBody:
    """A body read on demand from an :class:`~wsgikit.http.HTTPConnection`.

    ``fill()`` gets more bytes into the connection (False: none came in time,
    answered 408); ``send`` writes the ``100 Continue`` that the first read
    sends when the client asked for it (RFC 9110 section 10.1.1).
    """

    def __init__(
        self,
        conn: HTTPConnection,
        fill: Callable[[], bool],
        send: Callable[[bytes], None],
    ) -> None:
        self.conn = conn
        self._fill = fill
        self._send = send
        self._pending = b""
        self._started = False

    def read_chunk(self, size: int) -> bytes:
        if self._pending:
            chunk, self._pending = self._pending[:size], self._pending[size:]
            return chunk
        if not self._started:
            self._started = True
            interim = self.conn.send_continue()
            if interim:
                self._send(interim)
        while True:
            event = self.conn.next_event()
            if type(event) is Data:
                data = event.data
                if len(data) > size:
                    data, self._pending = data[:size], data[size:]
                if data:
                    return data
            elif event is NEED_DATA:
                if not self._fill():
                    raise ProtocolError("timed out reading the request body", status=408)
            else:
                return b""  # END_OF_MESSAGE or PAUSED: the body is complete


def drain_body(source: BodySource, limit: int = 1 << 20, chunk: int = _CHUNK) -> bool:
    """Read and discard the rest of a body the app left unread, up to ``limit`` bytes.

    Returns True once the body has ended (the connection can carry another
    request); False when more than ``limit`` bytes remain, in which case the
    caller should close rather than read an unbounded body nobody wants. A
    ``ProtocolError`` from the source (a malformed body, a timeout) propagates.
    """
    left = limit
    while True:
        data = source.read_chunk(max(1, min(left, chunk)))
        if not data:
            return True
        left -= len(data)
        if left < 0:
            return False


class InputStream:
    """``read``, ``readline``, ``readlines`` and iteration over a :class:`BodySource`.

    Returns ``b""`` at the end of the body. Whatever ``size`` is asked for, it
    reads from the source only what it needs, so a read never waits for bytes
    beyond the body.
    """

    def __init__(self, source: BodySource) -> None:
        self._source = source
        self._buffer = bytearray()
        self._done = False

    def _fill(self, size: int) -> bool:
        if self._done:
            return False
        chunk = self._source.read_chunk(max(size, 1))
        if not chunk:
            self._done = True
            return False
        self._buffer += chunk
        return True

    def _take(self, size: int) -> bytes:
        buffer = self._buffer
        if size >= len(buffer):
            data = bytes(buffer)
            buffer.clear()
            return data
        with memoryview(buffer) as view:
            data = view[:size].tobytes()
        del buffer[:size]
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            if not self._buffer:
                # The whole body: its pieces joined once (a body of one piece, as
                # it arrived, without a copy).
                pieces = []
                while not self._done:
                    chunk = self._source.read_chunk(_CHUNK)
                    if not chunk:
                        self._done = True
                    else:
                        pieces.append(chunk)
                return pieces[0] if len(pieces) == 1 else b"".join(pieces)
            while self._fill(_CHUNK):
                pass
            return self._take(len(self._buffer))
        if not self._buffer and not self._done and size > 0:
            chunk = self._source.read_chunk(min(size, _CHUNK))
            if len(chunk) == size:
                return chunk  # exactly what was asked for: no copy
            if not chunk:
                self._done = True
                return b""
            self._buffer += chunk
        while len(self._buffer) < size and self._fill(min(size - len(self._buffer), _CHUNK)):
            pass
        return self._take(size)

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        start = 0
        while True:
            nl = self._buffer.find(b"\n", start)
            if nl >= 0:
                end = nl + 1
                break
            if 0 <= limit <= len(self._buffer):
                end = limit
                break
            start = len(self._buffer)
            if not self._fill(_CHUNK if limit < 0 else min(limit - len(self._buffer), _CHUNK)):
                end = len(self._buffer)
                break
        if 0 <= limit < end:
            end = limit
        return self._take(end)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        """Nothing to release: the server owns the source."""
