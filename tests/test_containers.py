"""In a container: ``$PORT``, the CPUs the process may use, ``--print-config``."""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from wsgikit.cli import load_config
from wsgikit.config import ConfigError, available_cpus, default_workers

from .rawhttp import answers
from .support import free_port, reaped, wait_for
from .test_cli import ROOT, printed, run


def test_port_gives_the_default_bind() -> None:
    config, _, _ = load_config(["app:app"], {"PORT": "9123"})
    assert config.bind == ("0.0.0.0:9123",)


def test_an_explicit_bind_wins_over_port(tmp_path: Path) -> None:
    assert load_config(["-b", "127.0.0.1:7000"], {"PORT": "9123"})[0].bind == ("127.0.0.1:7000",)
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("bind = ['127.0.0.1:7001']\n")
    assert load_config(["-c", str(conf)], {"PORT": "9123"})[0].bind == ("127.0.0.1:7001",)


def test_a_bad_port_names_it() -> None:
    with pytest.raises(ConfigError, match="'PORT'"):
        load_config([], {"PORT": "http"})


def test_serving_on_port_as_a_platform_sets_it() -> None:
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    env.pop("WSGIKIT_BIND", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgikit", "-w", "0", "tests.apps:service"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(proc):
        wait_for(lambda: (answers(port) or b"").startswith(b"HTTP/1.1 200"), what="serving")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert f"Listening at: http://0.0.0.0:{port}" in err


def _cgroup(tmp_path: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path)


@pytest.mark.parametrize(
    ("files", "cap"),
    [
        ({"cpu.max": "150000 100000\n"}, 2),  # docker --cpus 1.5: two workers
        ({"cpu.max": "50000 100000\n"}, 1),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),
        ({"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "1\n"}, None),
        ({}, None),
    ],
)
def test_cpus_from_affinity_and_the_cgroup_quota(
    tmp_path: Path, files: dict[str, str], cap: int | None
) -> None:
    affinity = len(os.sched_getaffinity(0))
    expected = affinity if cap is None else min(affinity, cap)
    assert available_cpus(_cgroup(tmp_path, files)) == expected


def test_default_workers_are_the_cpus_this_process_may_use() -> None:
    assert default_workers({}) == available_cpus()
    assert default_workers({"WEB_CONCURRENCY": "3"}) == 3
    # Pinned to one CPU (as a container's cpuset), the default is one worker.
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from wsgikit.config import default_workers; print(default_workers({}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "1", out.stderr


def test_print_config_shows_resolved_values() -> None:
    values = printed(run("--print-config", "-m", "022", "--threads", "4", "-k", "sync"))
    assert values["workers"] == str(available_cpus())  # not None
    assert values["worker_class"] == "'threaded'"  # sync with threads runs threaded
    assert values["umask"] == "0o22"
    values = printed(run("--print-config", env={"WEB_CONCURRENCY": "5", "PORT": "8123"}))
    assert values["workers"] == "5"
    assert values["bind"] == "('0.0.0.0:8123',)"


def _free_id(lookup: Callable[[int], object], start: int = 54321) -> int:
    """An id with no passwd (or group) entry, as a container's arbitrary uid."""
    for candidate in range(start, start + 1000):
        try:
            lookup(candidate)
        except KeyError:
            return candidate
    raise AssertionError("no free id")


def _ids(pid: int) -> dict[str, list[str]]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.split() for k, _, v in (line.partition(":") for line in lines)}


@pytest.mark.skipif(os.getuid() != 0, reason="switching users needs root")
@pytest.mark.parametrize("with_group", [False, True], ids=["user", "user-and-group"])
def test_a_numeric_user_without_a_passwd_entry_runs_the_workers(with_group: bool) -> None:
    # OpenShift and `docker run --user 12345` give a uid /etc/passwd does not know.
    # As Gunicorn: accepted; without -g the workers keep the master's group.
    uid = _free_id(pwd.getpwuid)
    gid = _free_id(grp.getgrgid, uid + 1) if with_group else os.getegid()
    extra = ["-g", str(gid)] if with_group else []
    check = run("-u", str(uid), *extra, "--check-config", "tests.apps:service")
    assert check.returncode == 0, check.stderr
    port = free_port()
    # Once it runs as that uid, a worker could not write coverage data: not measured.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgikit", "-w", "1", "-u", str(uid), *extra]
        + ["-b", f"127.0.0.1:{port}", "tests.apps:service"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(proc):
        answer = wait_for(lambda: answers(port, "/pid"), what="serving")
        assert isinstance(answer, bytes) and answer.startswith(b"HTTP/1.1 200"), answer
        worker = int(answer.split(b"\r\n\r\n", 1)[1])
        ids = _ids(worker)
        assert ids["Uid"][:3] == [str(uid)] * 3
        assert ids["Gid"][:3] == [str(gid)] * 3 and ids["Groups"] == [str(gid)]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


# ----------------------------------------------------------------- PID 1 of a container
#
# A container's entrypoint is PID 1 of its PID namespace: orphaned processes are
# reparented to it (it must reap them, or they stay zombies) and the kernel drops every
# signal it has no handler for. `unshare --pid --fork --mount-proc` gives the server
# that place without Docker; SIGTERM comes from outside the namespace, as `docker stop`
# and the kubelet send it.


def _unshare() -> list[str]:
    command = ["unshare", "--pid", "--fork", "--mount-proc"]
    if os.geteuid() != 0:  # a user namespace makes an unprivileged user root in it
        command[1:1] = ["--user", "--map-root-user"]
    if shutil.which("unshare") is None:
        return []
    probe = subprocess.run([*command, "true"], capture_output=True, timeout=30)
    return command if probe.returncode == 0 else []


UNSHARE = _unshare() if sys.platform.startswith("linux") else []
needs_unshare = pytest.mark.skipif(not UNSHARE, reason="needs unshare --pid (Linux namespaces)")


def _children(pid: int) -> dict[int, str]:
    """The children of ``pid`` (host pids) and their state letter (``Z``: zombie)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found[int(entry.name)] = fields[0]
    return found


def _as_pid_1(workers: int, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    return subprocess.Popen(
        [*UNSHARE, sys.executable, "-m", "wsgikit", "-k", "sync", "-w", str(workers)]
        + ["-b", f"127.0.0.1:{port}", "tests.apps:orphans"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def _body(port: int, path: str) -> bytes:
    answer = wait_for(lambda: answers(port, path), what=f"GET {path}")
    assert answer.startswith(b"HTTP/1.1 200"), answer
    return answer.split(b"\r\n\r\n", 1)[1]


@needs_unshare
def test_as_pid_1_the_master_reaps_orphans_and_drains_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    proc = _as_pid_1(2, port)
    with reaped(proc):
        assert _body(port, "/") == b"/ ppid 1"  # the workers' master is PID 1
        (master,) = wait_for(lambda: list(_children(proc.pid)), what="the master")
        workers = set(wait_for(lambda: len(_children(master)) == 2 and _children(master), "2"))
        go = tmp_path / "go"
        for _ in range(3):
            _body(port, f"/orphan?{go}")
        wait_for(lambda: len(_children(master).keys() - workers) == 3, what="3 orphans adopted")
        go.touch()  # the orphans exit: PID 1 must reap them
        wait_for(lambda: _children(master).keys() == workers, what="the orphans reaped")

        # docker stop / the kubelet: SIGTERM from outside; the request in flight ends.
        started, result = tmp_path / "started", []
        slow = threading.Thread(target=lambda: result.append(answers(port, f"/slow?{started}")))
        slow.start()
        wait_for(started.exists, what="the slow request in flight")
        os.kill(master, signal.SIGTERM)
        slow.join(30)
        _, err = proc.communicate(timeout=60)
    assert result and (result[0] or b"").startswith(b"HTTP/1.1 200"), result
    assert proc.returncode == 0, err
    assert "graceful stop (SIGTERM)" in err and "exiting with status 0" in err
    assert "Traceback" not in err


@needs_unshare
def test_as_pid_1_one_process_leaves_orphans_zombies_so_use_an_init(tmp_path: Path) -> None:
    # -w 0 has no supervisor: reaping every child would steal the exit status of the
    # app's own subprocesses. As PID 1 it needs an init (docker run --init, tini).
    port = free_port()
    proc = _as_pid_1(0, port)
    with reaped(proc):
        assert _body(port, "/") == b"/ ppid 0"  # the server itself is PID 1
        (server,) = wait_for(lambda: list(_children(proc.pid)), what="the server")
        go = tmp_path / "go"
        _body(port, f"/orphan?{go}")
        go.touch()
        wait_for(lambda: "Z" in _children(server).values(), what="a zombie orphan")
        os.kill(server, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


def _dockerfile_cmd() -> list[str]:
    """The ``CMD`` of the Dockerfile in docs/deployment.md (exec form: a JSON list)."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    (block,) = re.findall(r"```dockerfile\n(.*?)```", text, re.S)
    (line,) = [x for x in block.splitlines() if x.startswith("CMD ")]
    command = json.loads(line[len("CMD ") :])
    assert isinstance(command, list) and command[0] == "wsgikit", line
    return [str(part) for part in command]


@needs_unshare
def test_the_dockerfile_cmd_serves_on_port_as_pid_1_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'Hello from myapp']\n"
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env.pop("WSGIKIT_BIND", None)
    env.update(PORT=str(port), WEB_CONCURRENCY="2")  # the image's ENV PORT, as a platform sets it
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    command = _dockerfile_cmd()
    proc = subprocess.Popen(
        [*UNSHARE, sys.executable, "-m", "wsgikit", *command[1:]],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(proc):
        assert _body(port, "/") == b"Hello from myapp"
        (master,) = wait_for(lambda: list(_children(proc.pid)), what="the master")
        status = Path(f"/proc/{master}/status").read_text().splitlines()
        (nspid,) = [x for x in status if x.startswith("NSpid:")]
        assert nspid.split()[-1] == "1", nspid  # PID 1 in its namespace
        os.kill(master, signal.SIGTERM)  # docker stop
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"Listening at: http://0.0.0.0:{port}" in err
    assert '"GET / HTTP/1.1" 200' in out  # --access-logfile -: the access log on stdout
