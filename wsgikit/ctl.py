"""``wsgikit ctl`` and ``wsgikit status``: talk to a running server's control socket.

The server listens on ``control_socket`` (``--control-socket PATH``, mode
0600). The client finds the path in ``-s PATH``, else ``$WSGIKIT_CONTROL_SOCKET``,
else the ``control_socket`` of the config file (``-c FILE``, or
``./wsgikit.conf.py`` / ``./gunicorn.conf.py``). ``--json`` prints the raw
answer; otherwise tables for people.

Exit status: 0 done, 1 the server refused or could not be reached, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .config import SETTINGS, ConfigError
from .config_sources import discover_config_file, load_config_file
from .observe import ControlError, send_command
from .observe.control import COMMANDS

__all__ = ["main"]


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Show and steer a running wsgikit server through its control socket.",
        epilog="commands:\n" + "\n".join(f"  {name:26} {what}" for name, what in COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-s", "--socket", metavar="PATH", help="The control socket.")
    parser.add_argument("-c", "--config", metavar="FILE", help="Read control_socket from it.")
    parser.add_argument("--json", action="store_true", help="Print the answer as JSON.")
    if prog.endswith("ctl"):
        parser.add_argument(
            "--now", action="store_true", help="With worker kill: SIGKILL, without waiting."
        )
        parser.add_argument("command", help="show, worker, reload, reopen, shutdown, help")
        parser.add_argument("args", nargs="*", help="The command's arguments.")
    return parser


def socket_path(
    explicit: str | None, config: str | None, environ: Mapping[str, str] | None = None
) -> str:
    """Where the control socket is; raises ConfigError when nothing says."""
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get("WSGIKIT_CONTROL_SOCKET"):
        return env["WSGIKIT_CONTROL_SOCKET"]
    path = discover_config_file(config)
    if path:
        values, _ = load_config_file(path)
        if values.get("control_socket"):
            return str(values["control_socket"])
    raise ConfigError(
        "control_socket",
        "no control socket given: use -s PATH, $WSGIKIT_CONTROL_SOCKET or a config file "
        "that sets control_socket (start the server with --control-socket PATH)",
    )


def main(argv: Sequence[str]) -> int:
    """``argv[0]`` is ``ctl`` or ``status``; the rest are its arguments."""
    name, rest = argv[0], list(argv[1:])
    parser = _parser(f"wsgikit {name}")
    ns = parser.parse_args(rest)
    command, args = ("show", ["all"]) if name == "status" else (ns.command, ns.args)
    if getattr(ns, "now", False):
        args = [*args, "--now"]
    if command == "status":
        command, args = "show", ["all"]
    try:
        path = socket_path(ns.socket, ns.config)
        data = send_command(path, command, args)
    except ConfigError as exc:
        print(f"wsgikit: error: {exc}", file=sys.stderr)
        return 2
    except ControlError as exc:
        print(f"wsgikit: error: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(data, indent=2, sort_keys=True, default=str) if ns.json else None
    try:
        print(text if text is not None else render(command, args, data))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left early (``wsgikit ctl show config | head``): what it read is
        # what it wanted. Nothing more goes to the closed pipe, not even at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


# ----------------------------------------------------------------- tables


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f}M"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _classes(status: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in status.items() if count)


def _stats(doc: Mapping[str, Any]) -> str:
    master = doc["master"]
    state = "stopping" if master["stopping"] else "reloading" if master["reloading"] else "serving"
    lines = [
        f"master {master['pid']}: {state}, up {_duration(master['uptime'])}, "
        f"generation {master['generation']}, memory {_mib(master.get('rss'))}",
        f"workers: {doc['workers_booted']} booted of {doc['workers_live']} alive, "
        f"target {doc['workers_target']}, {doc['workers_spawned']} started in all",
    ]
    duration = doc["duration"]
    count = sum(duration["buckets"])
    mean = f", mean {duration['sum'] / count * 1000:.1f} ms" if count else ""
    classes = _classes(doc["status"])
    lines.append(
        f"requests: {doc['requests']}{f' ({classes})' if classes else ''}, "
        f"errors {doc['errors']}, in flight {doc['in_flight']}{mean}"
    )
    return "\n".join(lines)


def _workers(workers: list[Mapping[str, Any]]) -> str:
    rows = [
        ["PID", "ID", "GEN", "AGE", "REQS", "2XX", "4XX", "5XX", "ERR", "RSS", "STATE", "SERVING"]
    ]
    for w in workers:
        state = "retiring" if w["retiring"] else "booted" if w["booted"] else "booting"
        busy = "; ".join(f"{b['request']} ({b['running']:.1f}s)" for b in w["busy"]) or "-"
        status = w["status"]
        rows.append(
            [
                str(w["pid"]),
                str(w["id"]),
                str(w["generation"]),
                _duration(w["age"]),
                str(w["requests"]),
                str(status.get("2xx", 0)),
                str(status.get("4xx", 0)),
                str(status.get("5xx", 0)),
                str(w["errors"]),
                _mib(w["rss"]),
                state,
                busy,
            ]
        )
    return _table(rows)


def render(command: str, args: list[str], data: Any) -> str:
    """A command's answer, for people."""
    what = args[0] if args else "all"
    if command == "show" and what == "all":
        parts = [_stats(data)]
        if data.get("listeners"):
            parts.append("listening: " + ", ".join(data["listeners"]))
        parts.append("")
        parts.append(_workers(data["workers"]))
        return "\n".join(parts)
    if command == "show" and what == "stats":
        return _stats(data)
    if command == "show" and what == "workers":
        return _workers(data["workers"])
    if command == "show" and what == "listeners":
        return "\n".join(data["listeners"])
    if command == "show" and what == "config":
        return "\n".join(
            f"{k:26} = {SETTINGS[k].show(v) if k in SETTINGS else repr(v)}"
            for k, v in data["config"].items()
        )
    if command == "help":
        return "\n".join(f"{name:26} {what}" for name, what in data.items())
    if isinstance(data, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in data.items())
    return str(data)
