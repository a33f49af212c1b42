"""The sleep scenario's thread ceiling counts the app's own time per call, measured alone:
``time.sleep(0.01)`` takes longer than 10 ms, and that overshoot is no server's doing."""

from __future__ import annotations

import pytest

from bench.harness import WK_THREADS, Settings, Summary, app_call_seconds, verdicts

from .support import bench_settings


def _settings(app_seconds: dict[str, float]) -> Settings:
    settings: Settings = bench_settings("sleep", ["wsgikit"], 2, app_seconds=app_seconds)
    return settings


def _sleep_row(rps: float) -> Summary:
    return Summary(
        scenario="sleep",
        contestant=WK_THREADS.label,
        runs=1,
        measured=1,
        answered=1,
        rps=rps,
        cpu_us=400.0,
        p50_ms=80.0,
        p99_ms=120.0,
        busiest=0.5,
        errors={},
        probes_sent=0,
        probes_answered=0,
        probe_max_ms=None,
    )


def test_the_sleep_target_is_a_share_of_what_the_apps_measured_time_allows() -> None:
    # 2 workers x 4 threads, the app taking 10.4 ms: at most 769 req/s, not 800.
    (verdict,) = verdicts([_sleep_row(740.0)], [], _settings({"sleep": 0.0104}))
    assert verdict.measured == pytest.approx(740.0 * 0.0104 / 8)
    assert verdict.passed is True
    assert "769/s" in verdict.what and "10.40 ms" in verdict.what
    assert "0.93 of the 10 ms one" in verdict.what  # the nominal share, still shown


def test_without_a_measured_app_time_the_ceiling_is_the_nominal_one() -> None:
    (verdict,) = verdicts([_sleep_row(740.0)], [], _settings({}))
    assert verdict.measured == pytest.approx(740.0 / 800)
    assert verdict.passed is False


def test_the_sleeping_app_alone_takes_at_least_its_sleep() -> None:
    assert app_call_seconds("bench.apps:sleepy", threads=2, calls=3) >= 0.01
