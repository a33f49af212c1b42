"""The bench's fresh starts measure start-up and memory with a plain app and with Flask,
each against Gunicorn's figure for the same app: the plain apps must not load Flask
(Flask's imports would dominate both servers' figures and hide the server's own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import GU_GTHREAD, WK_DEFAULT, Start, verdicts

from .support import bench_settings

REPO = Path(__file__).resolve().parent.parent


def test_the_plain_bench_apps_do_not_load_flask() -> None:
    code = "import sys, bench.apps; print(sorted(m for m in sys.modules if m.startswith('flask')))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_start_up_and_memory_are_judged_per_app() -> None:
    starts = [
        Start(WK_DEFAULT.label, "plain", startup_s=0.12, idle_rss_mib=18.0, busiest=0.5),
        Start(GU_GTHREAD.label, "plain", startup_s=0.10, idle_rss_mib=20.0, busiest=0.5),
        Start(WK_DEFAULT.label, "flask", startup_s=0.25, idle_rss_mib=30.0),
        Start(GU_GTHREAD.label, "flask", startup_s=0.25, idle_rss_mib=29.0),
    ]
    got = {v.what: v for v in verdicts([], starts, bench_settings("hello", ["wsgikit"], 2))}
    plain = got["start-up to first answer, plain app: wsgikit default vs gunicorn gthread x4"]
    assert plain.measured == pytest.approx(1.2) and plain.passed is False
    memory = got["idle worker RSS, plain app: wsgikit default vs gunicorn gthread x4"]
    assert memory.measured == pytest.approx(0.9) and memory.passed is True
    flask = got["start-up to first answer, flask app: wsgikit default vs gunicorn gthread x4"]
    assert flask.measured == pytest.approx(1.0) and flask.passed is True
    memory = got["idle worker RSS, flask app: wsgikit default vs gunicorn gthread x4"]
    assert memory.measured == pytest.approx(30 / 29) and memory.passed is False
    # Only the plain starts carry a burst: the Flask ones do not count as spread checks.
    burst = next(v for v in got.values() if v.what.startswith("burst:"))
    assert "(of 1)" in burst.what and burst.passed is True
