"""The page served when ``wsgikit`` is started without an app."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["application"]

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>wsgikit is running</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>wsgikit is running</h1>
<p>You reached <code>{path}</code> with <code>{method}</code>.</p>
<p>Serve your own WSGI app with <code>wsgikit yourmodule:application</code>,
for example <code>python -m wsgikit examples.hello:application</code>.</p>
</body></html>
"""


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A small page saying the server works and how to serve a real app."""
    body = _PAGE.format(
        path=html.escape(environ.get("PATH_INFO", "/")),
        method=html.escape(environ.get("REQUEST_METHOD", "GET")),
    ).encode("utf-8")
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
