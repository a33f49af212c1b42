"""``wsgi.errors``: a text stream that writes each line to a logger."""

from __future__ import annotations

import logging
from collections.abc import Iterable

__all__ = ["ErrorStream"]


class ErrorStream:
    """Line-buffered text stream into ``logger.error`` (PEP 3333 ``wsgi.errors``)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._pending = ""

    def write(self, text: str) -> int:
        data = self._pending + text
        *lines, self._pending = data.split("\n")
        for line in lines:
            self._logger.error("%s", line)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._pending:
            self._logger.error("%s", self._pending)
            self._pending = ""
