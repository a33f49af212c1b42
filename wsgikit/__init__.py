"""wsgikit: a library-first, embeddable pre-fork WSGI server toolkit for UNIX.

``serve()`` runs a server for code, ``python -m wsgikit`` for the shell, and
:class:`wsgikit.testing.LiveServer` inside tests.

Names are imported on first use, so that loading the pytest plugin (which
pytest does before coverage starts) does not import the whole package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config, ConfigError
    from .importer import AppImportError
    from .serve import make_server, serve
    from .server import BindError

    run = serve

__version__ = "0.1.0"

_EXPORTS = {
    "AppImportError": ("importer", "AppImportError"),
    "BindError": ("server", "BindError"),
    "Config": ("config", "Config"),
    "ConfigError": ("config", "ConfigError"),
    "make_server": ("serve", "make_server"),
    "serve": ("serve", "serve"),
    # The original emulator's entry point, under its old name.
    "run": ("serve", "serve"),
}

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


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'wsgikit' has no attribute {name!r}") from None
    return getattr(importlib.import_module(f".{module}", __name__), attr)
