"""The status document: what the master knows, with the server's names on it.

:meth:`wsgikit.process.Arbiter.status` counts generic tasks by *outcome* index
and duration bucket; here outcome ``k`` becomes the status class ``"kxx"`` (0:
no response was sent), and the listeners and a few settings are added. The
control socket returns this document as JSON; Prometheus and StatsD render it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["DURATION_BUCKETS", "STATUS_CLASSES", "StatusSource", "status_document"]

#: Outcome index -> status class label (the server passes ``status // 100``).
STATUS_CLASSES: tuple[str, ...] = ("none", "1xx", "2xx", "3xx", "4xx", "5xx")

#: Upper bounds (seconds) of the request-duration histogram: Prometheus's defaults.
DURATION_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class StatusSource(Protocol):
    """What the services need of the supervisor (an :class:`~wsgikit.process.Arbiter`)."""

    def status(self) -> dict[str, object]: ...


def _classes(counts: Any) -> dict[str, int]:
    counts = list(counts or ())
    return {
        name: (counts[index] if index < len(counts) else 0)
        for index, name in enumerate(STATUS_CLASSES)
    }


def status_document(
    raw: Mapping[str, Any],
    listeners: list[str] | None = None,
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Turn :meth:`Arbiter.status` into the status document (JSON-ready)."""
    totals = raw["totals"]
    doc: dict[str, Any] = {
        "master": {
            "pid": raw["pid"],
            "started": raw["started"],
            "uptime": round(raw["uptime"], 3),
            "rss": raw.get("master_rss"),
            "generation": raw["generation"],
            "reloads": raw["reloads"],
            "reloading": raw["reloading"],
            "stopping": raw["stopping"],
        },
        "workers_target": raw["workers_target"],
        "workers_live": len(raw["workers"]),
        "workers_booted": raw["booted_workers"],
        "workers_spawned": raw["spawned"],
        "requests": totals["requests"],
        "errors": totals["errors"],
        "in_flight": totals["in_flight"],
        "status": _classes(totals["outcomes"]),
        "duration": {
            "bounds": list(raw["duration_bounds"]),
            "buckets": list(totals["buckets"]),
            "sum": totals["duration_sum"],
        },
        "workers": [_worker(w) for w in raw["workers"]],
    }
    if listeners is not None:
        doc["listeners"] = listeners
    if config is not None:
        doc["config"] = dict(config)
    return doc


def _worker(w: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "pid": w["pid"],
        "id": w["worker_id"],
        "generation": w["generation"],
        "age": round(w["age"], 3),
        "booted": w["booted"],
        "retiring": w["retiring"],
        "requests": w["requests"],
        "errors": w["errors"],
        "in_flight": w["in_flight"],
        "status": _classes(w.get("outcomes")),
        "rss": w.get("rss"),
        "heartbeat_age": None if w["heartbeat_age"] is None else round(w["heartbeat_age"], 3),
        "busy": [
            {"request": b["task"], "running": round(b["running"], 3), "idle": round(b["idle"], 3)}
            for b in w.get("busy", ())
        ],
    }


def healthy(raw: Mapping[str, Any]) -> tuple[bool, str]:
    """The health check's answer: serving (a booted worker, not stopping) or why not."""
    if raw["stopping"]:
        return False, "draining"
    if not raw["booted_workers"]:
        return False, "no booted worker"
    return True, "ok"
