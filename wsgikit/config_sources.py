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
from dataclasses import dataclass
from typing import Any

from .config import REQUEST_LIMITS, SETTINGS, Config, ConfigError

__all__ = [
    "ALIASES",
    "NO_EFFECT",
    "NoEffect",
    "hook_misspelling",
    "value_warnings",
    "no_effect_warning",
    "cmd_args_from_env",
    "discover_config_file",
    "env_settings",
    "load_config_file",
    "merge",
]


@dataclass(frozen=True)
class NoEffect:
    """A Gunicorn setting wsgikit accepts and ignores, and why (one line says so).

    ``flags`` are Gunicorn's command-line spellings (none: config files only);
    ``takes_value`` is False for Gunicorn's switches (``store_true``/``store_const``);
    ``refuse`` names values that would change what is served, which are refused
    (exit 2) rather than ignored. ``default`` is Gunicorn's default: given explicitly
    (as Gunicorn's example config does, ``spew = False``) it changes nothing, so it
    gets no warning; nor do the ``allowed`` values, which are what wsgikit does anyway.
    """

    why: str
    flags: tuple[str, ...] = ()
    takes_value: bool = True
    allowed: tuple[str, ...] = ()  # values that are what wsgikit does anyway: no warning
    refuse: bool = False
    default: Any = None
    flag_sets: Any = True  # what a switch (takes_value=False) sets: --no-sendfile sets False


_SYSLOG = "syslog is not supported; use --log-config with a logging.handlers.SysLogHandler"
_HTTP2 = "wsgikit speaks HTTP/1.1 only"
_ASGI = "wsgikit serves WSGI apps, not ASGI"
_DIRTY = "dirty arbiters are not supported"
_STRICT = "wsgikit parses requests strictly (RFC 9112) whatever this says"
_PASTE = "PasteDeploy apps are not supported: name the app as module:attr"

