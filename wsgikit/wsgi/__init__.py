"""The PEP 3333 adapter: environ, ``wsgi.input``, ``start_response`` and response driving.

It talks to the connection below through a tiny transport interface
(:class:`Transport` and :class:`BodySource`), never to sockets.
"""

from .environ import ServerInfo, build_environ, split_target
from .errors import ErrorStream
from .file_wrapper import FileWrapper
from .handler import ClientDisconnected, ResponseInfo, Transport, run_app
from .input import BodySource, BytesBody, ConnectionBody, FileBody, InputStream

__all__ = [
    "BodySource",
    "BytesBody",
    "ClientDisconnected",
    "ConnectionBody",
    "ErrorStream",
    "FileBody",
    "FileWrapper",
    "InputStream",
    "ResponseInfo",
    "ServerInfo",
    "Transport",
    "build_environ",
    "run_app",
    "split_target",
]
