"""Build the PEP 3333 ``environ`` for a request."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_to_bytes

from ..http import Request
from .file_wrapper import FileWrapper

__all__ = ["ServerInfo", "build_environ", "split_target"]


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the environ says about the server side of a connection."""

    server_name: str
    server_port: str
    url_scheme: str = "http"
    root_path: str = ""
    multithread: bool = False
    multiprocess: bool = False

    def base_environ(self, errors: Any) -> dict[str, Any]:
        """The keys that are the same for every request on this listener."""
        return {
            "SERVER_NAME": self.server_name,
            "SERVER_PORT": self.server_port,
            "SCRIPT_NAME": self.root_path,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self.url_scheme,
            "wsgi.errors": errors,
            "wsgi.multithread": self.multithread,
            "wsgi.multiprocess": self.multiprocess,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            "wsgi.input_terminated": True,
            "SERVER_SOFTWARE": "wsgikit",
        }


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """Split a request target into (path, query); absolute-form keeps only the path."""
    path, _, query = target.partition(b"?")
    if not path.startswith(b"/") and b"://" in path:
        # absolute-form (RFC 9112 section 3.2.2): http://host:port/path
        rest = path.split(b"://", 1)[1]
        slash = rest.find(b"/")
        path = rest[slash:] if slash >= 0 else b"/"
    return path, query


_SPECIAL = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}


@lru_cache(maxsize=1024)
def _header_key(name: bytes) -> str | None:
    """The environ key for a (lower-cased) header name; None to drop it."""
    if b"_" in name:
        return None  # could spoof a header spelled with "-" (X_Auth vs X-Auth)
    return _SPECIAL.get(name) or "HTTP_" + name.decode("latin-1").upper().replace("-", "_")


def build_environ(
    request: Request,
    base: dict[str, Any],
    wsgi_input: Any,
    remote: tuple[str, int] | None,
) -> dict[str, Any]:
    """Return a fresh environ for ``request`` on top of ``base`` (see ServerInfo)."""
    environ = base.copy()
    path, query = split_target(request.target)
    if path == b"*" or request.method == b"CONNECT":
        # OPTIONS * and CONNECT host:port (RFC 9112 sections 3.2.4, 3.2.3) name
        # no path; RAW_URI keeps the target.
        path = b""
    if b"%" in path:
        path = unquote_to_bytes(path)
    path_info = path.decode("latin-1")
    root = environ["SCRIPT_NAME"]
    if root and (path_info == root or path_info.startswith(root + "/")):
        path_info = path_info[len(root) :]
    environ["REQUEST_METHOD"] = request.method.decode("latin-1")
    environ["PATH_INFO"] = path_info
    environ["QUERY_STRING"] = query.decode("latin-1")
    environ["RAW_URI"] = environ["REQUEST_URI"] = request.target.decode("latin-1")
    environ["SERVER_PROTOCOL"] = "HTTP/" + request.http_version.decode("latin-1")
    environ["wsgi.input"] = wsgi_input
    if remote is not None:
        environ["REMOTE_ADDR"] = remote[0]
        environ["REMOTE_PORT"] = str(remote[1])
    else:  # a unix socket peer has no address; apps still expect the key (Gunicorn: "")
        environ["REMOTE_ADDR"] = environ["REMOTE_PORT"] = ""
    for name, value in request.headers:
        key = _header_key(name)
        if key is None:
            continue
        text = value.decode("latin-1")
        if key in environ and key.startswith("HTTP_"):
            sep = "; " if key == "HTTP_COOKIE" else ", "
            environ[key] = environ[key] + sep + text
        else:
            environ[key] = text
    if request.host is not None:
        # An absolute-form target's authority overrides Host (RFC 9112 section
        # 3.2.2); the connection has put the one that counts in request.host.
        environ["HTTP_HOST"] = request.host.decode("latin-1")
    return environ
