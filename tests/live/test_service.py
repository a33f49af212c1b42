"""What an init system or a shell sees: daemon mode's verdict, the systemd notify protocol."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsgikit.process import MasterState, SystemdNotify
from wsgikit.testing import LiveServer

from ..support import free_port, reaped, wait_for
from .test_prefork import ROOT, SERVICE


def _daemon(*args: str, pidfile: Path, errlog: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsgikit", "-D", "--pid", str(pidfile)]
        + ["--error-logfile", str(errlog), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@contextlib.contextmanager
def _reaped(pidfile: Path) -> Iterator[None]:
    """Stop whatever daemon ``pidfile`` names when the block ends (by its pid)."""
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not pidfile.exists(), what="daemon gone")


def test_daemon_with_a_broken_app_reports_it_and_exits_3(tmp_path: Path) -> None:
    (tmp_path / "broken_daemon_app.py").write_text("raise RuntimeError('bad settings')\n")
    pidfile, errlog = tmp_path / "d.pid", tmp_path / "error.log"
    with _reaped(pidfile):
        proc = _daemon(
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{free_port()}",
            "--pythonpath",
            str(tmp_path),
            "broken_daemon_app:application",
            pidfile=pidfile,
            errlog=errlog,
        )
        released = not pidfile.exists()  # by the time the launcher returned
    assert proc.returncode == 3, proc.stderr
    assert "the app cannot be loaded" in proc.stderr and str(errlog) in proc.stderr
    assert "RuntimeError: bad settings" in proc.stderr  # why, not only where
    assert "RuntimeError: bad settings" in errlog.read_text()
    assert released  # a retry right after it would not find the pidfile held


def test_daemon_without_an_error_log_says_why_the_app_failed(tmp_path: Path) -> None:
    # The traceback went to /dev/null: the launcher's one line still says what failed.
    (tmp_path / "broken_daemon_app2.py").write_text("raise RuntimeError('boom at import')\n")
    pidfile, port = tmp_path / "d.pid", free_port()
    with _reaped(pidfile):
        proc = subprocess.run(
            [sys.executable, "-m", "wsgikit", "-D", "--pid", str(pidfile), "-w", "1"]
            + ["-b", f"127.0.0.1:{port}", "--pythonpath", str(tmp_path)]
            + ["broken_daemon_app2:application"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        released = not pidfile.exists()  # by the time the launcher returned
        with socket.socket() as retry:
            retry.bind(("127.0.0.1", port))  # and its port too: a retry could start
    assert proc.returncode == 3, proc.stderr
    assert released
    (line,) = proc.stderr.splitlines()
    assert line == (
        "wsgikit: error: the app cannot be loaded: error while importing "
        "'broken_daemon_app2': RuntimeError: boom at import (daemon mode has no terminal: "
        "use --error-logfile to see its traceback)"
    )


def test_second_daemon_on_the_same_pidfile_fails_with_one_line(tmp_path: Path) -> None:
    pidfile, errlog = tmp_path / "d.pid", tmp_path / "error.log"
    port = free_port()
    with _reaped(pidfile):
        first = _daemon(
            "-w", "1", "-b", f"127.0.0.1:{port}", SERVICE, pidfile=pidfile, errlog=errlog
        )
        assert first.returncode == 0, first.stderr
        # The launcher returned only once the daemon served: no waiting needed here.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        second = _daemon(
            "-w", "1", "-b", f"127.0.0.1:{free_port()}", SERVICE, pidfile=pidfile, errlog=errlog
        )
    assert second.returncode == 2
    assert second.stderr.startswith("wsgikit: error: setting 'pidfile'")
    assert "running process" in second.stderr and len(second.stderr.splitlines()) == 1


# ------------------------------------------------------------- systemd notify


class FakeSystemd:
    """A unix datagram socket where a service sends its notifications, as systemd's."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.1)
        self.messages: list[dict[str, str]] = []

    def receive(self) -> list[dict[str, str]]:
        with contextlib.suppress(TimeoutError, BlockingIOError):
            while True:
                data = self.sock.recv(4096).decode()
                self.messages.append(dict(line.split("=", 1) for line in data.split("\n")))
        return self.messages

    def has(self, key: str, count: int = 1) -> bool:
        return sum(key in m for m in self.receive()) >= count

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=["path", "abstract"])
def systemd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeSystemd]:
    address = str(tmp_path / "notify") if request.param == "path" else f"@wsgikit-{os.getpid()}"
    fake = FakeSystemd(address)
    try:
        yield fake
    finally:
        fake.close()


