"""Background clients for ``hello-under-slow-clients``, run as a separate process.

``python -m bench.slowclients --port P`` keeps, until SIGTERM or ``--max-seconds``:

* ``--idle`` keep-alive connections: each sends one request, reads the response, then
  stays connected and silent; when the server closes it, it waits 1 s and does it again.
* ``--slow`` slow clients: each sends its request head one byte every ``--interval``
  seconds, reads the response, and repeats at once (on the same connection while it is
  kept alive, else on a new one).

It prints ``READY <connected>`` once every client has tried its first connect, and a
``STATS {...}`` JSON line when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter

from bench.httpclient import cancel_all, read_response

IDLE_REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
SLOW_REQUEST = b"GET /slow HTTP/1.1\r\nHost: bench\r\n\r\n"
RESPONSE_TIMEOUT = 30.0
RETRY_DELAY = 1.0
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Clients:
    def __init__(self, host: str, port: int, interval: float) -> None:
        self.host, self.port, self.interval = host, port, interval
        self.stats: Counter[str] = Counter()
        self.first_attempts: list[asyncio.Event] = []

    async def connect(self, kind: str, first: asyncio.Event) -> Streams | None:
        try:
            streams = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 5)
        except (OSError, asyncio.TimeoutError):
            self.stats[f"{kind}_connect_errors"] += 1
            streams = None
        else:
            self.stats[f"{kind}_connects"] += 1
            if not first.is_set():
                self.stats[f"{kind}_connected_first"] += 1
        first.set()
        return streams

    async def idle(self) -> None:
        first = asyncio.Event()
        self.first_attempts.append(first)
        while True:
            streams = await self.connect("idle", first)
            if streams is not None:
                reader, writer = streams
                try:
                    writer.write(IDLE_REQUEST)
                    status, _ = await asyncio.wait_for(read_response(reader), RESPONSE_TIMEOUT)
                    self.stats[f"idle_answered_{status}"] += 1
                    await reader.read(1)  # silent until the server closes the connection
                except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                    self.stats["idle_errors"] += 1
                finally:
                    writer.close()
            await asyncio.sleep(RETRY_DELAY)

    async def slow(self) -> None:
        first = asyncio.Event()
        self.first_attempts.append(first)
        # The first request starts at a random point of its head, so the clients are out of
        # step from the start (as real ones are) instead of all finishing together.
        head_start = random.randrange(len(SLOW_REQUEST))
        while True:
            streams = await self.connect("slow", first)
            if streams is None:
                await asyncio.sleep(RETRY_DELAY)
                continue
            reader, writer = streams
            try:
                keep_alive = True
                while keep_alive:
                    writer.write(SLOW_REQUEST[:head_start])
                    for byte in SLOW_REQUEST[head_start:]:
                        await asyncio.sleep(self.interval)
                        writer.write(bytes([byte]))
                        await writer.drain()
                    head_start = 0
                    status, keep_alive = await asyncio.wait_for(
                        read_response(reader), RESPONSE_TIMEOUT
                    )
                    self.stats[f"slow_answered_{status}"] += 1
            except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                self.stats["slow_errors"] += 1
                await asyncio.sleep(RETRY_DELAY)
            finally:
                writer.close()


async def run(args: argparse.Namespace) -> dict[str, int]:
    clients = Clients(args.host, args.port, args.interval)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    tasks = [asyncio.create_task(clients.idle()) for _ in range(args.idle)]
    tasks += [asyncio.create_task(clients.slow()) for _ in range(args.slow)]
    await asyncio.sleep(0)  # let every task register its first-attempt event
    if clients.first_attempts:
        await asyncio.wait(
            [asyncio.create_task(e.wait()) for e in clients.first_attempts], timeout=10
        )
    connected = clients.stats["idle_connected_first"] + clients.stats["slow_connected_first"]
    print(f"READY {connected}", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    except asyncio.TimeoutError:
        pass
    if not await cancel_all(tasks):
        print("STATS " + json.dumps(dict(clients.stats), sort_keys=True), flush=True)
        sys.stderr.write("slowclients: some clients ignored cancellation; exiting hard\n")
        os._exit(1)  # we must end within our time bound; asyncio.run would wait on them
    return dict(clients.stats)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.slowclients",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--slow", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.1, help="s between slow bytes")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="hard time bound")
    stats = asyncio.run(run(parser.parse_args()))
    print("STATS " + json.dumps(stats, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
