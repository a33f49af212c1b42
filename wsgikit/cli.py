"""The ``wsgikit`` command: Gunicorn's flags over one :class:`~wsgikit.config.Config`.

Settings are layered, later winning: defaults, the config file
(``-c FILE``; else ``./wsgikit.conf.py`` or ``./gunicorn.conf.py`` when
present), ``WSGIKIT_<SETTING>`` variables, ``WSGIKIT_CMD_ARGS`` (or
``GUNICORN_CMD_ARGS``), then the command line.

``wsgikit ctl ...`` and ``wsgikit status`` talk to a running server instead
(see :mod:`wsgikit.ctl`).

Exit status: 0 after a normal stop, 2 for a usage or settings error
(including an address that cannot be bound), 3 when the app cannot be loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from . import __version__
from .binds import BindError
from .config import SETTINGS, Config, ConfigError, port_bind
from .config_sources import (
    NO_EFFECT,
    cmd_args_from_env,
    discover_config_file,
    env_settings,
    load_config_file,
    merge,
    no_effect_warning,
    value_warnings,
)
from .importer import AppImportError

__all__ = ["main", "build_parser", "load_config"]

EXIT_USAGE = 2
EXIT_APP = 3


def build_parser(*, app: bool = True) -> argparse.ArgumentParser:
    """An argparse parser derived from the settings declarations (``app=False``: flags
    only, as ``*_CMD_ARGS`` are read)."""
    parser = argparse.ArgumentParser(
        prog="wsgikit",
        description="Serve a WSGI application (module:attr). With no app, serve a demo page.",
        argument_default=argparse.SUPPRESS,
    )
    if app:
        parser.add_argument(
            "app", nargs="?", help="The WSGI app as module:attr or module:factory()."
        )
    parser.add_argument("-c", "--config", metavar="FILE", help="A Python config file.")
    parser.add_argument(
        "--check-config", action="store_true", help="Check the settings and the app, then exit."
    )
    parser.add_argument(
        "--print-config", action="store_true", help="Print the effective settings and exit."
    )
    parser.add_argument("-v", "--version", action="version", version=f"wsgikit {__version__}")
    for name, entry in NO_EFFECT.items():
        if entry.flags:  # accepted, then warned about (see load_config)
            parser.add_argument(
                *entry.flags,
                dest=f"no_effect_{name}",
                action=_NoEffectFlag,
                nargs=None if entry.takes_value else 0,
                help=argparse.SUPPRESS,
            )
    groups: dict[str, Any] = {}
    for spec in SETTINGS.values():
        if not spec.cli:
            continue
        group = groups.get(spec.section)
        if group is None:
            group = groups[spec.section] = parser.add_argument_group(spec.section)
        kwargs: dict[str, Any] = {"dest": spec.name, "help": spec.help}
        if spec.action == "store_true":
            kwargs["action"] = "store_true"
        else:
            kwargs["metavar"] = spec.metavar
            if spec.const is not None:
                kwargs["nargs"] = "?"
                kwargs["const"] = spec.const
            if spec.action:
                kwargs["action"] = spec.action
        group.add_argument(*spec.flags, **kwargs)
    return parser


class _NoEffectFlag(argparse.Action):
    """A Gunicorn flag wsgikit does not implement: recorded, then warned about."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        seen = list(getattr(namespace, "no_effect", []))
        name = self.dest.removeprefix("no_effect_")
        value = NO_EFFECT[name].flag_sets if self.nargs == 0 else values
        seen.append((name, option_string or self.dest, value))
        namespace.no_effect = seen


def _no_effect_warnings(ns: argparse.Namespace, source: str = "") -> list[str]:
    warnings = []
    for name, flag, value in getattr(ns, "no_effect", []):
        warning = no_effect_warning(name, value, f"{source}: {flag}" if source else flag)
        if warning:
            warnings.append(warning)
    return warnings


