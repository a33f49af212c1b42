"""Start and stop the servers under test: command lines, free ports, readiness, shutdown."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class ServerStartError(Exception):
    """A server did not become ready; the message carries its output's tail."""


@dataclass(frozen=True)
class ServerSpec:
    """How to launch one server for one variant, minus the address to bind."""

    name: str  # "wsgikit" or "gunicorn"
    argv: tuple[str, ...]
    observe: bool = False  # wsgikit with --metrics-bind and --control-socket (bench/scrape.py)

    def command(self, port: int) -> list[str]:
        return [*self.argv, "-b", f"{HOST}:{port}"]


def wsgikit_spec(
    prefix: str, app: str, model: str, workers: int, threads: int, observe: bool = False
) -> ServerSpec:
    """wsgikit's Gunicorn-compatible CLI; ``model`` is "sync" or "threaded"; ``observe``
    turns its status and metrics on (their addresses are chosen at each launch)."""
    argv = [*shlex.split(prefix), app, "-w", str(workers), "--worker-class", model]
    if model == "threaded":
        argv += ["--threads", str(threads)]
    argv += ["--log-level", "warning", "--keep-alive", "2"]
    return ServerSpec("wsgikit", tuple(argv), observe)


def gunicorn_spec(prefix: str, app: str, model: str, workers: int, threads: int) -> ServerSpec:
    """Gunicorn's matching worker: ``sync`` for sync, ``gthread`` for threaded."""
    argv = [*shlex.split(prefix), app, "-w", str(workers)]
    if model == "threaded":
        argv += ["-k", "gthread", "--threads", str(threads)]
    else:
        argv += ["-k", "sync"]
    argv += ["--log-level", "warning", "--keep-alive", "2"]
    return ServerSpec("gunicorn", tuple(argv))


def reference_spec(app: str, workers: int) -> ServerSpec:
    """The bare h11 epoll loop of ``bench/reference.py``: the ceiling to compare with."""
    argv = [sys.executable, "-m", "bench.reference", app, "-w", str(workers)]
    return ServerSpec("h11-loop", tuple(argv))


def free_port() -> int:
    """A port the OS reports free on loopback (closed again just before the server binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def answers_200(port: int, timeout: float = 1.0) -> bool:
    """True when ``GET /`` on the port returns a 200 status line."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            head = sock.recv(64)
    except OSError:
        return False
    return head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))


class Server:
    """One running server process, started in its own session so it can be stopped whole.

    Use as a context manager: ``__exit__`` always stops the process (TERM, then KILL).
    """

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.port = 0
        self.startup_s = 0.0  # from launch to the first 200 answer
        # With spec.observe: where its metrics listener and control socket are. Each
        # launch gets a port and a directory of its own, so servers never collide.
        self.metrics_port = 0
        self.control_path = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._control_dir: str | None = None

    @property
    def pid(self) -> int:
        """The master's pid (the leader of the server's own session)."""
        assert self._proc is not None
        return self._proc.pid

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def __enter__(self) -> Server:
        if self._proc is None:  # already started by start() is fine too
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Launch on a free port and wait until it answers; retry once if the port was taken."""
        for attempt in (1, 2):
            self.port = free_port()
            try:
                self._launch()
                self._wait_ready()
                return
            except ServerStartError as err:
                output = self.output_tail()
                self.stop()
                if attempt == 1 and "in use" in output.lower():
                    continue
                raise ServerStartError(f"{err}\n{indent(output)}") from None
            except BaseException:  # Ctrl-C while waiting: never leave it running
                self.stop()
                raise

    def command(self) -> list[str]:
        """The command line of this launch (the spec's, with this launch's addresses)."""
        command = self.spec.command(self.port)
        if self.spec.observe:
            command += ["--metrics-bind", f"{HOST}:{self.metrics_port}"]
            command += ["--control-socket", self.control_path]
        return command

    def _launch(self) -> None:
        if self.spec.observe:
            self.metrics_port = free_port()
            if self._control_dir is None:
                self._control_dir = tempfile.mkdtemp(prefix="wsgikit-bench-")
            self.control_path = os.path.join(self._control_dir, "wsgikit.ctl")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self._log = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                self.command(),
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            raise ServerStartError(f"{self.spec.name}: cannot execute: {err}") from None

    def _wait_ready(self) -> None:
        """Poll until ``GET /`` returns 200, the process exits, or the deadline passes."""
        assert self._proc is not None
        launched = time.monotonic()
        deadline = launched + READY_TIMEOUT
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise ServerStartError(f"{self.spec.name} exited with status {code} at startup")
            if answers_200(self.port):
                self.startup_s = time.monotonic() - launched
                return
            # Refused until the server binds; then the next try waits in its backlog.
            # A plain app answers 10-15 ms after the bind: poll finely enough that
            # the start-up time is not rounded up to the poll.
            time.sleep(0.002)
        raise ServerStartError(f"{self.spec.name} did not answer within {READY_TIMEOUT:.0f} s")

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def output_tail(self, lines: int = 15) -> str:
        """The last lines the server wrote to stdout/stderr."""
        if self._log is None or self._log.closed:
            return ""
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the server's PID, bounded wait, then SIGKILL to its process group."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    print(
                        f"  {self.spec.name} (pid {proc.pid}) ignored SIGTERM; killing it",
                        file=sys.stderr,
                    )
            # The group is the one we created with start_new_session; this also catches
            # workers that outlived their master.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(timeout=STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._control_dir is not None:
            shutil.rmtree(self._control_dir, ignore_errors=True)
            self._control_dir = None


def indent(text: str, prefix: str = "    | ") -> str:
    return "\n".join(prefix + line for line in text.splitlines()) or prefix + "(no output)"
