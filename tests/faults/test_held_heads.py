"""Unfinished request heads held open by many connections cost bounded memory per worker.

Bodies count against ``buffer_memory``; so do the bytes of request heads that have not
ended yet. Before, 800 connections each sending 98 header fields of 8 KB (within the
head limits) and no blank line took two workers from 21 MB to 289 and 363 MB RSS
(``python -m tests.faults.hold_heads --count 800``); now the largest partial heads are
answered 503 with ``Retry-After`` past the budget, and normal requests go on.
"""

from __future__ import annotations

import select
import time

from ..rawhttp import RawClient
from ..support import children
from .hold_heads import large_head, send_heads
from .probes import Probes, rss_kib

BUDGET = 4 << 20


def test_partial_heads_held_open_cost_bounded_memory_per_worker(prefork):
    server = prefork(buffer_memory=BUDGET, worker_connections=1000, header_timeout=60)
    workers = sorted(children(server.process.pid))
    before = {pid: rss_kib(pid) for pid in workers}
    head = large_head(98)  # 800 KB: 150 of them are 120 MB held unfixed
    held = []
    try:
        with Probes(server, interval=0.1, timeout=5.0) as probes:
            held = send_heads(server.port, 150, head, seconds=10.0)
            time.sleep(1.0)  # the workers read what the kernel still holds
            during = {pid: rss_kib(pid) for pid in workers}
        assert probes.sent >= 10 and probes.failures == [], probes.summary()
        grown = sum(during[pid] - before[pid] for pid in workers) >> 10
        # The budget of each worker, plus one read per connection and the interpreter's
        # own growth; unfixed, the workers grew by the 120 MB the clients sent.
        assert grown < 2 * (BUDGET >> 20) + 30, (before, during)
        readable, _, _ = select.select(held, [], [], 2.0)
        refused = 0
        for sock in readable:
            with RawClient(sock=sock, timeout=5) as client:
                try:
                    response = client.read_response()
                except ConnectionError:
                    continue  # reset after our bytes crossed its close: refused all the same
            assert response.status == 503 and "retry-after" in response.headers, response
            refused += 1
        # At most BUDGET of heads per worker are kept: the others were refused.
        assert refused >= 100, (refused, len(readable))
        print(f"\n150 partial heads of 800 KB: RSS KiB before {before}, during {during}")
    finally:
        for sock in held:
            sock.close()
