"""The bit of HTTP/1.1 response reading that the Python clients (load and slow) share."""

from __future__ import annotations

import asyncio


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one whole response; return its status and whether the connection stays open.

    Raises ``ValueError`` on a malformed head and ``asyncio.IncompleteReadError`` on EOF.
    """
    while True:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, *header_lines = head.split("\r\n")
        version, _, rest = status_line.partition(" ")
        status = int(rest[:3])
        if status >= 200 or status == 101:
            break  # 1xx interim responses (100 Continue) are followed by the real one
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip().lower()
    keep_alive = version == "HTTP/1.1" and "close" not in headers.get("connection", "")
    if "chunked" in headers.get("transfer-encoding", ""):
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:  # no trailers from our apps; the final CRLF was just read
                break
    elif "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif status not in (204, 304):
        await reader.read()  # body delimited by EOF
        keep_alive = False
    return status, keep_alive


async def cancel_all(tasks: list[asyncio.Task[None]], rounds: int = 5) -> bool:
    """Cancel ``tasks`` and wait for them, bounded; True when all have finished.

    Cancels more than once: on Python < 3.12 ``asyncio.wait_for`` can swallow a cancellation
    that arrives just as its inner call completes, and the task then carries on.
    """
    pending = {t for t in tasks if not t.done()}
    for _ in range(rounds):
        if not pending:
            return True
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
    return not pending
