"""The status document in Prometheus's text exposition format (version 0.0.4).

Names follow Prometheus's conventions: a ``wsgikit_`` prefix, base units
(seconds, bytes), ``_total`` for counters. Counters sum every worker this
master ran, including those that exited, so they never go back while the
master lives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render_prometheus", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _le(bound: float) -> str:
    return repr(float(bound))


def render_prometheus(doc: Mapping[str, Any]) -> str:
    """The exposition text for a status document (:func:`status_document`)."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lines.append(f"{name}{labels} {_number(value)}")

    metric(
        "wsgikit_requests_total",
        "counter",
        "Requests answered, by status class (none: no response was sent).",
        [(f'{{status="{name}"}}', count) for name, count in doc["status"].items()],
    )
    metric(
        "wsgikit_request_errors_total",
        "counter",
        "Requests whose application raised or misbehaved.",
        [("", doc["errors"])],
    )
    duration = doc["duration"]
    bounds, buckets = duration["bounds"], duration["buckets"]
    lines.append(
        "# HELP wsgikit_request_duration_seconds Time from the request head to the end "
        "of the response."
    )
    lines.append("# TYPE wsgikit_request_duration_seconds histogram")
    cumulative = 0
    for index, bound in enumerate(bounds):
        cumulative += buckets[index] if index < len(buckets) else 0
        lines.append(f'wsgikit_request_duration_seconds_bucket{{le="{_le(bound)}"}} {cumulative}')
    count = sum(buckets)
    lines.append(f'wsgikit_request_duration_seconds_bucket{{le="+Inf"}} {count}')
    lines.append(f"wsgikit_request_duration_seconds_sum {_number(duration['sum'])}")
    lines.append(f"wsgikit_request_duration_seconds_count {count}")
    metric(
        "wsgikit_requests_in_flight",
        "gauge",
        "Requests being answered now.",
        [("", doc["in_flight"])],
    )
    metric(
        "wsgikit_workers",
        "gauge",
        "Worker processes alive (retiring ones included).",
        [("", doc["workers_live"])],
    )
    metric(
        "wsgikit_workers_booted",
        "gauge",
        "Workers ready to serve and not retiring.",
        [("", doc["workers_booted"])],
    )
    metric(
        "wsgikit_workers_target",
        "gauge",
        "Workers the master keeps running.",
        [("", doc["workers_target"])],
    )
    metric(
        "wsgikit_worker_starts_total",
        "counter",
        "Workers started (boots, replacements, reloads).",
        [("", doc["workers_spawned"])],
    )
    master = doc["master"]
    metric(
        "wsgikit_reloads_total",
        "counter",
        "Reloads (HUP) begun.",
        [("", master["reloads"])],
    )
    metric(
        "wsgikit_uptime_seconds",
        "gauge",
        "Seconds since the master started.",
        [("", master["uptime"])],
    )
    metric(
        "wsgikit_start_time_seconds",
        "gauge",
        "When the master started, in seconds since the epoch.",
        [("", master["started"])],
    )
    rss = [w["rss"] for w in doc["workers"] if w.get("rss") is not None]
    metric(
        "wsgikit_workers_memory_bytes",
        "gauge",
        "Resident memory of all workers together.",
        [("", sum(rss))],
    )
    metric(
        "wsgikit_worker_memory_max_bytes",
        "gauge",
        "Resident memory of the largest worker.",
        [("", max(rss, default=0))],
    )
    if master.get("rss") is not None:
        metric(
            "wsgikit_master_memory_bytes",
            "gauge",
            "Resident memory of the master.",
            [("", master["rss"])],
        )
    metric(
        "wsgikit_draining",
        "gauge",
        "1 while the master stops gracefully.",
        [("", 1 if master["stopping"] else 0)],
    )
    return "\n".join(lines) + "\n"
