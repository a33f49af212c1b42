"""``wsgi.file_wrapper``: lets the server send a file efficiently (PEP 3333)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["FileWrapper"]


class FileWrapper:
    """Iterate a file in blocks; servers that can use ``os.sendfile`` recognise it.

    ``close()`` closes the file, as PEP 3333 requires.
    """

    def __init__(self, filelike: IO[bytes], blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize
        close = getattr(filelike, "close", None)
        if close is not None:
            self.close = close  # type: ignore[method-assign]

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        while True:
            data = read(self.blksize)
            if not data:
                return
            yield data

    def close(self) -> None:
        """Replaced by the file's own ``close`` when it has one."""

    def fileno_and_size(self) -> tuple[int, int, int] | None:
        """``(fd, offset, remaining bytes)`` when the file is a regular OS file, else None."""
        try:
            fd = self.filelike.fileno()
            offset = self.filelike.tell()
            st: Any = os.fstat(fd)
        except (AttributeError, OSError, ValueError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        return fd, offset, max(0, st.st_size - offset)
