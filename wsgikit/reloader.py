"""``--reload``: watch the project's source files and say which one changed.

Which files. The master of a pre-fork server does not import the app (each
worker does), so it cannot ask ``sys.modules`` which files the app is made of.
It watches the project instead, as Uvicorn and Django's ``runserver`` do:
every ``*.py`` file under the working directory and the ``--pythonpath``
directories, skipping hidden directories, ``__pycache__``, virtual
environments and installed packages (``site-packages``), plus every
``--reload-extra-file`` (any file; a directory is watched whole). The files an
editor writes beside the one being edited (hidden names such as Emacs's lock
``.#app.py`` or Vim's ``.app.py.swp``, backups ending in ``~``, ``#autosave#``,
``*.tmp``) never trigger a reload: they come and go before the file is saved.
Asking the workers for their ``sys.modules`` would miss what an app imports
lazily (Django imports views on first request) and what the next generation
would import, and would watch the standard library for nothing.

How. :class:`ReloadService` is one of the master's services (see
:mod:`wsgikit.process.master_services`): no thread runs in the master, so a
fork never copies a lock another thread holds. With watchfiles (the ``reload``
extra: inotify on Linux) a small helper process (``python -m
wsgikit.reloader``) watches and writes the changed paths to a pipe the master
waits on with its signals; without it, the master stats the files once a
second from its loop. Either way a change is answered as a HUP is: a new
generation of workers, the old one retired once the new one serves.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .process.master_services import READ

__all__ = ["PollingWatcher", "ReloadService", "WatchSpec", "main", "watchfiles_available"]

_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages"})
#: Suffixes of the temporary and backup files editors write next to the file edited.
_EDITOR_SUFFIXES = (".swp", ".swo", ".swx", ".tmp", ".bak", ".orig")


@dataclass(frozen=True)
class WatchSpec:
    """What to watch: ``*.py`` under ``roots``, and every file of ``extra`` (files or dirs)."""

    roots: tuple[str, ...]
    extra: tuple[str, ...] = ()

    @classmethod
    def for_project(cls, roots: Iterable[str], extra: Iterable[str] = ()) -> WatchSpec:
        """Absolute, de-duplicated paths; roots that do not exist are dropped."""
        seen: list[str] = []
        for path in roots:
            path = os.path.abspath(path)
            if os.path.isdir(path) and path not in seen:
                seen.append(path)
        return cls(tuple(seen), tuple(os.path.abspath(p) for p in extra))

    def wants(self, path: str) -> bool:
        """Whether a change of ``path`` (absolute) matters."""
        if path in self.extra:
            return True  # named on its own: watched whatever its name
        if _editor_file(os.path.basename(path)):
            return False
        for item in self.extra:
            if path.startswith(item.rstrip(os.sep) + os.sep):
                return True
        if not path.endswith(".py"):
            return False
        for root in self.roots:
            if path.startswith(root.rstrip(os.sep) + os.sep):
                inner = os.path.relpath(os.path.dirname(path), root)
                parts = [] if inner == "." else inner.split(os.sep)
                return not any(_skipped(part) for part in parts)
        return False

    def watched_dirs(self) -> list[str]:
        """The directories a filesystem watcher registers (an extra file: its directory,
        since editors often replace a file rather than write it in place)."""
        dirs = list(self.roots)
        for item in self.extra:
            path = item if os.path.isdir(item) else os.path.dirname(item)
            if os.path.isdir(path) and path not in dirs:
                dirs.append(path)
        return dirs

    def files(self) -> Iterator[str]:
        """Every file watched now (walks the roots; used by the polling watcher)."""
        for root in self.roots:
            for top, dirs, names in os.walk(root):
                dirs[:] = [d for d in dirs if not _skipped(d, os.path.join(top, d))]
                for name in names:
                    if name.endswith(".py") and not _editor_file(name):
                        yield os.path.join(top, name)
        for item in self.extra:
            if os.path.isdir(item):
                for top, _dirs, names in os.walk(item):
                    for name in names:
                        if not _editor_file(name):
                            yield os.path.join(top, name)
            else:
                yield item


def _editor_file(name: str) -> bool:
    """Whether a file name is one an editor writes beside the file being edited
    (hidden files, ``name~`` backups, ``#name#`` autosaves, swap and temporary files),
    or Vim's ``4913`` probe: never a source change of its own."""
    return name.startswith((".", "#")) or name.endswith(("~", *_EDITOR_SUFFIXES)) or name == "4913"


def _skipped(name: str, path: str | None = None) -> bool:
    """Hidden directories, caches, installed packages and virtual environments."""
    if name.startswith(".") or name in _SKIP_DIRS:
        return True
    return path is not None and os.path.exists(os.path.join(path, "pyvenv.cfg"))


class PollingWatcher:
    """Stat every watched file; :meth:`changes` says which changed since the last call."""

    name = "poll"

    def __init__(self, spec: WatchSpec) -> None:
        self.spec = spec
        self._seen = self._snapshot()

    def _snapshot(self) -> dict[str, tuple[int, int]]:
        seen: dict[str, tuple[int, int]] = {}
        for path in self.spec.files():
            try:
                st = os.stat(path)
            except OSError:
                continue  # removed while we walked; the next round sees it gone
            seen[path] = (st.st_mtime_ns, st.st_size)
        return seen

    def changes(self) -> list[str]:
        """Paths added, removed or modified since the previous call, sorted."""
        now = self._snapshot()
        keys = now.keys() | self._seen.keys()
        changed = sorted(p for p in keys if now.get(p) != self._seen.get(p))
        self._seen = now
        return changed


def watchfiles_available() -> bool:
    """Whether the optional ``watchfiles`` package can be imported."""
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return False
    return True


class ReloadService:
    """A master service that asks the arbiter for a reload (as HUP) when a file changes.

    ``engine`` is ``poll``, ``watchfiles`` or ``auto`` (watchfiles when installed).
    Raises ``RuntimeError`` when watchfiles is asked for and not installed. The log
    names the file that changed.
    """

    #: Seconds between two scans of the polling engine.
    poll_interval = 1.0

    def __init__(self, spec: WatchSpec, engine: str, logger: logging.Logger) -> None:
        if engine == "watchfiles" and not watchfiles_available():
            raise RuntimeError("watchfiles is not installed (pip install 'wsgikit[reload]')")
        self.spec = spec
        self.log = logger
        self.engine = "watchfiles" if engine != "poll" and watchfiles_available() else "poll"
        self._arbiter: Any = None
        self._poller: PollingWatcher | None = None
        self._next_scan = 0.0
        self._helper: subprocess.Popen[bytes] | None = None
        self._pending = b""
        if self.engine == "poll":
            self._poller = PollingWatcher(spec)  # the state to compare against: now

    # -- MasterService ----------------------------------------------------------------

    def attach(self, arbiter: object) -> None:
        self._arbiter = arbiter
        if self.engine == "watchfiles":
            self._start_helper()  # says when it watches: see ready()
        else:
            self._watching()

    def _watching(self) -> None:
        dirs = ", ".join(self.spec.watched_dirs()) or "nothing"
        self.log.info("reload: watching %s with %s", dirs, self.engine)

    def watch(self) -> Iterable[tuple[int, int]]:
        if self._helper is not None and self._helper.stdout is not None:
            return [(self._helper.stdout.fileno(), READ)]
        return []

    def ready(self, fd: int, events: int) -> None:
        assert self._helper is not None and self._helper.stdout is not None
        data = os.read(fd, 65536)
        if not data:  # the helper is gone: keep watching, by polling
            self._stop_helper()
            if not getattr(self._arbiter, "stopping", False):
                self.log.warning("reload: the watchfiles helper exited; polling instead")
                self._poller = PollingWatcher(self.spec)
            return
        self._pending += data
        *batches, self._pending = self._pending.split(b"\n\n")
        for batch in batches:
            if batch == _READY:
                self._watching()
                continue
            paths = [p for p in os.fsdecode(batch).split("\n") if p]
            if paths:
                self._changed(paths)

    def tick(self, now: float) -> None:
        if self._poller is None or now < self._next_scan:
            return
        self._next_scan = now + self.poll_interval
        changed = self._poller.changes()
        if changed:
            self._changed(changed)

    def close(self) -> None:
        self._stop_helper()

    def close_in_child(self) -> None:
        # A worker keeps no copy of the pipe (nor drops the Popen object, whose
        # finalizer is the master's business); the helper lives on for the master.
        if self._helper is not None:
            for stream in (self._helper.stdin, self._helper.stdout):
                if stream is not None:
                    stream.close()
        self._poller = None

    # -- inside -----------------------------------------------------------------------

    def _changed(self, paths: list[str]) -> None:
        more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
        self.log.info("reload: %s changed%s; reloading the workers", paths[0], more)
        self._arbiter.request(signal.SIGHUP)  # the same reload as a HUP from outside

    def _start_helper(self) -> None:
        args = [sys.executable, "-m", "wsgikit.reloader", *self.spec.roots]
        for item in self.spec.extra:
            args += ["--extra", item]
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        # stdin is the helper's lifeline: it exits when the master goes (EOF).
        self._helper = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True
        )

    def _stop_helper(self) -> None:
        helper, self._helper = self._helper, None
        if helper is None:
            return
        for stream in (helper.stdin, helper.stdout):
            if stream is not None:
                stream.close()
        helper.terminate()
        try:
            helper.wait(5)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait(5)


