"""wsgikit: a library-first, embeddable pre-fork WSGI server toolkit for UNIX.

``serve()`` runs a server for code, ``python -m wsgikit`` for the shell, and
:class:`wsgikit.testing.LiveServer` inside tests.
"""

from .config import Config, ConfigError
from .importer import AppImportError
from .serve import make_server, serve
from .server import BindError

__version__ = "0.1.0"

#: The original emulator's entry point, under its old name.
run = serve

__all__ = [
    "AppImportError",
    "BindError",
    "Config",
    "ConfigError",
    "__version__",
    "make_server",
    "run",
    "serve",
]
