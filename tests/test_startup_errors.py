"""Every setting that can be checked before forking fails there: one line naming it, exit 2.

Each case runs twice, as ``--check-config`` and as a start (which must stop before
serving anything). Nothing here starts a server that stays up.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from wsgikit import facade
from wsgikit.cli import main
from wsgikit.config import Config, ConfigError
from wsgikit.preflight import Limit, check_settings, system_limits

from .support import DEADLINE, reaped, wait_for
from .test_cli import ROOT, one_error_line, run

APP = "examples.hello:application"
#: Where no server would listen for long, if one started by mistake.
BIND = ("-b", "127.0.0.1:0")


def _cases(tmp: Path) -> dict[str, tuple[list[str], dict[str, str], str, str]]:
    """name -> (arguments, environment, setting named, words in the message)."""
    missing = str(tmp / "no-such-dir" / "file")
    live_pidfile = tmp / "running.pid"
    limits = system_limits()
    assert limits.tasks and limits.threads and limits.open_files, limits  # Linux: all known
    if tmp.is_dir():
        live_pidfile.write_text(f"{os.getppid()}\n")  # the test runner's parent: running
    return {
        "access log in a missing directory": (
            ["--access-logfile", missing],
            {},
            "accesslog",
            "no directory",
        ),
        "error log that is a directory": (
            ["--error-logfile", str(tmp)],
            {},
            "errorlog",
            "directory",
        ),
        "pidfile in a missing directory": (["--pid", missing], {}, "pidfile", "no directory"),
        "pidfile naming a running process": (
            ["--pid", str(live_pidfile)],
            {},
            "pidfile",
            "running process",
        ),
        "unknown user": (["-u", "no_such_user_wsgikit"], {}, "user", "unknown user"),
        "unknown group": (["-g", "no_such_group_wsgikit"], {}, "group", "unknown group"),
        "backlog overflowing": (["--backlog", "99999999999999999999"], {}, "backlog", "<="),
        "threads overflowing": (["--threads", "99999999999999999999"], {}, "threads", "<="),
        "workers overflowing": (["-w", "99999999999999999999"], {}, "workers", "<="),
        "threads more than a process can have": (
            ["--threads", str(limits.threads.value + 1)],
            {},
            "threads",
            f"at most {limits.threads.value} threads per worker ({limits.threads.source})",
        ),
        "workers more than the system's processes": (
            ["-w", str(limits.tasks.value + 1)],
            {},
            "workers",
            f"at most {limits.tasks.value} processes ({limits.tasks.source})",
        ),
        "worker connections more than open files": (
            ["--threads", "2", "--worker-connections", str(max(limits.open_files.value, 1000) + 1)],
            {},
            "worker_connections",
            "each connection is an open file",
        ),
        "empty body limit": (["--limit-request-body", ""], {}, "limit_request_body", "0 for no"),
        "log config that is missing": (
            ["--log-config", str(tmp / "no-such-logging.ini")],
            {},
            "logconfig",
            "no such file",
        ),
        "certificate that is missing": (
            ["--certfile", str(tmp / "no-such.pem"), "--keyfile", str(tmp / "no-such.key")],
            {},
            "certfile",
            "cannot load",
        ),
        "metrics bind whose host does not resolve": (
            ["--metrics-bind", "999.1.1.1:80"],
            {},
            "metrics_bind",
            "cannot listen on 999.1.1.1:80",
        ),
        "bind whose host does not resolve": (
            ["-b", "999.1.1.1:80"],
            {},
            "bind",
            "cannot listen on 999.1.1.1:80",
        ),
        # Plain ASCII names skip the IDNA codec (wsgikit.binds.Address.lookup_host);
        # the ones it would refuse still get its words.
        "bind with an empty label": (
            ["-b", "a..b:80"],
            {},
            "bind",
            "cannot listen on a..b:80: encoding with 'idna' codec failed",
        ),
        "bad quoting in WSGIKIT_CMD_ARGS": (
            [],
            {"WSGIKIT_CMD_ARGS": "--name 'unclosed"},
            "WSGIKIT_CMD_ARGS",
            "closing quotation",
        ),
        "bad quoting in GUNICORN_CMD_ARGS": (
            [],
            {"GUNICORN_CMD_ARGS": '--name "unclosed'},
            "GUNICORN_CMD_ARGS",
            "closing quotation",
        ),
    }


CASES = sorted(_cases(Path("/nonexistent")).keys())


@pytest.mark.parametrize("check", [True, False], ids=["check-config", "start"])
@pytest.mark.parametrize("case", CASES)
def test_one_line_and_status_2(
    tmp_path: Path,
    case: str,
    check: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In this process, for speed: the command's own main(), with serving replaced by a
    # failure, so a check that comes too late fails the test instead of forking here.
    args, env, setting, words = _cases(tmp_path)[case]
    for name in ("WSGIKIT_CMD_ARGS", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def serving(*args: object, **kwargs: object) -> int:
        raise AssertionError("started serving: the setting was not checked before")

    monkeypatch.setattr(facade, "run_supervised", serving)
    monkeypatch.setattr(facade, "_run_in_process", serving)
    extra = ["--check-config"] if check else list(BIND)
    status = main([*args, *extra, APP])
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wsgikit: error: "), err
    assert f"'{setting}'" in lines[0] and words in lines[0], lines[0]


@pytest.mark.skipif(os.getuid() != 0, reason="switching users needs root")
@pytest.mark.parametrize("check", [True, False], ids=["check-config", "start"])
def test_one_process_switching_user_needs_a_pidfile_it_can_remove(check: bool) -> None:
    # -w 0 --user nobody: the one process drops root after writing the pidfile, so in a
    # root-owned directory it could not remove it at TERM (a traceback, a stale file).
    directory = Path(tempfile.mkdtemp(prefix="wsgikit-run-", dir="/tmp"))
    directory.chmod(0o755)  # root's, as /run is
    pidfile = directory / "app.pid"
    extra = ["--check-config"] if check else BIND
    try:
        proc = run("-w", "0", "--user", "nobody", "-p", str(pidfile), *extra, APP)
        assert proc.returncode == 2, proc.stderr
        assert "setting 'pidfile'" in one_error_line(proc)
        assert not pidfile.exists()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.skipif(os.getuid() != 0, reason="switching users needs root")
def test_one_process_switching_user_removes_its_pidfile_at_exit() -> None:

    # Like /tmp: sticky (only a file's owner may remove it), reachable by everyone.
    directory = Path(tempfile.mkdtemp(prefix="wsgikit-run-", dir="/tmp"))
    directory.chmod(0o1777)
    pidfile = directory / "app.pid"
    try:
        # Once it runs as nobody, the server could not write coverage data where the
        # measured run keeps it: this one subprocess is not measured.
        env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "wsgikit", "-w", "0", "--user", "nobody", "-p", str(pidfile)]
            + [*BIND, APP],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        with reaped(proc):
            wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="pidfile")
            assert os.stat(pidfile).st_uid != 0  # handed to the user that must remove it
            wait_for(lambda: _switched(proc.pid), what="the server running as nobody")
            assert proc.stderr is not None
            line = ""
            while "Listening at" not in line:  # ready (handlers are installed by then)
                readable, _, _ = select.select([proc.stderr], [], [], DEADLINE)
                assert readable, "no 'Listening at' line in time"
                line = proc.stderr.readline()
                assert line, "the server exited before it listened"
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert not pidfile.exists()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _switched(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return line.split()[1] != "0"
    return False


def test_gunicorn_counts_that_can_run_start() -> None:
    # `gunicorn --threads 1000` and its sync worker's ignored --worker-connections start
    # under Gunicorn 27: they pass here too (threads start as requests need them).
    limits = system_limits()
    assert limits.threads is not None and limits.threads.value >= 1000
    for args in (
        ["--threads", "1000"],
        ["-k", "sync", "--worker-connections", str(2**31 - 1)],
        ["--threads", "2", "--worker-connections", "1000"],
    ):
        assert main([*args, "--check-config", APP]) == 0, args


def test_rlimit_nproc_bounds_other_users_not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    real = resource.getrlimit

    def getrlimit(which: int) -> tuple[int, int]:
        return (7, 7) if which == resource.RLIMIT_NPROC else real(which)

    monkeypatch.setattr(resource, "getrlimit", getrlimit)
    assert system_limits(uid=1000).tasks == Limit(7, "RLIMIT_NPROC, ulimit -u")
    root = system_limits(uid=0).tasks
    assert root is None or root.value > 7  # the kernel does not hold root to it
    with pytest.raises(ConfigError, match="'workers': expected at most 7 processes"):
        check_settings(Config(workers=8, user="nobody"))
