"""The PEP 3333 adapter: environ, ``wsgi.input``, ``start_response`` and response driving.

It talks to the connection below through a tiny transport interface
(:class:`Transport` and :class:`BodySource`), never to sockets;
:mod:`wsgikit.wsgi.memory` drives it in memory.
"""

from .call import ClientDisconnected, ResponseInfo, Transport, WSGIApp, call_app
from .environ import ServerInfo, build_environ, split_target
from .errors import ErrorStream
from .file_wrapper import FileWrapper
from .input import BodySource, BytesBody, ConnectionBody, FileBody, InputStream, drain_body
from .memory import FIXED_DATE, MemoryTransport, serve_bytes

__all__ = [
    "FIXED_DATE",
    "BodySource",
    "BytesBody",
    "ClientDisconnected",
    "ConnectionBody",
    "ErrorStream",
    "FileBody",
    "FileWrapper",
    "InputStream",
    "MemoryTransport",
    "ResponseInfo",
    "ServerInfo",
    "Transport",
    "WSGIApp",
    "build_environ",
    "call_app",
    "drain_body",
    "serve_bytes",
    "split_target",
]
