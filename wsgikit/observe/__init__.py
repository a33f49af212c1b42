"""What the master shows about itself: status, control, metrics, health, statsd.

Workers count into their shared-memory status block (:mod:`wsgikit.process`);
the master reads every block and serves what it sees, from its own loop
(:class:`~wsgikit.process.master_services.MasterService`): a control socket for
``wsgikit ctl``, an HTTP listener for Prometheus and health checks, and a StatsD
sender. The process layer only counts tasks, outcomes and durations; the names
(status classes, request durations) and the formats live here.
"""

from .control import ControlError, ControlService, send_command
from .metrics import MetricsService
from .prometheus import render_prometheus
from .statsd import StatsdService
from .status import DURATION_BUCKETS, STATUS_CLASSES, StatusSource, status_document

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
