"""A server loads what its settings need and nothing more.

Every module a worker imports is memory in every worker and time before the first
answer. The IDNA codec (with ``stringprep`` and ``unicodedata``), the log config
loader (``logging.config``, which brings ``logging.handlers``, ``socketserver`` and
``pickle``), the PROXY protocol parser and the master's status services (control
socket, metrics, StatsD) are loaded only by the settings that use them. The app here
imports nothing, so what it sees loaded, the server loaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wsgikit.testing import LiveServer

APP = "tests.lean_app:application"

#: Loaded only when a setting asks for them (the IDNA codec: only for a bind address
#: that is not plain ASCII).
OPTIONAL = (
    "encodings.idna",
    "logging.config",
    "logging.handlers",
    "wsgikit.http.proxy_protocol",
    "wsgikit.observe.control",
    "wsgikit.observe.metrics",
    "wsgikit.observe.statsd",
)


def loaded(server: LiveServer, names: tuple[str, ...]) -> set[str]:
    """Which of ``names`` the worker that answers has loaded."""
    return set(server.client.get("/?" + ",".join(names)).text.split())


@pytest.mark.parametrize("worker_class", ["threaded", "sync"])
def test_a_default_worker_loads_none_of_the_optional_modules(worker_class: str) -> None:
    with LiveServer(APP, workers=1, worker_class=worker_class) as server:
        assert loaded(server, OPTIONAL) == set()


def test_the_settings_that_need_them_load_them_before_the_workers_fork(tmp_path: Path) -> None:
    # Before: a worker that runs as --user may not be allowed to read the installation.
    logconfig = tmp_path / "logging.json"
    logconfig.write_text('{"version": 1, "disable_existing_loggers": false}')
    control = tmp_path / "wsgikit.ctl"
    with LiveServer(
        APP, workers=1, logconfig=str(logconfig), control_socket=str(control)
    ) as server:
        assert loaded(server, OPTIONAL) >= {"logging.config", "wsgikit.observe.control"}


def test_the_proxy_protocol_parser_comes_with_the_options_that_use_it() -> None:
    # A worker's first connection would load it, after the switch to --user: the
    # options, built by the master, load it before the workers fork.
    code = (
        "import sys\n"
        "from wsgikit.server import ServerOptions\n"
        "name = 'wsgikit.http.proxy_protocol'\n"
        "ServerOptions()\n"
        "print(name in sys.modules)\n"
        "ServerOptions(proxy_protocol='v1')\n"
        "print(name in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["False", "True"]
