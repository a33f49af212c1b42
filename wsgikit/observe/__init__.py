"""What the master shows about itself: status, control, metrics, health, statsd.

Workers count into their shared-memory status block (:mod:`wsgikit.process`);
the master reads every block and serves what it sees, from its own loop
(:class:`~wsgikit.process.master_services.MasterService`): a control socket for
``wsgikit ctl``, an HTTP listener for Prometheus and health checks, and a StatsD
sender. The process layer only counts tasks, outcomes and durations; the names
(status classes, request durations) and the formats live here.

The services are imported on first use: a server whose settings ask for none of
them (the default) never loads them (nor ``json``, which the control socket uses);
the status names, which every worker plan uses, are loaded at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .status import DURATION_BUCKETS, STATUS_CLASSES, StatusSource, status_document

if TYPE_CHECKING:
    from .control import ControlError, ControlService, send_command
    from .metrics import MetricsService
    from .prometheus import render_prometheus
    from .statsd import StatsdService

_LAZY = {
    "ControlError": "control",
    "ControlService": "control",
    "send_command": "control",
    "MetricsService": "metrics",
    "render_prometheus": "prometheus",
    "StatsdService": "statsd",
}

__all__ = [
    "DURATION_BUCKETS",
    "STATUS_CLASSES",
    "ControlError",
    "ControlService",
    "MetricsService",
    "StatsdService",
    "StatusSource",
    "render_prometheus",
    "send_command",
    "status_document",
]


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f".{module}", __name__), name)
