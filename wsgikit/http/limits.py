"""Size limits applied to incoming requests."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on a request; the defaults are Gunicorn's.

    - ``request_line``: bytes in the request line (answered 414 when exceeded).
    - ``header_fields``: number of header fields (431).
    - ``header_field_size``: bytes in one header field line (431).
    - ``body``: bytes in the request body, or ``None`` for no limit (413).
    - ``chunk_extension``: bytes after the size on one chunk-size line, the
      chunk extensions and the whitespace before them (400).

    Trailer fields count against ``header_fields`` together with the head's
    fields, and each against ``header_field_size``.
    """

    request_line: int = 4094
    header_fields: int = 100
    header_field_size: int = 8190
    body: int | None = None
    chunk_extension: int = 1024
