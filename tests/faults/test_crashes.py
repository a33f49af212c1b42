"""Workers that die: killed, stopped, or crashed by a request; the server keeps answering."""

from __future__ import annotations

import os
import signal
import socket
import time

from ..support import children, wait_for
from .probes import Probes


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


def test_kill_9_of_a_worker_under_load(prefork):
    """SIGKILL one of two workers while probes run: only what that worker held is lost;
    it is replaced at once and every later probe is answered."""
    server = prefork()
    master = server.process.pid
    with Probes(server, interval=0.05, timeout=2.0) as probes:
        time.sleep(0.5)
        victim = min(children(master))
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in children(master) and len(children(master)) == 2)
        replaced_at = time.monotonic()
        time.sleep(1.0)
    # Only probes sent before the replacement may have failed (one the victim held may
    # report its failure later than that): none sent after it.
    assert probes.failed_since(replaced_at) == 0, probes.summary()
    assert len(probes.failures) <= 2, probes.summary()
    assert probes.availability >= 0.95, probes.summary()
    print(f"\nkill -9: probes {probes.summary()}")


def test_sigstop_of_a_worker_under_load(prefork):
    """A stopped worker stops beating: after --timeout the master kills it (SIGKILL reaches
    a stopped process) and replaces it; the other worker answers meanwhile."""
    server = prefork(timeout=2)
    master = server.process.pid
    with Probes(server, interval=0.1, timeout=5.0) as probes:
        time.sleep(0.3)
        victim = min(children(master))
        os.kill(victim, signal.SIGSTOP)
        try:
            wait_for(lambda: victim not in children(master), "the stopped worker killed")
        finally:
            if victim in children(master):
                os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(children(master)) == 2, "replaced")
        replaced_at = time.monotonic()
        time.sleep(1.0)
    assert "is stuck: no heartbeat" in server.log_text()
    assert probes.failed_since(replaced_at) == 0, probes.summary()  # none after the kill
    assert probes.availability >= 0.9, probes.summary()
    print(f"\nSIGSTOP: probes {probes.summary()}")
