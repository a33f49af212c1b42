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
    - ``chunk_average`` and ``small_chunks``: a chunked body whose chunks carry less
      than ``chunk_average`` bytes of data each (their extension bytes counted
      against them) is refused (400) after ``small_chunks`` of them: each chunk
      adds ``chunk_average`` + its extension bytes - its size to a balance that
      never goes below zero, and a balance past ``small_chunks * chunk_average`` is
      the error. So at most 1024 one-byte chunks in a row by default, and any
      number of chunks of 64 bytes or more. Each chunk costs the server its
      parsing whatever its size (Python time, not bytes): a client sending
      one-byte chunks as fast as it can would otherwise keep a worker busy at
      five bytes of framing per byte of data.

    Trailer fields count against ``header_fields`` together with the head's
    fields, and each against ``header_field_size``.
    """

    request_line: int = 4094
    header_fields: int = 100
    header_field_size: int = 8190
    body: int | None = None
    chunk_extension: int = 1024
    chunk_average: int = 64
    small_chunks: int = 1024
