"""A strict reference parser for the differential check: Gunicorn's, installed for the tests only.

Gunicorn (23 and later) is among the strictest HTTP/1.1 request parsers in
Python: it refuses bare LF, obs-fold, lower-case methods, bad chunk
extensions and repeated Content-Length. Bytes are fed to its pure-Python
``RequestParser`` from memory (no socket); each request's body is read to
its end, as a worker would.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["reference_accepts"]


@lru_cache(maxsize=8)
def _config(limits: tuple[tuple[str, int], ...]) -> Any:
    from gunicorn.config import Config

    cfg = Config()
    if "http_parser" in cfg.settings:
        cfg.set("http_parser", "python")  # not the optional C parser, whatever is installed
    for name, value in limits:
        if name in cfg.settings:  # Gunicorn has no request body limit
            cfg.set(name, value)
    return cfg


def reference_accepts(raw: bytes, limits: dict[str, int] | None = None) -> tuple[int, str]:
    """How many requests Gunicorn reads whole from ``raw``, and why it stopped.

    The reason is "" when it read to the end of the input (or stopped because the
    last request closes the connection), else the name of the error it raised.
    """
    from gunicorn.http.parser import RequestParser

    parser = RequestParser(
        _config(tuple(sorted((limits or {}).items()))), iter([raw]), ("127.0.0.1", 1)
    )
    count = 0
    try:
        for request in parser:
            while request.body.read(65536):
                pass
            count += 1
    except Exception as exc:  # every parse failure of Gunicorn's is an exception
        return count, type(exc).__name__
    return count, ""