#: A config whose new workers wait in post_fork while a file exists: a reload in progress.
SLOW_BOOT_CONFIG = """\
import os, time

def post_fork(server, worker):
    deadline = time.monotonic() + 60
    while os.path.exists(os.environ["SLOW_BOOT_FLAG"]) and time.monotonic() < deadline:
        time.sleep(0.02)
"""


def test_notify_protocol_ready_reloading_stopping(systemd: FakeSystemd, tmp_path: Path) -> None:
    flag = tmp_path / "slow-boot"
    config = tmp_path / "slow_boot.conf.py"
    config.write_text(SLOW_BOOT_CONFIG)
    env = {**os.environ, "NOTIFY_SOCKET": systemd.address, "SLOW_BOOT_FLAG": str(flag)}
    server = LiveServer(SERVICE, workers=2, env=env, config=str(config))
    with server:
        wait_for(lambda: systemd.has("READY"), what="READY=1")
        ready = systemd.messages[0]
        assert ready["READY"] == "1" and ready["MAINPID"] == str(server.process.pid)
        assert "2 workers" in ready["STATUS"]
        server.signal(signal.SIGHUP)
        wait_for(lambda: systemd.has("READY", 2), what="READY=1 after the reload")
        reloading = [m for m in systemd.messages if "RELOADING" in m]
        assert len(reloading) == 1 and int(reloading[0]["MONOTONIC_USEC"]) > 0
        assert time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000 >= int(
            reloading[0]["MONOTONIC_USEC"]
        )
        # TERM while a second reload's workers are still booting: a stop, not a failed
        # reload (no READY after STOPPING, no error in the log).
        flag.touch()
        server.signal(signal.SIGHUP)
        wait_for(lambda: len(server.events().reload_history) == 2, what="the second reload")
        wait_for(lambda: len(server.events().reload_history[-1].new) == 2, what="new workers")
        assert systemd.has("RELOADING", 2)
        assert server.stop() == 0
    wait_for(lambda: systemd.has("STOPPING"), what="STOPPING=1")
    order = [next(iter(m)) for m in systemd.messages]
    assert order == ["READY", "RELOADING", "READY", "RELOADING", "STOPPING"], systemd.messages
    log = server.log_text()
    assert "reload failed" not in log and "[ERROR]" not in log, log
    assert "reload to generation 3 abandoned: stopping" in log


def test_notify_in_one_process_mode(tmp_path: Path) -> None:
    systemd = FakeSystemd(str(tmp_path / "notify"))
    try:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "wsgikit", "-w", "0", "-b", f"127.0.0.1:{port}", SERVICE],
            cwd=ROOT,
            env={**os.environ, "NOTIFY_SOCKET": systemd.address},
            stderr=subprocess.DEVNULL,
        )
        with reaped(proc):
            wait_for(lambda: systemd.has("READY"), what="READY=1")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        wait_for(lambda: systemd.has("STOPPING"), what="STOPPING=1")
    finally:
        systemd.close()


def test_notifier_without_a_socket_does_nothing() -> None:
    notify = SystemdNotify.from_environ({})
    assert not notify.enabled and notify.send(READY=1) is False
    notify(MasterState.READY, "x")  # no error


def test_notifier_to_a_gone_socket_does_not_raise(tmp_path: Path) -> None:
    notify = SystemdNotify(str(tmp_path / "nobody-listens"))
    assert notify.send(STATUS="hello\nworld") is False


def test_notifier_joins_one_datagram(tmp_path: Path) -> None:
    systemd = FakeSystemd(str(tmp_path / "notify"))
    try:
        notify = SystemdNotify(systemd.address)
        notify.status("two\nlines")
        notify(MasterState.STOPPING, "bye")
        assert systemd.receive() == [{"STATUS": "two lines"}, {"STOPPING": "1", "STATUS": "bye"}]
    finally:
        systemd.close()