# -- the watchfiles helper process ------------------------------------------------------

#: What the helper writes (as a batch of its own) once it watches.
_READY = b"@watching"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wsgikit.reloader ROOT... [--extra PATH]...``: print each batch of
    changed paths (one per line, a blank line after each batch) until stdin closes."""
    import watchfiles

    parser = argparse.ArgumentParser(prog="python -m wsgikit.reloader")
    parser.add_argument("roots", nargs="*")
    parser.add_argument("--extra", action="append", default=[])
    ns = parser.parse_args(argv)
    spec = WatchSpec.for_project(ns.roots, ns.extra)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the master; it stops us
    stop = threading.Event()

    def lifeline() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        stop.set()

    threading.Thread(target=lifeline, daemon=True).start()
    out = sys.stdout.buffer
    announced = False
    for batch in watchfiles.watch(
        *spec.watched_dirs(),
        watch_filter=lambda _change, path: spec.wants(path),
        debounce=300,
        step=50,
        stop_event=stop,
        rust_timeout=200,
        yield_on_timeout=True,  # an empty batch once the watcher is set up: announce it
        raise_interrupt=False,
    ):
        paths = sorted({path for _change, path in batch})
        if paths:
            out.write(os.fsencode("\n".join(paths)) + b"\n\n")
        elif not announced:
            out.write(_READY + b"\n\n")
        announced = True
        out.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover - run as the helper process
    sys.exit(main())
