"""Write docs/settings.md from the settings declarations in wsgikit/config.py.

Run ``python docs/generate.py``; a test fails when the committed file is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wsgikit.config import HOOK_NAMES, SETTINGS, Config

OUT = Path(__file__).with_name("settings.md")


def render() -> str:
    defaults = Config().as_dict()
    lines = [
        "# Settings reference",
        "",
        "Generated from `wsgikit/config.py` by `python docs/generate.py`; do not edit by hand.",
        "",
        "Every setting can be given as a keyword argument to `serve()` / `Config()`, in a",
        "Python config file (`-c FILE`; Gunicorn's names, so `gunicorn.conf.py` works), as",
        "`WSGIKIT_<NAME>` in the environment, in `WSGIKIT_CMD_ARGS` (or `GUNICORN_CMD_ARGS`),",
        "and on the command line; later sources win in that order.",
        "",
    ]
    section = None
    for spec in SETTINGS.values():
        if spec.name in HOOK_NAMES:
            continue
        if spec.section != section:
            section = spec.section
            lines += [
                f"## {section}",
                "",
                "| setting | flags | default | meaning |",
                "|---|---|---|---|",
            ]
        flags = ", ".join(f"`{f}`" for f in spec.flags) or "config file only"
        default = defaults[spec.name]
        lines.append(f"| `{spec.name}` | {flags} | `{default!r}` | {spec.help} |")
        nxt = list(SETTINGS).index(spec.name) + 1
        if nxt == len(SETTINGS) or list(SETTINGS.values())[nxt].section != section:
            lines.append("")
    lines += [
        "## hooks",
        "",
        "Plain callables, set in a config file or as keyword arguments, with Gunicorn's",
        "names: " + ", ".join(f"`{name}`" for name in HOOK_NAMES) + ".",
        "They are called with Gunicorn's arguments (`post_fork(server, worker)`,",
        "`pre_request(worker, req)`, `post_request(worker, req, environ, resp)`,",
        "`worker_int(worker)`, `nworkers_changed(server, new, old)`, ...), objects with",
        "Gunicorn's attribute names: `server.log`, `server.cfg`, `server.pid`,",
        "`server.num_workers`; `worker.pid`, `worker.ppid`, `worker.age`, `worker.log`,",
        "`worker.cfg`, `worker.alive`, `worker.nr`; `req.method`, `req.uri`, `req.path`,",
        "`req.query`, `req.version`, `req.headers`; `resp.status`, `resp.status_code`,",
        "`resp.headers` (see `wsgikit.gunicorn_compat`). A function in a config file whose",
        "name is close to a hook's (`post_frok`) gets a warning naming the hook.",
        "A hook that raises is logged and never stops the server.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    OUT.write_text(render())
    sys.stdout.write(f"wrote {OUT}\n")
