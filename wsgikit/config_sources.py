"""Where settings come from besides keyword arguments: config files, the environment.

A Python config file (``-c FILE``, else ``./wsgikit.conf.py`` or
``./gunicorn.conf.py``) accepts Gunicorn's setting names, so a Gunicorn
deployment's file works unchanged; ``WSGIKIT_<SETTING>`` variables and
``WSGIKIT_CMD_ARGS`` (or ``GUNICORN_CMD_ARGS``) add more. :func:`merge` layers
them into one :class:`~wsgikit.config.Config`, later layers winning.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from .config import SETTINGS, Config, ConfigError

__all__ = [
    "NO_EFFECT",
    "cmd_args_from_env",
    "discover_config_file",
    "env_settings",
    "load_config_file",
    "merge",
]

# Gunicorn settings accepted in a config file that have no effect here, and why.
NO_EFFECT: Mapping[str, str] = {
    "worker_tmp_dir": "heartbeats go through shared memory, not files",
    "capture_output": "",
    "reload": "code reloading is not supported; send HUP to reload",
    "reload_engine": "code reloading is not supported; send HUP to reload",
    "sendfile": "wsgi.file_wrapper responses always use sendfile() when they can",
    "ssl_version": "TLS 1.2 is the minimum and the best both sides know is used; "
    "an ssl_context hook can set versions (Gunicorn ignores ssl_version too)",
    "suppress_ragged_eofs": "a connection closed without close_notify ends the request input",
    "do_handshake_on_connect": "the worker loop does the TLS handshake before the first request",
    "syslog": "syslog is not supported; use --log-config",
    "spew": "",
}


def env_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings from ``WSGIKIT_<NAME>`` variables (e.g. ``WSGIKIT_WORKERS=4``)."""
    values: dict[str, Any] = {}
    for name, spec in SETTINGS.items():
        key = "WSGIKIT_" + name.upper()
        if key in environ and spec.cli:
            values[name] = environ[key]
    return values


def cmd_args_from_env(environ: Mapping[str, str]) -> list[str]:
    """Extra command-line arguments from ``WSGIKIT_CMD_ARGS`` or ``GUNICORN_CMD_ARGS``."""
    name = "WSGIKIT_CMD_ARGS" if environ.get("WSGIKIT_CMD_ARGS") else "GUNICORN_CMD_ARGS"
    text = environ.get(name) or ""
    try:
        return shlex.split(text)
    except ValueError as exc:  # e.g. "No closing quotation"
        raise ConfigError(name, f"cannot split {text!r}: {exc}") from None


def _failing_line(exc: BaseException, path: str) -> str:
    """`` line N`` of the deepest frame of ``path`` in the exception's traceback."""
    import traceback

    line = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            line = f" line {frame.lineno}"
    return line


def load_config_file(path: str) -> tuple[dict[str, Any], list[str]]:
    """Run a Python config file; return (settings it sets, warnings).

    Gunicorn's names are accepted, so a ``gunicorn.conf.py`` works unchanged
    for every setting wsgikit supports; an unknown name gets a warning.
    """
    import runpy
    import types

    try:
        namespace = runpy.run_path(path, run_name="__config__")
    except FileNotFoundError:
        raise ConfigError("config", f"config file {path!r} not found") from None
    except SyntaxError as exc:
        raise ConfigError("config", f"{path} line {exc.lineno}: SyntaxError: {exc.msg}") from None
    except Exception as exc:
        line = _failing_line(exc, path)
        raise ConfigError("config", f"{path}{line}: {type(exc).__name__}: {exc}") from None
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for name, value in namespace.items():
        if name.startswith("_") or isinstance(value, types.ModuleType | type):
            continue
        if name in SETTINGS:
            values[name] = value
        elif name in NO_EFFECT:
            why = f" ({NO_EFFECT[name]})" if NO_EFFECT[name] else ""
            warnings.append(f"{path}: setting '{name}' has no effect in wsgikit{why}; ignored")
        elif callable(value):
            continue  # a helper function defined in the file
        else:
            warnings.append(f"{path}: unknown setting '{name}' ignored")
    return values, warnings


def merge(layers: Iterable[Mapping[str, Any]]) -> Config:
    """Build a Config from layers of raw values, later layers winning."""
    values: dict[str, Any] = {}
    for layer in layers:
        values.update(layer)
    return Config(**values)


def discover_config_file(explicit: str | None) -> str | None:
    """The config file to load: ``explicit``, else the first of ``./wsgikit.conf.py`` and
    ``./gunicorn.conf.py`` that exists (Gunicorn loads ``gunicorn.conf.py`` the same way)."""
    if explicit:
        return explicit
    for name in ("wsgikit.conf.py", "gunicorn.conf.py"):
        if os.path.exists(name):
            return name
    return None
