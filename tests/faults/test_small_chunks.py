"""A client streaming tiny chunks is refused, and costs the other clients of its worker
little meanwhile.

Each chunk costs the server its parsing, whatever its size: a client sending
``1\\r\\nX\\r\\n`` as fast as it can made one threaded worker spend its time on chunk
lines (one event, one spool write per chunk) while its other clients waited. Now the
chunks of a read are parsed in one pass and a body of more than 1024 chunks under 64
bytes is answered 400 (``python -m tests.faults.small_chunks`` measures it).
"""

from __future__ import annotations

import time

from .probes import Probes
from .small_chunks import Attacker, chunk_block


def test_a_client_streaming_one_byte_chunks_is_refused_and_others_are_served(prefork):
    server = prefork(workers=1)
    attacker = Attacker(server.port, chunk_block(1, b""))
    with Probes(server, interval=0.1, timeout=5.0) as probes:
        attacker.start()
        time.sleep(2.0)  # the attacker opens a new connection each time it is refused
        attacker.stop.set()
        attacker.join(10)
    assert not attacker.is_alive()
    assert probes.sent >= 10 and probes.failures == [], probes.summary()
    # Unfixed, the body was read for as long as the client sent it: never refused.
    assert attacker.refused >= 1, f"{attacker.sent} bytes sent, never refused"
    assert any(answer.startswith("HTTP/1.1 400 ") for answer in attacker.answers), attacker.answers
    print(f"\n1-byte chunks: {attacker.refused} refused {attacker.answers}; {probes.summary()}")