def _env_args(extra: list[str], source: str) -> tuple[argparse.Namespace, list[str]]:
    """``*_CMD_ARGS`` parsed; what neither wsgikit nor Gunicorn knows is ignored with a
    warning, so that the environment can never stop a start.

    They hold flags only, as in Gunicorn: the app is named on the command line or by
    ``wsgi_app``. So the words after an unknown flag are taken as its value, never as
    the app (``--future-flag 3`` is one unknown argument).
    """
    ns, unknown = build_parser(app=False).parse_known_args(extra)
    warnings = []
    start = 0
    while start < len(unknown):
        end = start + 1
        if unknown[start].startswith("-"):
            while end < len(unknown) and not unknown[end].startswith("-"):
                end += 1
            words = " ".join(unknown[start:end])
            warnings.append(f"{source}: unknown argument {words!r} ignored")
        else:
            warnings.append(
                f"{source}: {unknown[start]!r} ignored (it holds flags only; "
                "name the app on the command line or as wsgi_app)"
            )
        start = end
    return ns, warnings


def load_config(
    argv: Sequence[str], environ: Mapping[str, str] | None = None
) -> tuple[Config, argparse.Namespace, list[str]]:
    """Parse the command line and the other sources into a Config.

    Returns the config, the parsed namespace (for the app and actions) and
    warnings to print. Raises ConfigError; argparse exits 2 on bad usage.
    """
    env = os.environ if environ is None else environ
    parser = build_parser()
    extra = cmd_args_from_env(env)
    source = "WSGIKIT_CMD_ARGS" if env.get("WSGIKIT_CMD_ARGS") else "GUNICORN_CMD_ARGS"
    env_ns, warnings = _env_args(extra, source) if extra else (argparse.Namespace(), [])
    ns = parser.parse_args(list(argv))
    warnings += _no_effect_warnings(env_ns, source) + _no_effect_warnings(ns)
    layers: list[dict[str, Any]] = []
    path = discover_config_file(getattr(ns, "config", None) or getattr(env_ns, "config", None))
    if path:
        values, file_warnings = load_config_file(path)
        warnings += file_warnings
        layers.append(values)
    layers.append(env_settings(env))
    layers.append({k: v for k, v in vars(env_ns).items() if k in SETTINGS})
    layers.append({k: v for k, v in vars(ns).items() if k in SETTINGS})
    if not any("bind" in layer for layer in layers):
        bind = port_bind(env)  # a container's $PORT, as Gunicorn
        if bind is not None:
            layers.insert(0, {"bind": bind})
    config = merge(layers)
    raw: dict[str, Any] = {}
    for layer in layers:
        raw.update(layer)
    warnings += value_warnings(raw, config)
    return config, ns, warnings


def _print_config(config: Config) -> None:
    """Every setting as it will be used: defaults resolved (the worker count, the worker
    class), modes and masks in octal, hooks by name."""
    resolved = {"workers": config.resolved_workers, "worker_class": config.resolved_worker_class}
    for name, value in config.as_dict().items():
        value = resolved.get(name, value)
        if callable(value):
            value = getattr(value, "__qualname__", repr(value))
        text = SETTINGS[name].show(value) if name in SETTINGS else repr(value)
        print(f"{name:26} = {text}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wsgikit`` console script and ``python -m wsgikit``."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("ctl", "status"):
        from .ctl import main as ctl_main

        return ctl_main(args)
    try:
        config, ns, warnings = load_config(args)
    except ConfigError as exc:
        print(f"wsgikit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for warning in warnings:
        print(f"wsgikit: warning: {warning}", file=sys.stderr)
    app = getattr(ns, "app", None) or config.wsgi_app
    if getattr(ns, "print_config", False):
        _print_config(config)
        return 0
    from .facade import load_app, prepare_process, serve_config
    from .preflight import check_settings

    try:
        if getattr(ns, "check_config", False):
            prepare_process(config)
            check_settings(config)
            load_app(app)
            print("wsgikit: configuration and app OK", file=sys.stderr)
            return 0
        return serve_config(config, app, reload_config=lambda: load_config(args)[0])
    except ConfigError as exc:
        print(f"wsgikit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BindError as exc:
        print(f"wsgikit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AppImportError as exc:
        if exc.details:
            sys.stderr.write(exc.details)
        print(f"wsgikit: error: {exc}", file=sys.stderr)
        return EXIT_APP
    except KeyboardInterrupt:
        return 0
