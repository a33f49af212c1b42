"""An app that imports nothing at run time: it answers which of the modules named in the
query string its process has loaded, so a test can see what the server imported."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """``GET /?a,b,c``: the names among ``a``, ``b``, ``c`` in ``sys.modules``, one a line."""
    asked = [name for name in environ.get("QUERY_STRING", "").split(",") if name]
    body = "".join(f"{name}\n" for name in asked if name in sys.modules).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