# Gunicorn settings that have no effect here, and why: in a config file, on the command
# line (their flags) and in GUNICORN_CMD_ARGS alike. Another issue's owner may take a
# setting out of this table when wsgikit implements it.
NO_EFFECT: Mapping[str, NoEffect] = {
    "worker_tmp_dir": NoEffect(
        "heartbeats go through shared memory, not files", ("--worker-tmp-dir",)
    ),
    "capture_output": NoEffect(
        "the workers' stdout and stderr are the master's; redirect them where you want them",
        ("--capture-output",),
        takes_value=False,
        default=False,
    ),
    "sendfile": NoEffect(
        "wsgi.file_wrapper responses always use sendfile() when they can",
        ("--no-sendfile",),
        takes_value=False,
        allowed=("true",),
        flag_sets=False,
    ),
    "ssl_version": NoEffect(
        "TLS 1.2 is the minimum and the best both sides know is used; "
        "an ssl_context hook can set versions (Gunicorn ignores ssl_version too)",
        ("--ssl-version",),
        default=2,
    ),
    "suppress_ragged_eofs": NoEffect(
        "a connection closed without close_notify ends the request input",
        ("--suppress-ragged-eofs",),
        takes_value=False,
        default=True,
    ),
    "do_handshake_on_connect": NoEffect(
        "the worker loop does the TLS handshake before the first request",
        ("--do-handshake-on-connect",),
        takes_value=False,
        default=False,
    ),
    "spew": NoEffect(
        "tracing every line is not supported", ("--spew",), takes_value=False, default=False
    ),
    "initgroups": NoEffect(
        "workers switching to --user always get that user's groups",
        ("--initgroups",),
        takes_value=False,
        default=False,
    ),
    "syslog": NoEffect(_SYSLOG, ("--log-syslog",), takes_value=False, default=False),
    "syslog_addr": NoEffect(_SYSLOG, ("--log-syslog-to",), default="udp://localhost:514"),
    "syslog_prefix": NoEffect(_SYSLOG, ("--log-syslog-prefix",)),
    "syslog_facility": NoEffect(_SYSLOG, ("--log-syslog-facility",), default="user"),
    "disable_redirect_access_to_syslog": NoEffect(
        _SYSLOG,
        ("--disable-redirect-access-to-syslog",),
        takes_value=False,
        default=False,
    ),
    "logger_class": NoEffect(
        "logs go through the standard logging module; use --log-config",
        ("--logger-class",),
        default="gunicorn.glogging.Logger",
    ),
    "enable_stdio_inheritance": NoEffect(
        "workers always inherit the master's stdio",
        ("-R", "--enable-stdio-inheritance"),
        takes_value=False,
        default=False,
    ),
    "enable_backlog_metric": NoEffect(
        "the listen backlog is not measured",
        ("--enable-backlog-metric",),
        takes_value=False,
        default=False,
    ),
    "default_proc_name": NoEffect("use proc_name", default="gunicorn"),
    "paste": NoEffect(_PASTE, ("--paste", "--paster"), refuse=True),
    "raw_paste_global_conf": NoEffect(_PASTE, ("--paste-global",), default=()),
    "protocol": NoEffect(
        "wsgikit speaks HTTP only (no uwsgi protocol)",
        ("--protocol",),
        allowed=("http",),
        refuse=True,
    ),
    "uwsgi_allow_ips": NoEffect(
        "wsgikit speaks HTTP only", ("--uwsgi-allow-from",), default="127.0.0.1,::1"
    ),
    "http_protocols": NoEffect(_HTTP2, ("--http-protocols",), allowed=("h1",)),
    "http2_cleartext": NoEffect(_HTTP2, ("--http2-cleartext",), allowed=("off",)),
    "http2_max_concurrent_streams": NoEffect(
        _HTTP2, ("--http2-max-concurrent-streams",), default=100
    ),
    "http2_initial_window_size": NoEffect(_HTTP2, ("--http2-initial-window-size",), default=65535),
    "http2_max_frame_size": NoEffect(_HTTP2, ("--http2-max-frame-size",), default=16384),
    "http2_max_header_list_size": NoEffect(
        _HTTP2, ("--http2-max-header-list-size",), default=65536
    ),
    "permit_obsolete_folding": NoEffect(
        _STRICT + " (obs-fold is a 400)",
        ("--permit-obsolete-folding",),
        takes_value=False,
        default=False,
    ),
    "strip_header_spaces": NoEffect(
        _STRICT + " (a space before ':' is a 400)",
        ("--strip-header-spaces",),
        takes_value=False,
        default=False,
    ),
    "permit_unconventional_http_method": NoEffect(
        _STRICT,
        ("--permit-unconventional-http-method",),
        takes_value=False,
        default=False,
    ),
    "permit_unconventional_http_version": NoEffect(
        _STRICT,
        ("--permit-unconventional-http-version",),
        takes_value=False,
        default=False,
    ),
    "casefold_http_method": NoEffect(
        _STRICT, ("--casefold-http-method",), takes_value=False, default=False
    ),
    "forwarder_headers": NoEffect(
        "SCRIPT_NAME and PATH_INFO never come from request headers (use --root-path)",
        ("--forwarder-headers",),
        default="SCRIPT_NAME,PATH_INFO",
    ),
    "header_map": NoEffect(
        "request headers with '_' in their name are always dropped (Gunicorn's 'drop')",
        ("--header-map",),
        allowed=("drop",),
    ),
    "asgi_loop": NoEffect(_ASGI, ("--asgi-loop",), default="auto"),
    "asgi_lifespan": NoEffect(_ASGI, ("--asgi-lifespan",), default="auto"),
    "asgi_disconnect_grace_period": NoEffect(_ASGI, ("--asgi-disconnect-grace-period",), default=3),
    "websocket_max_message_size": NoEffect(
        _ASGI, ("--websocket-max-message-size",), default=16777216
    ),
    "http_parser": NoEffect("the request parser is h11", ("--http-parser",), default="auto"),
    "dirty_apps": NoEffect(_DIRTY, ("--dirty-app",), default=()),
    "dirty_workers": NoEffect(_DIRTY, ("--dirty-workers",), allowed=("0",)),
    "dirty_timeout": NoEffect(_DIRTY, ("--dirty-timeout",), default=300),
    "dirty_threads": NoEffect(_DIRTY, ("--dirty-threads",), default=1),
    "dirty_graceful_timeout": NoEffect(_DIRTY, ("--dirty-graceful-timeout",), default=30),
    # Hooks Gunicorn calls at moments wsgikit does not have.
    "pre_exec": NoEffect("wsgikit does not re-exec itself (USR2 logs statistics)"),
    "on_dirty_starting": NoEffect(_DIRTY),
    "dirty_post_fork": NoEffect(_DIRTY),
    "dirty_worker_init": NoEffect(_DIRTY),
    "dirty_worker_exit": NoEffect(_DIRTY),
}

#: Gunicorn's names for settings wsgikit has under another name.
ALIASES: Mapping[str, str] = {
    "logconfig_json": "logconfig",
    # Where request bodies too large for memory are written, as in Gunicorn.
    "tmp_upload_dir": "spool_dir",
}


