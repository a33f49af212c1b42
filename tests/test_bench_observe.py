"""The bench harness can measure wsgikit with its status and metrics on, several servers at
once: each launch gets a metrics port and a control-socket directory of its own."""

from __future__ import annotations

import sys

from bench.harness import SCENARIOS, WK_DEFAULT
from bench.scrape import Scraper
from bench.servers import Server, wsgikit_spec

from .support import bench_settings, wait_for


def test_two_observed_servers_run_at_once_and_answer_every_read() -> None:
    spec = wsgikit_spec(f"{sys.executable} -m wsgikit", "bench.apps:hello", "threaded", 1, 1, True)
    with Server(spec) as first, Server(spec) as second:
        assert first.metrics_port != second.metrics_port
        assert first.control_path != second.control_path
        for server in (first, second):
            with Scraper(server.metrics_port, server.control_path, interval=0.05) as scraper:
                wait_for(lambda: scraper.counts["scrapes"] >= 3, "three reads")
            assert scraper.counts["failed"] == 0, scraper.counts


def test_observe_runs_each_wsgikit_contestant_on_and_off() -> None:
    cfg = bench_settings("hello", ["wsgikit", "gunicorn"], 1, observe=True)
    labels = [c.label for c in cfg.contestants(SCENARIOS["hello"])]
    assert labels[:2] == [WK_DEFAULT.label, f"{WK_DEFAULT.label} +observe"]
    assert "gunicorn sync" in labels and "gunicorn sync +observe" not in labels
    assert cfg.spec(cfg.contestants(SCENARIOS["hello"])[1], SCENARIOS["hello"]).observe
