"""pidfile, daemonize, user/group, umask and chdir helpers."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DEADLINE, alive, wait_for

from wsgikit.process import (
    PidfileError,
    UserError,
    chdir,
    parent_death,
    pidfile,
    remove_pidfile,
    set_owner,
    set_umask,
    write_pidfile,
)
from wsgikit.process.parent_death import parent_death_signal, set_parent_death_signal
from wsgikit.process.posix import read_pidfile, resolve_group, resolve_user

ROOT = Path(__file__).resolve().parents[2]


def test_pidfile_written_and_removed(tmp_path: Path) -> None:
    path = str(tmp_path / "app.pid")
    write_pidfile(path)
    assert read_pidfile(path) == os.getpid()
    write_pidfile(path)  # our own pid: fine
    assert not remove_pidfile(path, pid=1)  # not ours: left alone
    assert remove_pidfile(path)
    assert not os.path.exists(path)
    assert not remove_pidfile(path)


def test_pidfile_context_manager(tmp_path: Path) -> None:
    path = str(tmp_path / "ctx.pid")
    with pidfile(path):
        assert read_pidfile(path) == os.getpid()
    assert not os.path.exists(path)
    with pidfile(None):
        pass


def test_live_pidfile_is_refused_and_stale_replaced(tmp_path: Path) -> None:
    path = tmp_path / "app.pid"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path.write_text(f"{proc.pid}\n")
        with pytest.raises(PidfileError, match=f"running process \\(pid {proc.pid}\\)"):
            write_pidfile(str(path))
    finally:
        proc.kill()
        proc.wait(DEADLINE)
    write_pidfile(str(path))  # now stale
    assert read_pidfile(str(path)) == os.getpid()
    path.write_text("garbage")
    assert read_pidfile(str(path)) is None
    write_pidfile(str(path))


def test_pidfile_unwritable(tmp_path: Path) -> None:
    with pytest.raises(PidfileError, match="cannot write pidfile"):
        write_pidfile(str(tmp_path / "missing-dir" / "app.pid"))


def test_pidfile_never_writes_through_a_planted_symlink(tmp_path: Path) -> None:
    """A symlink at the pidfile's path, or at any predictable temporary name beside it,
    must not make the server write (as root, perhaps) into the file it points to."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "app.pid"
    pid = os.getpid()
    for name in (f"app.pid.{pid}.tmp", f".app.pid.{pid}.tmp", "app.pid.tmp"):
        (tmp_path / name).symlink_to(victim)
    path.symlink_to(victim)
    write_pidfile(str(path))
    assert victim.read_text() == "precious\n"
    assert not path.is_symlink() and read_pidfile(str(path)) == pid
    assert path.stat().st_mode & 0o777 == 0o644
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(
        ["victim", "app.pid", f"app.pid.{pid}.tmp", f".app.pid.{pid}.tmp", "app.pid.tmp"]
    )


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file away needs root")
def test_pidfile_is_given_to_its_owner_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pidfile's owner is set on the temporary file, through its descriptor, before
    it is renamed into place: a symlink put at the path right after the rename (the
    directory may be writable by others, as /tmp is) is never followed by a chown."""
    nobody = pwd.getpwnam("nobody")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "app.pid"
    replace = os.replace
    owners = []

    def replace_then_plant(src: str, dst: str) -> None:
        owners.append(os.stat(src).st_uid)
        replace(src, dst)
        os.unlink(dst)
        os.symlink(victim, dst)

    monkeypatch.setattr(os, "replace", replace_then_plant)
    write_pidfile(str(path), owner=(nobody.pw_uid, nobody.pw_gid))
    assert owners == [nobody.pw_uid]
    assert (victim.stat().st_uid, victim.stat().st_gid) == (0, 0)


def test_daemonize_detaches(tmp_path: Path) -> None:
    out = tmp_path / "daemon"
    script = textwrap.dedent(f"""
        import os, sys
        from wsgikit.process import daemonize, write_pidfile
        r, w = os.pipe()
        daemonize(keep_fds=[w], umask=0o022)
        write_pidfile({str(out)!r} + ".pid")
        with open({str(out)!r}, "w") as f:
            f.write(f"{{os.getsid(0)}} {{os.readlink('/proc/self/fd/1')}} "
                    f"{{os.get_inheritable(w)}}")
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=DEADLINE)
    assert proc.returncode == 0
    wait_for(lambda: out.exists() and out.read_text(), "daemon wrote its report")
    sid, stdout, kept = out.read_text().split()
    pid = read_pidfile(str(out) + ".pid")
    assert pid is not None
    # a new session it does not lead, so it can never reacquire a terminal
    assert int(sid) not in (os.getsid(0), pid)
    assert (stdout, kept) == ("/dev/null", "True")
    wait_for(lambda: not alive(pid), "daemon exited")


def _launch(script: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``script`` (which daemonizes with ``wait=True``); the launcher's result and
    how long it took."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, timeout=DEADLINE, capture_output=True, text=True
    )
    return proc, time.monotonic() - started


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("link.ready()", 0, ""),
        ("link.failed(5, 'wsgikit: error: boom')", 5, "wsgikit: error: boom"),
        # Dies without a word while a child of its own (a worker) lives on.
        (
            "if os.fork() == 0:\n    time.sleep(30)\n    os._exit(0)\nos._exit(0)",
            1,
            "exited before it was ready",
        ),
    ],
)
def test_the_launcher_waits_for_the_daemons_verdict(body: str, status: int, message: str) -> None:
    script = "import os, time\nfrom wsgikit.process import daemonize\n"
    script += "link = daemonize(wait=True)\n" + body + "\n"
    proc, took = _launch(script)
    assert proc.returncode == status
    assert message in proc.stderr
    assert took < 20  # not held by the daemon's child


