"""wsgikit: a library-first, embeddable pre-fork WSGI server toolkit for UNIX.

``serve()`` runs a server for code, ``python -m wsgikit`` for the shell, and
:class:`wsgikit.testing.LiveServer` inside tests.

Names are imported on first use, so that loading the pytest plugin (which
pytest does before coverage starts) does not import the whole package. No
submodule is named like a name exported here, so ``wsgikit.serve`` is always
the function, whatever was imported before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .binds import BindError
    from .config import Config, ConfigError
    from .facade import serve
    from .importer import AppImportError
    from .server import ServerOptions, make_server

    run = serve

__version__ = "0.1.0"

_EXPORTS = {
    "AppImportError": ("importer", "AppImportError"),
    "BindError": ("binds", "BindError"),
    "Config": ("config", "Config"),
    "ConfigError": ("config", "ConfigError"),
    "ServerOptions": ("server", "ServerOptions"),
    "make_server": ("server", "make_server"),
    "serve": ("facade", "serve"),
    # The entry point of earlier releases, under its old name.
    "run": ("facade", "serve"),
}

__all__ = [
    "AppImportError",
    "BindError",
    "Config",
    "ConfigError",
    "ServerOptions",
    "__version__",
    "make_server",
    "run",
    "serve",
]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'wsgikit' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value  # later lookups skip this function
    return value
