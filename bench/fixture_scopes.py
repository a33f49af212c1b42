"""How long a module of 20 tests takes with a pre-fork server per test, and with one
session-scoped server: ``python bench/fixture_scopes.py [--tests 20] [--workers 1]``.

It writes a small project (an app, a conftest with a ``wsgi_app`` fixture and a test
module) to a temporary directory, runs pytest on it twice with
``--wsgikit-workers N`` (once the tests ask for ``wsgikit_live_server``, once for
``wsgikit_live_server_session``) and prints the wall-clock time of each run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

APP = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""

CONFTEST = """
import pytest


@pytest.fixture(scope="session")
def wsgi_app():
    return "app:application"
"""

TEST = """
import pytest


@pytest.mark.parametrize("n", range({tests}))
def test_page(n, {fixture}):
    assert {fixture}.client.get("/").text == "ok"
"""


def run(directory: Path, fixture: str, tests: int, workers: int) -> tuple[float, str]:
    (directory / "test_pages.py").write_text(TEST.format(tests=tests, fixture=fixture))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    args += ["-p", "no:flask", "-p", "no:django", f"--wsgikit-workers={workers}"]
    start = time.perf_counter()
    done = subprocess.run(args, cwd=directory, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    if done.returncode != 0:
        raise SystemExit(f"pytest failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "app.py").write_text(APP)
        (directory / "conftest.py").write_text(CONFTEST)
        for fixture in ("wsgikit_live_server", "wsgikit_live_server_session"):
            elapsed, summary = run(directory, fixture, ns.tests, ns.workers)
            print(f"{fixture:30} {elapsed:6.2f} s   ({summary})")


if __name__ == "__main__":
    main()