def no_effect_warning(name: str, value: Any, label: str) -> str | None:
    """The one-line warning for Gunicorn-only setting ``name`` given as ``label`` (a
    flag, or ``"FILE: 'name'"``); None when there is nothing to say.

    Raises :class:`ConfigError` when the value would change what is served.
    """
    entry = NO_EFFECT[name]
    text = str(value).strip().lower() if value is not None else ""
    if (entry.allowed and text in entry.allowed) or _is_default(value, entry.default):
        return None
    if entry.refuse and value not in (None, False, "", [], ()):
        raise ConfigError(name, f"not supported ({entry.why})")
    return f"{label} has no effect in wsgikit ({entry.why}); ignored"


def _is_default(value: Any, default: Any) -> bool:
    """Whether ``value`` (from a file, or a flag's text) is Gunicorn's ``default``."""
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    if isinstance(value, list | tuple) and isinstance(default, list | tuple):
        return list(value) == list(default)
    if isinstance(value, str) and isinstance(default, int | float):  # a flag's text
        return value.strip() == str(default)
    if isinstance(value, int | float) and isinstance(default, int | float):
        return value == default
    return (
        value is None
        and default is None
        or (isinstance(value, str) and isinstance(default, str) and value.strip() == default)
    )


def value_warnings(values: Mapping[str, Any], config: Config) -> list[str]:
    """One line for each setting a Gunicorn user may give that wsgikit takes otherwise.

    ``values`` are the raw values (later sources already winning), ``config`` the
    settings made of them: a request-head limit of 0 (Gunicorn's "no limit") or over
    wsgikit's maximum is its maximum; TLS settings without ``certfile`` do nothing
    (TLS is off, as in Gunicorn).
    """
    warnings = []
    for name, maximum in REQUEST_LIMITS.items():
        raw = values.get(name)
        if raw is None or getattr(config, name) != maximum:
            continue
        given = int(raw)
        if given == 0:
            warnings.append(
                f"setting '{name}': 0 (no limit in Gunicorn) means wsgikit's largest, {maximum}"
            )
        elif given > maximum:
            warnings.append(f"setting '{name}': {given} is over wsgikit's largest; {maximum} used")
    for name in config.ignored_tls_settings:
        warnings.append(
            f"setting '{name}' has no effect without certfile "
            "(TLS is off: plain HTTP is served, as Gunicorn does)"
        )
    return warnings


def hook_misspelling(name: str) -> str | None:
    """The hook ``name`` was probably meant to be (a function defined in a config file)."""
    import difflib

    from .config import HOOK_NAMES

    known = [*HOOK_NAMES, *(n for n in NO_EFFECT if n in _GUNICORN_HOOKS)]
    if name in known:
        return None
    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    return matches[0] if matches else None


_GUNICORN_HOOKS = frozenset(
    {"pre_exec", "on_dirty_starting", "dirty_post_fork", "dirty_worker_init", "dirty_worker_exit"}
)


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
    for every setting wsgikit supports; an unknown name gets a warning. As in
    Gunicorn, ``python:package.module`` names an importable module instead of a
    file (re-imported on each call, so a HUP re-reads it).
    """
    import runpy
    import types

    try:
        if path.startswith("python:"):
            namespace = _config_module(path[len("python:") :])
        else:
            namespace = runpy.run_path(path, run_name="__config__")
    except ConfigError:
        raise
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
        if name.isupper():
            continue  # a constant of the file (settings are lower case)
        name = ALIASES.get(name, name)
        if name in SETTINGS:
            values[name] = value
        elif name in NO_EFFECT:
            warning = no_effect_warning(name, value, f"{path}: '{name}'")
            if warning:
                warnings.append(warning)
        elif callable(value):
            meant = hook_misspelling(name)
            if meant:  # a hook that would silently never run
                warnings.append(f"{path}: '{name}' is not a hook: did you mean {meant}?")
            # otherwise a helper function defined in the file
        else:
            warnings.append(f"{path}: unknown setting '{name}' ignored")
    return values, warnings


def _config_module(name: str) -> dict[str, Any]:
    """The namespace of config module ``name``, freshly executed."""
    import importlib
    import sys

    try:
        if name in sys.modules:
            module = importlib.reload(sys.modules[name])
        else:
            module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise ConfigError(
                "config", f"config module {name!r} not found (sys.path[0] is {sys.path[0]!r})"
            ) from None
        raise
    return dict(vars(module))


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
