"""Workers that die: killed, stopped, or crashed by a request; the server keeps answering."""

from __future__ import annotations

import socket
import time

from ..support import wait_for
from .probes import Probes, children


def _send_and_forget(port: int, path: str) -> None:
    """Send a request without waiting for its answer (a crashing one gets none)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    except OSError:
        pass


def test_requests_that_crash_their_worker_leave_the_server_available(prefork):
    """A request ending in os._exit every 0.5 s for 6 s (a segfaulting C extension or an
    OOM kill do the same) while a normal client probes every 100 ms, each probe allowed
    1 s: each dead worker is replaced at once, so >= 95 % of the probes are answered."""
    server = prefork()
    master = server.process.pid
    crashes = 0
    with Probes(server, interval=0.1, timeout=1.0) as probes:
        end = time.monotonic() + 6.0
        while time.monotonic() < end:
            _send_and_forget(server.port, "/crash")
            crashes += 1
            time.sleep(0.5)
    wait_for(lambda: len(children(master)) == 2, what="workers replaced")
    log = server.log_text()
    assert log.count("died (exit code 1)") >= crashes // 2, log
    assert probes.availability >= 0.95, probes.summary()
    print(f"\ncrash loop: {crashes} crash requests; probes {probes.summary()}")
