"""What an operator relies on: log files and rotation, access log formats, pidfile and
daemon mode, the kinds of listening sockets, hooks around requests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from wsgikit.testing import LiveServer

from ..rawhttp import RawClient, answers
from ..support import wait_for
from .test_prefork import ROOT, SERVICE


def test_access_log_with_gunicorn_atoms(tmp_path):
    log = tmp_path / "access.log"
    fmt = '%(h)s %(m)s %(U)s %(q)s %(s)s %(B)s "%(a)s" %({x-req-id}i)s %({content-type}o)s'
    with LiveServer(SERVICE, workers=1, accesslog=str(log), access_log_format=fmt) as server:
        server.get("/pid?x=1", headers={"User-Agent": "probe/1", "X-Req-Id": "abc"})
        wait_for(lambda: log.exists() and log.read_text(), what="access log line")
    line = log.read_text().strip().splitlines()[-1]
    assert line.startswith("127.0.0.1 GET /pid x=1 200 ")
    assert line.endswith('"probe/1" abc text/plain')


def test_json_access_log(tmp_path):
    log = tmp_path / "access.json"
    with LiveServer(SERVICE, workers=1, accesslog=str(log), access_log_json=True) as server:
        server.get("/?q=1")
        wait_for(lambda: log.exists() and log.read_text(), what="access log line")
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["method"] == "GET" and record["path"] == "/" and record["status"] == 200
    assert record["query"] == "q=1" and record["remote_addr"] == "127.0.0.1"


def test_usr1_reopens_log_files_for_logrotate(tmp_path):
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    server = LiveServer(SERVICE, workers=2, accesslog=str(access), errorlog=str(errors))
    with server:
        server.get("/first")
        wait_for(lambda: "/first" in access.read_text(), what="first line")
        access.rename(tmp_path / "access.log.1")
        errors.rename(tmp_path / "error.log.1")
        server.signal(signal.SIGUSR1)
        # The master and every worker reopen; keep asking until new files fill.
        wait_for(lambda: errors.exists() or server.get("/poke").status != 200, what="error log")
        wait_for(
            lambda: (
                server.get("/second").status == 200
                and access.exists()
                and "/second" in access.read_text()
            ),
            what="access log reopened",
        )
    assert "/first" in (tmp_path / "access.log.1").read_text()
    assert "/first" not in access.read_text()


def test_log_config_dictconfig_file(tmp_path):
    out = tmp_path / "custom.log"
    conf = tmp_path / "logging.json"
    conf.write_text(
        json.dumps(
            {
                "version": 1,
                "formatters": {"plain": {"format": "CUSTOM %(name)s %(message)s"}},
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "filename": str(out),
                        "formatter": "plain",
                    }
                },
                "loggers": {
                    "wsgikit.error": {"handlers": ["file"], "level": "INFO"},
                    "wsgikit.access": {"handlers": ["file"], "level": "INFO"},
                },
            }
        )
    )
    with LiveServer(SERVICE, workers=1, logconfig=str(conf)) as server:
        pass
    text = out.read_text()
    assert "CUSTOM wsgikit.error Listening at:" in text, text
    assert server.port


@pytest.mark.parametrize("workers", ["0", "1"])
def test_pidfile_and_daemon_mode(tmp_path, workers):
    pidfile = tmp_path / "wsgikit.pid"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    errlog = tmp_path / "error.log"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgikit",
            SERVICE,
            "-w",
            workers,
            "-D",
            "-b",
            f"127.0.0.1:{port}",
            "--pid",
            str(pidfile),
            "--error-logfile",
            str(errlog),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr  # the launching process returns at once
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="pidfile"))
    try:
        wait_for(lambda: _answers(port), what="daemon answering")
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not pidfile.exists(), what="pidfile removed on exit")
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert "Listening at" in errlog.read_text()


def _answers(port: int) -> bool:
    return (answers(port) or b"").startswith(b"HTTP/1.1 200")


def _get_unix(path: str) -> bytes:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(5)
    sock.connect(path)
    with RawClient(sock=sock, timeout=5) as client:
        client.send(b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return client.read_until_close()


def test_unix_socket_and_several_binds_at_once(tmp_path):
    path = str(tmp_path / "app.sock")
    with LiveServer(SERVICE, workers=1, bind=[f"unix:{path}"]) as server:
        assert server.get("/").body == b"ok"  # the TCP bind LiveServer adds
        assert _get_unix(path).startswith(b"HTTP/1.1 200")
    assert not os.path.exists(path), "the unix socket file is removed on exit"


def test_umask_and_user_apply_to_the_unix_socket(tmp_path):
    """-m 0o077 under an inherited umask 000 gives a 0700 socket (it was 0777), and the
    socket file belongs to --user (when we are root and can give it away)."""
    import pwd
    import stat

    path = tmp_path / "app.sock"
    owner = {"user": "nobody"} if os.getuid() == 0 else {}
    server = LiveServer(SERVICE, workers=1, bind=[f"unix:{path}"], umask="0o077", **owner)
    inherited = os.umask(0)
    try:
        server.start()
    finally:
        os.umask(inherited)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        if owner:
            assert path.stat().st_uid == pwd.getpwnam("nobody").pw_uid
        assert _get_unix(str(path)).startswith(b"HTTP/1.1 200")
    finally:
        server.stop()


@pytest.mark.parametrize(("umask", "mode"), [("0", 0o777), (None, 0o755)])
def test_umask_0_applies_and_unset_keeps_the_inherited_one(tmp_path, umask, mode):
    """Under an inherited umask 022, -m 0 gives a 0777 socket as Gunicorn's default does
    (0 used to count as "not set": 0755); without -m the inherited umask stays."""
    import stat

    path = tmp_path / "app.sock"
    settings = {} if umask is None else {"umask": umask}
    server = LiveServer(SERVICE, workers=1, bind=[f"unix:{path}"], **settings)
    inherited = os.umask(0o022)
    try:
        server.start()
    finally:
        os.umask(inherited)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == mode
    finally:
        server.stop()


def test_stale_unix_socket_file_is_replaced(tmp_path):
    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # a file nobody listens on, as a crashed server leaves it
    with LiveServer(SERVICE, workers=1, bind=[f"unix:{path}"]):
        assert _get_unix(path).startswith(b"HTTP/1.1 200")


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 in this kernel")
def test_ipv6_bind():
    with LiveServer(SERVICE, workers=1, bind=["[::1]:0"]) as server:
        log = server.log_text()
    assert "Listening at: http://[::1]:" in log


def _run_activated(listener: socket.socket, until: Callable[[], object]) -> tuple[str, int]:
    """Serve SERVICE on ``listener`` handed over as systemd does (fd 3, LISTEN_FDS),
    wait for ``until()``, then SIGTERM; return (output, exit status)."""
    fd = listener.fileno()
    code = (
        "import os, sys\n"
        f"os.dup2({fd}, 3)\n"
        "os.environ['LISTEN_FDS'] = '1'\n"
        "os.environ['LISTEN_PID'] = str(os.getpid())\n"
        "from wsgikit.cli import main\n"
        f"sys.exit(main(['{SERVICE}', '-w', '1']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        pass_fds=(fd,),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    listener.close()
    try:
        wait_for(until, what="the activated socket answering")
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=20)[0].decode()
    return out, proc.returncode


def test_fd_and_systemd_socket_activation():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    out, code = _run_activated(listener, lambda: _answers(port))
    assert code == 0, out
    assert f"Listening at: http://127.0.0.1:{port}" in out


def test_pre_and_post_request_hooks(tmp_path):
    record = tmp_path / "hooks.txt"
    conf = tmp_path / "conf.py"
    conf.write_text(
        f"RECORD = {str(record)!r}\n"
        "def pre_request(worker, req):\n"
        "    open(RECORD, 'a').write('pre ' + req.path + '\\n')\n"
        "def post_request(worker, req, environ, resp):\n"
        "    open(RECORD, 'a').write(f'post {environ[\"PATH_INFO\"]} {resp.status}\\n')\n"
    )
    with LiveServer(SERVICE, workers=1, config=str(conf)) as server:
        server.get("/hooked")
    lines = [line for line in record.read_text().splitlines() if "/hooked" in line]
    assert lines == ["pre /hooked", "post /hooked 200 OK"]  # Gunicorn's arguments


def test_check_config_validates_a_gunicorn_conf(tmp_path):
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("workers = 'many'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "wsgikit", SERVICE, "-c", str(conf), "--check-config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == "wsgikit: error: setting 'workers': expected an integer, got 'many'"
    )


def test_usr2_logs_worker_statistics():
    with LiveServer(SERVICE, workers=2) as server:
        for _ in range(3):
            server.get("/")
        wait_for(lambda: " ready" in server.log_text(), what="all workers booted")
        server.signal(signal.SIGUSR2)
        wait_for(lambda: server.log_text().count("worker stats") >= 2, what="stats lines")
    assert "requests=" in server.log_text()


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_user_switch_and_chdir(tmp_path):
    import pwd

    nobody = pwd.getpwnam("nobody")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    # Started from elsewhere, the app is found because --chdir moves to the checkout.
    with LiveServer(
        SERVICE,
        workers=1,
        chdir=str(ROOT),
        cwd=str(elsewhere),
        env={**os.environ, "PYTHONPATH": ""},
        **({"user": "nobody"} if os.getuid() == 0 else {}),
    ) as server:
        worker = int(server.get("/pid").body)
        if os.getuid() == 0:
            assert _uid_of(worker) == nobody.pw_uid  # workers dropped root
            assert _uid_of(server.process.pid) == 0  # the master keeps it (to bind, reload)


def test_a_systemd_unix_socket_file_outlives_the_server(tmp_path):
    path = str(tmp_path / "activated.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(16)
    out, code = _run_activated(listener, lambda: _get_unix(path).startswith(b"HTTP/1.1 200"))
    assert code == 0, out
    # systemd owns it: after a restart of the service, nginx must still find it.
    assert os.path.exists(path)
