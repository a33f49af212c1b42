"""The bytes a connection has received and not yet consumed.

A head is scanned in place and body bytes are taken from the front, so the
buffer keeps a read position instead of deleting what was consumed (which
would move the rest on every take). When everything received has been
consumed, the next ``bytes`` object from the caller is adopted as it is: a
body that arrives one ``recv()`` at a time is handed on without being copied.
"""

from __future__ import annotations

__all__ = ["InputBuffer"]

# Consumed bytes at the front of a bytearray are dropped once they pass this
# size and half the buffer, so compaction costs amortized linear time.
_COMPACT = 65536


class InputBuffer:
    """Received bytes, consumed from the front; positions are relative to the unconsumed start."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes = b"") -> None:
        self._data: bytes | bytearray = data
        self._pos = 0

    def __len__(self) -> int:
        return len(self._data) - self._pos

    def append(self, data: bytes) -> None:
        """Add received bytes at the end."""
        if not data:
            return
        if self._pos == len(self._data):
            # Nothing unconsumed: adopt an immutable object without a copy.
            self._data = data if type(data) is bytes else bytes(data)
            self._pos = 0
            return
        current = self._data
        if isinstance(current, bytearray):
            if self._pos > _COMPACT and self._pos * 2 > len(current):
                del current[: self._pos]
                self._pos = 0
            current += data
        else:
            grown = bytearray(memoryview(current)[self._pos :])
            grown += data
            self._data = grown
            self._pos = 0

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """Index of ``sub`` in the unconsumed bytes ``[start:end]``, or -1."""
        pos = self._pos
        stop = len(self._data) if end is None else min(len(self._data), pos + end)
        found = self._data.find(sub, pos + start, stop)
        return found - pos if found >= 0 else -1

    def byte(self, index: int) -> int:
        """The unconsumed byte at ``index`` (which must exist)."""
        return self._data[self._pos + index]

    def view(self) -> tuple[bytes | bytearray, int]:
        """The underlying object and the index of its first unconsumed byte, for a
        parser that matches in place (read only; consume with :meth:`skip`)."""
        return self._data, self._pos

    def slice(self, start: int, end: int) -> bytes:
        """A copy of the unconsumed bytes ``[start:end]``, without consuming them."""
        pos = self._pos
        return bytes(self._data[pos + start : pos + end])

    def take(self, size: int) -> bytes:
        """Consume and return up to ``size`` bytes, copying them at most once."""
        data = self._data
        pos = self._pos
        end = min(len(data), pos + size)
        if pos == 0 and end == len(data) and type(data) is bytes:
            self._data = b""
            return data  # the caller's own object, whole
        if type(data) is bytes:
            chunk = data[pos:end]
        else:
            with memoryview(data) as view:
                chunk = view[pos:end].tobytes()
        self._consumed(end)
        return chunk

    def skip(self, size: int) -> None:
        """Consume ``size`` bytes without returning them."""
        self._consumed(min(len(self._data), self._pos + size))

    def _consumed(self, end: int) -> None:
        if end >= len(self._data):
            self._data = b""
            self._pos = 0
        else:
            self._pos = end
