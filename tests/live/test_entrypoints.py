"""The doors a user comes in by: the CLI in one-process mode, serve() from code, the
demo page, and the pytest fixtures."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

from ..rawhttp import answers
from ..support import free_port, wait_for
from .test_prefork import ROOT


def run_until_answered(
    args: list[str],
    port: int,
    path: str = "/",
    then: Callable[[subprocess.Popen[bytes]], None] | None = None,
    stop: signal.Signals = signal.SIGTERM,
):
    """Start a command, wait for an HTTP answer, run ``then(proc)``, send ``stop``;
    return (answer, output, exit code)."""
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        answer = wait_for(lambda: answers(port, path) or proc.poll() is not None, what="answer")
        if then is not None:
            then(proc)
    finally:
        proc.send_signal(stop)
        out = proc.communicate(timeout=20)[0].decode()
    return answer, out, proc.returncode


def hello_command(port: int, workers: str = "0") -> list[str]:
    """``python -m wsgikit examples.hello:application`` on 127.0.0.1:port."""
    return [
        sys.executable,
        "-m",
        "wsgikit",
        "examples.hello:application",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        workers,
    ]


@pytest.mark.parametrize("workers", ["0", "1"])
def test_python_m_wsgikit_serves_the_hello_example(workers):
    port = free_port()
    answer, out, code = run_until_answered(hello_command(port, workers), port)
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"Hello, World!"), out
    assert f"Listening at: http://127.0.0.1:{port}" in out
    assert code == 0, out


def test_one_process_mode_says_the_supervisor_settings_have_no_effect():
    port = free_port()
    args = hello_command(port) + ["--timeout", "5", "--max-requests", "10"]
    answer, out, code = run_until_answered(args, port)
    assert answer.startswith(b"HTTP/1.1 200 OK") and code == 0, out
    assert "timeout has no effect with workers=0" in out
    assert "max_requests has no effect with workers=0" in out
    # The defaults are not worth a warning.
    _, out, _ = run_until_answered(hello_command(port), port)
    assert "no effect" not in out


def test_no_app_serves_the_demo_page():
    port = free_port()
    answer, out, code = run_until_answered(
        [sys.executable, "-m", "wsgikit", "-b", f"127.0.0.1:{port}", "-w", "0"], port, "/x?y"
    )
    assert b"wsgikit is running" in answer and b"<code>/x</code>" in answer
    assert code == 0


def test_serve_from_code_with_the_original_emulator_arguments(tmp_path):
    port = free_port()
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(f"""
        from wsgikit import run
        raise SystemExit(run(
            app="examples.api:application",
            bind="127.0.0.1:{port}",
            workers=1,
            worker_connections=100,
            daemon=False,
            timeout=30,
            log_level="debug",
        ))
    """)
    )
    answer, out, code = run_until_answered([sys.executable, str(script)], port, "/users")
    assert b'"Alice"' in answer, out
    assert code == 0


def test_ctrl_c_stops_the_one_process_server():
    port = free_port()
    _, out, code = run_until_answered(hello_command(port), port, stop=signal.SIGINT)
    assert code == 0, out
    assert "Traceback" not in out


def test_wsgikit_server_fixture(wsgikit_server):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"from the fixture"]

    server = wsgikit_server(app)
    assert server.get("/").body == b"from the fixture"
    threaded = wsgikit_server(app, threads=4)
    assert threaded.get("/").body == b"from the fixture"


@pytest.fixture
def wsgi_app():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    return app


def test_wsgikit_live_server_fixture_serves_wsgi_app(wsgikit_live_server):
    assert wsgikit_live_server.get("/hi").body == b"/hi"
    assert wsgikit_live_server.url.startswith("http://127.0.0.1:")


def test_one_process_mode_ignores_signals_that_need_the_supervisor():
    port = free_port()

    def poke(proc: subprocess.Popen[bytes]) -> None:
        for sig in (signal.SIGHUP, signal.SIGTTIN, signal.SIGUSR2):
            proc.send_signal(sig)
            assert answers(port).endswith(b"Hello, World!")  # still serving

    _, out, code = run_until_answered(hello_command(port), port, then=poke)
    assert code == 0, out
    assert "Received SIGHUP: it needs the supervisor (workers >= 1); ignored" in out