def test_after_a_failure_the_launcher_returns_once_the_daemon_has_exited(
    tmp_path: Path,
) -> None:
    """A script that retries at once must not find the failed daemon still holding its
    pidfile or its port: the launcher returned while they were being released."""
    released = tmp_path / "released"
    proc, _ = _launch(
        textwrap.dedent(f"""
            import time
            from wsgikit.process import daemonize
            link = daemonize(wait=True)
            link.failed(3, "wsgikit: error: boom")
            time.sleep(0.5)  # removing its pidfile, closing its sockets...
            open({str(released)!r}, "w").close()
        """)
    )
    assert (proc.returncode, proc.stderr) == (3, "wsgikit: error: boom\n")
    assert released.exists()


def test_after_a_failure_a_daemon_that_does_not_exit_holds_the_launcher_only_so_long(
    tmp_path: Path,
) -> None:
    pid_path = tmp_path / "daemon.pid"
    try:
        proc, took = _launch(
            textwrap.dedent(f"""
                import os, time
                from wsgikit.process import daemon, daemonize
                daemon.EXIT_WAIT = 0.5  # seconds, instead of 10
                link = daemonize(wait=True)
                open({str(pid_path)!r}, "w").write(str(os.getpid()))
                link.failed(3, "wsgikit: error: boom")
                time.sleep(60)  # hangs on its way out
            """)
        )
        assert (proc.returncode, proc.stderr) == (3, "wsgikit: error: boom\n")
        assert took < 10
        assert alive(int(pid_path.read_text()))  # the launcher gave up waiting for it
    finally:
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(pid_path.read_text())
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not alive(pid), "daemon killed")


def test_resolve_user_and_group() -> None:
    me = pwd.getpwuid(os.getuid())
    assert resolve_user(me.pw_name) == (me.pw_uid, me.pw_gid)
    assert resolve_user(os.getuid()) == (me.pw_uid, me.pw_gid)
    assert resolve_user(str(os.getuid())) == (me.pw_uid, me.pw_gid)
    group = grp.getgrgid(os.getgid())
    assert resolve_group(group.gr_name) == group.gr_gid
    assert resolve_group(os.getgid()) == resolve_group(str(os.getgid())) == group.gr_gid
    with pytest.raises(UserError, match="unknown user: 'no-such-user-x'"):
        resolve_user("no-such-user-x")
    with pytest.raises(UserError, match="unknown group"):
        resolve_group("no-such-group-x")
    set_owner(os.getuid(), os.getgid())  # no change: a no-op
    set_owner()


def _in_child(body: Callable[[], int]) -> int:
    """Run ``body`` in a forked child (so identity changes stay there); its exit code."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            code = body()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_set_owner_switches_user_and_refuses_without_permission() -> None:
    nobody = pwd.getpwnam("nobody")

    def switch_then_try_root() -> int:
        if os.getuid() == 0:
            set_owner("nobody")
            if (os.getuid(), os.getgid()) != (nobody.pw_uid, nobody.pw_gid):
                return 2
        try:
            set_owner(0, 0)  # an unprivileged process may not become root
        except UserError as exc:
            return 0 if "cannot switch" in str(exc) else 3
        return 4

    assert _in_child(switch_then_try_root) == 0


def test_umask_and_chdir(tmp_path: Path) -> None:
    old = set_umask("027")
    try:
        assert set_umask(0o022) == 0o027
    finally:
        os.umask(old)
    for bad in ("999", 0o1000):
        with pytest.raises(ValueError, match="invalid umask"):
            set_umask(bad)
    cwd = os.getcwd()
    try:
        chdir(str(tmp_path))
        assert os.getcwd() == str(tmp_path)
    finally:
        os.chdir(cwd)
    with pytest.raises(OSError, match="cannot chdir to"):
        chdir(str(tmp_path / "nope"))


@pytest.mark.skipif(os.getuid() != 0, reason="switching users needs root")
def test_set_owner_keeps_the_parent_death_signal() -> None:
    # The kernel clears PR_SET_PDEATHSIG when the uid changes; an orphaned worker that
    # switched to --user would otherwise never learn that its master died.
    def switch() -> int:
        if not set_parent_death_signal(signal.SIGTERM):
            return 0  # no such facility here: nothing to keep
        set_owner("nobody")
        return 0 if parent_death_signal() == signal.SIGTERM else 5

    assert _in_child(switch) == 0


def test_parent_watch_by_polling_signals_when_the_parent_changes() -> None:
    # The fallback where the OS has no parent-death signal: a thread compares getppid().
    def orphan_check() -> int:
        got: list[int] = []
        previous = signal.signal(signal.SIGUSR2, lambda signum, frame: got.append(signum))
        try:
            thread = threading.Thread(
                target=parent_death._poll_parent, args=(os.getppid() + 1, signal.SIGUSR2, 0.01)
            )
            thread.start()
            thread.join(DEADLINE)
            return 0 if got == [signal.SIGUSR2] else 6
        finally:
            signal.signal(signal.SIGUSR2, previous)

    assert _in_child(orphan_check) == 0
    assert watch_in_child_mode() in ("pdeathsig", "poll")


def watch_in_child_mode() -> str:
    """How watch_parent works on this system (asked in a child, which it then leaves)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.write(write, parent_death.watch_parent(os.getppid()).encode())
            set_parent_death_signal(0)
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as f:
        return f.read().decode()
