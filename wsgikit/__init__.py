"""wsgikit: a library-first, embeddable pre-fork WSGI server toolkit for UNIX."""

from .config import Config, ConfigError

__version__ = "0.1.0"

__all__ = ["Config", "ConfigError", "__version__"]
