"""A small keep-alive HTTP/1.1 load generator, used when wrk is not installed.

``python -m bench.pyload URL --connections N --duration S`` prints one ``BENCHJSON {...}``
line with the same fields as ``wrk_report.lua``. One asyncio process: it saturates sooner
than wrk, so it measures lower absolute numbers; both servers face the same client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from urllib.parse import urlsplit

from bench.httpclient import cancel_all, read_response


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.requests = 0
        self.errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}


async def connection_loop(
    host: str, port: int, request: bytes, timeout: float, stats: Stats
) -> None:
    """Send requests back to back on one connection; reconnect when the server closes it."""
    while True:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, asyncio.TimeoutError):
            stats.errors["connect"] += 1
            await asyncio.sleep(0.01)
            continue
        try:
            keep_alive = True
            while keep_alive:
                start = time.perf_counter()
                try:
                    writer.write(request)
                    await writer.drain()
                except OSError:
                    stats.errors["write"] += 1
                    break
                try:
                    status, keep_alive = await asyncio.wait_for(read_response(reader), timeout)
                except asyncio.TimeoutError:
                    stats.errors["timeout"] += 1
                    break
                except (OSError, ValueError, asyncio.IncompleteReadError):
                    stats.errors["read"] += 1
                    break
                stats.latencies.append(time.perf_counter() - start)
                stats.requests += 1
                if not 200 <= status < 400:
                    stats.errors["status"] += 1
        finally:
            writer.close()


async def run(url: str, connections: int, duration: float, timeout: float) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    stats = Stats()
    tasks = [
        asyncio.create_task(connection_loop(host, port, request, timeout, stats))
        for _ in range(connections)
    ]
    start = time.perf_counter()
    await asyncio.sleep(duration)
    elapsed = time.perf_counter() - start
    finished = await cancel_all(tasks)
    lat = sorted(stats.latencies)

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0

    report: dict[str, object] = {
        "requests": stats.requests,
        "duration_s": elapsed,
        **stats.errors,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }
    if not finished:  # asyncio.run() would wait on them: report and end now
        emit(report)
        os._exit(0)
    return report


def emit(report: dict[str, object]) -> None:
    print("BENCHJSON " + json.dumps(report), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pyload", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=2.0, help="per-request timeout, s")
    args = parser.parse_args()
    emit(asyncio.run(run(args.url, args.connections, args.duration, args.timeout)))


if __name__ == "__main__":
    main()
