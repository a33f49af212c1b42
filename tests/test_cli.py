"""The ``wsgikit`` command line: exit statuses and messages, as a user sees them.

Every case here stops before serving: nothing in this file starts a server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import wsgikit

ROOT = Path(__file__).parents[1]
TIMEOUT = 60


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WSGIKIT_", "GUNICORN_")) and k != "WEB_CONCURRENCY"
    }
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "wsgikit", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("wsgikit: error: ")
    return lines[0]


def printed(proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert proc.returncode == 0, proc.stderr
    values = {}
    for line in proc.stdout.splitlines():
        name, sep, value = line.partition(" = ")
        assert sep, line
        values[name.strip()] = value.strip()
    return values


@pytest.fixture
def broken_app(tmp_path: Path) -> tuple[Path, str]:
    name = "wsgikit_cli_broken_app"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent("""
        def helper():
            raise ImportError("the app's settings module is misconfigured")

        helper()

        def application(environ, start_response):
            start_response("200 OK", [])
            return [b""]
    """)
    )
    return tmp_path, name


# ------------------------------------------------------------ usage: exit 2


@pytest.mark.parametrize(
    ("args", "setting"),
    [
        (["-w", "abc"], "workers"),
        (["--timeout", "-1"], "timeout"),
        (["--threads", "0"], "threads"),
        (["--log-level", "loud"], "loglevel"),
        (["-k", "eventlet"], "worker_class"),
        (["--header-timeout", "inf"], "header_timeout"),
        (["--body-timeout", "1e20"], "body_timeout"),
        (["--keep-alive", "2592000"], "keepalive"),
        (["--write-timeout", "1e20"], "write_timeout"),
        (["--graceful-timeout", "inf"], "graceful_timeout"),
        (["--limit-request-body", "9223372036854775808"], "limit_request_body"),
    ],
)
def test_bad_setting_exits_2_with_one_line_naming_it(args: list[str], setting: str) -> None:
    proc = run(*args, "examples.hello:application")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert f"setting '{setting}'" in line


@pytest.mark.parametrize("where", ["missing", "file"])
def test_a_spool_dir_that_cannot_hold_files_exits_2(tmp_path: Path, where: str) -> None:
    path = tmp_path / where
    if where == "file":
        path.write_text("")
    proc = run("--spool-dir", str(path), "--check-config", "examples.hello:application")
    assert proc.returncode == 2
    assert "setting 'spool_dir'" in one_error_line(proc)


def test_bad_setting_from_environment_names_it() -> None:
    proc = run("examples.hello:application", env={"WSGIKIT_WORKERS": "many"})
    assert proc.returncode == 2
    assert "setting 'workers'" in one_error_line(proc)


def test_unknown_flag_exits_2() -> None:
    proc = run("--no-such-flag", "examples.hello:application")
    assert proc.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("bind", ["1.2.3.4:x", "[::1", "127.0.0.1:70000"])
def test_malformed_bind_exits_2_with_one_line(bind: str) -> None:
    proc = run("-w", "0", "-b", bind, "examples.hello:application")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert bind in line


def test_port_in_use_exits_2_with_one_line() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = run("-w", "0", "-b", f"127.0.0.1:{port}", "examples.hello:application")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert str(port) in line


def test_bad_config_file_value_exits_2(tmp_path: Path) -> None:
    conf = tmp_path / "conf.py"
    conf.write_text("timeout = 'forever'\n")
    proc = run("-c", str(conf), "examples.hello:application")
    assert proc.returncode == 2
    assert "setting 'timeout'" in one_error_line(proc)


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    proc = run("-c", str(tmp_path / "nope.py"), "examples.hello:application")
    assert proc.returncode == 2
    assert "not found" in one_error_line(proc)


# ------------------------------------------------------- app errors: exit 3


@pytest.mark.parametrize("workers", [["-w", "0"], []])
def test_mistyped_module_exits_3_with_one_line(workers: list[str]) -> None:
    proc = run(*workers, "-b", "127.0.0.1:0", "nosuch_mod:app")
    assert proc.returncode == 3
    assert "nosuch_mod" in one_error_line(proc)


def test_missing_attribute_exits_3_with_one_line() -> None:
    proc = run("-w", "0", "-b", "127.0.0.1:0", "examples.hello:nope")
    assert proc.returncode == 3
    line = one_error_line(proc)
    assert "nope" in line and "examples.hello" in line


def test_malformed_app_spec_exits_3_with_one_line() -> None:
    proc = run("-w", "0", "-b", "127.0.0.1:0", "my-app:app")
    assert proc.returncode == 3
    assert "malformed" in one_error_line(proc)


def test_app_raising_at_import_exits_3_with_the_traceback(broken_app: tuple[Path, str]) -> None:
    path, name = broken_app
    proc = run("-w", "0", "-b", "127.0.0.1:0", "--pythonpath", str(path), f"{name}:application")
    assert proc.returncode == 3
    assert "Traceback" in proc.stderr
    assert f"{name}.py" in proc.stderr
    assert "the app's settings module is misconfigured" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("wsgikit: error: ")


# ------------------------------------------------------------ check / print


def test_check_config_ok() -> None:
    proc = run("--check-config", "examples.hello:application")
    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stderr


def test_check_config_broken_app(broken_app: tuple[Path, str]) -> None:
    path, name = broken_app
    proc = run("--check-config", "--pythonpath", str(path), name)
    assert proc.returncode == 3
    assert "Traceback" in proc.stderr


def test_check_config_missing_attribute() -> None:
    proc = run("--check-config", "examples.hello:nope")
    assert proc.returncode == 3
    assert "nope" in one_error_line(proc)


def test_print_config_shows_flags() -> None:
    values = printed(
        run("--print-config", "-w", "3", "--timeout", "7", "-b", "0.0.0.0:81", "--threads", "4")
    )
    assert values["workers"] == "3"
    assert values["timeout"] == "7.0"
    assert values["threads"] == "4"
    assert values["bind"] == "('0.0.0.0:81',)"


def test_print_config_repeated_bind() -> None:
    values = printed(run("--print-config", "-b", "127.0.0.1:1", "-b", "unix:/tmp/x.sock"))
    assert values["bind"] == "('127.0.0.1:1', 'unix:/tmp/x.sock')"


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "conf.py"
    path.write_text(
        textwrap.dedent("""
        workers = 5
        timeout = 11
        keepalive = 9
        bind = ["127.0.0.1:9100"]
        syslog = True

        def post_fork(server, worker):
            pass
    """)
    )
    return path


def test_print_config_from_file_and_flag_beats_file(conf: Path) -> None:
    proc = run("--print-config", "-c", str(conf), "-w", "2")
    values = printed(proc)
    assert values["workers"] == "2"  # the flag wins
    assert values["timeout"] == "11.0"  # from the file
    assert values["bind"] == "('127.0.0.1:9100',)"
    assert values["post_fork"] == "'post_fork'"
    assert "syslog" in proc.stderr and "warning" in proc.stderr


def test_cmd_args_env_beats_file_and_command_line_beats_it(conf: Path) -> None:
    env = {"WSGIKIT_CMD_ARGS": "-w 4 --timeout 3"}
    values = printed(run("--print-config", "-c", str(conf), env=env))
    assert values["workers"] == "4"  # WSGIKIT_CMD_ARGS beats the file
    assert values["timeout"] == "3.0"
    assert values["keepalive"] == "9.0"  # untouched: from the file
    values = printed(run("--print-config", "-c", str(conf), "-w", "6", env=env))
    assert values["workers"] == "6"  # the command line beats WSGIKIT_CMD_ARGS
    assert values["timeout"] == "3.0"


def test_gunicorn_cmd_args_is_read(conf: Path) -> None:
    values = printed(
        run("--print-config", "-c", str(conf), env={"GUNICORN_CMD_ARGS": "--threads 8"})
    )
    assert values["threads"] == "8"


def test_wsgikit_setting_env_beats_file(conf: Path) -> None:
    values = printed(run("--print-config", "-c", str(conf), env={"WSGIKIT_TIMEOUT": "13"}))
    assert values["timeout"] == "13.0"
    values = printed(
        run("--print-config", "-c", str(conf), "-t", "14", env={"WSGIKIT_TIMEOUT": "13"})
    )
    assert values["timeout"] == "14.0"


def test_config_file_found_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "gunicorn.conf.py").write_text("workers = 7\n")
    values = printed(run("--print-config", cwd=tmp_path))
    assert values["workers"] == "7"


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"wsgikit {wsgikit.__version__}"


def test_help_lists_gunicorn_flags() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for flag in (
        "-b",
        "--bind",
        "-w",
        "--workers",
        "-t",
        "--timeout",
        "--log-level",
        "--access-logfile",
        "-c",
        "--check-config",
    ):
        assert flag in proc.stdout


def test_check_config_rejects_a_bind_that_serving_would_reject() -> None:
    proc = run("--check-config", "-b", "127.0.0.1:99999", "examples.hello:application")
    assert proc.returncode == 2
    assert "setting 'bind'" in one_error_line(proc)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("raise RuntimeError('no database url')\n", "line 1: RuntimeError: no database url"),
        ("workers = (\n", "SyntaxError"),
    ],
)
def test_config_file_that_fails_exits_2_with_one_line(
    tmp_path: Path, source: str, expected: str
) -> None:
    conf = tmp_path / "conf.py"
    conf.write_text(source)
    proc = run("-c", str(conf), "--check-config", "examples.hello:application")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "setting 'config'" in line and str(conf) in line and expected in line


@pytest.mark.parametrize("content", [None, "[loggers]\nkeys=root\n", "{not json"])
def test_bad_log_config_exits_2_with_one_line(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / ("log.json" if content == "{not json" else "log.ini")
    if content is not None:
        path.write_text(content)
    proc = run(
        "-w", "0", "-b", "127.0.0.1:0", "--log-config", str(path), "examples.hello:application"
    )
    assert proc.returncode == 2
    assert "setting 'logconfig'" in one_error_line(proc)


def test_bad_forwarded_allow_ips_from_the_environment_exits_2() -> None:
    # $FORWARDED_ALLOW_IPS is read when the settings are built, not when wsgikit.config
    # is imported, so both the server and `wsgikit status` get one line, not a traceback.
    env = {"FORWARDED_ALLOW_IPS": "bad"}
    proc = run("tests.apps:hello", "--check-config", env=env)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "forwarded_allow_ips" in line and "$FORWARDED_ALLOW_IPS" in line and "'bad'" in line
    status = run("status", "-s", "/nonexistent/wsgikit.ctl", env=env)
    assert status.returncode == 1
    assert "forwarded_allow_ips" not in status.stderr
    one_error_line(status)


def test_modes_and_masks_are_shown_in_octal() -> None:
    values = printed(run("--print-config", "--umask", "027", "--control-socket-mode", "0o660"))
    assert (values["umask"], values["control_socket_mode"]) == ("0o27", "0o660")
    reference = (ROOT / "docs" / "settings.md").read_text()
    assert "| `control_socket_mode` | `--control-socket-mode` | `0o600` |" in reference
